"""One leg's kinematic chain at its reference pose, as MuJoCo describes it (data, NumPy FK).

A leg is three hinges, abduction (axis ±x), hip flexion and knee (axes ±y), described at the
*reference pose* (every joint at its reference angle ``ref``, MuJoCo's ``qpos0``) by three vectors
in the leg's hip frame (origin at the abduction joint, trunk axes: x forward, y left, z up):
abduction joint → hip joint (``p1``), hip joint → knee joint (``p2``), knee joint → foot-sphere
centre (``p3``). A model joint angle ``q`` turns the leg by the canonical angle
``θ = sign · (q − ref)`` about +x or +y::

    foot(q) = R_x(θ0) · (p1 + R_y(θ1) · (p2 + R_y(θ2) · p3))

:func:`model.robot_spec.robot_spec` reads these from a compiled model; ``ik.leg_geometry.LegChain``
(a validated subclass) is what the JAX IK solves. Units: metres, radians.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

import numpy as np

Vec3 = Tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class LegKinematics:
    """One leg's chain at the reference pose, in its hip frame (trunk axes).

    Attributes:
      p1: abduction joint → hip-flexion joint [m].
      p2: hip-flexion joint → knee joint [m].
      p3: knee joint → foot-sphere centre [m].
      signs: (abduction, hip, knee) ±1: the joint axes are ``sign`` times +x, +y, +y.
      refs: (abduction, hip, knee) model joint angles of the reference pose [rad].
      lower, upper: (abduction, hip, knee) model joint limits [rad].
    """

    p1: Vec3
    p2: Vec3
    p3: Vec3
    signs: Vec3
    refs: Vec3
    lower: Vec3
    upper: Vec3

    def forward(self, q) -> np.ndarray:
        """Foot centre in the hip frame [m] at model joint angles ``q`` (3,) [rad] (NumPy)."""
        th = np.asarray(self.signs) * (np.asarray(q, float) - np.asarray(self.refs))
        ry = lambda t, v: np.array(
            [
                np.cos(t) * v[0] + np.sin(t) * v[2],
                v[1],  # noqa: E731
                -np.sin(t) * v[0] + np.cos(t) * v[2],
            ]
        )
        v = np.asarray(self.p1) + ry(th[1], np.asarray(self.p2) + ry(th[2], np.asarray(self.p3)))
        c, s = np.cos(th[0]), np.sin(th[0])
        return np.array([v[0], c * v[1] - s * v[2], s * v[1] + c * v[2]])

    @property
    def lateral(self) -> float:
        """Signed y of the foot relative to the abduction axis in the leg plane [m] (+ left)."""
        return self.p1[1] + self.p2[1] + self.p3[1]

    @property
    def side(self) -> float:
        """-1 for a right leg, +1 for a left leg (the sign of :attr:`lateral`)."""
        return 1.0 if self.lateral > 0 else -1.0

    @property
    def thigh_length(self) -> float:
        """Hip joint to knee joint distance in the sagittal plane [m]."""
        return math.hypot(self.p2[0], self.p2[2])

    @property
    def calf_length(self) -> float:
        """Knee joint to foot-centre distance in the sagittal plane [m]."""
        return math.hypot(self.p3[0], self.p3[2])

    @property
    def knee_bend_offset(self) -> float:
        """β = arg(p3) − arg(p2) in the sagittal (z, x) plane [rad]: the knee's canonical angle θ2
        folds the leg by φ = θ2 + β (φ = 0: p2 and p3 aligned, the straight leg)."""
        b = math.atan2(self.p3[0], self.p3[2]) - math.atan2(self.p2[0], self.p2[2])
        return b - 2.0 * math.pi * round(b / (2.0 * math.pi))

    def canonical_range(self, j: int) -> Tuple[float, float]:
        """(lo, hi) of the canonical angle θ of joint ``j`` over its model range [rad]."""
        a = self.signs[j] * (self.lower[j] - self.refs[j])
        b = self.signs[j] * (self.upper[j] - self.refs[j])
        return (min(a, b), max(a, b))

    @property
    def knee_sign(self) -> float:
        """-1 when the knee folds with φ < 0 (the knee points backwards, e.g. quad12, Go1), else +1."""
        lo, hi = self.canonical_range(2)
        return -1.0 if hi + self.knee_bend_offset < 0.0 else 1.0

    def knee_distance(self, knee_angle: float) -> float:
        """Hip-joint to foot distance in the sagittal plane [m] at model knee angle ``knee_angle`` [rad]."""
        phi = self.signs[2] * (knee_angle - self.refs[2]) + self.knee_bend_offset
        l2, l3 = self.thigh_length, self.calf_length
        return math.sqrt(max(l2 * l2 + l3 * l3 + 2.0 * l2 * l3 * math.cos(phi), 0.0))

    @property
    def min_reach(self) -> float:
        """Smallest hip-joint to foot distance (sagittal plane) the knee limits allow [m]."""
        return min(self.knee_distance(self.lower[2]), self.knee_distance(self.upper[2]))

    @property
    def max_reach(self) -> float:
        """Largest hip-joint to foot distance (sagittal plane) the knee limits allow [m]."""
        return max(self.knee_distance(self.lower[2]), self.knee_distance(self.upper[2]))

    @property
    def knee_folds_one_side(self) -> bool:
        """True when the knee bends to one side over its whole range (never through the straight or
        fully folded leg), which the closed-form IK needs."""
        lo, hi = self.canonical_range(2)
        beta = self.knee_bend_offset
        return (lo + beta > -math.pi and hi + beta < 0.0) or (lo + beta > 0.0 and hi + beta < math.pi)

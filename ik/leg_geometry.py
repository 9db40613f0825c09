"""Kinematic description of one quadruped leg (and where the four hips sit on the trunk).

Frames (right-handed, metres, radians):

* **body frame** – trunk frame: x forward, y left, z up.
* **hip frame** of a leg – origin at that leg's hip-abduction joint centre, axes parallel to the
  body frame.

Leg order everywhere is FR, FL, RR, RL (index 0..3); the side sign is ``-1`` for the right legs
(FR, RR) and ``+1`` for the left legs (FL, RL).

Kinematic chain of one leg (all offsets at zero joint angle):

1. abduction joint at the hip-frame origin, axis +x, angle ``q0``;
2. hip-flexion (thigh) joint at ``(0, side * lateral_offset, 0)``, axis +y, angle ``q1``;
   a positive ``q1`` swings the knee towards -x;
3. knee joint at ``(0, 0, -thigh_length)`` in the thigh frame, axis +y, angle ``q2`` (negative:
   the knee points backwards);
4. foot-sphere centre at ``(0, 0, -calf_length)`` in the calf frame.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Tuple

LEG_NAMES: Tuple[str, str, str, str] = ("FR", "FL", "RR", "RL")
"""Leg order used by every array with a leg axis."""

SIDE_SIGNS: Tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)
"""Side sign per leg in :data:`LEG_NAMES` order: -1 right, +1 left."""


@dataclasses.dataclass(frozen=True)
class LegGeometry:
    """Link lengths, joint limits and hip positions of the robot (frozen, hashable).

    Being hashable, an instance can be passed as a ``static_argnames`` argument to ``jax.jit``.

    Attributes:
      hip_offsets: abduction-joint centres in the body frame, one (x, y, z) per leg in
        FR, FL, RR, RL order [m].
      lateral_offset: |y| distance from the abduction joint to the hip-flexion joint [m].
      thigh_length: hip-flexion joint to knee joint [m].
      calf_length: knee joint to foot-sphere centre [m].
      foot_radius: radius of the foot sphere [m] (the foot point used by IK/FK is its centre).
      abduction_range: joint limits of the abduction joint (lo, hi) [rad].
      hip_range: joint limits of the hip-flexion joint (lo, hi) [rad].
      knee_range: joint limits of the knee joint (lo, hi) [rad]; both negative.
    """

    hip_offsets: Tuple[Tuple[float, float, float], ...] = (
        (0.19, -0.05, 0.0),
        (0.19, 0.05, 0.0),
        (-0.19, -0.05, 0.0),
        (-0.19, 0.05, 0.0),
    )
    lateral_offset: float = 0.08
    thigh_length: float = 0.21
    calf_length: float = 0.21
    foot_radius: float = 0.02
    abduction_range: Tuple[float, float] = (-0.8, 0.8)
    hip_range: Tuple[float, float] = (-1.0, 3.0)
    knee_range: Tuple[float, float] = (-2.7, -0.6)

    def __post_init__(self) -> None:
        if len(self.hip_offsets) != 4 or any(len(h) != 3 for h in self.hip_offsets):
            raise ValueError("hip_offsets must hold four (x, y, z) triples (FR, FL, RR, RL)")
        for name in ("lateral_offset", "thigh_length", "calf_length"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("abduction_range", "hip_range", "knee_range"):
            lo, hi = getattr(self, name)
            if not lo < hi:
                raise ValueError(f"{name} must be (lo, hi) with lo < hi, got {(lo, hi)}")
        lo, hi = self.knee_range
        if not (-math.pi < lo and hi < 0.0):
            raise ValueError(f"knee_range must lie inside (-pi, 0) (knee bends backwards), got {(lo, hi)}")

    @classmethod
    def from_robot_spec(cls, spec) -> "LegGeometry":
        """The geometry of a compiled robot model: ``spec`` is a :class:`model.robot_spec.RobotSpec`
        (``robot_spec(mj_model)``), so the IK/FK and gait follow the MJCF's link lengths."""
        return cls(hip_offsets=tuple(tuple(float(v) for v in h) for h in spec.hip_offsets),
                   lateral_offset=float(spec.lateral_offset), thigh_length=float(spec.thigh_length),
                   calf_length=float(spec.calf_length), foot_radius=float(spec.foot_radius),
                   abduction_range=tuple(spec.abduction_range), hip_range=tuple(spec.hip_range),
                   knee_range=tuple(spec.knee_range))

    @property
    def joint_lower(self) -> Tuple[float, float, float]:
        """Lower joint limits (abduction, hip, knee) [rad]."""
        return (self.abduction_range[0], self.hip_range[0], self.knee_range[0])

    @property
    def joint_upper(self) -> Tuple[float, float, float]:
        """Upper joint limits (abduction, hip, knee) [rad]."""
        return (self.abduction_range[1], self.hip_range[1], self.knee_range[1])

    def knee_distance(self, knee_angle: float) -> float:
        """Hip-flexion-joint to foot distance [m] for a given knee angle [rad] (law of cosines)."""
        l2, l3 = self.thigh_length, self.calf_length
        return math.sqrt(l2 * l2 + l3 * l3 + 2.0 * l2 * l3 * math.cos(knee_angle))

    @property
    def min_reach(self) -> float:
        """Smallest hip-flexion-joint to foot distance the knee limits allow [m]."""
        return min(self.knee_distance(self.knee_range[0]), self.knee_distance(self.knee_range[1]))

    @property
    def max_reach(self) -> float:
        """Largest hip-flexion-joint to foot distance the knee limits allow [m]."""
        return max(self.knee_distance(self.knee_range[0]), self.knee_distance(self.knee_range[1]))


DEFAULT_GEOMETRY = LegGeometry()
"""The geometry of ``model/robot.xml`` (equal to ``LegGeometry.from_robot_spec(robot_spec(...))`` of
it, tests/test_robot_spec.py); the envs and playback derive theirs from the model they load."""

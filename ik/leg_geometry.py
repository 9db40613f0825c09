"""Kinematic description of the four legs of a quadruped (and where the hips sit on the trunk).

Frames (right-handed, metres, radians):

* **body frame** – trunk frame: x forward, y left, z up.
* **hip frame** of a leg – origin at that leg's abduction-joint centre, axes parallel to the
  body frame.

Leg order everywhere is FR, FL, RR, RL (index 0..3); the side sign is ``-1`` for the right legs
(FR, RR) and ``+1`` for the left legs (FL, RL).

Every leg is a :class:`LegChain`: three hinges, abduction (axis ±x), hip flexion and knee (axes ±y),
described at a *reference pose* (every joint at its reference angle ``ref``, MuJoCo's ``qpos0``) by
three vectors in the hip frame — abduction joint → hip joint (``p1``), hip joint → knee joint
(``p2``), knee joint → foot-sphere centre (``p3``). Each may point in any direction, so knees offset
along x (Spot), rotated body frames (URDF exports) and joint zero offsets are all described exactly.
A model joint angle ``q`` turns the leg by the *canonical* angle ``θ = sign · (q − ref)`` about +x
(abduction) or +y (hip, knee)::

    foot(q) = R_x(θ0) · (p1 + R_y(θ1) · (p2 + R_y(θ2) · p3))

The joint angles the stack reads, writes and limits are always the model's ``q`` (what the
actuators take and the joint sensors read); the canonical angles live inside ``ik.leg_ik``.

The simple constructor ``LegGeometry(hip_offsets, lateral_offset, thigh_length, calf_length, ...)``
describes four equal legs with the links straight down (the project's own ``model/robot.xml``):
``p1 = (0, s·lateral_offset, 0)``, ``p2 = (0, 0, −thigh_length)``, ``p3 = (0, 0, −calf_length)``.
:meth:`LegGeometry.from_robot_spec` builds the general one from a compiled model.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional, Tuple

from model.leg_chain import LegKinematics

LEG_NAMES: Tuple[str, str, str, str] = ("FR", "FL", "RR", "RL")
"""Leg order used by every array with a leg axis."""

SIDE_SIGNS: Tuple[float, float, float, float] = (-1.0, 1.0, -1.0, 1.0)
"""Side sign per leg in :data:`LEG_NAMES` order: -1 right, +1 left."""


@dataclasses.dataclass(frozen=True)
class LegChain(LegKinematics):
    """A :class:`model.leg_chain.LegKinematics` checked for the closed-form IK (see the module
    docstring): signs ±1, ranges ordered, positive link lengths, the foot beside the abduction
    axis, the knee bending to one side over its whole range. Numbers are rounded to 1e-12 so that
    chains read from MuJoCo compare equal to the same chains written by hand."""

    def __post_init__(self) -> None:
        for name in ("p1", "p2", "p3", "signs", "refs", "lower", "upper"):
            object.__setattr__(self, name, tuple(round(float(x), 12) + 0.0 for x in getattr(self, name)))
        if any(abs(abs(s) - 1.0) > 1e-12 for s in self.signs):
            raise ValueError(f"signs must be +-1, got {self.signs}")
        for j, (lo, hi) in enumerate(zip(self.lower, self.upper)):
            if not lo < hi:
                raise ValueError(f"joint {j}: range must be (lo, hi) with lo < hi, got {(lo, hi)}")
        if self.thigh_length <= 0.0 or self.calf_length <= 0.0:
            raise ValueError("the hip-to-knee and knee-to-foot distances must be positive")
        if abs(self.lateral) < 1e-6:
            raise ValueError("the foot must sit beside the abduction axis (lateral offset 0)")
        if not self.knee_folds_one_side:
            raise ValueError(
                f"the knee range {(self.lower[2], self.upper[2])} crosses the straight (or fully "
                "folded) leg: the knee must bend to one side over its whole range"
            )


def _straight_chain(side: float, lateral: float, thigh: float, calf: float, lower, upper) -> LegChain:
    return LegChain(
        p1=(0.0, side * lateral, 0.0),
        p2=(0.0, 0.0, -thigh),
        p3=(0.0, 0.0, -calf),
        signs=(1.0, 1.0, 1.0),
        refs=(0.0, 0.0, 0.0),
        lower=tuple(lower),
        upper=tuple(upper),
    )


@dataclasses.dataclass(frozen=True)
class LegGeometry:
    """Hip positions, leg chains and joint limits of the robot (frozen, hashable).

    Being hashable, an instance can be passed as a ``static_argnames`` argument to ``jax.jit``.

    Attributes:
      hip_offsets: abduction-joint centres in the body frame, one (x, y, z) per leg in
        FR, FL, RR, RL order [m].
      lateral_offset: |y| from the abduction joint to the foot in the leg plane [m] (simple
        constructor: the same for all legs; with ``chains``: their mean, informational).
      thigh_length, calf_length: simple constructor: hip-to-knee and knee-to-foot lengths [m]
        (with ``chains``: the means, informational).
      foot_radius: radius of the foot sphere [m] (the foot point used by IK/FK is its centre).
      abduction_range, hip_range, knee_range: simple constructor: joint limits (lo, hi) [rad] of
        every leg (with ``chains``: the FR leg's, informational; the chains hold each leg's own).
      chains: the four :class:`LegChain`\\ s (FR, FL, RR, RL); ``None`` builds them from the simple
        fields.
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
    chains: Optional[Tuple[LegChain, LegChain, LegChain, LegChain]] = None

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
        if self.chains is None:
            lo, hi = self.knee_range
            if not (-math.pi < lo and hi < 0.0):
                raise ValueError(f"knee_range must lie inside (-pi, 0) (knee bends backwards), got {(lo, hi)}")
            lower, upper = self.joint_lower, self.joint_upper
            object.__setattr__(
                self,
                "chains",
                tuple(
                    _straight_chain(s, self.lateral_offset, self.thigh_length, self.calf_length, lower, upper)
                    for s in SIDE_SIGNS
                ),
            )
        else:
            if len(self.chains) != 4:
                raise ValueError("chains must hold four LegChains (FR, FL, RR, RL)")
            sides = tuple(c.side for c in self.chains)
            if sides != SIDE_SIGNS:
                raise ValueError(f"the chains' sides {sides} must be (right, left, right, left) = FR, FL, RR, RL")

    @classmethod
    def from_chains(cls, hip_offsets, chains, foot_radius: float) -> "LegGeometry":
        """The general geometry: four :class:`LegChain` (FR, FL, RR, RL) and their hip positions."""
        chains = tuple(chains)
        mean = lambda f: round(float(sum(f(c) for c in chains) / 4.0), 12)  # noqa: E731
        fr = chains[0]
        hips = tuple(tuple(round(float(x), 12) + 0.0 for x in h) for h in hip_offsets)
        return cls(
            hip_offsets=hips,
            lateral_offset=mean(lambda c: abs(c.lateral)),
            thigh_length=mean(lambda c: c.thigh_length),
            calf_length=mean(lambda c: c.calf_length),
            foot_radius=float(foot_radius),
            abduction_range=(fr.lower[0], fr.upper[0]),
            hip_range=(fr.lower[1], fr.upper[1]),
            knee_range=(fr.lower[2], fr.upper[2]),
            chains=chains,
        )

    @classmethod
    def from_robot_spec(cls, spec) -> "LegGeometry":
        """The geometry of a compiled robot model: ``spec`` is a :class:`model.robot_spec.RobotSpec`
        (``robot_spec(mj_model)``), so the IK/FK and gait follow the MJCF's kinematics exactly."""
        chains = [LegChain(**{f.name: getattr(c, f.name) for f in dataclasses.fields(c)}) for c in spec.chains]
        return cls.from_chains(spec.hip_offsets, chains, spec.foot_radius)

    @property
    def lateral_offsets(self) -> Tuple[float, float, float, float]:
        """Signed y of each foot relative to its abduction axis in the leg plane [m], FR, FL, RR, RL."""
        return tuple(c.lateral for c in self.chains)  # type: ignore[return-value]

    @property
    def leg_length(self) -> float:
        """Mean hip-joint-to-knee plus knee-to-foot length [m] (what the gait scales with)."""
        return float(sum(c.thigh_length + c.calf_length for c in self.chains) / 4.0)

    @property
    def joint_lower(self) -> Tuple[float, float, float]:
        """Lower joint limits (abduction, hip, knee) [rad] of the simple constructor (FR leg)."""
        return (self.abduction_range[0], self.hip_range[0], self.knee_range[0])

    @property
    def joint_upper(self) -> Tuple[float, float, float]:
        """Upper joint limits (abduction, hip, knee) [rad] of the simple constructor (FR leg)."""
        return (self.abduction_range[1], self.hip_range[1], self.knee_range[1])

    @property
    def lower_limits(self) -> Tuple[float, ...]:
        """(12,) lower model joint limits [rad], actuator order (each leg's own)."""
        return tuple(v for c in self.chains for v in c.lower)

    @property
    def upper_limits(self) -> Tuple[float, ...]:
        """(12,) upper model joint limits [rad], actuator order (each leg's own)."""
        return tuple(v for c in self.chains for v in c.upper)

    def knee_distance(self, knee_angle: float) -> float:
        """FR leg: hip-joint to foot distance [m] for a knee angle [rad] (law of cosines)."""
        return self.chains[0].knee_distance(knee_angle)

    @property
    def min_reach(self) -> float:
        """Smallest hip-joint to foot distance any leg's knee limits allow [m]."""
        return max(c.min_reach for c in self.chains)

    @property
    def max_reach(self) -> float:
        """Largest hip-joint to foot distance every leg's knee limits allow [m]."""
        return min(c.max_reach for c in self.chains)


DEFAULT_GEOMETRY = LegGeometry()
"""The geometry of ``model/robot.xml`` (equal to ``LegGeometry.from_robot_spec(robot_spec(...))`` of
it, tests/test_robot_spec.py); the envs and playback derive theirs from the model they load."""

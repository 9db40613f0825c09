"""Gait parameters of the Bézier trot generator (frozen, YAML-loadable, range-validated).

Load with :func:`load_gait_config` (defaults: ``configs/gait.yaml``).  Every field carries its
unit and valid range; :func:`model.yaml_config.from_dict` rejects unknown keys, wrong types and
out-of-range values with a :class:`model.yaml_config.ConfigError` naming the key and the file.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import field
from typing import Dict, Optional, Tuple

from model.robot_adapter import nominal_body_height
from model.yaml_config import ConfigError, check_ranges, from_dict, load_dataclass, yaml_dataclass

STEP_LENGTH_PER_LEG_LENGTH = 0.714
"""Default full step length / leg length (0.30 m on the project's 0.42 m legs)."""

GAIT_PHASE_OFFSETS: Dict[str, Tuple[float, float, float, float]] = {
    # leg order FR, FL, RR, RL; a leg's phase is (gait phase + offset) mod 1
    "trot": (0.0, 0.5, 0.5, 0.0),  # diagonal pairs FR+RL and FL+RR
    "pace": (0.0, 0.5, 0.0, 0.5),  # lateral pairs FR+RR and FL+RL
    "bound": (0.0, 0.0, 0.5, 0.5),  # front pair and rear pair
}
"""Per-leg phase offsets [fraction of a period] of each selectable gait."""

DEFAULT_GAIT_YAML = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "gait.yaml")
"""Path of the repository's default gait configuration file."""


MAX_FOOTHOLD_CANDIDATES = 441
"""Most candidate cells per foot (21 x 21): each costs 9 terrain lookups at every control step."""


@yaml_dataclass(DEFAULT_GAIT_YAML, "footholds")
class FootholdConfig:
    """Where a swing foot lands (``gait.footholds``; :mod:`gait.footholds`). Lengths in metres,
    in the trunk's body-yaw frame (x along its heading, y to its left, z up).

    At lift-off each swing foot's nominal touchdown is predicted (the trunk moving at the command
    for one swing) and moved to the cheapest cell of a grid ``+-window_x`` by ``+-window_y`` around
    it, every ``resolution``. A cell is *safe* when (a) the ground within ``edge_radius`` of it
    (4 points on a ring) lies within ``edge_height`` of its height (not on an edge, small local
    slope) and (b) it is no pit: the ground ``pit_radius`` away on both sides along x, or on both
    sides along y, is more than ``pit_depth`` above it. Cost = dx^2 + ``lateral_weight`` dy^2
    (the cell's offset from the nominal touchdown) + ``roughness_weight`` x (largest ring height
    difference)^2, plus 1 + the safety violation in metres, so an unsafe cell is chosen only where
    no safe one exists. The trunk's path is steered sideways towards the offset whose cells are
    cheapest for all four legs (``steer_*``). The swing apex then clears the highest ground under
    ``path_samples`` points of the swing path by ``swing_margin``, and the stance foot's height
    follows the ground at its foothold.

    Attributes:
      enabled: move touchdowns (``False``: the plain gait, bit for bit).
      window_x, window_y: half sizes of the search window around the nominal touchdown [m].
      resolution: spacing of the candidate cells [m].
      edge_radius: radius of the ring that must be level with the cell [m] (foot radius + the
        landing error the gait allows).
      edge_height: largest height difference on that ring for a safe cell [m].
      pit_radius: distance at which a pit's two rims are looked for [m].
      pit_depth: a cell lower than both rims by more than this is a pit [m].
      roughness_weight: weight of the squared ring height difference in the cost [-].
      lateral_weight: weight of the squared sideways offset against the squared forward one [-].
      swing_margin: clearance of the swing apex over the highest ground under the swing path [m].
      path_samples: points of the swing path checked for clearance [-].
      steer_window: half range of the sideways offsets of the trunk's whole path that are costed
        at each lift-off [m] (0: no steering). A foot moved far sideways tips the trot, so a
        lengthwise trench is avoided by moving the trunk instead.
      steer_resolution: spacing of the cells along the heading costed for each sideways offset
        [m] (the offsets themselves are ``resolution`` apart; coarser than ``resolution`` as
        steering costs 4 legs x ``steer_samples`` points x every offset).
      steer_weight: weight of the squared path offset against the legs' summed cell costs [-].
      steer_time: time the trunk takes to close its offset [s]: the gait steps to the command
        plus a sideways velocity offset / ``steer_time`` (body frame), held until the next lift-off.
      steer_speed: cap on that sideways velocity [m/s].
      steer_lookahead: the offset is costed at the legs' next touchdowns and at points the
        command reaches up to this far ahead [s] (the trunk turns onto a row of stones early).
      steer_samples: points from the next touchdowns to the look-ahead, both included [-].
    """

    enabled: bool
    window_x: float = field(metadata={"range": (0.0, 0.3)})
    window_y: float = field(metadata={"range": (0.0, 0.3)})
    resolution: float = field(metadata={"range": (0.005, 0.2)})
    edge_radius: float = field(metadata={"range": (0.0, 0.3)})
    edge_height: float = field(metadata={"range": (0.001, 0.5)})
    pit_radius: float = field(metadata={"range": (0.01, 1.0)})
    pit_depth: float = field(metadata={"range": (0.001, 1.0)})
    roughness_weight: float = field(metadata={"range": (0.0, 1000.0)})
    lateral_weight: float = field(metadata={"range": (0.0, 100.0)})
    swing_margin: float = field(metadata={"range": (0.0, 0.3)})
    path_samples: int = field(metadata={"range": (1, 32)})
    steer_window: float = field(metadata={"range": (0.0, 0.5)})
    steer_resolution: float = field(metadata={"range": (0.005, 0.2)})
    steer_weight: float = field(metadata={"range": (0.0, 100.0)})
    steer_time: float = field(metadata={"range": (0.01, 10.0)})
    steer_speed: float = field(metadata={"range": (0.0, 1.0)})
    steer_lookahead: float = field(metadata={"range": (0.0, 5.0)})
    steer_samples: int = field(metadata={"range": (1, 16)})

    def validate(self) -> None:
        check_ranges(self)
        if self.candidates > MAX_FOOTHOLD_CANDIDATES:
            raise ConfigError(
                f"key 'footholds.resolution' = {self.resolution} gives {self.candidates} candidate cells "
                f"per foot over +-{self.window_x} x +-{self.window_y} m; at most {MAX_FOOTHOLD_CANDIDATES}: "
                "use a coarser resolution or a smaller window"
            )

    def offsets_1d(self, half: float, step: float | None = None):
        """Offsets [m] along one axis: ``0, +-step, ...`` up to ``+-half`` (``step``: ``resolution``)."""
        step = self.resolution if step is None else step
        n = int(math.floor(half / step + 1e-6))
        return tuple(step * k for k in range(-n, n + 1))

    @property
    def candidates(self) -> int:
        """Number of candidate cells per foot."""
        return len(self.offsets_1d(self.window_x)) * len(self.offsets_1d(self.window_y))


@yaml_dataclass(DEFAULT_GAIT_YAML)
class GaitConfig:
    """Parameters of the Bézier foot-trajectory generator; defaults: ``configs/gait.yaml``.

    Foot targets are foot-sphere centres in each leg's hip frame (x forward, y left, z up) [m].

    Attributes:
      gait: footfall pattern, one of ``trot``, ``pace``, ``bound`` (see ``GAIT_PHASE_OFFSETS``).
      period: duration of one full gait cycle [s].
      duty_factor: fraction of the cycle a foot is in stance [-].
      swing_height: foot clearance, the peak height of the swing curve above the stance line [m];
        ``None`` (``auto``): leg length / 6 (0.07 m on the project's robot), see :meth:`for_robot`.
      penetration_depth: depth of the stance curve below the stance line at mid-stance [m].
      body_height: nominal trunk-origin height above flat ground [m]; the stance line of a foot
        centre lies ``body_height - foot_radius`` below the trunk origin (the hip frame's origin
        sits ``hip z`` below it). ``None``: 0.643 x leg length (0.27 m on the project's robot).
      max_step_length: cap on the full step length (|2 L| per leg, incl. the yaw part) [m];
        ``None``: 0.714 x leg length (0.30 m on the project's robot); with ``duty_factor`` and
        ``period`` it sets the foot-speed limit :attr:`max_foot_speed`.
      foot_x_offset: forward offset of the nominal foot position from below the hip [m].
      foot_y_offset: extra outward offset of the nominal foot position beyond the thigh's
        lateral offset [m] (positive = wider stance).
      stand_up_duration: time the stand-up helper takes to reach the standing pose [s].
      stand_still: stop stepping at (near-)zero command: every foot is held at its nominal stance
        point while the clock runs on (``False``: step in place).
      stand_speed: the gait stands when every foot's commanded planar speed is below this [m/s].
      stand_transition: time to ramp stepping fully on or off [s] (smooth start and stop).
      max_acceleration: fastest change of the commanded vx and of vy the gait steps to [m/s^2]
        (:func:`gait.bezier_gait.ramp_command`; 0: a new command is taken at once).
      max_yaw_acceleration: the same for the yaw rate [rad/s^2].
      footholds: terrain-aware touchdowns (:class:`FootholdConfig`; off by default).
    """

    gait: str = field(metadata={"choices": tuple(GAIT_PHASE_OFFSETS)})
    period: float = field(metadata={"range": (0.1, 2.0)})
    duty_factor: float = field(metadata={"range": (0.3, 0.9)})
    swing_height: Optional[float] = field(metadata={"range": (0.0, 0.3)})
    penetration_depth: float = field(metadata={"range": (0.0, 0.05)})
    body_height: Optional[float] = field(metadata={"range": (0.12, 1.0)})
    max_step_length: Optional[float] = field(metadata={"range": (0.0, 1.0)})
    foot_x_offset: float = field(metadata={"range": (-0.15, 0.15)})
    foot_y_offset: float = field(metadata={"range": (-0.05, 0.15)})
    stand_up_duration: float = field(metadata={"range": (0.05, 10.0)})
    stand_still: bool
    stand_speed: float = field(metadata={"range": (0.0, 1.0)})
    stand_transition: float = field(metadata={"range": (0.0, 5.0)})
    max_acceleration: float = field(metadata={"range": (0.0, 100.0)})
    max_yaw_acceleration: float = field(metadata={"range": (0.0, 100.0)})
    footholds: FootholdConfig

    def for_robot(self, geometry) -> "GaitConfig":
        """This config with every size left ``None`` (``auto``) derived from ``geometry``'s leg length
        ``L`` (hip-to-knee + knee-to-foot, :attr:`ik.leg_geometry.LegGeometry.leg_length`), in the
        proportions tuned on the project's 0.42 m legs: body height 0.643 L, swing height L / 6,
        step length 0.714 L (each rounded to 1 mm). Sizes that are set are kept."""
        length = float(geometry.leg_length)
        auto = {
            "body_height": nominal_body_height(length),
            "swing_height": round(length / 6.0, 3),
            "max_step_length": round(STEP_LENGTH_PER_LEG_LENGTH * length, 3),
        }
        changes = {k: v for k, v in auto.items() if getattr(self, k) is None}
        out = dataclasses.replace(self, **changes) if changes else self
        if changes:
            out.validate()
        return out

    def _need(self, name: str) -> float:
        v = getattr(self, name)
        if v is None:
            raise ConfigError(
                f"gait key '{name}' is 'auto' (derived from the robot's leg length): call "
                "GaitConfig.for_robot(geometry) first"
            )
        return v

    def validate(self) -> None:
        """Check cross-field consistency; raises ConfigError."""
        check_ranges(self)
        if self.swing_height is not None and self.penetration_depth > self.swing_height and self.swing_height > 0.0:
            raise ConfigError(
                f"key 'penetration_depth' = {self.penetration_depth} must not exceed swing_height = {self.swing_height}"
            )

    @property
    def phase_offsets(self) -> Tuple[float, float, float, float]:
        """Per-leg phase offsets (FR, FL, RR, RL) [fraction of a period] of ``gait``."""
        return GAIT_PHASE_OFFSETS[self.gait]

    @property
    def max_foot_speed(self) -> float:
        """Fastest planar foot speed over the ground the gait can produce [m/s]: a full step of
        ``max_step_length`` swept in one stance, ``max_step_length / (duty_factor * period)``.
        Every command's per-foot speed (``gait.bezier_gait.leg_velocities``) must stay below it
        (``gait.command_limits``)."""
        return self._need("max_step_length") / (self.duty_factor * self.period)

    @property
    def swing_duration(self) -> float:
        """Duration of one swing phase [s]."""
        return (1.0 - self.duty_factor) * self.period

    @property
    def stance_duration(self) -> float:
        """Duration of one stance phase [s]."""
        return self.duty_factor * self.period


def with_footholds(config: GaitConfig, enabled: bool = True) -> GaitConfig:
    """``config`` with ``footholds.enabled`` set to ``enabled``."""
    return dataclasses.replace(config, footholds=dataclasses.replace(config.footholds, enabled=enabled))


def load_gait_config(path: Optional[str | os.PathLike] = None, section: Optional[str] = None) -> GaitConfig:
    """Load a :class:`GaitConfig` from YAML (default ``configs/gait.yaml``).

    Args:
      path: YAML file; ``None`` uses :data:`DEFAULT_GAIT_YAML`.
      section: optional top-level key holding the gait mapping (for combined config files).

    Raises:
      ConfigError: missing file, unknown key, wrong type or out-of-range value.
    """
    return load_dataclass(GaitConfig, DEFAULT_GAIT_YAML if path is None else path, section=section)


def gait_config_from_dict(data: dict, where: str = "<dict>") -> GaitConfig:
    """Build a validated :class:`GaitConfig` from a plain mapping (e.g. a section of a bigger YAML)."""
    return from_dict(GaitConfig, data, where=where)

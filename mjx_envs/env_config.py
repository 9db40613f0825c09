"""``EnvConfig``: everything the residual-walking environment needs besides physics and gait.

Loaded from YAML (``configs/env.yaml`` or the ``env`` section of a training config) and
validated on load; errors name the key and the file (see ``model/yaml_config.py``).
Units: metres, seconds, radians, m/s, rad/s, kg.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import field
from typing import Optional, Tuple

from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError, from_dict, read_yaml

DEFAULT_ENV_YAML = os.path.join(REPO_ROOT, "configs", "env.yaml")


@dataclasses.dataclass(frozen=True)
class RewardWeights:
    """Weight of each named reward term (reward = sum_k weight_k * term_k, per control step).

    Terms are defined in ``mjx_envs/rewards.py``; penalties have negative weights. The tracking
    weights dominate the positive terms so that standing still under a command of >= 0.2 m/s
    earns <= 25 % of the per-step reward of perfect tracking (tests/test_rewards.py,
    docs/residual_learning.md).
    """

    tracking_lin_vel: float = 2.0
    tracking_yaw_rate: float = 0.3
    energy: float = -0.002
    foot_slip: float = -0.5
    attitude: float = -2.0
    alive: float = 0.05
    body_collision: float = -1.0
    joint_limit: float = -0.5
    actuator_saturation: float = -0.05
    ik_saturation: float = -0.05
    action_rate: float = -0.01


@dataclasses.dataclass(frozen=True)
class CommandRanges:
    """Per-episode velocity command, drawn uniformly (body frame)."""

    vx: Tuple[float, float] = (0.2, 0.5)  # m/s
    vy: Tuple[float, float] = (0.0, 0.0)  # m/s
    yaw_rate: Tuple[float, float] = (-0.3, 0.3)  # rad/s

    def validate(self) -> None:
        for k in ("vx", "vy", "yaw_rate"):
            lo, hi = getattr(self, k)
            if lo > hi:
                raise ConfigError(f"key 'command.{k}' must be [low, high] with low <= high")
            if max(abs(lo), abs(hi)) > 1.5:
                raise ConfigError(f"key 'command.{k}' beyond what the gait can produce (|v| <= 1.5)")


@dataclasses.dataclass(frozen=True)
class Randomization:
    """Per-episode randomisation (re-drawn at every reset, including training auto-resets)."""

    joint_noise: float = field(default=0.1, metadata={"range": (0.0, 0.5)})  # rad, uniform +-
    heading_noise: float = field(default=0.3, metadata={"range": (0.0, 3.1416)})  # rad, initial yaw +-
    random_gait_phase: bool = True
    push_interval: Tuple[float, float] = (4.0, 8.0)  # s between pushes
    push_velocity: float = field(default=0.0, metadata={"range": (0.0, 2.0)})  # m/s, 0 disables pushes
    domain_randomization: bool = False
    friction_scale: Tuple[float, float] = (0.6, 1.25)  # multiplies every geom's sliding friction
    trunk_mass_delta: Tuple[float, float] = (-0.5, 1.5)  # kg added to the trunk
    motor_strength: Tuple[float, float] = (0.85, 1.15)  # scales servo kp and torque limits


@dataclasses.dataclass(frozen=True)
class Curriculum:
    """Terrain curriculum over an integer difficulty ``terrain_level`` (rough world only).

    At the end of an episode the path the trunk walked is compared with the path its command
    asked for (the body-frame command integrated from the start pose; an arc for a turning
    command), see ``mjx_envs.episode_logic.curriculum_outcome`` and docs/residual_learning.md:

    * promote (level + 1; from the top level: a uniformly random level) when the trunk ended
      within ``end_tolerance_fraction`` x commanded path length of the commanded end point AND
      its progress along the commanded path is >= ``promote_distance_fraction`` of that length;
    * demote (level - 1, floor 0) when it fell, or its progress is < ``demote_distance_fraction``;
    * neutral otherwise, and always when the commanded path is shorter than
      ``min_command_path`` m (zero / slow commands) unless it fell;
    * an episode that left the map is never demoted (it walked far): promoted if it meets the
      promotion test on the part it walked, else neutral.
    """

    enabled: bool = True
    initial_max_level: int = field(default=1, metadata={"range": (0, 31)})  # clipped to the world's levels
    promote_distance_fraction: float = field(default=0.8, metadata={"range": (0.0, 1.0)})  # of commanded path
    demote_distance_fraction: float = field(default=0.4, metadata={"range": (0.0, 1.0)})  # of commanded path
    end_tolerance_fraction: float = field(default=0.25, metadata={"range": (0.0, 2.0)})  # of commanded path
    min_command_path: float = field(default=0.5, metadata={"range": (0.0, 100.0)})  # m

    def validate(self) -> None:
        if self.demote_distance_fraction > self.promote_distance_fraction:
            raise ConfigError("key 'curriculum.demote_distance_fraction' must be <= "
                              "'curriculum.promote_distance_fraction'")
        if self.end_tolerance_fraction <= 0:
            raise ConfigError("key 'curriculum.end_tolerance_fraction' must be positive")


@dataclasses.dataclass(frozen=True)
class EnvConfig:
    """Residual-walking environment settings.

    Attributes:
      action_mode: ``residual`` (per-foot xyz residual added to the Bézier targets before IK) or
        ``direct`` (joint targets around the home pose, no gait: the ablation baseline).
      residual_max: largest residual per foot axis (m) at |action| = 1.
      direct_scale: joint-target offset (rad) at |action| = 1 in ``direct`` mode.
      action_filter: first-order low-pass on the residual, r <- a*r_new + (1-a)*r_old (1 = off).
      episode_length_s: episode duration before truncation (s).
      terrain_observation: append terrain heights around each foot to the observation.
      min_base_height: terminate when the trunk is lower than this above the terrain (m).
      max_roll, max_pitch: terminate beyond these attitudes (rad).
      contact_force_threshold: a touch reading above this (N) counts as contact.
    """

    action_mode: str = field(default="residual", metadata={"choices": ("residual", "direct")})
    residual_max: float = field(default=0.05, metadata={"range": (0.0, 0.2)})
    direct_scale: float = field(default=0.5, metadata={"range": (0.0, 2.0)})
    action_filter: float = field(default=1.0, metadata={"range": (0.01, 1.0)})
    episode_length_s: float = field(default=20.0, metadata={"range": (0.1, 600.0)})
    terrain_observation: bool = False
    min_base_height: float = field(default=0.15, metadata={"range": (0.0, 0.3)})
    max_roll: float = field(default=0.8, metadata={"range": (0.1, 3.14)})
    max_pitch: float = field(default=0.8, metadata={"range": (0.1, 3.14)})
    contact_force_threshold: float = field(default=1.0, metadata={"range": (0.0, 100.0)})
    command: CommandRanges = CommandRanges()
    randomization: Randomization = Randomization()
    curriculum: Curriculum = Curriculum()
    reward_weights: RewardWeights = RewardWeights()

    def validate(self) -> None:
        self.curriculum.validate()
        r = self.randomization
        for k in ("push_interval", "friction_scale", "trunk_mass_delta", "motor_strength"):
            lo, hi = getattr(r, k)
            if lo > hi:
                raise ConfigError(f"key 'randomization.{k}' must be [low, high] with low <= high")
        if r.push_interval[0] <= 0:
            raise ConfigError("key 'randomization.push_interval' must be positive")
        if r.friction_scale[0] <= 0 or r.motor_strength[0] <= 0:
            raise ConfigError("keys 'randomization.friction_scale'/'motor_strength' must be positive")

    def replace(self, **changes) -> "EnvConfig":
        return dataclasses.replace(self, **changes)


def load_env_config(path: Optional[str] = None, section: Optional[str] = None) -> EnvConfig:
    """Load and validate an EnvConfig from YAML (default ``configs/env.yaml``)."""
    path = path or DEFAULT_ENV_YAML
    data = read_yaml(path)
    where = path
    if section is not None:
        data = data.get(section) or {}
        where = f"{path} [{section}]"
    return from_dict(EnvConfig, data, where=where)

"""``EnvConfig``: everything the residual-walking environment needs besides physics and gait.

Loaded from YAML (``configs/env.yaml`` or the ``env`` section of a training config) and
validated on load; errors name the key and the file (see ``model/yaml_config.py``). The field
defaults are the values of ``configs/env.yaml`` (each nested dataclass: its section of it).
Units: metres, seconds, radians, m/s, rad/s, kg.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import field
from typing import Any, Dict, Mapping, Optional, Tuple

import numpy as np

from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError, from_dict, read_yaml, yaml_dataclass

DEFAULT_ENV_YAML = os.path.join(REPO_ROOT, "configs", "env.yaml")


ACTION_MODES = ("residual", "modulated", "direct", "torque")
GAIT_ACTION_MODES = ("residual", "modulated")  # the action modes whose zero action is the gait
MODULATION_ACTIONS = ("frequency", "swing_height", "body_height")
"""The gait-modulation actions of ``action_mode: modulated`` (actions 12, 13, 14)."""
LEGACY_RANDOMIZATION_KEYS = (
    "push_interval",
    "push_velocity",
    "domain_randomization",
    "friction_scale",
    "trunk_mass_delta",
    "motor_strength",
)


@yaml_dataclass(DEFAULT_ENV_YAML, "modulation")
class GaitModulation:
    """Bounds of the gait-modulation actions (``action_mode: modulated``, PMTG-style).

    Action a in [-1, 1] of each channel maps to: step frequency x (1 + a * frequency) [-],
    swing height x (1 + a * swing_height) [-], body height + a * body_height [m]; the mapped
    values are low-pass filtered, m <- filter * m_new + (1 - filter) * m_old, so the gait changes
    smoothly. a = 0 is the nominal gait exactly.
    """

    frequency: float = field(metadata={"range": (0.0, 0.9)})
    swing_height: float = field(metadata={"range": (0.0, 0.95)})
    body_height: float = field(metadata={"range": (0.0, 0.1)})  # m
    filter: float = field(metadata={"range": (0.01, 1.0)})


@yaml_dataclass(DEFAULT_ENV_YAML, "reward_weights")
class RewardWeights:
    """Weight of each named reward term (reward = sum_k weight_k * term_k, per control step).

    Terms are defined in ``mjx_envs/rewards.py``; penalties have negative weights. The tracking
    weights dominate the positive terms so that standing still under a command of >= 0.2 m/s
    earns <= 25 % of the per-step reward of perfect tracking (tests/test_rewards.py,
    docs/residual_learning.md).
    """

    tracking_lin_vel: float
    tracking_yaw_rate: float
    energy: float
    foot_slip: float
    attitude: float
    alive: float
    body_collision: float
    joint_limit: float
    actuator_saturation: float
    ik_saturation: float
    action_rate: float
    torque_headroom: float


@yaml_dataclass(DEFAULT_ENV_YAML, "command")
class CommandRanges:
    """Velocity commands as a joystick gives them (body frame), re-drawn within an episode.

    Each draw is zero with probability ``zero_probability`` (the robot must stand still: the gait
    stops stepping, ``gait.stand_still``), else uniform in ``vx`` x ``vy`` x ``yaw_rate``. With
    probability ``heading_probability`` a non-zero draw is a *heading* command instead of a yaw
    rate: a target heading ``current yaw + U(heading_range)`` is held by the P-controller
    ``yaw_rate = clip(heading_gain * wrap(target - yaw), yaw_rate)`` every control step (as
    legged_gym / MuJoCo Playground offer). With ``resample`` on, the command is re-drawn after
    ``U(resample_interval)`` seconds, again and again. The box's corners must be within what the
    gait can produce (``gait.command_limits``; checked wherever env and gait configs meet).
    """

    vx: Tuple[float, float]  # m/s
    vy: Tuple[float, float]  # m/s
    yaw_rate: Tuple[float, float]  # rad/s
    zero_probability: float = field(metadata={"range": (0.0, 1.0)})
    resample: bool
    resample_interval: Tuple[float, float]  # s
    heading_probability: float = field(metadata={"range": (0.0, 1.0)})
    heading_range: Tuple[float, float]  # rad, relative to the yaw at the draw
    heading_gain: float = field(metadata={"range": (0.0, 10.0)})  # (rad/s) / rad

    def validate(self) -> None:
        for k in ("vx", "vy", "yaw_rate", "resample_interval", "heading_range"):
            lo, hi = getattr(self, k)
            if lo > hi:
                raise ConfigError(f"key 'command.{k}' must be [low, high] with low <= high")
        if self.resample_interval[0] <= 0:
            raise ConfigError("key 'command.resample_interval' must be positive (s)")


@dataclasses.dataclass(frozen=True)
class RandomRange:
    """One randomised quantity: a switch and the range its draw is uniform in."""

    enabled: bool
    range: Tuple[float, float]


SCALE_RANDOMIZATIONS = ("friction", "link_mass", "motor_strength", "kp", "kv")
"""Domain randomisations that multiply a quantity (their ranges must be positive)."""


@yaml_dataclass(DEFAULT_ENV_YAML, "domain_randomization")
class DomainRandomization:
    """Model parameters re-drawn at every reset (per training env, per episode), identical in the
    MJX env and the Gymnasium twin (``episode_logic.randomized_model_fields``). Each is a switch
    with a range; the draws are logged as ``dr/<name>`` metrics.

    friction: x sliding friction of every geom [-]; trunk_mass: kg added to the trunk;
    com_offset: m, shift of the trunk's centre of mass along body x and y (each drawn);
    link_mass: x mass and inertia of every other body (hips, thighs, calves, feet; per body) [-];
    motor_strength: x torque limit of every actuator (per actuator) [-];
    kp: x servo stiffness (per actuator) [-]; kv: x servo damping (per actuator) [-].
    """

    friction: RandomRange
    trunk_mass: RandomRange
    com_offset: RandomRange
    link_mass: RandomRange
    motor_strength: RandomRange
    kp: RandomRange
    kv: RandomRange

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            lo, hi = getattr(self, f.name).range
            if lo > hi:
                raise ConfigError(f"key 'domain_randomization.{f.name}.range' must be [low, high] with low <= high")
            if f.name in SCALE_RANDOMIZATIONS and lo <= 0:
                raise ConfigError(
                    f"key 'domain_randomization.{f.name}.range' scales a physical quantity: "
                    f"it must be positive, got [{lo}, {hi}]"
                )

    @property
    def any_enabled(self) -> bool:
        return any(getattr(self, f.name).enabled for f in dataclasses.fields(self))


@yaml_dataclass(DEFAULT_ENV_YAML, "pushes")
class Pushes:
    """Random trunk velocity kicks: every ``U(interval)`` s a horizontal kick of ``U(velocity)``
    m/s in a uniformly random direction is added to the trunk's linear velocity (world frame)."""

    enabled: bool
    interval: Tuple[float, float]  # s
    velocity: Tuple[float, float]  # m/s, kick magnitude

    def validate(self) -> None:
        for k in ("interval", "velocity"):
            lo, hi = getattr(self, k)
            if lo > hi:
                raise ConfigError(f"key 'pushes.{k}' must be [low, high] with low <= high")
        if self.interval[0] <= 0 or self.velocity[0] < 0:
            raise ConfigError("key 'pushes.interval' must be positive and 'pushes.velocity' >= 0")


@yaml_dataclass(DEFAULT_ENV_YAML, "observation_noise")
class ObservationNoise:
    """Uniform noise +-value added to each sensor channel of the observation, in the channel's
    physical unit before its scale (``mjx_envs/observation.py``), drawn every control step."""

    enabled: bool
    gravity: float = field(metadata={"range": (0.0, 1.0)})  # unit vector components
    lin_vel: float = field(metadata={"range": (0.0, 5.0)})  # m/s
    ang_vel: float = field(metadata={"range": (0.0, 5.0)})  # rad/s
    joint_pos: float = field(metadata={"range": (0.0, 1.0)})  # rad
    joint_vel: float = field(metadata={"range": (0.0, 20.0)})  # rad/s
    height_scan: float = field(metadata={"range": (0.0, 0.5)})  # m, each scan point (height_scan)


MAX_SCAN_POINTS = 1000
"""Most height-scan points a config may ask for (memory and observation width)."""


@yaml_dataclass(DEFAULT_ENV_YAML, "height_scan")
class HeightScan:
    """Terrain heights on a grid around the trunk, in its **body-yaw frame** (origin under the
    trunk, x along its heading, y to its left, z up; roll and pitch ignored, as a gravity-aligned
    map gives them).

    Each point observes ``terrain height - (trunk height - gait.body_height)`` [m]: 0 on ground
    level with the ground the trunk stands on, negative for a pit or a gap, positive for a step,
    clipped to +-``clip``. Grid lines run from ``x[0]`` to ``x[1]`` and ``y[0]`` to ``y[1]`` every
    ``resolution`` metres (both ends included). With ``offset_randomization`` on, each episode
    draws a map offset the robot does not know (uniform +-``vertical_offset`` in z,
    +-``horizontal_offset`` in x and y), as an elevation map's drift and localisation error give;
    per-point noise is ``observation_noise.height_scan``.
    """

    enabled: bool
    x: Tuple[float, float]  # m, body-yaw frame: behind (< 0) .. ahead
    y: Tuple[float, float]  # m, right (< 0) .. left
    resolution: float = field(metadata={"range": (0.02, 1.0)})  # m
    clip: float = field(metadata={"range": (0.05, 5.0)})  # m
    offset_randomization: bool
    vertical_offset: float = field(metadata={"range": (0.0, 0.5)})  # m, uniform +-, per episode
    horizontal_offset: float = field(metadata={"range": (0.0, 0.5)})  # m, uniform +- in x and y, per episode

    def validate(self) -> None:
        for k in ("x", "y"):
            lo, hi = getattr(self, k)
            if lo >= hi:
                raise ConfigError(f"key 'height_scan.{k}' must be [low, high] with low < high (m)")
        if self.points > MAX_SCAN_POINTS:
            raise ConfigError(
                f"key 'height_scan.resolution' = {self.resolution} gives {self.points} scan points over "
                f"x {list(self.x)} and y {list(self.y)}; at most {MAX_SCAN_POINTS}: use a coarser resolution"
            )

    def lines(self, axis: str) -> np.ndarray:
        """Grid-line coordinates [m] along ``axis`` (``"x"`` or ``"y"``), both ends included."""
        lo, hi = getattr(self, axis)
        n = int(np.floor((hi - lo) / self.resolution + 1e-6)) + 1
        return lo + self.resolution * np.arange(n)

    @property
    def points(self) -> int:
        """How many heights the scan observes."""
        return len(self.lines("x")) * len(self.lines("y"))

    def grid(self) -> np.ndarray:
        """(points, 2) float32 scan points (x, y) [m] in the body-yaw frame, x-major (all y of the
        first x line, then the next)."""
        xs, ys = np.meshgrid(self.lines("x"), self.lines("y"), indexing="ij")
        return np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float32)


@yaml_dataclass(DEFAULT_ENV_YAML, "randomization")
class Randomization:
    """Per-episode randomisation of the start state (re-drawn at every reset, incl. auto-resets)."""

    joint_noise: float = field(metadata={"range": (0.0, 0.5)})  # rad, uniform +-
    heading_noise: float = field(metadata={"range": (0.0, 3.1416)})  # rad, initial yaw +-
    random_gait_phase: bool


@yaml_dataclass(DEFAULT_ENV_YAML, "curriculum")
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

    enabled: bool
    initial_max_level: int = field(metadata={"range": (0, 31)})  # clipped to the world's levels
    promote_distance_fraction: float = field(metadata={"range": (0.0, 1.0)})  # of commanded path
    demote_distance_fraction: float = field(metadata={"range": (0.0, 1.0)})  # of commanded path
    end_tolerance_fraction: float = field(metadata={"range": (0.0, 2.0)})  # of commanded path
    min_command_path: float = field(metadata={"range": (0.0, 100.0)})  # m
    # relative weight of each starting level (index = level) of a training env's first episode;
    # empty: uniform over [0, initial_max_level]. ``--resume`` fills it with the level distribution
    # the run had reached at its checkpoint (train.run_start), so a resumed curriculum does not restart
    initial_level_weights: Tuple[float, ...] = field(metadata={"range": (0.0, 1e6)})

    def validate(self) -> None:
        w = self.initial_level_weights
        if len(w) > 32 or any(x < 0 for x in w) or (w and sum(w) <= 0):
            raise ConfigError(
                f"key 'curriculum.initial_level_weights' must be empty or hold at most 32 non-negative weights "
                f"(one per level) with a positive sum; got {list(w)}"
            )
        if self.demote_distance_fraction > self.promote_distance_fraction:
            raise ConfigError(
                "key 'curriculum.demote_distance_fraction' must be <= 'curriculum.promote_distance_fraction'"
            )
        if self.end_tolerance_fraction <= 0:
            raise ConfigError("key 'curriculum.end_tolerance_fraction' must be positive")


@yaml_dataclass(DEFAULT_ENV_YAML)
class EnvConfig:
    """Residual-walking environment settings.

    Attributes:
      action_mode: ``residual`` (per-foot xyz residual added to the Bézier targets before IK),
        ``modulated`` (the residual plus gait modulation, PMTG-style: 3 more actions for the step
        frequency, swing height and body height, see ``modulation``), ``direct`` (joint targets
        around the home pose, no gait: the ablation baseline) or ``torque`` (joint torques through
        the actuators turned into motors: no gait, no servo).
      residual_max: largest residual per foot axis (m) at |action| = 1.
      direct_scale: joint-target offset (rad) at |action| = 1 in ``direct`` mode.
      torque_scale: joint torque at |action| = 1 in ``torque`` mode, as a share of each actuator's
        nominal torque limit (``actuator_forcerange``; the randomised limit still clamps it).
      action_filter: first-order low-pass on the residual, r <- a*r_new + (1-a)*r_old (1 = off).
      episode_length_s: episode duration before truncation (s).
      terrain_observation: append terrain heights around each foot to the observation.
      height_scan: the terrain-height grid around the trunk (:class:`HeightScan`).
      min_base_height: terminate when the trunk is lower than this above the terrain (m).
      max_roll, max_pitch: terminate beyond these attitudes (rad).
      contact_force_threshold: a touch reading above this (N) counts as contact.
      action_latency: apply each action one control step late (the previous action drives this
        step's servo targets), as a real robot's sensing-to-actuation delay does.
      torque_soft_fraction: the share of each servo's (randomised) torque limit above which the
        ``torque_headroom`` reward term starts to penalise (legged_gym's soft torque limit).
      residual_stand_scale: how much of the foot residual acts while the gait stands: the residual
        is multiplied by ``s + (1 - s) * activity`` (gait activity 1 walking, 0 standing), so 1
        leaves it whole (no gating) and 0 removes it while the robot stands still.
    """

    action_mode: str = field(metadata={"choices": ACTION_MODES})
    residual_max: float = field(metadata={"range": (0.0, 0.2)})
    direct_scale: float = field(metadata={"range": (0.0, 2.0)})
    torque_scale: float = field(metadata={"range": (0.0, 1.0)})
    action_filter: float = field(metadata={"range": (0.01, 1.0)})
    episode_length_s: float = field(metadata={"range": (0.1, 600.0)})
    terrain_observation: bool
    min_base_height: float = field(metadata={"range": (0.0, 0.3)})
    max_roll: float = field(metadata={"range": (0.1, 3.14)})
    max_pitch: float = field(metadata={"range": (0.1, 3.14)})
    contact_force_threshold: float = field(metadata={"range": (0.0, 100.0)})
    action_latency: bool
    torque_soft_fraction: float = field(metadata={"range": (0.5, 0.99)})
    residual_stand_scale: float = field(metadata={"range": (0.0, 1.0)})
    command: CommandRanges
    modulation: GaitModulation
    randomization: Randomization
    domain_randomization: DomainRandomization
    pushes: Pushes
    observation_noise: ObservationNoise
    height_scan: HeightScan
    curriculum: Curriculum
    reward_weights: RewardWeights

    def validate(self) -> None:
        self.curriculum.validate()

    @property
    def action_size(self) -> int:
        """Policy action width: 12 foot-residual (or joint) actions, + 3 in ``modulated`` mode."""
        return 12 + (len(MODULATION_ACTIONS) if self.action_mode == "modulated" else 0)

    @staticmethod
    def migrate(data: Mapping[str, Any], where: str = "<dict>") -> Dict[str, Any]:
        """Translate the pre-issue-13 keys ``randomization.{push_interval, push_velocity,
        domain_randomization, friction_scale, trunk_mass_delta, motor_strength}`` (exports and
        run configs written before) into ``pushes`` / ``domain_randomization``; such a config's
        ``command`` keeps its old meaning (one command per episode, no zeros) unless it says
        otherwise."""
        data = dict(data)
        r = data.get("randomization")
        if not isinstance(r, Mapping) or not (set(r) & set(LEGACY_RANDOMIZATION_KEYS)):
            return data
        r = dict(r)
        legacy = {k: r.pop(k) for k in LEGACY_RANDOMIZATION_KEYS if k in r}
        data["randomization"] = r
        # a config written before had one command per episode and no zero commands
        cmd = data.get("command")
        if isinstance(cmd, Mapping):
            data["command"] = {"resample": False, "zero_probability": 0.0, **cmd}
        pv = float(legacy.get("push_velocity", 0.0) or 0.0)
        if pv > 0 and "pushes" not in data:
            data["pushes"] = {
                "enabled": True,
                "interval": legacy.get("push_interval", [4.0, 8.0]),
                "velocity": [0.0, pv * 2**0.5],
            }
        if legacy.get("domain_randomization") and "domain_randomization" not in data:
            data["domain_randomization"] = {
                "friction": {"enabled": True, "range": legacy.get("friction_scale", [0.6, 1.25])},
                "trunk_mass": {"enabled": True, "range": legacy.get("trunk_mass_delta", [-0.5, 1.5])},
                "motor_strength": {"enabled": True, "range": legacy.get("motor_strength", [0.85, 1.15])},
                "kp": {"enabled": True, "range": legacy.get("motor_strength", [0.85, 1.15])},
            }
        return data

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

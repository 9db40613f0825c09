"""Command-grid, push-recovery and stand-still evaluations (``python -m playback.evaluate --mode ...``).

Three tests of a controller on C MuJoCo (the Gymnasium twin ``ResidualWalkEnv``), flat world by
default, each run for the policy and the nominal gait (the same env with a zero action) on the
same episodes (same reset keys: spawn, heading noise, joint noise, gait phase):

* **command grid** (:func:`run_command_grid`): one episode per command of two grids, vx x yaw
  rate (vy = 0) and vx x vy (yaw rate = 0), the command fixed for the whole episode. Per cell the
  mean over the control steps after ``settle_s`` of the env's ``vel_tracking_error`` (‖v_xy,cmd −
  v_xy‖, body frame, m/s) and ``yaw_rate_error`` (|ω_z,cmd − ω_z|, rad/s), whether it fell, and
  the achieved heading-frame velocity. Files: ``command_grid.{json,md}``,
  ``command_grid_vx_yaw.png``, ``command_grid_vx_vy.png``.
* **push recovery** (:func:`run_push_recovery`): a forward command; at ``kick_time_s`` a
  horizontal velocity kick (m/s) is added to the trunk's free-joint linear velocity
  (``env.data.qvel[0:2]``, world frame), in direction ``heading + 2π i / episodes`` for episode i
  (0 = forward, π/2 = to the robot's left). Success = the episode runs to the end without the env
  terminating it (fall, NaN physics). Files: ``push_recovery.{json,md,png}``.
* **stand still** (:func:`run_stand_still`): command (0, 0, 0); drift = horizontal distance of the
  trunk between the reset and the end (m), the largest yaw change (rad), falls. Files:
  ``stand_still.{json,md}``. Nothing is assumed about what the gait does at zero command.

The env's own random pushes (``env.pushes``) are switched off in these tests
(:func:`mode_configs`); everything else comes from the export's config (or ``configs/*.yaml``).
Commands outside the config's command ranges run like the others; the report notes them.

Units: m, s, rad, m/s, rad/s. Angles of kicks are relative to the trunk's heading at the kick.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import platform
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from mjx_envs.episode_logic import DR_NAMES
from playback.episode import EpisodeRecord, episode_key, policy_controller, run_episode, zero_action
from playback.evaluation_report import jsonable, write_json
from playback.nominal import trunk_yaw
from train.export import load_policy
from train.policy_env import (
    EnvConfigs,
    cached_env,
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    meta_path,
    with_world,
)

POLICY, NOMINAL = "policy", "nominal"
MODES = ("command_grid", "push", "stand")
MODE_WORLDS = ("flat", "rough")

GRID_VX = (-0.6, -0.3, 0.0, 0.3, 0.6, 1.0)
"""Default forward-velocity commands of both grids [m/s]."""
GRID_YAW_RATE = (-1.0, -0.5, 0.0, 0.5, 1.0)
"""Default yaw-rate commands of the vx x yaw grid [rad/s]."""
GRID_VY = (-0.4, -0.2, 0.0, 0.2, 0.4)
"""Default lateral-velocity commands of the vx x vy grid [m/s]."""
KICK_SIZES = (0.0, 0.5, 1.0, 1.5, 2.0)
"""Default push-recovery kick sizes [m/s]."""
PUSH_COMMAND = (0.4, 0.0, 0.0)
"""Default command of the push-recovery episodes (vx m/s, vy m/s, yaw rate rad/s)."""

GRIDS = {"vx_yaw": ("vx", "yaw_rate"), "vx_vy": ("vx", "vy")}
"""Grid name -> (row axis, column axis); the command component not on a grid is 0."""
AXIS_LABELS = {"vx": "vx (m/s)", "vy": "vy (m/s)", "yaw_rate": "yaw rate (rad/s)"}
_AXIS_INDEX = {"vx": 0, "vy": 1, "yaw_rate": 2}

DEFINITIONS = {
    "vel_tracking_error_mps": "m/s; mean over the control steps after the settle time of the env's "
                              "vel_tracking_error = |v_xy,cmd - v_xy| (body frame); null when the episode "
                              "ended before the settle time",
    "yaw_rate_error_radps": "rad/s; mean over the same steps of |yaw_rate_cmd - yaw_rate|",
    "achieved_vx_mps / achieved_vy_mps": "m/s; mean trunk velocity after the settle time in the heading frame "
                                         "(world xy rotated by the trunk yaw)",
    "achieved_yaw_rate_radps": "rad/s; trunk yaw change after the settle time / that time",
    "fell": "the env terminated the episode: trunk too low or tilted beyond the env's limits, or diverged physics",
    "survived": "not fell (an episode the env truncated because the trunk left the map is not a fall)",
    "success (push)": "the episode ran to the end without a fall; a fall before the kick counts as a failure",
    "kick": "m/s; horizontal velocity added once to the trunk's free-joint linear velocity (world frame) "
            "after the control step ending at the kick time, direction = heading at the kick + angle",
    "drift_m": "m; horizontal distance of the trunk between the reset and the end of the episode",
    "max_drift_m": "m; largest horizontal distance from the start position during the episode",
    "max_yaw_change_rad": "rad; largest |yaw - yaw at the reset| during the episode (yaw unwrapped)",
    "mean_speed_mps": "m/s; stand still: mean over steps of the body-frame horizontal speed "
                      "(the env's vel_tracking_error at zero command)",
    "outside_command_ranges": "components of the command outside the env config's command ranges "
                              "(what the policy was trained on); such commands are run and noted",
}


# ----------------------------------------------------------------------------------------- settings


def _values(name: str, values: Sequence[float], unit: str, nonnegative: bool = False) -> Tuple[float, ...]:
    """Validated tuple of floats: at least one, finite, no repeats (and >= 0 if asked)."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers ({unit}), got {values!r}") from None
    if not out:
        raise ValueError(f"{name} needs at least one value ({unit})")
    bad = [v for v in out if not math.isfinite(v) or (nonnegative and v < 0)]
    if bad:
        kind = "finite and >= 0" if nonnegative else "finite"
        raise ValueError(f"{name} must be {kind} ({unit}), got {bad[0]:g}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {list(out)}")
    return out


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value:g}")
    return value


def _count(name: str, value: int) -> int:
    if int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def _command(value: Sequence[float], name: str = "command") -> Tuple[float, float, float]:
    out = tuple(float(v) for v in value)
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be 3 finite numbers (vx m/s, vy m/s, yaw rate rad/s), got {value!r}")
    return out  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class GridCell:
    """One command of a grid: grid name, row/column index in it, command (vx m/s, vy m/s, yaw rate rad/s)."""

    grid: str
    row: int
    col: int
    command: Tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class CommandGrid:
    """Settings of the command-grid test (validated on construction: ``ValueError``).

    Attributes:
      vx: forward commands [m/s] (rows of both grids); yaw_rate: [rad/s] (columns of the vx x yaw
        grid); vy: [m/s] (columns of the vx x vy grid). Each at least one finite value, no repeats.
      duration_s: episode length [s] (> 0).
      settle_s: the tracking errors average the steps after this time [s] (0 <= settle < duration).
    """

    vx: Tuple[float, ...] = GRID_VX
    yaw_rate: Tuple[float, ...] = GRID_YAW_RATE
    vy: Tuple[float, ...] = GRID_VY
    duration_s: float = 6.0
    settle_s: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "vx", _values("grid vx", self.vx, "m/s"))
        object.__setattr__(self, "yaw_rate", _values("grid yaw rate", self.yaw_rate, "rad/s"))
        object.__setattr__(self, "vy", _values("grid vy", self.vy, "m/s"))
        object.__setattr__(self, "duration_s", _positive("grid duration", self.duration_s))
        settle = float(self.settle_s)
        if not (math.isfinite(settle) and 0 <= settle < self.duration_s):
            raise ValueError(f"settle time must be in [0, duration = {self.duration_s:g}) s, got {settle:g}")
        object.__setattr__(self, "settle_s", settle)

    def axis(self, name: str) -> Tuple[float, ...]:
        """Values of axis ``vx``, ``vy`` or ``yaw_rate``."""
        return getattr(self, name)

    def cells(self) -> List[GridCell]:
        """Every cell: the vx x yaw grid (row-major), then the vx x vy grid."""
        out = []
        for grid, (row_axis, col_axis) in GRIDS.items():
            for i, r in enumerate(self.axis(row_axis)):
                for j, c in enumerate(self.axis(col_axis)):
                    cmd = [0.0, 0.0, 0.0]
                    cmd[_AXIS_INDEX[row_axis]], cmd[_AXIS_INDEX[col_axis]] = r, c
                    out.append(GridCell(grid, i, j, tuple(cmd)))
        return out


@dataclasses.dataclass(frozen=True)
class PushTest:
    """Settings of the push-recovery test (validated on construction: ``ValueError``).

    Attributes:
      kicks_mps: kick sizes [m/s] (>= 0, no repeats); episodes: per kick size;
      duration_s: episode length [s]; kick_time_s: when the kick is added [s] (0 <= t < duration);
      command: (vx m/s, vy m/s, yaw rate rad/s) of every episode.
    """

    kicks_mps: Tuple[float, ...] = KICK_SIZES
    episodes: int = 8
    duration_s: float = 5.0
    kick_time_s: float = 2.0
    command: Tuple[float, float, float] = PUSH_COMMAND

    def __post_init__(self):
        object.__setattr__(self, "kicks_mps", _values("kick sizes", self.kicks_mps, "m/s", nonnegative=True))
        object.__setattr__(self, "episodes", _count("push episodes", self.episodes))
        object.__setattr__(self, "duration_s", _positive("push duration", self.duration_s))
        kt = float(self.kick_time_s)
        if not (math.isfinite(kt) and 0 <= kt < self.duration_s):
            raise ValueError(f"kick time must be in [0, duration = {self.duration_s:g}) s, got {kt:g}")
        object.__setattr__(self, "kick_time_s", kt)
        object.__setattr__(self, "command", _command(self.command, "push command"))


@dataclasses.dataclass(frozen=True)
class StandTest:
    """Settings of the stand-still test: ``episodes`` (>= 1) of ``duration_s`` [s] at command (0, 0, 0)."""

    episodes: int = 8
    duration_s: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "episodes", _count("stand episodes", self.episodes))
        object.__setattr__(self, "duration_s", _positive("stand duration", self.duration_s))


def kick_angles(episodes: int) -> np.ndarray:
    """(episodes,) kick directions [rad] relative to the heading: 2π i / episodes (0 = forward, π/2 = left)."""
    return 2.0 * np.pi * np.arange(int(episodes)) / int(episodes)


def outside_command_ranges(command: Sequence[float], ranges: Mapping[str, Sequence[float]]) -> List[str]:
    """Components of ``command`` outside ``ranges`` (``{"vx": [lo, hi], "vy": ..., "yaw_rate": ...}``).

    Pure. Returns e.g. ``["vx 0.6 outside [0.2, 0.5]"]``; empty when the command is in range.
    """
    out = []
    for name, value in zip(("vx", "vy", "yaw_rate"), command):
        lo, hi = ranges[name]
        if not lo - 1e-9 <= value <= hi + 1e-9:
            out.append(f"{name} {value:g} outside [{lo:g}, {hi:g}]")
    return out


# ------------------------------------------------------------------------------ per-episode numbers


def _good_rows(rec: EpisodeRecord) -> int:
    """Number of meaningful state rows: after diverged physics the last row is MuJoCo's reset state."""
    nan = rec.physics_diverged or bool(np.any(rec.metric("nan_physics") > 0))
    return rec.steps if nan else rec.steps + 1


def _fall_fields(rec: EpisodeRecord) -> Dict[str, Any]:
    return {"steps": rec.steps, "time_s": rec.steps * rec.dt, "fell": bool(rec.terminated),
            "fall_time_s": rec.steps * rec.dt if rec.terminated else None,
            "nan_physics": bool(rec.physics_diverged or np.any(rec.metric("nan_physics") > 0)),
            "off_map": bool(rec.off_map)}


def tracking_after_settle(rec: EpisodeRecord, settle_s: float) -> Dict[str, Any]:
    """Tracking numbers of one episode over the control steps that end after ``settle_s`` [s].

    Pure. Returns ``vel_tracking_error_mps`` (m/s) and ``yaw_rate_error_radps`` (rad/s): means of
    the env's per-step metrics; ``achieved_vx_mps`` / ``achieved_vy_mps`` (m/s): mean trunk
    velocity in the heading frame; ``achieved_yaw_rate_radps`` (rad/s); ``samples``: steps
    averaged. All None (samples 0) when the episode ended before the settle time.
    """
    first = int(round(settle_s / rec.dt))
    rows = _good_rows(rec)
    last = rows - 1  # the last good state row = number of good steps
    out: Dict[str, Any] = {"samples": max(0, last - first), "vel_tracking_error_mps": None,
                           "yaw_rate_error_radps": None, "achieved_vx_mps": None, "achieved_vy_mps": None,
                           "achieved_yaw_rate_radps": None}
    if last <= first:
        return out
    out["vel_tracking_error_mps"] = float(np.mean(rec.metric("vel_tracking_error")[first:last]))
    out["yaw_rate_error_radps"] = float(np.mean(rec.metric("yaw_rate_error")[first:last]))
    pos = rec.trunk_pos[first:last + 1, :2]
    yaw = np.unwrap(trunk_yaw(rec.trunk_quat[first:last + 1]))
    mid = 0.5 * (yaw[:-1] + yaw[1:])
    d = np.diff(pos, axis=0)
    span = (last - first) * rec.dt
    out["achieved_vx_mps"] = float(np.sum(np.cos(mid) * d[:, 0] + np.sin(mid) * d[:, 1]) / span)
    out["achieved_vy_mps"] = float(np.sum(-np.sin(mid) * d[:, 0] + np.cos(mid) * d[:, 1]) / span)
    out["achieved_yaw_rate_radps"] = float((yaw[-1] - yaw[0]) / span)
    return out


def stand_numbers(rec: EpisodeRecord) -> Dict[str, Any]:
    """Drift of one episode: ``drift_m`` (start -> end, horizontal, m), ``max_drift_m`` (m),
    ``max_yaw_change_rad`` (rad, unwrapped), ``mean_speed_mps`` (m/s) plus the fall fields. Pure."""
    rows = _good_rows(rec)
    pos = rec.trunk_pos[:rows, :2]
    dist = np.linalg.norm(pos - pos[0], axis=1)
    yaw = np.unwrap(trunk_yaw(rec.trunk_quat[:rows]))
    speed = rec.metric("vel_tracking_error")[:rows - 1]
    return {**_fall_fields(rec), "drift_m": float(dist[-1]), "max_drift_m": float(dist.max()),
            "max_yaw_change_rad": float(np.max(np.abs(yaw - yaw[0]))),
            "mean_speed_mps": float(np.mean(speed)) if speed.size else None}


# ------------------------------------------------------------------------------------ one episode


def grid_cell_episode(env, controller, cell: GridCell, grid: CommandGrid, key,
                      terrain_level: Optional[int] = None) -> Dict[str, Any]:
    """Run one grid cell (the command fixed from the reset on) and return its numbers (see :data:`DEFINITIONS`)."""
    n = int(round(grid.duration_s / env.ctx.sim.control_dt))
    rec = run_episode(env, controller, n, key, terrain_level, cell.command)
    return {"grid": cell.grid, "row": cell.row, "col": cell.col, "command": list(cell.command),
            **_fall_fields(rec), "survived": not rec.terminated, **tracking_after_settle(rec, grid.settle_s)}


def kick_callback(kick_mps: float, angle_rad: float, kick_step: int, applied: List[np.ndarray]):
    """``on_step`` for :func:`playback.episode.run_episode` that kicks the trunk once.

    After control step ``kick_step`` (0 = right after the reset) it adds ``kick_mps`` [m/s] to the
    trunk's free-joint linear velocity ``env.data.qvel[0:2]`` (world frame) in direction trunk
    yaw + ``angle_rad``, so the next control step starts with the kicked velocity, and appends
    the world-frame kick (2,) to ``applied``.
    """

    def on_step(env, k: int) -> bool:
        if k == kick_step:
            yaw = float(trunk_yaw(env.data.qpos[3:7]))
            v = kick_mps * np.array([math.cos(yaw + angle_rad), math.sin(yaw + angle_rad)])
            env.data.qvel[0:2] += v
            applied.append(v)
        return True

    return on_step


def push_episode(env, controller, kick_mps: float, angle_rad: float, test: PushTest, key,
                 terrain_level: Optional[int] = None) -> Dict[str, Any]:
    """One push-recovery episode: ``test.command``, a kick of ``kick_mps`` [m/s] at
    ``test.kick_time_s`` in direction heading + ``angle_rad`` [rad]; ``success`` = no fall to the end."""
    dt = env.ctx.sim.control_dt
    n = int(round(test.duration_s / dt))
    kick_step = int(round(test.kick_time_s / dt))
    applied: List[np.ndarray] = []
    rec = run_episode(env, controller, n, key, terrain_level, test.command,
                      on_step=kick_callback(kick_mps, angle_rad, kick_step, applied))
    fields = _fall_fields(rec)
    return {"kick_mps": float(kick_mps), "angle_rad": float(angle_rad), **fields,
            "kick_applied": bool(applied), "kick_world_mps": applied[0].tolist() if applied else None,
            "fell_before_kick": bool(rec.terminated and not applied), "success": not rec.terminated}


def stand_episode(env, controller, test: StandTest, key, terrain_level: Optional[int] = None) -> Dict[str, Any]:
    """One stand-still episode at command (0, 0, 0); numbers from :func:`stand_numbers`."""
    n = int(round(test.duration_s / env.ctx.sim.control_dt))
    rec = run_episode(env, controller, n, key, terrain_level, (0.0, 0.0, 0.0))
    return stand_numbers(rec)


# ------------------------------------------------------------------------------ tasks and processes


@dataclasses.dataclass(frozen=True)
class ModeTask:
    """One episode of a mode: controller, episode index (-> reset key ``episode_key(seed, index)``),
    spawn band (rough world) and the grid cell or the kick (size m/s, angle rad)."""

    controller: str
    index: int
    level: Optional[int] = None
    cell: Optional[GridCell] = None
    kick_mps: float = 0.0
    angle_rad: float = 0.0


def mode_tasks(spec: Any, controllers: Sequence[str], bands: Optional[Sequence[int]] = None) -> List[ModeTask]:
    """All episodes of ``spec`` (:class:`CommandGrid`, :class:`PushTest` or :class:`StandTest`) per controller.

    Grid: cell i (``spec.cells()`` order) is episode i. Push: kick size k, episode i has index i
    (the same reset key for every kick size) and angle ``kick_angles(episodes)[i]``. Stand:
    episode i. ``bands`` (rough world): episode i spawns in ``bands[i % len(bands)]``.
    """
    def level(i):
        return int(bands[i % len(bands)]) if bands else None

    out = []
    for c in controllers:
        if isinstance(spec, CommandGrid):
            out += [ModeTask(c, i, level(i), cell=cell) for i, cell in enumerate(spec.cells())]
        elif isinstance(spec, PushTest):
            angles = kick_angles(spec.episodes)
            out += [ModeTask(c, i, level(i), kick_mps=k, angle_rad=float(angles[i]))
                    for k in spec.kicks_mps for i in range(spec.episodes)]
        elif isinstance(spec, StandTest):
            out += [ModeTask(c, i, level(i)) for i in range(spec.episodes)]
        else:
            raise TypeError(f"unknown test settings {spec!r}")
    return out


def run_task(env, controller, task: ModeTask, spec: Any, seed: int) -> Dict[str, Any]:
    """Run one :class:`ModeTask` of ``spec`` in ``env`` and return its numbers (+ controller, episode)."""
    key = episode_key(seed, task.index)
    if isinstance(spec, CommandGrid):
        out = grid_cell_episode(env, controller, task.cell, spec, key, task.level)
    elif isinstance(spec, PushTest):
        out = push_episode(env, controller, task.kick_mps, task.angle_rad, spec, key, task.level)
    else:
        out = stand_episode(env, controller, spec, key, task.level)
    return {"controller": task.controller, "episode": task.index, "terrain_level": task.level, **out}


def mode_configs(configs: EnvConfigs, world: str = "flat") -> EnvConfigs:
    """``configs`` on ``world`` with the env's own random pushes off (``env.pushes.enabled = False``);
    domain randomisation and sensor noise stay as configured (evaluate what the policy will meet)."""
    configs = with_world(configs, world)
    p = configs.env.pushes
    if p.enabled:
        configs = configs._replace(env=configs.env.replace(pushes=dataclasses.replace(p, enabled=False)))
    return configs


@dataclasses.dataclass
class _Job:
    """Work for one process: tasks plus what rebuilds the env and the policy there."""

    tasks: List[ModeTask]
    spec: Any
    configs: EnvConfigs
    seed: int
    action_scale: float
    export_dir: Optional[str] = None
    policy: Any = None  # in-process only (not pickled)
    jax_cache_dir: Optional[str] = None


def _run_job(job: _Job) -> List[Dict[str, Any]]:
    if job.jax_cache_dir:
        import jax

        jax.config.update("jax_compilation_cache_dir", job.jax_cache_dir)
    policy = job.policy if job.policy is not None or job.export_dir is None else load_policy(job.export_dir)
    env = cached_env(job.configs)
    controllers = {NOMINAL: zero_action(env.action_space.shape[0])}
    if policy is not None:
        controllers[POLICY] = policy_controller(policy, job.action_scale)
    return [run_task(env, controllers[t.controller], t, job.spec, job.seed) for t in job.tasks]


def _split(tasks: List[ModeTask], parts: int) -> List[List[ModeTask]]:
    parts = max(1, min(parts, len(tasks)))
    bounds = np.linspace(0, len(tasks), parts + 1).round().astype(int)
    return [tasks[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def _run_tasks(tasks: List[ModeTask], job_args: Dict[str, Any], policy: Any, processes: int,
               progress: Optional[Callable[[str], None]], on_episodes=None) -> List[Dict[str, Any]]:
    """Run ``tasks`` in this process (``processes <= 1``) or in ``processes`` spawned workers;
    ``on_episodes(rows)`` (optional) gets each finished part's episode rows at once."""
    import jax

    job_args = {**job_args, "jax_cache_dir": jax.config.jax_compilation_cache_dir}
    out: List[Dict[str, Any]] = []
    if processes <= 1:
        for chunk in _split(tasks, max(1, len(tasks) // 8)):
            out += _run_job(_Job(chunk, policy=policy, **job_args))
            if on_episodes:
                on_episodes(out[-len(chunk):])
            if progress:
                progress(f"  {len(out)}/{len(tasks)} episodes done")
        return out
    export_dir = getattr(policy, "load_path", None) or getattr(policy, "export_dir", None)  # .onnx: that file
    if policy is not None and export_dir is None:
        raise ValueError("processes > 1 needs a policy loaded from an export (train.export.load_policy)")
    jobs = [_Job(chunk, export_dir=export_dir, **job_args) for chunk in _split(tasks, 2 * processes)]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        for part in pool.imap(_run_job, jobs):  # imap keeps the task order
            out += part
            if on_episodes:
                on_episodes(part)
            if progress:
                progress(f"  {len(out)}/{len(tasks)} episodes done")
    return out


def _run_mode(spec: Any, policy: Any, configs: Optional[EnvConfigs], world: str, bands: Optional[Sequence[int]],
              seed: int, action_scale: float, include_nominal: bool, processes: int,
              progress: Optional[Callable[[str], None]],
              on_episodes=None) -> Tuple[Dict[str, Any], List[Dict[str, Any]]]:
    """Shared part of the three tests: load/check the policy, run every task; (settings, episode rows)."""
    t0 = time.perf_counter()
    if world not in MODE_WORLDS:
        raise ValueError(f"world must be one of {', '.join(MODE_WORLDS)} for the command-grid / push / stand "
                         f"tests, got {world!r}")
    if isinstance(policy, (str, os.PathLike)):
        policy = load_policy(os.fspath(policy))
    if configs is None:
        configs = configs_from_meta(policy.meta, meta_path(policy)) if policy is not None else default_configs()
    pushes = list(configs.env.pushes.velocity) if configs.env.pushes.enabled else None
    configs = mode_configs(configs, world)
    if world == "rough":
        bands = list(bands) if bands else [0]
        for b in bands:
            if not 0 <= int(b) < 6:
                raise ValueError(f"band {b} out of range 0..5")
    else:
        bands = None
    env = cached_env(configs)
    if policy is not None:
        check_policy_matches_env(policy.meta, env, meta_path(policy))
    controllers = ([POLICY] if policy is not None else []) + ([NOMINAL] if include_nominal or policy is None else [])
    tasks = mode_tasks(spec, controllers, bands)
    rows = _run_tasks(tasks, dict(spec=spec, configs=configs, seed=int(seed), action_scale=float(action_scale)),
                      policy, processes, progress, on_episodes)
    cmd = configs.env.command
    settings = {"policy": getattr(policy, "export_dir", None), "controllers": controllers,
                "action_scale": float(action_scale), "world": world, "bands": bands,
                "terrain_seed": configs.simulation.terrain_seed, "seed": int(seed),
                "command_ranges": {"vx": list(cmd.vx), "vy": list(cmd.vy), "yaw_rate": list(cmd.yaw_rate)},
                "heading_noise_rad": float(configs.env.randomization.heading_noise),
                "config_push_velocity_mps": pushes, "env_pushes": "off (env.pushes.enabled = false)",
                "domain_randomization": [n for n in DR_NAMES if getattr(configs.env.domain_randomization, n).enabled],
                "observation_noise": bool(configs.env.observation_noise.enabled),
                "processes": int(processes), "command_line": ""}
    meta = {"control_dt": float(env.ctx.sim.control_dt), "definitions": DEFINITIONS,
            "device": f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.platform()})",
            "t0": t0}
    return {"settings": settings, **meta}, rows


def _finish(report: Dict[str, Any]) -> Dict[str, Any]:
    report["wall_time_s"] = time.perf_counter() - report.pop("t0")
    return report


def _by_controller(rows: Sequence[Dict[str, Any]], controllers: Sequence[str]) -> Dict[str, List[Dict[str, Any]]]:
    return {c: [r for r in rows if r["controller"] == c] for c in controllers}


# ---------------------------------------------------------------------------------- the three tests


def _stats(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    return (float(np.mean(v)), float(np.max(v))) if v else (None, None)


def grid_summary(cells: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean and max over ``cells`` of the tracking errors (cells with a defined error), cells, falls. Pure."""
    vel_mean, vel_max = _stats([c["vel_tracking_error_mps"] for c in cells])
    yaw_mean, yaw_max = _stats([c["yaw_rate_error_radps"] for c in cells])
    return {"cells": len(cells), "falls": sum(bool(c["fell"]) for c in cells),
            "cells_with_error": sum(c["vel_tracking_error_mps"] is not None for c in cells),
            "vel_tracking_error_mps_mean": vel_mean, "vel_tracking_error_mps_max": vel_max,
            "yaw_rate_error_radps_mean": yaw_mean, "yaw_rate_error_radps_max": yaw_max}


def run_command_grid(policy: Any = None, grid: CommandGrid = CommandGrid(), *, configs: Optional[EnvConfigs] = None,
                     world: str = "flat", bands: Optional[Sequence[int]] = None, seed: int = 0,
                     action_scale: float = 1.0, include_nominal: bool = True, processes: int = 1,
                     progress: Optional[Callable[[str], None]] = None, on_episodes=None) -> Dict[str, Any]:
    """The command-grid test; returns the report ``command_grid.json`` holds.

    Args:
      policy: an export (loaded or its path) or None for the nominal gait alone.
      grid: the grid values and times (:class:`CommandGrid`).
      configs: env configs (default: the export's, else ``configs/*.yaml``); world replaced,
        env pushes off (:func:`mode_configs`).
      world: ``flat`` (default) or ``rough`` (cell i spawns in ``bands[i % len(bands)]``, default band 0).
      seed: cell i is reset with ``episode_key(seed, i)``, the same for every controller.
      action_scale: multiplies the policy's action; include_nominal: also run the nominal gait.
      processes: worker processes (spawn); 1 runs here. progress: optional ``callable(str)``.
      on_episodes: optional ``callable(list of dict)``: each finished part's episode rows, at once.

    Returns:
      ``{"mode", "settings", "grids": {name: {"rows", "cols", "row_values", "col_values"}},
      "results": {controller: {"cells": [...], "summary": {grid name | "all": grid_summary}}},
      "notes", "definitions", "control_dt", "wall_time_s", "device"}``.
    """
    report, rows = _run_mode(grid, policy, configs, world, bands, seed, action_scale, include_nominal, processes,
                             progress, on_episodes)
    s = report["settings"]
    for r in rows:
        r["outside_command_ranges"] = outside_command_ranges(r["command"], s["command_ranges"])
    s.update(vx=list(grid.vx), yaw_rate=list(grid.yaw_rate), vy=list(grid.vy), duration_s=grid.duration_s,
             settle_s=grid.settle_s)
    results = {}
    for c, cells in _by_controller(rows, s["controllers"]).items():
        summary = {g: grid_summary([x for x in cells if x["grid"] == g]) for g in GRIDS}
        summary["all"] = grid_summary(cells)
        results[c] = {"cells": cells, "summary": summary}
    first = next(iter(results.values()))["cells"]
    outside = [x for x in first if x["outside_command_ranges"]]
    notes = []
    if outside:
        r = s["command_ranges"]
        notes.append(f"{len(outside)} of {len(first)} cells have command values outside the env config's command "
                     f"ranges (vx [{r['vx'][0]:g}, {r['vx'][1]:g}] m/s, vy [{r['vy'][0]:g}, {r['vy'][1]:g}] m/s, "
                     f"yaw rate [{r['yaw_rate'][0]:g}, {r['yaw_rate'][1]:g}] rad/s): the policy was not trained "
                     "on them (marked * in the tables)")
    report.update(mode="command_grid", results=results, notes=notes,
                  grids={g: {"rows": a, "cols": b, "row_values": list(grid.axis(a)), "col_values": list(grid.axis(b))}
                         for g, (a, b) in GRIDS.items()})
    return _finish(report)


def push_table(episodes: Sequence[Mapping[str, Any]], kicks: Sequence[float]) -> List[Dict[str, Any]]:
    """One row per kick size [m/s]: episodes, successes, success_rate, falls_before_kick. Pure."""
    out = []
    for k in kicks:
        eps = [e for e in episodes if e["kick_mps"] == k]
        ok = sum(bool(e["success"]) for e in eps)
        out.append({"kick_mps": float(k), "episodes": len(eps), "successes": ok,
                    "success_rate": ok / len(eps) if eps else None,
                    "falls_before_kick": sum(bool(e["fell_before_kick"]) for e in eps)})
    return out


def run_push_recovery(policy: Any = None, test: PushTest = PushTest(), *, configs: Optional[EnvConfigs] = None,
                      world: str = "flat", bands: Optional[Sequence[int]] = None, seed: int = 0,
                      action_scale: float = 1.0, include_nominal: bool = True, processes: int = 1,
                      progress: Optional[Callable[[str], None]] = None, on_episodes=None) -> Dict[str, Any]:
    """The push-recovery test; returns the report ``push_recovery.json`` holds.

    Episode i of every kick size is reset with ``episode_key(seed, i)`` and kicked in direction
    heading + ``kick_angles(test.episodes)[i]``. Other arguments as :func:`run_command_grid`.

    Returns:
      ``{"mode", "settings", "results": {controller: {"table": push_table, "episodes": [...]}},
      "notes", "definitions", "control_dt", "wall_time_s", "device"}``.
    """
    report, rows = _run_mode(test, policy, configs, world, bands, seed, action_scale, include_nominal, processes,
                             progress, on_episodes)
    s = report["settings"]
    s.update(kicks_mps=list(test.kicks_mps), episodes_per_kick=test.episodes, duration_s=test.duration_s,
             kick_time_s=test.kick_time_s, command=list(test.command),
             kick_angles_rad=kick_angles(test.episodes).tolist())
    results = {c: {"table": push_table(eps, test.kicks_mps), "episodes": eps}
               for c, eps in _by_controller(rows, s["controllers"]).items()}
    out = outside_command_ranges(test.command, s["command_ranges"])
    notes = [f"the push command is outside the env config's command ranges: {', '.join(out)}"] if out else []
    report.update(mode="push", results=results, notes=notes)
    return _finish(report)


def stand_summary(episodes: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Episodes, falls, mean/max drift [m], mean/max of the largest yaw change [rad], mean speed [m/s]. Pure."""
    drift_mean, drift_max = _stats([e["drift_m"] for e in episodes])
    yaw_mean, yaw_max = _stats([e["max_yaw_change_rad"] for e in episodes])
    speed_mean, _ = _stats([e["mean_speed_mps"] for e in episodes])
    return {"episodes": len(episodes), "falls": sum(bool(e["fell"]) for e in episodes),
            "drift_m_mean": drift_mean, "drift_m_max": drift_max,
            "max_drift_m_max": _stats([e["max_drift_m"] for e in episodes])[1],
            "max_yaw_change_rad_mean": yaw_mean, "max_yaw_change_rad_max": yaw_max, "mean_speed_mps": speed_mean}


def run_stand_still(policy: Any = None, test: StandTest = StandTest(), *, configs: Optional[EnvConfigs] = None,
                    world: str = "flat", bands: Optional[Sequence[int]] = None, seed: int = 0,
                    action_scale: float = 1.0, include_nominal: bool = True, processes: int = 1,
                    progress: Optional[Callable[[str], None]] = None, on_episodes=None) -> Dict[str, Any]:
    """The stand-still test (command (0, 0, 0)); returns the report ``stand_still.json`` holds.

    Episode i is reset with ``episode_key(seed, i)``. Other arguments as :func:`run_command_grid`.

    Returns:
      ``{"mode", "settings", "results": {controller: {"summary": stand_summary, "episodes": [...]}},
      "notes", "definitions", "control_dt", "wall_time_s", "device"}``.
    """
    report, rows = _run_mode(test, policy, configs, world, bands, seed, action_scale, include_nominal, processes,
                             progress, on_episodes)
    s = report["settings"]
    s.update(episodes=test.episodes, duration_s=test.duration_s, command=[0.0, 0.0, 0.0])
    results = {c: {"summary": stand_summary(eps), "episodes": eps}
               for c, eps in _by_controller(rows, s["controllers"]).items()}
    out = outside_command_ranges((0.0, 0.0, 0.0), s["command_ranges"])
    notes = [f"zero command is outside the env config's command ranges: {', '.join(out)}"] if out else []
    report.update(mode="stand", results=results, notes=notes)
    return _finish(report)


RUNNERS = {"command_grid": run_command_grid, "push": run_push_recovery, "stand": run_stand_still}


# ------------------------------------------------------------------------------------------ reports


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt.format(value)


def _header(report: Mapping[str, Any], title: str, what: str) -> List[str]:
    s = report["settings"]
    world = s["world"] + (f" (bands {s['bands']})" if s.get("bands") else "")
    lines = [f"# {title}", "",
             f"Policy: `{s['policy'] or '(none: nominal gait only)'}` (action scale {s['action_scale']:g}); "
             f"controllers: {', '.join(s['controllers'])} (nominal = the same env with a zero action, on the "
             f"same episodes). C MuJoCo (`ResidualWalkEnv`), {world} world, seed {s['seed']}, the env's random "
             "pushes off.", "", what, ""]
    for note in report.get("notes", []):
        lines += [f"Note: {note}.", ""]
    return lines


def _footer(report: Mapping[str, Any], keys: Sequence[str], plots: Sequence[str] = ()) -> List[str]:
    s = report["settings"]
    lines = ["## Definitions", ""] + [f"- `{k}`: {report['definitions'][k]}" for k in keys]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{os.path.splitext(p)[0].replace('_', ' ')}]({p})" for p in plots]
    lines += ["", f"Command: `{s['command_line']}`  ",
              f"Wall time: {report['wall_time_s']:.1f} s on {report['device']}, {s['processes']} process(es)."]
    return lines


ACHIEVED_KEYS = {"vx": "achieved_vx_mps", "vy": "achieved_vy_mps", "yaw_rate": "achieved_yaw_rate_radps"}


def grid_matrix(report: Mapping[str, Any], grid: str, key: Any, fmt: str = "{:.3f}") -> str:
    """Markdown matrix of ``key`` over one grid: rows = the row axis, columns = the column axis;
    each cell ``policy / nominal`` (the controllers in the report's order). ``†`` = the episode
    fell, ``*`` = the command is outside the config's command ranges. A tuple ``key`` shows the
    values as ``(a, b)``."""
    g = report["grids"][grid]
    controllers = list(report["results"])
    by = {c: {(x["row"], x["col"]): x for x in report["results"][c]["cells"] if x["grid"] == grid}
          for c in controllers}
    col_names = [f"{AXIS_LABELS[g['cols']].split(' (')[0]} {v:+g}" for v in g["col_values"]]
    lines = [f"| {AXIS_LABELS[g['rows']]} \\ {AXIS_LABELS[g['cols']]} | " + " | ".join(col_names) + " |",
             "|---:|" + "---:|" * len(col_names)]
    for i, rv in enumerate(g["row_values"]):
        cells = []
        for j in range(len(g["col_values"])):
            parts = []
            for c in controllers:
                x = by[c][(i, j)]
                if isinstance(key, tuple):
                    vals = [x[k] for k in key]
                    text = "–" if None in vals else "(" + ", ".join(fmt.format(v) for v in vals) + ")"
                else:
                    text = _fmt(x[key], fmt)
                parts.append(text + ("†" if x["fell"] else ""))
            star = "*" if by[controllers[0]][(i, j)]["outside_command_ranges"] else ""
            cells.append(" / ".join(parts) + star)
        lines.append(f"| {rv:+g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid_summary_table(report: Mapping[str, Any]) -> str:
    """Markdown: one row per (controller, grid): cells, falls, mean and max of both tracking errors."""
    rows = ["| controller | grid | cells | falls | vel. error mean (m/s) | vel. error max (m/s) | "
            "yaw-rate error mean (rad/s) | yaw-rate error max (rad/s) |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c, res in report["results"].items():
        for g, s in res["summary"].items():
            rows.append(f"| {c} | {g} | {s['cells']} | {s['falls']} | "
                        f"{_fmt(s['vel_tracking_error_mps_mean'], '{:.3f}')} | "
                        f"{_fmt(s['vel_tracking_error_mps_max'], '{:.3f}')} | "
                        f"{_fmt(s['yaw_rate_error_radps_mean'], '{:.3f}')} | "
                        f"{_fmt(s['yaw_rate_error_radps_max'], '{:.3f}')} |")
    return "\n".join(rows)


def command_grid_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``command_grid.md``."""
    s = report["settings"]
    controllers = " / ".join(report["results"])
    lines = _header(report, "Command grid",
                    f"One episode of {s['duration_s']:g} s per command, the command fixed from the reset on; errors "
                    f"averaged over the control steps after {s['settle_s']:g} s. Cells show {controllers}; "
                    "† = fell, * = outside the config's command ranges, – = ended before the settle time.")
    lines += ["## Summary", "", grid_summary_table(report), ""]
    for g, (a, b) in GRIDS.items():
        title = f"{a} x {b}" + (" (vy = 0)" if g == "vx_yaw" else " (yaw rate = 0)")
        lines += [f"## {title}", "", "Velocity-tracking error (m/s):", "",
                  grid_matrix(report, g, "vel_tracking_error_mps"), "", "Yaw-rate error (rad/s):", "",
                  grid_matrix(report, g, "yaw_rate_error_radps"), "",
                  f"Achieved mean ({a}, {b}) after the settle time ({AXIS_LABELS[a].split(' (')[1][:-1]}, "
                  f"{AXIS_LABELS[b].split(' (')[1][:-1]}; heading frame):", "",
                  grid_matrix(report, g, (ACHIEVED_KEYS[a], ACHIEVED_KEYS[b]), "{:+.2f}"), "",
                  f"![command grid {g}](command_grid_{g}.png)", ""]
    lines += _footer(report, ["vel_tracking_error_mps", "yaw_rate_error_radps", "achieved_vx_mps / achieved_vy_mps",
                              "achieved_yaw_rate_radps", "fell", "survived", "outside_command_ranges"])
    return "\n".join(lines) + "\n"


def plot_command_grid(path: str, report: Mapping[str, Any], grid: str) -> str:
    """Heat maps of one grid: rows = velocity-tracking error (m/s) and yaw-rate error (rad/s),
    columns = controllers side by side (shared colour scale per row); the value in each cell,
    ``fell T s`` under it when the episode fell at T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = report["grids"][grid]
    controllers = list(report["results"])
    nr, nc = len(g["row_values"]), len(g["col_values"])
    metrics = (("vel_tracking_error_mps", "velocity-tracking error (m/s)"),
               ("yaw_rate_error_radps", "yaw-rate error (rad/s)"))
    fig, axes = plt.subplots(2, len(controllers), squeeze=False, gridspec_kw={"hspace": 0.4},
                             figsize=(1.2 + 1.0 * nc * len(controllers), 2.0 + 2 * (0.45 * nr + 0.3)))
    for m, (key, label) in enumerate(metrics):
        grids, fell = {}, {}
        for c in controllers:
            a, f = np.full((nr, nc), np.nan), np.full((nr, nc), np.nan)
            for x in report["results"][c]["cells"]:
                if x["grid"] == grid:
                    a[x["row"], x["col"]] = np.nan if x[key] is None else x[key]
                    f[x["row"], x["col"]] = x["fall_time_s"] if x["fell"] else np.nan
            grids[c], fell[c] = a, f
        finite = [v for a in grids.values() for v in a[np.isfinite(a)]]
        vmax = max(max(finite, default=0.0), 1e-3)
        image = None
        for ax, c in zip(axes[m], controllers):
            image = ax.imshow(grids[c], origin="lower", cmap="RdYlGn_r", vmin=0.0, vmax=vmax, aspect="auto")
            for i in range(nr):
                for j in range(nc):
                    v = grids[c][i, j]
                    dark = np.isfinite(v) and (v < 0.2 * vmax or v > 0.8 * vmax)  # the ends of RdYlGn are dark
                    text = "–" if not np.isfinite(v) else f"{v:.2f}"
                    fall = fell[c][i, j]
                    ax.text(j, i, text + (f"\nfell {fall:.1f} s" if np.isfinite(fall) else ""), ha="center",
                            va="center", fontsize=7,
                            color="white" if dark else "black")
            ax.set_xticks(range(nc))
            ax.set_xticklabels([f"{v:g}" for v in g["col_values"]], fontsize=8)
            ax.set_yticks(range(nr))
            ax.set_yticklabels([f"{v:g}" for v in g["row_values"]], fontsize=8)
            ax.set_xlabel(AXIS_LABELS[g["cols"]], fontsize=8)
            ax.set_ylabel(AXIS_LABELS[g["rows"]], fontsize=8)
            ax.set_title(f"{c}: {label}", fontsize=9)
        if image is not None:
            fig.colorbar(image, ax=list(axes[m]), fraction=0.03, pad=0.02)
    s = report["settings"]
    fig.suptitle(f"command grid {g['rows']} x {g['cols']}: mean error after {s['settle_s']:g} s of "
                 f"{s['duration_s']:g} s episodes", fontsize=10)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def push_recovery_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``push_recovery.md``: kick size -> success rate per controller."""
    s = report["settings"]
    c = s["command"]
    lines = _header(report, "Push recovery",
                    f"{s['episodes_per_kick']} episodes of {s['duration_s']:g} s per kick size, command vx "
                    f"{c[0]:+g} m/s, vy {c[1]:+g} m/s, yaw rate {c[2]:+g} rad/s. At t = {s['kick_time_s']:g} s the "
                    "kick is added to the trunk's horizontal velocity (world frame), in direction heading + "
                    f"2π i / {s['episodes_per_kick']} for episode i (0 = forward, 90° = left). Success = no fall "
                    "until the end.")
    controllers = list(report["results"])
    head = "| kick (m/s) | " + " | ".join(f"{ctl} success" for ctl in controllers) + " | " + \
           " | ".join(f"{ctl} falls before kick" for ctl in controllers) + " |"
    lines += [head, "|---:|" + "---:|" * (2 * len(controllers))]
    tables = {ctl: report["results"][ctl]["table"] for ctl in controllers}
    for i, k in enumerate(s["kicks_mps"]):
        cells = [f"{tables[ctl][i]['successes']}/{tables[ctl][i]['episodes']} "
                 f"({_fmt(tables[ctl][i]['success_rate'], '{:.0%}')})" for ctl in controllers]
        cells += [str(tables[ctl][i]["falls_before_kick"]) for ctl in controllers]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    lines += [""] + _footer(report, ["kick", "success (push)", "fell"], ["push_recovery.png"])
    return "\n".join(lines) + "\n"


def plot_push_recovery(path: str, report: Mapping[str, Any]) -> str:
    """Success rate vs kick size [m/s], one line per controller."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report["settings"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for c, res in report["results"].items():
        rate = [np.nan if r["success_rate"] is None else r["success_rate"] for r in res["table"]]
        ax.plot([r["kick_mps"] for r in res["table"]], rate, "o-", label=c)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(f"kick at t = {s['kick_time_s']:g} s (m/s, horizontal)")
    ax.set_ylabel("success rate")
    ax.set_title(f"push recovery: {s['episodes_per_kick']} directions per kick, {s['duration_s']:g} s episodes",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def stand_still_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``stand_still.md``: drift, yaw change and falls per controller."""
    s = report["settings"]
    lines = _header(report, "Stand still",
                    f"{s['episodes']} episodes of {s['duration_s']:g} s at command (0, 0, 0).")
    lines += ["| controller | episodes | falls | drift mean (m) | drift max (m) | max yaw change mean (rad) | "
              "max yaw change max (rad) | mean speed (m/s) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for c, res in report["results"].items():
        x = res["summary"]
        lines.append(f"| {c} | {x['episodes']} | {x['falls']} | {_fmt(x['drift_m_mean'], '{:.3f}')} | "
                     f"{_fmt(x['drift_m_max'], '{:.3f}')} | {_fmt(x['max_yaw_change_rad_mean'], '{:.3f}')} | "
                     f"{_fmt(x['max_yaw_change_rad_max'], '{:.3f}')} | {_fmt(x['mean_speed_mps'], '{:.3f}')} |")
    lines += [""] + _footer(report, ["drift_m", "max_drift_m", "max_yaw_change_rad", "mean_speed_mps", "fell"])
    return "\n".join(lines) + "\n"


FILE_STEMS = {"command_grid": "command_grid", "push": "push_recovery", "stand": "stand_still"}


def write_mode_report(report: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write one test's files to ``out_dir`` (JSON, Markdown, PNGs; see the module docstring); {name: path}."""
    from train.export import package_versions

    os.makedirs(out_dir, exist_ok=True)
    mode = report["mode"]
    stem = os.path.join(out_dir, FILE_STEMS[mode])
    plots: Dict[str, str] = {}
    if mode == "command_grid":
        for g in GRIDS:
            plots[f"heat map {g}"] = plot_command_grid(os.path.join(out_dir, f"command_grid_{g}.png"), report, g)
        text = command_grid_markdown(report)
    elif mode == "push":
        plots["push recovery"] = plot_push_recovery(stem + ".png", report)
        text = push_recovery_markdown(report)
    else:
        text = stand_still_markdown(report)
    data = {**report, "versions": package_versions(), "plots": {k: os.path.basename(v) for k, v in plots.items()}}
    write_json(stem + ".json", jsonable(data))
    with open(stem + ".md", "w", encoding="utf-8") as fh:
        fh.write(text)
    return {"json": stem + ".json", "markdown": stem + ".md", **plots}


def summary_lines(report: Mapping[str, Any]) -> List[str]:
    """A few lines for the terminal: the mode's headline numbers per controller."""
    out = []
    for c, res in report["results"].items():
        if report["mode"] == "command_grid":
            s = res["summary"]["all"]
            out.append(f"{c}: command grid, {s['cells']} cells, {s['falls']} falls, vel. error mean "
                       f"{_fmt(s['vel_tracking_error_mps_mean'], '{:.3f}')} / max "
                       f"{_fmt(s['vel_tracking_error_mps_max'], '{:.3f}')} m/s, yaw-rate error mean "
                       f"{_fmt(s['yaw_rate_error_radps_mean'], '{:.3f}')} / max "
                       f"{_fmt(s['yaw_rate_error_radps_max'], '{:.3f}')} rad/s")
        elif report["mode"] == "push":
            out.append(f"{c}: push recovery, success per kick: " + ", ".join(
                f"{r['kick_mps']:g} m/s {r['successes']}/{r['episodes']}" for r in res["table"]))
        else:
            s = res["summary"]
            out.append(f"{c}: stand still, {s['episodes']} episodes, {s['falls']} falls, drift mean "
                       f"{_fmt(s['drift_m_mean'], '{:.3f}')} / max {_fmt(s['drift_m_max'], '{:.3f}')} m, max yaw "
                       f"change {_fmt(s['max_yaw_change_rad_max'], '{:.3f}')} rad")
    return out

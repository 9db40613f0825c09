"""One episode of ``ResidualWalkEnv`` (C MuJoCo) under a controller, recorded step by step.

Shared by ``python -m playback`` (viewer/video), ``playback.evaluate`` (statistics) and
``tests/compare_world_trajectories.py`` (plots). The controller is any function
``obs (observation_size,) -> action (12,)`` in [-1, 1]; :func:`zero_action` gives the nominal
Bézier trot alone (zero residual).

Episodes are reproducible: the reset key is :func:`episode_key` ``(seed, index)`` (the same key
reproduces the same command, spawn, heading, joint noise and gait phase on either back end), the
rough-world spawn band (or the suite's tile: level and terrain type) is given explicitly, and the
velocity command may be overridden after the reset (:func:`set_command`).

An episode ends at the caller's step count, when the env *terminates* it (fall, NaN physics) or
when the env *truncates* it because the robot left the map (``info["off_map"]``; not a fall).
The env's own time-limit truncation (``episode_length_s``) is ignored.

Frames and units: world frame z up; positions in m, angles in rad, time in s.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Optional, Sequence

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from mjx_envs.gym_env import ResidualWalkEnv
from model import robot_constants as rc, terrain

Controller = Callable[[np.ndarray], np.ndarray]
"""obs (observation_size,) float32 -> action (action_size,) in [-1, 1]."""

# MuJoCo's own divergence warnings: on these mj_step resets the state instead of producing NaN
_DIVERGENCE_WARNINGS = (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
                        mujoco.mjtWarning.mjWARN_BADQACC)


def episode_key(seed: int, index: int) -> jax.Array:
    """Reset key of episode ``index`` of an evaluation seeded ``seed`` (same key -> same episode)."""
    return jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(index))


def zero_action(action_size: int = 12) -> Controller:
    """Controller that always outputs zero: the nominal Bézier trot without residual."""
    zeros = np.zeros(action_size, np.float32)
    return lambda obs: zeros


def policy_controller(policy, action_scale: float = 1.0) -> Controller:
    """Controller from an exported policy (``.act(obs)``), its action multiplied by ``action_scale``.

    The env clips the product back to [-1, 1]; ``action_scale = 0`` is the nominal gait.
    """
    scale = np.float32(action_scale)
    return lambda obs: np.asarray(policy.act(obs), np.float32) * scale


def fixed_command_info(ctx, info, command) -> dict:
    """``info`` of a freshly reset episode with its command replaced by ``command`` (3,) and held
    for the whole episode (the command schedule switched off, stepping set for this command)."""
    from gait.bezier_gait import stepping_target

    cmd = jnp.asarray(command, info["command"].dtype)
    gait = info["gait"].replace(activity=jnp.asarray(stepping_target(cmd, ctx.gait, ctx.controller.geometry),
                                                     info["gait"].activity.dtype))
    return {**info, "command": cmd, "gait": gait, "command_time": jnp.full_like(info["command_time"], jnp.inf),
            "heading_mode": jnp.zeros_like(info["heading_mode"])}


def set_command(env: ResidualWalkEnv, command: Sequence[float]) -> np.ndarray:
    """Replace the velocity command of the episode that was just reset; returns the new first obs.

    ``command`` = (vx [m/s], vy [m/s], yaw rate [rad/s]) in the body frame. The env keeps the
    episode state in ``env.episode_info`` (a dict of JAX arrays); we put a modified copy
    there and recompute the reset observation with the env's own observation (``env.observe``), so the observation's ``command`` channel and every later step see the
    new command. The command then holds for the whole episode (no in-episode re-draws, no
    heading mode; the gait starts standing or stepping as the command asks). Only valid directly
    after ``reset`` (step 0).
    """
    info = env.episode_info
    if info is None:
        raise RuntimeError("set_command: call env.reset() first")
    if int(info["step"]) != 0:
        raise RuntimeError(f"set_command: only allowed right after reset (episode is at step {int(info['step'])})")
    cmd = np.asarray(command, np.float32).reshape(-1)
    if cmd.shape != (3,) or not np.all(np.isfinite(cmd)):
        raise ValueError(f"command must be 3 finite numbers (vx m/s, vy m/s, yaw rate rad/s), got {command!r}")
    env.episode_info = fixed_command_info(env.ctx, info, cmd)
    return env.observe()


@dataclasses.dataclass
class EpisodeRecord:
    """What happened in one episode. N = control steps taken; rows of (N + 1) arrays start at the reset.

    Attributes:
      dt: control period [s].
      world: ``flat``, ``rough`` or ``suite``.
      terrain_level: spawn band (rough world), difficulty row (suite; the env's drawn/level value on flat).
      command: (3,) velocity command at the start (vx [m/s], vy [m/s], yaw rate [rad/s]), body
        frame; when the env re-draws it within the episode, the per-step commands are the
        ``command/vx``, ``command/vy``, ``command/yaw_rate`` metrics.
      trunk_pos: (N + 1, 3) trunk-body origin, world frame [m].
      trunk_quat: (N + 1, 4) trunk orientation (w, x, y, z), world <- body.
      foot_pos: (N + 1, 4, 3) foot-sphere centres (FR, FL, RR, RL), world frame [m].
      trunk_ground: (N + 1,) terrain height under the trunk origin [m] (0 on the flat world).
      foot_ground: (N + 1, 4) terrain height under each foot centre [m].
      action: (N, 12) actions sent to the env (before the env's clip to [-1, 1]).
      reward: (N,) env reward per step.
      metrics: name -> (N,) the env's per-step ``info["metrics"]`` (``mjx_envs/episode_logic.py``).
      env_distance: the env's ``info["distance"]`` at the end [m] (along the initial heading).
      terminated: the env terminated the episode (fall or NaN physics).
      physics_diverged: MuJoCo reported a bad qpos/qvel/qacc (it then resets the state); the
        episode is ended and counted as NaN physics.
      off_map: the env truncated the episode because the trunk left the map (rough/suite world;
        ``truncated=True``, ``info["off_map"]``); not a fall.
      terrain_type: index into ``model.terrain.TERRAIN_TYPES`` of the spawn tile (suite), else None.
    """

    dt: float
    world: str
    terrain_level: int
    command: np.ndarray
    trunk_pos: np.ndarray
    trunk_quat: np.ndarray
    foot_pos: np.ndarray
    trunk_ground: np.ndarray
    foot_ground: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    metrics: Dict[str, np.ndarray]
    env_distance: float
    terminated: bool
    physics_diverged: bool
    off_map: bool = False
    terrain_type: Optional[int] = None

    @property
    def steps(self) -> int:
        return int(self.reward.shape[0])

    @property
    def time(self) -> np.ndarray:
        """(N + 1,) time since the reset [s]."""
        return self.dt * np.arange(self.steps + 1)

    def metric(self, name: str) -> np.ndarray:
        """(N,) per-step values of one env metric (zeros if the env did not report it)."""
        return self.metrics.get(name, np.zeros(self.steps))


def _divergence_count(data: mujoco.MjData) -> int:
    return int(sum(data.warning[w].number for w in _DIVERGENCE_WARNINGS))


def _ground(heights: Optional[np.ndarray], x: np.ndarray, y: np.ndarray, spec=terrain.DEFAULT_TERRAIN) -> np.ndarray:
    if heights is None:
        return np.zeros(np.shape(x))
    return np.asarray(terrain.height_at(heights, np.asarray(x), np.asarray(y), spec), np.float64)


def run_episode(env: ResidualWalkEnv, controller: Controller, n_steps: int, key: jax.Array,
                terrain_level: Optional[int] = None, command: Optional[Sequence[float]] = None,
                on_step: Optional[Callable[[ResidualWalkEnv, int], bool]] = None,
                terrain_type: Optional[int] = None) -> EpisodeRecord:
    """Reset ``env`` with ``key`` and run ``controller`` for up to ``n_steps`` control steps.

    Args:
      env: the Gymnasium twin (any render mode).
      controller: obs -> action (see :data:`Controller`).
      n_steps: control steps to run (duration / control_dt). The env's own ``episode_length_s``
        truncation is ignored: the caller's ``n_steps`` decides.
      key: JAX PRNG key of the reset (:func:`episode_key`).
      terrain_level: spawn band 0..5 (rough world) or difficulty row (suite); None lets the env
        draw it (suite: level 0 when ``terrain_type`` is given).
      terrain_type: suite only: index into ``model.terrain.TERRAIN_TYPES``; None lets the env draw it.
      command: (vx, vy, yaw rate) overriding the sampled command; None keeps the env's draw.
      on_step: called as ``on_step(env, k)`` after the reset (k = 0) and after each step
        (k = 1..N), for rendering; returning False stops the episode (e.g. viewer closed).

    The episode ends early when the env terminates it (fall, NaN physics), when MuJoCo reports
    diverged physics, or when the env truncates it because the robot left the map
    (``info["off_map"]``); the last step is included. The env's time-limit truncation is not
    an end here.
    """
    env.return_metrics = True  # the record keeps every reward term and diagnostic per step
    options = {"key": key}
    if terrain_level is not None:
        options["terrain_level"] = int(terrain_level)
    if terrain_type is not None:
        options["terrain_type"] = int(terrain_type)
    obs, _ = env.reset(options=options)
    if command is not None:
        obs = set_command(env, command)
    m, d = env.model, env.data
    heights = env.ctx.heights
    foot_sites = [m.site(name).id for name in rc.FOOT_SITES]
    info0 = env.episode_info
    command0 = np.asarray(info0["command"], np.float64)  # the command at the start (it may be re-drawn later)
    trunk_pos, trunk_quat, foot_pos = [d.qpos[0:3].copy()], [d.qpos[3:7].copy()], [d.site_xpos[foot_sites].copy()]
    actions, rewards, metrics = [], [], {}
    terminated = diverged = off_map = False
    warn0 = _divergence_count(d)
    env_distance = 0.0
    if on_step is not None and on_step(env, 0) is False:
        n_steps = 0
    for k in range(int(n_steps)):
        action = np.asarray(controller(obs), np.float32)
        obs, reward, term, trunc, info = env.step(action)
        diverged = _divergence_count(d) > warn0
        actions.append(action)
        rewards.append(reward)
        for name, v in info["metrics"].items():
            metrics.setdefault(name, []).append(v)
        if diverged:
            metrics["nan_physics"][-1] = 1.0
        env_distance = info["distance"]
        trunk_pos.append(d.qpos[0:3].copy())
        trunk_quat.append(d.qpos[3:7].copy())
        foot_pos.append(d.site_xpos[foot_sites].copy())
        terminated = bool(term) or diverged
        # a truncation is either the env's time limit (ignored: n_steps decides) or leaving the map
        off_map = bool(trunc) and bool(info.get("off_map", False)) and not terminated
        if terminated or off_map:
            break
        if on_step is not None and on_step(env, k + 1) is False:
            break
    tp, fp = np.asarray(trunk_pos), np.asarray(foot_pos)
    return EpisodeRecord(
        dt=float(env.ctx.sim.control_dt), world=env.ctx.sim.world, terrain_level=int(info0["terrain_level"]),
        command=command0, trunk_pos=tp, trunk_quat=np.asarray(trunk_quat),
        foot_pos=fp, trunk_ground=_ground(heights, tp[:, 0], tp[:, 1], env.ctx.terrain_spec),
        foot_ground=_ground(heights, fp[..., 0], fp[..., 1], env.ctx.terrain_spec),
        action=np.asarray(actions, np.float32).reshape(-1, env.action_space.shape[0]),
        reward=np.asarray(rewards, np.float64), metrics={k: np.asarray(v, np.float64) for k, v in metrics.items()},
        env_distance=float(env_distance), terminated=terminated, physics_diverged=diverged, off_map=off_map,
        terrain_type=int(info0["terrain_type"]) if env.ctx.suite is not None else None,
    )


def roll_pitch(quat_wxyz: np.ndarray) -> np.ndarray:
    """(..., 2) roll and pitch [rad] of quaternion(s) (w, x, y, z), as the env defines them.

    Same convention as ``mjx_envs.measurements.roll_pitch`` (from the body-frame gravity
    direction g: roll = atan2(-g_y, -g_z), pitch = asin(g_x)), in numpy.
    """
    w, x, y, z = np.moveaxis(np.asarray(quat_wxyz, np.float64), -1, 0)
    # third row of the rotation matrix world <- body; body-frame gravity is minus it
    r20, r21, r22 = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    roll = np.arctan2(r21, r22)
    pitch = np.arcsin(np.clip(-r20, -1.0, 1.0))
    return np.stack([roll, pitch], axis=-1)

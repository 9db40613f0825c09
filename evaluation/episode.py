"""One episode of ``ResidualWalkEnv`` (C MuJoCo) under a controller, recorded step by step.

Shared by ``python -m playback`` (viewer/video), ``evaluation.evaluate`` (statistics) and
``tests/compare_world_trajectories.py`` (plots); :func:`run_episodes` runs a batch of them as
the worlds of one ``ResidualWalkVectorEnv`` (``evaluation.evaluate``). The controller is any function
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
from typing import Callable, Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from mjx_envs.gym_env import ResidualWalkEnv
from mjx_envs.vector_env import ResidualWalkVectorEnv, fixed_command_info
from model import robot_constants as rc
from model import terrain

Controller = Callable[[np.ndarray], np.ndarray]
"""obs (observation_size,) float32 -> action (action_size,) in [-1, 1]."""

# MuJoCo's own divergence warnings: on these mj_step resets the state instead of producing NaN
_DIVERGENCE_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQACC,
)


def episode_key(seed: int, index: int) -> jax.Array:
    """Reset key of episode ``index`` of an evaluation seeded ``seed`` (same key -> same episode)."""
    return jax.random.fold_in(jax.random.PRNGKey(int(seed)), int(index))


def episode_keys(seed: int, indices: Sequence[int]) -> np.ndarray:
    """(N, 2) uint32 reset keys of episodes ``indices``: row j == :func:`episode_key` ``(seed, indices[j])``."""
    idx = jnp.asarray(np.asarray(indices, np.uint32))
    return np.asarray(jax.vmap(lambda i: jax.random.fold_in(jax.random.PRNGKey(int(seed)), i))(idx), np.uint32)


def zero_action(action_size: int = 12) -> Controller:
    """Controller that always outputs zero: the nominal Bézier trot without residual.

    Batch-capable: ``controller.batch(obs (N, obs))`` gives (N, action_size) zeros."""
    zeros = np.zeros(action_size, np.float32)

    def controller(obs):
        return zeros

    controller.batch = lambda obs: np.zeros((len(obs), action_size), np.float32)
    return controller


def batch_actions(controller: Controller, obs: np.ndarray) -> np.ndarray:
    """(N, action) actions of ``controller`` for (N, obs) observations: its ``batch`` attribute
    when it has one (:func:`zero_action`), else one call per row — the very call of
    :func:`run_episode`, so a batch of worlds gets bit for bit the actions the single env gets
    (an exported policy's batched matmul differs from its one-row result in the last float32
    bits for larger batches, which the physics amplifies; and it is not faster on a few cores)."""
    batch = getattr(controller, "batch", None)
    if batch is not None:
        return np.asarray(batch(obs), np.float32)
    return np.stack([np.asarray(controller(o), np.float32) for o in obs]) if len(obs) else np.zeros((0, 0), np.float32)


def policy_controller(policy, action_scale: float = 1.0) -> Controller:
    """Controller from an exported policy (``.act(obs)``), its action multiplied by ``action_scale``.

    The env clips the product back to [-1, 1]; ``action_scale = 0`` is the nominal gait.
    """
    scale = np.float32(action_scale)
    return lambda obs: np.asarray(policy.act(obs), np.float32) * scale


def set_command(env: ResidualWalkEnv, command: Sequence[float]) -> np.ndarray:
    """Replace the velocity command of the episode that was just reset; returns the new first obs.

    ``command`` = (vx [m/s], vy [m/s], yaw rate [rad/s]) in the body frame. The env keeps the
    episode state in ``env.episode_info`` (a dict of JAX arrays); we put a modified copy
    there and recompute the reset observation with the env's own observation (``env.observe``),
    so the observation's ``command`` channel and every later step see the new command. The
    command then holds for the whole episode (no in-episode re-draws, no heading mode; the gait
    starts standing or stepping as the command asks). Only valid directly after ``reset`` (step 0).
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


def run_episode(
    env: ResidualWalkEnv,
    controller: Controller,
    n_steps: int,
    key: jax.Array,
    terrain_level: Optional[int] = None,
    command: Optional[Sequence[float]] = None,
    on_step: Optional[Callable[[ResidualWalkEnv, int], bool]] = None,
    terrain_type: Optional[int] = None,
) -> EpisodeRecord:
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
        dt=float(env.ctx.sim.control_dt),
        world=env.ctx.sim.world,
        terrain_level=int(info0["terrain_level"]),
        command=command0,
        trunk_pos=tp,
        trunk_quat=np.asarray(trunk_quat),
        foot_pos=fp,
        trunk_ground=_ground(heights, tp[:, 0], tp[:, 1], env.ctx.terrain_spec),
        foot_ground=_ground(heights, fp[..., 0], fp[..., 1], env.ctx.terrain_spec),
        action=np.asarray(actions, np.float32).reshape(-1, env.action_space.shape[0]),
        reward=np.asarray(rewards, np.float64),
        metrics={k: np.asarray(v, np.float64) for k, v in metrics.items()},
        env_distance=float(env_distance),
        terminated=terminated,
        physics_diverged=diverged,
        off_map=off_map,
        terrain_type=int(info0["terrain_type"]) if env.ctx.suite is not None else None,
    )


def run_episodes(
    envs: ResidualWalkVectorEnv,
    controller: Controller,
    n_steps: int,
    keys,
    terrain_levels: Optional[Sequence[Optional[int]]] = None,
    terrain_types: Optional[Sequence[int]] = None,
    commands: Optional[Sequence[Optional[Sequence[float]]]] = None,
    on_step: Optional[Callable[[ResidualWalkVectorEnv, int, np.ndarray, np.ndarray], None]] = None,
) -> List[EpisodeRecord]:
    """:func:`run_episode` for a batch of episodes, one world of ``envs`` each, stepped together.

    Returns the records :func:`run_episode` gives for the same ``ResidualWalkEnv`` configs, keys,
    levels, types and commands, bit for bit (``tests/test_evaluate.py``): world i is reset with
    ``keys[i]`` ((N, 2) uint32 or a list of JAX keys, :func:`episode_keys`), in
    ``terrain_levels[i]`` (None: drawn; suite: 0 with a type), on ``terrain_types[i]`` (suite; all
    given or None), with ``commands[i]`` held (None: the sampled command). Fewer episodes than
    ``envs.num_envs`` run padded with copies of the last one (a world's numbers do not depend on
    its batch). ``controller`` gets the (N, obs) batch through :func:`batch_actions`.

    Each episode ends as in :func:`run_episode` (env termination, diverged physics, off the map;
    not the env's time limit); a finished world is masked out (no longer recorded, its
    controller not called) while the rest keep stepping, until every one has ended or
    ``n_steps`` steps are done. ``envs`` runs with ``autoreset`` off meanwhile, so finished worlds
    are not reset. Foot positions are the foot ``framepos`` sensors (``model.robot_constants.
    FOOT_POS_SENSORS``), which equal the single env's ``data.site_xpos`` after ``mj_step``.
    Diverged physics: there is no per-world ``MjData.warning`` here; MuJoCo resets a diverged
    world's state inside ``mj_step``, which restarts its time, so a step that advances
    :attr:`ResidualWalkVectorEnv.time` by less than a control period is the divergence (the
    record then gets ``nan_physics`` = 1 on that step, like :func:`run_episode`); NaN states that
    MuJoCo does not reset are the env's own ``nan_physics`` termination.

    ``on_step(envs, k, stepped, running)`` (optional) is called after the reset (k = 0) and after
    each step k = 1..: ``stepped`` (N,) bool marks the worlds that took step k (all episodes at
    k = 0), ``running`` those whose episode goes on (:func:`run_episode`'s ``on_step`` sees a
    world only while it is running; a per-step recorder also wants the state after the last step).
    """
    keys = np.asarray(keys, np.uint32).reshape(-1, 2)
    n_ep, n = len(keys), envs.num_envs
    if not 1 <= n_ep <= n:
        raise ValueError(f"run_episodes: {n_ep} episodes for {n} worlds")
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], n - n_ep, axis=0)]) if n > n_ep else a  # noqa: E731
    options = {"keys": pad(keys)}
    if terrain_levels is not None:
        options["terrain_level"] = pad(np.array([-1 if lv is None else int(lv) for lv in terrain_levels], np.int64))
    if terrain_types is not None:
        if any(t is None for t in terrain_types):
            raise ValueError("run_episodes: give a terrain type for every episode or none")
        options["terrain_type"] = pad(np.array([int(t) for t in terrain_types], np.int64))
    ctx, m = envs.ctx, envs.model
    autoreset, metrics_flag = envs.autoreset, envs.return_metrics
    envs.autoreset, envs.return_metrics = False, True
    try:
        obs, _ = envs.reset(options=options)
        if commands is not None and any(c is not None for c in commands):
            given = pad(np.array([c is not None for c in commands]))
            cmds = pad(
                np.array(
                    [(0.0, 0.0, 0.0) if c is None else np.asarray(c, np.float32).reshape(-1) for c in commands],
                    np.float32,
                )
            )
            if cmds.shape != (n, 3) or not np.all(np.isfinite(cmds)):
                raise ValueError(
                    f"commands must be 3 finite numbers each (vx m/s, vy m/s, yaw rate rad/s), got {commands!r}"
                )
            obs = envs.set_commands(cmds, given)
        command0 = envs.read_info("command").astype(np.float64)
        level0, type0 = envs.read_info("terrain_level"), envs.read_info("terrain_type")
        foot_cols = np.concatenate([m.sensor_adr[m.sensor(s).id] + np.arange(3) for s in rc.FOOT_POS_SENSORS])
        n_steps = int(n_steps)
        period = ctx.sim.n_substeps * m.opt.timestep
        qpos = envs.qpos
        trunk_pos = np.zeros((n_steps + 1, n, 3))
        trunk_quat = np.zeros((n_steps + 1, n, 4))
        foot_pos = np.zeros((n_steps + 1, n, 4, 3))
        trunk_pos[0], trunk_quat[0] = qpos[:, 0:3], qpos[:, 3:7]
        foot_pos[0] = envs.sensordata[:, foot_cols].reshape(n, 4, 3)
        actions = np.zeros((n_steps, n, ctx.action_size), np.float32)
        rewards = np.zeros((n_steps, n))
        metrics = {k: np.zeros((n_steps, n)) for k in envs.logic.metric_names}
        steps = np.zeros(n, np.int64)
        alive = np.zeros(n, bool)
        alive[:n_ep] = True
        terminated, diverged, off_map = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool)
        env_distance = np.zeros(n)
        if on_step is not None:
            on_step(envs, 0, alive.copy(), alive.copy())
        for k in range(n_steps):
            if not alive.any():
                break
            act = np.zeros((n, ctx.action_size), np.float32)
            act[alive] = batch_actions(controller, obs[alive])
            t_before = envs.time
            obs, reward, term, trunc, info = envs.step(act)
            div = envs.time < t_before + period - 0.5 * m.opt.timestep
            a = alive
            actions[k, a], rewards[k, a] = act[a], reward[a]
            for name, v in info["metrics"].items():
                metrics[name][k, a] = v[a]
            metrics["nan_physics"][k, a & div] = 1.0
            qpos = envs.qpos
            trunk_pos[k + 1, a], trunk_quat[k + 1, a] = qpos[a, 0:3], qpos[a, 3:7]
            foot_pos[k + 1, a] = envs.sensordata[a][:, foot_cols].reshape(-1, 4, 3)
            env_distance[a] = info["distance"][a]
            steps[a] = k + 1
            diverged[a] = div[a]
            terminated[a] = term[a] | div[a]
            off_map[a] = trunc[a] & info["off_map"][a] & ~terminated[a]
            alive = a & ~(terminated | off_map)
            if on_step is not None:
                on_step(envs, k + 1, a.copy(), alive.copy())
    finally:
        envs.autoreset, envs.return_metrics = autoreset, metrics_flag
    heights, spec = ctx.heights, ctx.terrain_spec
    records = []
    for i in range(n_ep):
        s = int(steps[i])
        tp, fp = trunk_pos[: s + 1, i], foot_pos[: s + 1, i]
        records.append(
            EpisodeRecord(
                dt=float(ctx.sim.control_dt),
                world=ctx.sim.world,
                terrain_level=int(level0[i]),
                command=command0[i],
                trunk_pos=tp.copy(),
                trunk_quat=trunk_quat[: s + 1, i].copy(),
                foot_pos=fp.copy(),
                trunk_ground=_ground(heights, tp[:, 0], tp[:, 1], spec),
                foot_ground=_ground(heights, fp[..., 0], fp[..., 1], spec),
                action=actions[:s, i].copy(),
                reward=rewards[:s, i].copy(),
                metrics={name: v[:s, i].copy() for name, v in metrics.items()},
                env_distance=float(env_distance[i]),
                terminated=bool(terminated[i]),
                physics_diverged=bool(diverged[i]),
                off_map=bool(off_map[i]),
                terrain_type=int(type0[i]) if ctx.suite is not None else None,
            )
        )
    return records


def roll_pitch_array(quat_wxyz: np.ndarray) -> np.ndarray:
    """(..., 2) roll and pitch [rad] of quaternion(s) (w, x, y, z), as the env defines them, in one
    array (the env's ``mjx_envs.measurements.roll_pitch`` returns a (roll, pitch) pair of JAX scalars).

    Same convention as ``mjx_envs.measurements.roll_pitch`` (from the body-frame gravity
    direction g: roll = atan2(-g_y, -g_z), pitch = asin(g_x)), in numpy.
    """
    w, x, y, z = np.moveaxis(np.asarray(quat_wxyz, np.float64), -1, 0)
    # third row of the rotation matrix world <- body; body-frame gravity is minus it
    r20, r21, r22 = 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)
    roll = np.arctan2(r21, r22)
    pitch = np.arcsin(np.clip(-r20, -1.0, 1.0))
    return np.stack([roll, pitch], axis=-1)

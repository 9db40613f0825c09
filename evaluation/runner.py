"""The one way evaluation episodes run: plan them, run them batched, regroup them.

Every evaluation-type command (``python -m evaluation.evaluate`` in all its modes: the suite /
flat / rough evaluation, the command grid, push recovery, stand still; and
``python -m evaluation.safety_report``) does the same three things:

1. **plan**: one :class:`PlannedEpisode` per episode: the group its numbers are summarised in
   (e.g. ``(controller, world)``), the env configs (world applied), the controller's name, the
   episode index (reset key :func:`evaluation.episode.episode_key` ``(seed, index)``: a number
   of the episode, never of its batch), the step count, the spawn level / suite tile, a held
   command, and per-episode extras: a velocity :class:`Kick` and whether to record the physics
   state after every step (:class:`StepStates`);
2. **run**: :func:`run_plan` runs the episodes that share configs, controller and step count as
   the worlds of one ``mjx_envs.vector_env.ResidualWalkVectorEnv`` (batched C MuJoCo,
   ``mujoco.rollout`` on ``threads`` physics threads; :func:`evaluation.episode.run_episodes`),
   in chunks of at most ``max_batch`` worlds, and returns one :class:`EpisodeResult` per planned
   episode, in plan order. A world's numbers do not depend on its batch or on ``threads``: each
   episode gives the record :func:`evaluation.episode.run_episode` gives it on the single env;
3. **regroup**: :func:`regroup` collects the results per group for the test's summary.

One way to parallelise: physics threads of the batched back end (``--physics-threads``). A
process pool is not used: on 2 cores it was slower (each worker imports JAX and compiles the
env again; ``docs/playback.md``).

Units: m, s, rad, m/s; kicks in the world frame.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from evaluation.episode import Controller, EpisodeRecord, episode_keys, run_episodes
from evaluation.nominal import trunk_yaw
from mjx_envs.policy_env import EnvConfigs, cached_vector_env

POLICY, NOMINAL = "policy", "nominal"
"""The controllers every evaluation compares: the exported policy, and the nominal gait (zero action)."""

MAX_BATCH = 256
"""Most worlds stepped together; larger groups run in chunks of this size (the last one padded)."""


@dataclasses.dataclass(frozen=True)
class Kick:
    """A horizontal velocity kick, added once to the trunk's free-joint linear velocity (world
    frame, float64) after control step ``step`` (0 = right after the reset) unless the episode
    ended there: ``speed_mps`` [m/s] in direction trunk yaw + ``angle_rad`` [rad]."""

    step: int
    speed_mps: float
    angle_rad: float


@dataclasses.dataclass(frozen=True)
class PlannedEpisode:
    """One episode to run (see the module docstring).

    Attributes:
      group: what the results are regrouped by (hashable, e.g. ``("policy", "rough")``).
      configs: env configs, world applied.
      controller: name of the controller (a key of :func:`run_plan`'s ``controllers``).
      index: episode index: reset key ``episode_key(seed, index)``.
      n_steps: control steps at most (duration / control_dt).
      level: spawn band (rough) or difficulty row (suite); None: the env draws it.
      terrain_type: suite: index into ``model.terrain.TERRAIN_TYPES``; None elsewhere.
      command: (vx m/s, vy m/s, yaw rate rad/s) held from the reset; None: the env's draw.
      kick: a :class:`Kick` or None.
      record_steps: also keep the physics state after the reset and every step (:class:`StepStates`).
      case: what the test varies in this episode (a grid cell, a kick, a tile...), handed back.
    """

    group: Hashable
    configs: EnvConfigs
    controller: str
    index: int
    n_steps: int
    level: Optional[int] = None
    terrain_type: Optional[int] = None
    command: Optional[Tuple[float, float, float]] = None
    kick: Optional[Kick] = None
    record_steps: bool = False
    case: Any = None


@dataclasses.dataclass(frozen=True)
class StepStates:
    """The physics state of one world after the reset (row 0) and after each step it took (rows
    1..steps, the last step included): ``qpos`` (T, nq) [m, quaternion, rad], ``qvel`` (T, nv)
    [m/s, rad/s], ``sensordata`` (T, nsensordata) (the last physics substep's sensors), float64,
    and ``force_limit`` (nu,) [N·m]: |actuator_forcerange| upper bound of the world's model after
    its reset (domain randomisation applied)."""

    qpos: np.ndarray
    qvel: np.ndarray
    sensordata: np.ndarray
    force_limit: np.ndarray


@dataclasses.dataclass(frozen=True)
class EpisodeResult:
    """What one planned episode gave: its plan entry, its record, the kick as applied (world
    frame (2,) m/s; None when no kick was planned or the episode ended before it) and the
    recorded :class:`StepStates` (None unless planned)."""

    episode: PlannedEpisode
    record: EpisodeRecord
    kick_world_mps: Optional[np.ndarray] = None
    steps: Optional[StepStates] = None


def physics_threads(threads: Optional[int] = None, processes: Optional[int] = None) -> int:
    """Physics threads asked for: ``threads``, else ``processes`` (its deprecated name), else 1."""
    n = threads if threads is not None else processes
    n = 1 if n is None else int(n)
    if n < 1:
        raise ValueError(f"physics threads must be >= 1, got {n}")
    return n


def default_threads() -> int:
    """Physics threads of the command lines: min(CPU count, 4)."""
    return max(1, min(os.cpu_count() or 1, 4))


def add_threads_argument(parser: argparse.ArgumentParser, default: int) -> None:
    """``--physics-threads T`` (dest ``threads``), with ``--processes`` as its deprecated name:
    the threads of the batched C-MuJoCo back end that steps every episode (:mod:`evaluation.runner`)."""
    parser.add_argument(
        "--physics-threads",
        "--processes",
        dest="threads",
        type=int,
        default=default,
        metavar="T",
        help=f"physics threads of the batched C-MuJoCo worlds (mujoco.rollout) that run every episode; the numbers "
        f"do not depend on it (default {default}). --processes: deprecated name of this option",
    )


def kick_velocity(quat_wxyz: np.ndarray, speed_mps: float, angle_rad: float) -> np.ndarray:
    """(2,) world-frame velocity [m/s] of a kick of ``speed_mps`` in direction trunk yaw (from the
    trunk quaternion ``quat_wxyz``) + ``angle_rad`` [rad]."""
    y = float(trunk_yaw(quat_wxyz)) + angle_rad
    return speed_mps * np.array([math.cos(y), math.sin(y)])


def world_force_limits(envs) -> np.ndarray:
    """(N, nu) |upper actuator force limit| [N·m] of every world's model (domain randomisation applied)."""
    return np.stack([np.abs(np.array(m.actuator_forcerange[:, 1], np.float64)) for m in envs.world_models()])


class _BatchHooks:
    """``on_step`` of :func:`evaluation.episode.run_episodes` for one batch: kicks and recorders."""

    def __init__(self, chunk: Sequence[PlannedEpisode]):
        self.chunk = chunk
        self.kicks: Dict[int, Kick] = {j: e.kick for j, e in enumerate(chunk) if e.kick is not None}
        self.applied: Dict[int, np.ndarray] = {}
        self.record = [j for j, e in enumerate(chunk) if e.record_steps]
        self.rows: Dict[int, List[Tuple[np.ndarray, np.ndarray, np.ndarray]]] = {j: [] for j in self.record}
        self.force_limit: Optional[np.ndarray] = None

    def __call__(self, envs, k: int, stepped: np.ndarray, running: np.ndarray) -> None:
        if self.record:
            if k == 0:  # the reset drew this episode's domain randomisation
                self.force_limit = world_force_limits(envs)
            qpos, qvel, sd = envs.qpos, envs.qvel, envs.sensordata
            for j in self.record:
                if stepped[j]:
                    self.rows[j].append((qpos[j], qvel[j], sd[j]))
        kicked = [j for j, kick in self.kicks.items() if kick.step == k and running[j]]
        if kicked:
            qpos = envs.qpos
            v = np.zeros((len(kicked), 2))
            for r, j in enumerate(kicked):  # one world at a time, as the single env computes it
                v[r] = kick_velocity(qpos[j, 3:7], self.kicks[j].speed_mps, self.kicks[j].angle_rad)
                self.applied[j] = v[r]
            envs.add_trunk_velocity(np.asarray(kicked), v)

    def result(self, j: int, episode: PlannedEpisode, record: EpisodeRecord) -> EpisodeResult:
        steps = None
        if j in self.rows:
            q, qd, sd = (np.array([r[i] for r in self.rows[j]], np.float64) for i in range(3))
            steps = StepStates(q, qd, sd, self.force_limit[j].copy())
        return EpisodeResult(episode, record, self.applied.get(j), steps)


def batches(plan: Sequence[PlannedEpisode], max_batch: int = MAX_BATCH) -> List[List[int]]:
    """Indices into ``plan`` of each batch of worlds: episodes with the same configs, controller
    and step count, in plan order, in chunks of at most ``max_batch``. Pure."""
    groups: Dict[Any, List[int]] = {}
    for i, e in enumerate(plan):
        groups.setdefault((e.configs, e.controller, int(e.n_steps)), []).append(i)
    out = []
    for idx in groups.values():
        out += [idx[a : a + int(max_batch)] for a in range(0, len(idx), int(max_batch))]
    return out


def run_plan(
    plan: Sequence[PlannedEpisode],
    controllers: Mapping[str, Controller],
    seed: int,
    threads: Optional[int] = None,
    max_batch: int = MAX_BATCH,
    on_batch: Optional[Callable[[List[EpisodeResult]], None]] = None,
) -> List[EpisodeResult]:
    """Run every planned episode; returns their results in plan order.

    Args:
      plan: the episodes (:class:`PlannedEpisode`).
      controllers: controller name -> obs -> action function (``evaluation.episode.Controller``).
      seed: base seed of the reset keys: episode ``index`` is reset with ``episode_key(seed, index)``.
      threads: physics threads of the batched back end (None: every core); results do not depend on it.
      max_batch: most worlds per batch (:func:`batches`).
      on_batch: optional ``callable(list of EpisodeResult)``, called with each batch's results as
        soon as it finishes (progress, episode records).
    """
    results: List[Optional[EpisodeResult]] = [None] * len(plan)
    chunks = batches(plan, max_batch)
    sizes: Dict[Any, int] = {}  # one vector env per (configs, batch size): the group's first chunk's size
    for idx in chunks:
        first = plan[idx[0]]
        key = (first.configs, first.controller, int(first.n_steps))
        size = sizes.setdefault(key, len(idx))
        envs = cached_vector_env(first.configs, size, threads)
        chunk = [plan[i] for i in idx]
        hooks = _BatchHooks(chunk)
        levels = [e.level for e in chunk]
        suite = envs.ctx.suite is not None
        commands = [e.command for e in chunk]
        records = run_episodes(
            envs,
            controllers[first.controller],
            first.n_steps,
            episode_keys(seed, [e.index for e in chunk]),
            None if all(lv is None for lv in levels) else levels,
            [e.terrain_type for e in chunk] if suite else None,
            None if all(c is None for c in commands) else commands,
            on_step=hooks if (hooks.kicks or hooks.record) else None,
        )
        done = [hooks.result(j, e, r) for j, (e, r) in enumerate(zip(chunk, records))]
        for i, res in zip(idx, done):
            results[i] = res
        if on_batch is not None:
            on_batch(done)
    return results  # type: ignore[return-value]


def regroup(results: Sequence[EpisodeResult]) -> Dict[Hashable, List[EpisodeResult]]:
    """``results`` per ``episode.group``, groups in order of first appearance, each in result order. Pure."""
    out: Dict[Hashable, List[EpisodeResult]] = {}
    for r in results:
        out.setdefault(r.episode.group, []).append(r)
    return out

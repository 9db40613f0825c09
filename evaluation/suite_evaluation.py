"""Evaluate an exported residual policy against the nominal gait on flat/rough ground and the terrain suite (C MuJoCo).

Usage::

    python -m evaluation.evaluate --policy RUN_DIR_OR_EXPORT [--episodes 32] [--duration 20]
                                [--out DIR] [--worlds flat rough suite] [--band 0 1 2 3 4 5]
                                [--levels 0 .. 7] [--types rough stairs_up ...]
                                [--terrain-seed S] [--seed 0] [--command VX VY YAW]
                                [--action-scale 1] [--physics-threads T]
    python -m evaluation.evaluate --no-residual ...     # the nominal gait alone, no policy

Every controller (the policy, and the nominal gait = the same env with a zero action) runs the
same episodes: episode i is reset with :func:`evaluation.episode.episode_key` ``(seed, i)`` (same
command, spawn, heading, joint noise, gait phase), on the rough world in band
``bands[i % len(bands)]`` (default: all bands 0..5, 0 = flat .. 5 = 10 cm relief), on the suite
on tile ``tiles[i % len(tiles)]`` of the (level, type) grid (``suite_tiles``: every selected
level x type, level-major), with ``--episodes`` episodes *per tile* there. Episodes end at
``--duration``, when the env terminates them (fall; NaN physics counts as a fall) or when the
env truncates them because the robot left the map (off terrain: not a fall).

Every mode plans its episodes and runs them through :mod:`evaluation.runner`: the episodes of
one controller on one world run as one batch, the worlds of a
``mjx_envs.vector_env.ResidualWalkVectorEnv`` (batched C MuJoCo, ``mujoco.rollout`` on
``--physics-threads`` threads; ``--processes`` is its deprecated name),
:func:`evaluation.episode.run_episodes`, which gives each episode the record
:func:`evaluation.episode.run_episode` gives it on the single env.

The suite is evaluated on terrain seed ``--terrain-seed`` (default
:data:`SUITE_EVAL_TERRAIN_SEED` = 1000, a held-out seed: training uses 0); on the rough world
``--terrain-seed`` replaces the config's seed.

Writes ``evaluation.json``, ``evaluation.md`` (tables), ``distance_per_episode.png`` and
``forward_speed.png`` to ``--out`` (default ``RUN_DIR/evaluation``, or ``runs/evaluation/`` without a run), and for
the suite a per-tile table per controller, the tiles where the nominal gait succeeds in < 50 %
of the episodes, and the heat map ``suite_success.png``. Metric definitions:
:mod:`evaluation.episode_metrics`, ``docs/playback.md``. ``--out`` is checked writable before
anything runs, and each batch of finished episodes is appended to ``evaluation.episodes.jsonl``
(per mode: ``<mode file>.episodes.jsonl``) as it finishes (:mod:`evaluation.episode_records`).

``--mode`` picks what runs: ``episodes`` (default; the above), ``command_grid``, ``push``,
``stand`` (:mod:`evaluation.command_eval`: tracking error over a grid of fixed commands, recovery
from velocity kicks, drift at zero command; flat world unless ``--mode-world rough``) or ``all``::

    python -m evaluation.evaluate --policy RUN --mode command_grid [--grid-vx ..] [--grid-yaw ..] [--grid-vy ..]
                                [--grid-duration 6] [--settle 1]
    python -m evaluation.evaluate --policy RUN --mode push [--kicks 0 0.5 1 1.5 2] [--push-episodes 8]
                                [--push-duration 5] [--kick-time 2] [--push-command 0.4 0 0]
    python -m evaluation.evaluate --no-residual --mode stand [--stand-episodes 8] [--stand-duration 10]
    python -m evaluation.evaluate --policy RUN --mode all          # everything into one --out

Importable: :func:`evaluate_policy` returns the report dict (tests, benchmarks). The command
line lives in :mod:`evaluation.evaluate`, the suite's tables in :mod:`evaluation.suite_tables`.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from deploy.policy_loader import load_policy
from evaluation import command_eval
from evaluation.episode import EpisodeRecord, policy_controller, zero_action
from evaluation.episode_metrics import aggregate, gravity, robot_mass, summarize_episode
from evaluation.evaluation_report import METRIC_DEFINITIONS
from evaluation.runner import (
    MAX_BATCH,
    NOMINAL,
    POLICY,
    PlannedEpisode,
    default_threads,
    physics_threads,
    regroup,
    run_plan,
)
from evaluation.suite_tables import (
    ALL_TYPES,
    GAIT_FAILS_BELOW,
    gait_failures,
    gait_stalls,
    suite_levels,
    suite_tiles,
    tile_table,
)
from mjx_envs.policy_env import (
    EnvConfigs,
    cached_env,
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    meta_path,
    with_world,
)
from model import terrain

WORLDS = ("flat", "rough", "suite")
ALL_BANDS = tuple(range(terrain.DEFAULT_TERRAIN.num_bands))
MODES = ("episodes",) + command_eval.MODES + ("all",)
"""``--mode`` choices: ``all`` = episodes + command_grid + push + stand."""
SUITE_EVAL_TERRAIN_SEED = 1000
"""Terrain seed of the suite evaluation unless ``--terrain-seed`` is given: held out (training uses 0)."""
JAX_CACHE_DIR = ".jax_cache"
"""The CLI's persistent XLA compilation cache (relative to the repo root; ``JAX_COMPILATION_CACHE_DIR``
wins), as training's ``run.jax_cache_dir``: each world's batched episode logic compiles once."""

__all__ = [
    "ALL_BANDS",
    "ALL_TYPES",
    "GAIT_FAILS_BELOW",
    "JAX_CACHE_DIR",
    "MAX_BATCH",
    "MODES",
    "NOMINAL",
    "POLICY",
    "SUITE_EVAL_TERRAIN_SEED",
    "WORLDS",
    "EpisodeTask",
    "default_threads",
    "episode_plan",
    "episode_tasks",
    "evaluate_policy",
    "gait_failures",
    "gait_stalls",
    "suite_levels",
    "suite_tiles",
    "tile_table",
    "world_configs",
]


@dataclasses.dataclass(frozen=True)
class EpisodeTask:
    """One episode to run: controller name, world, episode index (-> reset key), spawn band (rough)
    or level (suite) and terrain type index (suite)."""

    controller: str
    world: str
    index: int
    level: Optional[int]
    terrain_type: Optional[int] = None


def episode_tasks(
    controllers: Sequence[str],
    worlds: Sequence[str],
    episodes: int,
    bands: Sequence[int] = ALL_BANDS,
    tiles: Optional[Sequence[Tuple[int, int]]] = None,
) -> List[EpisodeTask]:
    """All (controller, world, episode) tasks, world-major.

    Rough-world episode i spawns in ``bands[i % len(bands)]``; on the suite there are
    ``episodes * len(tiles)`` episodes and episode i runs on ``tiles[i % len(tiles)]`` = (level,
    type index) (default tiles: the whole grid). Flat: ``episodes`` episodes.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if not bands:
        raise ValueError("bands must name at least one band")
    if tiles is None:
        tiles = suite_tiles(suite_levels(), ALL_TYPES)
    if not tiles:
        raise ValueError("the suite needs at least one (level, type) tile")
    out = []
    for w in worlds:
        for c in controllers:
            if w == "suite":
                out += [EpisodeTask(c, w, i, *tiles[i % len(tiles)]) for i in range(episodes * len(tiles))]
            else:
                out += [
                    EpisodeTask(c, w, i, int(bands[i % len(bands)]) if w == "rough" else None) for i in range(episodes)
                ]
    return out


def world_configs(configs: EnvConfigs, world: str, suite_terrain_seed: int = SUITE_EVAL_TERRAIN_SEED) -> EnvConfigs:
    """``configs`` on ``world``; the suite on ``suite_terrain_seed``, flat/rough keep the configs' seed."""
    return with_world(configs, world, suite_terrain_seed if world == "suite" else None)


def episode_plan(
    tasks: Sequence[EpisodeTask],
    configs: EnvConfigs,
    n_steps: int,
    command: Optional[Sequence[float]] = None,
    suite_terrain_seed: int = SUITE_EVAL_TERRAIN_SEED,
) -> List[PlannedEpisode]:
    """``tasks`` as :class:`evaluation.runner.PlannedEpisode` entries grouped by (controller,
    world), on :func:`world_configs`, each ``n_steps`` long with ``command`` held (None: drawn)."""
    worlds = {t.world: world_configs(configs, t.world, suite_terrain_seed) for t in tasks}
    cmd = None if command is None else tuple(float(c) for c in command)
    return [
        PlannedEpisode(
            (t.controller, t.world),
            worlds[t.world],
            t.controller,
            t.index,
            int(n_steps),
            level=t.level,
            terrain_type=t.terrain_type,
            command=cmd,
            case=t,
        )
        for t in tasks
    ]


default_processes = default_threads  # the name it had when the flag was --processes


def _check_suite(levels: Optional[Sequence[int]], types: Optional[Sequence[str]]) -> Tuple[List[int], List[str]]:
    all_levels = suite_levels()
    levels = list(all_levels) if levels is None else [int(lv) for lv in levels]
    types = list(ALL_TYPES) if types is None else [str(t) for t in types]
    for lv in levels:
        if lv not in all_levels:
            raise ValueError(f"suite level {lv} out of range 0..{len(all_levels) - 1}")
    for t in types:
        if t not in ALL_TYPES:
            raise ValueError(f"unknown terrain type {t!r}: valid types are {', '.join(ALL_TYPES)}")
    if len(set(levels)) != len(levels) or len(set(types)) != len(types):
        raise ValueError(f"suite levels / types must not repeat: {levels} / {types}")
    return levels, types


def evaluate_policy(
    policy: Any = None,
    *,
    configs: Optional[EnvConfigs] = None,
    episodes: int = 32,
    duration: float = 20.0,
    worlds: Sequence[str] = ("flat", "rough"),
    bands: Sequence[int] = ALL_BANDS,
    levels: Optional[Sequence[int]] = None,
    types: Optional[Sequence[str]] = None,
    suite_terrain_seed: int = SUITE_EVAL_TERRAIN_SEED,
    seed: int = 0,
    command: Optional[Sequence[float]] = None,
    action_scale: float = 1.0,
    include_nominal: bool = True,
    threads: Optional[int] = None,
    keep_records: bool = False,
    progress=None,
    on_episodes=None,
    processes: Optional[int] = None,
) -> Dict[str, Any]:
    """Run the evaluation episodes and return the report (what ``evaluation.json`` holds).

    Args:
      policy: a loaded export (``train.export.ExportedPolicy``), an export path, or None to
        evaluate the nominal gait alone.
      configs: env configs (default: the export's ``meta["config"]``, else ``configs/*.yaml``);
        the world is replaced by each entry of ``worlds`` (``flat``, ``rough``, ``suite``).
      episodes: episodes per world and controller (suite: per tile and controller);
        duration: episode length [s].
      bands: rough-world spawn bands, used round-robin over the episodes.
      levels, types: suite tiles to evaluate (default: all levels, all ``TERRAIN_TYPES``); episode
        i runs on ``suite_tiles(levels, types)[i % n_tiles]``.
      suite_terrain_seed: terrain seed of the suite (default 1000, held out from training).
      seed: base seed of the reset keys (:func:`evaluation.episode.episode_key`).
      command: (vx, vy, yaw rate) for every episode; None keeps the env's sampled command.
      action_scale: multiplies the policy's action.
      include_nominal: also run the nominal gait (zero residual) when a policy is given.
      threads: physics threads of the batched back end (``mujoco.rollout``; default 1); the
        numbers do not depend on it. ``processes``: its deprecated name. The episodes run through
        :func:`evaluation.runner.run_plan` (:func:`episode_plan`), in this process.
      keep_records: also return the :class:`~evaluation.episode.EpisodeRecord` of every episode
        under ``report["records"][controller][world]`` (not JSON-serialisable).
      progress: optional ``callable(str)`` for progress lines.
      on_episodes: optional ``callable(list of dict)``, called with the per-episode numbers (what
        ``results[c][w]["episodes"]`` holds) of each batch of worlds as soon as it finishes
        (``evaluation.episode_records.EpisodeRecords.append``).

    Returns:
      ``{"settings", "results": {controller: {world: {"summary", "episodes"}}}, "traces":
      {controller: {world: [forward velocity (N,) per episode]}}, "definitions", "mass_kg",
      "gravity_mps2", "control_dt", "wall_time_s", "device"}`` (+ ``records``). With the suite:
      ``results[controller]["suite"]["tiles"]`` (one aggregate per tile, see :func:`tile_table`),
      ``settings["suite"]`` and ``suite_gait_failures`` (:func:`gait_failures`; None without
      the nominal gait).
    """
    t0 = time.perf_counter()
    threads = physics_threads(threads, processes)
    if isinstance(policy, (str, os.PathLike)):
        policy = load_policy(os.fspath(policy))
    if configs is None:
        configs = configs_from_meta(policy.meta, meta_path(policy)) if policy is not None else default_configs()
    worlds = list(worlds)
    if not worlds:
        raise ValueError("worlds must name at least one of flat, rough, suite")
    for w in worlds:
        if w not in WORLDS:
            raise ValueError(f"unknown world {w!r}: use flat, rough and/or suite")
    for b in bands:
        if not 0 <= int(b) < len(ALL_BANDS):
            raise ValueError(f"band {b} out of range 0..{len(ALL_BANDS) - 1}")
    levels, types = _check_suite(levels, types)
    tiles = suite_tiles(levels, types)
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    cmd = None if command is None else tuple(float(c) for c in command)
    if cmd is not None and len(cmd) != 3:
        raise ValueError(f"command must be (vx, vy, yaw rate), got {command!r}")
    controllers = ([POLICY] if policy is not None else []) + ([NOMINAL] if include_nominal or policy is None else [])

    # check compatibility once, here, before anything runs (clear error, exit status 2 on the CLI)
    probe = cached_env(world_configs(configs, worlds[0], suite_terrain_seed))
    if policy is not None:
        check_policy_matches_env(policy.meta, probe, meta_path(policy))
    mass, g, dt = robot_mass(probe), gravity(probe), float(probe.ctx.sim.control_dt)

    tasks = episode_tasks(controllers, worlds, episodes, bands, tiles)
    plan = episode_plan(tasks, configs, int(round(duration / dt)), cmd, suite_terrain_seed)
    ctrl = {NOMINAL: zero_action(probe.action_space.shape[0])}
    if policy is not None:
        ctrl[POLICY] = policy_controller(policy, action_scale)
    summaries: Dict[int, Dict[str, Any]] = {}  # id of a result -> its numbers

    def finished(batch):
        done = []
        for r in batch:
            t = r.episode.case
            summary = summarize_episode(r.record, mass, g)
            summary.update(episode=t.index, world=t.world, controller=t.controller)
            summaries[id(r)] = summary
            done.append(summary)
        if on_episodes:
            on_episodes(done)
        if progress:
            progress(f"  {len(summaries)}/{len(plan)} episodes done")

    groups = regroup(run_plan(plan, ctrl, seed, threads, on_batch=finished))
    results: Dict[str, Dict[str, Any]] = {}
    traces: Dict[str, Dict[str, List[np.ndarray]]] = {}
    records: Dict[str, Dict[str, List[EpisodeRecord]]] = {}
    for c in controllers:
        for w in worlds:
            group = groups[(c, w)]
            eps = [summaries[id(r)] for r in group]
            results.setdefault(c, {})[w] = {"summary": aggregate(eps), "episodes": eps}
            traces.setdefault(c, {})[w] = [r.record.metric("forward_velocity") for r in group]
            if keep_records:
                records.setdefault(c, {})[w] = [r.record for r in group]
    for per in results.values():
        if "suite" in per:
            per["suite"]["tiles"] = tile_table(per["suite"]["episodes"], levels, types)
    env_cfg = configs.env
    settings = {
        "policy": getattr(policy, "export_dir", None),
        "action_scale": float(action_scale),
        "episodes": int(episodes),
        "duration_s": float(duration),
        "worlds": list(worlds),
        "bands": [int(b) for b in bands],
        "seed": int(seed),
        "command": None if cmd is None else list(cmd),
        "command_ranges": {
            "vx": list(env_cfg.command.vx),
            "vy": list(env_cfg.command.vy),
            "yaw_rate": list(env_cfg.command.yaw_rate),
            "heading_noise": float(env_cfg.randomization.heading_noise),
        },
        "physics_threads": threads,
        "terrain_seed": configs.simulation.terrain_seed,
        "command_line": "",
    }
    report = {"settings": settings}
    if "suite" in worlds:
        trained = configs.simulation.terrain_seed if configs.simulation.world == "suite" else None
        settings["suite"] = {
            "levels": levels,
            "types": types,
            "tiles": len(tiles),
            "episodes_per_tile": int(episodes),
            "terrain_seed": int(suite_terrain_seed),
            "config_terrain_seed": trained,
            "gait_fails_below": GAIT_FAILS_BELOW,
            "tile_order": "episode i runs on tile j = i mod (number of tiles), level-major: "
            "(level, type) = (levels[j // len(types)], types[j % len(types)])",
        }
        nominal_tiles = results[NOMINAL]["suite"]["tiles"] if NOMINAL in results else None
        report["suite_gait_failures"] = None if nominal_tiles is None else gait_failures(nominal_tiles)
        report["suite_gait_stalls"] = None if nominal_tiles is None else gait_stalls(nominal_tiles)
    report.update(
        {
            "results": results,
            "traces": traces,
            "definitions": METRIC_DEFINITIONS,
            "mass_kg": mass,
            "gravity_mps2": g,
            "control_dt": dt,
            "wall_time_s": time.perf_counter() - t0,
            "device": f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.platform()})",
        }
    )
    if keep_records:
        report["records"] = records
    return report

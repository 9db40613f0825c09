"""Evaluate an exported residual policy against the nominal gait on flat/rough ground and the terrain suite (C MuJoCo).

Usage::

    python -m evaluation.evaluate --policy RUN_DIR_OR_EXPORT [--episodes 32] [--duration 20]
                                [--out DIR] [--worlds flat rough suite] [--band 0 1 2 3 4 5]
                                [--levels 0 .. 7] [--types rough stairs_up ...]
                                [--terrain-seed S] [--seed 0] [--command VX VY YAW]
                                [--action-scale 1] [--processes P]
    python -m evaluation.evaluate --no-residual ...     # the nominal gait alone, no policy

Every controller (the policy, and the nominal gait = the same env with a zero action) runs the
same episodes: episode i is reset with :func:`evaluation.episode.episode_key` ``(seed, i)`` (same
command, spawn, heading, joint noise, gait phase), on the rough world in band
``bands[i % len(bands)]`` (default: all bands 0..5, 0 = flat .. 5 = 10 cm relief), on the suite
on tile ``tiles[i % len(tiles)]`` of the (level, type) grid (``suite_tiles``: every selected
level x type, level-major), with ``--episodes`` episodes *per tile* there. Episodes end at
``--duration``, when the env terminates them (fall; NaN physics counts as a fall) or when the
env truncates them because the robot left the map (off terrain: not a fall).

The episodes of one controller on one world run as one batch: the worlds of a
``mjx_envs.vector_env.ResidualWalkVectorEnv`` (batched C MuJoCo, ``mujoco.rollout`` on
``--processes`` threads), :func:`evaluation.episode.run_episodes`, which gives each episode the
record :func:`evaluation.episode.run_episode` gives it on the single env.

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

Importable: :func:`evaluate_policy` returns the report dict (tests, benchmarks).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sys
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from model import terrain
from model.yaml_config import ConfigError
from evaluation import command_eval
from evaluation.episode import EpisodeRecord, episode_keys, policy_controller, run_episodes, zero_action
from evaluation.episode_metrics import aggregate, gravity, robot_mass, summarize_episode
from evaluation.episode_records import EpisodeRecords, output_dir, records_path, with_records
from evaluation.evaluation_report import METRIC_DEFINITIONS, write_report
from train.export import ExportError, load_policy
from mjx_envs.policy_env import (
    EnvConfigs,
    cached_env,
    cached_vector_env,
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    meta_path,
    with_world,
)

POLICY, NOMINAL = "policy", "nominal"
WORLDS = ("flat", "rough", "suite")
ALL_BANDS = tuple(range(terrain.DEFAULT_TERRAIN.num_bands))
ALL_TYPES = tuple(terrain.TERRAIN_TYPES)
MODES = ("episodes",) + command_eval.MODES + ("all",)
"""``--mode`` choices: ``all`` = episodes + command_grid + push + stand."""
SUITE_EVAL_TERRAIN_SEED = 1000
"""Terrain seed of the suite evaluation unless ``--terrain-seed`` is given: held out (training uses 0)."""
JAX_CACHE_DIR = ".jax_cache"
"""The CLI's persistent XLA compilation cache (relative to the repo root; ``JAX_COMPILATION_CACHE_DIR``
wins), as training's ``run.jax_cache_dir``: each world's batched episode logic compiles once."""
MAX_BATCH = 256
"""Most worlds stepped together; larger groups (the suite: episodes x tiles) run in chunks of this size."""
GAIT_FAILS_BELOW = 0.5
"""A suite tile is listed under "where the gait fails" when the nominal gait's success rate is below this."""


def suite_levels() -> Tuple[int, ...]:
    """All difficulty levels of the suite (``configs/terrain.yaml``: 0..7)."""
    return tuple(range(terrain.default_suite_spec().num_levels))


def suite_tiles(levels: Sequence[int], types: Sequence[str]) -> List[Tuple[int, int]]:
    """(level, type index) of every evaluated suite tile, level-major: episode i runs on ``tiles[i % len]``."""
    return [(int(lv), ALL_TYPES.index(t)) for lv in levels for t in types]


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
    """All (controller, world, episode) tasks.

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


def _env_for(configs: EnvConfigs):
    return cached_env(configs)


def iter_tasks(
    tasks: Sequence[EpisodeTask],
    configs: EnvConfigs,
    controller,
    n_steps: int,
    seed: int,
    command: Optional[Sequence[float]] = None,
    nthread: Optional[int] = None,
    max_batch: int = MAX_BATCH,
) -> Iterator[Tuple[List[EpisodeTask], List[EpisodeRecord]]]:
    """``(chunk of tasks, their records)`` as each batch of worlds finishes: ``tasks`` (one controller,
    one world: ``configs``) run as one batch of worlds (:func:`evaluation.episode.run_episodes` on a
    ``ResidualWalkVectorEnv``), in chunks of at most ``max_batch`` worlds (the last one padded)."""
    if not tasks:
        return
    batch = min(len(tasks), int(max_batch))
    envs = cached_vector_env(configs, batch, nthread)
    suite = envs.ctx.suite is not None
    for a in range(0, len(tasks), batch):
        chunk = list(tasks[a : a + batch])
        levels = [t.level for t in chunk]
        yield (
            chunk,
            run_episodes(
                envs,
                controller,
                n_steps,
                episode_keys(seed, [t.index for t in chunk]),
                None if all(lv is None for lv in levels) else levels,
                [t.terrain_type for t in chunk] if suite else None,
                None if command is None else [command] * len(chunk),
            ),
        )


def run_tasks(
    tasks: Sequence[EpisodeTask],
    configs: EnvConfigs,
    controller,
    n_steps: int,
    seed: int,
    command: Optional[Sequence[float]] = None,
    nthread: Optional[int] = None,
    max_batch: int = MAX_BATCH,
) -> List[EpisodeRecord]:
    """Records of ``tasks`` in their order (:func:`iter_tasks`, all chunks)."""
    return [
        r
        for _, recs in iter_tasks(tasks, configs, controller, n_steps, seed, command, nthread, max_batch)
        for r in recs
    ]


def default_processes() -> int:
    """min(CPU count, 4)."""
    return max(1, min(os.cpu_count() or 1, 4))


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
    processes: int = 1,
    keep_records: bool = False,
    progress=None,
    on_episodes=None,
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
      processes: physics threads of the batched back end (``mujoco.rollout``); the numbers do
        not depend on it. The episodes of one controller on one world run as one batch of worlds
        (:func:`run_tasks`), in this process.
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
    tiles = suite_tiles(levels, types)
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    cmd = None if command is None else tuple(float(c) for c in command)
    if cmd is not None and len(cmd) != 3:
        raise ValueError(f"command must be (vx, vy, yaw rate), got {command!r}")
    controllers = ([POLICY] if policy is not None else []) + ([NOMINAL] if include_nominal or policy is None else [])

    # check compatibility once, here, before anything runs (clear error, exit status 2 on the CLI)
    probe = _env_for(world_configs(configs, worlds[0], suite_terrain_seed))
    if policy is not None:
        check_policy_matches_env(policy.meta, probe, meta_path(policy))
    mass, g, dt = robot_mass(probe), gravity(probe), float(probe.ctx.sim.control_dt)

    tasks = episode_tasks(controllers, worlds, episodes, bands, tiles)
    n_steps = int(round(duration / dt))

    results_raw = []
    for w in worlds:  # one batch of worlds per (world, controller)
        wc = world_configs(configs, w, suite_terrain_seed)
        for c in controllers:
            group = [t for t in tasks if t.world == w and t.controller == c]
            ctrl = policy_controller(policy, action_scale) if c == POLICY else zero_action(probe.action_space.shape[0])
            for chunk, recs in iter_tasks(group, wc, ctrl, n_steps, seed, cmd, nthread=processes):
                done = []
                for task, rec in zip(chunk, recs):
                    summary = summarize_episode(rec, mass, g)
                    summary.update(episode=task.index, world=task.world, controller=task.controller)
                    results_raw.append((task, summary, rec.metric("forward_velocity"), rec if keep_records else None))
                    done.append(summary)
                if on_episodes:
                    on_episodes(done)
            if progress:
                progress(f"  {len(results_raw)}/{len(tasks)} episodes done")

    results_raw.sort(key=lambda r: (controllers.index(r[0].controller), worlds.index(r[0].world), r[0].index))
    results: Dict[str, Dict[str, Any]] = {}
    traces: Dict[str, Dict[str, List[np.ndarray]]] = {}
    records: Dict[str, Dict[str, List[EpisodeRecord]]] = {}
    for task, summary, trace, rec in results_raw:
        results.setdefault(task.controller, {}).setdefault(task.world, {"episodes": []})["episodes"].append(summary)
        traces.setdefault(task.controller, {}).setdefault(task.world, []).append(trace)
        if rec is not None:
            records.setdefault(task.controller, {}).setdefault(task.world, []).append(rec)
    results = {
        c: {w: {"summary": aggregate(res["episodes"]), "episodes": res["episodes"]} for w, res in per.items()}
        for c, per in results.items()
    }
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
        "processes": int(processes),
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
        report["suite_gait_failures"] = (
            gait_failures(results[NOMINAL]["suite"]["tiles"]) if NOMINAL in results else None
        )
        report["suite_gait_stalls"] = gait_stalls(results[NOMINAL]["suite"]["tiles"]) if NOMINAL in results else None
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


def tile_table(episodes: Sequence[Dict[str, Any]], levels: Sequence[int], types: Sequence[str]) -> List[Dict[str, Any]]:
    """One row per suite tile (level-major): ``terrain_level``, ``terrain_type``, the
    :func:`~evaluation.episode_metrics.aggregate` of its episodes (``success_rate``,
    ``distance_m_mean``, ``vel_tracking_error_mps``, ``falls``, ``off_map``, ...) and
    ``left_tile``: episodes that ended on another tile (or the border / off the map)."""
    rows = []
    for lv in levels:
        for t in types:
            eps = [e for e in episodes if e["terrain_level"] == lv and e["terrain_type"] == t]
            row = {"terrain_level": int(lv), "terrain_type": t, **aggregate(eps)}
            row["left_tile"] = sum(1 for e in eps if (e.get("end_terrain_level"), e.get("end_terrain_type")) != (lv, t))
            rows.append(row)
    return rows


def gait_stalls(tiles: Sequence[Dict[str, Any]], at_least: float = GAIT_FAILS_BELOW) -> List[Dict[str, Any]]:
    """Tiles where at least ``at_least`` of the episodes *stalled* (no fall, < 25 % of the commanded
    forward distance; ``episode_metrics.summarize_episode``): ``[{terrain_type, terrain_level,
    stalled, episodes}]``, sorted by type then level. Complements :func:`gait_failures`."""
    bad = [
        {k: r[k] for k in ("terrain_type", "terrain_level", "stalled", "episodes")}
        for r in tiles
        if r["episodes"] and r["stalled"] / r["episodes"] >= at_least
    ]
    return sorted(bad, key=lambda r: (ALL_TYPES.index(r["terrain_type"]), r["terrain_level"]))


def gait_failures(tiles: Sequence[Dict[str, Any]], below: float = GAIT_FAILS_BELOW) -> List[Dict[str, Any]]:
    """Tiles (rows of :func:`tile_table`) whose success rate is below ``below``: ``[{terrain_type,
    terrain_level, success_rate, falls, episodes}]``, sorted by type then level."""
    bad = [
        {k: r[k] for k in ("terrain_type", "terrain_level", "success_rate", "falls", "episodes")}
        for r in tiles
        if r["success_rate"] is not None and r["success_rate"] < below
    ]
    return sorted(bad, key=lambda r: (ALL_TYPES.index(r["terrain_type"]), r["terrain_level"]))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation.evaluate", description="Evaluate a residual policy vs the nominal gait on C MuJoCo."
    )
    p.add_argument("--policy", help="run directory or export directory (optional with --no-residual)")
    p.add_argument("--no-residual", action="store_true", help="evaluate the nominal gait only")
    p.add_argument(
        "--episodes",
        type=int,
        default=32,
        help="episodes per world and controller; on the suite: per tile and controller (default 32)",
    )
    p.add_argument("--duration", type=float, default=20.0, help="episode length [s] (default 20)")
    p.add_argument("--out", default=None, help="output directory (default RUN_DIR/evaluation, or runs/evaluation without a run)")
    p.add_argument(
        "--worlds",
        nargs="+",
        choices=WORLDS,
        default=["flat", "rough"],
        help="worlds to evaluate (default: flat rough; suite = the terrain-suite grid)",
    )
    p.add_argument(
        "--band",
        nargs="+",
        type=int,
        default=list(ALL_BANDS),
        help="rough-world spawn band(s), used round-robin over the episodes (default: all 0..5)",
    )
    p.add_argument(
        "--levels",
        nargs="+",
        type=int,
        default=None,
        help=f"suite: difficulty levels to evaluate (default: all 0..{len(suite_levels()) - 1})",
    )
    p.add_argument(
        "--types",
        nargs="+",
        default=None,
        metavar="TYPE",
        help=f"suite: terrain types to evaluate (default: all: {' '.join(ALL_TYPES)})",
    )
    p.add_argument(
        "--terrain-seed",
        type=int,
        default=None,
        help=f"terrain seed: the rough world's heightfield (default: the config's) and the suite's tiles "
        f"(default {SUITE_EVAL_TERRAIN_SEED}, held out: training uses 0)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes' reset keys")
    p.add_argument(
        "--command",
        nargs=3,
        type=float,
        default=None,
        metavar=("VX", "VY", "YAW"),
        help="fixed command (m/s, m/s, rad/s); default: the env's sampled command per episode",
    )
    p.add_argument("--action-scale", type=float, default=1.0, help="multiplies the policy's action")
    p.add_argument("--no-nominal", action="store_true", help="skip the nominal-gait baseline")
    p.add_argument(
        "--processes",
        type=int,
        default=default_processes(),
        help=f"episodes mode: physics threads of the batched worlds; command_grid / push / stand: "
        f"worker processes (default min(cpu_count, 4) = {default_processes()})",
    )
    m = p.add_argument_group("modes", "--mode command_grid / push / stand / all (evaluation.command_eval)")
    m.add_argument(
        "--mode",
        choices=MODES,
        default="episodes",
        help="episodes (default: the per-world evaluation above), command_grid, push, stand, or all",
    )
    m.add_argument(
        "--mode-world",
        choices=command_eval.MODE_WORLDS,
        default="flat",
        help="world of the command_grid / push / stand tests (default flat; rough: spawn bands --band)",
    )
    m.add_argument(
        "--grid-vx",
        nargs="*",
        type=float,
        default=list(command_eval.GRID_VX),
        metavar="VX",
        help="command grid: vx values [m/s] (default %(default)s)",
    )
    m.add_argument(
        "--grid-yaw",
        nargs="*",
        type=float,
        default=list(command_eval.GRID_YAW_RATE),
        metavar="YAW",
        help="command grid: yaw-rate values [rad/s] of the vx x yaw grid (default %(default)s)",
    )
    m.add_argument(
        "--grid-vy",
        nargs="*",
        type=float,
        default=list(command_eval.GRID_VY),
        metavar="VY",
        help="command grid: vy values [m/s] of the vx x vy grid (default %(default)s)",
    )
    m.add_argument("--grid-duration", type=float, default=6.0, help="command grid: episode length [s] (default 6)")
    m.add_argument(
        "--settle",
        type=float,
        default=1.0,
        help="command grid: errors are averaged over the steps after this time [s] (default 1)",
    )
    m.add_argument(
        "--kicks",
        nargs="*",
        type=float,
        default=list(command_eval.KICK_SIZES),
        metavar="V",
        help="push: kick sizes [m/s] (default %(default)s)",
    )
    m.add_argument("--push-episodes", type=int, default=8, help="push: episodes (directions) per kick size (default 8)")
    m.add_argument("--push-duration", type=float, default=5.0, help="push: episode length [s] (default 5)")
    m.add_argument("--kick-time", type=float, default=2.0, help="push: time of the kick [s] (default 2)")
    m.add_argument(
        "--push-command",
        nargs=3,
        type=float,
        default=list(command_eval.PUSH_COMMAND),
        metavar=("VX", "VY", "YAW"),
        help="push: command (m/s, m/s, rad/s) (default 0.4 0 0)",
    )
    m.add_argument("--stand-episodes", type=int, default=8, help="stand: episodes (default 8)")
    m.add_argument("--stand-duration", type=float, default=10.0, help="stand: episode length [s] (default 10)")
    return p


def mode_specs(args: argparse.Namespace, modes: Sequence[str]) -> Dict[str, Any]:
    """The validated settings of the command_grid / push / stand tests among ``modes`` (ValueError)."""
    specs: Dict[str, Any] = {}
    if "command_grid" in modes:
        specs["command_grid"] = command_eval.CommandGrid(
            vx=args.grid_vx,
            yaw_rate=args.grid_yaw,
            vy=args.grid_vy,
            duration_s=args.grid_duration,
            settle_s=args.settle,
        )
    if "push" in modes:
        specs["push"] = command_eval.PushTest(
            kicks_mps=args.kicks,
            episodes=args.push_episodes,
            duration_s=args.push_duration,
            kick_time_s=args.kick_time,
            command=args.push_command,
        )
    if "stand" in modes:
        specs["stand"] = command_eval.StandTest(episodes=args.stand_episodes, duration_s=args.stand_duration)
    return specs


def _default_out(policy_arg: Optional[str]) -> str:
    if policy_arg and os.path.isdir(policy_arg) and os.path.basename(os.path.normpath(policy_arg)) != "export":
        return os.path.join(policy_arg, "evaluation")
    if policy_arg and os.path.isdir(policy_arg):
        return os.path.join(os.path.dirname(os.path.normpath(policy_arg)), "evaluation")
    return os.path.join("runs", "evaluation")


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns the exit status (2: missing/incompatible policy, bad arguments, an unwritable
    ``--out``, or the report could not be written: the message then names the episode records file)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from train.run_dir import setup_jax_cache

    setup_jax_cache(JAX_CACHE_DIR)  # the batched logic compiles in ~10-20 s per world; a re-run loads it
    if args.policy is None and not args.no_residual:
        parser.print_usage(sys.stderr)
        print(
            "error: --policy RUN_DIR_OR_EXPORT is required (or --no-residual for the nominal gait alone)",
            file=sys.stderr,
        )
        return 2
    modes = MODES[:-1] if args.mode == "all" else (args.mode,)
    command_line = "python -m evaluation.evaluate " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    records: Optional[EpisodeRecords] = None
    try:
        specs = mode_specs(args, modes)  # every mode's settings checked before anything runs
        with output_dir(args.out or _default_out(args.policy), "--out") as out:
            policy = load_policy(args.policy) if args.policy is not None else None
            configs = configs_from_meta(policy.meta, meta_path(policy)) if policy is not None else default_configs()
            configs = with_world(configs, terrain_seed=args.terrain_seed)
            if args.no_residual:
                policy = None
            if "episodes" in modes:
                records = EpisodeRecords(records_path(out, "evaluation"))
                suite_seed = SUITE_EVAL_TERRAIN_SEED if args.terrain_seed is None else args.terrain_seed
                report = evaluate_policy(
                    policy,
                    configs=configs,
                    episodes=args.episodes,
                    duration=args.duration,
                    worlds=args.worlds,
                    bands=args.band,
                    levels=args.levels,
                    types=args.types,
                    suite_terrain_seed=suite_seed,
                    seed=args.seed,
                    command=args.command,
                    action_scale=args.action_scale,
                    include_nominal=not args.no_nominal,
                    processes=args.processes,
                    progress=print,
                    on_episodes=records.append,
                )
                report["settings"]["command_line"] = command_line
                _write_episodes_report(report, out)
            for mode, spec in specs.items():
                print(f"{mode}:")
                records = EpisodeRecords(records_path(out, command_eval.FILE_STEMS[mode]))
                rep = command_eval.RUNNERS[mode](
                    policy,
                    spec,
                    configs=configs,
                    world=args.mode_world,
                    bands=args.band,
                    seed=args.seed,
                    action_scale=args.action_scale,
                    include_nominal=not args.no_nominal,
                    processes=args.processes,
                    progress=print,
                    on_episodes=records.append,
                )
                rep["settings"]["command_line"] = command_line
                paths = command_eval.write_mode_report(rep, out)
                print("\n".join(command_eval.summary_lines(rep) + rep["notes"]))
                print("wrote " + ", ".join(paths.values()))
    except (ExportError, ConfigError, ValueError, OSError) as e:
        print(f"error: {with_records(str(e), records)}", file=sys.stderr)
        return 2
    except BaseException:  # a crash or Ctrl-C after some episodes: say where their numbers are
        if records is not None and records.where():
            print(f"note: {records.where()}", file=sys.stderr)
        raise
    return 0


def _write_episodes_report(report: Dict[str, Any], out: str) -> None:
    """Write the episodes-mode files and print the main table and the suite's findings."""
    paths = write_report(report, out)
    with open(paths["markdown"], encoding="utf-8") as fh:
        md = fh.read().splitlines()
    first = next(i for i, ln in enumerate(md) if ln.startswith("|"))
    table = md[first : first + next((k for k, ln in enumerate(md[first:]) if not ln.startswith("|")), len(md) - first)]
    print("\n".join(table))  # the main table (the suite's per-tile tables are in evaluation.md)
    if report.get("suite_gait_failures") is not None:
        fails = report["suite_gait_failures"]
        n_tiles = report["settings"]["suite"]["tiles"]
        print(
            f"nominal gait success < {GAIT_FAILS_BELOW:.0%} on {len(fails)} of {n_tiles} "
            "suite tiles"
            + (": " + ", ".join(f"{f['terrain_type']} L{f['terrain_level']}" for f in fails) if fails else "")
        )
        stalls = report["suite_gait_stalls"]
        print(
            f"nominal gait stalls (no fall, < 25 % of the commanded distance) in >= {GAIT_FAILS_BELOW:.0%} of the "
            f"episodes on {len(stalls)} tiles"
            + (": " + ", ".join(f"{f['terrain_type']} L{f['terrain_level']}" for f in stalls) if stalls else "")
        )
    print("wrote " + ", ".join(paths.values()))


if __name__ == "__main__":
    sys.exit(main())

"""Pre-hardware safety report of an exported policy on C MuJoCo, with domain randomisation on.

Usage::

    python -m evaluation.safety_report --policy RUN_DIR_OR_EXPORT [--episodes 8] [--duration 20]
                              [--worlds flat rough suite] [--seed 0] [--thresholds configs/safety.yaml]
                              [--action-scale 1] [--physics-threads T] [--out EXPORT/safety]

Runs ``--episodes`` seeded episodes per world (flat, rough; on request the suite's mid levels) for
the policy and, for reference, for the nominal gait (zero action) on the same episodes, in the
Gymnasium twin built from the export's ``meta.json`` with **every** ``env.domain_randomization``
switch forced on (ranges from the export's config). Each step it reads the physics state and
measures, per controller and world (definitions and units: ``configs/safety.yaml``,
``docs/safety.md``): joint-limit margins, joint speeds, actuator torques vs the episode's
(randomised) torque limits, actuator and IK saturation, foot slip, trunk roll/pitch, falls and NaN
physics. Every criterion is judged against ``configs/safety.yaml``
(:mod:`evaluation.safety_criteria`); the report PASSes only when the policy meets all of them on
every world.

The episodes run batched (:mod:`evaluation.runner`, ``--physics-threads`` threads; ``--processes`` is
its deprecated name); what is measured: :mod:`evaluation.safety_measures`; the Markdown:
:mod:`evaluation.safety_markdown`.

Writes ``safety.md`` and ``safety.json`` to ``--out`` (checked writable before anything runs); the
finished episodes' numbers are appended to ``safety.episodes.jsonl`` there as each batch ends
(:mod:`evaluation.episode_records`). Exit status: 0 PASS, 1 FAIL, 2 bad input (missing/invalid
policy, malformed thresholds YAML, bad arguments, an unwritable ``--out``) or the report could not
be written (the message names the records file).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from deploy.export_format import ExportError, resolve_export_dir
from deploy.policy_loader import load_policy
from evaluation.episode import policy_controller, zero_action
from evaluation.episode_metrics import gravity, robot_mass
from evaluation.episode_records import EpisodeRecords, output_dir, records_path, with_records
from evaluation.runner import (
    NOMINAL,
    POLICY,
    PlannedEpisode,
    add_threads_argument,
    default_threads,
    physics_threads,
    regroup,
    run_plan,
)
from evaluation.safety_criteria import (
    DEFAULT_THRESHOLDS,
    SafetyCriteria,
    check_criteria,
    definitions,
    load_criteria,
    verdict,
)
from evaluation.safety_markdown import markdown, write_report
from evaluation.safety_measures import StepRecorder, aggregate_safety, episode_safety, with_domain_randomization
from evaluation.suite_evaluation import SUITE_EVAL_TERRAIN_SEED, world_configs
from mjx_envs.policy_env import (
    EnvConfigs,
    cached_env,
    check_policy_matches_env,
    configs_from_meta,
    meta_path,
)
from model.simulation_config import REPO_ROOT
from model.terrain.suite import TERRAIN_TYPES
from model.yaml_config import ConfigError

WORLDS = ("flat", "rough", "suite")
DEFAULT_WORLDS = ("flat", "rough")
NUM_BANDS = 6
SUITE_LEVELS = (3, 4)
"""The suite's mid levels: suite episode i runs on terrain type i mod 7 at level
``SUITE_LEVELS[(i // 7) mod 2]`` of the held-out terrain seed (the evaluation's)."""

__all__ = [
    "NOMINAL",
    "DEFAULT_WORLDS",
    "NUM_BANDS",
    "SUITE_LEVELS",
    "POLICY",
    "WORLDS",
    "StepRecorder",
    "aggregate_safety",
    "build_parser",
    "episode_safety",
    "main",
    "markdown",
    "run_safety",
    "safety_plan",
    "with_domain_randomization",
    "write_report",
]


# ------------------------------------------------------------------------------------ running


def _level(world: str, i: int) -> Optional[int]:
    if world == "rough":
        return i % NUM_BANDS
    if world == "suite":
        return SUITE_LEVELS[(i // len(TERRAIN_TYPES)) % len(SUITE_LEVELS)]
    return None


def safety_plan(
    configs: EnvConfigs,
    worlds: Sequence[str],
    controllers: Sequence[str],
    episodes: int,
    n_steps: int,
    command: Optional[Tuple[float, float, float]] = None,
) -> List[PlannedEpisode]:
    """The safety episodes, grouped by (controller, world): episode i of every controller on the
    same reset key, rough: in band i mod 6, suite: on type i mod 7 at a mid level
    (:data:`SUITE_LEVELS`) of the held-out terrain seed, ``n_steps`` control steps, the physics state recorded
    after every step (:class:`evaluation.runner.StepStates`)."""
    return [
        PlannedEpisode(
            (c, w),
            world_configs(configs, w),
            c,
            i,
            int(n_steps),
            level=_level(w, i),
            terrain_type=i % len(TERRAIN_TYPES) if w == "suite" else None,
            command=command,
            record_steps=True,
        )
        for w in worlds
        for c in controllers
        for i in range(int(episodes))
    ]


def run_safety(
    policy: Any,
    thresholds: SafetyCriteria,
    *,
    episodes: int = 8,
    duration: float = 20.0,
    worlds: Sequence[str] = DEFAULT_WORLDS,
    seed: int = 0,
    command: Optional[Sequence[float]] = None,
    action_scale: float = 1.0,
    include_nominal: bool = True,
    threads: Optional[int] = None,
    progress=None,
    on_episodes=None,
    processes: Optional[int] = None,
) -> Dict[str, Any]:
    """Run the safety episodes and judge them; returns the report (what ``safety.json`` holds).

    Args:
      policy: a loaded export (``train.export.load_policy``) or an export path.
      thresholds: the pass/fail criteria (:func:`evaluation.safety_criteria.load_criteria`).
      episodes: episodes per world and controller; duration: episode length [s].
      worlds: any of ``flat``, ``rough`` (episode i spawns in band i mod 6) and ``suite``
        (:data:`SUITE_LEVELS`; 14 episodes visit every type at both levels).
      seed: episode i is reset with :func:`evaluation.episode.episode_key` ``(seed, i)``: the same
        command, spawn, joint noise, gait phase and domain-randomisation draw for every controller.
      command: (vx, vy, yaw rate) for every episode; None keeps the env's sampled command.
      action_scale: multiplies the policy's action (the env clips it to [-1, 1]).
      include_nominal: also run the nominal gait (zero action) for reference.
      threads: physics threads of the batched back end (default 1; the numbers do not depend on
        it); ``processes``: its deprecated name. The episodes run through
        :func:`evaluation.runner.run_plan` (:func:`safety_plan`), each world's state recorded
        after every step.
      on_episodes: optional ``callable(list of dict)``: the per-episode numbers (what
        ``results[c][w]["episodes"]`` holds) of each finished batch of worlds, at once
        (``evaluation.episode_records.EpisodeRecords.append``).

    Returns:
      ``{"settings", "thresholds", "results": {controller: {world: {"summary", "criteria",
      "passed", "episodes"}}}, "passed", "definitions", "wall_time_s", "device"}``.
    """
    t0 = time.perf_counter()
    if isinstance(policy, (str, os.PathLike)):
        policy = load_policy(os.fspath(policy))
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    worlds = list(worlds)
    if not worlds or any(w not in WORLDS for w in worlds):
        raise ValueError(f"worlds must be among {', '.join(WORLDS)}, got {worlds}")
    cmd = None if command is None else tuple(float(c) for c in command)
    if cmd is not None and len(cmd) != 3:
        raise ValueError(f"command must be (vx, vy, yaw rate), got {command!r}")
    configs = with_domain_randomization(configs_from_meta(policy.meta, meta_path(policy)))
    probe = cached_env(world_configs(configs, worlds[0]))
    check_policy_matches_env(policy.meta, probe, meta_path(policy))
    controllers = [POLICY] + ([NOMINAL] if include_nominal else [])
    threads = physics_threads(threads, processes)
    plan = safety_plan(configs, worlds, controllers, episodes, int(round(duration / probe.ctx.sim.control_dt)), cmd)
    ctrl = {POLICY: policy_controller(policy, action_scale), NOMINAL: zero_action(probe.action_space.shape[0])}
    near = thresholds.near_limit_margin_rad
    measured: Dict[int, Tuple[Dict[str, Any], Dict[str, np.ndarray]]] = {}  # id of a result -> numbers, samples

    def finished(batch):
        for r in batch:
            e, env = r.episode, cached_env(r.episode.configs)  # the world's single env: its sensor addresses
            numbers, pooled = episode_safety(
                r.record, StepRecorder.from_states(env, r.steps), env.ctx.env.contact_force_threshold, near
            )
            numbers.update(episode=e.index, world=e.group[1], controller=e.controller)
            measured[id(r)] = (numbers, pooled)
        if on_episodes:
            on_episodes([measured[id(r)][0] for r in batch])
        if progress:
            progress(f"  {len(measured)}/{len(plan)} episodes done")

    groups = regroup(run_plan(plan, ctrl, int(seed), threads, on_batch=finished))
    results: Dict[str, Dict[str, Any]] = {}
    for c in controllers:
        for w in worlds:
            mine = [measured[id(r)] for r in groups[(c, w)]]
            summary = aggregate_safety([r[0] for r in mine], [r[1] for r in mine], near)
            rows = check_criteria(summary, thresholds)
            results.setdefault(c, {})[w] = {
                "summary": summary,
                "criteria": rows,
                "passed": all(r["passed"] for r in rows),
                "episodes": [r[0] for r in mine],
            }
    judged = {c: {w: res["criteria"] for w, res in per.items()} for c, per in results.items()}
    dr = configs.env.domain_randomization
    m = probe.model
    jid = m.actuator_trnid[:, 0]
    export_dir = getattr(policy, "export_dir", None)
    if export_dir is not None and os.path.abspath(export_dir).startswith(REPO_ROOT + os.sep):
        export_dir = os.path.relpath(os.path.abspath(export_dir), REPO_ROOT)  # repository-relative in the report
    settings = {
        "policy": export_dir,
        "action_scale": float(action_scale),
        "episodes": int(episodes),
        "duration_s": float(duration),
        "worlds": worlds,
        "seed": int(seed),
        "episode_keys": f"jax.random.fold_in(jax.random.PRNGKey({int(seed)}), i), i = 0..{int(episodes) - 1}",
        "rough_bands": "episode i spawns in band i mod 6",
        "suite_tiles": f"episode i on terrain type i mod {len(TERRAIN_TYPES)} at level "
        f"{SUITE_LEVELS}[(i // {len(TERRAIN_TYPES)}) mod {len(SUITE_LEVELS)}], terrain seed {SUITE_EVAL_TERRAIN_SEED}",
        "command": None if cmd is None else list(cmd),
        "command_ranges": {
            "vx": list(configs.env.command.vx),
            "vy": list(configs.env.command.vy),
            "yaw_rate": list(configs.env.command.yaw_rate),
        },
        "domain_randomization": {
            f.name: {"enabled": True, "range": list(getattr(dr, f.name).range)} for f in dataclasses.fields(dr)
        },
        "contact_force_threshold_n": float(configs.env.contact_force_threshold),
        "joints": [m.joint(int(j)).name for j in jid],
        "joint_range_rad": np.asarray(m.jnt_range[jid]).tolist(),
        "nominal_torque_limit_nm": np.abs(np.asarray(probe.ctx.force_limit, np.float64)).tolist(),
        "physics_threads": threads,
        "command_line": "",
        "sampling": "physics state read once per control step (0.02 s), at its end",
    }
    return {
        "settings": settings,
        "thresholds": thresholds.thresholds(),
        "results": results,
        "passed": verdict(judged, POLICY),
        "definitions": definitions(thresholds),
        "mass_kg": robot_mass(probe),
        "gravity_mps2": gravity(probe),
        "wall_time_s": time.perf_counter() - t0,
        "device": f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.platform()})",
    }


# ------------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation.safety_report",
        description="Pre-hardware safety report of a policy on C MuJoCo with domain "
        "randomisation on (exit status 0 PASS, 1 FAIL, 2 bad input).",
    )
    p.add_argument("--policy", required=True, help="run directory, export directory or a file in it")
    p.add_argument("--episodes", type=int, default=8, help="episodes per world and controller (default 8)")
    p.add_argument("--duration", type=float, default=20.0, help="episode length [s] (default 20)")
    p.add_argument(
        "--worlds",
        nargs="+",
        choices=WORLDS,
        default=list(DEFAULT_WORLDS),
        help="worlds (default flat rough; suite: the mid levels 3 and 4 of the held-out suite, 14 episodes "
        "visit every terrain type at both)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes' reset keys (default 0)")
    p.add_argument(
        "--command",
        nargs=3,
        type=float,
        default=None,
        metavar=("VX", "VY", "YAW"),
        help="fixed command (m/s, m/s, rad/s); default: the env's draw per episode",
    )
    p.add_argument("--thresholds", default=None, help="thresholds YAML (default configs/safety.yaml)")
    p.add_argument("--action-scale", type=float, default=1.0, help="multiplies the policy's action (default 1)")
    p.add_argument("--no-nominal", action="store_true", help="skip the nominal-gait reference")
    add_threads_argument(p, default_threads())
    p.add_argument("--out", default=None, help="output directory (default EXPORT_DIR/safety)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns the exit status: 0 PASS, 1 FAIL, 2 bad input (an unwritable ``--out``
    included) or the report could not be written (the message names the episode records file)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 on bad arguments, 0 on --help
        return int(e.code or 0)
    command_line = "python -m evaluation.safety_report " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    records: Optional[EpisodeRecords] = None
    try:
        thresholds_path = os.fspath(args.thresholds or DEFAULT_THRESHOLDS)
        thresholds = load_criteria(args.thresholds)
        if not os.path.exists(args.policy):
            raise ExportError(f"policy path not found: {args.policy}")
        with output_dir(args.out or os.path.join(resolve_export_dir(args.policy), "safety"), "--out") as out:
            policy = load_policy(args.policy)
            records = EpisodeRecords(records_path(out, "safety"))
            report = run_safety(
                policy,
                thresholds,
                episodes=args.episodes,
                duration=args.duration,
                worlds=args.worlds,
                seed=args.seed,
                command=args.command,
                action_scale=args.action_scale,
                include_nominal=not args.no_nominal,
                threads=args.threads,
                progress=print,
                on_episodes=records.append,
            )
            report["settings"]["command_line"] = command_line
            report["thresholds_file"] = (
                os.path.relpath(thresholds_path, REPO_ROOT) if os.path.isabs(thresholds_path) else thresholds_path
            )
            paths = write_report(report, out)
    except (ExportError, ConfigError, ValueError, OSError) as e:
        print(f"error: {with_records(str(e), records)}", file=sys.stderr)
        return 2
    except BaseException:  # a crash or Ctrl-C after some episodes: say where their numbers are
        if records is not None and records.where():
            print(f"note: {records.where()}", file=sys.stderr)
        raise
    for w in args.worlds:
        for ctrl, per in report["results"].items():
            failed = [r["name"] for r in per[w]["criteria"] if not r["passed"]]
            print(f"{w:5s} {ctrl:7s} {'PASS' if not failed else 'FAIL: ' + ', '.join(failed)}")
    print(
        f"safety: {'PASS' if report['passed'] else 'FAIL'} (policy, all worlds); wrote {paths['markdown']}, "
        f"{paths['json']} ({report['wall_time_s']:.0f} s)"
    )
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

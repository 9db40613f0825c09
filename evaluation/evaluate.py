"""The command line of ``python -m evaluation.evaluate``: arguments, modes, files, exit status.

Parses the arguments (:func:`build_parser`), checks every mode's settings and ``--out`` before
anything runs, then runs the modes asked for: ``episodes`` (:func:`evaluation.suite_evaluation.evaluate_policy`)
and the command tests (:mod:`evaluation.command_eval`), each through :mod:`evaluation.runner`,
and writes their reports. ``--physics-threads`` (threads of the batched C-MuJoCo back end; the
numbers do not depend on it) is the one parallelism setting of every mode; ``--processes`` is
accepted as its deprecated name. The suite evaluation itself is :mod:`evaluation.suite_evaluation`
(its names are re-exported here).
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from typing import Any, Dict, Optional, Sequence

from deploy.export_format import ExportError
from deploy.policy_loader import load_policy
from evaluation import command_eval
from evaluation.episode_records import EpisodeRecords, output_dir, records_path, with_records
from evaluation.evaluation_report import write_report
from evaluation.runner import add_threads_argument
from evaluation.suite_evaluation import (  # noqa: F401 (re-exported: the library of python -m evaluation.evaluate)
    ALL_BANDS,
    ALL_TYPES,
    GAIT_FAILS_BELOW,
    JAX_CACHE_DIR,
    MODES,
    SUITE_EVAL_TERRAIN_SEED,
    WORLDS,
    EpisodeTask,
    default_threads,
    episode_tasks,
    evaluate_policy,
    gait_failures,
    gait_stalls,
    suite_levels,
    suite_tiles,
)
from gait.gait_config import with_footholds
from mjx_envs.policy_env import configs_from_meta, default_configs, meta_path, with_world
from model.yaml_config import ConfigError


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
    p.add_argument(
        "--out", default=None, help="output directory (default RUN_DIR/evaluation, or runs/evaluation without a run)"
    )
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
    p.add_argument(
        "--footholds",
        action="store_true",
        help="the gait places its footholds (gait.footholds.enabled = true, docs/gait_ik.md 'Footholds'), "
        "for the nominal gait and the policy alike",
    )
    p.add_argument("--no-nominal", action="store_true", help="skip the nominal-gait baseline")
    add_threads_argument(p, default_threads())
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
            if args.footholds:
                configs = configs._replace(gait=with_footholds(configs.gait))
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
                    threads=args.threads,
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
                    threads=args.threads,
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

"""Learning signal: does a short Brax PPO run beat the nominal trot (the zero-residual policy)?

    python -m benchmarks.learning_signal [--preset cpu_flat] [key=value ...]
    python -m benchmarks.learning_signal --from-run RUN_DIR     # summarise a finished run instead

Trains with the given preset (default ``cpu_flat``, the first CPU default: flat world, 64 envs, 122,880 env steps) and
reads the run's evaluations: every evaluation scores the same fixed flat-world episodes, and the
zero-residual policy (the nominal Bézier trot alone) is scored on them once at step 0. Prints a
table and writes ``benchmarks/results/learning_signal_<device>.json`` / ``.md`` / ``.png`` (the
learning curve against the zero-residual line), with the command and the wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional

from benchmarks import cli
from benchmarks.env_throughput import RESULTS_DIR, _versions, device_name
from benchmarks.results_files import write_json


def summarize_run(run_dir: str) -> Dict[str, Any]:
    """Evaluation curve, zero-residual baseline and wall time of a finished run directory."""
    from train.progress import read_progress

    rows = read_progress(run_dir)
    zero = [r for r in rows if r["kind"] == "zero_residual"]
    if not zero:
        raise SystemExit(f"{run_dir}: no zero-residual evaluation in progress.jsonl (not a fresh run?)")
    evals = [r for r in rows if r["kind"] == "eval"]
    done = [r for r in rows if r["kind"] == "done"]
    curve = [
        {
            "step": r["step"],
            "reward": r["reward"],
            "reward_std": r["reward_std"],
            "fall_rate": r.get("fall_rate"),
            "vel_tracking_error": r.get("vel_tracking_error_per_step"),
            "yaw_rate_error": r.get("yaw_rate_error_per_step"),
            "sps": r.get("sps"),
            "time_s": r["time_s"],
        }
        for r in evals
    ]
    z = zero[0]["reward"]
    final = curve[-1]["reward"] if curve else float("nan")
    return {
        "run_dir": os.path.abspath(run_dir),
        "zero_residual_reward": z,
        "curve": curve,
        "final_reward": final,
        "final_gain": final - z,
        "final_gain_pct": 100.0 * (final - z) / abs(z),
        "best_reward": max(c["reward"] for c in curve) if curve else None,
        "env_steps": curve[-1]["step"] if curve else 0,
        "wall_time_s": done[-1]["time_s"] if done else (curve[-1]["time_s"] if curve else None),
    }


def write(result: Dict[str, Any], stem: str, out_dir: str = RESULTS_DIR) -> None:
    path = write_json(result, out_dir, stem, indent=1)
    lines = (
        [
            f"# Learning signal ({result['device']})",
            "",
            f"Command: `{result['command']}`  ",
            f"Run: `{result['run_dir']}`  ",
            f"Versions: {result['versions']}",
            "",
        ]
        + ([result["note"], ""] if result.get("note") else [])
        + [
            f"Zero-residual policy (nominal trot alone) on the same episodes: **{result['zero_residual_reward']:.2f}**",
            "",
            "| env steps | eval reward | ± std | vs zero-residual | falls | vel err (m/s) "
            "| yaw-rate err (rad/s) | wall (s) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
    )
    z = result["zero_residual_reward"]
    for c in result["curve"]:
        lines.append(
            f"| {c['step']:,d} | {c['reward']:.2f} | {c['reward_std']:.2f} | {c['reward'] - z:+.2f} "
            f"({100 * (c['reward'] - z) / abs(z):+.2f} %) | {c['fall_rate']:.2f} | "
            f"{c['vel_tracking_error']:.3f} | {c['yaw_rate_error']:.3f} | {c['time_s']:.0f} |"
        )
    lines += [
        "",
        f"Final: {result['final_reward']:.2f} ({result['final_gain']:+.2f}, "
        f"{result['final_gain_pct']:+.2f} %) after {result['env_steps']:,d} env steps, "
        f"{result['wall_time_s']:.0f} s wall-clock including compilation.",
        "",
    ]
    with open(path + ".md", "w") as fh:
        fh.write("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    steps = [c["step"] for c in result["curve"]]
    ax.errorbar(
        steps,
        [c["reward"] for c in result["curve"]],
        yerr=[c["reward_std"] / 4 for c in result["curve"]],
        marker="o",
        label="residual policy (eval, ±std/√16)",
    )
    ax.axhline(z, color="k", ls="--", label="zero residual (nominal trot)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval episode return")
    ax.set_title(f"Learning signal, flat world ({result['device']})")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path + ".png", dpi=110)
    plt.close(fig)
    print("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.learning_signal", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu_flat")
    p.add_argument("--from-run", default=None, metavar="RUN_DIR", help="summarise this finished run, do not train")
    p.add_argument("--output-dir", default="runs/benchmarks")
    p.add_argument("--out", default=RESULTS_DIR, help="results directory (default benchmarks/results)")
    p.add_argument(
        "--note", default="", help="free text recorded with the results (e.g. how --from-run's run was made)"
    )
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out", *(() if args.from_run else ("--output-dir",)))
    raw = list(argv if argv is not None else sys.argv[1:])
    if "--note" in raw:  # recorded separately
        i = raw.index("--note")
        del raw[i : i + 2]
    command = "python -m benchmarks.learning_signal " + " ".join(raw)
    if args.from_run:
        run_dir = args.from_run
    else:
        from train.__main__ import main as train_main

        t = time.time()
        res = train_main(
            ["--preset", args.preset, "--output-dir", args.output_dir, "--name", "learning_signal", *args.overrides]
        )
        run_dir = res.run_dir
        print(f"trained in {time.time() - t:.0f} s")
    result = summarize_run(run_dir)
    result.update(
        device=device_name(),
        versions=_versions(),
        command=command.strip(),
        preset=args.preset,
        overrides=args.overrides,
        note=args.note,
    )
    write(result, f"learning_signal_{result['device']}", args.out)
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

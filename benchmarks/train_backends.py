"""``make train`` on the CPU: the same preset trained on the MJX and the C-MuJoCo back ends, side by side.

    python -m benchmarks.train_backends [--preset cpu_flat] [--backends mjx cmujoco] [--seed 0] [--out DIR]

Each back end runs ``python -m train --preset P simulation.backend=B`` in a subprocess with an
empty JAX compilation cache (a newcomer's first run), one after the other. From each run's
``progress.jsonl``: wall-clock of the whole process, time to the first evaluation (compilation),
env steps/s end to end (all steps / wall), steady-state env steps/s between the second and the
last evaluation (training + evaluations, compilation excluded), brax's own training steps/s, and
the learning curve (evaluation reward and velocity-tracking error vs the zero-residual policy).
Writes ``benchmarks/results/train_backends_<device>.{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import sys

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown
from benchmarks.train_process import eval_curve, train_fresh

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_one(preset: str, backend: str, seed: int, extra) -> dict:
    from train.progress import read_progress

    run_dir, wall, _, cmd = train_fresh(
        ["--preset", preset, f"simulation.backend={backend}", f"ppo.seed={seed}", *extra], backend
    )
    evals = read_progress(run_dir, "eval")
    zero = read_progress(run_dir, "zero_residual")[0]
    train_rows = read_progress(run_dir, "train")
    physics = read_progress(run_dir, "device")[0].get("physics", backend)
    total = evals[-1]["step"]
    steady = (evals[-1]["step"] - evals[1]["step"]) / (evals[-1]["time_s"] - evals[1]["time_s"])
    sps = [r["train/logger_sps"] for r in train_rows[1:] if "train/logger_sps" in r]
    return {
        "backend": backend,
        "physics": physics,
        "command": " ".join(["python", "-m", "train", *cmd[3:]]),
        "wall_s": wall,
        "first_eval_s": evals[0]["time_s"],
        "env_steps": total,
        "end_to_end_steps_per_s": total / wall,
        "steady_steps_per_s": steady,
        "brax_train_steps_per_s": sorted(sps)[len(sps) // 2] if sps else None,
        "zero_residual_reward": zero["reward"],
        "zero_residual_vel_err": zero["vel_tracking_error_per_step"],
        "curve": eval_curve(evals),
    }


def write(result: dict, out_dir: str) -> str:
    stem = write_json(result, out_dir, f"train_backends_{result['device']}")
    rows = result["runs"]
    base = rows[0]
    lines = [
        f"# `python -m train --preset {result['preset']}` on each physics back end — {result['device']}",
        "",
        f"Command: `{result['command']}` (each run in a fresh process with an empty JAX compilation cache, "
        "one after the other)",
        "",
        "| back end | wall s | first eval s | env steps | env steps/s end to end | steady env steps/s | "
        "brax train steps/s | speed-up (steady) | final reward (zero-residual) | final vel err m/s (zero-residual) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        c = r["curve"][-1]
        lines.append(
            f"| {r['physics']} | {r['wall_s']:.0f} | {r['first_eval_s']:.0f} | {r['env_steps']:,d} | "
            f"{r['end_to_end_steps_per_s']:,.0f} | {r['steady_steps_per_s']:,.0f} | "
            f"{(r['brax_train_steps_per_s'] or 0):,.0f} | "
            f"{r['steady_steps_per_s'] / base['steady_steps_per_s']:.1f}x | "
            f"{c['reward']:.1f} ({r['zero_residual_reward']:.1f}) | "
            f"{c['vel_err']:.4f} ({r['zero_residual_vel_err']:.4f}) |"
        )
    lines += [
        "",
        "Learning curves (evaluation reward / velocity-tracking error per step):",
        "",
        "| step | " + " | ".join(r["backend"] for r in rows) + " |",
        "|---:|" + "---|" * len(rows),
    ]
    for i, e in enumerate(base["curve"]):
        cells = [
            f"{r['curve'][i]['reward']:.1f} / {r['curve'][i]['vel_err']:.4f}" if i < len(r["curve"]) else "-"
            for r in rows
        ]
        lines.append(f"| {e['step']:,d} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "steady env steps/s: env steps between the second and the last evaluation over their wall "
        "time (training and the per-epoch evaluations, compilation excluded); end to end: all env steps "
        "over the process's wall time, compilation and start-up included.",
    ]
    return write_markdown(stem, lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu_flat")
    p.add_argument("--backends", nargs="+", default=["mjx", "cmujoco"], choices=("mjx", "cmujoco"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=RESULTS_DIR)
    p.add_argument("overrides", nargs="*", help="extra key=value overrides for both runs")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    from train.ppo_setup import device_label

    runs = []
    for b in args.backends:
        print(f"training {args.preset} on {b} ...", flush=True)
        runs.append(run_one(args.preset, b, args.seed, args.overrides))
        r = runs[-1]
        print(
            f"  {r['physics']}: wall {r['wall_s']:.0f} s, steady {r['steady_steps_per_s']:,.0f} env steps/s, "
            f"end to end {r['end_to_end_steps_per_s']:,.0f}",
            flush=True,
        )
    result = {
        "device": device_label(),
        "preset": args.preset,
        "runs": runs,
        "command": "python -m benchmarks.train_backends " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(open(write(result, args.out)).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

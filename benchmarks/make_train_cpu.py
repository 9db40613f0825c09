"""``make train`` on a CPU, several seeds: wall-clock and the before/after numbers it prints.

    python -m benchmarks.make_train_cpu [--seeds 0 1 2] [--out DIR] [key=value ...]

Each seed runs ``python -m train ppo.seed=S`` — the README's main command with no preset, i.e.
``cpu_small`` when JAX sees no GPU — in a fresh process with an empty JAX compilation cache (a
newcomer's first run), one after the other. From each run directory's ``summary.json`` and
``progress.jsonl``: the process wall-clock, the nominal gait vs the exported policy on the
evaluation episodes (success, velocity-tracking error, distance walked, return) and the learning curve.
A seed passes when the run took at most ``--max-wall-s`` (600), the policy's tracking error is at
most ``--max-ratio`` (0.5) of the gait's and it falls in no more episodes than the gait.
Writes ``benchmarks/results/make_train_cpu.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import List

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown
from benchmarks.train_process import eval_curve, train_fresh
from evaluation.mode_plots import save_figure

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEM = "make_train_cpu"


def run_seed(seed: int, extra: List[str], max_wall_s: float, max_ratio: float) -> dict:
    run_dir, wall, stdout, _ = train_fresh([f"ppo.seed={seed}", *extra], f"seed{seed}")
    with open(os.path.join(run_dir, "console.log"), "w") as fh:  # what the newcomer saw
        fh.write(stdout)
    r = derive(run_dir, max_ratio)
    r.update(seed=seed, wall_s=wall, console_tail=stdout.strip().splitlines()[-12:])
    r["checks"]["wall"] = wall <= max_wall_s
    r["passed"] = all(r["checks"].values())
    return r


def derive(run_dir: str, max_ratio: float) -> dict:
    """The before/after numbers of one finished run, from its ``progress.jsonl`` and config: the
    zero-residual evaluation vs the evaluation of the exported step (train/run_summary.py)."""
    from train.config import load_resolved_config
    from train.progress import read_progress
    from train.run_dir import CONFIG_FILE
    from train.run_summary import before_after, read_summary

    cfg = load_resolved_config(os.path.join(run_dir, CONFIG_FILE))
    s = read_summary(run_dir)
    evals = read_progress(run_dir, "eval")
    zero = read_progress(run_dir, "zero_residual")[0]
    exported = next(e for e in evals if e["step"] == s["exported_step"])
    ba = before_after(zero, exported, cfg.simulation.control_dt)
    device = read_progress(run_dir, "device")[0]
    a, b = ba["nominal"], ba["policy"]
    ok = {
        "ratio": ba["vel_error_ratio"] is not None and ba["vel_error_ratio"] <= max_ratio,
        "falls": b["fall_rate"] <= a["fall_rate"],
    }
    return {
        "run_dir": run_dir,
        "first_eval_s": evals[0]["time_s"],
        "env_steps": s["env_steps"],
        "exported_step": s["exported_step"],
        "physics": device.get("physics"),
        "preset": s.get("preset"),
        "description": s.get("description"),
        "nominal": a,
        "policy": b,
        "vel_error_ratio": ba["vel_error_ratio"],
        "checks": ok,
        "curve": eval_curve(evals),
    }


def plot(result: dict, path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.8))
    for r in result["runs"]:
        c = r["curve"]
        (line,) = ax.plot([e["step"] for e in c], [e["vel_err"] for e in c], "o-", ms=3, label=f"seed {r['seed']}")
        ax.axhline(r["nominal"]["vel_error"], color=line.get_color(), ls="--", lw=1)
    ax.set_xlabel("env steps")
    ax.set_ylabel("velocity-tracking error (m/s)")
    ax.set_title("make train (cpu_small): policy (solid) vs nominal gait (dashed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def verdict(r: dict) -> str:
    """``yes``, or ``NO: <failed checks>``."""
    return "yes" if r["passed"] else "NO: " + ", ".join(k for k, v in r["checks"].items() if not v)


def write(result: dict, out_dir: str) -> str:
    stem = write_json(result, out_dir, STEM)
    plot(result, stem + ".png")
    runs = result["runs"]
    lines = [
        f"# `make train` on {result['device']}: {len(runs)} seeds",
        "",
        f"Command: `{result['command']}` — each seed runs `python -m train ppo.seed=S` (the README's main "
        "command, default preset) in a fresh process with an empty JAX compilation cache, one after the other. "
        f"Physics: {runs[0]['physics']}. Evaluation: {runs[0]['description']}."
        + (
            f" Tables re-derived from the runs' progress logs with `{result['rederived']}`."
            if result.get("rederived")
            else ""
        ),
        "",
        f"Pass: wall-clock ≤ {result['max_wall_s']:.0f} s, policy tracking error ≤ {result['max_ratio']} × the "
        "nominal gait's, no more falls than the gait.",
        "",
        "| seed | wall s | env steps | success gait → policy | vel. error gait → policy (m/s) | ratio | "
        "distance walked gait → policy (m) | return gait → policy | pass |",
        "|---:|---:|---:|---|---|---:|---|---|---|",
    ]
    for r in runs:
        a, b = r["nominal"], r["policy"]
        lines.append(
            f"| {r['seed']} | {r['wall_s']:.0f} | {r['env_steps']:,d} | {100 * a['success']:.0f}% → "
            f"{100 * b['success']:.0f}% | {a['vel_error']:.3f} → {b['vel_error']:.3f} | "
            f"{r['vel_error_ratio']:.2f} | {a['distance']:.2f} → {b['distance']:.2f} | "
            f"{a['reward']:.1f} → {b['reward']:.1f} | {verdict(r)} |"
        )
    lines += [
        "",
        f"![velocity-tracking error]({STEM}.png)",
        "",
        "Learning curves (evaluation velocity-tracking error, m/s):",
        "",
        "| step | " + " | ".join(f"seed {r['seed']}" for r in runs) + " |",
        "|---:|" + "---:|" * len(runs),
    ]
    n = max(len(r["curve"]) for r in runs)
    for i in range(n):
        step = next(r["curve"][i]["step"] for r in runs if i < len(r["curve"]))
        cells = [f"{r['curve'][i]['vel_err']:.3f}" if i < len(r["curve"]) else "-" for r in runs]
        lines.append(f"| {step:,d} | " + " | ".join(cells) + " |")
    if runs[0]["console_tail"]:
        lines += [
            "",
            "What the console shows at the end of the run (seed %d):" % runs[0]["seed"],
            "",
            "```",
            *runs[0]["console_tail"],
            "```",
        ]
    return write_markdown(stem, lines)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default=RESULTS_DIR)
    p.add_argument("--max-wall-s", type=float, default=600.0)
    p.add_argument("--max-ratio", type=float, default=0.5)
    p.add_argument(
        "--from-json",
        default=None,
        metavar="JSON",
        help="re-derive the tables of an earlier result file from its run directories "
        "(keeps the measured wall-clock; trains nothing)",
    )
    p.add_argument("overrides", nargs="*", help="extra key=value overrides for every run")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    from train.ppo_setup import device_label

    if args.from_json:
        with open(args.from_json) as fh:
            old = json.load(fh)
        runs = []
        for r in old["runs"]:
            new = derive(r["run_dir"], old["max_ratio"])
            # the console tail is dropped: it was printed by the code of that run, the tables are re-derived
            new.update(seed=r["seed"], wall_s=r["wall_s"], console_tail=[])
            new["checks"]["wall"] = r["wall_s"] <= old["max_wall_s"]
            new["passed"] = all(new["checks"].values())
            runs.append(new)
        result = {
            **old,
            "runs": runs,
            "all_passed": all(r["passed"] for r in runs),
            "rederived": "python -m benchmarks.make_train_cpu --from-json " + args.from_json,
        }
        print(open(write(result, args.out)).read())
        return result
    runs = []
    for seed in args.seeds:
        print(f"make train, seed {seed} ...", flush=True)
        r = run_seed(seed, args.overrides, args.max_wall_s, args.max_ratio)
        runs.append(r)
        print(
            f"  wall {r['wall_s']:.0f} s, vel err {r['nominal']['vel_error']:.3f} -> {r['policy']['vel_error']:.3f} "
            f"(x{r['vel_error_ratio']:.2f}), falls {r['nominal']['fall_rate']:.2f} -> {r['policy']['fall_rate']:.2f}"
            f": {'pass' if r['passed'] else 'FAIL'}",
            flush=True,
        )
    result = {
        "device": device_label(),
        "runs": runs,
        "date": time.strftime("%Y-%m-%d"),
        "max_wall_s": args.max_wall_s,
        "max_ratio": args.max_ratio,
        "all_passed": all(r["passed"] for r in runs),
        "command": "python -m benchmarks.make_train_cpu " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    print(open(write(result, args.out)).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

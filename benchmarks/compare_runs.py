"""Learning curves of training runs side by side, from their ``progress.jsonl`` (evaluation rows).

    python -m benchmarks.compare_runs RUN_OR_PROGRESS [RUN_OR_PROGRESS ...] --out DIR [--labels A B ..]

Each argument is a run directory (its ``progress.jsonl``) or a ``progress.jsonl`` file. For every
evaluation row (``"kind": "eval"``, plus the zero-residual baseline at step 0) the table lists env
steps, wall-clock seconds since the run started, evaluation return, fall rate, velocity-tracking
error (m/s) and yaw-rate error (rad/s), per run. Writes ``DIR/learning_curves.{json,md,png}``.
Used for the gait-modulation ablation (``benchmarks/gpu_task_pass.sh``; results in
``benchmarks/results/gpu_task_h200/``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from benchmarks import cli
from train.progress import PROGRESS_FILE

COLUMNS = (
    ("reward", "return"),
    ("fall_rate", "fall rate"),
    ("vel_tracking_error_per_step", "vel err (m/s)"),
    ("yaw_rate_error_per_step", "yaw err (rad/s)"),
)


def progress_path(path: str) -> str:
    """The ``progress.jsonl`` of a run directory (or the file itself); FileNotFoundError names it."""
    p = os.path.join(path, PROGRESS_FILE) if os.path.isdir(path) else path
    if not os.path.isfile(p):
        raise FileNotFoundError(f"no progress.jsonl at {path!r} (give a run directory or its progress.jsonl)")
    return p


def eval_rows(path: str) -> Dict[str, Any]:
    """{"zero_residual": row or None, "evals": [rows sorted by step]} of one run's progress file
    (read with ``train.progress.read_progress``)."""
    from train.progress import read_progress

    p = progress_path(path)
    if os.path.basename(p) != PROGRESS_FILE:
        raise ValueError(f"{p}: expected a run directory or its {PROGRESS_FILE}")
    try:
        rows = read_progress(os.path.dirname(p) or ".")
    except json.JSONDecodeError as e:
        raise ValueError(f"{p}: not JSON lines ({e})") from None
    zero = [r for r in rows if r.get("kind") == "zero_residual"]
    evals = [r for r in rows if r.get("kind") == "eval"]
    if not evals:
        raise ValueError(f'{path}: no evaluation rows ("kind": "eval") in its progress.jsonl')
    return {"zero_residual": zero[-1] if zero else None, "evals": sorted(evals, key=lambda r: r["step"])}


def compare(paths: Sequence[str], labels: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    labels = list(labels) if labels else [os.path.basename(os.path.normpath(p)) for p in paths]
    if len(labels) != len(paths):
        raise ValueError(f"{len(labels)} labels for {len(paths)} runs")
    runs = {}
    for label, path in zip(labels, paths):
        rows = eval_rows(path)
        pick = lambda r: {
            "step": int(r["step"]),
            "time_s": float(r.get("time_s", float("nan"))),  # noqa: E731
            **{k: r.get(k) for k, _ in COLUMNS},
        }
        runs[label] = {
            "path": path,
            "zero_residual": pick(rows["zero_residual"]) if rows["zero_residual"] else None,
            "evals": [pick(r) for r in rows["evals"]],
        }
    return {"runs": runs, "command": "python -m benchmarks.compare_runs " + " ".join(sys.argv[1:])}


def _fmt(v: Any, f: str = "{:.3f}") -> str:
    return "–" if v is None else f.format(v)


def markdown(report: Dict[str, Any]) -> str:
    lines = ["# Learning curves", "", f"Command: `{report['command']}`", ""]
    head = "| run | env steps | wall s | " + " | ".join(name for _, name in COLUMNS) + " |"
    lines += [head, "|" + "---|" * (3 + len(COLUMNS))]
    for label, run in report["runs"].items():
        if run["zero_residual"]:
            z = run["zero_residual"]
            lines.append(
                f"| {label} (zero residual = nominal gait) | 0 | {_fmt(z['time_s'], '{:.0f}')} | "
                + " | ".join(_fmt(z[k], "{:.1f}" if k == "reward" else "{:.3f}") for k, _ in COLUMNS)
                + " |"
            )
        for r in run["evals"]:
            lines.append(
                f"| {label} | {r['step']:,} | {_fmt(r['time_s'], '{:.0f}')} | "
                + " | ".join(_fmt(r[k], "{:.1f}" if k == "reward" else "{:.3f}") for k, _ in COLUMNS)
                + " |"
            )
    return "\n".join(lines) + "\n"


def plot(report: Dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COLUMNS), figsize=(4.2 * len(COLUMNS), 3.4))
    for ax, (key, name) in zip(axes, COLUMNS):
        for label, run in report["runs"].items():
            xs = [r["step"] / 1e6 for r in run["evals"] if r[key] is not None]
            ys = [r[key] for r in run["evals"] if r[key] is not None]
            (line,) = ax.plot(xs, ys, marker="o", label=label)
            z = run["zero_residual"]
            if z and z[key] is not None:
                ax.axhline(z[key], color=line.get_color(), ls=":", lw=1)
        ax.set_xlabel("env steps (M)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("evaluation vs env steps (dotted: the zero-residual nominal gait)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare_runs", description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("--labels", nargs="+", default=None)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        report = compare(args.runs, args.labels)
        cli.check_output_dirs(args, "--out")
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    report["command"] = "python -m benchmarks.compare_runs " + " ".join(argv if argv is not None else sys.argv[1:])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "learning_curves.json"), "w") as fh:
        json.dump(report, fh, indent=1)
    with open(os.path.join(args.out, "learning_curves.md"), "w") as fh:
        fh.write(markdown(report))
    plot(report, os.path.join(args.out, "learning_curves.png"))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(cli.run(main))

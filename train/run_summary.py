"""The end of a training run: a before/after table and a learning-curve plot.

"Before" is the nominal Bézier trot alone (the zero-residual evaluation at step 0), "after" the
exported policy's evaluation; both on the same fixed evaluation episodes (train/evaluation.py:
same commands, spawn points, terrain seed and pushes). Numbers:

* ``success``: share of evaluation episodes without a fall (an episode cut by the time limit or
  the map edge is a success);
* ``vel_error``: velocity-tracking error, m/s, mean over every evaluated step of
  |commanded − achieved| planar body velocity (``vel_tracking_error_per_step``);
* ``distance``: m walked, mean over episodes: the body-frame forward speed integrated over the
  episode (``forward_velocity_per_step`` × ``episode_length`` × ``control_dt``), i.e. the path
  length along the trunk's heading, so a turning command does not shorten it;
  ``heading_distance``: m along the *initial* heading (``distance``) for reference;
* ``reward``: mean episode return.

Files written into the run directory: ``summary.json`` (both columns, the ratio of tracking
errors, the steps and wall-clock) and ``learning_curve.png`` (evaluation reward and tracking error
against env steps, the nominal gait as a dashed line).
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Mapping, Optional

SUMMARY_FILE = "summary.json"
CURVE_FILE = "learning_curve.png"


def _column(ev: Mapping[str, Any], control_dt: Optional[float]) -> Dict[str, Optional[float]]:
    def get(k):
        v = ev.get(k)
        return None if v is None else float(v)

    fall, fwd, length = get("fall_rate"), get("forward_velocity_per_step"), get("episode_length")
    walked = fwd * length * control_dt if None not in (fwd, length, control_dt) else None
    return {
        "success": None if fall is None else 1.0 - fall,
        "vel_error": get("vel_tracking_error_per_step"),
        "distance": walked,
        "heading_distance": get("distance"),
        "reward": get("reward"),
        "fall_rate": fall,
        "episodes": get("num_episodes"),
        "step": get("step"),
    }


def before_after(
    nominal: Mapping[str, Any], policy: Mapping[str, Any], control_dt: Optional[float] = None
) -> Dict[str, Any]:
    """``{"nominal": {...}, "policy": {...}, "vel_error_ratio": policy/nominal}`` from two
    evaluation summaries (train.evaluation.summarize); ``control_dt`` [s] (the env step) turns the
    mean forward speed into the distance walked (None: no ``distance``)."""
    a, b = _column(nominal, control_dt), _column(policy, control_dt)
    ratio = None
    if a["vel_error"] and b["vel_error"] is not None:
        ratio = b["vel_error"] / a["vel_error"]
    return {"nominal": a, "policy": b, "vel_error_ratio": ratio}


def summary_lines(ba: Mapping[str, Any], episodes_desc: str = "") -> List[str]:
    """The console table of :func:`before_after`."""
    a, b = ba["nominal"], ba["policy"]

    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}%"

    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    ratio = ba.get("vel_error_ratio")
    rows = [
        ("success (no fall)", pct(a["success"]), pct(b["success"]), ""),
        (
            "vel. tracking error",
            num(a["vel_error"], ".3f") + " m/s",
            num(b["vel_error"], ".3f") + " m/s",
            "" if ratio is None else f"x{ratio:.2f}",
        ),
        ("distance walked", num(a["distance"], ".2f") + " m", num(b["distance"], ".2f") + " m", ""),
        ("episode return", num(a["reward"], ".1f"), num(b["reward"], ".1f"), ""),
    ]
    head = "before/after" + (f" on {episodes_desc}" if episodes_desc else "") + ":"
    lines = [head, f"  {'':22s}{'nominal gait':>14s}{'trained policy':>16s}"]
    lines += [f"  {name:22s}{x:>14s}{y:>16s}  {extra}".rstrip() for name, x, y, extra in rows]
    return lines


def write_summary(run_dir: str, ba: Mapping[str, Any], **extra: Any) -> str:
    """``RUN_DIR/summary.json``; returns its path."""
    path = os.path.join(run_dir, SUMMARY_FILE)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({**ba, **extra}, fh, indent=2)
    return path


def read_summary(run_dir: str) -> Dict[str, Any]:
    """``RUN_DIR/summary.json`` as a dict."""
    with open(os.path.join(run_dir, SUMMARY_FILE), "r", encoding="utf-8") as fh:
        return json.load(fh)


def plot_learning_curve(run_dir: str, path: Optional[str] = None, title: str = "") -> Optional[str]:
    """Plot evaluation reward and velocity-tracking error against env steps from
    ``RUN_DIR/progress.jsonl`` (nominal gait dashed); returns the PNG path, or None when the run
    has no progress log or no evaluation yet."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from train.progress import PROGRESS_FILE, read_progress

    if not os.path.isfile(os.path.join(run_dir, PROGRESS_FILE)):
        return None
    evals = read_progress(run_dir, "eval")
    if not evals:
        return None
    zero = read_progress(run_dir, "zero_residual")
    steps = [r["step"] for r in evals]
    path = path or os.path.join(run_dir, CURVE_FILE)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    panels = [("reward", "evaluation episode return"), ("vel_tracking_error_per_step", "velocity-tracking error (m/s)")]
    for ax, (key, label) in zip(axes, panels):
        ax.plot(steps, [r.get(key) for r in evals], "o-", label="policy")
        if zero and zero[0].get(key) is not None:
            ax.axhline(zero[0][key], color="k", ls="--", lw=1, label="nominal gait (zero residual)")
        ax.set_xlabel("env steps")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

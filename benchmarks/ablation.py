"""The ablation of the seed plan, on the real task: residual (over the plain or the foothold gait)
vs residual + gait modulation vs direct joint targets vs direct joint torques, the same reward,
preset, env-step budget and seeds.

    python -m benchmarks.ablation [--preset cpu_ship] [--seeds 0 1 2] [key=value ...]
    python -m benchmarks.ablation --quick          # ci_tiny sizes: a smoke run of every step
    python -m benchmarks.ablation --reuse ...      # keep the finished runs of an interrupted ablation

For every seed and arm — the registered tasks ``suite`` (foot residuals on the nominal trot),
``footholds`` (the same over the foothold gait, with the height scan), ``modulated`` (the residuals
plus step frequency, swing height and body height), ``direct`` (joint targets around the home pose,
no gait, no IK) and ``torque`` (joint torques through motors, no gait, no servo) — one training run
with every checkpoint kept, then:

1. **time to walk**: its checkpoints, oldest first, judged against each walk bar
   (:func:`benchmarks.time_to_walk.judge_run`): ``suite`` — the suite tiles where the nominal gait
   fails (``configs/walk_bar_suite.yaml``), and ``rough`` — the two roughest rough-world bands
   (``configs/walk_bar.yaml``, where the nominal gait survives but is too slow); env steps and
   training wall-clock of the first checkpoint that walks (none: not reached within the budget);
2. **final evaluation** of its export on the held-out suite seed (``evaluation.evaluate``, C MuJoCo,
   the same seeded episodes for every arm; the nominal gait once): success and velocity-tracking
   error per terrain type;
3. its **learning curve** (evaluation return vs env steps, ``progress.jsonl``).

Writes ``benchmarks/results/ablation_suite_<device>[_quick][_<tag>].json`` / ``.md`` (per arm: mean ±
std over seeds, and every run) / ``.png`` (learning curves, one colour per arm).
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from benchmarks import cli
from benchmarks.env_throughput import RESULTS_DIR, _versions, device_name
from benchmarks.learning_signal import summarize_run
from benchmarks.time_to_walk import judge_run, load_walk_bar
from model.simulation_config import REPO_ROOT

ARMS = ("suite", "footholds", "modulated", "direct", "torque")
"""Registered tasks (train/tasks.py) compared: residual over the plain gait, residual over the
foothold gait, residual + modulation, direct joint targets, direct joint torques."""
ARM_LABELS = {
    "suite": "residual",
    "footholds": "residual over the foothold gait",
    "modulated": "residual + modulation",
    "direct": "direct joint targets",
    "torque": "direct joint torques",
}
GAIT_ARMS = ("suite", "modulated", "footholds")
"""Arms whose zero action is a gait: the reference row is the first of these the ablation runs (the
plain gait for ``suite`` and ``modulated``, the foothold gait for ``footholds``); the zero action of
``direct`` (the home pose held) or ``torque`` (no torque: the robot collapses) is no gait."""
NOMINAL_LABELS = {"suite": "nominal gait", "modulated": "nominal gait", "footholds": "foothold gait (zero residual)"}

BARS = {
    "suite": os.path.join(REPO_ROOT, "configs", "walk_bar_suite.yaml"),
    "rough": os.path.join(REPO_ROOT, "configs", "walk_bar.yaml"),
}
"""Walk bars judged for every run: name -> WalkBar YAML."""


def finished_run(out: str, arm: str, seed: int) -> Optional[str]:
    """The newest run dir ``out/*_ablation_<arm>_s<seed>`` whose training finished (a ``done``
    record in ``progress.jsonl``), or None."""
    from train.progress import read_progress

    for run_dir in sorted(glob.glob(os.path.join(out, f"*_ablation_{arm}_s{seed}")), reverse=True):
        try:
            if read_progress(run_dir, "done"):
                return run_dir
        except (OSError, ValueError):
            continue
    return None


def train_arm(arm: str, preset: str, seed: int, out: str, overrides: Sequence[str], reuse: bool = False) -> str:
    """One training run of task ``arm`` (every checkpoint kept, no early stopping); its run dir.

    Each run trains in a child process: JAX keeps every compiled program and buffer of a run alive
    in its process, and nine runs in one process outgrew a 24 GiB machine (killed by the kernel at
    the fourth). ``reuse``: a finished run of this arm and seed in ``out`` is taken as it is.
    """
    if reuse and (done := finished_run(out, arm, seed)) is not None:
        print(f"reusing the finished run {done}", flush=True)
        return done
    name = f"ablation_{arm}_s{seed}"
    before = set(glob.glob(os.path.join(out, f"*_{name}")))
    cmd = [
        sys.executable,
        "-m",
        "train",
        "--task",
        arm,
        "--preset",
        preset,
        "--output-dir",
        out,
        "--name",
        name,
        f"ppo.seed={seed}",
        "run.early_stopping.enabled=false",
        "run.keep_checkpoints=0",
        *overrides,
    ]
    print("$ " + " ".join(cmd[1:]), flush=True)
    proc = subprocess.run(cmd)  # same working directory: a relative --output-dir means the same folder
    new = sorted(set(glob.glob(os.path.join(out, f"*_{name}"))) - before)
    if proc.returncode != 0 or not new:
        raise SystemExit(f"training {name} failed (exit code {proc.returncode}); see its output above")
    return new[-1]


def per_type(report: Dict[str, Any], controller: str) -> Dict[str, Dict[str, Optional[float]]]:
    """Success rate, mean velocity-tracking error [m/s] and mean distance walked [m] per terrain type
    of a suite evaluation (success alone rewards standing still: the distance tells);
    :func:`evaluation.episode_metrics.aggregate` over each type's episodes."""
    from evaluation.episode_metrics import aggregate as aggregate_episodes

    by_type: Dict[str, List[Dict[str, Any]]] = {}
    for e in report["results"][controller]["suite"]["episodes"]:
        by_type.setdefault(e["terrain_type"], []).append(e)
    out = {}
    for t, eps in by_type.items():
        a = aggregate_episodes(eps)
        out[t] = {
            "success_rate": a["success_rate"],
            "vel_tracking_error_mps": a["vel_tracking_error_mps"],
            "distance_m": a["distance_m_mean"],
            "episodes": a["episodes"],
        }
    return out


def _mean(xs: Sequence[Optional[float]]) -> Optional[float]:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    return sum(xs) / len(xs) if xs else None


def _std(xs: Sequence[Optional[float]]) -> Optional[float]:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if len(xs) < 2:
        return None
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def aggregate(runs: Sequence[Dict[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Per arm over its seeds: per walk bar how many runs reached it and the env steps and wall-clock
    to it (mean over those that did), final return, and per terrain type success and tracking error
    (mean, std)."""
    out: Dict[str, Dict[str, Any]] = {}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        rs = [r for r in runs if r["arm"] == arm]
        types = sorted({t for r in rs for t in r["per_type"]})
        walks = {}
        for bar in dict.fromkeys(b for r in rs for b in r["walks"]):
            walked = [r["walks"][bar] for r in rs if r["walks"].get(bar) is not None]
            walks[bar] = {
                "walked": len(walked),
                "steps_to_walk": _mean([w["step"] for w in walked]),
                "wall_to_walk_s": _mean([w["wall_time_s"] for w in walked]),
            }
        out[arm] = {
            "seeds": [r["seed"] for r in rs],
            "walks": walks,
            "final_return": _mean([r["final_return"] for r in rs]),
            "final_return_std": _std([r["final_return"] for r in rs]),
            "per_type": {
                t: {
                    k: _mean([r["per_type"].get(t, {}).get(k) for r in rs])
                    for k in ("success_rate", "vel_tracking_error_mps", "distance_m")
                }
                | {
                    k + "_std": _std([r["per_type"].get(t, {}).get(k) for r in rs])
                    for k in ("success_rate", "vel_tracking_error_mps")
                }
                for t in types
            },
        }
    return out


def _f(v: Optional[float], fmt: str) -> str:
    return "—" if v is None else fmt.format(v)


PER_TYPE_TITLES = {
    "success_rate": "Success per terrain type (mean over seeds; held-out suite seed):",
    "vel_tracking_error_mps": "Velocity-tracking error per terrain type (m/s, mean over seeds):",
    "distance_m": "Forward distance walked per terrain type (m, along the start heading, mean over seeds; the env "
    "samples the commands, some backwards or sideways; an arm that stands still survives but walks nowhere):",
}


def _per_type_table(
    agg: Dict[str, Any],
    nominal: Dict[str, Any],
    types: List[str],
    key: str,
    fmt: str,
    title: str,
    nominal_label: str = "nominal gait",
) -> List[str]:
    """Markdown lines: one row per arm and one for the reference (``nominal_label``), one column
    per terrain type."""
    lines = ["", title, "", "| arm | " + " | ".join(types) + " |", "|---|" + "---:|" * len(types)]
    for arm, a in agg.items():
        cells = (_f(a["per_type"].get(t, {}).get(key), fmt) for t in types)
        lines.append(f"| {ARM_LABELS.get(arm, arm)} | " + " | ".join(cells) + " |")
    lines.append(f"| {nominal_label} | " + " | ".join(_f(nominal.get(t, {}).get(key), fmt) for t in types) + " |")
    return lines


def write(result: Dict[str, Any], stem: str, out_dir: str = RESULTS_DIR) -> str:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, stem + ".json"), "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    agg, nominal = result["aggregate"], result["nominal_per_type"]
    label = result.get("nominal_label", "nominal gait")
    types = sorted(nominal) or sorted({t for a in agg.values() for t in a["per_type"]})
    arms = " vs ".join(ARM_LABELS.get(a, a) for a in result.get("arms", agg))
    lines = [
        f"# Ablation on the terrain suite: {arms} ({result['device']})",
        "",
        f"Command: `{result['command']}`  ",
        f"Versions: {result['versions']}  ",
        f"Training: task per arm, preset `{result['preset']}`, seeds {result['seeds']}, "
        f"{result['env_steps']:,d} env steps each, early stopping off, the same reward.  ",
        *[f"Walk bar `{b}`: {d}  " for b, d in result["bars"].items()],
        f"Final evaluation: {result['eval']}",
        "",
        "Time to walk (env steps and training wall-clock of the first checkpoint that meets the bar; mean over "
        "the seeds that reached it):",
        "",
        "| arm | "
        + " | ".join(f"`{b}` bar: reached | env steps | wall-clock (s)" for b in result["bars"])
        + " | final return |",
        "|---|" + "---:|---:|---:|" * len(result["bars"]) + "---:|",
    ]
    for arm, a in agg.items():
        cells = []
        for b in result["bars"]:
            w = a["walks"].get(b, {"walked": 0, "steps_to_walk": None, "wall_to_walk_s": None})
            cells += [
                f"{w['walked']} of {len(a['seeds'])}",
                _f(w["steps_to_walk"], "{:,.0f}"),
                _f(w["wall_to_walk_s"], "{:.0f}"),
            ]
        lines.append(
            f"| {ARM_LABELS.get(arm, arm)} | "
            + " | ".join(cells)
            + f" | {_f(a['final_return'], '{:.1f}')} ± {_f(a['final_return_std'], '{:.1f}')} |"
        )
    lines.append(
        f"| {label} | "
        + " | ".join(f"{'meets it' if result['nominal_walks'].get(b) else 'misses it'} | — | —" for b in result["bars"])
        + " | — |"
    )
    lines += _per_type_table(agg, nominal, types, "success_rate", "{:.0%}", PER_TYPE_TITLES["success_rate"], label)
    lines += _per_type_table(
        agg, nominal, types, "vel_tracking_error_mps", "{:.3f}", PER_TYPE_TITLES["vel_tracking_error_mps"], label
    )
    lines += _per_type_table(agg, nominal, types, "distance_m", "{:.2f}", PER_TYPE_TITLES["distance_m"], label)
    lines += [
        "",
        "Every run:",
        "",
        "| arm | seed | env steps | wall (s) | "
        + " | ".join(f"walks (`{b}` bar) at step" for b in result["bars"])
        + " | final return |",
        "|---|---:|---:|---:|" + "---:|" * len(result["bars"]) + "---:|",
    ]
    for r in result["runs"]:
        walks = [_f(r["walks"][b]["step"] if r["walks"].get(b) else None, "{:,d}") for b in result["bars"]]
        lines.append(
            f"| {ARM_LABELS.get(r['arm'], r['arm'])} | {r['seed']} | {r['env_steps']:,d} | "
            f"{_f(r['wall_time_s'], '{:.0f}')} | " + " | ".join(walks) + f" | {_f(r['final_return'], '{:.1f}')} |"
        )
    lines += ["", f"Learning curves: `{stem}.png`.", ""]
    with open(os.path.join(out_dir, stem + ".md"), "w") as fh:
        fh.write("\n".join(lines))
    _plot(result, os.path.join(out_dir, stem + ".png"))
    print("\n".join(lines))
    return os.path.join(out_dir, stem + ".md")


def _plot(result: Dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    colours = dict(zip(ARMS, ("tab:blue", "tab:purple", "tab:orange", "tab:green", "tab:red")))
    labelled = set()
    for r in result["runs"]:
        c = r["curve"]
        n = sum(q["arm"] == r["arm"] for q in result["runs"])
        label = None if r["arm"] in labelled else f"{ARM_LABELS.get(r['arm'], r['arm'])} ({n} seed{'s' * (n > 1)})"
        labelled.add(r["arm"])
        ax.plot(
            [p["step"] for p in c], [p["reward"] for p in c], color=colours.get(r["arm"], "k"), alpha=0.8, label=label
        )
    zero = [r["zero_residual_reward"] for r in result["runs"] if r["arm"] == "suite"]
    if zero:
        ax.axhline(zero[0], color="k", ls="--", label="nominal trot (zero residual)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("evaluation return (held-out suite)")
    ax.set_title(f"Ablation on the terrain suite ({result['device']})")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rewrite(json_path: str) -> str:
    """Write the tables and the plot again from a results JSON (after a change of their layout)."""
    with open(json_path) as fh:
        result = json.load(fh)
    stem = os.path.splitext(os.path.basename(json_path))[0]
    return write(result, stem, os.path.dirname(os.path.abspath(json_path)))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ablation", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", default="cpu_ship")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    p.add_argument("--episodes", type=int, default=2, help="final evaluation episodes per suite tile and arm")
    p.add_argument("--duration", type=float, default=20.0, help="final evaluation episode length [s]")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--output-dir", default="runs/benchmarks")
    p.add_argument("--out", default=RESULTS_DIR)
    p.add_argument("--quick", action="store_true", help="ci_tiny training, 1 episode of 2 s per tile")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="take finished runs of an arm and seed already in --output-dir instead of training again",
    )
    p.add_argument("--tag", default="", help="suffix of the results' file names (another budget beside the first)")
    p.add_argument("--rewrite", metavar="JSON", help="only write the tables and plot of a results JSON again")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    if args.rewrite:
        rewrite(args.rewrite)
        return {}
    cli.check_output_dirs(args, "--out", "--output-dir")
    bars = {name: load_walk_bar(path) for name, path in BARS.items()}
    if args.quick:
        import dataclasses

        args.preset, args.episodes, args.duration = "ci_tiny", 1, 2.0
        bars = {
            n: dataclasses.replace(
                b, duration_s=2.0, episodes=(len(b.types) * len(b.levels) if b.world == "suite" else len(b.bands))
            )
            for n, b in bars.items()
        }
    command = "python -m benchmarks.ablation " + " ".join(argv if argv is not None else sys.argv[1:])
    stem = f"ablation_suite_{device_name()}" + ("_quick" if args.quick else "") + (f"_{args.tag}" if args.tag else "")
    from evaluation.suite_evaluation import evaluate_policy

    t0 = time.time()
    runs: List[Dict[str, Any]] = []
    nominal, nominal_walks = None, {}
    reference = next((a for a in args.arms if a in GAIT_ARMS), args.arms[0])
    label = NOMINAL_LABELS.get(reference, f"zero action of {ARM_LABELS.get(reference, reference)}")
    result: Dict[str, Any] = {}
    for seed in args.seeds:
        for arm in args.arms:
            run_dir = train_arm(arm, args.preset, seed, args.output_dir, args.overrides, args.reuse)
            curve = summarize_run(run_dir)
            walks = {}
            for name, bar in bars.items():
                w = judge_run(run_dir, bar, args.processes, stop_at_first=True)
                if arm == reference:
                    nominal_walks[name] = w["nominal"]["walks"]
                walks[name] = (
                    None
                    if w["first_walking"] is None
                    else {k: w["first_walking"][k] for k in ("step", "wall_time_s", "success_rate", "speed_fraction")}
                )
            report = evaluate_policy(
                run_dir,
                episodes=args.episodes,
                duration=args.duration,
                worlds=("suite",),
                seed=0,
                include_nominal=nominal is None and arm == reference,
                processes=args.processes,
            )
            if nominal is None and arm == reference:
                nominal = per_type(report, "nominal")
            runs.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "run_dir": run_dir,
                    "env_steps": curve["env_steps"],
                    "wall_time_s": curve["wall_time_s"],
                    "final_return": curve["final_reward"],
                    "zero_residual_reward": curve["zero_residual_reward"],
                    "curve": curve["curve"],
                    "walks": walks,
                    "per_type": per_type(report, "policy"),
                }
            )
            # written after every run: a long ablation that is stopped keeps what it measured
            result = {
                "device": device_name(),
                "versions": _versions(),
                "command": command.strip(),
                "preset": args.preset,
                "seeds": args.seeds,
                "arms": args.arms,
                "env_steps": max(r["env_steps"] for r in runs),
                "bars": {
                    n: f"{b.episodes} episodes x {b.duration_s:g} s on {b.where()}, command "
                    f"{list(b.command)}; success >= {b.min_success_rate}, speed >= "
                    f"{b.min_speed_fraction} x vx"
                    for n, b in bars.items()
                },
                "nominal_walks": nominal_walks,
                "eval": f"{args.episodes} episode(s) of {args.duration:g} s per suite tile, held-out seed, "
                "commands sampled by the env",
                "runs": runs,
                "aggregate": aggregate(runs),
                "nominal_per_type": nominal or {},
                "nominal_label": label,
                "wall_time_s": time.time() - t0,
            }
            write(result, stem, args.out)
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

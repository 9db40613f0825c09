"""The ablation of the seed plan, on the real task: residual vs residual + gait modulation vs direct
joint targets, the same reward, preset, env-step budget and seeds (issue 18).

    python -m benchmarks.ablation [--preset cpu_ship] [--seeds 0 1 2] [key=value ...]
    python -m benchmarks.ablation --quick          # ci_tiny sizes: a smoke run of every step

For every seed and arm — the registered tasks ``suite`` (foot residuals on the nominal trot),
``modulated`` (the residuals plus step frequency, swing height and body height) and ``direct``
(joint targets around the home pose, no gait, no IK) — one training run with every checkpoint kept,
then:

1. **time to walk**: its checkpoints, oldest first, judged against the walk bar on the suite
   tiles where the nominal gait fails (``configs/walk_bar_suite.yaml``:
   :func:`benchmarks.time_to_walk.judge_run`); env steps and training wall-clock of the first
   that walks (none: the bar was not reached within the budget);
2. **final evaluation** of its export on the held-out suite seed (``playback.evaluate``, C MuJoCo,
   the same seeded episodes for every arm; the nominal gait once): success and velocity-tracking
   error per terrain type;
3. its **learning curve** (evaluation return vs env steps, ``progress.jsonl``).

Writes ``benchmarks/results/ablation_suite_<device>[_quick].json`` / ``.md`` (per arm: mean ±
std over seeds, and every run) / ``.png`` (learning curves, one colour per arm).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from benchmarks.env_throughput import RESULTS_DIR, _versions, device_name
from benchmarks.learning_signal import summarize_run
from benchmarks.time_to_walk import judge_run, load_walk_bar
from model.simulation_config import REPO_ROOT

ARMS = ("suite", "modulated", "direct")
"""Registered tasks (train/tasks.py) compared: residual, residual + modulation, direct."""
ARM_LABELS = {"suite": "residual", "modulated": "residual + modulation", "direct": "direct joint targets"}
SUITE_BAR = os.path.join(REPO_ROOT, "configs", "walk_bar_suite.yaml")


def train_arm(arm: str, preset: str, seed: int, out: str, overrides: Sequence[str]) -> str:
    """One training run of task ``arm`` (every checkpoint kept, no early stopping); its run dir."""
    from train.__main__ import main as train_main

    res = train_main(["--task", arm, "--preset", preset, "--output-dir", out, "--name", f"ablation_{arm}_s{seed}",
                      f"ppo.seed={seed}", "run.early_stopping.enabled=false", "run.keep_checkpoints=0", *overrides])
    return res.run_dir


def per_type(report: Dict[str, Any], controller: str) -> Dict[str, Dict[str, Optional[float]]]:
    """Success rate and mean velocity-tracking error [m/s] per terrain type of a suite evaluation."""
    out: Dict[str, Dict[str, Optional[float]]] = {}
    for e in report["results"][controller]["suite"]["episodes"]:
        d = out.setdefault(e["terrain_type"], {"n": 0, "ok": 0, "err": []})
        d["n"] += 1
        d["ok"] += int(not e["fell"])
        if e.get("vel_tracking_error_mps") is not None:
            d["err"].append(e["vel_tracking_error_mps"])
    return {t: {"success_rate": d["ok"] / d["n"], "vel_tracking_error_mps": _mean(d["err"]), "episodes": d["n"]}
            for t, d in out.items()}


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
    """Per arm over its seeds: how many reached the walk bar, env steps and wall-clock to it (mean
    over those that did), final return, and per terrain type success and tracking error (mean, std)."""
    out: Dict[str, Dict[str, Any]] = {}
    for arm in dict.fromkeys(r["arm"] for r in runs):
        rs = [r for r in runs if r["arm"] == arm]
        walked = [r["walk"] for r in rs if r["walk"] is not None]
        types = sorted({t for r in rs for t in r["per_type"]})
        out[arm] = {
            "seeds": [r["seed"] for r in rs],
            "walked": len(walked),
            "steps_to_walk": _mean([w["step"] for w in walked]),
            "wall_to_walk_s": _mean([w["wall_time_s"] for w in walked]),
            "final_return": _mean([r["final_return"] for r in rs]),
            "final_return_std": _std([r["final_return"] for r in rs]),
            "per_type": {t: {k: _mean([r["per_type"].get(t, {}).get(k) for r in rs]) for k in
                             ("success_rate", "vel_tracking_error_mps")}
                         | {k + "_std": _std([r["per_type"].get(t, {}).get(k) for r in rs]) for k in
                            ("success_rate", "vel_tracking_error_mps")} for t in types},
        }
    return out


def _f(v: Optional[float], fmt: str) -> str:
    return "—" if v is None else fmt.format(v)


def write(result: Dict[str, Any], stem: str, out_dir: str = RESULTS_DIR) -> str:
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, stem + ".json"), "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    agg, nominal = result["aggregate"], result["nominal_per_type"]
    types = sorted(nominal)
    lines = [f"# Ablation on the terrain suite: residual vs residual + modulation vs direct ({result['device']})", "",
             f"Command: `{result['command']}`  ", f"Versions: {result['versions']}  ",
             f"Training: task per arm, preset `{result['preset']}`, seeds {result['seeds']}, "
             f"{result['env_steps']:,d} env steps each, early stopping off, the same reward.  ",
             f"Walk bar: {result['bar']}  ",
             f"Final evaluation: {result['eval']}", "",
             "| arm | reached the walk bar | env steps to it | wall-clock to it (s) | final return |",
             "|---|---:|---:|---:|---:|"]
    for arm, a in agg.items():
        lines.append(f"| {ARM_LABELS.get(arm, arm)} | {a['walked']} of {len(a['seeds'])} | "
                     f"{_f(a['steps_to_walk'], '{:,.0f}')} | {_f(a['wall_to_walk_s'], '{:.0f}')} | "
                     f"{_f(a['final_return'], '{:.1f}')} ± {_f(a['final_return_std'], '{:.1f}')} |")
    lines += ["", "Success per terrain type (mean over seeds; held-out suite seed):", "",
              "| arm | " + " | ".join(types) + " |", "|---|" + "---:|" * len(types)]
    for arm, a in agg.items():
        lines.append(f"| {ARM_LABELS.get(arm, arm)} | " + " | ".join(
            _f(a["per_type"].get(t, {}).get("success_rate"), "{:.0%}") for t in types) + " |")
    lines.append("| nominal gait | " + " | ".join(_f(nominal[t]["success_rate"], "{:.0%}") for t in types) + " |")
    lines += ["", "Velocity-tracking error per terrain type (m/s, mean over seeds):", "",
              "| arm | " + " | ".join(types) + " |", "|---|" + "---:|" * len(types)]
    for arm, a in agg.items():
        lines.append(f"| {ARM_LABELS.get(arm, arm)} | " + " | ".join(
            _f(a["per_type"].get(t, {}).get("vel_tracking_error_mps"), "{:.3f}") for t in types) + " |")
    lines.append("| nominal gait | " + " | ".join(
        _f(nominal[t]["vel_tracking_error_mps"], "{:.3f}") for t in types) + " |")
    lines += ["", "Every run:", "", "| arm | seed | env steps | wall (s) | walks at step | final return |",
              "|---|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(f"| {ARM_LABELS.get(r['arm'], r['arm'])} | {r['seed']} | {r['env_steps']:,d} | "
                     f"{_f(r['wall_time_s'], '{:.0f}')} | {_f(r['walk']['step'] if r['walk'] else None, '{:,d}')} | "
                     f"{_f(r['final_return'], '{:.1f}')} |")
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
    colours = dict(zip(ARMS, ("tab:blue", "tab:orange", "tab:green")))
    for r in result["runs"]:
        c = r["curve"]
        ax.plot([p["step"] for p in c], [p["reward"] for p in c], color=colours.get(r["arm"], "k"), alpha=0.8,
                label=f"{ARM_LABELS.get(r['arm'], r['arm'])} (seed {r['seed']})")
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
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    bar = load_walk_bar(SUITE_BAR)
    if args.quick:
        import dataclasses

        args.preset, args.episodes, args.duration = "ci_tiny", 1, 2.0
        bar = dataclasses.replace(bar, episodes=len(bar.types) * len(bar.levels), duration_s=2.0)
    command = "python -m benchmarks.ablation " + " ".join(argv if argv is not None else sys.argv[1:])
    from playback.evaluate import evaluate_policy

    t0 = time.time()
    runs: List[Dict[str, Any]] = []
    nominal = None
    for seed in args.seeds:
        for arm in args.arms:
            run_dir = train_arm(arm, args.preset, seed, args.output_dir, args.overrides)
            curve = summarize_run(run_dir)
            walk = judge_run(run_dir, bar, args.processes, stop_at_first=True)
            report = evaluate_policy(run_dir, episodes=args.episodes, duration=args.duration, worlds=("suite",),
                                     seed=0, include_nominal=nominal is None, processes=args.processes)
            if nominal is None:
                nominal = per_type(report, "nominal")
            runs.append({"arm": arm, "seed": seed, "run_dir": run_dir, "env_steps": curve["env_steps"],
                         "wall_time_s": curve["wall_time_s"], "final_return": curve["final_reward"],
                         "zero_residual_reward": curve["zero_residual_reward"], "curve": curve["curve"],
                         "walk": (None if walk["first_walking"] is None else
                                  {k: walk["first_walking"][k] for k in ("step", "wall_time_s", "success_rate",
                                                                         "speed_fraction")}),
                         "nominal_walks": walk["nominal"]["walks"], "per_type": per_type(report, "policy")})
    result = {"device": device_name(), "versions": _versions(), "command": command.strip(), "preset": args.preset,
              "seeds": args.seeds, "arms": args.arms, "env_steps": max(r["env_steps"] for r in runs),
              "bar": f"{bar.episodes} episodes x {bar.duration_s:g} s on {bar.where()}, command {list(bar.command)}; "
                     f"success >= {bar.min_success_rate}, speed >= {bar.min_speed_fraction} x vx",
              "eval": f"{args.episodes} episode(s) of {args.duration:g} s per suite tile, held-out seed, "
                      "commands sampled by the env",
              "runs": runs, "aggregate": aggregate(runs), "nominal_per_type": nominal,
              "wall_time_s": time.time() - t0}
    write(result, f"ablation_suite_{result['device']}" + ("_quick" if args.quick else ""), args.out)
    return result


if __name__ == "__main__":
    main()

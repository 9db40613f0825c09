"""Ablation: residual actions on the Bézier trot vs direct joint targets (no gait), same budget.

    python -m benchmarks.ablation_residual_vs_direct [--preset cpu_flat] [--seeds 0] [--episodes 8]
                                                     [--duration 20] [key=value ...]
    python -m benchmarks.ablation_residual_vs_direct --quick     # tiny sizes, minutes; for the test

For every seed, trains twice with the same preset, budget and seed — ``env.action_mode=residual``
(the policy adds per-foot residuals to the nominal trot) and ``direct`` (the policy outputs joint
targets around the home pose: ``ctrl = home + action * env.direct_scale``, the plan's "direct
control" baseline) — then evaluates both exports with ``playback.evaluate`` on the same seeded
flat and rough episodes (C MuJoCo). Writes ``benchmarks/results/ablation_<device>[_quick].json``
/ ``.md`` (final evaluation side by side) / ``.png`` (learning curves: evaluation return vs env
steps for both modes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, List, Optional

from benchmarks.env_throughput import RESULTS_DIR, _versions, device_name
from benchmarks.learning_signal import summarize_run

MODES = ("residual", "direct")


def _train(preset: str, mode: str, seed: int, out: str, overrides: List[str]) -> str:
    from train.__main__ import main as train_main

    presets = preset if mode == "residual" else f"{preset},direct"
    res = train_main(["--preset", presets, "--output-dir", out, "--name", f"ablation_{mode}_s{seed}",
                      f"ppo.seed={seed}", "run.early_stopping.enabled=false", *overrides])
    return res.run_dir


def _summary_rows(report: Dict[str, Any], controller: str) -> Dict[str, Dict[str, Any]]:
    out = {}
    for world, r in report["results"].get(controller, {}).items():
        s = r["summary"]
        out[world] = {k: s.get(k) for k in s if not isinstance(s.get(k), (list, dict))}
    return out


def write(result: Dict[str, Any], stem: str) -> None:
    os.makedirs(RESULTS_DIR, exist_ok=True)
    with open(os.path.join(RESULTS_DIR, stem + ".json"), "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    lines = [
        f"# Residual vs direct actions ({result['device']})",
        "",
        f"Command: `{result['command']}`  ",
        f"Versions: {result['versions']}  ",
        f"Training: preset `{result['preset']}` (+ `direct` for the direct mode), "
        f"seeds {result['seeds']}, {result['env_steps']:,d} env steps each, early stopping off.  ",
        f"Evaluation: {result['episodes']} episodes of {result['duration']} s per world (C MuJoCo, same seeded "
        "episodes for every controller; rough = spawn bands used in turn).",
        "",
        "| controller | seed | world | success | distance (m) | speed (m/s) | vel err (m/s) | CoT "
        "| final eval return (train env) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        f = lambda k, fmt: fmt.format(row[k]) if row.get(k) is not None else "-"  # noqa: E731
        lines.append(
            f"| {row['controller']} | {row['seed']} | {row['world']} | {f('success_rate', '{:.2f}')} | "
            f"{f('distance_m_mean', '{:.2f}')} | {f('mean_forward_speed_mps', '{:.3f}')} | "
            f"{f('vel_tracking_error_mps', '{:.3f}')} | {f('cost_of_transport', '{:.2f}')} | "
            f"{f('final_eval_return', '{:.1f}')} |"
        )
    lines += ["", "Learning curves: `" + stem + ".png`.", ""]
    with open(os.path.join(RESULTS_DIR, stem + ".md"), "w") as fh:
        fh.write("\n".join(lines))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for key, curve in result["curves"].items():
        ax.plot([c["step"] for c in curve["curve"]], [c["reward"] for c in curve["curve"]], marker="o", label=key)
    zero = [c["zero_residual_reward"] for k, c in result["curves"].items() if k.startswith("residual")]
    if zero:
        ax.axhline(zero[0], color="k", ls="--", label="nominal trot (zero residual)")
    ax.set_xlabel("env steps")
    ax.set_ylabel("eval episode return (training env)")
    ax.set_title(f"Residual vs direct ({result['device']})")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(RESULTS_DIR, stem + ".png"), dpi=110)
    plt.close(fig)
    print("\n".join(lines))


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.ablation_residual_vs_direct", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--preset", default="cpu_flat")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--episodes", type=int, default=8, help="evaluation episodes per world and controller")
    p.add_argument("--duration", type=float, default=20.0, help="evaluation episode length [s]")
    p.add_argument("--output-dir", default="runs/benchmarks")
    p.add_argument("--quick", action="store_true", help="ci_tiny training, 2 episodes of 2 s (a smoke run)")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    if args.quick:
        args.preset, args.episodes, args.duration = "ci_tiny", 2, 2.0
    command = "python -m benchmarks.ablation_residual_vs_direct " + " ".join(argv if argv is not None else sys.argv[1:])
    from playback.evaluate import evaluate_policy
    from train.export import load_policy

    t0 = time.time()
    rows, curves, env_steps = [], {}, 0
    for seed in args.seeds:
        for mode in MODES:
            run_dir = _train(args.preset, mode, seed, args.output_dir, args.overrides)
            curve = summarize_run(run_dir)
            curves[f"{mode} s{seed}"] = curve
            env_steps = curve["env_steps"]
            report = evaluate_policy(
                load_policy(run_dir),
                episodes=args.episodes,
                duration=args.duration,
                seed=seed,
                include_nominal=(mode == "residual"),
            )
            for controller in ["policy", "nominal"] if mode == "residual" else ["policy"]:
                for world, summary in _summary_rows(report, controller).items():
                    name = mode if controller == "policy" else "nominal trot (no policy)"
                    rows.append(
                        {
                            "controller": name,
                            "seed": seed,
                            "world": world,
                            "run_dir": run_dir,
                            "final_eval_return": curve["final_reward"]
                            if controller == "policy"
                            else curve["zero_residual_reward"]
                            if mode == "residual"
                            else None,
                            **summary,
                        }
                    )
    result = {
        "device": device_name(),
        "versions": _versions(),
        "command": command.strip(),
        "preset": args.preset,
        "seeds": args.seeds,
        "episodes": args.episodes,
        "duration": args.duration,
        "env_steps": env_steps,
        "rows": rows,
        "curves": curves,
        "wall_time_s": time.time() - t0,
    }
    write(result, f"ablation_{result['device']}" + ("_quick" if args.quick else ""))
    return result


if __name__ == "__main__":
    main()

"""Single-observation inference latency: numpy (``ExportedPolicy.act``) vs onnxruntime.

One observation -> one action, batch 1, the robot's case: ``ExportedPolicy.act(obs)`` (the numpy
forward pass of the msgpack export, what playback runs) and ``InferenceSession.run`` on the
export's ``policy.onnx`` (CPU provider, 1 thread; also through ``OnnxPolicy.act``, which adds the
Python wrapper). N calls after a warm-up, each timed with ``perf_counter_ns``; median and p99 in
microseconds and the headroom against the 50 Hz control loop (20 ms per step).

    python -m benchmarks.inference_latency [--policy policies/quad12_rough_h200] [--n 2000]

Writes ``benchmarks/results/inference_latency_<device>.json`` / ``.md`` (``<device>``:
:func:`benchmarks.env_throughput.device_name`). Needs ``pip install -e .[deploy]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from benchmarks import cli
from benchmarks.env_throughput import RESULTS_DIR, device_name

DEFAULT_POLICY = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "policies", "quad12_rough_h200"
)
CONTROL_PERIOD_US = 20_000.0  # 50 Hz


def time_calls(fn: Callable[[np.ndarray], object], obs: np.ndarray, n: int, warmup: int) -> Dict[str, float]:
    """Latency statistics (µs) of ``fn(obs[i])`` over ``n`` calls after ``warmup`` calls."""
    for i in range(warmup):
        fn(obs[i % len(obs)])
    t = np.empty(n, np.float64)
    for i in range(n):
        o = obs[i % len(obs)]
        t0 = time.perf_counter_ns()
        fn(o)
        t[i] = time.perf_counter_ns() - t0
    us = t / 1e3
    med, p99 = float(np.median(us)), float(np.percentile(us, 99))
    return {
        "median_us": med,
        "p99_us": p99,
        "mean_us": float(us.mean()),
        "max_us": float(us.max()),
        "headroom_median": CONTROL_PERIOD_US / med,
        "headroom_p99": CONTROL_PERIOD_US / p99,
        "budget_used_p99_pct": 100.0 * p99 / CONTROL_PERIOD_US,
    }


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m benchmarks.inference_latency", description=__doc__.split("\n")[0])
    p.add_argument("--policy", default=DEFAULT_POLICY, help="export directory holding policy.msgpack and policy.onnx")
    p.add_argument("--n", type=int, default=2000, help="timed calls per path")
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--out", default=RESULTS_DIR)
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")

    import onnxruntime as ort

    from deploy.onnx_policy import INPUT_NAME, ONNX_FILE, OUTPUT_NAME, load_onnx_policy, random_observations
    from deploy.policy_loader import load_policy

    flax_pol = load_policy(args.policy)
    onnx_path = os.path.join(flax_pol.export_dir, ONNX_FILE)
    onnx_pol = load_onnx_policy(onnx_path)
    sess = onnx_pol.session  # CPU provider, intra/inter-op threads = 1
    obs = random_observations(256, flax_pol.observation_size, seed=1, scale=1.0)
    batch1 = [o[None, :] for o in obs]
    rows = {
        "numpy ExportedPolicy.act": time_calls(flax_pol.act, obs, args.n, args.warmup),
        "onnxruntime InferenceSession.run": time_calls(
            lambda o: sess.run([OUTPUT_NAME], {INPUT_NAME: o}), np.asarray(batch1), args.n, args.warmup
        ),
        "onnxruntime OnnxPolicy.act": time_calls(onnx_pol.act, obs, args.n, args.warmup),
    }
    result = {
        "device": device_name(),
        "policy": os.path.relpath(flax_pol.export_dir, os.getcwd()),
        "network": flax_pol.meta["policy"]["layers"],
        "activation": flax_pol.meta["policy"]["activation"],
        "n_calls": args.n,
        "warmup": args.warmup,
        "batch": 1,
        "control_period_us": CONTROL_PERIOD_US,
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "onnxruntime": ort.__version__},
        "cpu_count": os.cpu_count(),
        "ort_threads": 1,
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "rows": rows,
    }
    os.makedirs(args.out, exist_ok=True)
    stem = f"inference_latency_{result['device']}"
    with open(os.path.join(args.out, stem + ".json"), "w") as fh:
        json.dump(result, fh, indent=2)
    lines = [
        f"# Inference latency, one observation -> action ({result['device']})",
        "",
        f"Policy `{result['policy']}` (MLP {result['network']}, {result['activation']}), batch 1, "
        f"{args.n} calls after {args.warmup} warm-up, {result['date_utc']} UTC; onnxruntime "
        f"{ort.__version__} (CPU provider, 1 thread), numpy {np.__version__}. Headroom = 20 ms (50 Hz "
        f"control step) / latency.",
        "",
        "| path | median (µs) | p99 (µs) | headroom at median | headroom at p99 | p99 share of 20 ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        lines.append(
            f"| {name} | {r['median_us']:.1f} | {r['p99_us']:.1f} | {r['headroom_median']:,.0f}× | "
            f"{r['headroom_p99']:,.0f}× | {r['budget_used_p99_pct']:.2f} % |"
        )
    md = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, stem + ".md"), "w") as fh:
        fh.write(md)
    print(md)
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

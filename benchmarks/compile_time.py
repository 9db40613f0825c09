"""Time to the first evaluation of ``python -m train``, cold and warm, per persistent-cache setting.

    python -m benchmarks.compile_time                        # preset ci_tiny, this machine's back end
    python -m benchmarks.compile_time --preset cpu_flat --thresholds 2 0
    python -m benchmarks.compile_time --quick                # ci_tiny, one threshold (CI)

For each value of ``run.jax_cache_min_compile_s`` (computations that compile faster are not
written to the persistent JAX cache) the same run is started twice in fresh processes on an empty
cache directory: **cold** (nothing cached) and **warm** (the cache the cold run left). Reported per
run: seconds from process start to the first evaluation (the step-0 evaluation needs the evaluation
programs; the training program compiles right after it), to the first training progress after it,
and the process's whole wall-clock; plus the cache's size and file count. Writes
``benchmarks/results/compile_time_<device>.{json,md}`` (``--out``).

Also states the matmul precision in force (``jax_default_matmul_precision``; on a GPU, TF32 vs
highest is the setting that matters for speed, on a CPU it changes nothing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List

from benchmarks import cli
from benchmarks.results_files import write_json, write_markdown
from benchmarks.train_process import REPO

RESULTS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _cache_stats(path: str) -> Dict[str, Any]:
    files = [os.path.join(r, f) for r, _, fs in os.walk(path) for f in fs]
    return {"files": len(files), "mb": round(sum(os.path.getsize(f) for f in files) / 1e6, 1)}


def one_run(preset: str, cache: str, threshold: float, work: str, extra: List[str]) -> Dict[str, Any]:
    """One ``python -m train`` process on ``cache``; the seconds to its milestones."""
    from train.progress import read_progress

    name = f"t{len(os.listdir(work))}"
    cmd = [
        sys.executable,
        "-m",
        "train",
        "--preset",
        preset,
        "--output-dir",
        work,
        "--name",
        name,
        f"run.jax_cache_min_compile_s={threshold}",
        *extra,
    ]
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=cache)
    t0 = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    run_dir = next(os.path.join(work, d) for d in os.listdir(work) if d.endswith("_" + name))
    device = read_progress(run_dir, "device")[0]
    evals = read_progress(run_dir, "eval")
    train = read_progress(run_dir, "train")
    start = device["time_s"]  # the logger starts after the imports; its clock is relative to that
    return {
        "wall_s": round(wall, 1),
        "first_eval_s": round(evals[0]["time_s"] - start, 1),
        "first_train_s": round(train[0]["time_s"] - start, 1) if train else None,
        "startup_s": round(wall - (evals[-1]["time_s"] - start), 1),
        "physics": device.get("physics"),
        "device": device.get("device"),
        "cache": _cache_stats(cache),
    }


def measure(preset: str, thresholds: List[float], extra: List[str]) -> Dict[str, Any]:
    import jax

    from train.ppo_setup import device_label

    rows = []
    for th in thresholds:
        work = tempfile.mkdtemp(prefix="compile_time_")
        cache = os.path.join(work, "jax_cache")
        os.makedirs(os.path.join(work, "runs"))
        runs = os.path.join(work, "runs")
        cold = one_run(preset, cache, th, runs, extra)
        warm = one_run(preset, cache, th, runs, extra)
        rows.append({"threshold_s": th, "cold": cold, "warm": warm})
        shutil.rmtree(work, ignore_errors=True)
        print(
            f"min_compile_s={th:g}: first eval cold {cold['first_eval_s']} s, warm {warm['first_eval_s']} s; "
            f"wall cold {cold['wall_s']} s, warm {warm['wall_s']} s; cache {warm['cache']}"
        )
    return {
        "device": device_label(),
        "jax_backend": jax.default_backend(),
        "preset": preset,
        "matmul_precision": str(jax.config.jax_default_matmul_precision or "default"),
        "command": "python -m benchmarks.compile_time " + " ".join(sys.argv[1:]),
        "extra": extra,
        "rows": rows,
        "date": time.strftime("%Y-%m-%d"),
    }


def write(result: Dict[str, Any], out_dir: str) -> str:
    stem = write_json(result, out_dir, f"compile_time_{result['device']}")
    lines = [
        f"# Time to the first evaluation, cold and warm cache — `{result['preset']}` on {result['device']}",
        "",
        f"Command: `{result['command']}` ({result['date']}; every run a fresh process; physics "
        f"{result['rows'][0]['cold']['physics']}; matmul precision: {result['matmul_precision']})",
        "",
        "| cache min compile s | run | first eval s | first training log s | whole run s | cache files | cache MB |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        for kind in ("cold", "warm"):
            x = r[kind]
            lines.append(
                f"| {r['threshold_s']:g} | {kind} | {x['first_eval_s']} | {x['first_train_s']} | "
                f"{x['wall_s']} | {x['cache']['files']} | {x['cache']['mb']} |"
            )
    lines += [
        "",
        "first eval: seconds from the logger's start (after the imports) to the step-0 evaluation, which "
        "needs the evaluation programs compiled; first training log: to the first training-metrics "
        "line (the training program compiled and one epoch run); whole run: the process's wall-clock.",
    ]
    return write_markdown(stem, lines)


def main(argv=None) -> Dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="ci_tiny")
    p.add_argument("--thresholds", type=float, nargs="+", default=[2.0, 0.0])
    p.add_argument("--quick", action="store_true", help="ci_tiny, one threshold (0)")
    p.add_argument("--out", default=RESULTS_DIR)
    p.add_argument("overrides", nargs="*", help="extra key=value overrides for every run")
    args = p.parse_args(argv)
    cli.check_output_dirs(args, "--out")
    if args.quick:
        args.preset, args.thresholds = "ci_tiny", [0.0]
    result = measure(args.preset, args.thresholds, list(args.overrides))
    print(open(write(result, args.out)).read())
    return result


if __name__ == "__main__":
    sys.exit(cli.run(main))

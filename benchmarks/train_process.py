"""One ``python -m train`` run in a fresh process, as a newcomer starts it: the helper the
training benchmarks (``make_train_cpu.py``, ``train_backends.py``) share."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train_fresh(args: Sequence[str], name: str) -> Tuple[str, float, str, List[str]]:
    """Run ``python -m train --output-dir TMP --name NAME ARGS`` from the repository root with an
    empty JAX compilation cache (cold, like a first run). Returns ``(run_dir, wall-clock [s],
    stdout, the command)``; RuntimeError with the output's tail if the process fails."""
    work = tempfile.mkdtemp(prefix=f"train_{name}_")
    cmd = [sys.executable, "-m", "train", "--output-dir", work, "--name", name, *args]
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(work, "jax_cache"))
    t = time.time()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    (run_dir,) = glob.glob(os.path.join(work, f"*_{name}"))
    return run_dir, wall, proc.stdout, cmd


def eval_curve(evals: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The learning curve of a run's ``eval`` records: step, reward, tracking error [m/s], fall rate."""
    return [
        {
            "step": e["step"],
            "reward": e["reward"],
            "vel_err": e["vel_tracking_error_per_step"],
            "fall_rate": e["fall_rate"],
        }
        for e in evals
    ]

"""Shared pytest setup: a persistent JAX compilation cache (speeds up re-runs) and CPU-friendly flags."""

import ctypes.util  # noqa: E402
import os

import pytest

if "MUJOCO_GL" not in os.environ and ctypes.util.find_library("OSMesa"):
    os.environ["MUJOCO_GL"] = "osmesa"  # headless offscreen rendering on CPU machines
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
# Tests compile far more than they run (tiny batches, short rollouts): LLVM's optimisation level 0
# roughly halves XLA's CPU compile time (MJX step of the flat world: 57 -> 29 s) for 2.3x slower
# kernels (13 -> 31 ms per batched step). Subprocesses inherit it; test_make_train, which measures
# learning at the user's settings, removes it. Set XLA_FLAGS yourself to override.
os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")

import jax  # noqa: E402

_CACHE = os.environ.get("JAX_COMPILATION_CACHE_DIR", os.path.join(os.path.dirname(__file__), "..", ".jax_cache"))
jax.config.update("jax_compilation_cache_dir", os.path.abspath(_CACHE))
# every program, as train.config run.jax_cache_min_compile_s = 0
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)


@pytest.fixture(scope="session")
def repo_root():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

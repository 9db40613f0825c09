"""Run-directory naming shared by the Brax and SB3 entry points: ``<output_dir>/YYYYMMDD_HHMM[_name]``."""

from __future__ import annotations

import datetime
import os
from typing import Optional


def make_run_dir(output_dir: str, name: str = "", now: Optional[datetime.datetime] = None) -> str:
    """Create and return a fresh run directory; a clash (same minute and name) gets ``-2``, ``-3``, ..."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d_%H%M")
    base = os.path.join(output_dir, f"{stamp}_{name}" if name else stamp)
    path, n = base, 1
    while True:
        try:
            os.makedirs(path, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"


def setup_jax_cache(cache_dir: Optional[str]) -> Optional[str]:
    """Point JAX's persistent compilation cache at ``cache_dir`` (relative: to the repo root).

    ``JAX_COMPILATION_CACHE_DIR`` in the environment wins. Returns the directory used (None: off).
    """
    import jax

    from model.simulation_config import REPO_ROOT

    env = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    path = env or (None if not cache_dir else (cache_dir if os.path.isabs(cache_dir) else os.path.join(REPO_ROOT, cache_dir)))
    if path:
        jax.config.update("jax_compilation_cache_dir", os.path.abspath(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 2.0)
    return path

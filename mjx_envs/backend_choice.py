"""Which physics back end can run here: ``simulation.backend`` and ``simulation.impl`` resolved.

``simulation.backend``: ``mjx``, ``cmujoco`` or ``auto`` (the default): ``cmujoco`` when JAX's
default device is the CPU, ``mjx`` otherwise. ``simulation.impl``: ``jax`` (MJX's own physics, runs
everywhere) or ``warp`` (MuJoCo Warp, NVIDIA GPUs only). :func:`mjx_envs.backends.make_env` builds
the env of the resolved back end.
"""

from __future__ import annotations

from typing import Optional

from model.simulation_config import SimulationConfig
from model.yaml_config import ConfigError

BACKENDS = ("mjx", "cmujoco")


def resolve_backend(sim: SimulationConfig) -> str:
    """``"mjx"`` or ``"cmujoco"`` for ``sim.backend`` (``auto``: ``cmujoco`` on a CPU-only JAX)."""
    backend = getattr(sim, "backend", "auto")
    if backend == "auto":
        import jax

        return "cmujoco" if jax.default_backend() == "cpu" else "mjx"
    if backend not in BACKENDS:
        raise ValueError(f"simulation.backend must be one of auto, {', '.join(BACKENDS)}; got {backend!r}")
    return backend


def check_impl(sim: SimulationConfig, backend: Optional[str] = None) -> str:
    """``sim.impl`` if it can run here, else a ConfigError saying why. ``warp`` (MuJoCo Warp) needs
    the MJX back end, an NVIDIA GPU seen by JAX (CUDA) and the ``warp`` module (``warp-lang``)."""
    impl = getattr(sim, "impl", "jax")
    if impl == "jax":
        return impl
    backend = backend or resolve_backend(sim)
    problems = []
    if backend != "mjx":
        problems.append(
            f"it applies to the MJX back end only, and this run's physics is '{backend}' (set simulation.backend=mjx)"
        )
    import importlib.util

    import jax

    if jax.default_backend() != "gpu":
        problems.append(
            f"it runs on NVIDIA GPUs only (CUDA), and JAX's default device here is '{jax.default_backend()}'"
        )
    if importlib.util.find_spec("warp") is None:
        problems.append(
            "the 'warp' module is not installed (pip install warp-lang==1.18.0, the version mujoco-mjx[warp] pins)"
        )
    if problems:
        raise ConfigError(
            "simulation.impl=warp (MuJoCo Warp) cannot run here: "
            + "; ".join(problems)
            + ". simulation.impl=jax (the default) runs everywhere."
        )
    return impl

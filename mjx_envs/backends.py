"""Which physics back end the training env uses: MJX (JAX, the GPU path) or batched C MuJoCo.

``simulation.backend`` in the config: ``mjx``, ``cmujoco`` or ``auto`` (the default): ``cmujoco``
when JAX's default device is the CPU, ``mjx`` otherwise. Both envs share the episode logic and
the ``reset`` / ``reset_from`` / ``step`` interface; :func:`make_env` builds the resolved one.
"""

from __future__ import annotations

from typing import Optional

from gait.gait_config import GaitConfig
from mjx_envs.backend_choice import BACKENDS, check_impl, resolve_backend  # noqa: F401
from mjx_envs.env_config import EnvConfig
from model.simulation_config import SimulationConfig


def make_env(
    sim: Optional[SimulationConfig] = None, env: Optional[EnvConfig] = None, gait: Optional[GaitConfig] = None
):
    """The unbatched training env of the resolved back end: ``MjxResidualWalk`` (MJX) or
    ``CMujocoResidualWalk`` (C MuJoCo behind ``jax.pure_callback``)."""
    sim = sim or SimulationConfig()
    check_impl(sim)
    if resolve_backend(sim) == "cmujoco":
        from mjx_envs.cmujoco_env import CMujocoResidualWalk

        return CMujocoResidualWalk(sim, env, gait)
    from mjx_envs.residual_walk import MjxResidualWalk

    return MjxResidualWalk(sim, env, gait)

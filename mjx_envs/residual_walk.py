"""``MjxResidualWalk``: the residual-walking environment on MJX (batched, jit-able, Brax-PPO-ready).

    env = MjxResidualWalk()                    # flat world, default configs
    state = jax.jit(env.reset)(jax.random.PRNGKey(0))
    state = jax.jit(env.step)(state, action)   # action: (12,) in [-1, 1]

Every control step: gait -> nominal foot targets; target = nominal + residual; IK; ``data.ctrl``;
``n_substeps`` MJX physics steps; then observation, reward terms, termination (all shared with
the Gymnasium twin through ``mjx_envs.episode_logic``). Per-episode randomness lives in
``state.info`` (never on ``self``); ``reset_from`` lets the training wrapper carry the terrain
curriculum level across auto-resets.

``done`` = 1 ends an episode; when it ended by leaving the map (rough world) it is a truncation,
not a failure: ``state.info["truncation"]`` = 1 as well (brax's convention, kept by
``training_wrappers.EpisodeWrapper``, which adds the time limit).
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
from mujoco import mjx

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.backend_choice import check_impl
from mjx_envs.env_config import EnvConfig
from mjx_envs.env_properties import ContextEnvProperties
from mjx_envs.measurements import measure
from mjx_envs.state import State
from model.simulation_config import SimulationConfig


class MjxResidualWalk(ContextEnvProperties):
    """MJX residual-walking environment (see module docstring)."""

    def __init__(
        self, sim: Optional[SimulationConfig] = None, env: Optional[EnvConfig] = None, gait: Optional[GaitConfig] = None
    ):
        self.ctx = logic.make_context(sim or SimulationConfig(), env or EnvConfig(), gait or GaitConfig())
        self.mj_model = self.ctx.mj_model
        self.impl = check_impl(self.ctx.sim, "mjx")  # "jax", or "warp" where MuJoCo Warp can run
        # MJX's default device is jax.devices()[0], which in a multi-process run belongs to process 0
        self.device = jax.local_devices()[0]
        self.mjx_model = mjx.put_model(self.mj_model, impl=self.impl, device=self.device)
        self._dr_base = {k: getattr(self.mjx_model, k) for k in logic.DR_FIELDS}

    def _model(self, info):
        if not self.ctx.env.domain_randomization.any_enabled:
            return self.mjx_model
        return self.mjx_model.replace(**logic.randomized_model_fields(self.ctx, self._dr_base, info["dr"]))

    def reset(
        self, rng: jax.Array, terrain_level: Optional[jax.Array] = None, terrain_type: Optional[jax.Array] = None
    ) -> State:
        """New episode from ``rng`` (deterministic); ``terrain_level`` picks the spawn band (rough)
        or difficulty row (suite), ``terrain_type`` the suite's terrain type (default: from ``rng``)."""
        qpos, qvel, info = logic.sample_episode(self.ctx, rng, terrain_level, terrain_type)
        model = self._model(info)
        data = mjx.make_data(model, impl=self.impl, device=self.device).replace(
            qpos=qpos, qvel=qvel, ctrl=logic.stand_ctrl(self.ctx, qpos)
        )
        data = mjx.forward(model, data)
        meas = measure(self.ctx.idx, data.qpos, data.qvel, data.sensordata, data.actuator_force)
        obs = logic.initial_observation(self.ctx, meas, info)
        zero = jnp.zeros(())
        return State(data=data, obs=obs, reward=zero, done=zero, metrics=logic.zero_metrics(self.ctx), info=info)

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        """Reset after episode ``prev`` ended, moving its terrain level by the curriculum rule
        (``episode_logic.next_level``: promotion / demotion from the commanded vs walked path)."""
        return self.reset(rng, logic.next_level(self.ctx, prev.info))

    def step(self, state: State, action: jax.Array) -> State:
        ctx = self.ctx
        ctrl, kick, info, aux = logic.pre_physics(ctx, action, state.info)
        model = self._model(info)
        data = state.data.replace(ctrl=ctrl, qvel=state.data.qvel.at[:2].add(kick))

        def substep(d, _):
            return mjx.step(model, d), None

        data, _ = jax.lax.scan(substep, data, None, length=ctx.sim.n_substeps)
        meas = measure(ctx.idx, data.qpos, data.qvel, data.sensordata, data.actuator_force)
        obs, reward, done, metrics, info = logic.post_physics(ctx, meas, info, aux)
        return state.replace(data=data, obs=obs, reward=reward, done=done, metrics=metrics, info=info)


ResidualWalk = MjxResidualWalk
"""Deprecated name of :class:`MjxResidualWalk`, kept for one release (too easily confused with the
Gymnasium ``ResidualWalkEnv``); use ``MjxResidualWalk``."""

"""``CMujocoResidualWalk``: the residual-walking env for Brax PPO with C-MuJoCo physics (CPU).

The same ``reset(rng)`` / ``reset_from(rng, prev)`` / ``step(state, action)`` interface, state
pytree and episode logic as :class:`mjx_envs.residual_walk.MjxResidualWalk` — gait, IK, observation,
reward, termination and resets are the JAX functions of ``mjx_envs.episode_logic``, compiled into
the training program — but the physics substeps run in C MuJoCo: one ``jax.pure_callback`` per
control step into :class:`mjx_envs.cmujoco_physics.BatchedPhysics`, which steps every world of
the batch with ``mujoco.rollout`` on all cores. Under ``jax.vmap`` (the training wrappers) the
callback receives the whole batch at once (``vmap_method="broadcast_all"``), so a training step
costs one multi-threaded rollout, not one call per world.

``State.data`` is a :class:`CPhysicsData`: the world's float64 physics state (MuJoCo's
``mjSTATE_FULLPHYSICS`` + the solver warm start, :class:`BatchedPhysics`) carried *exactly* as
its uint32 bit pattern (JAX runs in float32; nothing is rounded between steps), plus float32
copies of ``qpos``/``qvel``/``sensordata`` for readers of the state. Domain randomisation: the
episode's draws travel in ``state.info["dr"]`` and the callback applies them to a per-world
``MjModel`` copy (the very function the Gymnasium twin uses, in float64).

Used by ``python -m train`` when ``simulation.backend`` resolves to ``cmujoco`` (the default on a
CPU-only machine, see :func:`mjx_envs.backends.resolve_backend`). The physics calls are host
callbacks: this env runs on the CPU only, with one JAX device (``jax.pmap`` over several host
devices would call it once per device, which works but gains nothing).
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.cmujoco_physics import BatchedPhysics
from mjx_envs.env_config import EnvConfig
from mjx_envs.env_properties import ContextEnvProperties
from mjx_envs.measurements import measure
from mjx_envs.state import State
from model.simulation_config import SimulationConfig


@struct.dataclass
class CPhysicsData:
    """Physics part of the C-MuJoCo env state (one world; a leading batch axis under vmap).

    Attributes:
      bits: (2 * nstate,) uint32, the float64 physics state (``BatchedPhysics`` layout) bit for bit.
      qpos, qvel: generalized positions (m, quaternion) and velocities (m/s, rad/s), world
        frame, float32 copies.
      sensordata: MuJoCo sensor data after the last substep, float32.
    """

    bits: jax.Array
    qpos: jax.Array
    qvel: jax.Array
    sensordata: jax.Array


def _f64_view(bits: np.ndarray) -> np.ndarray:
    b = np.ascontiguousarray(bits, np.uint32)
    return b.view(np.float64).reshape(b.shape[:-1] + (b.shape[-1] // 2,))


def _bits_view(state: np.ndarray) -> np.ndarray:
    s = np.ascontiguousarray(state, np.float64)
    return s.view(np.uint32).reshape(s.shape[:-1] + (s.shape[-1] * 2,))


class CMujocoResidualWalk(ContextEnvProperties):
    """Residual-walking env with batched C-MuJoCo physics behind ``jax.pure_callback`` (see module docstring).

    Args:
      sim, env, gait: as for ``MjxResidualWalk``; ``sim.threads`` sets the physics threads (0: all cores).
    """

    def __init__(
        self, sim: Optional[SimulationConfig] = None, env: Optional[EnvConfig] = None, gait: Optional[GaitConfig] = None
    ):
        sim = sim or SimulationConfig()
        self.ctx = ctx = logic.make_context(sim, env or EnvConfig(), gait or GaitConfig())
        self.mj_model = m = ctx.mj_model
        self.physics = BatchedPhysics(ctx, getattr(sim, "threads", 0) or None)
        self._ndr = self.physics.dr_layout.sizes.get("float32", 0)
        nstate = self.physics.nstate
        self._out = (
            jax.ShapeDtypeStruct((2 * nstate,), jnp.uint32),
            jax.ShapeDtypeStruct((m.nq,), jnp.float32),
            jax.ShapeDtypeStruct((m.nv,), jnp.float32),
            jax.ShapeDtypeStruct((m.nsensordata,), jnp.float32),
        )

    # ---------------------------------------------------------------- host side (numpy, batched)
    def _outputs(self, state: np.ndarray, sd: np.ndarray):
        p = self.physics
        return (
            _bits_view(state),
            state[:, p.qpos_slice].astype(np.float32),
            state[:, p.qvel_slice].astype(np.float32),
            np.asarray(sd, np.float32),
        )

    def _host_forward(self, qpos, qvel, ctrl, dr, mask):
        n = qpos.shape[0]
        mask = np.asarray(mask).reshape(n) > 0
        state, sd = self.physics.forward(
            np.asarray(qpos, np.float64),
            np.asarray(qvel, np.float64),
            np.asarray(ctrl, np.float64),
            self._dr_rows(dr),
            mask,
        )
        return self._outputs(state, sd)

    def _host_step(self, bits, ctrl, kick, dr):
        state, sd = self.physics.step(_f64_view(bits), ctrl, kick, self._dr_rows(dr))
        return self._outputs(state, sd)

    def _dr_rows(self, dr):
        return np.asarray(dr, np.float32).reshape(-1, self._ndr) if self.physics.randomized else None

    def _batched(self, fn, *args):
        """``fn`` on (N, ...) numpy arrays; an unbatched call (no vmap) gets and returns a batch of one."""
        nd = np.ndim(args[0])
        unbatched = nd == 1
        arrays = [np.asarray(a)[None] if unbatched else np.asarray(a) for a in args]
        lead = arrays[0].shape[:-1]
        flat = [a.reshape((-1,) + a.shape[len(lead) :]) if a.ndim > len(lead) else a.reshape(-1) for a in arrays]
        out = fn(*flat)
        out = tuple(o.reshape(lead + o.shape[1:]) for o in out)
        return tuple(o[0] for o in out) if unbatched else out

    def _callback(self, fn, *args):
        return jax.pure_callback(lambda *a: self._batched(fn, *a), self._out, *args, vmap_method="broadcast_all")

    # ---------------------------------------------------------------- env API (JAX)
    def _dr_vector(self, info) -> jax.Array:
        if self._ndr == 0:
            return jnp.zeros((0,), jnp.float32)
        return self.physics.dr_layout.pack(info["dr"])["float32"]

    def _first_state(self, rng, terrain_level, terrain_type, mask) -> State:
        ctx = self.ctx
        qpos, qvel, info = logic.sample_episode(ctx, rng, terrain_level, terrain_type)
        ctrl = logic.stand_ctrl(ctx, qpos)
        bits, q, v, sd = self._callback(self._host_forward, qpos, qvel, ctrl, self._dr_vector(info), mask)
        data = CPhysicsData(bits=bits, qpos=q, qvel=v, sensordata=sd)
        obs = logic.initial_observation(ctx, measure(ctx.idx, q, v, sd), info)
        zero = jnp.zeros(())
        return State(data=data, obs=obs, reward=zero, done=zero, metrics=logic.zero_metrics(ctx), info=info)

    def reset(
        self, rng: jax.Array, terrain_level: Optional[jax.Array] = None, terrain_type: Optional[jax.Array] = None
    ) -> State:
        """New episode from ``rng`` (as ``MjxResidualWalk.reset``)."""
        return self._first_state(rng, terrain_level, terrain_type, jnp.ones((), jnp.float32))

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        """Reset after ``prev`` ended (curriculum level by ``episode_logic.next_level``). Only worlds
        with ``prev.done`` = 1 are forwarded in C MuJoCo; the others' rows are zeros, which the
        auto-reset wrapper discards (it keeps the running episode where done = 0)."""
        return self._first_state(rng, logic.next_level(self.ctx, prev.info), None, (prev.done > 0).astype(jnp.float32))

    def step(self, state: State, action: jax.Array) -> State:
        ctx = self.ctx
        ctrl, kick, info, aux = logic.pre_physics(ctx, action, state.info)
        bits, q, v, sd = self._callback(self._host_step, state.data.bits, ctrl, kick, self._dr_vector(info))
        meas = measure(ctx.idx, q, v, sd)
        obs, reward, done, metrics, info = logic.post_physics(ctx, meas, info, aux)
        data = CPhysicsData(bits=bits, qpos=q, qvel=v, sensordata=sd)
        return state.replace(data=data, obs=obs, reward=reward, done=done, metrics=metrics, info=info)

"""The episode logic of ``mjx_envs.episode_logic`` for N worlds per call, for the C-MuJoCo back ends.

Each method is one jitted, ``vmap``-ed call of the very functions the MJX env runs
(``sample_episode``, ``pre_physics``, ``post_physics``, ``initial_observation``, ``next_level``),
with the episode ``info`` packed into one buffer per dtype (:class:`mjx_envs.packing.Packer`) so
that a call costs tens of microseconds, not one per pytree leaf. Physics arrays come in as the
host's float64 and are rounded to float32 exactly as the MJX env and the Gymnasium twin see them.

    logic = BatchedLogic(ctx)
    qpos, qvel, ctrl, info, dr = logic.reset(keys, levels, types)   # N worlds
    ... physics forward ...  obs = logic.first_obs(qpos, qvel, sensordata, info)
    ctrl, kick, info, aux = logic.pre(actions, info)
    ... physics substeps ... obs, reward, done, metrics, info = logic.post(qpos, qvel, sensordata, info, aux)

``metrics`` is one (N, M) float32 array in the order of :attr:`BatchedLogic.metric_names`.

A batch of one is padded to two rows: XLA compiles a size-1 batch differently (it drops the
axis and fuses otherwise), and the IK's servo targets then differ in the last float32 bit from
the same world's in a larger batch — which the physics amplifies. With every batch >= 2 a world's
numbers do not depend on the batch it is in (``tests/test_cmujoco_backend.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from mjx_envs import episode_logic as logic
from mjx_envs.measurements import measure
from mjx_envs.packing import Packer

Buffers = Dict[str, np.ndarray]


class BatchedLogic:
    """Packed, batched episode logic of one :class:`~mjx_envs.env_context.EnvContext` (see module docstring).

    Batch sizes are free (each new size compiles once). Inputs and outputs are numpy arrays."""

    def __init__(self, ctx: logic.EnvContext):
        self.ctx = ctx
        info = logic.info_template(ctx)
        self.info = Packer.of(info)
        self.dr = Packer.of(info["dr"])
        m = ctx.mj_model
        nq, nv, nsd, na = m.nq, m.nv, m.nsensordata, ctx.action_size
        f32 = jnp.float32
        meas0 = (jax.ShapeDtypeStruct((nq,), f32), jax.ShapeDtypeStruct((nv,), f32), jax.ShapeDtypeStruct((nsd,), f32))
        aux0 = dict(action=jax.ShapeDtypeStruct((na,), f32), ik_saturated=jax.ShapeDtypeStruct((), f32))
        out = jax.eval_shape(
            lambda q, v, sd, i, a: logic.post_physics(ctx, measure(ctx.idx, q, v, sd), i, a), *meas0, info, aux0
        )
        self.metric_names: Tuple[str, ...] = tuple(out[3])
        idx = ctx.idx

        def reset(key, level, ttype):
            qpos, qvel, info = logic.sample_episode(ctx, key, level, ttype)
            return qpos, qvel, logic.stand_ctrl(ctx, qpos), self.info.pack(info), self.dr.pack(info["dr"])["float32"]

        def first_obs(qpos, qvel, sd, bufs):
            meas = measure(idx, qpos.astype(f32), qvel.astype(f32), sd.astype(f32))
            return logic.initial_observation(ctx, meas, self.info.unpack(bufs))

        def pre(action, bufs):
            ctrl, kick, info, aux = logic.pre_physics(ctx, action, self.info.unpack(bufs))
            return ctrl, kick, self.info.pack(info), jnp.concatenate([aux["action"], aux["ik_saturated"][None]])

        def post(qpos, qvel, sd, bufs, aux):
            meas = measure(idx, qpos.astype(f32), qvel.astype(f32), sd.astype(f32))
            aux = dict(action=aux[:na], ik_saturated=aux[na])
            obs, reward, done, metrics, info = logic.post_physics(ctx, meas, self.info.unpack(bufs), aux)
            return obs, reward, done, jnp.stack([metrics[k] for k in self.metric_names]), self.info.pack(info)

        def next_level(bufs):
            return logic.next_level(ctx, self.info.unpack(bufs))

        self._reset = jax.jit(jax.vmap(reset))
        self._first_obs = jax.jit(jax.vmap(first_obs))
        self._pre = jax.jit(jax.vmap(pre))
        self._post = jax.jit(jax.vmap(post))
        self._next_level = jax.jit(jax.vmap(next_level))

    # ---------------------------------------------------------------------------------- calls
    def reset(self, keys, levels, types):
        """New episodes from PRNG keys (N, 2) uint32; ``levels``/``types`` (N,) int32, negative =
        drawn from the key. Returns (qpos (N, nq), qvel (N, nv), ctrl (N, nu), info buffers,
        domain draws (N, ndr) float32 in :attr:`dr`'s layout), float32."""
        return _call(
            self._reset, np.asarray(keys, np.uint32), np.asarray(levels, np.int32), np.asarray(types, np.int32)
        )

    def first_obs(self, qpos, qvel, sensordata, bufs: Buffers) -> np.ndarray:
        return _call(self._first_obs, qpos, qvel, sensordata, bufs)

    def pre(self, actions, bufs: Buffers):
        """(ctrl (N, nu), kick (N, 2) m/s world frame, info buffers, aux (N, A+1)), float32."""
        return _call(self._pre, np.asarray(actions, np.float32), bufs)

    def post(self, qpos, qvel, sensordata, bufs: Buffers, aux):
        """(obs (N, obs), reward (N,), done (N,), metrics (N, M), info buffers)."""
        return _call(self._post, qpos, qvel, sensordata, bufs, aux)

    def next_level(self, bufs: Buffers) -> np.ndarray:
        """Curriculum level of each world's next episode (the rule of ``episode_logic.next_level``)."""
        return _call(self._next_level, bufs)

    def read(self, bufs: Buffers, path: str) -> np.ndarray:
        """One info entry of every world (numpy view), e.g. ``"terrain_level"``, ``"gait/phase"``."""
        return self.info.read(bufs, path)


_SHARED: "OrderedDict[tuple, BatchedLogic]" = OrderedDict()
_SHARED_MAX = 8


def shared_logic(ctx: logic.EnvContext) -> BatchedLogic:
    """The :class:`BatchedLogic` of ``ctx``'s configs, built and compiled once per process: every
    env made from equal (simulation, env, gait) configs — N Gymnasium twins, a vector env, the
    evaluation's worlds — reuses the same compiled calls (the last 8 config sets are kept)."""
    key = (ctx.sim, ctx.env, ctx.gait)
    if key in _SHARED:
        _SHARED.move_to_end(key)
        return _SHARED[key]
    out = _SHARED[key] = BatchedLogic(ctx)
    while len(_SHARED) > _SHARED_MAX:
        _SHARED.popitem(last=False)
    return out


def _call(fn, *args):
    """``fn(*args)`` as numpy, with a batch of one padded to two rows (see module docstring)."""
    n = len(jax.tree.leaves(args[0])[0])
    if n == 1:
        args = jax.tree.map(lambda a: np.concatenate([a, a]), args)
    out = jax.tree.map(np.asarray, fn(*args))
    if n == 1:
        out = jax.tree.map(lambda a: a[:1], out)
    return out


def select_rows(mask: np.ndarray, new, old):
    """``new`` where ``mask`` (N,) else ``old``, for arrays or dicts of arrays with a leading N axis."""
    if isinstance(new, dict):
        return {k: select_rows(mask, new[k], old[k]) for k in new}
    m = np.reshape(mask, mask.shape + (1,) * (np.ndim(new) - 1))
    return np.where(m, new, old)

"""Batched C-MuJoCo physics: N worlds stepped by ``mujoco.rollout`` on all CPU cores.

The physics state of world i is row i of a float64 array ``state`` (N, nstate): MuJoCo's
``mjSTATE_FULLPHYSICS`` layout (time, qpos, qvel; :attr:`BatchedPhysics.qpos_slice`,
:attr:`qvel_slice`) followed by the solver warm start (:attr:`warm_slice`). A control step
(:meth:`BatchedPhysics.step`) adds the push kick to the trunk velocity in float64, holds ``ctrl``
over ``n_substeps`` ``mj_step`` calls and returns the new states and the sensor data of the last
substep (which includes the 12 ``actuatorfrc`` sensors, bit for bit ``data.actuator_force``).

The solver's warm start (``qacc_warmstart``, 4 Newton iterations do not always converge without
it) is carried in the state too (the last ``nv`` columns): rollout takes it in but does not hand
it back, so :func:`warm_start` rebuilds it from the last substep's velocities (semi-implicit
Euler: ``qvel' = qvel + h qacc``, exact up to rounding). The single Gymnasium env
(``mjx_envs.gym_env``) uses the same function, so both C back ends produce bit-identical
trajectories (``tests/test_cmujoco_backend.py``); a zero warm start instead moved the MJX parity
error from 5e-6 to 5e-2 in 60 steps.

Domain randomisation: each world gets its own ``MjModel`` copy with its episode's draws written
by ``episode_logic.randomized_model_fields`` (numpy, float64: the same function and precision as
the single env); copies are made only when randomisation is on, and rewritten only for worlds
whose draw changed. Memory: one model per world (the suite world's is ~6.5 MB, its heightfield).
"""

from __future__ import annotations

import copy
import os
import threading
from typing import Dict, List, Optional

import mujoco
import numpy as np
from mujoco import rollout

from mjx_envs import episode_logic as logic
from mjx_envs.env_context import env_model
from mjx_envs.packing import Packer

FULLPHYSICS = mujoco.mjtState.mjSTATE_FULLPHYSICS


def warm_start(qvel_before: np.ndarray, qvel_after: np.ndarray, timestep: float) -> np.ndarray:
    """The solver warm start for the next substep: the last substep's acceleration
    ``(qvel_after - qvel_before) / timestep`` (rad/s^2, m/s^2), float64. MuJoCo's own
    ``qacc_warmstart`` after ``mj_step`` is that ``qacc``; this rebuilds it to rounding error."""
    return (np.asarray(qvel_after, np.float64) - np.asarray(qvel_before, np.float64)) / timestep


def write_draws(
    ctx: logic.EnvContext, model: mujoco.MjModel, base: Dict[str, np.ndarray], packer: Packer, row: np.ndarray
) -> None:
    """Write one world's domain draws ``row`` (packed float32, ``packer``'s layout) into ``model``:
    ``episode_logic.randomized_model_fields`` of the nominal arrays ``base`` in float64 (the C
    model's precision; a neutral draw leaves them bit for bit)."""
    draws = packer.unpack({"float32": np.asarray(row, np.float32)})
    fields = logic.randomized_model_fields(ctx, base, {k: np.asarray(v, np.float64) for k, v in draws.items()}, xp=np)
    for k, v in fields.items():
        getattr(model, k)[:] = v


def default_threads() -> int:
    """All cores of this machine (``os.cpu_count()``)."""
    return max(os.cpu_count() or 1, 1)


_SAME_PHYSICS = (
    "body_mass",
    "body_inertia",
    "body_ipos",
    "body_pos",
    "geom_size",
    "geom_pos",
    "geom_friction",
    "geom_contype",
    "geom_conaffinity",
    "jnt_range",
    "dof_damping",
    "dof_armature",
    "actuator_gainprm",
    "actuator_biasprm",
    "actuator_forcerange",
    "actuator_ctrlrange",
    "hfield_data",
    "key_qpos",
)


def pool_source(ctx: logic.EnvContext) -> mujoco.MjModel:
    """The model each randomised world copies: ``ctx.mj_model`` compiled without textures (55 kB
    instead of 5.5 MB a world for the shipped worlds) when that gives the same physics, else
    ``ctx.mj_model`` itself (e.g. a model a caller edited after loading)."""
    m = ctx.mj_model
    if m.ntexdata == 0:
        return m
    try:
        lean = env_model(ctx.sim, ctx.env, textures=False)
    except Exception:  # the world was not loaded from ctx.sim: keep the caller's model
        return m
    same = all(getattr(lean, f"n{k}") == getattr(m, f"n{k}") for k in ("q", "v", "u", "body", "geom", "sensordata"))
    same = same and lean.opt.timestep == m.opt.timestep and lean.opt.iterations == m.opt.iterations
    same = same and all(np.array_equal(getattr(lean, k), getattr(m, k)) for k in _SAME_PHYSICS)
    return lean if same else m


class BatchedPhysics:
    """Host-side physics of N worlds of one environment context (see module docstring).

    Args:
      ctx: the environment context (model, substeps, domain-randomisation switches).
      nthread: rollout threads; 0 or None = every core. 1 steps on the calling thread.
    """

    def __init__(self, ctx: logic.EnvContext, nthread: Optional[int] = None):
        self.ctx = ctx
        self.model = m = ctx.mj_model
        self.nthread = int(nthread) if nthread else default_threads()
        self.n_substeps = ctx.sim.n_substeps
        self.nfull = mujoco.mj_stateSize(m, FULLPHYSICS)
        self.nstate = self.nfull + m.nv
        self.qpos_slice = slice(1, 1 + m.nq)
        self.qvel_slice = slice(1 + m.nq, 1 + m.nq + m.nv)
        self.warm_slice = slice(self.nfull, self.nstate)
        self._rollout = rollout.Rollout(nthread=self.nthread if self.nthread > 1 else 0)
        self._datas = [mujoco.MjData(m) for _ in range(self.nthread)]
        self._scratch = mujoco.MjData(m)
        self.randomized = ctx.env.domain_randomization.any_enabled
        self._dr_base = {k: np.array(getattr(m, k)) for k in logic.DR_FIELDS}
        self.dr_layout = Packer.of(logic.info_template(ctx)["dr"])  # layout of the packed draws
        self._pools: Dict[int, tuple] = {}  # batch size -> (models, draws applied (N, ndr))
        self._pool_source = pool_source(ctx) if self.randomized else m  # what each world's copy copies
        # one call at a time: under pmap (several local JAX devices) each device's callback comes
        # from its own thread, and the rollout, its MjData and the model pools are shared
        self._lock = threading.Lock()
        self.step_batch_sizes: set = set()  # worlds per step call seen (a pmapped batch arrives split)

    # ---------------------------------------------------------------------------- models
    def models(self, dr: Optional[np.ndarray]) -> List[mujoco.MjModel]:
        """One model per world: the shared model, or (randomisation on) world i's copy with the
        draws ``dr[i]`` (packed float32, :attr:`dr_layout`) applied."""
        if not self.randomized or dr is None:
            return [self.model] * (0 if dr is None else len(dr))
        n = len(dr)
        if n not in self._pools:
            self._pools[n] = ([copy.copy(self._pool_source) for _ in range(n)], np.full_like(dr, np.nan))
        models, applied = self._pools[n]
        changed = np.flatnonzero(np.any(applied != dr, axis=1))
        for i in changed:
            write_draws(self.ctx, models[i], self._dr_base, self.dr_layout, dr[i])
        applied[changed] = dr[changed]
        return models

    # ---------------------------------------------------------------------------- physics
    def forward(
        self,
        qpos: np.ndarray,
        qvel: np.ndarray,
        ctrl: np.ndarray,
        dr: Optional[np.ndarray],
        mask: Optional[np.ndarray] = None,
        state: Optional[np.ndarray] = None,
        sensordata: Optional[np.ndarray] = None,
    ):
        """Reset the worlds in ``mask`` (default: all) to (qpos, qvel) with servo targets ``ctrl``
        (time 0, like ``mj_resetData`` + ``mj_forward``). Returns (state (N, nstate) float64,
        sensordata (N, nsensordata) float64); rows outside ``mask`` are copied from ``state`` /
        ``sensordata`` when given, else zero."""
        with self._lock:
            return self._forward(qpos, qvel, ctrl, dr, mask, state, sensordata)

    def _forward(self, qpos, qvel, ctrl, dr, mask, state, sensordata):
        n = len(qpos)
        m0 = self.model
        out_state = np.zeros((n, self.nstate)) if state is None else np.array(state, np.float64)
        out_sd = np.zeros((n, m0.nsensordata)) if sensordata is None else np.array(sensordata, np.float64)
        models = self.models(dr) if self.randomized else None
        rows = range(n) if mask is None else np.flatnonzero(mask)
        d = self._scratch
        for i in rows:
            m = models[i] if models is not None else m0
            mujoco.mj_resetData(m, d)
            d.qpos[:] = qpos[i]
            d.qvel[:] = qvel[i]
            d.ctrl[:] = ctrl[i]
            mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, out_state[i, : self.nfull], FULLPHYSICS)
            out_state[i, self.warm_slice] = 0.0
            out_sd[i] = d.sensordata
        return out_state, out_sd

    def step(self, state: np.ndarray, ctrl: np.ndarray, kick: Optional[np.ndarray], dr: Optional[np.ndarray]):
        """One control step of every world: (new state (N, nstate), sensordata (N, nsensordata)),
        float64. ``kick`` (N, 2) is added to ``qvel[0:2]`` first; ``ctrl`` (N, nu) is held over the
        substeps; the warm start comes from and goes back to ``state[:, warm_slice]``."""
        with self._lock:
            return self._step(state, ctrl, kick, dr)

    def _step(self, state, ctrl, kick, dr):
        n = len(state)
        self.step_batch_sizes.add(n)
        st = np.array(state, np.float64)
        if kick is not None:
            v0 = self.qvel_slice.start
            st[:, v0 : v0 + 2] += np.asarray(kick, np.float32)
        control = np.repeat(np.asarray(ctrl, np.float64)[:, None, :], self.n_substeps, axis=1)
        models = self.models(dr) if self.randomized else [self.model] * n
        s, sd = self._rollout.rollout(
            models,
            self._datas,
            np.ascontiguousarray(st[:, : self.nfull]),
            control,
            nstep=self.n_substeps,
            initial_warmstart=np.ascontiguousarray(st[:, self.warm_slice]),
        )
        before = s[:, -2] if self.n_substeps > 1 else st
        out = np.empty((n, self.nstate))
        out[:, : self.nfull] = s[:, -1]
        out[:, self.warm_slice] = warm_start(
            before[:, self.qvel_slice], s[:, -1, self.qvel_slice], self.model.opt.timestep
        )
        return out, np.ascontiguousarray(sd[:, -1])

    def close(self) -> None:
        if self._rollout is not None:
            self._rollout.close()
            self._rollout = None

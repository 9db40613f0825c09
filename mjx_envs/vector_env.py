"""``ResidualWalkVectorEnv``: N worlds of the Gymnasium twin on the batched C-MuJoCo back end.

A ``gymnasium.vector.VectorEnv`` whose step is one batched call of the episode logic
(``BatchedLogic.pre``), one multi-threaded ``mujoco.rollout`` over all worlds
(``BatchedPhysics.step``) and one batched ``BatchedLogic.post`` — no Python loop over worlds,
no subprocesses. World i reproduces ``ResidualWalkEnv`` reset with seed ``seed + i`` and given
the same actions, bit for bit (``tests/test_cmujoco_backend.py``), curriculum level included.

    envs = ResidualWalkVectorEnv(64, world="rough")
    obs, info = envs.reset(seed=0)                  # (64, obs)
    obs, reward, terminated, truncated, info = envs.step(actions)   # actions (64, 12)

Auto-reset is Gymnasium's ``SAME_STEP`` mode: a world whose episode ended is reset inside the same
``step``; its returned observation is the new episode's first, and the finished episode's last
observation and info are in ``info["final_obs"]`` / ``info["final_info"]`` (masks
``info["_final_obs"]``). Per-world ``info`` entries: ``command`` (N, 3), ``terrain_level``,
``terrain_type``, ``distance``, ``step``, ``off_map``; ``metrics`` (a dict of (N,) arrays, every
reward term and diagnostic) when built with ``metrics=True``.

For evaluation (``evaluation.episode.run_episodes``): ``autoreset=False`` leaves a finished world
where its episode ended (it keeps stepping; the caller masks it out) so that its final
``qpos`` / ``sensordata`` stay readable and the env's time limit does not restart an episode;
:meth:`ResidualWalkVectorEnv.set_commands` holds a fixed command in freshly reset worlds.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Union

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.batched_logic import _call, select_rows, shared_logic
from mjx_envs.cmujoco_physics import BatchedPhysics
from mjx_envs.env_config import EnvConfig
from mjx_envs.observation import CLIP, observation_layout, observation_spec
from model.simulation_config import SimulationConfig


def prng_key(seed: int) -> np.ndarray:
    """``jax.random.PRNGKey(seed)`` (threefry, 0 <= seed < 2**32) built in numpy: ``[0, seed]``."""
    return np.array([0, seed], np.uint32)


class ResidualWalkVectorEnv(VectorEnv):
    """N residual-walking worlds on batched C MuJoCo (see module docstring).

    Args:
      num_envs: number of worlds N.
      sim, env, gait, world: as for ``ResidualWalkEnv``.
      nthread: physics threads (0 / None: every core).
      metrics: also return ``info["metrics"]``.
      autoreset: reset finished worlds inside ``step`` (Gymnasium ``SAME_STEP``); False leaves
        them running past their end, untouched by resets (evaluation masks them out).
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}

    def __init__(
        self,
        num_envs: int,
        sim: Optional[SimulationConfig] = None,
        env: Optional[EnvConfig] = None,
        gait: Optional[GaitConfig] = None,
        world: Optional[str] = None,
        nthread: Optional[int] = None,
        metrics: bool = False,
        autoreset: bool = True,
    ):
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        sim = sim or SimulationConfig()
        if world is not None:
            sim = sim.replace(world=world)
        self.ctx = ctx = logic.make_context(sim, env or EnvConfig(), gait or GaitConfig())
        self.num_envs = n = int(num_envs)
        self.logic = shared_logic(ctx)
        self.physics = BatchedPhysics(ctx, nthread)
        self.return_metrics = bool(metrics)
        self.autoreset = bool(autoreset)
        self._fixed_command = None  # jitted on first set_commands
        self.single_observation_space = gym.spaces.Box(-CLIP, CLIP, (ctx.observation_size,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (ctx.action_size,), np.float32)
        self.observation_space = batch_space(self.single_observation_space, n)
        self.action_space = batch_space(self.single_action_space, n)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / sim.control_dt))}
        self.terrain_level = np.full(n, -1, np.int64)  # next reset's level per world (-1: drawn)
        self._rngs = [np.random.default_rng() for _ in range(n)]
        self._state = self._sd = self._bufs = self._dr = self._obs = None

    # ------------------------------------------------------------------ properties
    @property
    def model(self):
        return self.ctx.mj_model

    def observation_layout(self):
        return observation_layout(**observation_spec(self.ctx.env))

    @property
    def qpos(self) -> np.ndarray:
        """(N, nq) float64 generalized positions of every world (a copy)."""
        return self._state[:, self.physics.qpos_slice].copy()

    @property
    def qvel(self) -> np.ndarray:
        return self._state[:, self.physics.qvel_slice].copy()

    @property
    def sensordata(self) -> np.ndarray:
        """(N, nsensordata) float64 sensor data of every world's last physics substep (a copy;
        the foot ``framepos`` sensors equal ``MjData.site_xpos`` of the single env after ``mj_step``)."""
        return self._sd.copy()

    @property
    def time(self) -> np.ndarray:
        """(N,) simulated time since each world's reset [s]. MuJoCo restarts it at 0 when it resets
        a world's diverged state (bad qpos/qvel/qacc) inside ``mj_step``: a step that advances it
        by less than ``n_substeps * timestep`` diverged."""
        return self._state[:, 0].copy()

    def read_info(self, path: str) -> np.ndarray:
        """One per-episode info entry of every world (``"command"``, ``"gait/phase"``, ``"dr/friction"``...)."""
        return self.logic.read(self._bufs, path).copy()

    def add_trunk_velocity(self, worlds: np.ndarray, velocity: np.ndarray) -> None:
        """Add ``velocity`` (len(worlds), 2) [m/s, world frame] to the trunk's free-joint linear
        velocity of ``worlds`` in float64, before their next step: what ``env.data.qvel[0:2] += v``
        does to the single env (a push; the warm start is left as it is, there as here)."""
        col = self.physics.qvel_slice.start
        self._state[worlds, col : col + 2] += velocity

    def world_models(self) -> list:
        """Every world's ``MjModel`` as this episode runs it (domain randomisation applied)."""
        return list(self.physics.models(self._dr))

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: Optional[Union[int, Sequence[int]]] = None, options: Optional[Dict[str, Any]] = None):
        """Reset every world. ``seed``: an int (world i gets ``seed + i``) or one per world; it
        restarts the worlds' random streams and curriculum levels. ``options``: ``terrain_level``
        and ``terrain_type`` (an int or one per world), ``keys`` ((N, 2) uint32 JAX PRNG keys, for
        parity with the MJX env's ``reset(key)``)."""
        n = self.num_envs
        options = options or {}
        if seed is not None:
            seeds = [seed + i for i in range(n)] if np.ndim(seed) == 0 else list(seed)
            if len(seeds) != n:
                raise ValueError(f"reset: {len(seeds)} seeds for {n} worlds")
            self._rngs = [np.random.default_rng(s) for s in seeds]
            self.terrain_level[:] = -1
        levels = np.broadcast_to(np.asarray(options.get("terrain_level", self.terrain_level), np.int64), (n,))
        types = np.broadcast_to(np.asarray(options.get("terrain_type", -1), np.int64), (n,))
        if "terrain_type" in options:
            if np.any((types < 0) | (types >= self.ctx.num_types)):
                raise ValueError(
                    f"terrain_type must be in 0..{self.ctx.num_types - 1} on world "
                    f"'{self.ctx.sim.world}', got {options['terrain_type']}"
                )
            levels = np.where(levels < 0, 0, levels)
        keys = np.asarray(options["keys"], np.uint32) if "keys" in options else self._draw_keys(np.ones(n, bool))
        if keys.shape != (n, 2):
            raise ValueError(f"reset: options['keys'] must have shape ({n}, 2), got {keys.shape}")
        self._reset_worlds(np.ones(n, bool), keys, levels, types)
        return self._obs.copy(), self._public_info()

    def step(self, actions):
        if self._bufs is None:
            raise RuntimeError("call reset() before step()")
        actions = np.asarray(actions, np.float32)
        if actions.shape != (self.num_envs, self.ctx.action_size):
            raise ValueError(f"actions must have shape ({self.num_envs}, {self.ctx.action_size}), got {actions.shape}")
        lg, ph = self.logic, self.physics
        ctrl, kick, bufs, aux = lg.pre(actions, self._bufs)
        self._state, self._sd = ph.step(self._state, ctrl, kick, self._dr)
        obs, reward, done, metrics, bufs = lg.post(
            self._state[:, ph.qpos_slice], self._state[:, ph.qvel_slice], self._sd, bufs, aux
        )
        self._bufs = bufs
        off_map = lg.read(bufs, "truncation") > 0
        terminated = (done > 0) & ~off_map
        truncated = ~terminated & (off_map | (lg.read(bufs, "step") >= self.ctx.episode_steps))
        finished = terminated | truncated
        self._obs = obs
        info = self._public_info()
        if self.return_metrics:
            info["metrics"] = {k: metrics[:, i].copy() for i, k in enumerate(lg.metric_names)}
        if finished.any() and self.autoreset:
            final_info = dict(info)  # the finished step's info (metrics included)
            self.terrain_level = np.where(finished, lg.next_level(bufs), self.terrain_level)
            final_obs = obs.copy()
            self._reset_worlds(finished, self._draw_keys(finished), self.terrain_level, np.full(self.num_envs, -1))
            info = {**self._public_info(), **({"metrics": info["metrics"]} if self.return_metrics else {})}
            info["final_obs"], info["_final_obs"] = final_obs, finished.copy()
            info["final_info"], info["_final_info"] = final_info, finished.copy()
        return self._obs.copy(), reward.astype(np.float64), terminated, truncated, info

    def set_commands(self, commands, mask: Optional[np.ndarray] = None) -> np.ndarray:
        """Hold a fixed velocity command in the worlds of ``mask`` (default: all), directly after
        their reset; returns the new observations (N, obs) of every world.

        ``commands``: (N, 3) or (3,) (vx [m/s], vy [m/s], yaw rate [rad/s], body frame). Each
        world's episode info gets :func:`fixed_command_info` (the command schedule and heading
        mode switched off, the gait standing or stepping as the command asks) and its reset
        observation is recomputed — what ``evaluation.episode.set_command`` does to the single env.
        """
        n, lg, ph = self.num_envs, self.logic, self.physics
        if self._bufs is None:
            raise RuntimeError("set_commands: call reset() first")
        mask = np.ones(n, bool) if mask is None else np.broadcast_to(np.asarray(mask, bool), (n,))
        if np.any(lg.read(self._bufs, "step")[mask] != 0):
            raise RuntimeError("set_commands: only allowed right after a world's reset (step 0)")
        cmds = np.array(np.broadcast_to(np.asarray(commands, np.float32), (n, 3)))
        if not np.all(np.isfinite(cmds[mask])):
            raise ValueError("set_commands: commands must be finite (vx m/s, vy m/s, yaw rate rad/s)")
        if self._fixed_command is None:
            ctx = self.ctx
            self._fixed_command = jax.jit(
                jax.vmap(lambda b, c: lg.info.pack(fixed_command_info(ctx, lg.info.unpack(b), c)))
            )
        self._bufs = select_rows(mask, _call(self._fixed_command, self._bufs, cmds), self._bufs)
        obs = lg.first_obs(self._state[:, ph.qpos_slice], self._state[:, ph.qvel_slice], self._sd, self._bufs)
        self._obs = select_rows(mask, obs, self._obs)
        return self._obs.copy()

    # ------------------------------------------------------------------ internals
    def _draw_keys(self, mask: np.ndarray) -> np.ndarray:
        """Reset keys of the worlds in ``mask``, drawn as ``ResidualWalkEnv.reset`` draws them."""
        keys = np.zeros((self.num_envs, 2), np.uint32)
        for i in np.flatnonzero(mask):
            keys[i] = prng_key(int(self._rngs[i].integers(0, 2**31 - 1)))
        return keys

    def _reset_worlds(self, mask, keys, levels, types) -> None:
        lg, ph = self.logic, self.physics
        qpos, qvel, ctrl, bufs, dr = lg.reset(keys, levels, types)
        if self._bufs is not None:
            bufs, dr = select_rows(mask, bufs, self._bufs), select_rows(mask, dr, self._dr)
        self._bufs, self._dr = bufs, dr
        self._state, self._sd = ph.forward(qpos, qvel, ctrl, dr, mask, self._state, self._sd)
        obs = lg.first_obs(self._state[:, ph.qpos_slice], self._state[:, ph.qvel_slice], self._sd, bufs)
        self._obs = obs if self._obs is None else select_rows(mask, obs, self._obs)
        self.terrain_level = np.where(mask, lg.read(bufs, "terrain_level"), self.terrain_level)

    def _public_info(self) -> Dict[str, Any]:
        b, read = self._bufs, self.logic.read
        return {
            "command": read(b, "command").copy(),
            "terrain_level": read(b, "terrain_level").copy(),
            "terrain_type": read(b, "terrain_type").copy(),
            "distance": read(b, "distance").copy(),
            "step": read(b, "step").copy(),
            "off_map": read(b, "off_map") > 0,
        }

    def close_extras(self, **kwargs) -> None:
        if getattr(self, "physics", None) is not None:
            self.physics.close()
            self.physics = None


def fixed_command_info(ctx, info, command) -> dict:
    """Episode ``info`` of one freshly reset episode with its command replaced by ``command`` (3,)
    and held for the whole episode (the command schedule switched off, no heading mode, the gait's
    activity set for this command). Shared by :meth:`ResidualWalkVectorEnv.set_commands` and
    ``evaluation.episode.set_command`` (single env)."""
    from gait.bezier_gait import stepping_target

    cmd = jnp.asarray(command, info["command"].dtype)
    gait = info["gait"].replace(
        activity=jnp.asarray(stepping_target(cmd, ctx.gait, ctx.controller.geometry), info["gait"].activity.dtype)
    )
    return {
        **info,
        "command": cmd,
        "gait": gait,
        "command_time": jnp.full_like(info["command_time"], jnp.inf),
        "heading_mode": jnp.zeros_like(info["heading_mode"]),
    }

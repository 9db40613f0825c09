"""``ResidualWalkEnv``: the Gymnasium twin of ``MjxResidualWalk`` on C MuJoCo (CPU).

Same spaces, observation, reward, termination and reset sampling as the MJX environment — the
very same functions from ``mjx_envs.episode_logic`` (jitted once on the CPU) — only the physics
back end differs. Used for parity checks and viewer playback: one world per instance. For many
worlds use ``gymnasium.make_vec("Quad12ResidualWalk-v0", num_envs=N)``, the batched
``ResidualWalkVectorEnv`` (about 6x the control steps/s of one env at 64 worlds on 2 cores).

    env = gymnasium.make("Quad12ResidualWalk-v0", world="rough", render_mode="rgb_array")

``info["metrics"]`` (every reward term and diagnostic, as floats) is only built when asked for:
``ResidualWalkEnv(metrics=True)``. The physics state stays float64 across steps (the push kick is
added in float64); the solver's warm start is carried from step to step the way the batched back
end ``mjx_envs.vector_env.ResidualWalkVectorEnv`` carries it (``cmujoco_physics.warm_start``),
which reproduces this env bit for bit.

``render_mode="human"`` opens the MuJoCo passive viewer (without a display the constructor
raises :class:`mjx_envs.display.NoDisplayError` instead of letting GLFW end the process);
``"rgb_array"`` renders offscreen (on a headless machine set ``MUJOCO_GL=osmesa`` or ``egl``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import gymnasium as gym
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.batched_logic import shared_logic
from mjx_envs.cmujoco_physics import warm_start, write_draws
from mjx_envs.env_config import EnvConfig
from mjx_envs.observation import CLIP, observation_layout, observation_spec
from model.robot_view import RobotRenderer, show_robot_geoms
from model.simulation_config import SimulationConfig


class ResidualWalkEnv(gym.Env):
    """C-MuJoCo residual-walking environment (see module docstring)."""

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 50}

    def __init__(
        self,
        sim: Optional[SimulationConfig] = None,
        env: Optional[EnvConfig] = None,
        gait: Optional[GaitConfig] = None,
        world: Optional[str] = None,
        render_mode: Optional[str] = None,
        width: int = 640,
        height: int = 480,
        metrics: bool = False,
    ):
        sim = sim or SimulationConfig()
        if world is not None:
            sim = sim.replace(world=world)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if render_mode == "human":
            from mjx_envs.display import require_display

            require_display(
                'render_mode="human"',
                'use render_mode="rgb_array" (with MUJOCO_GL=osmesa or egl) or python -m playback --video out.mp4',
            )
        self.ctx = ctx = logic.make_context(sim, env or EnvConfig(), gait or GaitConfig())
        self.model = ctx.mj_model
        self.data = mujoco.MjData(self.model)
        self.render_mode, self._width, self._height = render_mode, width, height
        self._renderer = None
        self._viewer = None
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / sim.control_dt))}
        self.observation_space = gym.spaces.Box(-CLIP, CLIP, (ctx.observation_size,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ctx.action_size,), np.float32)
        self._dr_base = {k: np.array(getattr(self.model, k)) for k in logic.DR_FIELDS}
        # the episode logic: the batched, packed calls of the C-MuJoCo back end with N = 1 (the
        # same compiled functions as ResidualWalkVectorEnv, so the two agree bit for bit)
        self.logic = shared_logic(ctx)
        self.return_metrics = bool(metrics)
        self._bufs = None  # packed episode info, batch of 1
        self.terrain_level: Optional[int] = None  # curriculum level of the next reset (see reset)
        self._finished = False  # the current episode has ended (terminated or truncated)

    # ------------------------------------------------------------------ gymnasium API
    def observation_layout(self):
        return observation_layout(**observation_spec(self.ctx.env))

    def reset(self, *, seed: Optional[int] = None, options: Optional[Dict[str, Any]] = None):
        """Start an episode.

        ``options``: ``key`` (a JAX PRNG key, for exact parity with the MJX env's ``reset(key)``),
        ``terrain_level`` (curriculum level, i.e. spawn band on the rough world, difficulty row on
        the suite), ``terrain_type`` (suite: index into ``model.terrain.TERRAIN_TYPES``; needs a
        level too, from the option or ``env.terrain_level``; default: drawn from the key).

        The level is ``options["terrain_level"]`` if given, else the attribute
        ``env.terrain_level``, else (first episode) drawn from the reset key like the MJX env does;
        the episode's level is then stored in ``env.terrain_level``. Only a *finished* episode
        (terminated or truncated by ``step``) moves ``env.terrain_level``, by the curriculum rule
        (``episode_logic.next_level``); resetting an unstepped or unfinished episode does not.
        A seeded reset (``seed=s``) restarts the env's random stream *and* its curriculum state
        (``env.terrain_level = None``), so ``reset(seed=s)`` gives the same episode whatever came
        before; combine it with ``options={"terrain_level": k}`` to pin a level."""
        super().reset(seed=seed)
        options = options or {}
        if seed is not None:
            self.terrain_level = None
        key = np.asarray(
            options["key"] if "key" in options else jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1))),
            np.uint32,
        )
        level = options.get("terrain_level", self.terrain_level)
        ttype = -1
        if "terrain_type" in options:
            ttype = int(options["terrain_type"])
            if not 0 <= ttype < self.ctx.num_types:
                raise ValueError(
                    f"terrain_type must be in 0..{self.ctx.num_types - 1} on world '{self.ctx.sim.world}', got {ttype}"
                )
            if level is None:
                level = 0
        qpos, qvel, ctrl, bufs, dr = self.logic.reset(key[None], [-1 if level is None else int(level)], [ttype])
        if self.ctx.env.domain_randomization.any_enabled:
            write_draws(self.ctx, self.model, self._dr_base, self.logic.dr, dr[0])
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[:] = qpos[0]
        d.qvel[:] = qvel[0]
        d.ctrl[:] = ctrl[0]
        mujoco.mj_forward(m, d)
        self._warm = np.zeros(m.nv)
        self._bufs = bufs
        obs = self.observe()
        self.terrain_level = int(self.logic.read(bufs, "terrain_level")[0])
        self._finished = False
        if self.render_mode == "human":
            self.render()
        return obs, self._public_info()

    def observe(self) -> np.ndarray:
        """The observation of the current physics state and episode info (what ``reset`` returns;
        after editing ``env.data`` or ``env.episode_info`` call ``mujoco.mj_forward`` first)."""
        d = self.data
        return self.logic.first_obs(d.qpos[None], d.qvel[None], d.sensordata[None], self._bufs)[0]

    def step(self, action):
        """One control step. ``terminated``: a fall or diverged physics; ``truncated``: the time
        limit (``episode_length_s``) or leaving the map (rough world). When the episode ends, the
        curriculum moves ``env.terrain_level`` for the next reset (once per episode)."""
        if self._bufs is None:
            raise RuntimeError("call reset() before step()")
        m, d = self.model, self.data
        action = np.asarray(action, np.float32)
        if action.shape != (self.ctx.action_size,):
            raise ValueError(f"action must have shape ({self.ctx.action_size},) (env.action_space), got {action.shape}")
        ctrl, kick, bufs, aux = self.logic.pre(action[None], self._bufs)
        d.ctrl[:] = ctrl[0]
        d.qvel[:2] += kick[0]  # the push, in float64
        # the solver's warm start as the batched back end carries it (cmujoco_physics.warm_start)
        d.qacc_warmstart[:] = self._warm
        for k in range(self.ctx.sim.n_substeps):
            if k == self.ctx.sim.n_substeps - 1:
                qvel_before = d.qvel.copy()
            mujoco.mj_step(m, d)
        self._warm = warm_start(qvel_before, d.qvel, m.opt.timestep)
        obs, reward, done, metrics, bufs = self.logic.post(d.qpos[None], d.qvel[None], d.sensordata[None], bufs, aux)
        self._bufs = bufs
        read = self.logic.read
        off_map = bool(read(bufs, "truncation")[0] > 0)
        terminated = bool(done[0]) and not off_map
        truncated = (not terminated) and (off_map or int(read(bufs, "step")[0]) >= self.ctx.episode_steps)
        if (terminated or truncated) and not self._finished:
            self._finished = True
            self.terrain_level = int(self.logic.next_level(bufs)[0])
        if self.render_mode == "human":
            self.render()
        public = self._public_info()
        if self.return_metrics:
            public["metrics"] = dict(zip(self.logic.metric_names, metrics[0].tolist()))
        return obs[0], float(reward[0]), terminated, truncated, public

    def _public_info(self) -> Dict[str, Any]:
        b, read = self._bufs, self.logic.read
        return {
            "command": read(b, "command")[0].copy(),
            "terrain_level": int(read(b, "terrain_level")[0]),
            "terrain_type": int(read(b, "terrain_type")[0]),
            "distance": float(read(b, "distance")[0]),
            "step": int(read(b, "step")[0]),
            "gait_phase": float(read(b, "gait/phase")[0]),
            "off_map": bool(read(b, "off_map")[0] > 0),
        }

    @property
    def episode_info(self):
        """The full per-episode info pytree (JAX arrays), as the MJX env keeps it in ``state.info``.
        Assigning a pytree of the same structure replaces it (tests and playback edit it)."""
        if self._bufs is None:
            return None
        return jax.tree.map(jnp.asarray, self.logic.info.unpack({k: v[0] for k, v in self._bufs.items()}))

    @episode_info.setter
    def episode_info(self, info) -> None:
        self._bufs = {k: np.asarray(v)[None] for k, v in self.logic.info.pack(info).items()}

    # ------------------------------------------------------------------ rendering
    def render(self):
        if self.render_mode == "rgb_array":
            if self._renderer is None:  # a robot with collision geoms only is drawn by them
                self._renderer = RobotRenderer(self.model, self._width, self._height)
            return self._renderer.render(self.data)
        if self.render_mode == "human":
            if self._viewer is None:
                from mujoco import viewer as mj_viewer

                self._viewer = mj_viewer.launch_passive(self.model, self.data)
                with self._viewer.lock():
                    show_robot_geoms(self.model, self._viewer.opt)
            self._viewer.sync()
        return None

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

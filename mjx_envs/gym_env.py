"""``ResidualWalkEnv``: the Gymnasium twin of ``ResidualWalk`` on C MuJoCo (CPU).

Same spaces, observation, reward, termination and reset sampling as the MJX environment — the
very same functions from ``mjx_envs.episode_logic`` (jitted once on the CPU) — only the physics
back end differs. Used for parity checks, Stable-Baselines3 and viewer playback.

    env = gymnasium.make("Quad12ResidualWalk-v0", world="rough", render_mode="rgb_array")

``render_mode="human"`` opens the MuJoCo passive viewer (without a display the constructor
raises :class:`mjx_envs.display.NoDisplayError` instead of letting GLFW end the process);
``"rgb_array"`` renders offscreen (on a headless machine set ``MUJOCO_GL=osmesa`` or ``egl``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import gymnasium as gym
import jax
import mujoco
import numpy as np

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.env_config import EnvConfig
from mjx_envs.measurements import measure
from mjx_envs.observation import CLIP, observation_layout
from model.simulation_config import SimulationConfig


class ResidualWalkEnv(gym.Env):
    """C-MuJoCo residual-walking environment (see module docstring)."""

    metadata = {"render_modes": ["human", "rgb_array"], "render_fps": 50}

    def __init__(self, sim: Optional[SimulationConfig] = None, env: Optional[EnvConfig] = None,
                 gait: Optional[GaitConfig] = None, world: Optional[str] = None,
                 render_mode: Optional[str] = None, width: int = 640, height: int = 480):
        sim = sim or SimulationConfig()
        if world is not None:
            sim = sim.replace(world=world)
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        if render_mode == "human":
            from mjx_envs.display import require_display

            require_display('render_mode="human"', 'use render_mode="rgb_array" (with MUJOCO_GL=osmesa or egl) '
                                                   'or python -m playback --video out.mp4')
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
        idx = ctx.idx
        self._sample = jax.jit(lambda rng, level: logic.sample_episode(ctx, rng, level))
        self._sample_typed = jax.jit(lambda rng, level, ttype: logic.sample_episode(ctx, rng, level, ttype))
        self._sample_free = jax.jit(lambda rng: logic.sample_episode(ctx, rng, None))
        self._next_level = jax.jit(lambda info: logic.next_level(ctx, info))
        self._pre = jax.jit(lambda action, info, qvel: logic.pre_physics(ctx, action, info, qvel))
        self._post = jax.jit(lambda qpos, qvel, sd, af, info, aux: logic.post_physics(
            ctx, measure(idx, qpos, qvel, sd, af), info, aux))
        self._first_obs = jax.jit(lambda qpos, qvel, sd, af, info: logic.initial_observation(
            ctx, measure(idx, qpos, qvel, sd, af), info))
        # float64, in numpy: the C model's arrays are float64 and a neutral draw leaves them bit for bit
        self._dr_fields = lambda dr: logic.randomized_model_fields(
            ctx, self._dr_base, {k: np.asarray(v, np.float64) for k, v in dr.items()}, xp=np)
        self._info = None
        self._rng = None
        self.terrain_level: Optional[int] = None  # curriculum level of the next reset (see reset)
        self._finished = False  # the current episode has ended (terminated or truncated)

    # ------------------------------------------------------------------ gymnasium API
    def observation_layout(self):
        return observation_layout(self.ctx.action_size, self.ctx.env.terrain_observation)

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
        if "key" in options:
            key = options["key"]
        else:
            key = jax.random.PRNGKey(int(self.np_random.integers(0, 2**31 - 1)))
        level = options.get("terrain_level", self.terrain_level)
        if "terrain_type" in options:
            ttype = int(options["terrain_type"])
            if not 0 <= ttype < self.ctx.num_types:
                raise ValueError(f"terrain_type must be in 0..{self.ctx.num_types - 1} on world "
                                 f"'{self.ctx.sim.world}', got {ttype}")
            if level is None:
                level = 0
            qpos, qvel, info = self._sample_typed(key, np.int32(level), np.int32(ttype))
        elif level is not None:
            qpos, qvel, info = self._sample(key, np.int32(level))
        else:
            qpos, qvel, info = self._sample_free(key)
        if self.ctx.env.domain_randomization.any_enabled:
            for k, v in self._dr_fields(info["dr"]).items():
                getattr(self.model, k)[:] = np.asarray(v)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        d.qpos[:] = np.asarray(qpos)
        d.qvel[:] = np.asarray(qvel)
        d.ctrl[:] = np.asarray(qpos)[7:19]
        mujoco.mj_forward(m, d)
        obs = self._first_obs(d.qpos, d.qvel, d.sensordata, d.actuator_force, info)
        self._info = info
        self.terrain_level = int(info["terrain_level"])
        self._finished = False
        if self.render_mode == "human":
            self.render()
        return np.asarray(obs, np.float32), self._public_info()

    def step(self, action):
        """One control step. ``terminated``: a fall or diverged physics; ``truncated``: the time
        limit (``episode_length_s``) or leaving the map (rough world). When the episode ends, the
        curriculum moves ``env.terrain_level`` for the next reset (once per episode)."""
        if self._info is None:
            raise RuntimeError("call reset() before step()")
        m, d = self.model, self.data
        ctrl, qvel, info, aux = self._pre(np.asarray(action, np.float32), self._info, d.qvel)
        d.ctrl[:] = np.asarray(ctrl)
        d.qvel[:] = np.asarray(qvel)
        for _ in range(self.ctx.sim.n_substeps):
            mujoco.mj_step(m, d)
        obs, reward, done, metrics, info = self._post(d.qpos, d.qvel, d.sensordata, d.actuator_force, info, aux)
        self._info = info
        off_map = bool(info["truncation"] > 0)
        terminated = bool(done) and not off_map
        truncated = (not terminated) and (off_map or int(info["step"]) >= self.ctx.episode_steps)
        if (terminated or truncated) and not self._finished:
            self._finished = True
            self.terrain_level = int(self._next_level(info))
        if self.render_mode == "human":
            self.render()
        public = self._public_info()
        public["metrics"] = {k: float(v) for k, v in metrics.items()}
        return np.asarray(obs, np.float32), float(reward), terminated, truncated, public

    def _public_info(self) -> Dict[str, Any]:
        i = self._info
        return {"command": np.asarray(i["command"]), "terrain_level": int(i["terrain_level"]),
                "terrain_type": int(i["terrain_type"]),
                "distance": float(i["distance"]), "step": int(i["step"]),
                "gait_phase": float(i["gait"].phase), "off_map": bool(i["off_map"] > 0)}

    @property
    def episode_info(self):
        """The full per-episode info pytree (JAX arrays), as the MJX env keeps it in ``state.info``."""
        return self._info

    # ------------------------------------------------------------------ rendering
    def render(self):
        if self.render_mode == "rgb_array":
            if self._renderer is None:
                self._renderer = mujoco.Renderer(self.model, self._height, self._width)
                self._camera = mujoco.MjvCamera()
                self._camera.distance, self._camera.elevation, self._camera.azimuth = 1.6, -20.0, 120.0
            self._camera.lookat[:] = self.data.qpos[:3]
            self._renderer.update_scene(self.data, camera=self._camera)
            return self._renderer.render()
        if self.render_mode == "human":
            if self._viewer is None:
                from mujoco import viewer as mj_viewer

                self._viewer = mj_viewer.launch_passive(self.model, self.data)
            self._viewer.sync()
        return None

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        if self._viewer is not None:
            self._viewer.close()
            self._viewer = None

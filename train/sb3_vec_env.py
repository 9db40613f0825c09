"""``BatchedSB3VecEnv``: a Stable-Baselines3 ``VecEnv`` over the batched C-MuJoCo back end.

SB3's ``VecEnv`` API (``reset`` -> obs (N, obs); ``step_async``/``step_wait`` -> obs, rewards,
dones, infos) on one :class:`mjx_envs.vector_env.ResidualWalkVectorEnv`: every step is one batched
call of the episode logic and one multi-threaded ``mujoco.rollout`` over all N worlds, in this
process — no worker processes, no per-world Python loop beyond building the N info dicts.

SB3 conventions, as ``DummyVecEnv`` over N single :class:`mjx_envs.gym_env.ResidualWalkEnv` gives
them (world i reproduces a single env seeded ``seed + i``, bit for bit):

* ``dones = terminated | truncated``; a finished world is reset inside the same step and the
  returned observation is its new episode's first; ``infos[i]["terminal_observation"]`` is the
  finished episode's last observation and ``infos[i]["TimeLimit.truncated"]`` is
  ``truncated and not terminated``.
* ``infos[i]`` holds the world's step info as the single env returns it (``command``,
  ``terrain_level``, ``terrain_type``, ``distance``, ``step``, ``off_map``; for a finished world
  the finished episode's values). Per-world ``metrics`` dicts are only built with
  ``per_world_metrics=True``; training callbacks read the batched arrays instead:
  ``last_metrics`` ((N, M) float array, columns ``metric_names``) and ``last_terrain_level`` (N,),
  refreshed every step (``metrics=True`` builds the vector env with metrics).
* ``seed(s)`` seeds the next ``reset`` (world i gets ``s + i``); ``set_options`` passes
  ``terrain_level`` / ``terrain_type`` (per world) to the next reset.
* ``get_attr``/``set_attr``/``env_method`` reach the one vector env (its attribute, once per
  requested index); attributes with per-world values (``terrain_level``) are returned per world.
  Anything that needs a per-world Python env object raises ``NotImplementedError``.
"""

from __future__ import annotations

import contextlib
from typing import Any, List, Optional

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvStepReturn

from mjx_envs.vector_env import ResidualWalkVectorEnv

_PER_WORLD = ("command", "terrain_level", "terrain_type", "distance", "step", "off_map")
"""The per-world entries of the vector env's info copied into each of SB3's info dicts."""

_PER_WORLD_ATTRS = ("terrain_level",)
"""Vector-env attributes holding one value per world (``get_attr`` indexes them)."""


def host_device():
    """A context that keeps JAX work on the CPU where JAX's default device is an accelerator
    (the episode logic's small jitted calls feed C MuJoCo on the host); a no-op on a CPU-only JAX."""
    import jax

    if jax.default_backend() == "cpu":
        return contextlib.nullcontext()
    return jax.default_device(jax.devices("cpu")[0])


class BatchedSB3VecEnv(VecEnv):
    """SB3 ``VecEnv`` over one :class:`ResidualWalkVectorEnv` (see module docstring).

    Args:
      venv: the vector env (its ``num_envs`` worlds are SB3's envs).
      per_world_metrics: also put a ``metrics`` dict (floats) in every ``infos[i]`` (slower).
    """

    def __init__(self, venv: ResidualWalkVectorEnv, per_world_metrics: bool = False):
        self.venv = venv
        self.render_mode = None
        if per_world_metrics and not venv.return_metrics:
            raise ValueError("per_world_metrics=True needs a vector env built with metrics=True")
        self.per_world_metrics = bool(per_world_metrics)
        self.metric_names: List[str] = list(venv.logic.metric_names) if venv.return_metrics else []
        self.last_metrics: Optional[np.ndarray] = None
        self.last_terrain_level: Optional[np.ndarray] = None
        self._actions: Optional[np.ndarray] = None
        super().__init__(venv.num_envs, venv.single_observation_space, venv.single_action_space)

    # ------------------------------------------------------------------ VecEnv API
    def reset(self):
        n = self.num_envs
        seed: Any = None
        if any(s is not None for s in self._seeds):
            fresh = np.random.SeedSequence().generate_state(n)  # worlds without a seed: a random one
            seed = [int(s) if s is not None else int(f) for s, f in zip(self._seeds, fresh)]
        with host_device():
            obs, info = self.venv.reset(seed=seed, options=self._batched_options())
        self.reset_infos = self._world_infos(info)
        self.last_metrics = None
        self.last_terrain_level = np.asarray(info["terrain_level"])
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        actions, self._actions = self._actions, None
        with host_device():
            obs, reward, terminated, truncated, info = self.venv.step(actions)
        dones = terminated | truncated
        # per-world entries of this step: a finished world reports its finished episode (as
        # DummyVecEnv does); SAME_STEP auto-reset put the new episode's values in ``info``
        src = info["final_info"] if "final_info" in info else info
        infos = self._world_infos(src)
        if "metrics" in info:
            self.last_metrics = np.stack([info["metrics"][k] for k in self.metric_names], axis=1)
            if self.per_world_metrics:
                names = self.metric_names
                for d, row in zip(infos, self.last_metrics.tolist()):
                    d["metrics"] = dict(zip(names, row))
        self.last_terrain_level = np.asarray(src["terrain_level"])
        if dones.any():
            final_obs = info["final_obs"]
            time_limit = (truncated & ~terminated).tolist()
            for i in np.flatnonzero(dones).tolist():
                infos[i]["terminal_observation"] = final_obs[i]
                infos[i]["TimeLimit.truncated"] = time_limit[i]
            # the worlds' new episodes start now: what SB3 keeps as reset infos
            fresh = self._world_infos(info)
            for i in np.flatnonzero(dones).tolist():
                self.reset_infos[i] = fresh[i]
        return obs, reward.astype(np.float32), dones, infos

    def close(self) -> None:
        self.venv.close()

    def get_images(self):
        raise NotImplementedError("BatchedSB3VecEnv does not render (render the single ResidualWalkEnv instead)")

    def render(self, mode: Optional[str] = None):
        raise NotImplementedError("BatchedSB3VecEnv does not render (render the single ResidualWalkEnv instead)")

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> List[Any]:
        idx = list(self._get_indices(indices))
        if attr_name == "render_mode":
            return [None] * len(idx)
        value = getattr(self.venv, attr_name)  # AttributeError names the attribute
        if attr_name in _PER_WORLD_ATTRS:
            return [value[i].item() for i in idx]
        return [value] * len(idx)

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        idx = list(self._get_indices(indices))
        if attr_name in _PER_WORLD_ATTRS:
            arr = getattr(self.venv, attr_name)
            for i in idx:
                arr[i] = -1 if value is None else value
            return
        if sorted(idx) != list(range(self.num_envs)):
            raise NotImplementedError(
                f"set_attr({attr_name!r}) on a subset of worlds: the {self.num_envs} worlds "
                "share one vector env; only per-world attributes "
                f"{_PER_WORLD_ATTRS} can be set per world"
            )
        setattr(self.venv, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> List[Any]:
        idx = list(self._get_indices(indices))
        if method_name in ("reset", "step", "render", "close"):
            raise NotImplementedError(
                f"env_method({method_name!r}): the worlds are not separate envs; use the VecEnv's own reset/step/close"
            )
        method = getattr(self.venv, method_name)
        out = method(*method_args, **method_kwargs)  # once, for the whole batch
        return [out] * len(idx)

    def env_is_wrapped(self, wrapper_class, indices: VecEnvIndices = None) -> List[bool]:
        return [False] * len(list(self._get_indices(indices)))

    # ------------------------------------------------------------------ internals
    def _world_infos(self, info) -> List[dict]:
        cols = [list(info[k]) if k == "command" else info[k].tolist() for k in _PER_WORLD]
        return [dict(zip(_PER_WORLD, vals)) for vals in zip(*cols)]

    def _batched_options(self) -> Optional[dict]:
        """SB3's per-world reset options -> the vector env's batched options."""
        if not any(self._options):
            return None
        keys = set().union(*self._options)
        unknown = keys - {"terrain_level", "terrain_type"}
        if unknown:
            raise NotImplementedError(
                f"reset options {sorted(unknown)}: BatchedSB3VecEnv passes only "
                "terrain_level and terrain_type (per world)"
            )
        out = {}
        if "terrain_level" in keys:
            out["terrain_level"] = np.array(
                [o.get("terrain_level", lv) for o, lv in zip(self._options, self.venv.terrain_level)], np.int64
            )
        if "terrain_type" in keys:
            if not all("terrain_type" in o for o in self._options):
                raise NotImplementedError("reset option terrain_type must be given for every world or none")
            out["terrain_type"] = np.array([o["terrain_type"] for o in self._options], np.int64)
        return out

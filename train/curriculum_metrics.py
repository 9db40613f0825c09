"""Terrain-curriculum statistics for the training envs.

The env logs ``metrics['terrain_level']`` every step, and brax's training logger reports the mean
over recent episodes of each metric's *episode sum*. To get the level *distribution*, this thin
wrapper around the unbatched env adds one indicator metric per level,
``terrain_level_<k>_per_step`` (1.0 while the episode runs on level k). brax divides metrics whose
name ends in ``_per_step`` by the episode length, so ``episode/terrain_level_<k>_per_step`` is
exactly the fraction of recent training episodes on level k (logged as
``train/terrain_level_frac/<k>``, with ``train/terrain_level_mean``). On the suite world it adds
``terrain_type_<name>_per_step`` the same way (``train/terrain_type_frac/<name>``).

Used only when the training world is rough and the curriculum is on; everything else (``reset``,
``reset_from`` for the curriculum, ``step``, attributes) goes to the wrapped env unchanged.

Promotion / demotion rates come from the env itself: ``metrics['curriculum_promoted']`` /
``['curriculum_demoted']`` are 1.0 at the last step of an episode the curriculum promotes /
demotes (``mjx_envs.episode_logic.curriculum_outcome``), so their episode sums, averaged by
brax's logger, are the fractions of recent episodes promoted / demoted. The indicators of a
step belong to the episode that step is part of (at an auto-reset: the finished one).
"""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp

from model import terrain


class TerrainLevelMetrics:
    """Adds ``terrain_level_<k>_per_step`` indicator metrics (k = 0 .. num_levels-1)."""

    def __init__(self, env: Any, num_levels: Optional[int] = None):
        self.env = env
        # the env's own level count (ResidualWalk.ctx.num_levels) unless given
        self.num_levels = int(num_levels if num_levels is not None else env.ctx.num_levels)
        ctx = getattr(env, "ctx", None)
        self.type_names = tuple(terrain.TERRAIN_TYPES) if getattr(ctx, "suite", None) is not None else ()

    def _with_levels(self, state: Any) -> Any:
        level = state.info["terrain_level"]
        extra = {f"terrain_level_{k}_per_step": (level == k).astype(jnp.float32)
                 for k in range(self.num_levels)}
        if self.type_names:  # suite: the share of each terrain type (train/terrain_type_frac/<name>)
            ttype = state.info["terrain_type"]
            extra.update({f"terrain_type_{name}_per_step": (ttype == k).astype(jnp.float32)
                          for k, name in enumerate(self.type_names)})
        return state.replace(metrics={**state.metrics, **extra})

    def reset(self, rng: jax.Array) -> Any:
        return self._with_levels(self.env.reset(rng))

    def reset_from(self, rng: jax.Array, prev: Any) -> Any:
        return self._with_levels(self.env.reset_from(rng, prev))

    def step(self, state: Any, action: jax.Array) -> Any:
        return self._with_levels(self.env.step(state, action))

    @property
    def observation_size(self) -> int:
        return self.env.observation_size

    @property
    def action_size(self) -> int:
        return self.env.action_size

    def __getattr__(self, name: str) -> Any:
        if name in ("env", "__setstate__", "__getstate__"):
            raise AttributeError(name)
        return getattr(self.env, name)

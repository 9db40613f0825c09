"""Terrain-curriculum statistics for the training envs.

The env logs ``metrics['terrain_level']`` every step, and brax's training logger reports the mean
over recent episodes of each metric's *episode sum*. To get the level *distribution*, this thin
wrapper around the unbatched env adds one indicator metric per level,
``terrain_level_<k>_per_step`` (1.0 while the episode runs on level k). brax divides metrics whose
name ends in ``_per_step`` by the episode length, so ``episode/terrain_level_<k>_per_step`` is
exactly the fraction of recent training episodes on level k (logged as
``train/terrain_level_frac/<k>``, with ``train/terrain_level_mean``).

Used only when the training world is rough and the curriculum is on; everything else (``reset``,
``reset_from`` for the curriculum, ``step``, attributes) goes to the wrapped env unchanged.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp


class TerrainLevelMetrics:
    """Adds ``terrain_level_<k>_per_step`` indicator metrics (k = 0 .. num_levels-1)."""

    def __init__(self, env: Any, num_levels: int):
        self.env = env
        self.num_levels = int(num_levels)

    def _with_levels(self, state: Any) -> Any:
        level = state.info["terrain_level"]
        extra = {f"terrain_level_{k}_per_step": (level == k).astype(jnp.float32)
                 for k in range(self.num_levels)}
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

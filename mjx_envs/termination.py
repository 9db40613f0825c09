"""How a control step can end an episode: diverged physics, a fall, leaving the map.

Pure JAX functions of an :class:`mjx_envs.env_context.EnvContext` (any object with its fields)
and the step's :class:`~mjx_envs.measurements.Measurements`, shared by the MJX env, the batched
C-MuJoCo env and the Gymnasium twin through ``episode_logic.post_physics``:

* :func:`sanitise`: flags diverged physics (NaN / inf, or a joint or trunk velocity beyond
  :data:`NAN_QVEL_LIMIT`) and replaces such a state by a neutral one, so that NaN never reaches
  the observation, the reward or the metrics.
* :func:`terminate`: every termination rule in one place, returning the reasons
  (:class:`Termination`).

Units: m, rad; world frame (z up) unless stated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Tuple

import jax
import jax.numpy as jnp

from mjx_envs.measurements import Measurements, roll_pitch
from model import terrain

if TYPE_CHECKING:
    from mjx_envs.env_config import EnvConfig
    from mjx_envs.env_context import EnvContext

NAN_QVEL_LIMIT = 1e3
"""|qvel| beyond this (m/s for the trunk's linear velocity, rad/s otherwise) is treated as diverged physics."""

OFF_MAP_MARGIN_X = 0.3
"""m: the rough world's episode ends this far inside the heightfield's x edge (and the suite's, both axes)."""
OFF_MAP_MARGIN_Y = 0.2
"""m: the rough world's episode ends this far inside the heightfield's y edge."""


def terrain_height(ctx: EnvContext, x, y):
    """Ground height (m, world z) at world (x, y) [m]: bilinear in the context's heightfield
    (``ctx.heights`` on ``ctx.terrain_spec``'s grid, clamped at its border); 0 on the flat world."""
    if ctx.heights is None:
        return jnp.zeros_like(jnp.asarray(x, jnp.float32))
    return terrain.height_at(jnp.asarray(ctx.heights), x, y, ctx.terrain_spec)


def physics_diverged(meas: Measurements) -> jax.Array:
    """Scalar bool: ``qpos`` / ``qvel`` hold a NaN or inf, or some |qvel| exceeds :data:`NAN_QVEL_LIMIT`."""
    bad = ~(jnp.all(jnp.isfinite(meas.qpos)) & jnp.all(jnp.isfinite(meas.qvel)))
    return bad | jnp.any(jnp.abs(meas.qvel) > NAN_QVEL_LIMIT)


def sanitise(meas: Measurements) -> Tuple[Measurements, jax.Array]:
    """(measurements safe to compute with, diverged).

    Diverged physics (:func:`physics_diverged`): every field zeroed and the trunk upright (unit
    quaternion w = 1); the episode then ends (:func:`terminate`) and the back end's reset replaces
    the state. Otherwise the measurements with ``nan_to_num`` applied, bit for bit the same when
    they are finite."""
    diverged = physics_diverged(meas)
    meas = jax.tree.map(lambda v: jnp.where(diverged, jnp.zeros_like(v), jnp.nan_to_num(v)), meas)
    meas = meas.replace(trunk_quat=jnp.where(diverged, jnp.array([1.0, 0, 0, 0]), meas.trunk_quat))
    return meas, diverged


def fall_condition(height, roll, pitch, env: EnvConfig):
    """The one fall rule (it ends an episode as a failure; ``evaluation.nominal`` applies it too):
    trunk origin lower than ``env.min_base_height`` above the ground below it [m], or
    |roll| > ``env.max_roll`` or |pitch| > ``env.max_pitch`` [rad]. Works on JAX and numpy values."""
    return (height < env.min_base_height) | (abs(roll) > env.max_roll) | (abs(pitch) > env.max_pitch)


def off_map(ctx: EnvContext, trunk_pos: jax.Array) -> jax.Array:
    """True when the trunk (world x, y of ``trunk_pos`` [m]) is beyond the heightfield's extent:
    rough world, margins :data:`OFF_MAP_MARGIN_X` in x and :data:`OFF_MAP_MARGIN_Y` in y; suite,
    :data:`OFF_MAP_MARGIN_X` on both axes (its flat border lies inside the heightfield). There is no
    floor outside, so the episode must end there: as a truncation. Never on the flat world."""
    if not ctx.rough:
        return jnp.zeros((), bool)
    if ctx.suite is not None:
        return terrain.suite_off_map(trunk_pos[0], trunk_pos[1], ctx.suite, margin=OFF_MAP_MARGIN_X)
    spec = ctx.rough_terrain  # the compiled heightfield's extent
    return (jnp.abs(trunk_pos[0]) > spec.size_x - OFF_MAP_MARGIN_X) | (
        jnp.abs(trunk_pos[1]) > spec.size_y - OFF_MAP_MARGIN_Y
    )


class Termination(NamedTuple):
    """Why a control step ends the episode (scalar bools; a pytree, so it jits and vmaps).

    ``fallen``: the pose rule (:func:`fall_condition`); ``diverged``: the physics diverged
    (:func:`sanitise`); ``left_map``: the trunk is off the map (:func:`off_map`), whatever else
    happened. A diverged step counts as a fall: ``fell`` is the episode's failure flag (it ends
    with ``terminated``); leaving the map is not a failure but a truncation, and only when the
    step did not also fail."""

    fallen: jax.Array
    diverged: jax.Array
    left_map: jax.Array

    @property
    def fell(self) -> jax.Array:
        """The episode failed here: a fall by the pose rule or diverged physics."""
        return self.fallen | self.diverged

    @property
    def terminated(self) -> jax.Array:
        """Ends the episode as a failure (same as :attr:`fell`)."""
        return self.fell

    @property
    def truncated(self) -> jax.Array:
        """Ends the episode without failure: off the map and not :attr:`terminated`."""
        return self.left_map & ~self.terminated

    @property
    def done(self) -> jax.Array:
        return self.terminated | self.truncated


def terminate(ctx: EnvContext, meas: Measurements, diverged: jax.Array) -> Termination:
    """Every termination rule, on sanitised measurements (:func:`sanitise`; ``diverged`` is its
    flag): the fall rule on the trunk's height above the ground under it (:func:`terrain_height`)
    and its roll / pitch, diverged physics, and leaving the map. The time limit is not here: the
    training wrapper and the C-MuJoCo envs count ``episode_steps`` themselves."""
    roll, pitch = roll_pitch(meas.trunk_quat)
    ground = terrain_height(ctx, meas.trunk_pos[0], meas.trunk_pos[1])
    fallen = fall_condition(meas.trunk_pos[2] - ground, roll, pitch, ctx.env)
    return Termination(fallen=fallen, diverged=diverged, left_map=off_map(ctx, meas.trunk_pos))

"""The episode's joystick command schedule and the commanded-path bookkeeping the curriculum scores.

Pure JAX functions of an :class:`mjx_envs.env_context.EnvContext` and an episode's ``info``
(re-exported by :mod:`mjx_envs.episode_logic`, which calls them at reset and every control step):
:func:`draw_command` / :func:`heading_command` / :func:`update_command` draw and re-draw the
command (``EnvConfig.command``); :func:`track_command` integrates the commanded path and the
trunk's progress along it; :func:`draw_start_level` draws a first episode's terrain level and
:func:`curriculum_outcome` / :func:`next_level` turn a finished episode into the next one
(``EnvConfig.curriculum``). Units: m, s, rad; world frame unless stated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Tuple

import jax
import jax.numpy as jnp

from gait.planar import yaw_rotate

if TYPE_CHECKING:
    from mjx_envs.env_context import EnvContext

_CURRICULUM_SALT = 0xC0B1  # folded into info["rng"] for the random level after the top one


def _uniform(key, lo_hi, shape=()):
    lo, hi = lo_hi
    return jax.random.uniform(key, shape, minval=lo, maxval=hi)


def _wrap_angle(a):
    return jnp.mod(a + jnp.pi, 2 * jnp.pi) - jnp.pi


def draw_command(ctx: EnvContext, key: jax.Array, yaw: jax.Array) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """One joystick draw (``EnvConfig.command``): (command (3,), heading mode (bool), target heading
    [rad, world yaw]). Zero with probability ``zero_probability``; else uniform in the ranges, and
    with probability ``heading_probability`` a heading command ``yaw + U(heading_range)`` whose yaw
    rate :func:`heading_command` sets every step. Deterministic in ``key``."""
    c = ctx.env.command
    k = jax.random.split(key, 6)
    cmd = jnp.stack([_uniform(k[0], c.vx), _uniform(k[1], c.vy), _uniform(k[2], c.yaw_rate)])
    zero = jax.random.uniform(k[3]) < c.zero_probability
    heading_mode = (jax.random.uniform(k[4]) < c.heading_probability) & ~zero
    target = _wrap_angle(yaw + _uniform(k[5], c.heading_range))
    return jnp.where(zero, 0.0, cmd).astype(jnp.float32), heading_mode, target.astype(jnp.float32)


def heading_command(
    ctx: EnvContext, command: jax.Array, heading_mode: jax.Array, target: jax.Array, yaw: jax.Array
) -> jax.Array:
    """In heading mode the yaw rate is ``clip(heading_gain * wrap(target - yaw), yaw_rate range)``
    [rad/s] (a P-controller on the heading); otherwise the command is returned unchanged."""
    c = ctx.env.command
    rate = jnp.clip(c.heading_gain * _wrap_angle(target - yaw), c.yaw_rate[0], c.yaw_rate[1])
    return jnp.where(heading_mode > 0, command.at[2].set(rate), command).astype(jnp.float32)


def update_command(ctx: EnvContext, info: Dict[str, Any], yaw: jax.Array) -> Dict[str, Any]:
    """The command for the next control step: re-drawn (:func:`draw_command`) when the schedule's
    ``command_time`` [s since reset] has come, then the next re-draw time ``+ U(resample_interval)``;
    heading mode's yaw rate from the current ``yaw``. Uses and advances ``info["rng"]``."""
    c = ctx.env.command
    rng, k_cmd, k_time = jax.random.split(info["rng"], 3)
    t = info["step"].astype(jnp.float32) * ctx.sim.control_dt
    due = t >= info["command_time"]
    cmd, hmode, target = draw_command(ctx, k_cmd, yaw)
    command = jnp.where(due, cmd, info["command"])
    heading_mode = jnp.where(due, hmode.astype(jnp.float32), info["heading_mode"])
    target = jnp.where(due, target, info["target_heading"])
    next_time = jnp.where(due, t + _uniform(k_time, c.resample_interval), info["command_time"])
    command = heading_command(ctx, command, heading_mode, target, yaw)
    return {
        **info,
        "rng": rng,
        "command": command,
        "heading_mode": heading_mode,
        "target_heading": target,
        "command_time": next_time.astype(jnp.float32),
    }


def track_command(ctx: EnvContext, info: Dict[str, Any], xy: jax.Array) -> Dict[str, Any]:
    """Advance the commanded path by one control step; credit the trunk's progress along it.

    The body-frame command (vx, vy, yaw rate) is integrated in the world frame from the start
    pose (``start_xy``, ``heading``): yaw += w dt, xy += R(yaw + w dt / 2) (vx, vy) dt (midpoint
    rule: exact to O(dt^3) per step on the arc of a turning command). ``cmd_path`` sums |v| dt;
    ``progress`` sums the trunk's displacement this step (``xy - last_xy``) projected on the
    commanded direction of travel, i.e. how far the trunk advanced *along* the commanded path
    (side-sway and walking the wrong way do not count). Pure; the command may change per step.
    """
    dt = ctx.sim.control_dt
    v, w = info["command"][:2], info["command"][2]
    yaw_mid = info["cmd_yaw"] + 0.5 * w * dt
    v_world = yaw_rotate(v, yaw_mid)
    speed = jnp.sqrt(jnp.sum(jnp.square(v)))
    tangent = v_world / jnp.maximum(speed, 1e-6)
    return {
        **info,
        "cmd_xy": info["cmd_xy"] + v_world * dt,
        "cmd_yaw": info["cmd_yaw"] + w * dt,
        "cmd_path": info["cmd_path"] + speed * dt,
        "progress": info["progress"] + jnp.where(speed > 1e-6, jnp.dot(xy - info["last_xy"], tangent), 0.0),
    }


def curriculum_outcome(ctx: EnvContext, info: Dict[str, Any]) -> Tuple[jax.Array, jax.Array]:
    """(promote, demote) booleans for an episode that ended with ``info`` (the rule of
    :class:`mjx_envs.env_config.Curriculum`; both False when the curriculum is off / flat world).

    Compares where the trunk is (``last_xy``) and how far it progressed along the commanded path
    (``progress``) with the commanded end point (``cmd_xy``) and path length (``cmd_path``):
    promote: not fell, |end - commanded end| <= end_tolerance_fraction * L and progress >=
    promote_distance_fraction * L; demote: fell, or (not off the map and progress <
    demote_distance_fraction * L); L < min_command_path: neutral unless it fell.
    """
    cur = ctx.env.curriculum
    if not (cur.enabled and ctx.rough):
        return jnp.zeros((), bool), jnp.zeros((), bool)
    length = info["cmd_path"]
    fell = info["fell"] > 0
    left_map = info["off_map"] > 0
    moving = length >= cur.min_command_path
    end_err = jnp.sqrt(jnp.sum(jnp.square(info["last_xy"] - info["cmd_xy"])))
    promote = (
        moving
        & ~fell
        & (end_err <= cur.end_tolerance_fraction * length)
        & (info["progress"] >= cur.promote_distance_fraction * length)
    )
    demote = fell | (moving & ~left_map & (info["progress"] < cur.demote_distance_fraction * length))
    return promote & ~demote, demote


def next_level(ctx: EnvContext, info: Dict[str, Any]) -> jax.Array:
    """Curriculum: ``terrain_level`` for the next episode from the finished one's info.

    level + 1 on promotion (:func:`curriculum_outcome`); a robot promoted from the top level goes
    to a uniformly random level (as legged_gym does, so that the top level does not absorb every
    env); level - 1 (floor 0) on demotion; unchanged otherwise or when the curriculum is off /
    on the flat world. Deterministic in ``info`` (the random level comes from ``info["rng"]``).
    """
    level = jnp.asarray(info["terrain_level"], jnp.int32)
    if not (ctx.env.curriculum.enabled and ctx.rough):
        return level
    promote, demote = curriculum_outcome(ctx, info)
    top = ctx.num_levels - 1
    key = jax.random.fold_in(info["rng"], _CURRICULUM_SALT)
    random_level = jax.random.randint(key, (), 0, ctx.num_levels)
    up = jnp.where(level >= top, random_level, level + 1)
    new = jnp.where(promote, up, jnp.where(demote, level - 1, level))
    return jnp.clip(new, 0, top).astype(jnp.int32)


def draw_start_level(curriculum: Any, key: jax.Array) -> jax.Array:
    """A first episode's curriculum level: drawn from ``curriculum.initial_level_weights`` (index =
    level) when given, else uniformly from [0, ``curriculum.initial_max_level``]. int32 scalar."""
    weights = curriculum.initial_level_weights
    if weights:
        logits = jnp.log(jnp.asarray(weights, jnp.float32))  # log(0) = -inf: never drawn
        return jax.random.categorical(key, logits).astype(jnp.int32)
    return jax.random.randint(key, (), 0, curriculum.initial_max_level + 1)

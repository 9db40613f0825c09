"""The policy's action mapped to actuator controls: :func:`action_to_ctrl` and :func:`modulation_scales`.

Pure JAX functions of an :class:`mjx_envs.env_context.EnvContext` and an episode's ``info``,
called by ``episode_logic.pre_physics`` (residual, modulated, direct and torque action modes,
``EnvConfig.action_mode``). Units: m (foot residuals, hip frame), rad (joint targets), N·m (torques).
"""

from __future__ import annotations

from typing import Any, Dict, Tuple

import jax
import jax.numpy as jnp

from mjx_envs.env_context import EnvContext


def modulation_scales(ctx: EnvContext, modulation: jax.Array) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """(frequency scale [-], swing-height scale [-], body height [m]) of the filtered modulation
    state (3,) (``EnvConfig.modulation``); zeros give (1, 1, gait.body_height): the nominal gait."""
    return 1.0 + modulation[0], 1.0 + modulation[1], ctx.gait.body_height + modulation[2]


def action_to_ctrl(
    ctx: EnvContext, action: jax.Array, info: Dict[str, Any]
) -> Tuple[jax.Array, jax.Array, Dict[str, Any], jax.Array]:
    """Map a policy action in [-1, 1]^action_size to actuator controls (servo targets or torques).

    residual mode: per-foot xyz residual ``action * residual_max`` (m, hip frame), times the stand
    gate ``residual_stand_scale + (1 - residual_stand_scale) * gait activity``, low-pass filtered,
    added to the Bézier targets of the gait stepping to the command within its acceleration limits
    (``GaitState.command``; moved onto ``info["footholds"]`` with ``gait.footholds`` on), then IK.
    modulated mode: the same for actions 0..11, and actions 12..14 modulate the gait (step
    frequency, swing height, body height within ``EnvConfig.modulation``'s bounds, low-pass
    filtered). direct mode: home pose + ``action * direct_scale`` (rad), no gait. torque mode: joint
    torques ``action * torque_scale * torque limit`` (N·m) through motors, no gait, no servo. With
    ``action_latency`` the previous step's action drives the servos and this one waits a step.
    Returns (ctrl (12,), clipped action, info with the new filter states, number of IK-saturated
    legs).
    """
    action = jnp.clip(jnp.nan_to_num(action, nan=0.0), -1.0, 1.0)
    cfg = ctx.env
    applied = info["pending_action"] if cfg.action_latency else action
    gait = ctx.controller.ramp_command(info["gait"], info["command"], ctx.sim.control_dt)
    info = {**info, "pending_action": action, "gait": gait}
    if cfg.action_mode == "direct":
        ctrl = jnp.clip(jnp.asarray(ctx.home_joints) + cfg.direct_scale * applied, ctx.joint_lower, ctx.joint_upper)
        return ctrl, action, info, jnp.zeros(())
    if cfg.action_mode == "torque":  # the actuators are motors (env_context.make_context): ctrl is N·m
        return cfg.torque_scale * jnp.asarray(ctx.force_limit) * applied, action, info, jnp.zeros(())
    gate = cfg.residual_stand_scale + (1.0 - cfg.residual_stand_scale) * info["gait"].activity
    target = jnp.reshape(applied[:12], (4, 3)) * (cfg.residual_max * gate)
    residual = cfg.action_filter * target + (1.0 - cfg.action_filter) * info["residual"]
    modulation = info["modulation"]
    if cfg.action_mode == "modulated":
        m = cfg.modulation
        new = applied[12:15] * jnp.asarray([m.frequency, m.swing_height, m.body_height])
        modulation = m.filter * new + (1.0 - m.filter) * modulation
    freq, swing, height = modulation_scales(ctx, modulation)
    out = ctx.controller.joint_targets(gait, gait.command, height, residual, swing, freq, info.get("footholds"))
    info = {**info, "residual": residual, "modulation": modulation}
    return out.joint_targets, action, info, jnp.sum(out.saturated).astype(jnp.float32)

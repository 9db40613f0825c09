"""Safety layer shared by both back ends: joint-limit violations and actuator/IK saturation.

Each function returns per-step counts (float) that the environment adds to ``metrics`` and that
the reward penalises; ``assert_safe`` is the host-side check for deployment-like use (playback).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def joint_limit_violations(
    joint_pos: jax.Array, lower: jax.Array, upper: jax.Array, tolerance: float = 0.01
) -> jax.Array:
    """Number of joints beyond their range by more than ``tolerance`` (rad)."""
    return jnp.sum((joint_pos < lower - tolerance) | (joint_pos > upper + tolerance)).astype(jnp.float32)


def joints_near_limit(joint_pos: jax.Array, lower: jax.Array, upper: jax.Array, margin: float = 0.05) -> jax.Array:
    """Number of joints within ``margin`` (rad) of a limit or beyond it (the reward's term)."""
    return jnp.sum((joint_pos < lower + margin) | (joint_pos > upper - margin)).astype(jnp.float32)


def actuator_saturations(actuator_force: jax.Array, force_limit: jax.Array, fraction: float = 0.99) -> jax.Array:
    """Number of actuators at (>= ``fraction`` of) their torque limit."""
    return jnp.sum(jnp.abs(actuator_force) >= fraction * force_limit).astype(jnp.float32)


def torque_excess(actuator_force: jax.Array, force_limit: jax.Array, soft_fraction: float) -> jax.Array:
    """Per actuator, how far |torque| lies above ``soft_fraction`` of its limit, in units of the band
    between that and the limit: ``max(0, (|tau| / limit - soft) / (1 - soft))`` (0 below the soft
    fraction, 1 at the limit; more only for a force beyond the limit)."""
    fraction = jnp.abs(actuator_force) / jnp.maximum(force_limit, 1e-6)
    return jnp.maximum(0.0, (fraction - soft_fraction) / (1.0 - soft_fraction))


def assert_safe(metrics: dict, max_joint_violations: int = 0) -> None:
    """Raise ``RuntimeError`` if a step's metrics show NaN physics or joint-limit violations."""
    if float(np.asarray(metrics.get("nan_physics", 0.0))) > 0:
        raise RuntimeError("physics state became NaN")
    v = float(np.asarray(metrics.get("joint_limit_violations", 0.0)))
    if v > max_joint_violations:
        raise RuntimeError(f"{int(v)} joints beyond their limits")

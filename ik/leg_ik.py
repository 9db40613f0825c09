"""Closed-form 3-DoF leg inverse and forward kinematics (pure JAX, jit / vmap / grad clean).

Frames, units and the kinematic chain are described in :mod:`ik.leg_geometry`.  In short: foot
positions are foot-sphere *centres* in metres, expressed in a leg's **hip frame** (origin at the
abduction-joint centre, axes parallel to the body frame x forward / y left / z up) unless a
function says "body frame"; joint angles are (abduction, hip flexion, knee) in radians, the order
of the actuators.

Forward kinematics of one leg with side sign ``s`` (-1 right, +1 left)::

    x' = -l2 sin(q1) - l3 sin(q1 + q2)              (sagittal plane of the leg)
    z' = -l2 cos(q1) - l3 cos(q1 + q2)
    p  = R_x(q0) @ (x', s * l1, z')

Inverse kinematics (closed form)::

    r_yz = |(y, z)|,    z' = -sqrt(r_yz^2 - l1^2)                 (foot below the thigh joint)
    q0   = atan2(y' z - z' y, y' y + z' z),    y' = s * l1       (rotation (y', z') -> (y, z))
    D    = |(x, z')|,   cos(q2) = (D^2 - l2^2 - l3^2) / (2 l2 l3),  q2 = -arccos(.)  (knee back)
    q1   = atan2(-x, -z') - atan2(l3 sin q2, l2 + l3 cos q2)

Saturation rule (``saturated`` flag per leg):

1. components are first clipped to +-1 km (keeps squares finite in float32);
2. a target inside the hip cylinder (``r_yz < l1``) is pushed radially out onto it
   (a target on the abduction axis goes to ``(s * l1, 0)``, i.e. zero abduction);
3. the sagittal distance ``D`` is clamped radially to ``[min_reach, max_reach]``, the distances
   the knee limits allow (``D = 0`` goes straight down); so the knee never needs clipping;
4. the resulting angles are clipped to the joint limits.

The flag is set when step 2, 3 or 4 changed anything.  No finite input gives NaN/Inf in the
values or in gradients: every sqrt, division and atan2 is guarded with the double-``where`` trick.
"""

from __future__ import annotations

import math
from typing import Tuple

import jax
import jax.numpy as jnp

from ik.leg_geometry import DEFAULT_GEOMETRY, SIDE_SIGNS, LegGeometry

TARGET_CLIP = 1.0e3
"""Targets are clipped to +-TARGET_CLIP metres per component before anything else."""

_TINY = 1.0e-12
"""Squared lengths [m^2] below this count as zero (directions become undefined)."""


def _safe_norm2(a: jax.Array, b: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """Return ``(|(a, b)|, ok)`` with a finite gradient everywhere (zero gradient where not ok)."""
    n2 = a * a + b * b
    ok = n2 > _TINY
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, n2, 1.0)), 0.0), ok


def _safe_sqrt(v: jax.Array) -> jax.Array:
    """sqrt(max(v, 0)) with a finite gradient everywhere (zero gradient for ``v <= _TINY``)."""
    ok = v > _TINY
    return jnp.where(ok, jnp.sqrt(jnp.where(ok, v, 1.0)), 0.0)


def leg_forward_kinematics(
    joint_angles: jax.Array, side: jax.Array | float, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> jax.Array:
    """Foot-sphere centre of one leg in its hip frame.

    Args:
      joint_angles: (3,) abduction, hip flexion, knee [rad].
      side: -1 for a right leg, +1 for a left leg (scalar, may be traced).
      geometry: the leg geometry (static).

    Returns:
      (3,) foot position in the hip frame [m].
    """
    q0, q1, q2 = joint_angles[0], joint_angles[1], joint_angles[2]
    l1, l2, l3 = geometry.lateral_offset, geometry.thigh_length, geometry.calf_length
    xs = -l2 * jnp.sin(q1) - l3 * jnp.sin(q1 + q2)
    zs = -l2 * jnp.cos(q1) - l3 * jnp.cos(q1 + q2)
    ys = side * l1 * jnp.ones_like(xs)
    c0, s0 = jnp.cos(q0), jnp.sin(q0)
    return jnp.stack([xs, c0 * ys - s0 * zs, s0 * ys + c0 * zs])


def all_legs_forward_kinematics(
    joint_angles: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> jax.Array:
    """Foot-sphere centres of all four legs, each in its own hip frame.

    Args:
      joint_angles: (4, 3) per leg (abduction, hip, knee) [rad], legs FR, FL, RR, RL; a (12,)
        actuator-order vector is accepted too.
      geometry: the leg geometry (static).

    Returns:
      (4, 3) foot positions in the hip frames [m].
    """
    q = jnp.reshape(joint_angles, (4, 3))
    sides = jnp.asarray(SIDE_SIGNS, dtype=q.dtype)
    return jax.vmap(lambda a, s: leg_forward_kinematics(a, s, geometry))(q, sides)


def hip_to_body(foot_in_hip: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """(4, 3) hip-frame positions -> (4, 3) body-frame positions [m] (adds the hip offsets)."""
    return foot_in_hip + jnp.asarray(geometry.hip_offsets, dtype=foot_in_hip.dtype)


def body_to_hip(foot_in_body: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """(4, 3) body-frame positions -> (4, 3) hip-frame positions [m] (subtracts the hip offsets)."""
    return foot_in_body - jnp.asarray(geometry.hip_offsets, dtype=foot_in_body.dtype)


def foot_positions_in_body(
    joint_angles: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> jax.Array:
    """Foot-sphere centres of all four legs in the body (trunk) frame.

    Args:
      joint_angles: (4, 3) or (12,) joint angles [rad] in actuator order.
      geometry: the leg geometry (static).

    Returns:
      (4, 3) foot positions in the body frame [m], legs FR, FL, RR, RL.
    """
    return hip_to_body(all_legs_forward_kinematics(joint_angles, geometry), geometry)


def solve_leg_ik_3dof(
    foot_target: jax.Array, side: jax.Array | float, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> Tuple[jax.Array, jax.Array]:
    """Closed-form IK of one leg, with projection onto the reachable workspace.

    Args:
      foot_target: (3,) desired foot-sphere centre in the leg's hip frame [m]; any finite value.
      side: -1 for a right leg, +1 for a left leg (scalar, may be traced).
      geometry: the leg geometry (static).

    Returns:
      ``(joint_angles, saturated)``: (3,) abduction, hip, knee [rad] inside the joint limits, and
      a bool scalar that is True when the target was projected onto the workspace or an angle was
      clipped to its limit (see the module docstring for the rule).  When not saturated,
      ``leg_forward_kinematics(joint_angles, side)`` equals ``foot_target``.
    """
    p = jnp.asarray(foot_target)
    if not jnp.issubdtype(p.dtype, jnp.floating):
        p = p.astype(float)
    p = jnp.clip(p, -TARGET_CLIP, TARGET_CLIP)
    dtype = p.dtype
    x, y, z = p[0], p[1], p[2]
    side = jnp.asarray(side, dtype=dtype)
    l1, l2, l3 = geometry.lateral_offset, geometry.thigh_length, geometry.calf_length

    # 1) Abduction: keep the target out of the hip cylinder r_yz >= l1.
    r_yz, r_ok = _safe_norm2(y, z)
    inside_hip = r_yz < l1
    r_safe = jnp.where(r_ok, r_yz, 1.0)
    dir_y = jnp.where(r_ok, y / r_safe, side)
    dir_z = jnp.where(r_ok, z / r_safe, 0.0)
    y_p = jnp.where(inside_hip, l1 * dir_y, y)
    z_p = jnp.where(inside_hip, l1 * dir_z, z)
    h2 = jnp.where(inside_hip, 0.0, y_p * y_p + z_p * z_p - l1 * l1)
    zs = -_safe_sqrt(h2)  # foot height below the thigh joint in the abducted leg plane
    ys = side * l1
    q0 = jnp.arctan2(ys * z_p - zs * y_p, ys * y_p + zs * z_p)

    # 2) Sagittal plane: clamp the thigh-joint-to-foot distance to what the knee allows.
    d_min, d_max = geometry.min_reach, geometry.max_reach
    d, d_ok = _safe_norm2(x, zs)
    out_of_reach = (d < d_min) | (d > d_max)
    d_c = jnp.clip(d, d_min, d_max)
    d_safe = jnp.where(d_ok, d, 1.0)
    x_p = jnp.where(out_of_reach, d_c * jnp.where(d_ok, x / d_safe, 0.0), x)
    zs_p = jnp.where(out_of_reach, d_c * jnp.where(d_ok, zs / d_safe, -1.0), zs)
    d2 = jnp.where(out_of_reach, d_c * d_c, x * x + zs * zs)

    # 3) Knee from the law of cosines (argument strictly inside (-1, 1) by the clamp above).
    cos_lo = math.cos(geometry.knee_range[0])
    cos_hi = math.cos(geometry.knee_range[1])
    c2 = jnp.clip((d2 - l2 * l2 - l3 * l3) / (2.0 * l2 * l3), min(cos_lo, cos_hi), max(cos_lo, cos_hi))
    q2 = -jnp.arccos(c2)

    # 4) Hip flexion: direction to the foot minus the knee's angular offset; wrap to (-pi, pi].
    q1 = jnp.arctan2(-x_p, -zs_p) - jnp.arctan2(l3 * jnp.sin(q2), l2 + l3 * jnp.cos(q2))
    q1 = q1 - 2.0 * math.pi * jnp.round(q1 / (2.0 * math.pi))

    q = jnp.stack([q0, q1, q2])
    lower = jnp.asarray(geometry.joint_lower, dtype=dtype)
    upper = jnp.asarray(geometry.joint_upper, dtype=dtype)
    q_clipped = jnp.clip(q, lower, upper)
    clipped = jnp.any((q < lower) | (q > upper))
    saturated = inside_hip | out_of_reach | clipped
    return q_clipped, saturated


def solve_all_legs_ik(
    foot_targets: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> Tuple[jax.Array, jax.Array]:
    """Closed-form IK of all four legs at once.

    Args:
      foot_targets: (4, 3) desired foot-sphere centres, each in its own hip frame [m], legs
        FR, FL, RR, RL.
      geometry: the leg geometry (static).

    Returns:
      ``(joint_angles, saturated)``: (4, 3) angles [rad] (``.reshape(12)`` gives actuator order)
      and (4,) bool per-leg saturation flags (see :func:`solve_leg_ik_3dof`).
    """
    targets = jnp.asarray(foot_targets)
    sides = jnp.asarray(SIDE_SIGNS, dtype=targets.dtype)
    return jax.vmap(lambda t, s: solve_leg_ik_3dof(t, s, geometry))(targets, sides)

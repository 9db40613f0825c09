"""Closed-form 3-DoF leg inverse and forward kinematics (pure JAX, jit / vmap / grad clean).

Frames, units and the kinematic chain are described in :mod:`ik.leg_geometry`.  In short: foot
positions are foot-sphere *centres* in metres, expressed in a leg's **hip frame** (origin at the
abduction-joint centre, axes parallel to the body frame x forward / y left / z up) unless a
function says "body frame"; joint angles are the model's (abduction, hip flexion, knee) in radians,
the order of the actuators.

Each leg is a :class:`ik.leg_geometry.LegChain`: reference-pose vectors ``p1`` (abduction → hip
joint), ``p2`` (hip → knee joint), ``p3`` (knee joint → foot centre); canonical angles
``θ = sign · (q − ref)``. Forward kinematics::

    foot = R_x(θ0) · (p1 + R_y(θ1) · (p2 + R_y(θ2) · p3))

R_y keeps y, so the foot's y in the (un-abducted) leg plane is the constant ``L1 = p1y + p2y + p3y``
(the signed lateral offset). Writing sagittal vectors as complex numbers ``w = z + i x`` (R_y(θ)
multiplies by ``e^{iθ}``), the inverse kinematics is, in closed form::

    r_yz = |(y, z)|,   z' = -sqrt(r_yz^2 - L1^2)                   (foot below the hip joint)
    θ0   = atan2(L1 z - z' y, L1 y + z' z)                          (rotation (L1, z') -> (y, z))
    W    = (z' - p1z) + i (x - p1x),   D = |W|                      (hip joint -> foot)
    cos(θ2 + β) = (D^2 - |w2|^2 - |w3|^2) / (2 |w2| |w3|),  β = arg w3 - arg w2
    θ2   = σ arccos(.) - β          (σ: the side the knee folds to over its whole range)
    θ1   = arg W - arg(w2 + e^{iθ2} w3)
    q    = ref + sign · θ           (wrapped into the joint range's 2π window)

Saturation rule (``saturated`` flag per leg):

1. components are first clipped to +-1 km (keeps squares finite in float32);
2. a target inside the hip cylinder (``r_yz < |L1|``) is pushed radially out onto it
   (a target on the abduction axis goes to ``(L1, 0)``, i.e. zero abduction);
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
import numpy as np

from ik.leg_geometry import DEFAULT_GEOMETRY, LegChain, LegGeometry

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


def _chain_params(c: LegChain) -> np.ndarray:
    """A leg's constants packed into one float64 vector (so four legs vmap as a (4, P) array)."""
    lo_c, hi_c = c.canonical_range(2)
    beta = c.knee_bend_offset
    cos_a, cos_b = math.cos(lo_c + beta), math.cos(hi_c + beta)
    return np.asarray(
        [
            *c.p1,
            *c.p2,
            *c.p3,
            *c.signs,
            *c.refs,
            *c.lower,
            *c.upper,
            c.lateral,
            beta,
            c.knee_sign,
            c.min_reach,
            c.max_reach,
            min(cos_a, cos_b),
            max(cos_a, cos_b),
        ],
        np.float64,
    )


def _geometry_params(geometry: LegGeometry) -> np.ndarray:
    """(4, P) packed constants of the four legs, FR, FL, RR, RL."""
    return np.stack([_chain_params(c) for c in geometry.chains])


def _unpack(p):
    return dict(
        p1=p[0:3],
        p2=p[3:6],
        p3=p[6:9],
        signs=p[9:12],
        refs=p[12:15],
        lower=p[15:18],
        upper=p[18:21],
        lateral=p[21],
        beta=p[22],
        sigma=p[23],
        d_min=p[24],
        d_max=p[25],
        cos_lo=p[26],
        cos_hi=p[27],
    )


def _rot_y(theta, v):
    c, s = jnp.cos(theta), jnp.sin(theta)
    return jnp.stack([c * v[0] + s * v[2], v[1] * jnp.ones_like(c), -s * v[0] + c * v[2]])


def _fk(q: jax.Array, p) -> jax.Array:
    k = _unpack(p)
    theta = k["signs"] * (q - k["refs"])
    v = k["p2"] + _rot_y(theta[2], k["p3"])
    v = k["p1"] + _rot_y(theta[1], v)
    c0, s0 = jnp.cos(theta[0]), jnp.sin(theta[0])
    return jnp.stack([v[0], c0 * v[1] - s0 * v[2], s0 * v[1] + c0 * v[2]])


def _wrap_into(q, lower, upper):
    """q shifted by a multiple of 2π into the 2π window centred on the range's midpoint."""
    mid = 0.5 * (lower + upper)
    return q - 2.0 * math.pi * jnp.round((q - mid) / (2.0 * math.pi))


def _ik(foot_target: jax.Array, p) -> Tuple[jax.Array, jax.Array]:
    k = _unpack(p)
    t = jnp.asarray(foot_target)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(float)
    t = jnp.clip(t, -TARGET_CLIP, TARGET_CLIP)
    dtype = t.dtype
    k = {n: jnp.asarray(v, dtype) for n, v in k.items()}
    x, y, z = t[0], t[1], t[2]
    lat = k["lateral"]
    l1 = jnp.abs(lat)
    side = jnp.sign(lat)

    # 1) Abduction: keep the target out of the hip cylinder r_yz >= |L1|.
    r_yz, r_ok = _safe_norm2(y, z)
    inside_hip = r_yz < l1
    r_safe = jnp.where(r_ok, r_yz, 1.0)
    dir_y = jnp.where(r_ok, y / r_safe, side)
    dir_z = jnp.where(r_ok, z / r_safe, 0.0)
    y_p = jnp.where(inside_hip, l1 * dir_y, y)
    z_p = jnp.where(inside_hip, l1 * dir_z, z)
    h2 = jnp.where(inside_hip, 0.0, y_p * y_p + z_p * z_p - l1 * l1)
    zs = -_safe_sqrt(h2)  # foot height below the abduction axis in the abducted leg plane
    th0 = jnp.arctan2(lat * z_p - zs * y_p, lat * y_p + zs * z_p)

    # 2) Sagittal plane, from the hip joint: clamp the distance to what the knee allows.
    xx = x - k["p1"][0]
    zz = zs - k["p1"][2]
    d_min, d_max = k["d_min"], k["d_max"]
    d, d_ok = _safe_norm2(xx, zz)
    out_of_reach = (d < d_min) | (d > d_max)
    d_c = jnp.clip(d, d_min, d_max)
    d_safe = jnp.where(d_ok, d, 1.0)
    x_p = jnp.where(out_of_reach, d_c * jnp.where(d_ok, xx / d_safe, 0.0), xx)
    z_pp = jnp.where(out_of_reach, d_c * jnp.where(d_ok, zz / d_safe, -1.0), zz)
    d2 = jnp.where(out_of_reach, d_c * d_c, xx * xx + zz * zz)

    # 3) Knee from the law of cosines (argument inside the knee range's cosines by the clamp above).
    p2, p3 = k["p2"], k["p3"]
    a2 = p2[0] * p2[0] + p2[2] * p2[2]
    a3 = p3[0] * p3[0] + p3[2] * p3[2]
    c2 = jnp.clip((d2 - a2 - a3) / (2.0 * jnp.sqrt(a2 * a3)), k["cos_lo"], k["cos_hi"])
    th2 = k["sigma"] * jnp.arccos(c2) - k["beta"]

    # 4) Hip flexion: direction to the foot minus the direction of the folded lower chain.
    c, s = jnp.cos(th2), jnp.sin(th2)
    kx = p2[0] + c * p3[0] + s * p3[2]
    kz = p2[2] - s * p3[0] + c * p3[2]
    th1 = jnp.arctan2(x_p, z_pp) - jnp.arctan2(kx, kz)

    q = k["refs"] + k["signs"] * jnp.stack([th0, th1, th2])
    q = _wrap_into(q, k["lower"], k["upper"])
    q_clipped = jnp.clip(q, k["lower"], k["upper"])
    clipped = jnp.any((q < k["lower"]) | (q > k["upper"]))
    saturated = inside_hip | out_of_reach | clipped
    return q_clipped, saturated


def _side_params(side, geometry: LegGeometry):
    """Packed constants of a right (FR) or left (FL) leg chosen by ``side`` (may be traced)."""
    prm = _geometry_params(geometry)
    right, left = jnp.asarray(prm[0]), jnp.asarray(prm[1])
    return jnp.where(jnp.asarray(side) > 0, left, right)


def leg_forward_kinematics(
    joint_angles: jax.Array, side: jax.Array | float, geometry: LegGeometry = DEFAULT_GEOMETRY
) -> jax.Array:
    """Foot-sphere centre of one leg in its hip frame.

    Args:
      joint_angles: (3,) abduction, hip flexion, knee [rad].
      side: -1 for a right leg (the FR chain), +1 for a left leg (the FL chain); may be traced.
      geometry: the leg geometry (static).

    Returns:
      (3,) foot position in the hip frame [m].
    """
    q = jnp.asarray(joint_angles)
    return _fk(q, _side_params(side, geometry).astype(q.dtype))


def all_legs_forward_kinematics(joint_angles: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """Foot-sphere centres of all four legs, each in its own hip frame.

    Args:
      joint_angles: (4, 3) per leg (abduction, hip, knee) [rad], legs FR, FL, RR, RL; a (12,)
        actuator-order vector is accepted too.
      geometry: the leg geometry (static).

    Returns:
      (4, 3) foot positions in the hip frames [m].
    """
    q = jnp.reshape(joint_angles, (4, 3))
    prm = jnp.asarray(_geometry_params(geometry), dtype=q.dtype)
    return jax.vmap(_fk)(q, prm)


def hip_to_body(foot_in_hip: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """(4, 3) hip-frame positions -> (4, 3) body-frame positions [m] (adds the hip offsets)."""
    return foot_in_hip + jnp.asarray(geometry.hip_offsets, dtype=foot_in_hip.dtype)


def body_to_hip(foot_in_body: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """(4, 3) body-frame positions -> (4, 3) hip-frame positions [m] (subtracts the hip offsets)."""
    return foot_in_body - jnp.asarray(geometry.hip_offsets, dtype=foot_in_body.dtype)


def foot_positions_in_body(joint_angles: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
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
      side: -1 for a right leg (the FR chain), +1 for a left leg (the FL chain); may be traced.
      geometry: the leg geometry (static).

    Returns:
      ``(joint_angles, saturated)``: (3,) abduction, hip, knee [rad] inside the joint limits, and
      a bool scalar that is True when the target was projected onto the workspace or an angle was
      clipped to its limit (see the module docstring for the rule).  When not saturated,
      ``leg_forward_kinematics(joint_angles, side)`` equals ``foot_target``.
    """
    t = jnp.asarray(foot_target)
    dtype = t.dtype if jnp.issubdtype(t.dtype, jnp.floating) else jnp.result_type(float)
    return _ik(t, _side_params(side, geometry).astype(dtype))


def solve_all_legs_ik(foot_targets: jax.Array, geometry: LegGeometry = DEFAULT_GEOMETRY) -> Tuple[jax.Array, jax.Array]:
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
    dtype = targets.dtype if jnp.issubdtype(targets.dtype, jnp.floating) else jnp.result_type(float)
    prm = jnp.asarray(_geometry_params(geometry), dtype=dtype)
    return jax.vmap(_ik)(targets.astype(dtype), prm)

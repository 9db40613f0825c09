"""Bézier foot-trajectory generator (MIT Cheetah swing profile), pure JAX.

All foot targets are foot-sphere centres in each leg's **hip frame** (origin at the abduction
joint, axes parallel to the body frame: x forward, y left, z up) in metres.  Leg order FR, FL,
RR, RL.

Gait clock
  A scalar gait phase ``phi`` in [0, 1) advances by ``dt / period`` per step (:class:`GaitState`,
  :func:`advance_gait`).  Leg ``i`` has phase ``phi_i = (phi + offset_i) mod 1``; it is in
  **stance** for ``phi_i < duty_factor`` (stance progress ``u = phi_i / duty``) and in **swing**
  otherwise (swing progress ``u = (phi_i - duty) / (1 - duty)``).

Step vector
  From the body command ``(vx, vy, wz)`` [m/s, m/s, rad/s] each leg gets a planar velocity
  ``v_i = (vx - wz * r_y, vy + wz * r_x)`` where ``r`` is its nominal foot position in the body
  frame (``omega x r``).  Its half step vector is ``L_i = v_i * duty * period / 2`` [m] (norm
  capped at ``max_step_length / 2``), so a stance foot sweeping ``+L_i -> -L_i`` in
  ``duty * period`` seconds moves backwards in the hip frame at exactly ``-v_i``.

Swing (Hyun et al. 2014, 12 control points, unit half-step and unit height)::

    X = [-1, -1.4, -1.5, -1.5, -1.5, 0, 0, 0, 1.5, 1.5, 1.4, 1]            (times L_i)
    Z = [0, 0, .9, .9, .9, .9, .9, 1.1, 1.1, 1.1, 0, 0] / max_u Bz(u)      (times swing_height)

  The Z curve is normalised so its peak equals ``swing_height`` exactly.

Stance (penetration curve, continuous with the swing at both ends)::

    offset_xy = L_i * (1 - 2 u),    offset_z = -penetration_depth * sin(pi u)
              (= -delta * cos(pi x / 2L) with x = L (1 - 2u))

Foot target = nominal point ``(foot_x_offset, s * (l1 + foot_y_offset), -(body_height - r_foot))``
plus the offset.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gait.gait_config import GaitConfig
from ik.leg_geometry import DEFAULT_GEOMETRY, SIDE_SIGNS, LegGeometry

SWING_X_POINTS: Tuple[float, ...] = (-1.0, -1.4, -1.5, -1.5, -1.5, 0.0, 0.0, 0.0, 1.5, 1.5, 1.4, 1.0)
"""Swing-curve control points along the step direction, in units of the half step L."""

_SWING_Z_RAW: Tuple[float, ...] = (0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1, 1.1, 1.1, 0.0, 0.0)


def _bezier_peak_numpy(points: Tuple[float, ...]) -> float:
    """Maximum over u in [0, 1] of the Bézier curve with these control points (float64, exact roots)."""
    n = len(points) - 1
    # power-basis coefficients of sum_k C(n,k) u^k (1-u)^(n-k) P_k
    coeffs = np.zeros(n + 1)
    for k, pk in enumerate(points):
        for j in range(n - k + 1):
            coeffs[k + j] += pk * math.comb(n, k) * math.comb(n - k, j) * (-1.0) ** j
    poly = np.polynomial.Polynomial(coeffs)
    candidates = [0.0, 1.0] + [r.real for r in poly.deriv().roots() if abs(r.imag) < 1e-9 and 0.0 <= r.real <= 1.0]
    return float(max(poly(u) for u in candidates))


SWING_Z_PEAK_RAW: float = _bezier_peak_numpy(_SWING_Z_RAW)
"""Peak of the raw Z curve (control points in units of H); about 1.04."""

SWING_Z_POINTS: Tuple[float, ...] = tuple(z / SWING_Z_PEAK_RAW for z in _SWING_Z_RAW)
"""Swing-curve height control points in units of the clearance (peak of the curve is exactly 1)."""


@struct.dataclass
class GaitState:
    """Gait clock carried between control steps (a pytree; vmap it for many environments).

    Attributes:
      phase: scalar gait phase in [0, 1) [fraction of a period]; leg phases are offsets of it.
      activity: stepping amplitude in [0, 1] [-]: 1 = walking (full swing height, step length and
        stance dip), 0 = standing (every foot held at its nominal stance point while the clock runs
        on). Moves towards :func:`stepping_target` of the command at ``1 / stand_transition`` per
        second when :func:`advance_gait` is given the command; stays put otherwise.
      command: (3,) the command the gait steps to, ``(vx [m/s], vy [m/s], yaw rate [rad/s])`` in
        the body frame: the user's command reached at the gait's acceleration limits
        (:func:`ramp_command`); zero in a new state (the robot stands still).
    """

    phase: jax.Array
    activity: jax.Array
    command: jax.Array

    @classmethod
    def create(
        cls, phase: float | jax.Array = 0.0, activity: float | jax.Array = 1.0, command: Optional[jax.Array] = None
    ) -> "GaitState":
        """A gait state at ``phase`` (wrapped into [0, 1)) with stepping amplitude ``activity``,
        stepping to ``command`` (3,) (default zero)."""
        ph = jnp.mod(jnp.asarray(phase, dtype=jnp.result_type(float)), 1.0)
        act = jnp.broadcast_to(jnp.clip(jnp.asarray(activity, dtype=ph.dtype), 0.0, 1.0), ph.shape)
        cmd = jnp.zeros((3,), ph.dtype) if command is None else jnp.asarray(command, ph.dtype)
        return cls(phase=ph, activity=act, command=jnp.broadcast_to(cmd, ph.shape + (3,)))


def ramp_command(state: GaitState, command: jax.Array, dt: float | jax.Array, config: GaitConfig) -> GaitState:
    """``state`` with its :attr:`GaitState.command` moved towards ``command`` (3,) by at most
    ``max_acceleration * dt`` in vx and in vy [m/s] and ``max_yaw_acceleration * dt`` in the yaw
    rate [rad/s]; a limit of 0 takes that part of ``command`` at once. A stepped command (a
    joystick flicked from back to forward) then moves the stance feet over a few steps instead of
    jumping them a full step length, which saturated the hip servos."""
    old = state.command
    command = jnp.asarray(command, old.dtype)
    limits = jnp.asarray([config.max_acceleration, config.max_acceleration, config.max_yaw_acceleration], old.dtype)
    step = limits * dt
    ramped = old + jnp.clip(command - old, -step, step)
    return state.replace(command=jnp.where(limits > 0.0, ramped, command))


def stepping_target(command: jax.Array, config: GaitConfig, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """1.0 where the gait should step for ``command``, 0.0 where it should stand.

    Stands when ``config.stand_still`` is on and every foot's commanded planar speed
    (:func:`leg_velocities`) is below ``config.stand_speed`` [m/s]; always 1.0 when it is off (the
    gait then steps in place at zero command).
    """
    if not config.stand_still:
        return jnp.ones((), jnp.result_type(float))
    speed = jnp.max(jnp.linalg.norm(leg_velocities(command, config, geometry), axis=-1))
    return jnp.where(speed >= config.stand_speed, 1.0, 0.0)


def advance_gait(
    state: GaitState,
    dt: float | jax.Array,
    config: GaitConfig,
    command: Optional[jax.Array] = None,
    frequency_scale: float | jax.Array = 1.0,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
) -> GaitState:
    """Advance the gait clock by ``dt`` seconds.

    ``phase <- (phase + dt * frequency_scale / period) mod 1`` (``frequency_scale`` > 0 multiplies
    the step frequency: gait modulation). With ``command`` given, ``activity`` moves towards
    :func:`stepping_target` by at most ``dt / config.stand_transition``.
    """
    phase = jnp.mod(state.phase + dt * frequency_scale / config.period, 1.0)
    activity = state.activity
    if command is not None:
        target = stepping_target(command, config, geometry).astype(activity.dtype)
        rate = dt / max(config.stand_transition, 1e-6)
        activity = activity + jnp.clip(target - activity, -rate, rate)
    return state.replace(phase=phase, activity=activity)


def leg_phases(state: GaitState, config: GaitConfig) -> jax.Array:
    """(4,) per-leg phases in [0, 1) (FR, FL, RR, RL) for the configured footfall pattern."""
    offsets = jnp.asarray(config.phase_offsets, dtype=jnp.result_type(state.phase))
    return jnp.mod(state.phase + offsets, 1.0)


def bezier_curve(control_points: jax.Array, u: jax.Array) -> jax.Array:
    """Evaluate a 1-D Bézier curve by de Casteljau's algorithm (stable, gradient clean).

    Args:
      control_points: (n,) control values.
      u: scalar curve parameter in [0, 1].

    Returns:
      scalar curve value, same units as the control points.
    """
    pts = jnp.asarray(control_points, dtype=jnp.result_type(u, float))
    for _ in range(pts.shape[0] - 1):
        pts = (1.0 - u) * pts[:-1] + u * pts[1:]
    return pts[0]


def swing_profile(progress: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """Unit swing curve: ``(x in units of L, z in units of the clearance)`` at swing progress in [0, 1]."""
    u = jnp.clip(progress, 0.0, 1.0)
    return bezier_curve(jnp.asarray(SWING_X_POINTS), u), bezier_curve(jnp.asarray(SWING_Z_POINTS), u)


def stance_profile(progress: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """Unit stance curve: ``(x = 1 - 2u in units of L, z = -sin(pi u) in units of the depth)``."""
    u = jnp.clip(progress, 0.0, 1.0)
    return 1.0 - 2.0 * u, -jnp.sin(jnp.pi * u)


def bezier_swing(progress: jax.Array, half_step: jax.Array, swing_height: float | jax.Array) -> jax.Array:
    """Swing-phase foot offset from the nominal foot point.

    Args:
      progress: swing progress in [0, 1] (0 = lift-off behind, 1 = touch-down in front).
      half_step: (2,) half step vector L (x, y) in the hip frame [m].
      swing_height: clearance at the peak of the swing [m].

    Returns:
      (3,) offset in the hip frame [m]; goes from ``(-L, 0)`` to ``(+L, 0)``.
    """
    sx, sz = swing_profile(progress)
    return jnp.concatenate([sx * half_step, jnp.reshape(swing_height * sz, (1,))])


def stance_penetration(progress: jax.Array, half_step: jax.Array, depth: float | jax.Array) -> jax.Array:
    """Stance-phase foot offset from the nominal foot point.

    Args:
      progress: stance progress in [0, 1] (0 = touch-down in front, 1 = lift-off behind).
      half_step: (2,) half step vector L (x, y) in the hip frame [m].
      depth: penetration depth at mid-stance [m].

    Returns:
      (3,) offset in the hip frame [m]; goes linearly from ``(+L, 0)`` to ``(-L, 0)`` while dipping
      to ``-depth`` at mid-stance.
    """
    sx, sz = stance_profile(progress)
    return jnp.concatenate([sx * half_step, jnp.reshape(depth * sz, (1,))])


def foot_offset(
    leg_phase: jax.Array,
    half_step: jax.Array,
    duty_factor: float,
    swing_height: float | jax.Array,
    penetration_depth: float | jax.Array,
) -> jax.Array:
    """(3,) hip-frame foot offset [m] of one leg at ``leg_phase`` in [0, 1) (stance, then swing)."""
    in_stance = leg_phase < duty_factor
    stance_u = leg_phase / duty_factor
    swing_u = (leg_phase - duty_factor) / (1.0 - duty_factor)
    return jnp.where(
        in_stance,
        stance_penetration(stance_u, half_step, penetration_depth),
        bezier_swing(swing_u, half_step, swing_height),
    )


def nominal_stance_points(
    config: GaitConfig,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
    body_height: Optional[jax.Array | float] = None,
) -> jax.Array:
    """(4, 3) nominal (zero-velocity) foot-centre positions in the hip frames [m].

    ``(foot_x_offset, L1_i + s_i * foot_y_offset, -(body_height + hip_z_i - foot_radius))`` with
    ``L1_i`` the leg's signed lateral offset and ``hip_z_i`` its hip's height in the trunk frame (0 on
    the project's robots); ``body_height`` [m] overrides ``config.body_height`` (may be traced).
    """
    config = config.for_robot(geometry)
    h = config.body_height if body_height is None else body_height
    hip_z = jnp.asarray([hp[2] for hp in geometry.hip_offsets], dtype=jnp.result_type(float))
    z = -(jnp.asarray(h, dtype=jnp.result_type(float)) + hip_z - geometry.foot_radius)
    sides = jnp.asarray(SIDE_SIGNS, dtype=z.dtype)
    x = jnp.full((4,), config.foot_x_offset, dtype=z.dtype)
    y = jnp.asarray(geometry.lateral_offsets, dtype=z.dtype) + sides * config.foot_y_offset
    return jnp.stack([x, y, z], axis=-1)


def nominal_feet_in_body(config: GaitConfig, geometry: LegGeometry = DEFAULT_GEOMETRY) -> np.ndarray:
    """(4, 2) float64 nominal foot points in the body frame (x, y) [m]: each hip's offset plus its
    nominal stance point (``foot_x_offset``; the leg's lateral offset + ``foot_y_offset`` outwards)."""
    sides = np.asarray(SIDE_SIGNS)
    hips = np.asarray(geometry.hip_offsets)
    r_x = hips[:, 0] + config.foot_x_offset
    r_y = hips[:, 1] + np.asarray(geometry.lateral_offsets) + sides * config.foot_y_offset
    return np.stack([r_x, r_y], axis=-1)


def leg_velocities(command: jax.Array, config: GaitConfig, geometry: LegGeometry = DEFAULT_GEOMETRY) -> jax.Array:
    """(4, 2) planar velocity [m/s] each foot point must have relative to the ground-fixed world.

    ``v_i = (vx - wz * r_iy, vy + wz * r_ix)`` with ``r_i`` the nominal foot point in the body frame;
    ``command`` is (3,) ``(vx [m/s], vy [m/s], wz [rad/s])`` in the body frame.
    """
    command = jnp.asarray(command, dtype=jnp.result_type(command, float))
    r = nominal_feet_in_body(config, geometry)
    vx, vy, wz = command[0], command[1], command[2]
    return jnp.stack([vx - wz * jnp.asarray(r[:, 1]), vy + wz * jnp.asarray(r[:, 0])], axis=-1)


def half_steps_from_command(
    command: jax.Array,
    config: GaitConfig,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
    frequency_scale: float | jax.Array = 1.0,
) -> jax.Array:
    """(4, 2) half step vectors L_i = v_i * duty * period / (2 * frequency_scale) [m], norm capped
    at max_step_length / 2 (a faster clock takes shorter steps for the same speed)."""
    config = config.for_robot(geometry)
    half = leg_velocities(command, config, geometry) * (0.5 * config.duty_factor * config.period / frequency_scale)
    cap = 0.5 * config.max_step_length
    n2 = jnp.sum(half * half, axis=-1, keepdims=True)
    ok = n2 > cap * cap
    norm = jnp.sqrt(jnp.where(ok, n2, 1.0))
    return jnp.where(ok, half * (cap / norm), half)


def nominal_foot_targets(
    state: GaitState,
    command: jax.Array,
    config: GaitConfig,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
    body_height: Optional[jax.Array | float] = None,
    swing_scale: float | jax.Array = 1.0,
    frequency_scale: float | jax.Array = 1.0,
) -> jax.Array:
    """Nominal foot targets of all legs for the current gait phase.

    Args:
      state: gait clock (its ``activity`` scales the whole offset from the stance points: 0 holds
        every foot at its nominal stance point, i.e. the robot stands).
      command: (3,) body velocity command ``(vx [m/s], vy [m/s], yaw rate [rad/s])``, body frame.
      config: gait parameters (static).
      geometry: leg geometry (static).
      body_height: optional trunk height above ground [m] overriding ``config.body_height``.
      swing_scale: multiplies ``swing_height`` (gait modulation; 1 = nominal).
      frequency_scale: the clock's step-frequency multiplier (gait modulation; 1 = nominal); the
        step length is divided by it so the commanded speed is kept.

    Returns:
      (4, 3) foot-centre targets, each in its own hip frame [m], legs FR, FL, RR, RL.
    """
    config = config.for_robot(geometry)
    phases = leg_phases(state, config)
    half = half_steps_from_command(command, config, geometry, frequency_scale)
    swing_height = config.swing_height * swing_scale
    offsets = jax.vmap(lambda ph, l: foot_offset(ph, l, config.duty_factor, swing_height, config.penetration_depth))(
        phases, half.astype(phases.dtype)
    )
    offsets = offsets * jnp.asarray(state.activity, offsets.dtype)
    return nominal_stance_points(config, geometry, body_height).astype(offsets.dtype) + offsets


def stance_mask(state: GaitState, config: GaitConfig) -> jax.Array:
    """(4,) bool, True for legs whose gait phase is in stance (desired contact)."""
    return leg_phases(state, config) < config.duty_factor

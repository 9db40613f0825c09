"""Footholds: the gait's touchdowns moved onto safe ground (``gait.footholds``), pure JAX.

The plain Bézier gait puts every foot down at a fixed phase and step length whatever lies there.
With footholds on, the gait looks at a height map when a foot lifts off:

1. **Where it would land.** The nominal touchdown, predicted in the trunk's body-yaw frame (x along
   its heading, y left): the hip, the nominal stance point and the half step ``+L``, moved by the
   trunk's commanded motion over one swing (velocity x swing duration, turned by the yaw rate).
2. **Where it lands.** The cheapest cell of a grid around it (:class:`gait.gait_config.FootholdConfig`):
   level within ``edge_radius``, no pit, close to the nominal touchdown. Its offset from the nominal
   touchdown is the leg's *shift* [m, body-yaw frame] and its height the leg's *ground* [m, world z].
3. **Where the trunk goes.** A foot moved far sideways tips the trot, so the trunk's path moves
   instead: at each lift-off the sideways offset (``+-steer_window``) with the cheapest safe cells
   for all four legs is found, and the gait adds a sideways velocity (``offset / steer_time``,
   capped at ``steer_speed``) to the command it steps to (:func:`steered_command`); a lengthwise
   trench then passes between the feet or beside them.
4. **How high it swings.** The apex rises above the nominal swing height when the ground under the
   swing path (``path_samples`` points between lift-off and touchdown) minus the swing's base line
   needs more than ``swing_height`` to clear it by ``swing_margin``.

Between lift-offs the shift and the ground are held, so the stance foot stays on its foothold and
its height target follows the ground there. During a swing both blend from the stance the foot
left to the new foothold with a smoothstep of the swing progress. Foot heights are relative to the
mean of the four legs' (blended) ground heights, the level the trunk keeps ``body_height`` above.

``height_fn(x, y) -> z`` is any function of world coordinates [m]: the terrain's heightfield in
simulation (:func:`mjx_envs.termination.terrain_height`), a robot's elevation map on hardware.
Every function is pure and vmaps.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from gait.bezier_gait import SWING_X_POINTS, SWING_Z_POINTS, bezier_curve, nominal_feet_in_body
from gait.gait_config import FootholdConfig, GaitConfig
from gait.planar import smoothstep, yaw_rotate
from ik.leg_geometry import LegGeometry

COST_DECIMALS = 5
"""Costs are rounded to this many decimals before the cheapest cell is taken: equal costs (common
on the grid) then tie exactly, and the first cell wins in float32 and float64 alike."""

OBSTACLE_HEIGHT = 0.01
"""Ground this much [m] above the swing's base line counts as something to step over."""

HeightFn = Callable[[jax.Array, jax.Array], jax.Array]
"""Ground height [m, world z] at world (x, y) [m], elementwise over arrays of any shape."""


@struct.dataclass
class FootholdState:
    """Each leg's foothold, carried between control steps (a pytree; legs FR, FL, RR, RL).

    Attributes:
      shift: (4, 2) offset of the foothold from the nominal touchdown [m, body-yaw frame]: where the
        stance foot stands, or the swing foot will land.
      ground: (4,) ground height at that foothold [m, world z].
      start_shift: (4, 2) the shift of the stance the swing foot left [m].
      start_ground: (4,) the ground height there [m].
      extra_clearance: (4,) swing apex height above the nominal swing height [m] (>= 0).
      target: (4, 2) the foothold in the world (x, y) [m].
      steer: (2,) velocity the gait adds to the command to move the trunk's path sideways onto
        safe ground [m/s, body frame].
    """

    shift: jax.Array
    ground: jax.Array
    start_shift: jax.Array
    start_ground: jax.Array
    extra_clearance: jax.Array
    target: jax.Array
    steer: jax.Array


def _feet(config: GaitConfig, geometry: LegGeometry) -> jax.Array:
    return jnp.asarray(nominal_feet_in_body(config, geometry), jnp.float32)


def initial_footholds(
    trunk_xy: jax.Array, yaw: jax.Array, config: GaitConfig, geometry: LegGeometry, height_fn: HeightFn
) -> FootholdState:
    """Footholds of a robot standing at its nominal stance points: zero shifts, the ground under
    each foot (trunk at world ``trunk_xy`` [m] facing ``yaw`` [rad])."""
    feet = trunk_xy + yaw_rotate(_feet(config, geometry), yaw)
    ground = height_fn(feet[:, 0], feet[:, 1]).astype(jnp.float32)
    zero = jnp.zeros((4, 2), jnp.float32)
    return FootholdState(
        zero, ground, zero, ground, jnp.zeros((4,), jnp.float32), feet.astype(jnp.float32), jnp.zeros((2,), jnp.float32)
    )


def steered_command(command: jax.Array, state: FootholdState) -> jax.Array:
    """(3,) the command the gait steps to: ``command`` (vx, vy, yaw rate) plus the footholds'
    sideways steering velocity (:attr:`FootholdState.steer`)."""
    command = jnp.asarray(command)
    return command + jnp.concatenate([state.steer, jnp.zeros((1,), state.steer.dtype)]).astype(command.dtype)


def _unit_swing_height(u: jax.Array) -> jax.Array:
    """The swing curve's height [units of the clearance] at each swing progress in ``u`` (k,)."""
    return jax.vmap(lambda v: bezier_curve(jnp.asarray(SWING_Z_POINTS), v))(u)


def _ring(radius: float) -> np.ndarray:
    return radius * np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]], np.float32)


def candidate_offsets(cfg: FootholdConfig) -> np.ndarray:
    """(candidates, 2) offsets of the search cells from the nominal touchdown [m, body-yaw frame]."""
    ox, oy = np.meshgrid(np.asarray(cfg.offsets_1d(cfg.window_x)), np.asarray(cfg.offsets_1d(cfg.window_y)))
    return np.stack([ox.ravel(), oy.ravel()], axis=-1).astype(np.float32)


def cell_costs(centres: jax.Array, yaw: jax.Array, offsets: jax.Array, cfg: FootholdConfig, height_fn: HeightFn):
    """(cost (..., n), height (..., n)) of candidate cells at world ``centres`` (..., n, 2) [m],
    whose offsets from the nominal touchdown are ``offsets`` (n, 2) [m, body-yaw frame]."""
    ring = yaw_rotate(jnp.asarray(_ring(cfg.edge_radius)), yaw)  # (4, 2) world
    rims = yaw_rotate(jnp.asarray(_ring(cfg.pit_radius)), yaw)
    pts = centres[..., None, :] + jnp.concatenate([jnp.zeros((1, 2)), ring, rims])  # (..., n, 9, 2)
    h = height_fn(pts[..., 0], pts[..., 1])
    h0 = h[..., 0]
    rough = jnp.max(jnp.abs(h[..., 1:5] - h0[..., None]), axis=-1)
    rim = h[..., 5:9] - h0[..., None]  # +x, -x, +y, -y
    pit = jnp.maximum(jnp.minimum(rim[..., 0], rim[..., 1]), jnp.minimum(rim[..., 2], rim[..., 3]))
    violation = jnp.maximum(rough - cfg.edge_height, 0.0) + jnp.maximum(pit - cfg.pit_depth, 0.0)
    unsafe = (rough > cfg.edge_height) | (pit > cfg.pit_depth)
    weights = jnp.asarray([1.0, cfg.lateral_weight], offsets.dtype)
    cost = jnp.sum(weights * offsets * offsets, axis=-1) + cfg.roughness_weight * rough * rough
    return cost + jnp.where(unsafe, 1.0 + violation, 0.0), h0


def predicted_touchdowns(
    half_steps: jax.Array, command: jax.Array, remaining: jax.Array, config: GaitConfig, geometry: LegGeometry
) -> jax.Array:
    """(4, 2) where each foot would land with no shift, relative to the trunk now [m, body-yaw
    frame]: its nominal stance point + ``half_steps`` (4, 2) [m], in the trunk frame reached after
    ``remaining`` (4,) [s] at the commanded ``(vx, vy, yaw rate)`` ``command`` (3,)."""
    command = jnp.asarray(command, jnp.float32)
    turned = yaw_rotate(_feet(config, geometry) + half_steps.astype(jnp.float32), command[2] * remaining)
    return remaining[:, None] * command[None, :2] + turned


def plan_steer(
    touchdown: jax.Array,
    velocity: jax.Array,
    trunk_xy: jax.Array,
    yaw: jax.Array,
    cfg: FootholdConfig,
    height_fn: HeightFn,
) -> jax.Array:
    """(2,) the sideways steering velocity [m/s, body frame]. For each sideways offset ``dy`` of the
    trunk's path (``+-steer_window``), every leg's cheapest cell along the heading (``+-window_x``)
    is costed at its next touchdown ``touchdown`` (4, 2) [m, body-yaw frame] and at
    ``steer_samples - 1`` more points the commanded ``velocity`` (2,) [m/s, body frame] reaches
    within ``steer_lookahead`` [s], all moved by ``dy``; the offset with the least sum plus
    ``steer_weight dy^2`` is closed in ``steer_time`` (speed capped at ``steer_speed``)."""
    dx = np.asarray(cfg.offsets_1d(cfg.window_x, cfg.steer_resolution), np.float32)
    dy = np.asarray(cfg.offsets_1d(cfg.steer_window), np.float32)
    gx, gy = np.meshgrid(dx, dy)  # (ny, nx)
    grid = jnp.asarray(np.stack([gx, gy], axis=-1))  # (ny, nx, 2)
    along = jnp.asarray(np.stack([gx, np.zeros_like(gy)], axis=-1))
    times = jnp.asarray(np.linspace(0.0, cfg.steer_lookahead, cfg.steer_samples), jnp.float32)
    ahead = touchdown[None] + times[:, None, None] * velocity[None, None, :]  # (k, 4, 2)
    centres = trunk_xy + yaw_rotate(ahead[:, :, None, None, :] + grid, yaw)  # (k, 4, ny, nx, 2)
    cost, _ = cell_costs(centres, yaw, along, cfg, height_fn)
    total = jnp.sum(jnp.min(cost, axis=-1), axis=(0, 1)) + cfg.steer_weight * jnp.asarray(dy) ** 2  # (ny,)
    offset = jnp.asarray(dy)[jnp.argmin(jnp.round(total, COST_DECIMALS))]
    vy = jnp.clip(offset / cfg.steer_time, -cfg.steer_speed, cfg.steer_speed)
    return jnp.stack([jnp.zeros_like(vy), vy]).astype(jnp.float32)


def plan_footholds(
    state: FootholdState,
    lifting: jax.Array,
    remaining: jax.Array,
    trunk_xy: jax.Array,
    yaw: jax.Array,
    half_steps: jax.Array,
    command: jax.Array,
    config: GaitConfig,
    geometry: LegGeometry,
    height_fn: HeightFn,
) -> FootholdState:
    """The footholds after a control step: legs that lift off (``lifting``) get a new foothold
    (module docstring), the others keep theirs. The shift is then held for the whole swing (a
    foot re-aimed at its world foothold every step lands closer to it but walks worse:
    docs/gait_ik.md "Footholds").

    Args:
      state: the current footholds.
      lifting: (4,) True for legs whose swing starts at the next control step.
      remaining: (4,) time each leg's swing has left until touchdown [s].
      trunk_xy: (2,) trunk position [m, world]; ``yaw``: its heading [rad].
      half_steps: (4, 2) the gait's half step vectors ``L`` [m, hip frame], times its activity.
      command: (3,) ``(vx [m/s], vy [m/s], yaw rate [rad/s])`` in the body frame.
      config, geometry: the gait and the legs (static).
      height_fn: ground height [m] at world (x, y) (module docstring).
    """
    cfg = config.footholds
    dtype = jnp.float32
    touchdown = predicted_touchdowns(half_steps, command, remaining, config, geometry)  # (4, 2)
    steer = state.steer
    if cfg.steer_window > 0.0:  # look ahead along the command, without the steering it already has
        velocity = jnp.asarray(command, dtype)[:2] - state.steer
        steer = jnp.where(jnp.any(lifting), plan_steer(touchdown, velocity, trunk_xy, yaw, cfg, height_fn), steer)
    liftoff = _feet(config, geometry) - half_steps.astype(dtype) + state.shift
    offsets = jnp.asarray(candidate_offsets(cfg))  # (n, 2)
    centres = trunk_xy + yaw_rotate(touchdown[:, None, :] + offsets[None], yaw)  # (4, n, 2) world
    cost, height = cell_costs(centres, yaw, offsets, cfg, height_fn)
    best = jnp.argmin(jnp.round(cost, COST_DECIMALS), axis=-1)
    shift = offsets[best]
    ground = jnp.take_along_axis(height, best[:, None], axis=-1)[:, 0]
    # the swing path, along the swing curve's own forward profile, from lift-off to the foothold
    u = (jnp.arange(cfg.path_samples, dtype=dtype) + 1.0) / (cfg.path_samples + 1.0)
    frac = (jax.vmap(lambda v: bezier_curve(jnp.asarray(SWING_X_POINTS), v))(u) + 1.0) / 2.0  # (k,)
    lift_w = trunk_xy + yaw_rotate(liftoff, yaw)  # (4, 2)
    land_w = trunk_xy + yaw_rotate(touchdown + shift, yaw)
    path = lift_w[:, None] + frac[None, :, None] * (land_w - lift_w)[:, None]  # (4, k, 2)
    under = height_fn(path[..., 0], path[..., 1])
    base = state.ground[:, None] + smoothstep(u)[None] * (ground - state.ground)[:, None]
    lift = _unit_swing_height(u)
    above = under - base  # ground above the swing's base line: something to step over
    need = jnp.where(above > OBSTACLE_HEIGHT, (above + cfg.swing_margin) / jnp.maximum(lift, 0.2)[None], 0.0)
    extra = jnp.maximum(jnp.max(need, axis=-1) - config.swing_height, 0.0)
    return FootholdState(
        shift=jnp.where(lifting[:, None], shift, state.shift).astype(dtype),
        ground=jnp.where(lifting, ground, state.ground).astype(dtype),
        start_shift=jnp.where(lifting[:, None], state.shift, state.start_shift).astype(dtype),
        start_ground=jnp.where(lifting, state.ground, state.start_ground).astype(dtype),
        extra_clearance=jnp.where(lifting, extra, state.extra_clearance).astype(dtype),
        target=jnp.where(lifting[:, None], land_w, state.target).astype(dtype),
        steer=steer.astype(dtype),
    )


def foothold_offsets(state: FootholdState, leg_phases: jax.Array, duty_factor: float) -> jax.Array:
    """(4, 3) offsets [m, hip frames] the footholds add to the nominal foot targets at ``leg_phases``
    (4,): the shift (xy) and the ground height relative to the trunk's reference level, blended
    over each swing by a smoothstep of its progress, plus the extra apex height (z)."""
    in_swing = leg_phases >= duty_factor
    u = jnp.clip((leg_phases - duty_factor) / (1.0 - duty_factor), 0.0, 1.0)
    w = jnp.where(in_swing, smoothstep(u), 1.0)
    shift = state.start_shift + w[:, None] * (state.shift - state.start_shift)
    ground = state.start_ground + w * (state.ground - state.start_ground)
    lift = jnp.where(in_swing, _unit_swing_height(u), 0.0)
    z = ground - jnp.mean(ground) + state.extra_clearance * lift
    return jnp.concatenate([shift, z[:, None]], axis=-1)


def lifting_legs(phases_before: jax.Array, phases_after: jax.Array, duty_factor: float) -> jax.Array:
    """(4,) bool: legs whose phase entered swing between the two (4,) leg phases (a step shorter
    than one period)."""
    return (phases_before < duty_factor) & (phases_after >= duty_factor)

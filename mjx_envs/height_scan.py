"""The height scan: terrain heights on a grid around the trunk (``EnvConfig.height_scan``), the
same pure-JAX function on every back end (MJX, C MuJoCo, the Gymnasium twin).

Frames and units: the grid is fixed in the trunk's **body-yaw frame** (origin at the trunk's
(x, y), x along its heading, y to its left; roll and pitch ignored, as a gravity-aligned elevation
map gives them), in metres. Each point observes ``h(p) - (z_trunk - body_height)`` [m], ``h`` the
ground height of :func:`mjx_envs.termination.terrain_height` and ``body_height`` the gait's nominal
trunk height: 0 where the ground is level with the ground the trunk stands on, negative over a pit
or gap, positive on a step; clipped to +-``clip``.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import jax
import jax.numpy as jnp

from gait.planar import yaw_rotate
from mjx_envs.env_context import EnvContext
from mjx_envs.measurements import Measurements, yaw_of
from mjx_envs.termination import terrain_height


def draw_scan_offset(ctx: EnvContext, key: jax.Array) -> jax.Array:
    """(3,) float32 map offset of one episode (x, y, z) [m]: uniform +-``horizontal_offset`` in x
    and y and +-``vertical_offset`` in z with ``height_scan.offset_randomization`` on, else zeros."""
    scan = ctx.env.height_scan
    if not (scan.enabled and scan.offset_randomization):
        return jnp.zeros((3,), jnp.float32)
    half = jnp.asarray([scan.horizontal_offset, scan.horizontal_offset, scan.vertical_offset], jnp.float32)
    return jax.random.uniform(key, (3,), jnp.float32, -1.0, 1.0) * half


def scan_points_world(ctx: EnvContext, meas: Measurements, offset: jax.Array) -> jax.Array:
    """(points, 2) world (x, y) [m] where the scan samples: the grid, shifted by the episode's
    horizontal map offset, rotated by the trunk's yaw and placed at the trunk."""
    grid = jnp.asarray(ctx.env.height_scan.grid()) + offset[:2]
    return meas.trunk_pos[:2] + yaw_rotate(grid, yaw_of(meas.trunk_quat))


def height_scan(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> Optional[jax.Array]:
    """(points,) scan heights [m] (module docstring), or None when the scan is off."""
    scan = ctx.env.height_scan
    if not scan.enabled:
        return None
    offset = info["scan_offset"]
    pts = scan_points_world(ctx, meas, offset)
    ground_under_trunk = meas.trunk_pos[2] - ctx.gait.body_height  # ctx.gait is sized for the robot
    h = terrain_height(ctx, pts[:, 0], pts[:, 1]) + offset[2]
    return jnp.clip(h - ground_under_trunk, -scan.clip, scan.clip)

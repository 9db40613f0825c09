"""Two small pieces of planar geometry the gait and the environments share.

``yaw_rotate`` turns body-yaw-frame vectors (x along the trunk's heading, y to its left) into the
world frame; ``smoothstep`` is the cubic ease used for smooth transitions. Pure JAX, any batch shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def yaw_rotate(xy: jax.Array, yaw: jax.Array) -> jax.Array:
    """Planar vectors ``xy`` (..., 2) of the body-yaw frame rotated by ``yaw`` [rad] into the world
    frame (x, y); lengths unchanged."""
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    return jnp.stack([c * xy[..., 0] - s * xy[..., 1], s * xy[..., 0] + c * xy[..., 1]], axis=-1)


def smoothstep(x: jax.Array) -> jax.Array:
    """Cubic ease 3x^2 - 2x^3 of ``x`` clipped to [0, 1] (zero slope at both ends)."""
    x = jnp.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)

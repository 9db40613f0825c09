"""Lookups on a terrain heightfield grid, shared by the rough world and the terrain suite.

``heights`` is the (nrow, ncol) array of ground heights (m, world z) of a grid centred on the
world origin with half-extents ``spec.size_x`` / ``spec.size_y`` (m): row r is at world
y = -size_y + 2 size_y r / (nrow - 1), column c at x = -size_x + 2 size_x c / (ncol - 1) (MuJoCo's
hfield convention). ``spec`` is a :class:`~model.terrain.bands.TerrainSpec` or a
:class:`~model.terrain.suite.SuiteSpec` (anything with ``size_x``, ``size_y``, ``nrow``, ``ncol``).
Pure arithmetic: NumPy or JAX arrays.
"""

from __future__ import annotations

import numpy as np

from model.terrain.bands import DEFAULT_TERRAIN, TerrainSpec


def height_at(heights: np.ndarray, x, y, spec: TerrainSpec = DEFAULT_TERRAIN):
    """Bilinear terrain height (m) at world (x, y); works on NumPy or JAX arrays.

    Points outside the heightfield are clamped to its border. MuJoCo triangulates each grid cell,
    so this differs from the simulated surface by at most the in-cell curvature (< 1 mm here).
    """
    xp = getattr(heights, "__array_namespace__", None)
    mod = np if xp is None else xp()
    u = (x + spec.size_x) / (2 * spec.size_x) * (spec.ncol - 1)
    v = (y + spec.size_y) / (2 * spec.size_y) * (spec.nrow - 1)
    u = mod.clip(u, 0.0, spec.ncol - 1.000001)
    v = mod.clip(v, 0.0, spec.nrow - 1.000001)
    c0 = mod.floor(u).astype("int32")
    r0 = mod.floor(v).astype("int32")
    fu = u - c0
    fv = v - r0
    h00 = heights[r0, c0]
    h01 = heights[r0, c0 + 1]
    h10 = heights[r0 + 1, c0]
    h11 = heights[r0 + 1, c0 + 1]
    return h00 * (1 - fu) * (1 - fv) + h01 * fu * (1 - fv) + h10 * (1 - fu) * fv + h11 * fu * fv


def footprint_max_height(
    heights, x, y, spec: TerrainSpec = DEFAULT_TERRAIN, half_length: float = 0.30, half_width: float = 0.20, n: int = 7
):
    """Highest terrain point (m) over an ``n`` x ``n`` grid covering the robot's footprint.

    Used to place the trunk at spawn: z = footprint_max_height + standing height. Pure; works on
    NumPy and JAX arrays (``x``, ``y`` scalars).
    """
    xp = getattr(heights, "__array_namespace__", None)
    mod = np if xp is None else xp()
    offs = mod.linspace(-1.0, 1.0, n)
    gx = x + half_length * offs[:, None] + 0.0 * offs[None, :]
    gy = y + half_width * offs[None, :] + 0.0 * offs[:, None]
    return mod.max(height_at(heights, gx, gy, spec))

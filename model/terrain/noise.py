"""Smooth random fields shared by the terrain generators: uniform noise on a coarse grid,
bilinearly interpolated onto a finer one. Lengths in metres; values in [0, 1]. Deterministic in
the ``numpy.random.Generator`` passed in (each call draws one coarse grid from it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from model.terrain.bands import TerrainSpec


def _upsampled_noise(rng: np.random.Generator, spec: TerrainSpec, cell: float) -> np.ndarray:
    """Uniform noise on a grid of spacing ``cell`` bilinearly interpolated onto the hfield grid."""
    nx = int(np.ceil(2 * spec.size_x / cell)) + 2
    ny = int(np.ceil(2 * spec.size_y / cell)) + 2
    coarse = rng.uniform(0.0, 1.0, size=(ny, nx))
    xs = np.linspace(0.0, 2 * spec.size_x, spec.ncol) / cell
    ys = np.linspace(0.0, 2 * spec.size_y, spec.nrow) / cell
    x0 = np.floor(xs).astype(int)
    y0 = np.floor(ys).astype(int)
    fx = (xs - x0)[None, :]
    fy = (ys - y0)[:, None]
    c00 = coarse[np.ix_(y0, x0)]
    c01 = coarse[np.ix_(y0, x0 + 1)]
    c10 = coarse[np.ix_(y0 + 1, x0)]
    c11 = coarse[np.ix_(y0 + 1, x0 + 1)]
    return c00 * (1 - fx) * (1 - fy) + c01 * fx * (1 - fy) + c10 * (1 - fx) * fy + c11 * fx * fy


def _bilinear_noise(rng: np.random.Generator, s: np.ndarray, v: np.ndarray, cell: float) -> np.ndarray:
    """Uniform noise on a grid of spacing ``cell`` (m), bilinearly interpolated at (v, s)."""
    s0, v0 = s.min(), v.min()
    us, uv = (s - s0) / cell, (v - v0) / cell
    coarse = rng.uniform(0.0, 1.0, size=(int(np.ceil(uv.max())) + 2, int(np.ceil(us.max())) + 2))
    c0, r0 = np.floor(us).astype(int), np.floor(uv).astype(int)
    fx, fy = (us - c0)[None, :], (uv - r0)[:, None]
    return (
        coarse[np.ix_(r0, c0)] * (1 - fx) * (1 - fy)
        + coarse[np.ix_(r0, c0 + 1)] * fx * (1 - fy)
        + coarse[np.ix_(r0 + 1, c0)] * (1 - fx) * fy
        + coarse[np.ix_(r0 + 1, c0 + 1)] * fx * fy
    )

"""Rough-terrain heightfield for ``model/world_train.xml``, generated deterministically from a seed.

Layout (world frame, metres): the heightfield covers x in [-size_x, size_x] and
y in [-size_y, size_y]. It is cut along y into ``num_bands`` strips of equal width; strip k has
peak-to-peak relief ``max_relief * k / (num_bands - 1)`` (strip 0 is perfectly flat at z = 0,
the last strip has the full ``max_relief``). The robot walks along +x inside one strip, so a
curriculum picks the difficulty by picking the strip of the spawn point (``band_spawn_xy``).
Neighbouring strips are blended over ``band_ramp`` metres so that no cliff separates them.

The relief is a smooth random field: uniform noise on a coarse grid (``feature_size`` spacing)
bilinearly up-sampled, plus a finer noise layer, normalised to [0, 1] per strip and scaled by
the strip's relief. MuJoCo stores hfield elevations in [0, 1], scaled by ``size[2]``; we use
``size[2] = max_relief`` so ``hfield_data = height / max_relief``.

MuJoCo's hfield grid convention (checked against ``mj_ray`` in tests/test_terrain.py): element
``data[r, c]`` sits at x = -size_x + 2 size_x c / (ncol - 1), y = -size_y + 2 size_y r / (nrow - 1).

``python -m model.terrain --seed 0`` (:mod:`model.terrain.cli`) writes :data:`DEFAULT_HFIELD_FILE`
(MuJoCo's custom binary hfield: int32 nrow, int32 ncol, float32 data[nrow*ncol]), the file
``world_train.xml`` references; ``model.loading`` regenerates the data for other seeds at load time.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from model.terrain.noise import _upsampled_noise
from model.yaml_config import ConfigError

DEFAULT_HFIELD_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "terrain_seed0.bin")
"""``model/terrain_seed0.bin``: the seed-0 heightfield that ``model/world_train.xml`` loads."""


@dataclasses.dataclass(frozen=True)
class TerrainSpec:
    """Geometry of the generated terrain. All lengths in metres."""

    size_x: float = 8.0  # half-length along x (walking direction)
    size_y: float = 4.5  # half-width along y (across the difficulty bands)
    resolution: float = 0.05  # grid spacing
    num_bands: int = 6
    max_relief: float = 0.10  # peak-to-peak relief of the roughest band
    feature_size: float = 0.30  # spacing of the coarse noise grid
    band_ramp: float = 0.30  # blending width between neighbouring bands

    def validate(self) -> None:
        if self.num_bands < 2:
            raise ConfigError("terrain num_bands must be >= 2")
        if not (0.0 < self.max_relief <= 0.5):
            raise ConfigError("terrain max_relief must be in (0, 0.5] m")
        if self.resolution <= 0 or self.resolution > self.feature_size:
            raise ConfigError("terrain resolution must be in (0, feature_size]")

    @property
    def nrow(self) -> int:
        return int(round(2 * self.size_y / self.resolution)) + 1

    @property
    def ncol(self) -> int:
        return int(round(2 * self.size_x / self.resolution)) + 1

    @property
    def band_width(self) -> float:
        return 2 * self.size_y / self.num_bands

    def band_relief(self, band: int) -> float:
        """Peak-to-peak relief (m) of band ``band`` (0 = flat)."""
        return self.max_relief * band / (self.num_bands - 1)

    def band_center_y(self, band) -> np.ndarray:
        """World y (m) of the centre line of band(s) ``band``."""
        return -self.size_y + (np.asarray(band) + 0.5) * self.band_width


DEFAULT_TERRAIN = TerrainSpec()


def spec_of_model(m, base: TerrainSpec = DEFAULT_TERRAIN) -> TerrainSpec:
    """The rough world's grid geometry as the compiled model has it: half-extents ``size_x`` /
    ``size_y`` and grid spacing from its heightfield (``hfield_size``, ``nrow`` x ``ncol``); the
    band layout (``num_bands``, relief, ...) from ``base``. ConfigError if the model has no
    heightfield or its rows and columns are spaced differently."""
    if m.nhfield < 1:
        raise ConfigError("the model has no heightfield: not a rough world")
    sx, sy = float(m.hfield_size[0, 0]), float(m.hfield_size[0, 1])
    nrow, ncol = int(m.hfield_nrow[0]), int(m.hfield_ncol[0])
    res_x, res_y = 2 * sx / (ncol - 1), 2 * sy / (nrow - 1)
    if abs(res_x - res_y) > 1e-9 * max(res_x, 1.0):
        raise ConfigError(f"heightfield grid spacing differs along x ({res_x:g} m) and y ({res_y:g} m)")
    return dataclasses.replace(base, size_x=sx, size_y=sy, resolution=res_x)


def relief_profile(spec: TerrainSpec, y: np.ndarray) -> np.ndarray:
    """Relief (m) as a function of world y: piecewise constant per band, linearly blended."""
    y = np.asarray(y, dtype=np.float64)
    centers = spec.band_center_y(np.arange(spec.num_bands))
    reliefs = np.array([spec.band_relief(k) for k in range(spec.num_bands)])
    # piecewise-constant with ramps of width band_ramp centred on each boundary
    out = np.full_like(y, reliefs[0])
    for k in range(1, spec.num_bands):
        boundary = 0.5 * (centers[k - 1] + centers[k])
        t = np.clip((y - (boundary - 0.5 * spec.band_ramp)) / spec.band_ramp, 0.0, 1.0)
        out = out + t * (reliefs[k] - reliefs[k - 1])
    return out


def generate_heights(seed: int, spec: TerrainSpec = DEFAULT_TERRAIN) -> np.ndarray:
    """Terrain heights (m, world z) on the (nrow, ncol) hfield grid; deterministic in ``seed``."""
    spec.validate()
    rng = np.random.default_rng(seed)
    noise = 0.75 * _upsampled_noise(rng, spec, spec.feature_size)
    noise += 0.25 * _upsampled_noise(rng, spec, 2 * spec.resolution)
    ys = np.linspace(-spec.size_y, spec.size_y, spec.nrow)
    # normalise the noise to [0, 1] band by band so each band really has its stated relief
    band_of_row = np.clip(((ys + spec.size_y) // spec.band_width).astype(int), 0, spec.num_bands - 1)
    for k in range(spec.num_bands):
        rows = band_of_row == k
        block = noise[rows]
        noise[rows] = (block - block.min()) / max(block.max() - block.min(), 1e-9)
    heights = noise * relief_profile(spec, ys)[:, None]
    # pin the global maximum to exactly max_relief so that MuJoCo's [0, 1] data convention is exact
    heights[np.unravel_index(np.argmax(heights), heights.shape)] = spec.max_relief
    return heights.astype(np.float32)


def hfield_data(seed: int, spec: TerrainSpec = DEFAULT_TERRAIN) -> np.ndarray:
    """Normalised elevations in [0, 1] (MuJoCo ``hfield_data`` layout, flattened row-major)."""
    return (generate_heights(seed, spec) / spec.max_relief).astype(np.float32).ravel()


def write_hfield_file(path: str | os.PathLike, seed: int, spec: TerrainSpec = DEFAULT_TERRAIN) -> None:
    """Write MuJoCo's custom binary hfield format: int32 nrow, int32 ncol, float32 data."""
    data = hfield_data(seed, spec)
    with open(path, "wb") as fh:
        np.array([spec.nrow, spec.ncol], dtype=np.int32).tofile(fh)
        data.tofile(fh)


def band_spawn_xy(
    band,
    u_x,
    u_y,
    spec: TerrainSpec = DEFAULT_TERRAIN,
    start_x: float = -6.0,
    jitter_x: float = 1.0,
    margin_y: float = 0.35,
):
    """Spawn (x, y) in band(s) ``band`` from uniform numbers ``u_x, u_y`` in [0, 1].

    x is ``start_x`` ± ``jitter_x`` (the robot then walks along +x); y is inside the band, at
    least ``margin_y`` from its edges. Works on NumPy and JAX arrays (no RNG inside: pure).
    """
    half = 0.5 * spec.band_width - margin_y
    x = start_x + (2 * u_x - 1) * jitter_x
    y = -spec.size_y + (band + 0.5) * spec.band_width + (2 * u_y - 1) * half
    return x, y

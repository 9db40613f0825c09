"""The terrain suite (world ``suite``): a grid of terrain tiles, deterministic in a seed.

A grid of tiles, legged_gym / Isaac Lab style: ``num_levels`` rows of difficulty (along world y)
x ``len(TERRAIN_TYPES)`` columns of terrain types (along world x), surrounded by a flat border.
Everything is deterministic in (seed, spec). See docs/model.md "Terrain suite".

  world y ^  border (z = 0)
          |  +--------------+--------------+-- ... --+--------------+
  level 7 |  | rough     L7 | slope_up  L7 |         | stones    L7 |
    ...   |  |     ...      |     ...      |         |     ...      |
  level 0 |  | rough     L0 | slope_up  L0 |         | stones    L0 |
          |  +--------------+--------------+-- ... --+--------------+
          +-------------------------------------------------------------> world x (walk)

Each tile is ``tile_length`` (x) by ``tile_width`` (y). Along x it is: a flat start pad at
z = 0 (``start_pad`` long; the spawn point is in it), the pattern (repeated along x so a walk
of 20 s meets it many times), a flat end pad at z = 0 (``end_pad``). So every tile starts and
ends at ground level and type columns join at z = 0. Along y neighbouring levels of the same
type are blended linearly over ``level_blend`` metres centred on their boundary (patterns are
phase-aligned across levels, so stairs/slopes of adjacent levels differ only in amplitude);
the outermost levels fade to z = 0 inside the tile so the border is exactly flat.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from model.terrain.noise import _bilinear_noise
from model.yaml_config import ConfigError, yaml_dataclass

TERRAIN_TYPES = ("rough", "slope_up", "slope_down", "stairs_up", "stairs_down", "obstacles", "stepping_stones")
"""Terrain-type names, in column order (type index t is the t-th column along +x)."""

DEFAULT_SUITE_YAML = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "configs", "terrain.yaml"
)

_POS = (1e-6, None)


@yaml_dataclass(DEFAULT_SUITE_YAML)
class SuiteSpec:
    """Geometry and difficulty of the terrain suite; defaults: ``configs/terrain.yaml``.

    Lengths in metres, grades dimensionless (rise / run). Difficulty parameters are pairs
    ``(value at level 0, value at the last level)``, interpolated linearly with the level.
    World frame: the heightfield is centred on the origin, x in [-size_x, size_x] (walking
    direction, tile columns = terrain types), y in [-size_y, size_y] (tile rows = levels).
    """

    num_levels: int = dataclasses.field(metadata={"range": (2, 64)})
    tile_length: float = dataclasses.field(metadata={"range": (4.0, 100.0)})  # along x
    tile_width: float = dataclasses.field(metadata={"range": (1.0, 50.0)})  # along y
    border: float = dataclasses.field(metadata={"range": (0.0, 50.0)})  # flat z = 0
    resolution_x: float = dataclasses.field(metadata={"range": (0.01, 0.5)})
    resolution_y: float = dataclasses.field(metadata={"range": (0.01, 0.5)})
    start_pad: float = dataclasses.field(metadata={"range": (0.0, 50.0)})
    end_pad: float = dataclasses.field(metadata={"range": (0.0, 50.0)})
    level_blend: float = dataclasses.field(metadata={"range": (0.0, 5.0)})
    edge_ramp: float = dataclasses.field(metadata={"range": (0.0, 5.0)})
    # spawn: x = tile start + spawn_x +- spawn_jitter_x, y = lane centre +- spawn_jitter_y
    spawn_x: float = dataclasses.field(metadata={"range": (0.0, 50.0)})
    spawn_jitter_x: float = dataclasses.field(metadata={"range": (0.0, 10.0)})
    spawn_jitter_y: float = dataclasses.field(metadata={"range": (0.0, 10.0)})
    # difficulty ranges (level 0, last level)
    relief: tuple[float, float] = dataclasses.field(metadata={"range": (0.0, 0.5)})
    slope: tuple[float, float] = dataclasses.field(metadata={"range": (0.0, 1.0)})
    step_height: tuple[float, float] = dataclasses.field(metadata={"range": (0.0, 0.3)})
    block_height: tuple[float, float] = dataclasses.field(metadata={"range": (0.0, 0.3)})
    gap: tuple[float, float] = dataclasses.field(metadata={"range": (0.0, 0.5)})
    stone_size: tuple[float, float] = dataclasses.field(metadata={"range": (0.2, 5.0)})
    # pattern geometry (level independent, so patterns of neighbouring levels are phase-aligned)
    flat_run: float = dataclasses.field(metadata={"range": (0.0, 20.0)})
    ramp_run: float = dataclasses.field(metadata={"range": _POS})
    plateau: float = dataclasses.field(metadata={"range": (0.0, 20.0)})
    descent_run: float = dataclasses.field(metadata={"range": _POS})
    stair_tread: float = dataclasses.field(metadata={"range": (0.1, 2.0)})
    stair_steps: int = dataclasses.field(metadata={"range": (1, 20)})
    block_size: tuple[float, float] = dataclasses.field(metadata={"range": (0.05, 5.0)})
    block_fill: float = dataclasses.field(metadata={"range": (0.0, 1.0)})
    pit_depth: float = dataclasses.field(metadata={"range": (0.01, 2.0)})
    feature_size: float = dataclasses.field(metadata={"range": (0.02, 5.0)})
    base_thickness: float = dataclasses.field(metadata={"range": (0.01, 5.0)})

    def validate(self) -> None:
        def multiple(key: str, res_key: str) -> None:
            n = getattr(self, key) / getattr(self, res_key)
            if abs(n - round(n)) > 1e-6:
                raise ConfigError(
                    f"key '{key}' = {getattr(self, key)} must be a whole multiple of "
                    f"'{res_key}' = {getattr(self, res_key)}"
                )

        for key in ("tile_length", "border", "start_pad", "end_pad"):
            multiple(key, "resolution_x")
        multiple("tile_width", "resolution_y")
        if self.resolution_x > self.feature_size or self.resolution_y > self.feature_size:
            raise ConfigError(f"key 'feature_size' = {self.feature_size} must be >= the grid resolutions")
        if self.start_pad + self.end_pad + max(self.stairs_period, self.slope_period) > self.tile_length + 1e-9:
            raise ConfigError(
                f"key 'tile_length' = {self.tile_length} is shorter than start_pad + end_pad "
                f"+ one stairs or slope period ({max(self.stairs_period, self.slope_period)} m)"
            )
        if self.level_blend > self.tile_width / 2:
            raise ConfigError(f"key 'level_blend' = {self.level_blend} must be <= tile_width / 2")
        if self.spawn_x + self.spawn_jitter_x > self.start_pad:
            raise ConfigError(
                f"key 'spawn_x' = {self.spawn_x} (+ spawn_jitter_x) must lie in the "
                f"start pad (start_pad = {self.start_pad})"
            )
        if self.spawn_jitter_y > self.tile_width / 2 - self.level_blend:
            raise ConfigError(f"key 'spawn_jitter_y' = {self.spawn_jitter_y} leaves the lane")
        if self.block_size[0] > self.block_size[1]:
            raise ConfigError(f"key 'block_size' = {self.block_size} must be (min, max)")

    # --- sizes (metres / samples) -------------------------------------------------------------
    @property
    def num_types(self) -> int:
        return len(TERRAIN_TYPES)

    @property
    def size_x(self) -> float:
        """Half-length (m) of the heightfield along x (MuJoCo hfield size[0])."""
        return 0.5 * (self.num_types * self.tile_length + 2 * self.border)

    @property
    def size_y(self) -> float:
        """Half-width (m) of the heightfield along y (MuJoCo hfield size[1])."""
        return 0.5 * (self.num_levels * self.tile_width + 2 * self.border)

    @property
    def ncol(self) -> int:
        return int(round(2 * self.size_x / self.resolution_x)) + 1

    @property
    def nrow(self) -> int:
        return int(round(2 * self.size_y / self.resolution_y)) + 1

    @property
    def slope_period(self) -> float:
        """Length (m) of one slope pattern: flat, steep ramp, plateau, gentle ramp."""
        return self.flat_run + self.ramp_run + self.plateau + self.descent_run

    @property
    def stairs_period(self) -> float:
        """Length (m) of one stairs pattern: flat, flight of steps, plateau, gentle ramp."""
        return self.flat_run + self.stair_steps * self.stair_tread + self.plateau + self.descent_run

    @property
    def z_max(self) -> float:
        """Highest terrain point (m) any level can have."""
        return max(
            max(self.slope) * self.ramp_run,
            max(self.step_height) * self.stair_steps,
            max(self.block_height),
            max(self.relief),
            1e-3,
        )

    @property
    def z_min(self) -> float:
        """Lowest terrain point (m): the bottom of the stepping-stone pits (0 without pits)."""
        return -self.pit_depth if max(self.gap) > 0 else 0.0

    def hfield_size(self) -> tuple[float, float, float, float]:
        """MuJoCo hfield ``size`` (half x, half y, elevation range, base thickness); the hfield
        geom sits at z = ``z_min`` so that ``hfield_data = (height - z_min) / (z_max - z_min)``."""
        return (self.size_x, self.size_y, self.z_max - self.z_min, self.base_thickness)

    def level_param(self, name: str, level):
        """Difficulty parameter ``name`` (e.g. ``"step_height"``) at ``level`` (linear)."""
        lo, hi = getattr(self, name)
        return lo + (hi - lo) * (np.asarray(level, np.float64) / (self.num_levels - 1))


def load_suite_spec(path: str | os.PathLike | None = None) -> SuiteSpec:
    """Load and validate a SuiteSpec from YAML (default ``configs/terrain.yaml``); errors name the
    key and the file."""
    from model.yaml_config import from_dict, read_yaml

    path = os.fspath(path or DEFAULT_SUITE_YAML)
    return from_dict(SuiteSpec, read_yaml(path), where=path)


def default_suite_spec() -> SuiteSpec:
    """The SuiteSpec of ``configs/terrain.yaml``, the one the ``suite`` world is built from:
    ``SuiteSpec()``, whose defaults are that file's values."""
    return SuiteSpec()


# --- tile patterns: functions of local coordinates (s along x from the tile start, v along y from
# the lane's lower edge), each returning heights (m) of shape (len(v), len(s)).


def _pattern_window(s: np.ndarray, spec: SuiteSpec) -> np.ndarray:
    """1 inside the pattern region, ramping to 0 over ``edge_ramp`` at its ends, 0 on the pads."""
    a, e = spec.start_pad, spec.tile_length - spec.end_pad
    r = max(spec.edge_ramp, 1e-9)
    return np.clip((s - a) / r, 0.0, 1.0) * np.clip((e - s) / r, 0.0, 1.0)


def _periodic_u(s: np.ndarray, period: float, spec: SuiteSpec):
    """Position inside the current period (m) and a mask of whole periods inside the pattern region."""
    a, e = spec.start_pad, spec.tile_length - spec.end_pad
    n = int(np.floor((e - a) / period + 1e-9))
    u = s - a
    inside = (u >= 0) & (u < n * period - 1e-9)
    return np.where(inside, np.mod(u, period), 0.0), inside


def _slope_profile(s: np.ndarray, grade: float, spec: SuiteSpec, down: bool) -> np.ndarray:
    """Up: flat, steep ramp (``grade``), plateau, gentle ramp down; down: the mirror image."""
    period = spec.slope_period
    u, inside = _periodic_u(s, period, spec)
    if down:
        u = period - u
    top = grade * spec.ramp_run
    f, r, p = spec.flat_run, spec.ramp_run, spec.plateau
    h = np.where(
        u < f,
        0.0,
        np.where(
            u < f + r, grade * (u - f), np.where(u < f + r + p, top, top * (1.0 - (u - f - r - p) / spec.descent_run))
        ),
    )
    return np.where(inside, np.clip(h, 0.0, top), 0.0)


def _stairs_profile(s: np.ndarray, step: float, spec: SuiteSpec, down: bool) -> np.ndarray:
    """Up: flat, ``stair_steps`` risers of ``step`` m every ``stair_tread`` m, plateau, gentle
    ramp down; down: the mirror image (gentle ramp up, plateau, steps down)."""
    period = spec.stairs_period
    u, inside = _periodic_u(s, period, spec)
    if down:
        u = period - u
    f, n, t, p = spec.flat_run, spec.stair_steps, spec.stair_tread, spec.plateau
    top = n * step
    # risers at u = f + i t (i = 0..n-1); round to 1e-9 so a riser on a sample is exact
    k = np.floor((u - f) / t + 1e-9) + 1
    h = np.where(
        u < f,
        0.0,
        np.where(
            u < f + n * t,
            step * np.minimum(k, n),
            np.where(u < f + n * t + p, top, top * (1.0 - (u - f - n * t - p) / spec.descent_run)),
        ),
    )
    return np.where(inside, np.clip(h, 0.0, top), 0.0)


def _rough(s, v, relief, rng, spec):
    noise = 0.75 * _bilinear_noise(rng, s, v, spec.feature_size)
    noise += 0.25 * _bilinear_noise(rng, s, v, 2 * max(spec.resolution_x, spec.resolution_y))
    win = _pattern_window(s, spec)
    cols = win >= 1.0
    lo, hi = noise[:, cols].min(), noise[:, cols].max()
    return relief * np.clip((noise - lo) / max(hi - lo, 1e-9), 0.0, 1.0) * win[None, :]


def _obstacles(s, v, height, rng, spec):
    """Random axis-aligned blocks, heights uniform in [height / 2, height], covering ~block_fill."""
    out = np.zeros((len(v), len(s)))
    a, e = spec.start_pad, spec.tile_length - spec.end_pad
    area = (e - a) * (v.max() - v.min())
    mean_side = 0.5 * (spec.block_size[0] + spec.block_size[1])
    n = int(round(spec.block_fill * area / mean_side**2))
    for _ in range(n):
        lx, ly = rng.uniform(*spec.block_size, size=2)
        cx = rng.uniform(a, e - lx)
        cy = rng.uniform(v.min(), v.max())
        hb = rng.uniform(0.5, 1.0) * height
        cs = (s >= cx) & (s < cx + lx)
        rs = (v >= cy - ly / 2) & (v < cy + ly / 2)
        out[np.ix_(rs, cs)] = np.maximum(out[np.ix_(rs, cs)], hb)
    return out


def _stepping_stones(s, v, gap, stone, rng, spec):
    """Square stones (top at z = 0) separated by pits ``pit_depth`` deep. Along x a pit is
    ``round(gap / resolution_x)`` samples wide (top opening one cell more, as MuJoCo triangulates
    between samples), along y ``round(gap / resolution_y)``; no pits when that count is 0."""
    kx, ky = int(round(gap / spec.resolution_x)), int(round(gap / spec.resolution_y))
    out = np.zeros((len(v), len(s)))
    if kx == 0 and ky == 0:
        return out
    sx, sy = max(int(round(stone / spec.resolution_x)), 1), max(int(round(stone / spec.resolution_y)), 1)
    ix = np.round((s - spec.start_pad) / spec.resolution_x).astype(int) + int(rng.integers(0, sx + kx))
    iy = np.round(v / spec.resolution_y).astype(int) + int(rng.integers(0, sy + ky))
    pit_x = (np.mod(ix, sx + kx) >= sx) if kx else np.zeros(len(s), bool)
    pit_y = (np.mod(iy, sy + ky) >= sy) if ky else np.zeros(len(v), bool)
    a, e = spec.start_pad, spec.tile_length - spec.end_pad
    in_x = (s >= a) & (s < e)
    pit = (pit_x[None, :] | pit_y[:, None]) & in_x[None, :]
    out[pit] = -spec.pit_depth
    return out


def suite_tile_heights(
    level: int, terrain_type: int, s: np.ndarray, v: np.ndarray, rng: np.random.Generator, spec: SuiteSpec
) -> np.ndarray:
    """Unblended heights (m) of tile (level, type) at local coordinates ``s`` (m along x from the
    tile start, shape (nc,)) and ``v`` (m along y from the lane's lower edge, shape (nr,))."""
    name = TERRAIN_TYPES[terrain_type]
    ones = np.ones((len(v), 1))
    if name == "rough":
        return _rough(s, v, float(spec.level_param("relief", level)), rng, spec)
    if name in ("slope_up", "slope_down"):
        return ones * _slope_profile(s, float(spec.level_param("slope", level)), spec, name == "slope_down")[None]
    if name in ("stairs_up", "stairs_down"):
        return (
            ones * _stairs_profile(s, float(spec.level_param("step_height", level)), spec, name == "stairs_down")[None]
        )
    if name == "obstacles":
        return _obstacles(s, v, float(spec.level_param("block_height", level)), rng, spec)
    if name == "stepping_stones":
        return _stepping_stones(
            s, v, float(spec.level_param("gap", level)), float(spec.level_param("stone_size", level)), rng, spec
        )
    raise ValueError(name)


def _lane_weight(v: np.ndarray, level: int, spec: SuiteSpec) -> np.ndarray:
    """Blend weight of lane ``level`` at lane-local y ``v``: 1 inside, linear ramps of width
    ``level_blend`` centred on inner lane boundaries, and ending at the outer ones (so the
    weights of all lanes sum to 1 inside the tile grid and are 0 on the border)."""
    b, w = max(spec.level_blend, 1e-9), spec.tile_width
    lower = np.clip(v / b, 0, 1) if level == 0 else np.clip((v + b / 2) / b, 0, 1)
    upper = np.clip((w - v) / b, 0, 1) if level == spec.num_levels - 1 else np.clip((w + b / 2 - v) / b, 0, 1)
    return np.minimum(lower, upper)


def generate_suite_heights(seed: int, spec: SuiteSpec | None = None) -> np.ndarray:
    """Terrain-suite heights (m, world z) on the (nrow, ncol) hfield grid; deterministic in ``seed``.

    ``heights[r, c]`` is at x = -size_x + c * resolution_x, y = -size_y + r * resolution_y. The
    border (outside the tile grid) is exactly 0. Each tile draws from its own generator seeded
    by (seed, level, type), so tiles do not depend on each other.
    """
    spec = spec if spec is not None else default_suite_spec()
    spec.validate()
    heights = np.zeros((spec.nrow, spec.ncol), np.float64)
    bx = int(round(spec.border / spec.resolution_x))
    by = int(round(spec.border / spec.resolution_y))
    nx = int(round(spec.tile_length / spec.resolution_x))
    ny = int(round(spec.tile_width / spec.resolution_y))
    half_blend = int(np.ceil(0.5 * spec.level_blend / spec.resolution_y))
    s = np.arange(nx) * spec.resolution_x
    for t in range(spec.num_types):
        c0 = bx + t * nx
        for k in range(spec.num_levels):
            lo = -half_blend if k > 0 else 0
            hi = ny + half_blend + 1 if k < spec.num_levels - 1 else ny + 1
            rows = np.arange(lo, hi)
            v = rows * spec.resolution_y
            w = _lane_weight(v, k, spec)
            rng = np.random.default_rng([int(seed), k, t])
            tile = suite_tile_heights(k, t, s, v, rng, spec)
            heights[by + k * ny + rows, c0 : c0 + nx] += w[:, None] * tile
    return heights.astype(np.float32)


def suite_hfield_data(heights: np.ndarray, spec: SuiteSpec) -> np.ndarray:
    """MuJoCo ``hfield_data`` (flattened, in [0, 1]) for ``heights``; the geom sits at z_min."""
    data = (np.asarray(heights, np.float64) - spec.z_min) / (spec.z_max - spec.z_min)
    if data.min() < -1e-6 or data.max() > 1 + 1e-6:
        raise ConfigError(
            f"suite heights {heights.min():.3f}..{heights.max():.3f} m exceed "
            f"[z_min, z_max] = [{spec.z_min}, {spec.z_max}]"
        )
    return np.clip(data, 0.0, 1.0).astype(np.float32).ravel()


# --- spawn / lookup: plain arithmetic, so NumPy and jax.numpy inputs both work ---------------


def _xp(*arrays):
    """``jax.numpy`` if any argument is a JAX array, else NumPy."""
    for a in arrays:
        xp = getattr(a, "__array_namespace__", None)
        if xp is not None and type(a).__module__.startswith("jax"):
            return xp()
    return np


def suite_tile_origin(level, terrain_type, spec: SuiteSpec):
    """World (x, y) of the lower-left corner (start edge, low-y edge) of tile (level, type)."""
    x0 = -spec.size_x + spec.border + terrain_type * spec.tile_length
    y0 = -spec.size_y + spec.border + level * spec.tile_width
    return x0, y0


def suite_spawn_xy(level, terrain_type, u_x, u_y, spec: SuiteSpec | None = None):
    """Spawn (x, y) in tile (level, type) from uniform numbers ``u_x, u_y`` in [0, 1].

    x = tile start + ``spawn_x`` +- ``spawn_jitter_x`` (in the flat start pad, z = 0; place the
    trunk at standing height above z = 0, heading +x), y = lane centre +- ``spawn_jitter_y``.
    Pure arithmetic: works on NumPy and JAX arrays (broadcasts).
    """
    spec = spec if spec is not None else default_suite_spec()
    x0, y0 = suite_tile_origin(level, terrain_type, spec)
    x = x0 + spec.spawn_x + (2 * u_x - 1) * spec.spawn_jitter_x
    y = y0 + 0.5 * spec.tile_width + (2 * u_y - 1) * spec.spawn_jitter_y
    return x, y


def suite_tile_of(x, y, spec: SuiteSpec | None = None):
    """(level, type) of the tile containing world (x, y), as integer arrays; -1 for both on the
    border or off the map. Works on NumPy and JAX arrays."""
    spec = spec if spec is not None else default_suite_spec()
    gx = (x + spec.size_x - spec.border) / spec.tile_length
    gy = (y + spec.size_y - spec.border) / spec.tile_width
    mod = _xp(x, y)
    gx, gy = mod.asarray(gx), mod.asarray(gy)
    inside = (gx >= 0) & (gx < spec.num_types) & (gy >= 0) & (gy < spec.num_levels)
    level = mod.where(inside, mod.floor(gy), -1)
    ttype = mod.where(inside, mod.floor(gx), -1)
    return level.astype(mod.int32), ttype.astype(mod.int32)


def suite_inner_bounds(spec: SuiteSpec | None = None) -> tuple[float, float, float, float]:
    """(x_min, x_max, y_min, y_max) in m of the tile grid (the map without its flat border)."""
    spec = spec if spec is not None else default_suite_spec()
    return (
        -spec.size_x + spec.border,
        spec.size_x - spec.border,
        -spec.size_y + spec.border,
        spec.size_y - spec.border,
    )


def suite_off_map(x, y, spec: SuiteSpec | None = None, margin: float = 0.0):
    """True where world (x, y) is outside the heightfield entirely (shrunk by ``margin`` m). There
    is no ground there; the environment truncates the episode. NumPy and JAX arrays."""
    spec = spec if spec is not None else default_suite_spec()
    return (abs(x) > spec.size_x - margin) | (abs(y) > spec.size_y - margin)

"""Command line of :mod:`model.terrain` (``python -m model.terrain``): write the rough world's
heightfield file, or render the terrain suite to a PNG."""

from __future__ import annotations

import argparse
import os

import numpy as np

from model.terrain import bands
from model.terrain.bands import DEFAULT_HFIELD_FILE, DEFAULT_TERRAIN, generate_heights, write_hfield_file
from model.terrain.suite import (
    TERRAIN_TYPES,
    SuiteSpec,
    default_suite_spec,
    generate_suite_heights,
    suite_inner_bounds,
    suite_spawn_xy,
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m model.terrain", description=bands.__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=DEFAULT_HFIELD_FILE)
    parser.add_argument(
        "--suite-png", metavar="PATH", help="instead: render the terrain suite (configs/terrain.yaml) of --seed to PATH"
    )
    args = parser.parse_args(argv)
    if args.suite_png:
        render_suite_png(args.suite_png, args.seed)
        print(f"wrote {args.suite_png}")
        return
    write_hfield_file(args.out, args.seed)
    h = generate_heights(args.seed)
    print(f"wrote {args.out}: {DEFAULT_TERRAIN.nrow}x{DEFAULT_TERRAIN.ncol}, heights {h.min():.3f}..{h.max():.3f} m")


def render_suite_png(path: str | os.PathLike, seed: int = 0, spec: SuiteSpec | None = None) -> None:
    """Top view of the suite height map (matplotlib) with tile labels, for docs/img."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = spec if spec is not None else default_suite_spec()
    h = generate_suite_heights(seed, spec)
    fig, ax = plt.subplots(figsize=(14, 5.6))
    im = ax.imshow(
        h,
        origin="lower",
        cmap="terrain",
        interpolation="nearest",
        vmin=spec.z_min,
        vmax=spec.z_max,
        extent=(-spec.size_x, spec.size_x, -spec.size_y, spec.size_y),
    )
    x_lo, x_hi, y_lo, y_hi = suite_inner_bounds(spec)
    for t in range(spec.num_types + 1):
        ax.axvline(x_lo + t * spec.tile_length, color="k", lw=0.6)
    for k in range(spec.num_levels + 1):
        ax.plot([x_lo, x_hi], [y_lo + k * spec.tile_width] * 2, color="k", lw=0.6)
    for t, name in enumerate(TERRAIN_TYPES):
        ax.text(x_lo + (t + 0.5) * spec.tile_length, y_hi + 0.6, name, ha="center", va="bottom", fontsize=9)
    for k in range(spec.num_levels):
        ax.text(x_lo - 0.4, y_lo + (k + 0.5) * spec.tile_width, f"L{k}", ha="right", va="center", fontsize=8)
    sx, sy = suite_spawn_xy(np.arange(spec.num_levels)[:, None], np.arange(spec.num_types)[None, :], 0.5, 0.5, spec)
    sx, sy = np.broadcast_arrays(sx, sy)
    ax.plot(np.ravel(sx), np.ravel(sy), "r.", ms=3, label="spawn points (walk +x)")
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.set_title(
        f"Terrain suite, seed {seed}: {spec.num_levels} levels x {spec.num_types} types, "
        f"{spec.nrow} x {spec.ncol} samples"
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.colorbar(im, ax=ax, label="height (m)", fraction=0.02, pad=0.01)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

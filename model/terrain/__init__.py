"""Terrain heightfields of the rough worlds, generated deterministically from a seed.

* :mod:`model.terrain.bands`: the ``rough`` world (``model/world_train.xml``): strips of rising
  relief along y (:class:`TerrainSpec`, :func:`generate_heights`, :func:`hfield_data`).
* :mod:`model.terrain.suite`: the ``suite`` world: a grid of terrain-type x difficulty tiles
  (:class:`SuiteSpec`, ``configs/terrain.yaml``, :func:`generate_suite_heights`).
* :mod:`model.terrain.grid`: lookups both share (:func:`height_at`, :func:`footprint_max_height`).
* :mod:`model.terrain.noise`: the smooth random fields both draw from.
* :mod:`model.terrain.cli`: ``python -m model.terrain`` (writes ``model/terrain_seed0.bin``).

Units: metres, world frame (z up; the robot walks along +x). Every public name is re-exported
here, so ``from model import terrain; terrain.X`` is the API.
"""

from model.terrain.bands import (
    DEFAULT_HFIELD_FILE,
    DEFAULT_TERRAIN,
    TerrainSpec,
    band_spawn_xy,
    generate_heights,
    hfield_data,
    relief_profile,
    spec_of_model,
    write_hfield_file,
)
from model.terrain.cli import main, render_suite_png
from model.terrain.grid import footprint_max_height, height_at
from model.terrain.suite import (
    DEFAULT_SUITE_YAML,
    TERRAIN_TYPES,
    SuiteSpec,
    default_suite_spec,
    generate_suite_heights,
    load_suite_spec,
    suite_hfield_data,
    suite_inner_bounds,
    suite_off_map,
    suite_spawn_xy,
    suite_tile_heights,
    suite_tile_of,
    suite_tile_origin,
)

__all__ = [
    "DEFAULT_HFIELD_FILE",
    "DEFAULT_SUITE_YAML",
    "DEFAULT_TERRAIN",
    "TERRAIN_TYPES",
    "SuiteSpec",
    "TerrainSpec",
    "band_spawn_xy",
    "default_suite_spec",
    "footprint_max_height",
    "generate_heights",
    "generate_suite_heights",
    "height_at",
    "hfield_data",
    "load_suite_spec",
    "main",
    "relief_profile",
    "render_suite_png",
    "spec_of_model",
    "suite_hfield_data",
    "suite_inner_bounds",
    "suite_off_map",
    "suite_spawn_xy",
    "suite_tile_heights",
    "suite_tile_of",
    "suite_tile_origin",
    "write_hfield_file",
]

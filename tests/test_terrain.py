"""Terrain generator: determinism, band reliefs, MuJoCo grid convention, committed file freshness."""

import os

import mujoco
import numpy as np

from model import terrain
from model.simulation_config import SimulationConfig

SPEC = terrain.DEFAULT_TERRAIN


def test_deterministic_and_seed_dependent():
    np.testing.assert_array_equal(terrain.generate_heights(7), terrain.generate_heights(7))
    assert np.abs(terrain.generate_heights(7) - terrain.generate_heights(8)).max() > 0.01


def test_bands_go_from_flat_to_rough():
    h = terrain.generate_heights(0)
    ys = np.linspace(-SPEC.size_y, SPEC.size_y, SPEC.nrow)
    reliefs = []
    for k in range(SPEC.num_bands):
        c = SPEC.band_center_y(k)
        rows = np.abs(ys - c) < 0.5 * SPEC.band_width - SPEC.band_ramp
        reliefs.append(np.ptp(h[rows]))
    assert reliefs[0] == 0.0
    assert all(b > a for a, b in zip(reliefs, reliefs[1:])), reliefs
    assert reliefs[-1] >= 0.08  # at least 8 cm relief in the roughest band
    # no cliffs: neighbouring cells never differ by more than 3 cm
    assert np.abs(np.diff(h, axis=0)).max() < 0.03 and np.abs(np.diff(h, axis=1)).max() < 0.03


def test_committed_hfield_file_matches_generator():
    path = os.path.join(os.path.dirname(terrain.__file__), "terrain_seed0.bin")
    raw = np.fromfile(path, dtype=np.int32, count=2)
    data = np.fromfile(path, dtype=np.float32, offset=8)
    assert tuple(raw) == (SPEC.nrow, SPEC.ncol)
    np.testing.assert_array_equal(data, terrain.hfield_data(0)), "regenerate: python -m model.terrain"


def test_height_at_matches_mujoco_ray():
    m = mujoco.MjModel.from_xml_path(SimulationConfig(world="rough").world_xml)
    d = mujoco.MjData(m)
    d.qpos[:3] = [0, 0, 5.0]  # robot out of the way
    mujoco.mj_forward(m, d)
    h = terrain.generate_heights(0)
    rng = np.random.default_rng(1)
    for _ in range(100):
        x, y = rng.uniform(-7.9, 7.9), rng.uniform(-4.4, 4.4)
        gid = np.zeros(1, np.int32)
        dist = mujoco.mj_ray(m, d, np.array([x, y, 1.0]), np.array([0, 0, -1.0]), None, 1, -1, gid)
        assert abs((1.0 - dist) - terrain.height_at(h, x, y)) < 2e-3


def test_spawn_points_lie_in_their_band():
    u = np.linspace(0, 1, 11)
    for band in range(SPEC.num_bands):
        x, y = terrain.band_spawn_xy(band, u, u[::-1])
        assert ((y + SPEC.size_y) // SPEC.band_width == band).all()
        assert (np.abs(x) < SPEC.size_x).all()

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
    path = terrain.DEFAULT_HFIELD_FILE
    assert path == os.path.join(os.path.dirname(os.path.dirname(terrain.__file__)), "terrain_seed0.bin")
    raw = np.fromfile(path, dtype=np.int32, count=2)
    data = np.fromfile(path, dtype=np.float32, offset=8)
    assert tuple(raw) == (SPEC.nrow, SPEC.ncol)
    np.testing.assert_array_equal(data, terrain.hfield_data(0)), "regenerate: python -m model.terrain"


def test_package_cli_writes_the_committed_file(tmp_path):
    """``python -m model.terrain`` (the package's __main__) writes the committed seed-0 file, and
    every public name of the package resolves."""
    import subprocess
    import sys

    out = tmp_path / "seed0.bin"
    subprocess.run(
        [sys.executable, "-m", "model.terrain", "--seed", "0", "--out", str(out)],
        check=True,
        capture_output=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.read_bytes() == open(terrain.DEFAULT_HFIELD_FILE, "rb").read()
    assert all(getattr(terrain, name) is not None for name in terrain.__all__)
    assert os.path.isfile(terrain.DEFAULT_SUITE_YAML)


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


# ================================================================================ terrain suite

import time  # noqa: E402

import pytest  # noqa: E402

from model import loading  # noqa: E402
from model.yaml_config import ConfigError  # noqa: E402

SUITE = terrain.load_suite_spec()
T = {name: i for i, name in enumerate(terrain.TERRAIN_TYPES)}
ROBOT_HALF_LENGTH, ROBOT_HALF_WIDTH = 0.30, 0.20  # m: trunk + legs footprint around the trunk centre


@pytest.fixture(scope="module")
def suite_h():
    t = time.perf_counter()
    h = terrain.generate_suite_heights(0, SUITE)
    return h, time.perf_counter() - t


def _lane_rows(level, spec=SUITE):
    """Row indices of lane ``level`` away from its blend zones."""
    by = int(round(spec.border / spec.resolution_y))
    ny = int(round(spec.tile_width / spec.resolution_y))
    pad = int(np.ceil(spec.level_blend / spec.resolution_y)) + 1
    return np.arange(by + level * ny + pad, by + (level + 1) * ny - pad)


def _center_row(level, spec=SUITE):
    _, y = terrain.suite_spawn_xy(level, 0, 0.5, 0.5, spec)
    return int(round((y + spec.size_y) / spec.resolution_y))


def _tile_cols(ttype, spec=SUITE):
    bx = int(round(spec.border / spec.resolution_x))
    nx = int(round(spec.tile_length / spec.resolution_x))
    return np.arange(bx + ttype * nx, bx + (ttype + 1) * nx)


def test_suite_yaml_matches_dataclass_defaults_and_sizes(suite_h):
    h, seconds = suite_h
    assert terrain.TERRAIN_TYPES == (
        "rough",
        "slope_up",
        "slope_down",
        "stairs_up",
        "stairs_down",
        "obstacles",
        "stepping_stones",
    )
    assert SUITE.num_levels >= 8
    assert h.shape == (SUITE.nrow, SUITE.ncol) and h.dtype == np.float32
    assert 3e5 <= h.size <= 1.6e6, h.size
    assert seconds < 2.0, seconds
    assert SUITE.z_min <= h.min() and h.max() <= SUITE.z_max + 1e-6


def test_suite_deterministic_and_seed_dependent(suite_h):
    h0 = suite_h[0]
    np.testing.assert_array_equal(h0, terrain.generate_suite_heights(0, SUITE))
    h1 = terrain.generate_suite_heights(1, SUITE)
    for name in ("rough", "obstacles", "stepping_stones"):  # the random types change with the seed
        cols = _tile_cols(T[name])
        assert np.abs(h1[:, cols] - h0[:, cols]).max() > 0.05, name


def test_suite_border_flat_and_level0_nearly_flat(suite_h):
    h = suite_h[0]
    bx, by = int(round(SUITE.border / SUITE.resolution_x)), int(round(SUITE.border / SUITE.resolution_y))
    assert (h[: by + 1] == 0).all() and (h[-by - 1 :] == 0).all()
    assert (h[:, : bx + 1] == 0).all() and (h[:, -bx - 1 :] == 0).all()
    lane0 = h[_lane_rows(0)]
    assert lane0.min() == 0.0  # no pits
    assert lane0.max() <= SUITE.stair_steps * SUITE.step_height[0] + 1e-6  # 4 x 2 cm stairs at most
    for t in range(SUITE.num_types):  # every tile starts and ends at ground level
        cols = _tile_cols(t)
        s = (cols - cols[0]) * SUITE.resolution_x
        pads = (s < SUITE.start_pad) | (s >= SUITE.tile_length - SUITE.end_pad)
        assert (h[:, cols[pads]] == 0).all(), terrain.TERRAIN_TYPES[t]


def _measure(h, level, name):
    """The difficulty parameter of tile (level, name), measured from the heights."""
    row = h[_center_row(level), _tile_cols(T[name])].astype(np.float64)
    rows = h[np.ix_(_lane_rows(level), _tile_cols(T[name]))].astype(np.float64)
    if name == "rough":
        return np.ptp(rows)
    if name.startswith("slope"):
        return np.abs(np.diff(row)).max() / SUITE.resolution_x
    if name.startswith("stairs"):
        return np.abs(np.diff(row)).max()
    if name == "obstacles":
        return rows.max()
    if name == "stepping_stones":  # widest pit run along the centre row (samples x resolution)
        pit = np.concatenate([[0], (row < -0.5 * SUITE.pit_depth).astype(int), [0]])
        runs = np.flatnonzero(np.diff(pit) == -1) - np.flatnonzero(np.diff(pit) == 1)
        return runs.max() * SUITE.resolution_x if len(runs) else 0.0
    raise ValueError(name)


@pytest.mark.parametrize(
    "name,param,tol",
    [
        ("rough", "relief", 2e-3),
        ("slope_up", "slope", 1e-3),
        ("slope_down", "slope", 1e-3),
        ("stairs_up", "step_height", 1e-5),
        ("stairs_down", "step_height", 1e-5),
        ("obstacles", "block_height", None),
        ("stepping_stones", "gap", None),
    ],
)
def test_suite_difficulty_grows_with_level_as_configured(suite_h, name, param, tol):
    h = suite_h[0]
    measured = np.array([_measure(h, k, name) for k in range(SUITE.num_levels)])
    wanted = np.array([float(SUITE.level_param(param, k)) for k in range(SUITE.num_levels)])
    assert (np.diff(measured) >= -1e-9).all() and measured[-1] > measured[0], measured
    if tol is not None:
        np.testing.assert_allclose(measured, wanted, atol=tol)
    elif name == "obstacles":  # tallest block: uniform in [h/2, h] per block, many blocks per tile
        assert ((measured <= wanted + 1e-6) & (measured >= 0.8 * wanted)).all(), (measured, wanted)
    else:  # pit width quantised to whole samples
        np.testing.assert_allclose(measured, np.round(wanted / SUITE.resolution_x) * SUITE.resolution_x, atol=1e-9)
        assert measured[-1] == pytest.approx(SUITE.gap[1])


def test_suite_slopes_and_stairs_go_up_or_down_first(suite_h):
    h = suite_h[0]
    k = SUITE.num_levels - 1
    for name, first_steep_up in (
        ("slope_up", True),
        ("slope_down", False),
        ("stairs_up", True),
        ("stairs_down", False),
    ):
        d = np.diff(h[_center_row(k), _tile_cols(T[name])].astype(np.float64))
        steep = np.flatnonzero(np.abs(d) > 0.75 * np.abs(d).max())
        assert (d[steep[0]] > 0) == first_steep_up, name


def test_suite_lanes_join_without_cliffs(suite_h):
    """Neighbouring levels of one type blend: no cliff across lanes on the smooth types."""
    h = suite_h[0]
    by = int(round(SUITE.border / SUITE.resolution_y))
    ny = int(round(SUITE.tile_width / SUITE.resolution_y))
    inner = slice(by + 5, by + SUITE.num_levels * ny - 5)  # minus the outer fades at the map edge
    for name, most in (
        ("rough", 0.05),
        ("slope_up", 0.03),
        ("slope_down", 0.03),
        ("stairs_up", 0.03),
        ("stairs_down", 0.03),
    ):
        block = h[inner, _tile_cols(T[name])].astype(np.float64)
        assert np.abs(np.diff(block, axis=0)).max() < most, name


def test_suite_spawn_in_tile_and_tile_lookup():
    u = np.linspace(0, 1, 5)
    ux, uy = np.meshgrid(u, u)
    for level in range(SUITE.num_levels):
        for t in range(SUITE.num_types):
            x, y = terrain.suite_spawn_xy(level, t, ux, uy, SUITE)
            lv, ty = terrain.suite_tile_of(x, y, SUITE)
            assert (lv == level).all() and (ty == t).all()
    lv, ty = terrain.suite_tile_of(
        np.array([0.0, -SUITE.size_x + 0.1, 0.0, 1e3]), np.array([0.0, 0.0, SUITE.size_y - 0.1, 0.0]), SUITE
    )
    assert list(lv[1:]) == [-1, -1, -1] and list(ty[1:]) == [-1, -1, -1] and lv[0] >= 0
    x_lo, x_hi, y_lo, y_hi = terrain.suite_inner_bounds(SUITE)
    assert x_hi - x_lo == pytest.approx(SUITE.num_types * SUITE.tile_length)
    assert y_hi - y_lo == pytest.approx(SUITE.num_levels * SUITE.tile_width)
    off = terrain.suite_off_map(
        np.array([0.0, SUITE.size_x + 0.01, 0.0]), np.array([0.0, 0.0, -SUITE.size_y - 0.01]), SUITE
    )
    assert list(off) == [False, True, True]


def test_suite_lookup_works_on_jax_arrays():
    jnp = pytest.importorskip("jax.numpy")
    x, y = terrain.suite_spawn_xy(jnp.arange(8), 3, jnp.full(8, 0.3), jnp.full(8, 0.9), SUITE)
    lv, ty = terrain.suite_tile_of(x, y, SUITE)
    assert type(lv).__module__.startswith("jax")
    np.testing.assert_array_equal(np.asarray(lv), np.arange(8))
    np.testing.assert_array_equal(np.asarray(ty), np.full(8, 3))
    assert not bool(terrain.suite_off_map(x, y, SUITE).any())


def test_suite_spawn_footprint_is_flat_ground(suite_h):
    h = suite_h[0]
    for level in range(SUITE.num_levels):
        for t in range(SUITE.num_types):
            for u in (0.0, 1.0):
                x, y = terrain.suite_spawn_xy(level, t, u, u, SUITE)
                assert terrain.footprint_max_height(h, x, y, SUITE) < 1e-6


def _walk(x0, y0, vx, vy, yaw_rate, duration=20.0, dt=0.05):
    """Trunk (x, y) and heading of a robot following body-frame (vx, vy, yaw_rate) from heading +x."""
    n = int(round(duration / dt))
    yaw = yaw_rate * dt * np.arange(n + 1)
    vxw = vx * np.cos(yaw) - vy * np.sin(yaw)
    vyw = vx * np.sin(yaw) + vy * np.cos(yaw)
    x = x0 + np.concatenate([[0], np.cumsum(vxw[:-1]) * dt])
    y = y0 + np.concatenate([[0], np.cumsum(vyw[:-1]) * dt])
    return x, y, yaw


def _stays_in_tile(level, t, x, y, yaw):
    for dx in (-ROBOT_HALF_LENGTH, ROBOT_HALF_LENGTH):
        for dy in (-ROBOT_HALF_WIDTH, ROBOT_HALF_WIDTH):
            px = x + dx * np.cos(yaw) - dy * np.sin(yaw)
            py = y + dx * np.sin(yaw) + dy * np.cos(yaw)
            lv, ty = terrain.suite_tile_of(px, py, SUITE)
            if not ((lv == level).all() and (ty == t).all()):
                return False
    return True


@pytest.mark.parametrize(
    "vx,vy,yaw_rate",
    [
        (1.0, 0.0, 0.0),
        (0.3, 0.0, 0.0),  # straight 20 m / 6 m along +x
        (1.0, 0.0, 1.0),
        (1.0, 0.0, -1.0),  # circles of radius 1 m
        (1.0, 0.4, 1.0),
        (1.0, -0.4, -1.0),
        (1.0, 0.4, -1.0),  # radius 1.08 m, drifting sideways
        (0.5, 0.0, 1.0),
        (0.3, 0.0, 0.3),
        (0.25, 0.1, -0.3),
    ],
)  # slower arcs (radius <= 1 m)
def test_suite_walk_of_20_s_stays_in_its_tile(vx, vy, yaw_rate):
    for level in (0, SUITE.num_levels - 1, 3):
        for t in range(SUITE.num_types):
            for ux in (0.0, 1.0):
                for uy in (0.0, 1.0):
                    x0, y0 = terrain.suite_spawn_xy(level, t, ux, uy, SUITE)
                    assert _stays_in_tile(level, t, *_walk(x0, y0, vx, vy, yaw_rate))


def test_suite_lateral_room_documented():
    """docs/model.md: +-2.55 m of lane around the spawn line, i.e. a 20 m walk tolerates ~7 deg of
    heading error; a 0.4 m/s sideways command for 20 s (8 m) does leave the lane."""
    x0, y0 = terrain.suite_spawn_xy(3, 3, 1.0, 1.0, SUITE)
    heading = np.deg2rad(6.5)
    assert _stays_in_tile(3, 3, *_walk(x0, y0, np.cos(heading), np.sin(heading), 0.0, duration=19.9))
    assert not _stays_in_tile(3, 3, *_walk(x0, y0, 1.0, 0.4, 0.0))
    assert not _stays_in_tile(3, 3, *_walk(x0, y0, 0.5, 0.0, 0.3))  # a 1.7 m radius circle is too wide


def test_suite_world_loads_with_generated_hfield():
    sim = SimulationConfig(world="suite", terrain_seed=5)
    assert sim.world_xml.endswith("model/world_suite.xml")
    m = loading.load_mj_model(sim)
    h = terrain.generate_suite_heights(5, SUITE)
    assert (m.nhfield, int(m.hfield_nrow[0]), int(m.hfield_ncol[0])) == (1, SUITE.nrow, SUITE.ncol)
    np.testing.assert_allclose(m.hfield_size[0], SUITE.hfield_size())
    np.testing.assert_allclose(loading.terrain_heights(m), h, atol=1e-6)
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    d.qpos[:3] = [0, 0, 5.0]  # robot out of the way
    mujoco.mj_forward(m, d)
    rng = np.random.default_rng(2)
    gid = np.zeros(1, np.int32)

    def ray(x, y):
        dist = mujoco.mj_ray(m, d, np.array([x, y, 2.0]), np.array([0, 0, -1.0]), None, 1, -1, gid)
        return 2.0 - dist

    # on smooth tiles anywhere (bilinear vs triangles: < 2 mm) ...
    for _ in range(40):
        t = rng.choice([T["rough"], T["slope_up"], T["slope_down"]])
        x0, y0 = terrain.suite_tile_origin(rng.integers(SUITE.num_levels), t, SUITE)
        x, y = x0 + rng.uniform(0, SUITE.tile_length), y0 + rng.uniform(0, SUITE.tile_width)
        assert abs(ray(x, y) - terrain.height_at(h, x, y, SUITE)) < 2e-3
    # ... and exactly on grid samples of every type (stairs, blocks, pits included)
    for _ in range(60):
        r, c = rng.integers(1, SUITE.nrow - 1), rng.integers(1, SUITE.ncol - 1)
        x, y = -SUITE.size_x + c * SUITE.resolution_x, -SUITE.size_y + r * SUITE.resolution_y
        assert abs(ray(x, y) - h[r, c]) < 2e-3


def test_suite_model_takes_its_size_from_the_spec():
    small = SUITE.__class__(
        **{
            **{f: getattr(SUITE, f) for f in SUITE.__dataclass_fields__},
            "num_levels": 2,
            "tile_length": 9.5,
            "border": 1.0,
        }
    )
    m = loading.load_suite_model(SimulationConfig(world="suite").world_xml, 0, small)
    assert (int(m.hfield_nrow[0]), int(m.hfield_ncol[0])) == (small.nrow, small.ncol)
    np.testing.assert_allclose(m.hfield_size[0], small.hfield_size())
    np.testing.assert_allclose(loading.terrain_heights(m), terrain.generate_suite_heights(0, small), atol=1e-6)


def test_robot_stands_on_suite_start_pad():
    m = loading.load_mj_model(SimulationConfig(world="suite"))
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    x, y = terrain.suite_spawn_xy(SUITE.num_levels - 1, T["stairs_up"], 0.5, 0.5, SUITE)
    d.qpos[:3] = [x, y, 0.29]
    for _ in range(250):  # 1 s
        mujoco.mj_step(m, d)
    assert abs(d.qpos[2] - 0.267) < 0.02 and np.hypot(d.qpos[0] - x, d.qpos[1] - y) < 0.05


@pytest.mark.parametrize(
    "text,key",
    [
        ("slope: [0.0, 2.0]\n", "slope"),
        ("tile_length: 21.97\n", "tile_length"),
        ("num_levels: 8.5\n", "num_levels"),
        ("relief: 0.1\n", "relief"),
        ("gap: [0.0, 0.1, 0.2]\n", "gap"),
        ("spawn_x: 3.0\n", "spawn_x"),
        ("stair_tred: 0.3\n", "stair_tred"),
    ],
)
def test_suite_yaml_errors_name_key_and_file(tmp_path, text, key):
    path = tmp_path / "terrain.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        terrain.load_suite_spec(path)
    assert key in str(err.value) and "terrain.yaml" in str(err.value), str(err.value)


def test_suite_world_has_the_robots_actuators_and_sensors():
    flat = loading.load_mj_model(SimulationConfig(world="flat"))
    suite = loading.load_mj_model(SimulationConfig(world="suite"))
    assert [flat.actuator(i).name for i in range(flat.nu)] == [suite.actuator(i).name for i in range(suite.nu)]
    np.testing.assert_array_equal(flat.actuator_ctrlrange, suite.actuator_ctrlrange)
    assert loading.sensor_slices_of(flat) == loading.sensor_slices_of(suite)
    assert suite.opt.timestep == flat.opt.timestep and suite.nbody == flat.nbody


def test_rough_world_extent_comes_from_the_compiled_heightfield(tmp_path):
    """The env's grid (ground heights, spawn bands, the off-map edge) follows the world's <hfield>,
    not a second copy of its size: a world with a 4 m x 2.5 m heightfield (half-extents) at the
    same 5 cm spacing gives a context whose edge is there."""
    import jax.numpy as jnp

    from gait.gait_config import GaitConfig
    from mjx_envs.env_config import EnvConfig
    from mjx_envs.episode_logic import make_context, off_map
    from model.simulation_config import REPO_ROOT, load_simulation_config
    from model.terrain import DEFAULT_TERRAIN

    text = open(os.path.join(REPO_ROOT, "model", "world_train.xml")).read()
    small = text.replace(
        '<hfield name="terrain" file="terrain_seed0.bin" size="8.0 4.5 0.10 0.10"/>',
        '<hfield name="terrain" nrow="101" ncol="161" size="4.0 2.5 0.10 0.10"/>',
    )
    assert small != text
    path = tmp_path / "world_small.xml"
    path.write_text(small)
    sim = load_simulation_config(world="rough", rough_xml=str(path), robot_xml="model/robot.xml")
    ctx = make_context(sim, EnvConfig(), GaitConfig())
    spec = ctx.terrain_spec
    assert (spec.size_x, spec.size_y) == (4.0, 2.5) and spec.resolution == pytest.approx(0.05)
    assert (spec.nrow, spec.ncol) == ctx.heights.shape == (101, 161)
    assert bool(off_map(ctx, jnp.array([3.8, 0.0, 0.3])))  # beyond 4.0 - 0.3 m
    assert not bool(off_map(ctx, jnp.array([3.6, 2.2, 0.3])))
    shipped = make_context(load_simulation_config(world="rough"), EnvConfig(), GaitConfig())
    assert shipped.terrain_spec == DEFAULT_TERRAIN  # the committed world: the spec it was generated from
    assert not bool(off_map(shipped, jnp.array([3.8, 0.0, 0.3])))

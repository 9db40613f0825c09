"""The height scan (``mjx_envs/height_scan.py``, ``EnvConfig.height_scan``): its grid, its frame,
its map offset, and what it reads on the suite's terrain compared with MuJoCo's own ray cast
onto the heightfield. (MJX vs C MuJoCo parity of the scan: ``test_residual_env.test_parity_rough``.)"""

import dataclasses

import jax
import mujoco
import numpy as np
import pytest

from model.yaml_config import ConfigError


def _scan_env(**changes):
    from mjx_envs.env_config import EnvConfig

    env = EnvConfig()
    return env.replace(height_scan=dataclasses.replace(env.height_scan, enabled=True, **changes))


def test_grid_layout_and_bad_values_name_the_key():
    from mjx_envs.env_config import EnvConfig, HeightScan
    from mjx_envs.observation import noise_half_widths, observation_layout, observation_spec

    scan = EnvConfig().height_scan
    assert not scan.enabled  # off unless asked for: the shipped policies' layout is unchanged
    grid = scan.grid()
    assert scan.points == 176 and grid.shape == (176, 2)  # 16 x-lines (-0.5..1.0) x 11 y-lines (-0.5..0.5)
    assert np.allclose(grid[0], [-0.5, -0.5]) and np.allclose(grid[10], [-0.5, 0.5]) and np.allclose(grid[-1], [1, 0.5])
    assert np.allclose(np.diff(scan.lines("x")), 0.1) and grid[:, 0].max() >= 1.0 - 1e-6

    spec = observation_spec(_scan_env())
    layout = observation_layout(**spec)
    assert layout[-1]["name"] == "height_scan" and layout[-1]["size"] == 176 and layout[-1]["stop"] == 54 + 176
    half = noise_half_widths(EnvConfig().observation_noise, **spec)
    assert np.allclose(half[54:], 0.02 * 5.0)  # 2 cm per point, times the channel's scale
    assert observation_spec(EnvConfig())["scan_points"] == 0

    with pytest.raises(ConfigError, match="height_scan.x"):
        HeightScan(enabled=True, x=(1.0, -0.5), y=(-0.5, 0.5), resolution=0.1, clip=1.0,
                   offset_randomization=False, vertical_offset=0.0, horizontal_offset=0.0).validate()  # fmt: skip
    with pytest.raises(ConfigError, match="height_scan.resolution"):
        dataclasses.replace(scan, resolution=0.02, x=(-1.0, 1.0), y=(-1.0, 1.0)).validate()

    from train.run_dir import RESUME_FIXED_KEYS

    assert {"env.height_scan.enabled", "env.height_scan.resolution"} <= set(RESUME_FIXED_KEYS)


def test_scan_frame_and_map_offset_on_flat_ground():
    """Body-yaw frame: a point 1 m ahead of a trunk facing +y lies 1 m along world +y. On flat
    ground every point reads the offset's z minus how far the trunk stands above its nominal
    height; the offset is drawn per episode within its bounds, from the reset key."""
    from gait.gait_config import GaitConfig
    from mjx_envs import episode_logic as logic
    from mjx_envs.height_scan import height_scan, scan_points_world
    from mjx_envs.measurements import Measurements
    from model.simulation_config import SimulationConfig

    ctx = logic.make_context(SimulationConfig(world="flat"), _scan_env(offset_randomization=True), GaitConfig())
    body_height = ctx.gait.for_robot(ctx.controller.geometry).body_height
    yaw = np.pi / 2
    fields = {f.name: np.zeros(1) for f in dataclasses.fields(Measurements)}
    meas = Measurements(
        **{
            **fields,
            "trunk_pos": np.array([2.0, 3.0, body_height + 0.05], np.float32),
            "trunk_quat": np.array([np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)], np.float32),
        }
    )
    zero = np.zeros(3, np.float32)
    pts = np.asarray(scan_points_world(ctx, meas, zero))
    ahead = int(np.flatnonzero(np.all(np.isclose(ctx.env.height_scan.grid(), [1.0, 0.0]), axis=1))[0])
    assert np.allclose(pts[ahead], [2.0, 4.0], atol=1e-5)  # 1 m ahead = world +y
    scan = np.asarray(height_scan(ctx, meas, {"scan_offset": zero}))
    assert np.allclose(scan, -0.05, atol=1e-5)  # trunk 5 cm above nominal: the ground looks 5 cm low
    offset = np.array([0.3, 0.0, 0.02], np.float32)
    shifted = np.asarray(scan_points_world(ctx, meas, offset))
    assert np.allclose(shifted[ahead], [2.0, 4.3], atol=1e-5)  # the map's x offset, along the heading
    assert np.allclose(np.asarray(height_scan(ctx, meas, {"scan_offset": offset})), -0.03, atol=1e-5)

    draws = np.stack([np.asarray(logic.sample_episode(ctx, jax.random.PRNGKey(k))[2]["scan_offset"]) for k in range(6)])
    scan_cfg = ctx.env.height_scan
    assert np.all(np.abs(draws[:, :2]) <= scan_cfg.horizontal_offset) and np.all(np.abs(draws[:, 2]) <= 0.03)
    assert len({tuple(d) for d in draws.round(6)}) == 6 and np.abs(draws).max() > 0.01
    off = logic.make_context(SimulationConfig(world="flat"), _scan_env(), GaitConfig())
    assert not np.any(np.asarray(logic.sample_episode(off, jax.random.PRNGKey(0))[2]["scan_offset"]))


@pytest.mark.slow
def test_scan_reads_the_suite_terrain_as_mujoco_ray_casts_it():
    """On every suite terrain type (level 6, after 1 s of the gait walking), the observation's scan
    equals MuJoCo's own ray cast straight down onto the heightfield at the same points, relative
    to the trunk's nominal ground. Seen: median error 0.1 mm, >= 96 % of points within 1 cm, the
    rest at stepping-stone edges (the scan interpolates the grid bilinearly, MuJoCo's hfield is
    triangulated); the stepping stones' gaps read -0.29 m."""
    from mjx_envs.gym_env import ResidualWalkEnv
    from model import terrain
    from model.simulation_config import SimulationConfig

    env = ResidualWalkEnv(sim=SimulationConfig(world="suite"), env=_scan_env())
    channel = {c["name"]: c for c in env.observation_layout()}["height_scan"]
    m = env.model
    (hfield,) = [i for i in range(m.ngeom) if m.geom_type[i] == mujoco.mjtGeom.mjGEOM_HFIELD]
    body_height = env.ctx.gait.for_robot(env.ctx.controller.geometry).body_height
    grid = env.ctx.env.height_scan.grid()
    lowest = {}
    for kind, name in enumerate(terrain.TERRAIN_TYPES):
        obs, _ = env.reset(seed=3, options={"terrain_level": 6, "terrain_type": kind})
        for _ in range(50):
            obs, *_ = env.step(np.zeros(12, np.float32))
        scan = obs[channel["start"] : channel["stop"]] / channel["scale"]
        d = env.data
        w, x, y, z = d.qpos[3:7]
        yaw = np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        c, s = np.cos(yaw), np.sin(yaw)
        pts = d.qpos[:2] + np.stack([c * grid[:, 0] - s * grid[:, 1], s * grid[:, 0] + c * grid[:, 1]], axis=-1)
        top = np.array([5.0 - mujoco.mj_rayHfield(m, d, hfield, np.array([px, py, 5.0]), np.array([0, 0, -1.0]))
                        for px, py in pts])  # fmt: skip
        ray = np.clip(top - (d.qpos[2] - body_height), -1.0, 1.0)
        err = np.abs(ray - scan)
        assert np.median(err) < 1e-3 and np.mean(err < 0.01) >= 0.9, (name, np.median(err), np.mean(err < 0.01))
        lowest[name] = scan.min()
    assert lowest["stepping_stones"] < -0.2, lowest  # it sees the gaps between the stones

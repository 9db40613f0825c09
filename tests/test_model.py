"""The quad12 robot and its two worlds: loading (C MuJoCo + MJX), shared layout, geometry, settling."""

import os

import jax
import mujoco
import numpy as np
import pytest
from mujoco import mjx

from model import loading, terrain
from model import robot_constants as rc
from model.simulation_config import REPO_ROOT, SimulationConfig

WORLDS = ("flat", "rough")


@pytest.fixture(scope="module")
def models():
    return {w: loading.load_mj_model(SimulationConfig(world=w)) for w in WORLDS}


def _names(m, objtype, n):
    return [mujoco.mj_id2name(m, objtype, i) for i in range(n)]


def test_worlds_load_in_c_mujoco_and_mjx(models):
    for w, m in models.items():
        assert m.nq == 19 and m.nv == 18 and m.nu == 12, w
        mx = mjx.put_model(m)
        assert mx.nu == 12 and mx.nsensordata == m.nsensordata


def test_worlds_share_actuators_and_sensors(models):
    flat, rough = models["flat"], models["rough"]
    assert _names(flat, mujoco.mjtObj.mjOBJ_ACTUATOR, flat.nu) == list(rc.ACTUATOR_NAMES)
    assert _names(rough, mujoco.mjtObj.mjOBJ_ACTUATOR, rough.nu) == list(rc.ACTUATOR_NAMES)
    np.testing.assert_array_equal(flat.actuator_ctrlrange, rough.actuator_ctrlrange)
    np.testing.assert_array_equal(flat.actuator_forcerange, rough.actuator_forcerange)
    np.testing.assert_array_equal(flat.actuator_gainprm, rough.actuator_gainprm)
    assert loading.sensor_slices_of(flat) == loading.sensor_slices_of(rough)
    np.testing.assert_array_equal(flat.sensor_type, rough.sensor_type)
    # actuator i drives joint i (qpos[7 + i]) and the joint ranges equal the ctrl ranges
    for m in (flat, rough):
        joint_ids = m.actuator_trnid[:, 0]
        assert [m.joint(j).name for j in joint_ids] == list(rc.JOINT_NAMES)
        np.testing.assert_array_equal(m.jnt_qposadr[joint_ids], np.arange(7, 19))
        np.testing.assert_allclose(m.jnt_range[joint_ids], m.actuator_ctrlrange)


def test_documented_sensor_layout(models):
    s = loading.sensor_slices_of(models["flat"])
    for name in (
        rc.SENSOR_TRUNK_QUAT,
        rc.SENSOR_GYRO,
        rc.SENSOR_ACC,
        rc.SENSOR_LINVEL,
        rc.SENSOR_TRUNK_POS,
        *rc.JOINT_POS_SENSORS,
        *rc.JOINT_VEL_SENSORS,
        *rc.FOOT_TOUCH_SENSORS,
        *rc.BODY_CONTACT_SENSORS,
    ):
        assert name in s, name
    assert s["trunk_quat"].stop - s["trunk_quat"].start == 4
    # the indices printed in docs/model.md are the real ones
    doc = open(os.path.join(os.path.dirname(__file__), "..", "docs", "model.md")).read()
    for name, sl in s.items():
        assert f"| `{name}` | {sl.start}:{sl.stop} |" in doc, f"docs/model.md sensor table out of date for {name}"


def test_dimensions_mass_and_limits(models):
    m = models["flat"]
    assert 11.0 < m.body_subtreemass[1] < 13.0  # total ~12 kg
    assert abs(m.body("trunk").mass[0] - 5.0) < 1e-9
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    d.qpos[:7] = [0, 0, 0, 1, 0, 0, 0]
    mujoco.mj_kinematics(m, d)
    for leg, hip in zip(rc.LEG_NAMES, rc.HIP_OFFSETS):
        np.testing.assert_allclose(d.xpos[m.body(f"{leg}_hip").id], hip, atol=1e-9)
        # home pose puts each foot straight below its thigh joint
        thigh = d.xpos[m.body(f"{leg}_thigh").id]
        foot = d.site_xpos[m.site(f"{leg}_foot").id]
        np.testing.assert_allclose(foot[:2], thigh[:2], atol=1e-3)
        assert abs(np.linalg.norm(thigh - d.xpos[m.body(f"{leg}_calf").id]) - rc.THIGH_LENGTH) < 1e-9
        assert abs(np.linalg.norm(foot - d.xpos[m.body(f"{leg}_calf").id]) - rc.CALF_LENGTH) < 1e-9
    gear_limits = np.abs(m.actuator_forcerange[:, 1]).reshape(4, 3)
    np.testing.assert_allclose(gear_limits, [[24, 24, 36]] * 4)
    # only the foot geoms touch the ground in the standing pose; every collision geom is a sphere
    collide = [i for i in range(m.ngeom) if m.geom_contype[i]]
    assert all(m.geom_type[i] == mujoco.mjtGeom.mjGEOM_SPHERE for i in collide)
    assert {m.geom(i).name for i in collide} >= set(rc.FOOT_GEOMS)


def test_xml_timestep_matches_simulation_config():
    raw = mujoco.MjModel.from_xml_path(
        SimulationConfig().flat_xml if os.path.isabs(SimulationConfig().flat_xml) else SimulationConfig().world_xml
    )
    assert raw.opt.timestep == SimulationConfig().physics_dt
    assert SimulationConfig().n_substeps == 5


def test_servo_gain_override_applies():
    m = loading.load_mj_model(SimulationConfig(kp=55.0, kv=1.5))
    np.testing.assert_allclose(m.actuator_gainprm[:, 0], 55.0)
    np.testing.assert_allclose(m.actuator_biasprm[:, 1:3], [[-55.0, -1.5]] * 12)


def test_terrain_seed_changes_hfield_only_in_rough_world():
    m0 = loading.load_mj_model(SimulationConfig(world="rough", terrain_seed=0))
    m3 = loading.load_mj_model(SimulationConfig(world="rough", terrain_seed=3))
    assert not np.allclose(m0.hfield_data, m3.hfield_data)
    np.testing.assert_allclose(loading.terrain_heights(m3), terrain.generate_heights(3), atol=1e-6)
    assert loading.terrain_heights(loading.load_mj_model(SimulationConfig())) is None


# ---- settling: the robot dropped from home stands, C MuJoCo and MJX agree -------------------------

SETTLE_S = 1.0
STAND_BAND = (0.24, 0.29)  # trunk height above the ground under it after settling (m)


def _initial_data(m, world):
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, 0)
    ground = 0.0
    if world == "rough":
        h = loading.terrain_heights(m)
        x, y = terrain.band_spawn_xy(2, 0.5, 0.5)
        ground = float(terrain.footprint_max_height(h, x, y))
        d.qpos[:3] = [x, y, ground + rc.HOME_TRUNK_HEIGHT + 0.02]  # dropped from 2 cm above
    else:
        d.qpos[2] += 0.02
    return d, ground


@pytest.mark.slow
@pytest.mark.parametrize("world", WORLDS)
def test_drop_settles_standing_c_and_mjx_agree(models, world):
    m = models[world]
    d, ground = _initial_data(m, world)
    steps = int(round(SETTLE_S / m.opt.timestep))
    dx = mjx.put_data(m, d)
    for _ in range(steps):
        mujoco.mj_step(m, d)
    s = loading.sensor_slices_of(m)
    touch = np.array([d.sensordata[s[n]][0] for n in rc.FOOT_TOUCH_SENSORS])
    height = d.qpos[2] - ground
    assert STAND_BAND[0] < height < STAND_BAND[1], f"{world}: trunk height {height:.3f} m"
    assert (touch > 1.0).all(), f"{world}: foot touch {touch}"
    assert all(d.sensordata[s[n]][0] == 0.0 for n in rc.BODY_CONTACT_SENSORS)
    mx = mjx.put_model(m)
    run = jax.jit(lambda x: jax.lax.scan(lambda c, _: (mjx.step(mx, c), None), x, None, length=steps)[0])
    dx = run(dx)
    mj_touch = np.array([dx.sensordata[s[n]][0] for n in rc.FOOT_TOUCH_SENSORS])
    assert (mj_touch > 1.0).all()
    # Tolerance: 1 mm in height, 0.005 in quaternion components. Dominated by float32 in MJX and,
    # on the heightfield, by MJX's prism-based hfield contacts vs C MuJoCo's (seen: 5e-6 m flat,
    # 2e-4 m rough).
    assert abs(float(dx.qpos[2]) - d.qpos[2]) < 1e-3
    np.testing.assert_allclose(np.asarray(dx.qpos[3:7]), d.qpos[3:7], atol=5e-3)


def _colliding_robot_geoms(m):
    trunk = m.body(rc.TRUNK_BODY).id
    return sorted(
        m.geom(g).name
        for g in range(m.ngeom)
        if m.body_rootid[m.geom_bodyid[g]] == trunk and (m.geom_contype[g] or m.geom_conaffinity[g])
    )


@pytest.mark.parametrize("world", ("flat", "rough", "suite"))
def test_feet_only_collision_keeps_the_feet_and_probes_the_rest(world):
    from collections import Counter

    from mjx_envs.measurements import sensor_index

    full = loading.load_mj_model(SimulationConfig(world=world, collision="all"))
    feet = loading.load_mj_model(SimulationConfig(world=world, collision="feet"))
    assert _colliding_robot_geoms(feet) == sorted(rc.FOOT_GEOMS)
    probed = sorted(set(_colliding_robot_geoms(full)) - set(rc.FOOT_GEOMS))
    assert len(probed) == 12  # 4 trunk, 4 knee, 4 shin spheres
    probes = [feet.sensor(i).name for i in range(feet.nsensor) if feet.sensor(i).name.startswith(rc.BODY_PROBE_PREFIX)]
    assert sorted(p[len(rc.BODY_PROBE_PREFIX) :] for p in probes) == probed
    assert not any(full.sensor(i).name.startswith(rc.BODY_PROBE_PREFIX) for i in range(full.nsensor))
    # the sensors both settings share keep their places in sensordata (the probes come last)
    sf, sa = loading.sensor_slices_of(feet), loading.sensor_slices_of(full)
    assert all(sf[n] == sa[n] for n in sa)
    idx = sensor_index(feet)
    # trunk spheres -> zone 0 (trunk), each knee -> its thigh zone (1-4), each shin -> its calf zone (5-8)
    assert sorted(Counter(idx.body_probe_zone).items()) == [(0, 4)] + [(z, 1) for z in range(1, 9)]
    assert sorted(set(idx.body_probe_radius)) == [0.016, 0.024, 0.03]


def test_feet_only_probes_a_capsule_by_its_end_spheres():
    """A capsule collision geom is no longer refused: it becomes two sphere probes (sites) at its
    ends with its radius, on its body (so its zone is that body's)."""
    spec = loading.world_spec(SimulationConfig(world="flat").world_xml)
    g = spec.geom("FR_knee")
    g.type = mujoco.mjtGeom.mjGEOM_CAPSULE
    g.size = [0.024, 0.03, 0.0]
    m0 = spec.compile()
    assert "FR_knee" in loading.feet_only(spec, m0)
    m = spec.compile()
    names = [m.sensor(i).name for i in range(m.nsensor)]
    assert "probe_FR_knee_0" in names and "probe_FR_knee_1" in names and "probe_FR_knee" not in names
    s0, s1 = m.site("probe_FR_knee_0"), m.site("probe_FR_knee_1")
    assert s0.size[0] == pytest.approx(0.024) and np.linalg.norm(s0.pos - s1.pos) == pytest.approx(0.06)
    assert m.geom("FR_knee").contype == 0 and m.geom("FR_knee").conaffinity == 0


def _zone_history(world, collision, kp, seconds=1.0, every=0.1):
    """Body-contact zones (``episode_logic.body_contact_zones``) every ``every`` s of holding the
    home pose from the home keyframe, in C MuJoCo."""
    from gait.gait_config import GaitConfig
    from mjx_envs import episode_logic as el
    from mjx_envs.env_config import EnvConfig
    from mjx_envs.measurements import measure

    ctx = el.make_context(SimulationConfig(world=world, collision=collision, kp=kp), EnvConfig(), GaitConfig())
    m = ctx.mj_model
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    per = int(round(every / m.opt.timestep))
    out = []
    for t in range(int(round(seconds / m.opt.timestep))):
        d.ctrl[:] = ctx.home_joints
        mujoco.mj_step(m, d)
        if (t + 1) % per == 0:
            meas = measure(ctx.idx, d.qpos, d.qvel, d.sensordata, d.actuator_force)
            out.append(np.asarray(el.body_contact_zones(ctx, meas)))
    return np.array(out)


@pytest.mark.parametrize("world", WORLDS)
def test_probes_sense_the_body_contacts_the_touch_sensors_sensed(world):
    """``collision: feet`` keeps the body-contact penalty sighted: holding the home pose, the same
    zones touch at every 0.1 s sample as with every sphere colliding (measured: none on flat
    ground, the RR calf from 0.8 s on the rough world's spawn); collapsing (servo kp 5 N*m/rad),
    every zone the touch sensors report is reported by the probes too, at the same sample (the
    probed spheres then sink deeper than colliding ones rest)."""
    stand_all, stand_feet = _zone_history(world, "all", None), _zone_history(world, "feet", None)
    np.testing.assert_array_equal(stand_feet, stand_all)
    fall_all, fall_feet = _zone_history(world, "all", 5.0), _zone_history(world, "feet", 5.0)
    assert fall_all.any(axis=0).sum() >= 2, "the collapse should put at least two zones on the ground"
    assert not (fall_all & ~fall_feet).any(), (fall_all.astype(int), fall_feet.astype(int))


def test_a_robot_with_a_relative_meshdir_loads_into_every_world(tmp_path):
    """A robot file with ``<compiler meshdir="meshes">`` (as public files have) finds its meshes next to
    itself inside our worlds, and the rough world still finds its own heightfield file."""
    (tmp_path / "meshes").mkdir()
    v = [(x, y, z) for z in (-0.05, 0.05) for y in (-0.05, 0.05) for x in (-0.05, 0.05)]
    faces = [
        (1, 3, 2),
        (2, 3, 4),
        (5, 6, 7),
        (6, 8, 7),
        (1, 2, 5),
        (2, 6, 5),
        (3, 7, 4),
        (4, 7, 8),
        (1, 5, 3),
        (3, 5, 7),
        (2, 4, 6),
        (4, 8, 6),
    ]
    (tmp_path / "meshes" / "cube.obj").write_text(
        "".join(f"v {x} {y} {z}\n" for x, y, z in v) + "".join(f"f {a} {b} {c}\n" for a, b, c in faces)
    )
    text = open(os.path.join(REPO_ROOT, "model", "robots", "go1_style", "robot.xml")).read()
    text = text.replace(
        '<compiler angle="radian" autolimits="true"/>',
        '<compiler angle="radian" autolimits="true" meshdir="meshes"/>\n'
        '  <asset><mesh name="cube" file="cube.obj"/></asset>',
        1,
    )
    text = text.replace(
        '<site name="imu"',
        '<geom type="mesh" mesh="cube" contype="0" conaffinity="0" mass="0"/>\n      <site name="imu"',
        1,
    )
    assert text.count("cube") == 3
    (tmp_path / "robot.xml").write_text(text)
    for world in ("flat", "rough"):
        m = loading.load_mj_model(SimulationConfig(world=world, robot_xml=str(tmp_path / "robot.xml")))
        assert m.nmesh == 1 and m.nhfield == (world == "rough")

"""model/robot_adapter.py (+ robot_mapping.py): a public-convention robot file becomes what the stack needs.

Leg order (FL listed first), contact bits, body-contact probes on capsule/box/cylinder geoms, torque
motors, a derived home pose; the project's own robot is left exactly as it is.
"""

import os

import jax
import mujoco
import numpy as np

from gait.gait_config import GaitConfig
from mjx_envs.env_config import EnvConfig
from mjx_envs.measurements import sensor_index
from model import robot_constants as rc
from model.loading import load_mj_model
from model.robot_adapter import prepare
from model.robot_spec import load_robot_spec
from model.simulation_config import REPO_ROOT, load_simulation_config

GO1 = "model/robots/go1_style/robot.xml"
GO2 = "model/robots/go2_style/robot.xml"


def test_the_projects_robot_needs_no_edit():
    ad = prepare(os.path.join(REPO_ROOT, "model", "robot.xml"))
    assert (ad.foot_contype, ad.sites, ad.actuators, ad.sensors, ad.home, ad.notes) == ((), (), (), (), None, ())


def test_fl_first_file_gets_the_home_pose_in_the_right_joints():
    """go1_style lists FL before FR in its bodies (qpos) and FR first in its actuators: the stack's
    FR joints are FR_*_joint at qpos 10-12, and a reset writes each leg's home angles there."""
    from mjx_envs.episode_logic import make_context, sample_episode

    spec = load_robot_spec(GO1)
    assert spec.joint_names[:3] == ("FR_hip_joint", "FR_thigh_joint", "FR_calf_joint")
    assert spec.qpos_adr == (10, 11, 12, 7, 8, 9, 16, 17, 18, 13, 14, 15)
    sim = load_simulation_config(world="flat", robot_xml=GO1)
    ctx = make_context(sim, EnvConfig(randomization=EnvConfig().randomization.__class__(joint_noise=0.0)), GaitConfig())
    qpos, _, _ = sample_episode(ctx, jax.random.PRNGKey(0))
    m = ctx.mj_model
    key = m.key_qpos[m.key("home").id]
    for leg in ("FR", "FL", "RR", "RL"):
        for j in ("hip", "thigh", "calf"):
            a = m.jnt_qposadr[m.joint(f"{leg}_{j}_joint").id]
            assert float(qpos[a]) == np.float32(key[a]), (leg, j)
    # the actuators were rebuilt in the stack's order, each driving its joint
    assert [m.joint(int(m.actuator_trnid[i, 0])).name for i in range(12)] == list(spec.joint_names)


def test_body_contact_probes_on_capsules_boxes_and_cylinders():
    """collision: feet switches go1_style's box, cylinder and capsule geoms off and probes them:
    standing, no zone touches; with the trunk lowered onto the floor the trunk zone does."""
    m = load_mj_model(load_simulation_config(world="flat", robot_xml=GO1, collision="feet"))
    idx = sensor_index(m)
    names = [m.sensor(i).name for i in range(m.nsensor) if m.sensor(i).name.startswith(rc.BODY_PROBE_PREFIX)]
    assert len(idx.body_probe) == len(names) >= 8 + 4 * 2 + 4 * 2 + 4 * 2  # trunk box corners, 12 capsule/cylinders
    robot_geoms = [g for g in range(m.ngeom) if m.geom_bodyid[g] != 0]
    colliding = [g for g in robot_geoms if m.geom_contype[g] or m.geom_conaffinity[g]]
    assert len(colliding) == 4  # the feet only
    d = mujoco.MjData(m)

    def zones(height):
        mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
        d.qpos[2] = height
        mujoco.mj_forward(m, d)
        p = np.array([d.sensordata[a : a + 3] for a in idx.body_probe])
        below = p[:, 2] - np.asarray(idx.body_probe_radius) < 0.0
        return {rc.BODY_CONTACT_SENSORS[z] for z, b in zip(idx.body_probe_zone, below) if b}

    assert zones(0.29) == set()
    assert "trunk_contact" in zones(0.04)


def test_torque_motors_become_servos_and_a_home_pose_is_derived():
    """go2_style: motor actuators get kp 80 / kv 2 with the motor's torque range; no keyframe, so one is
    derived with the feet below the hips at the nominal height (0.643 x 0.426 m legs = 0.274 m)."""
    ad = prepare(os.path.join(REPO_ROOT, GO2))
    assert {a.kind for a in ad.actuators} == {"motor"} and len(ad.actuators) == 12
    assert {a.forcerange for a in ad.actuators} == {(-23.7, 23.7), (-45.4, 45.4)}
    m = load_mj_model(load_simulation_config(world="flat", robot_xml=GO2))
    assert np.allclose(m.actuator_gainprm[:, 0], 80.0) and np.allclose(m.actuator_biasprm[:, 1:3], [-80.0, -2.0])
    spec = load_robot_spec(GO2)
    assert spec.home_trunk_height == 0.274
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_kinematics(m, d)
    feet = np.array([d.site_xpos[m.site(s).id] for s in rc.FOOT_SITES])
    np.testing.assert_allclose(feet[:, 2], 0.022, atol=1e-6)  # foot centres one radius above the floor
    np.testing.assert_allclose(feet[:, 0], [h[0] for h in spec.hip_offsets], atol=1e-6)  # below the hips


def test_keyframe_servo_targets_follow_the_rebuilt_actuators():
    """spot_style's actuators are rebuilt in the stack's order: its home keyframe's ctrl is re-read from
    the keyframe's own joint angles in that order (not left empty, i.e. zero targets)."""
    for path in ("model/robots/spot_style/robot.xml", GO1, GO2, "model/robot.xml"):
        m = load_mj_model(load_simulation_config(world="flat", robot_xml=path))
        k = m.key("home")
        joints = [k.qpos[m.jnt_qposadr[m.actuator_trnid[i, 0]]] for i in range(m.nu)]
        np.testing.assert_allclose(k.ctrl, joints, atol=1e-12, err_msg=path)

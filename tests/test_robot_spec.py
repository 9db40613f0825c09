"""model/robot_spec.py: the robot's geometry, home pose and actuator order derived from the MJCF.

The model is the source of truth: a copy of ``robot.xml`` with other link lengths and hip
positions changes the IK/FK and the gait with no code edit (FK vs MuJoCo's own kinematics on the
modified model within 1e-6 m), and malformed models fail with named problems.
"""

import os
import re
import shutil

import mujoco
import numpy as np
import pytest

from gait.controller import BezierController
from ik.leg_geometry import DEFAULT_GEOMETRY, LegGeometry
from ik.leg_ik import all_legs_forward_kinematics, hip_to_body, solve_all_legs_ik
from model import robot_constants as rc
from model.robot_spec import RobotModelError, load_robot_spec, robot_spec

MODEL_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model")
ROBOT_XML = open(os.path.join(MODEL_DIR, "robot.xml")).read()


def _world(tmp_path, robot_text: str) -> str:
    """A flat world (a copy of model/world.xml) around ``robot_text``; returns its path."""
    d = tmp_path / "m"
    d.mkdir(exist_ok=True)
    (d / "robot.xml").write_text(robot_text)
    shutil.copy(os.path.join(MODEL_DIR, "world.xml"), d / "world.xml")
    return str(d / "world.xml")


def _longer_legs(text: str, thigh: float = 0.25, calf: float = 0.24, hip_x: float = 0.22, hip_y: float = 0.07) -> str:
    """robot.xml with other link lengths and hip positions (numbers only, the structure kept)."""
    text = text.replace('pos="0 0 -0.21">\n            <joint name', f'pos="0 0 -{thigh}">\n            <joint name')
    text = re.sub(r'<body name="(\w\w)_foot" pos="0 0 -0.21">', rf'<body name="\1_foot" pos="0 0 -{calf}">', text)
    for leg, sx, sy in (("FR", 1, -1), ("FL", 1, 1), ("RR", -1, -1), ("RL", -1, 1)):
        text = text.replace(
            f'<body name="{leg}_hip" pos="{0.19 * sx:g} {0.05 * sy:g} 0">',
            f'<body name="{leg}_hip" pos="{hip_x * sx:g} {hip_y * sy:g} 0">',
        )
    return text


def test_shipped_robot_matches_the_default_geometry():
    m = mujoco.MjModel.from_xml_path(os.path.join(MODEL_DIR, "world.xml"))
    spec = robot_spec(m)
    assert LegGeometry.from_robot_spec(spec) == DEFAULT_GEOMETRY
    np.testing.assert_allclose(spec.home_joints, rc.HOME_JOINTS)
    assert spec.home_trunk_height == pytest.approx(rc.HOME_TRUNK_HEIGHT)
    assert spec.actuator_names == rc.ACTUATOR_NAMES and spec.side_signs == tuple(rc.SIDE_SIGN)
    assert "thigh / calf length (m)" in spec.table()


def test_changed_link_lengths_change_ik_fk_and_gait(tmp_path):
    path = _world(tmp_path, _longer_legs(ROBOT_XML))
    m = mujoco.MjModel.from_xml_path(path)
    geo = LegGeometry.from_robot_spec(robot_spec(m, path))
    assert (geo.thigh_length, geo.calf_length) == pytest.approx((0.25, 0.24))
    assert geo.hip_offsets[1] == pytest.approx((0.22, 0.07, 0.0)) and geo.lateral_offset == pytest.approx(0.08)
    # FK of the derived geometry vs MuJoCo's kinematics of the modified model, trunk at the origin
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    lo, hi = np.tile(geo.joint_lower, 4), np.tile(geo.joint_upper, 4)
    qadr = [int(m.jnt_qposadr[m.actuator_trnid[i, 0]]) for i in range(12)]
    foot_geoms = [m.geom(f"{leg}_foot").id for leg in rc.LEG_NAMES]
    worst = 0.0
    for _ in range(20):
        q = rng.uniform(lo, hi)
        d.qpos[:] = 0.0
        d.qpos[3] = 1.0  # identity trunk orientation at the origin: world frame = body frame
        d.qpos[qadr] = q
        mujoco.mj_kinematics(m, d)
        want = d.geom_xpos[foot_geoms]
        got = np.asarray(hip_to_body(all_legs_forward_kinematics(q.reshape(4, 3).astype(np.float32), geo), geo))
        worst = max(worst, float(np.abs(got - want).max()))
    assert worst <= 1e-6, worst  # float32 FK against float64 MuJoCo: 5.7e-8 m measured (2026-11-27)
    # the shipped geometry would be wrong on this model: the derived one is what the stack uses
    q = np.tile(rc.HOME_LEG, 4).reshape(4, 3).astype(np.float32)
    moved = np.asarray(all_legs_forward_kinematics(q, geo)) - np.asarray(all_legs_forward_kinematics(q))
    assert np.abs(moved).max() > 0.02
    # IK round trip on the new geometry
    targets = np.asarray(all_legs_forward_kinematics(q, geo))
    back, saturated = solve_all_legs_ik(targets, geo)
    assert not np.any(np.asarray(saturated))
    np.testing.assert_allclose(np.asarray(back), q, atol=1e-4)
    # the controller built for the model carries it (so do the envs: episode_logic.make_context)
    ctrl = BezierController.for_model(m)
    assert ctrl.geometry == geo
    stand, stand_default = np.asarray(ctrl.stand_targets()), np.asarray(BezierController().stand_targets())
    assert stand.shape == (12,) and np.all(np.isfinite(stand))
    assert np.abs(stand - stand_default).max() > 0.01  # the same stance height needs other joint angles


def _drop_actuator(text: str) -> str:
    text = re.sub(r'\s*<position name="RL_knee"[^>]*/>', "", text, count=1)
    text = re.sub(r'\s*<actuatorfrc name="RL_knee_frc"[^>]*/>', "", text, count=1)  # its force sensor
    return re.sub(r'(ctrl="[^"]*) -1.8"', r'\1"', text, count=1)  # and its home-keyframe control


def _no_foot(text: str) -> str:
    return text.replace('<geom name="RR_foot" class="foot" mass="0.05"/>', "")


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (_drop_actuator, r"joint RL_knee: driven by 0 actuators"),
        (_no_foot, r"leg RR: the farthest sphere below joint RR_knee \(RR_shin\) is 0.100 m from the knee"),
        (
            lambda t: t.replace('<body name="FL_thigh" pos="0 0.08 0">', '<body name="FL_thigh" pos="0 -0.08 0">'),
            r"leg FL: the foot sits -0.080 m from the abduction axis, towards the other side",
        ),
        (
            lambda t: t.replace(
                '<position name="FR_knee" joint="FR_knee" class="knee"/>',
                '<velocity name="FR_knee" joint="FR_knee" kv="2"/>',
            ).replace('<joint name="FL_hip" class="hip"/>', '<joint name="FL_hip" class="hip" axis="0 0.8 0.6"/>'),
            r"(?s)2 problems.*actuator FR_knee .*neither a position servo.*joint FL_hip .*axis \[0.0, 0.8, 0.6\]",
        ),
    ],
)
def test_malformed_models_fail_with_named_problems(tmp_path, mutate, expected):
    text = mutate(ROBOT_XML)
    assert text != ROBOT_XML
    path = _world(tmp_path, text)
    with pytest.raises(RobotModelError, match=expected) as e:
        load_robot_spec(path)
    assert path in str(e.value)
    # a model compiled without the adapter is not taken for an adapted one
    if mutate is _drop_actuator:
        with pytest.raises(RobotModelError):
            robot_spec(mujoco.MjModel.from_xml_path(path), path)

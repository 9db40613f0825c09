"""Closed-form leg IK / FK: round trips, saturation rule, NaN-free gradients, agreement with MuJoCo."""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ik import (
    DEFAULT_GEOMETRY,
    SIDE_SIGNS,
    LegGeometry,
    all_legs_forward_kinematics,
    body_to_hip,
    foot_positions_in_body,
    hip_to_body,
    leg_forward_kinematics,
    solve_all_legs_ik,
    solve_leg_ik_3dof,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROBOT_XML = os.path.join(REPO, "model", "robot.xml")
G = DEFAULT_GEOMETRY
LOWER = np.asarray(G.joint_lower)
UPPER = np.asarray(G.joint_upper)

# A thigh-joint-to-foot direction *below* the thigh joint is the branch the IK returns, so random
# "reachable" angles are drawn from a box that keeps the foot well below the hip.
SAMPLE_LO = np.array([-0.75, -0.6, -2.65])
SAMPLE_HI = np.array([0.75, 1.9, -0.65])


def _random_branch_angles(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 4, 3) in-limit joint angles whose foot lies below the thigh joint (IK branch)."""
    out = []
    while len(out) < n * 4:
        q = rng.uniform(SAMPLE_LO, SAMPLE_HI)
        zs = -G.thigh_length * math.cos(q[1]) - G.calf_length * math.cos(q[1] + q[2])
        if zs < -0.03:
            out.append(q)
    return np.asarray(out).reshape(n, 4, 3)


# --------------------------------------------------------------------------------------------
# geometry / FK basics
# --------------------------------------------------------------------------------------------


def test_geometry_is_frozen_hashable_and_static_arg():
    assert hash(LegGeometry()) == hash(DEFAULT_GEOMETRY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_GEOMETRY.thigh_length = 0.3  # type: ignore[misc]
    longer = LegGeometry(thigh_length=0.25, calf_length=0.25)
    solve = jax.jit(solve_all_legs_ik, static_argnames="geometry")
    targets = jnp.tile(jnp.array([0.02, 0.0, -0.30]), (4, 1)) + jnp.array([[0, s * 0.08, 0] for s in SIDE_SIGNS])
    q_long, sat_long = solve(targets, geometry=longer)
    assert not bool(jnp.any(sat_long))
    np.testing.assert_allclose(all_legs_forward_kinematics(q_long, longer), targets, atol=1e-5)
    with pytest.raises(ValueError):
        LegGeometry(knee_range=(-2.0, 0.3))


def test_home_pose_forward_kinematics():
    home = jnp.tile(jnp.array([0.0, 0.9, -1.8]), (4, 1))
    feet = np.asarray(all_legs_forward_kinematics(home))
    expected_z = -2 * 0.21 * math.cos(0.9)
    for i, s in enumerate(SIDE_SIGNS):
        np.testing.assert_allclose(feet[i], [0.0, s * 0.08, expected_z], atol=1e-6)
    body = np.asarray(foot_positions_in_body(home.reshape(12)))
    np.testing.assert_allclose(body, feet + np.asarray(G.hip_offsets), atol=1e-6)
    np.testing.assert_allclose(np.asarray(body_to_hip(hip_to_body(jnp.asarray(feet)))), feet, atol=1e-7)
    assert abs(expected_z + 0.261) < 1e-3


def test_positive_hip_moves_knee_back_and_abduction_direction():
    foot0 = np.asarray(leg_forward_kinematics(jnp.array([0.0, 0.0, -0.6]), -1.0))
    foot1 = np.asarray(leg_forward_kinematics(jnp.array([0.0, 0.3, -0.6]), -1.0))
    assert foot1[0] < foot0[0]  # positive hip flexion moves the leg towards -x
    # right-hand rule about +x: positive abduction moves a foot below the hip towards +y
    fr = np.asarray(leg_forward_kinematics(jnp.array([0.2, 0.9, -1.8]), -1.0))
    assert fr[1] > -0.08


# --------------------------------------------------------------------------------------------
# round trips
# --------------------------------------------------------------------------------------------


def test_ik_fk_round_trip_float64():
    rng = np.random.default_rng(0)
    q = _random_branch_angles(rng, 250)
    with jax.enable_x64(True):
        qj = jnp.asarray(q, dtype=jnp.float64)
        targets = jax.vmap(all_legs_forward_kinematics)(qj)
        assert targets.dtype == jnp.float64
        q_ik, sat = jax.jit(jax.vmap(solve_all_legs_ik))(targets)
        assert q_ik.dtype == jnp.float64
        recovered = jax.vmap(all_legs_forward_kinematics)(q_ik)
        assert not bool(jnp.any(sat))
        assert float(jnp.max(jnp.abs(recovered - targets))) < 1e-5
        # FK∘IK: in-limit angles on the knee-back branch come back exactly
        assert float(jnp.max(jnp.abs(q_ik - qj))) < 1e-6


def test_ik_fk_round_trip_float32():
    rng = np.random.default_rng(1)
    q = jnp.asarray(_random_branch_angles(rng, 250), dtype=jnp.float32)
    targets = jax.vmap(all_legs_forward_kinematics)(q)
    q_ik, sat = jax.jit(jax.vmap(solve_all_legs_ik))(targets)
    assert q_ik.dtype == jnp.float32
    assert not bool(jnp.any(sat))
    recovered = jax.vmap(all_legs_forward_kinematics)(q_ik)
    assert float(jnp.max(jnp.abs(recovered - targets))) < 1e-4
    assert float(jnp.max(jnp.abs(q_ik - q))) < 1e-3


def test_single_leg_matches_all_legs_wrapper():
    rng = np.random.default_rng(2)
    targets = jnp.asarray(rng.uniform([-0.1, -0.15, -0.33], [0.1, 0.15, -0.18], size=(4, 3)), dtype=jnp.float32)
    q_all, sat_all = _solve_jit(targets)
    single = jax.jit(solve_leg_ik_3dof)
    for i, s in enumerate(SIDE_SIGNS):
        q_i, sat_i = single(targets[i], s)
        np.testing.assert_allclose(q_i, q_all[i], atol=1e-7)
        assert bool(sat_i) == bool(sat_all[i])


# --------------------------------------------------------------------------------------------
# saturation rule
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_projection_too_far_and_too_close_straight_down(side):
    for z, reach in ((-1.0, G.max_reach), (-0.05, G.min_reach)):
        q, sat = solve_leg_ik_3dof(jnp.array([0.0, side * 0.08, z]), side)
        assert bool(sat)
        foot = np.asarray(leg_forward_kinematics(q, side))
        np.testing.assert_allclose(foot, [0.0, side * 0.08, -reach], atol=1e-5)


@pytest.mark.parametrize("side", [-1.0, 1.0])
def test_projection_inside_hip_cylinder(side):
    q, sat = solve_leg_ik_3dof(jnp.array([0.0, 0.0, -0.04]), side)  # r_yz = 0.04 < 0.08
    assert bool(sat)
    foot = np.asarray(leg_forward_kinematics(q, side))
    assert math.hypot(foot[1], foot[2]) >= G.lateral_offset - 1e-6
    # exactly at the hip: zero abduction, foot straight down at the shortest reach
    q0, sat0 = solve_leg_ik_3dof(jnp.zeros(3), side)
    assert bool(sat0)
    np.testing.assert_allclose(
        np.asarray(leg_forward_kinematics(q0, side)), [0.0, side * 0.08, -G.min_reach], atol=1e-5
    )


def test_joint_limit_clipping_sets_flag():
    # reachable distance but needs ~ -90 deg abduction on the right leg -> abduction clipped
    q, sat = solve_leg_ik_3dof(jnp.array([0.0, 0.25, 0.05]), -1.0)
    assert bool(sat)
    assert float(q[0]) == pytest.approx(G.abduction_range[0]) or float(q[0]) == pytest.approx(G.abduction_range[1])


finite = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False, width=32)
special = st.sampled_from([0.0, 0.08, -0.08, 1e-30, -1e-30, 10.0, -10.0, 1e30, -1e30, 0.4012413, -0.26])
coord = st.one_of(finite, special)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(coord, coord, coord), min_size=4, max_size=4))
def test_extreme_targets_finite_values_gradients_and_limits(points):
    targets = jnp.asarray(points, dtype=jnp.float32)
    q, sat = _solve_jit(targets)
    q = np.asarray(q)
    assert np.all(np.isfinite(q))
    assert np.all(q >= LOWER - 1e-6) and np.all(q <= UPPER + 1e-6)
    grad = np.asarray(_grad_jit(targets))
    assert np.all(np.isfinite(grad))
    p = np.asarray(targets, dtype=np.float64)
    dist = np.linalg.norm(p, axis=1)
    r_yz = np.hypot(p[:, 1], p[:, 2])
    max_dist = math.hypot(G.lateral_offset, G.max_reach)
    must_saturate = (
        (dist > max_dist + 1e-4)
        | (r_yz < G.lateral_offset - 1e-4)
        | (dist < math.hypot(G.lateral_offset, G.min_reach) - 1e-4)
    )
    sat = np.asarray(sat)
    assert np.all(sat[must_saturate])
    # the flag is exact: an unsaturated target is reproduced by the FK
    foot = np.asarray(all_legs_forward_kinematics(jnp.asarray(q)))
    err = np.linalg.norm(foot - p, axis=1)
    assert np.all(err[~sat] < 1e-4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(*[st.floats(-0.03, 0.03, allow_nan=False)] * 3), min_size=4, max_size=4),
    st.floats(0.21, 0.31),
)
def test_comfortably_reachable_targets_are_not_saturated(offsets, height):
    nominal = np.array([[0.0, s * 0.08, -height] for s in SIDE_SIGNS])
    targets = jnp.asarray(nominal + np.asarray(offsets), dtype=jnp.float32)
    q, sat = _solve_jit(targets)
    assert not bool(jnp.any(sat))
    np.testing.assert_allclose(np.asarray(all_legs_forward_kinematics(q)), np.asarray(targets), atol=1e-4)


_solve_jit = jax.jit(solve_all_legs_ik)


@jax.jit
def _grad_jit(targets):
    def loss(t):
        q, _ = solve_all_legs_ik(t)
        return jnp.sum(q * jnp.arange(1.0, 13.0).reshape(4, 3)) + jnp.sum(all_legs_forward_kinematics(q) ** 2)

    return jax.grad(loss)(targets)


@pytest.mark.parametrize(
    "target",
    [
        [0.0, 0.0, 0.0],  # exactly at the hip
        [0.0, -0.08, 0.0],  # exactly at the FR thigh joint
        [0.0, -0.08, -0.09198280857907744],  # exactly at the shortest reach
        [0.0, -0.08, -0.40124132543275454],  # exactly at the longest reach
        [0.0, 0.0, -0.08],  # exactly on the hip cylinder
        [10.0, -10.0, 10.0],
        [-1e30, 1e30, -1e30],
    ],
)
def test_singular_targets_have_finite_jacobian(target):
    jac = _jacobian_fr(jnp.asarray(target, dtype=jnp.float32))
    assert np.all(np.isfinite(np.asarray(jac)))
    with jax.enable_x64(True):
        jac64 = _jacobian_fr(jnp.asarray(target, dtype=jnp.float64))
        assert jac64.dtype == jnp.float64
        assert np.all(np.isfinite(np.asarray(jac64)))


_jacobian_fr = jax.jit(jax.jacobian(lambda t: solve_leg_ik_3dof(t, -1.0)[0]))


def test_vmap_over_batch_matches_loop():
    rng = np.random.default_rng(3)
    targets = jnp.asarray(rng.uniform(-0.5, 0.5, size=(16, 4, 3)), dtype=jnp.float32)
    q_b, sat_b = jax.jit(jax.vmap(solve_all_legs_ik))(targets)
    for k in range(16):
        q_k, sat_k = _solve_jit(targets[k])
        np.testing.assert_allclose(q_b[k], q_k, atol=1e-6)
        np.testing.assert_array_equal(sat_b[k], sat_k)


# --------------------------------------------------------------------------------------------
# agreement with the MuJoCo model
# --------------------------------------------------------------------------------------------


def _quat_to_mat(q: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q)
    return mat.reshape(3, 3)


@pytest.mark.skipif(not os.path.isfile(ROBOT_XML), reason="model/robot.xml not present")
def test_fk_matches_mujoco_foot_sites():
    m = mujoco.MjModel.from_xml_path(ROBOT_XML)
    d = mujoco.MjData(m)
    site_ids = [m.site(f"{leg}_foot").id for leg in ("FR", "FL", "RR", "RL")]
    jnt_lo = m.jnt_range[1:, 0]
    jnt_hi = m.jnt_range[1:, 1]
    np.testing.assert_allclose(jnt_lo, np.tile(LOWER, 4))
    np.testing.assert_allclose(jnt_hi, np.tile(UPPER, 4))
    rng = np.random.default_rng(4)
    fk = jax.jit(foot_positions_in_body)
    for _ in range(50):
        q = rng.uniform(jnt_lo, jnt_hi)
        quat = rng.normal(size=4)
        quat /= np.linalg.norm(quat)
        d.qpos[:3] = rng.uniform(-1.0, 1.0, size=3)
        d.qpos[3:7] = quat
        d.qpos[7:19] = q
        mujoco.mj_kinematics(m, d)
        rot = _quat_to_mat(d.xquat[m.body("trunk").id])
        in_trunk = (d.site_xpos[site_ids] - d.xpos[m.body("trunk").id]) @ rot
        with jax.enable_x64(True):
            ours = np.asarray(foot_positions_in_body(jnp.asarray(q, dtype=jnp.float64)))
        np.testing.assert_allclose(ours, in_trunk, atol=1e-9)
        np.testing.assert_allclose(np.asarray(fk(jnp.asarray(q, dtype=jnp.float32))), in_trunk, atol=2e-6)


# --------------------------------------------------------------------------------------------
# real leg geometry: knees offset along x (spot_style), rotated body frames and per-leg ranges
# (go2_style), joint zero offsets (a ref on every joint)
# --------------------------------------------------------------------------------------------


def _mujoco_feet(m, spec, q):
    """Foot centres in the trunk frame from MuJoCo's kinematics at joint angles q (12,), stack order."""
    from model import robot_constants as rc
    from model.robot_spec import trunk_body

    d = mujoco.MjData(m)
    d.qpos[:] = m.qpos0
    d.qpos[list(spec.qpos_adr)] = q
    mujoco.mj_kinematics(m, d)
    t = trunk_body(m)
    R, p = d.xmat[t].reshape(3, 3), d.xpos[t]
    return np.array([R.T @ (d.site_xpos[m.site(s).id] - p) for s in rc.FOOT_SITES])


def _with_refs(text: str) -> str:
    """spot_style with a joint zero offset (ref) on every hy and kn joint: the reference pose changes."""
    for leg in ("fl", "fr", "hl", "hr"):
        text = text.replace(f'<joint name="{leg}_hy"', f'<joint name="{leg}_hy" ref="0.4"')
        text = text.replace(f'<joint name="{leg}_kn"', f'<joint name="{leg}_kn" ref="0.2"')
    return text


@pytest.mark.parametrize("robot", ["spot_style", "go2_style", "spot_refs"])
def test_general_chains_match_mujoco_and_round_trip(robot, tmp_path):
    """FK of the derived chains equals MuJoCo's within 1e-6 m and IK(FK(q)) = q within 1e-6 rad
    (float64) on robots the old straight-leg IK got wrong (measured: <= 8e-13 m, <= 4e-15 rad)."""
    from model.robot_spec import adapted_robot_model, robot_spec

    name = "spot_style" if robot == "spot_refs" else robot
    path = os.path.join(REPO, "model", "robots", name, "robot.xml")
    if robot == "spot_refs":
        text = _with_refs(open(path).read())
        assert text.count('ref="') == 8
        path = str(tmp_path / "robot.xml")
        open(path, "w").write(text)
    m = adapted_robot_model(path)
    spec = robot_spec(m, path)
    geo = LegGeometry.from_robot_spec(spec)
    lo, hi = np.asarray(geo.lower_limits), np.asarray(geo.upper_limits)
    rng = np.random.default_rng(1)
    with jax.enable_x64(True):
        worst_fk = worst_ik = 0.0
        for _ in range(40):
            q = rng.uniform(lo + 0.05, hi - 0.05)
            got = np.asarray(foot_positions_in_body(jnp.asarray(q), geo))
            worst_fk = max(worst_fk, float(np.abs(got - _mujoco_feet(m, spec, q)).max()))
            feet_hip = np.asarray(all_legs_forward_kinematics(jnp.asarray(q), geo))
            if np.any(feet_hip[:, 2] > -0.05):
                continue  # the IK's branch keeps the foot below the hip
            back, sat = solve_all_legs_ik(jnp.asarray(feet_hip), geo)
            if not np.any(np.asarray(sat)):
                worst_ik = max(worst_ik, float(np.abs(np.asarray(back).reshape(12) - q).max()))
    assert worst_fk <= 1e-6, worst_fk
    assert 0.0 < worst_ik <= 1e-6 or worst_ik == 0.0, worst_ik
    # the straight-leg geometry (today's IK) would put the feet centimetres off on these robots
    q = np.asarray(spec.home_joints)
    straight = LegGeometry(
        hip_offsets=geo.hip_offsets,
        lateral_offset=geo.lateral_offset,
        thigh_length=geo.thigh_length,
        calf_length=geo.calf_length,
    )
    err = np.abs(np.asarray(foot_positions_in_body(jnp.asarray(q), straight)) - _mujoco_feet(m, spec, q)).max()
    assert err > 0.01, err  # measured: 18 mm (spot_style), 74 mm (go2_style), 218 mm (refs)

"""BezierController: the per-control-step function the environments call (jit / vmap / residuals)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait import BezierController, ControllerOutput, GaitConfig, GaitState
from ik import DEFAULT_GEOMETRY, all_legs_forward_kinematics
from model import robot_constants

CTRL = BezierController()
LOWER = np.tile(DEFAULT_GEOMETRY.joint_lower, 4)
UPPER = np.tile(DEFAULT_GEOMETRY.joint_upper, 4)

_targets = jax.jit(CTRL.joint_targets)


def test_controller_is_hashable_and_outputs_have_the_documented_shapes():
    assert hash(CTRL) == hash(BezierController(GaitConfig()))
    out = _targets(CTRL.init_state(), jnp.array([0.3, 0.0, 0.0]))
    assert isinstance(out, ControllerOutput)
    assert out.joint_targets.shape == (12,) and out.foot_targets.shape == (4, 3)
    assert out.saturated.shape == (4,) and out.saturated.dtype == jnp.bool_
    assert out.stance.shape == (4,)


def test_joint_targets_reproduce_foot_targets_in_actuator_order():
    state = CTRL.init_state(0.37)
    out = _targets(state, jnp.array([0.25, -0.05, 0.3]))
    assert not bool(jnp.any(out.saturated))
    feet = all_legs_forward_kinematics(out.joint_targets.reshape(4, 3))
    np.testing.assert_allclose(np.asarray(feet), np.asarray(out.foot_targets), atol=1e-5)


def test_stand_pose_at_home_height_is_the_home_keyframe():
    # with the nominal feet straight below the thigh joints, the home trunk height gives HOME_JOINTS
    ctrl = BezierController(dataclasses.replace(GaitConfig(), foot_x_offset=0.0))
    home_height = 2 * 0.21 * np.cos(0.9) + DEFAULT_GEOMETRY.foot_radius
    q = np.asarray(jax.jit(ctrl.stand_targets)(home_height))
    np.testing.assert_allclose(q, robot_constants.HOME_JOINTS, atol=1e-5)
    assert robot_constants.JOINT_NAMES[:3] == ("FR_abduction", "FR_hip", "FR_knee")


def test_residual_is_added_to_the_foot_targets_before_ik():
    state = CTRL.init_state(0.1)
    cmd = jnp.array([0.3, 0.0, 0.0])
    residual = jnp.array([[0.02, 0.0, -0.01], [-0.01, 0.01, 0.0], [0.0, -0.015, 0.02], [0.01, 0.0, 0.0]])
    base = _targets(state, cmd)
    with_res = _targets(state, cmd, residual=residual)
    np.testing.assert_allclose(np.asarray(with_res.foot_targets), np.asarray(base.foot_targets))  # nominal unchanged
    feet = all_legs_forward_kinematics(with_res.joint_targets.reshape(4, 3))
    np.testing.assert_allclose(np.asarray(feet), np.asarray(base.foot_targets + residual), atol=1e-5)
    assert not np.allclose(np.asarray(with_res.joint_targets), np.asarray(base.joint_targets))


def test_body_height_argument_changes_stance_depth():
    state = CTRL.init_state(0.0)  # FR starts its stance
    low = _targets(state, jnp.zeros(3), body_height=0.22)
    high = _targets(state, jnp.zeros(3), body_height=0.30)
    assert float(low.foot_targets[0, 2]) == pytest.approx(-(0.22 - 0.02), abs=1e-6)
    assert float(high.foot_targets[0, 2]) == pytest.approx(-(0.30 - 0.02), abs=1e-6)


def test_jit_and_vmap_over_environments():
    n = 8
    rng = np.random.default_rng(0)
    states = GaitState.create(jnp.asarray(rng.uniform(size=n), dtype=jnp.float32))
    cmds = jnp.asarray(rng.uniform([-0.5, -0.3, -1.0], [0.5, 0.3, 1.0], size=(n, 3)), dtype=jnp.float32)
    heights = jnp.asarray(rng.uniform(0.23, 0.29, size=n), dtype=jnp.float32)
    res = jnp.asarray(rng.uniform(-0.03, 0.03, size=(n, 4, 3)), dtype=jnp.float32)
    batched = jax.jit(jax.vmap(CTRL.joint_targets))(states, cmds, heights, res)
    assert batched.joint_targets.shape == (n, 12)
    for k in range(n):
        single = _targets(GaitState.create(states.phase[k]), cmds[k], heights[k], res[k])
        np.testing.assert_allclose(np.asarray(batched.joint_targets[k]), np.asarray(single.joint_targets), atol=1e-6)
    advanced = jax.jit(jax.vmap(CTRL.advance, in_axes=(0, None)))(states, 0.02)
    np.testing.assert_allclose(
        np.asarray(advanced.phase), (np.asarray(states.phase) + 0.02 / CTRL.config.period) % 1.0, atol=1e-6
    )


_residual = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, width=32)


@jax.jit
def _targets_and_grad(state, cmd, residual):
    out = CTRL.joint_targets(state, cmd, residual=residual)
    grad = jax.grad(lambda r: jnp.sum(jnp.sin(CTRL.joint_targets(state, cmd, residual=r).joint_targets)))(residual)
    return out, grad


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_residual, min_size=12, max_size=12),
    st.floats(0.0, 1.0, exclude_max=True),
    st.tuples(st.floats(-3.0, 3.0), st.floats(-3.0, 3.0), st.floats(-6.0, 6.0)),
)
def test_extreme_residuals_give_finite_in_limit_targets_and_gradients(residual, phase, command):
    r = jnp.asarray(residual, dtype=jnp.float32).reshape(4, 3)
    out, grad = _targets_and_grad(GaitState.create(phase), jnp.asarray(command, dtype=jnp.float32), r)
    q = np.asarray(out.joint_targets)
    assert np.all(np.isfinite(q)) and np.all(np.isfinite(np.asarray(grad)))
    assert np.all(q >= LOWER - 1e-6) and np.all(q <= UPPER + 1e-6)
    big = np.linalg.norm(np.asarray(r), axis=1) > 1.0  # a 1 m residual cannot be reachable
    assert np.all(np.asarray(out.saturated)[big])


def test_zero_residual_saturates_nothing_over_a_gait_cycle():
    state = CTRL.init_state()
    for cmd in ([0.0, 0.0, 0.0], [0.6, 0.0, 0.0], [-0.4, 0.2, 0.0], [0.3, 0.0, 1.0]):
        s = state
        for _ in range(int(CTRL.config.period / 0.02)):
            assert not bool(jnp.any(_targets(s, jnp.asarray(cmd)).saturated))
            s = CTRL.advance(s, 0.02)


def test_stand_up_moves_feet_from_start_pose_to_standing_pose():
    stand_up = jax.jit(CTRL.stand_up_targets)
    start = jnp.asarray(np.tile([0.0, 1.4, -2.6], 4), dtype=jnp.float32)  # crouched
    q0 = stand_up(start, 0.0, 0.27)
    np.testing.assert_allclose(np.asarray(q0), np.asarray(start), atol=1e-4)
    q_end = stand_up(start, CTRL.config.stand_up_duration, 0.27)
    np.testing.assert_allclose(np.asarray(q_end), np.asarray(jax.jit(CTRL.stand_targets)(0.27)), atol=1e-5)
    np.testing.assert_allclose(np.asarray(stand_up(start, 100.0, 0.27)), np.asarray(q_end), atol=1e-7)
    times = jnp.linspace(0.0, CTRL.config.stand_up_duration, 11)
    path = jax.jit(jax.vmap(lambda t: all_legs_forward_kinematics(CTRL.stand_up_targets(start, t, 0.27))))(times)
    depths = -np.asarray(path)[:, :, 2].mean(axis=1)
    assert np.all(np.diff(depths) >= -1e-7)  # trunk height rises monotonically
    assert depths[-1] == pytest.approx(0.27 - 0.02, abs=1e-5)
    batched = jax.jit(jax.vmap(CTRL.stand_up_targets))(
        jnp.stack([start, start]), jnp.array([0.0, 0.5]), jnp.array([0.25, 0.27])
    )
    assert batched.shape == (2, 12)

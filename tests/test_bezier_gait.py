"""Bézier gait generator: curve shape, continuity, timing, stance speed, and a float64 NumPy reference."""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gait import (
    GAIT_PHASE_OFFSETS,
    SWING_X_POINTS,
    SWING_Z_POINTS,
    GaitConfig,
    GaitState,
    advance_gait,
    foot_offset,
    half_steps_from_command,
    leg_phases,
    load_gait_config,
    nominal_foot_targets,
    nominal_stance_points,
    ramp_command,
    stance_mask,
    stance_profile,
    swing_profile,
)
from ik import DEFAULT_GEOMETRY, SIDE_SIGNS
from model.yaml_config import ConfigError

CFG = GaitConfig().for_robot(DEFAULT_GEOMETRY)  # the sizes derived for model/robot.xml
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------------------------
# float64 NumPy reference implementation (independent: Bernstein polynomials, explicit loops)
# --------------------------------------------------------------------------------------------

REF_X = np.array([-1.0, -1.4, -1.5, -1.5, -1.5, 0.0, 0.0, 0.0, 1.5, 1.5, 1.4, 1.0])
REF_Z_RAW = np.array([0.0, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9, 1.1, 1.1, 1.1, 0.0, 0.0])


def ref_bezier(points: np.ndarray, u: float) -> float:
    n = len(points) - 1
    return float(sum(math.comb(n, k) * u**k * (1.0 - u) ** (n - k) * p for k, p in enumerate(points)))


REF_Z_PEAK = max(ref_bezier(REF_Z_RAW, u) for u in np.linspace(0.0, 1.0, 200001))


def ref_foot_targets(phase: float, command: np.ndarray, cfg: GaitConfig, body_height: float) -> np.ndarray:
    g = DEFAULT_GEOMETRY
    out = np.zeros((4, 3))
    for i, (hip, s, off) in enumerate(zip(g.hip_offsets, SIDE_SIGNS, cfg.phase_offsets)):
        nominal = np.array(
            [cfg.foot_x_offset, s * (g.lateral_offset + cfg.foot_y_offset), -(body_height - g.foot_radius)]
        )
        r = np.array(hip[:2]) + nominal[:2]
        v = np.array([command[0] - command[2] * r[1], command[1] + command[2] * r[0]])
        half = v * cfg.duty_factor * cfg.period / 2.0
        cap = cfg.max_step_length / 2.0
        if np.linalg.norm(half) > cap:
            half *= cap / np.linalg.norm(half)
        ph = (phase + off) % 1.0
        if ph < cfg.duty_factor:
            u = ph / cfg.duty_factor
            offset = np.array(
                [*(half * (1.0 - 2.0 * u)), -cfg.penetration_depth * math.cos(math.pi * (1.0 - 2.0 * u) / 2.0)]
            )
        else:
            u = (ph - cfg.duty_factor) / (1.0 - cfg.duty_factor)
            offset = np.array(
                [*(half * ref_bezier(REF_X, u)), cfg.swing_height * ref_bezier(REF_Z_RAW, u) / REF_Z_PEAK]
            )
        out[i] = nominal + offset
    return out


_targets_jit = jax.jit(nominal_foot_targets, static_argnames=("config", "geometry"))


@pytest.mark.parametrize("gait", sorted(GAIT_PHASE_OFFSETS))
def test_matches_float64_numpy_reference(gait):
    rng = np.random.default_rng(10)
    cfg = dataclasses.replace(CFG, gait=gait, foot_y_offset=0.01)
    for _ in range(60):
        phase = rng.uniform(0.0, 1.0)
        command = rng.uniform([-1.0, -0.5, -1.5], [1.0, 0.5, 1.5])
        height = rng.uniform(0.22, 0.30)
        ours = _targets_jit(
            GaitState.create(phase), jnp.asarray(command, dtype=jnp.float32), config=cfg, body_height=height
        )
        np.testing.assert_allclose(np.asarray(ours), ref_foot_targets(phase, command, cfg, height), atol=2e-6)


def test_matches_reference_in_float64():
    rng = np.random.default_rng(11)
    with jax.enable_x64(True):
        for _ in range(20):
            phase, height = rng.uniform(), rng.uniform(0.22, 0.30)
            command = rng.uniform([-0.6, -0.3, -1.0], [0.6, 0.3, 1.0])
            ours = _targets_jit(
                GaitState.create(jnp.float64(phase)), jnp.asarray(command), config=CFG, body_height=height
            )
            assert ours.dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(ours), ref_foot_targets(phase, command, CFG, height), atol=1e-10)


# --------------------------------------------------------------------------------------------
# curve shape
# --------------------------------------------------------------------------------------------


def test_control_points_are_the_mit_cheetah_profile():
    np.testing.assert_allclose(SWING_X_POINTS, REF_X)
    np.testing.assert_allclose(np.asarray(SWING_Z_POINTS) * REF_Z_PEAK, REF_Z_RAW, rtol=1e-9)


def test_curve_endpoints_join_swing_and_stance():
    swing, stance = jax.jit(swing_profile), jax.jit(stance_profile)
    sx0, sz0 = swing(0.0)
    sx1, sz1 = swing(1.0)
    tx0, tz0 = stance(0.0)
    tx1, tz1 = stance(1.0)
    assert (float(sx0), float(sz0)) == pytest.approx((-1.0, 0.0), abs=1e-7)
    assert (float(sx1), float(sz1)) == pytest.approx((1.0, 0.0), abs=1e-7)
    assert (float(tx0), float(tz0)) == pytest.approx((1.0, 0.0), abs=1e-7)  # touch-down in front
    assert (float(tx1), float(tz1)) == pytest.approx((-1.0, 0.0), abs=1e-7)  # lift-off behind
    assert float(stance(0.5)[1]) == pytest.approx(-1.0)


@pytest.mark.parametrize("command", [[0.3, 0.0, 0.0], [-0.2, 0.1, 0.6], [0.0, 0.0, 0.0]])
def test_foot_position_continuous_across_swing_stance_boundaries(command):
    half = half_steps_from_command(jnp.asarray(command), CFG)[0]
    f = jax.jit(lambda ph: foot_offset(ph, half, CFG.duty_factor, CFG.swing_height, CFG.penetration_depth))
    eps = 1e-5
    for boundary in (CFG.duty_factor, 1.0):
        before = np.asarray(f(boundary - eps))
        after = np.asarray(f((boundary + eps) % 1.0))
        assert np.max(np.abs(before - after)) < 1e-3  # slope * 2 eps is ~1e-4 m
    # and over a dense sweep there is no jump anywhere
    phases = jnp.linspace(0.0, 1.0, 20001)[:-1]
    path = np.asarray(jax.vmap(f)(phases))
    steps = np.linalg.norm(np.diff(np.concatenate([path, path[:1]]), axis=0), axis=1)
    assert steps.max() < 2e-4


def test_clearance_reached_at_mid_swing():
    cfg = dataclasses.replace(CFG, swing_height=0.08)
    half = jnp.array([0.05, 0.0])
    u = jnp.linspace(0.0, 1.0, 4001)
    phases = cfg.duty_factor + u * (1.0 - cfg.duty_factor)
    offsets = jax.jit(
        jax.vmap(lambda ph: foot_offset(ph, half, cfg.duty_factor, cfg.swing_height, cfg.penetration_depth))
    )
    z = np.asarray(offsets(phases))[:, 2]
    assert z.max() == pytest.approx(0.08, abs=1e-6)
    assert 0.4 < float(u[np.argmax(z)]) < 0.7
    assert z[2000] > 0.95 * 0.08  # mid-swing
    assert np.all(z >= -1e-7)
    # stance never lifts and dips exactly penetration_depth at mid-stance
    stance = np.asarray(offsets(jnp.linspace(0.0, cfg.duty_factor, 1001, endpoint=False)))[:, 2]
    assert np.all(stance <= 1e-7)
    assert stance.min() == pytest.approx(-cfg.penetration_depth, abs=1e-6)


# --------------------------------------------------------------------------------------------
# velocity / step vector
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[0.3, 0.0, 0.0], [0.2, -0.1, 0.0], [0.1, 0.05, 0.8], [0.0, 0.0, -1.0]])
def test_stance_feet_move_backwards_at_commanded_speed(command):
    cmd = np.asarray(command)
    dt = 1e-3
    state = GaitState.create(0.1)
    g = DEFAULT_GEOMETRY
    for _ in range(20):
        f0 = np.asarray(_targets_jit(state, jnp.asarray(cmd), config=CFG))
        nxt = advance_gait(state, dt, CFG)
        f1 = np.asarray(_targets_jit(nxt, jnp.asarray(cmd), config=CFG))
        in_stance = np.asarray(stance_mask(state, CFG)) & np.asarray(stance_mask(nxt, CFG))
        for i in np.flatnonzero(in_stance):
            r = np.asarray(g.hip_offsets[i][:2]) + np.array([CFG.foot_x_offset, SIDE_SIGNS[i] * g.lateral_offset])
            v_body_point = np.array([cmd[0] - cmd[2] * r[1], cmd[1] + cmd[2] * r[0]])
            np.testing.assert_allclose((f1[i, :2] - f0[i, :2]) / dt, -v_body_point, atol=3e-3)
        state = advance_gait(state, 0.011, CFG)
    assert in_stance.any()


def test_yaw_command_turns_front_and_rear_feet_oppositely():
    half = np.asarray(half_steps_from_command(jnp.array([0.0, 0.0, 1.0]), CFG))
    # counter-clockwise yaw: omega x r points +y at the front legs and -y at the rear legs
    assert half[0, 1] > 0 and half[1, 1] > 0 and half[2, 1] < 0 and half[3, 1] < 0
    # right legs (y < 0) move forward, left legs backward (omega x r)
    assert half[0, 0] > 0 and half[2, 0] > 0 and half[1, 0] < 0 and half[3, 0] < 0


def test_step_length_is_capped():
    half = np.asarray(half_steps_from_command(jnp.array([50.0, -30.0, 10.0]), CFG))
    np.testing.assert_allclose(np.linalg.norm(half, axis=1), CFG.max_step_length / 2, rtol=1e-5)
    small = np.asarray(half_steps_from_command(jnp.array([0.3, 0.0, 0.0]), CFG))
    np.testing.assert_allclose(small, np.tile([0.3 * CFG.duty_factor * CFG.period / 2, 0.0], (4, 1)), atol=1e-7)
    grad = jax.jit(jax.grad(lambda c: jnp.sum(half_steps_from_command(c, CFG))))(jnp.array([50.0, 0.0, 0.0]))
    assert np.all(np.isfinite(np.asarray(grad)))


# --------------------------------------------------------------------------------------------
# timing / footfall patterns
# --------------------------------------------------------------------------------------------


def test_trot_pairs_in_phase_and_diagonals_half_a_period_apart():
    state = GaitState.create(0.0)
    cmd = jnp.array([0.3, 0.0, 0.0])
    for _ in range(50):
        ph = np.asarray(leg_phases(state, CFG))
        assert ph[0] == pytest.approx(ph[3])  # FR & RL together
        assert ph[1] == pytest.approx(ph[2])  # FL & RR together
        assert (ph[1] - ph[0]) % 1.0 == pytest.approx(0.5, abs=1e-6)
        feet = np.asarray(_targets_jit(state, cmd, config=CFG))
        np.testing.assert_allclose(feet[0, [0, 2]], feet[3, [0, 2]], atol=1e-6)
        np.testing.assert_allclose(feet[1, [0, 2]], feet[2, [0, 2]], atol=1e-6)
        contact = np.asarray(stance_mask(state, CFG))
        assert contact[0] == contact[3] and contact[1] == contact[2]
        assert contact.sum() >= 2  # duty > 0.5: never fewer than two feet planned on the ground
        state = advance_gait(state, 0.013, CFG)
    # half a period later the roles of the pairs are swapped
    a = np.asarray(_targets_jit(GaitState.create(0.2), cmd, config=CFG))
    b = np.asarray(_targets_jit(GaitState.create(0.2 + 0.5), cmd, config=CFG))
    np.testing.assert_allclose(a[0, [0, 2]], b[1, [0, 2]], atol=1e-6)


@pytest.mark.parametrize("gait,pairs", [("pace", ((0, 2), (1, 3))), ("bound", ((0, 1), (2, 3)))])
def test_pace_and_bound_pairs(gait, pairs):
    cfg = dataclasses.replace(CFG, gait=gait)
    ph = np.asarray(leg_phases(GaitState.create(0.3), cfg))
    (a, b), (c, d) = pairs
    assert ph[a] == pytest.approx(ph[b]) and ph[c] == pytest.approx(ph[d])
    assert (ph[c] - ph[a]) % 1.0 == pytest.approx(0.5)


def test_gait_clock_advances_and_wraps():
    s = GaitState.create(0.9)
    s = advance_gait(s, 0.1 * CFG.period, CFG)
    assert float(s.phase) == pytest.approx(0.0, abs=1e-6) or float(s.phase) == pytest.approx(1.0, abs=1e-6)
    s = advance_gait(GaitState.create(0.25), 0.02, CFG)
    assert float(s.phase) == pytest.approx(0.25 + 0.02 / CFG.period)
    assert float(GaitState.create(1.75).phase) == pytest.approx(0.75)
    batch = jax.vmap(lambda p: advance_gait(GaitState.create(p), 0.02, CFG))(jnp.linspace(0.0, 0.9, 7))
    assert batch.phase.shape == (7,)


def test_command_ramps_at_the_acceleration_limits():
    cfg = dataclasses.replace(CFG, max_acceleration=2.0, max_yaw_acceleration=4.0)
    s = GaitState.create(0.3)
    np.testing.assert_array_equal(np.asarray(s.command), 0.0)  # a new state stands
    target = jnp.asarray([-0.6, 0.01, 1.0])
    s = ramp_command(s, target, 0.02, cfg)
    np.testing.assert_allclose(np.asarray(s.command), [-0.04, 0.01, 0.08], atol=1e-7)  # 2 m/s^2, 4 rad/s^2 x 0.02 s
    for _ in range(10):
        s = ramp_command(s, target, 0.02, cfg)
    np.testing.assert_allclose(np.asarray(s.command), [-0.44, 0.01, 0.88], atol=1e-6)
    for _ in range(10):
        s = ramp_command(s, target, 0.02, cfg)
    np.testing.assert_allclose(np.asarray(s.command), [-0.6, 0.01, 1.0], atol=1e-6)
    assert float(s.phase) == pytest.approx(0.3)  # the clock is advance_gait's
    off = dataclasses.replace(CFG, max_acceleration=0.0, max_yaw_acceleration=0.0)
    np.testing.assert_allclose(np.asarray(ramp_command(GaitState.create(), target, 0.02, off).command), target)
    batch = jax.vmap(lambda c: ramp_command(GaitState.create(0.0), c, 0.02, cfg))(jnp.ones((5, 3)))
    assert batch.command.shape == (5, 3)


def test_body_height_moves_stance_line():
    pts = np.asarray(nominal_stance_points(CFG, body_height=0.25))
    np.testing.assert_allclose(pts[:, 2], -(0.25 - DEFAULT_GEOMETRY.foot_radius))
    np.testing.assert_allclose(pts[:, 1], np.asarray(SIDE_SIGNS) * 0.08)
    np.testing.assert_allclose(pts[:, 0], CFG.foot_x_offset)
    default = np.asarray(nominal_stance_points(CFG))
    np.testing.assert_allclose(default[:, 2], -(CFG.body_height - DEFAULT_GEOMETRY.foot_radius))


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------


def test_auto_sizes_derived_for_the_robot():
    # GaitConfig's defaults are configs/gait.yaml's values (tests/test_yaml_config.py)
    assert load_gait_config(os.path.join(REPO, "configs", "gait.yaml")).for_robot(DEFAULT_GEOMETRY) == CFG
    # 'auto' sizes for model/robot.xml's 0.42 m legs: the values tuned on it (0.27 / 0.07 / 0.30 m)
    assert (CFG.body_height, CFG.swing_height, CFG.max_step_length) == (0.27, 0.07, 0.3)
    assert hash(CFG) == hash(GaitConfig().for_robot(DEFAULT_GEOMETRY))


def test_yaml_validation(tmp_path):
    bad_key = tmp_path / "a.yaml"
    bad_key.write_text("period: 0.5\nstep_hieght: 0.1\n")
    with pytest.raises(ConfigError, match="step_hieght"):
        load_gait_config(bad_key)
    bad_range = tmp_path / "b.yaml"
    bad_range.write_text("duty_factor: 0.99\n")
    with pytest.raises(ConfigError, match="duty_factor"):
        load_gait_config(bad_range)
    bad_gait = tmp_path / "c.yaml"
    bad_gait.write_text("gait: gallop\n")
    with pytest.raises(ConfigError, match="gait"):
        load_gait_config(bad_gait)
    bad_cross = tmp_path / "d.yaml"
    bad_cross.write_text("swing_height: 0.01\npenetration_depth: 0.02\n")
    with pytest.raises(ConfigError, match="penetration_depth"):
        load_gait_config(bad_cross)
    section = tmp_path / "e.yaml"
    section.write_text("gait:\n  period: 0.45\n  gait: pace\n")
    cfg = load_gait_config(section, section="gait")
    assert cfg.period == 0.45 and cfg.gait == "pace" and cfg.duty_factor == CFG.duty_factor

"""Joystick commands: gait limits, the in-episode command schedule, stand-still, heading hold,
the gait-modulation action mode, and the nominal gait following lateral / yaw / zero commands.

Pure-logic tests run without physics; the twin test and the nominal-gait tests share one
Gymnasium env and one MJX env on flat ground (module fixtures) to keep compile time low.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evaluation.episode import episode_key, run_episode, zero_action
from gait.command_limits import check_command_ranges, command_foot_speed
from gait.gait_config import GaitConfig
from ik.leg_geometry import DEFAULT_GEOMETRY
from mjx_envs import episode_logic as logic
from mjx_envs.env_config import CommandRanges, EnvConfig, ObservationNoise, Pushes
from mjx_envs.gym_env import ResidualWalkEnv
from mjx_envs.residual_walk import MjxResidualWalk
from model.simulation_config import SimulationConfig
from model.yaml_config import ConfigError

GAIT = GaitConfig().for_robot(DEFAULT_GEOMETRY)  # the sizes derived for model/robot.xml


# ------------------------------------------------------------------------------ gait limits


def test_gait_limit_is_derived_from_the_gait_and_covers_the_joystick_box():
    assert GAIT.max_foot_speed == pytest.approx(GAIT.max_step_length / (GAIT.duty_factor * GAIT.period))
    c = CommandRanges()
    worst = check_command_ranges(c.vx, c.vy, c.yaw_rate, GAIT)
    assert worst == pytest.approx(1.289, abs=2e-3)  # the corner (1, -0.4, 1)
    assert worst <= GAIT.max_foot_speed
    # a pure yaw command moves the feet at |w| x |r|, r = nominal foot point in the body frame
    assert command_foot_speed((0.0, 0.0, 1.0), GAIT) == pytest.approx(np.hypot(0.22, 0.13), abs=1e-6)


def test_command_beyond_the_gait_is_refused_at_load():
    from train.config import load_train_config

    with pytest.raises(ConfigError) as err:
        load_train_config(preset="gpu", overrides=["env.command.vx=[-0.6, 1.5]"])
    msg = str(err.value)
    assert "env.command" in msg and "1.364 m/s" in msg and "max_step_length" in msg, msg
    # the same box is fine for a gait that can step longer
    load_train_config(preset="gpu", overrides=["env.command.vx=[-0.6, 1.5]", "gait.max_step_length=0.4"])
    # and the env refuses it too when built directly
    with pytest.raises(ConfigError, match="beyond what the gait can produce"):
        logic.make_context(SimulationConfig(), EnvConfig(command=CommandRanges(vx=(0.0, 1.5))), GAIT)


# ------------------------------------------------------------------------- command schedule


def _schedule(ctx, key, steps):
    """Commands of ``steps`` control steps of one episode, from the pure schedule logic (no physics)."""
    _, _, info = logic.sample_episode(ctx, key)

    def one(info, _):
        info = {**info, "step": info["step"] + 1}
        info = logic.update_command(ctx, info, jnp.zeros(()))
        return info, info["command"]

    _, cmds = jax.lax.scan(one, info, None, length=steps)
    return jnp.concatenate([info["command"][None], cmds])


def test_command_schedule_is_deterministic_redraws_in_its_interval_and_has_its_zero_share():
    ctx = logic.make_context(SimulationConfig(), EnvConfig(), GAIT)  # joystick defaults: 4-10 s, 10 % zero
    keys = jax.random.split(jax.random.PRNGKey(0), 256)
    sched = jax.jit(jax.vmap(lambda k: _schedule(ctx, k, 1500)))  # 30 s each
    cmds = np.asarray(sched(keys))
    np.testing.assert_array_equal(cmds, np.asarray(sched(keys)))  # same keys, same schedule
    changes = np.any(np.diff(cmds, axis=1) != 0, axis=2)  # (env, step)
    gaps = np.concatenate([np.diff(np.flatnonzero(np.r_[True, c])) for c in changes]) * ctx.sim.control_dt
    assert gaps[1:].min() >= 4.0 - 1e-6  # the first gap runs from reset
    n_draws = changes.sum(axis=1) + 1
    assert 3 <= n_draws.mean() <= 6, n_draws.mean()  # 30 s / U(4, 10) s: ~4.3 draws
    # the share of zero commands among the draws: 10 % configured
    firsts = [cmds[e, np.r_[0, np.flatnonzero(changes[e]) + 1]] for e in range(len(keys))]
    draws = np.concatenate(firsts)
    zero = np.all(draws == 0, axis=1).mean()
    assert 0.07 <= zero <= 0.13, (zero, len(draws))
    lo, hi = np.array([-0.6, -0.4, -1.0]), np.array([1.0, 0.4, 1.0])
    assert np.all(draws >= lo - 1e-6) and np.all(draws <= hi + 1e-6)


def test_resample_off_holds_the_command_and_heading_mode_steers_to_the_target():
    ctx = logic.make_context(SimulationConfig(), EnvConfig(command=CommandRanges(resample=False)), GAIT)
    cmds = np.asarray(jax.jit(lambda k: _schedule(ctx, k, 600))(jax.random.PRNGKey(3)))
    assert np.all(cmds == cmds[0])
    hctx = logic.make_context(
        SimulationConfig(),
        EnvConfig(command=CommandRanges(heading_probability=1.0, zero_probability=0.0, heading_gain=0.5)),
        GAIT,
    )
    _, _, info = logic.sample_episode(hctx, jax.random.PRNGKey(5))
    assert float(info["heading_mode"]) == 1.0
    for yaw in (0.0, 1.0, -2.5):
        out = logic.update_command(hctx, info, jnp.asarray(yaw))
        err = (float(info["target_heading"]) - yaw + np.pi) % (2 * np.pi) - np.pi
        assert float(out["command"][2]) == pytest.approx(np.clip(0.5 * err, -1.0, 1.0), abs=1e-5)


def test_zero_command_stops_the_gait_smoothly():
    """At zero command the stepping amplitude ramps to 0 in stand_transition (0.2 s) and every
    foot target sits at its stance point; a command ramps it back up."""
    from gait.bezier_gait import nominal_foot_targets, nominal_stance_points

    ctrl = logic.make_context(SimulationConfig(), EnvConfig(), GAIT).controller
    state = ctrl.init_state(0.3)
    activity = []
    for k in range(20):
        state = ctrl.advance(state, 0.02, jnp.zeros(3))
        activity.append(float(state.activity))
    assert activity[4] == pytest.approx(0.5, abs=1e-5) and activity[9] == 0.0
    np.testing.assert_allclose(np.diff(activity)[:9], -0.1, atol=1e-6)  # linear ramp, no jump
    feet = nominal_foot_targets(state, jnp.zeros(3), GAIT)
    np.testing.assert_allclose(np.asarray(feet), np.asarray(nominal_stance_points(GAIT)), atol=1e-7)
    for _ in range(10):
        state = ctrl.advance(state, 0.02, jnp.array([0.3, 0.0, 0.0]))
    assert float(state.activity) == 1.0
    # stand_still off: the gait steps in place
    off = dataclasses.replace(GAIT, stand_still=False)
    assert float(logic.stepping_target(jnp.zeros(3), off)) == 1.0


def test_modulated_mode_with_zero_action_is_the_nominal_gait_exactly():
    res = logic.make_context(SimulationConfig(), EnvConfig(), GAIT)
    mod = logic.make_context(SimulationConfig(), EnvConfig(action_mode="modulated"), GAIT)
    assert mod.action_size == 15 and mod.observation_size == res.observation_size + 3
    _, _, info_r = logic.sample_episode(res, jax.random.PRNGKey(2))
    _, _, info_m = logic.sample_episode(mod, jax.random.PRNGKey(2))

    @jax.jit
    def run(info_r, info_m):
        def one(carry, _):
            ir, im = carry
            cr, _, ir, _ = logic.action_to_ctrl(res, jnp.zeros(12), ir)
            cm, _, im, _ = logic.action_to_ctrl(mod, jnp.zeros(15), im)
            fr = logic.modulation_scales(res, ir["modulation"])[0]
            fm = logic.modulation_scales(mod, im["modulation"])[0]
            ir = {**ir, "gait": res.controller.advance(ir["gait"], 0.02, ir["command"], fr)}
            im = {**im, "gait": mod.controller.advance(im["gait"], 0.02, im["command"], fm)}
            return (ir, im), (cr, cm)

        return jax.lax.scan(one, (info_r, info_m), None, length=100)[1]

    cr, cm = run(info_r, info_m)
    np.testing.assert_array_equal(np.asarray(cr), np.asarray(cm))
    # a non-zero modulation action changes the gait, within its bounds
    act = jnp.zeros(15).at[12:].set(1.0)
    _, _, im, _ = logic.action_to_ctrl(mod, act, info_m)
    f, s, h = (float(v) for v in logic.modulation_scales(mod, im["modulation"]))
    m = mod.env.modulation
    assert f == pytest.approx(1 + m.filter * m.frequency) and s == pytest.approx(1 + m.filter * m.swing_height)
    assert h == pytest.approx(GAIT.body_height + m.filter * m.body_height)


# -------------------------------------------------------------------- both twins, real physics

FAST_SCHEDULE = EnvConfig(
    command=CommandRanges(resample_interval=(0.1, 0.3), zero_probability=0.3, heading_probability=0.3),
    pushes=Pushes(enabled=True, interval=(0.2, 0.4)),
    observation_noise=ObservationNoise(enabled=True),
    action_latency=True,
)


@pytest.fixture(scope="module")
def twins():
    return MjxResidualWalk(env=FAST_SCHEDULE), ResidualWalkEnv(env=FAST_SCHEDULE, metrics=True)


def test_both_twins_run_the_same_command_schedule_pushes_and_noise(twins):
    """Same key -> the same command re-draws, kicks and sensor noise in MJX and C MuJoCo (the same
    functions); observations stay within the flat-ground parity tolerance (2e-3 without all this;
    seen 1.1e-3 with it)."""
    mjx_env, gym_env = twins
    key = jax.random.PRNGKey(21)
    s = jax.jit(mjx_env.reset)(key)
    o, _ = gym_env.reset(options={"key": key})
    step = jax.jit(mjx_env.step)
    a = np.random.default_rng(0).uniform(-0.5, 0.5, (40, 12)).astype(np.float32)
    n_changes = kicks = 0
    prev = np.asarray(s.info["command"])
    for t in range(40):
        s = step(s, jnp.asarray(a[t]))
        o, _, term, _, info = gym_env.step(a[t])
        np.testing.assert_array_equal(np.asarray(s.info["command"]), np.asarray(gym_env.episode_info["command"]))
        assert float(s.metrics["push/kicks"]) == info["metrics"]["push/kicks"]
        kicks += info["metrics"]["push/kicks"]
        n_changes += int(np.any(np.asarray(s.info["command"]) != prev))
        prev = np.asarray(s.info["command"])
        assert np.abs(np.asarray(s.obs) - o).max() < 5e-3, (t, np.abs(np.asarray(s.obs) - o).max())
    assert n_changes >= 3 and kicks >= 2, (n_changes, kicks)


@pytest.fixture(scope="module")
def nominal_env():
    env = EnvConfig(
        command=CommandRanges(resample=False),
        randomization=dataclasses.replace(EnvConfig().randomization, joint_noise=0.0, heading_noise=0.0),
    )
    return ResidualWalkEnv(env=env)


def _run(env, command, seconds, index=0):
    return run_episode(
        env, zero_action(), int(round(seconds / env.ctx.sim.control_dt)), episode_key(7, index), command=command
    )


def test_nominal_gait_tracks_lateral_and_yaw_commands(nominal_env):
    """vy = 0.2 m/s -> mean lateral speed within 25 % (seen 0.205-0.212 m/s); yaw 0.6 rad/s ->
    mean yaw rate within 25 % (seen 0.59-0.64 rad/s)."""
    rec = _run(nominal_env, (0.0, 0.2, 0.0), 4.0)
    assert not rec.terminated
    half = rec.steps // 4  # skip the first second (start-up)
    vy = np.mean(np.diff(rec.trunk_pos[half:, 1])) / rec.dt  # heading 0: world y = body y
    assert vy == pytest.approx(0.2, rel=0.25), vy
    rec = _run(nominal_env, (0.0, 0.0, 0.6), 4.0, 1)
    from evaluation.episode_metrics import trunk_yaw

    yaw = np.unwrap(trunk_yaw(rec.trunk_quat[half:]))
    rate = (yaw[-1] - yaw[0]) / ((len(yaw) - 1) * rec.dt)
    assert rate == pytest.approx(0.6, rel=0.25), rate


def test_nominal_gait_stands_still_at_zero_command(nominal_env):
    """Zero command: the gait stops stepping; the trunk drifts < 5 cm in 5 s (seen 0.4 mm)."""
    for i in range(2):
        rec = _run(nominal_env, (0.0, 0.0, 0.0), 5.0, i)
        assert not rec.terminated
        drift = float(np.linalg.norm(rec.trunk_pos[-1, :2] - rec.trunk_pos[0, :2]))
        assert drift < 0.05, drift
        assert float(np.max(rec.metric("gait/activity"))) == 0.0

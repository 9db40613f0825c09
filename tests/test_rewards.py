"""The reward pays for walking (mjx_envs/rewards.py, EnvConfig.reward_weights).

"Per-step reward" compared here: ``compute_reward`` (the sum of *all* weighted terms, as the env
pays it each control step) for two robots under the same command, with every penalty input at
zero (upright, no contacts of the body, no saturation, no slip, no power, no action change):

* perfect tracking: body velocity = command (vx, vy) and yaw rate = command;
* standing still: body velocity 0 and yaw rate 0.

So the positive terms that standing still also earns -- ``alive`` and the yaw-tracking term
under a zero/small yaw command -- count toward standing. The penalties a real gait pays (energy,
foot slip, ...) are *not* charged to the walker here (that favours walking); the simulated
comparison with the nominal gait, penalties included, is in docs/residual_learning.md (standing
earns <= 24.6 % of what the untrained nominal gait earns at 0.2-0.8 m/s).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mjx_envs import rewards as R
from mjx_envs.env_config import CommandRanges, EnvConfig, RewardWeights

WEIGHTS = EnvConfig().reward_weights
# the joystick task's command ranges (EnvConfig().command) and the CPU presets' forward-only ones
RANGES = {
    "joystick": dict(vx=CommandRanges().vx, vy=CommandRanges().vy, yaw_rate=CommandRanges().yaw_rate),
    "forward": dict(vx=(0.2, 0.5), vy=(0.0, 0.0), yaw_rate=(-0.3, 0.3)),
}
MIN_SPEED = 0.2  # m/s: the requirement holds for every command with |(vx, vy)| >= this


def _inputs(lin_vel, yaw_rate, command):
    return R.RewardInputs(
        lin_vel=jnp.array([lin_vel[0], lin_vel[1], 0.0]),
        ang_vel=jnp.array([0.0, 0.0, yaw_rate]),
        command=jnp.asarray(command, jnp.float32),
        gravity=jnp.array([0.0, 0.0, -1.0]),
        joint_vel=jnp.zeros(12),
        actuator_force=jnp.zeros(12),
        foot_contact=jnp.zeros(4, bool),
        foot_vel=jnp.zeros((4, 3)),
        body_contacts=jnp.zeros(()),
        joints_near_limit=jnp.zeros(()),
        actuators_saturated=jnp.zeros(()),
        ik_saturated=jnp.zeros(()),
        action=jnp.zeros(12),
        last_action=jnp.zeros(12),
        torque_excess=jnp.zeros(12),
    )


@jax.jit
def _rewards(command):
    stand, _ = R.compute_reward(_inputs(jnp.zeros(2), 0.0, command), WEIGHTS)
    perfect, _ = R.compute_reward(_inputs(command[:2], command[2], command), WEIGHTS)
    _, no_yaw = R.compute_reward(_inputs(command[:2], 0.0, command), WEIGHTS)
    return stand, perfect, no_yaw["tracking_yaw_rate"]


def _grid(r, n=17):
    vx = np.linspace(*r["vx"], n)
    vy = np.linspace(*r["vy"], 9) if r["vy"][0] < r["vy"][1] else np.array([r["vy"][0]])
    yaw = np.unique(np.concatenate([np.linspace(*r["yaw_rate"], 21), [0.0]]))
    yaw = yaw[(yaw >= r["yaw_rate"][0]) & (yaw <= r["yaw_rate"][1])]
    return [np.array(c, np.float32) for c in itertools.product(vx, vy, yaw)]


@pytest.mark.parametrize("which", sorted(RANGES))
def test_standing_still_earns_at_most_a_quarter_of_walking(which):
    ratios = []
    for cmd in _grid(RANGES[which]):
        if np.hypot(cmd[0], cmd[1]) < MIN_SPEED:
            continue
        stand, perfect, _ = (float(v) for v in _rewards(jnp.asarray(cmd)))
        assert perfect > 0
        ratios.append((stand / perfect, tuple(np.round(cmd, 3))))
    worst = max(ratios)
    print(which, "commands", len(ratios), "worst standing / perfect", worst)
    assert len(ratios) > 50
    assert worst[0] <= 0.25, worst


@pytest.mark.parametrize("which", sorted(RANGES))
def test_ignoring_a_yaw_command_costs_half_the_yaw_term(which):
    checked = 0
    for cmd in _grid(RANGES[which]):
        if abs(cmd[2]) < 0.5 - 1e-6:
            continue
        _, _, yaw_term = (float(v) for v in _rewards(jnp.asarray(cmd)))
        assert yaw_term <= 0.5 * WEIGHTS.tracking_yaw_rate, (cmd, yaw_term)
        checked += 1
    if which == "forward":  # the forward task's yaw commands stay within +-0.3 rad/s: nothing to check
        assert checked == 0
    else:
        assert checked > 50


def test_tracking_kernels_peak_at_the_command_and_stay_finite():
    for cmd in ([0.0, 0.0, 0.0], [0.05, 0.0, 0.0], [1.0, -0.4, 1.0], [-0.6, 0.4, -1.0]):
        cmd = jnp.asarray(cmd, jnp.float32)
        x = _inputs(cmd[:2], cmd[2], cmd)
        assert float(R.reward_tracking_lin_vel(x)) == pytest.approx(1.0)
        assert float(R.reward_tracking_yaw_rate(x)) == pytest.approx(1.0)
        off = _inputs(cmd[:2] + 0.05, cmd[2] + 0.1, cmd)
        lin, yaw = float(R.reward_tracking_lin_vel(off)), float(R.reward_tracking_yaw_rate(off))
        assert 0.0 < lin < 1.0 and 0.0 < yaw < 1.0
    # the kernel is relative: 25 % speed error earns the same at 0.3 and at 1.0 m/s
    a = R.reward_tracking_lin_vel(_inputs(jnp.array([0.225, 0.0]), 0.0, jnp.array([0.3, 0.0, 0.0])))
    b = R.reward_tracking_lin_vel(_inputs(jnp.array([0.75, 0.0]), 0.0, jnp.array([1.0, 0.0, 0.0])))
    assert float(a) == pytest.approx(float(b), rel=1e-5) and float(a) == pytest.approx(np.exp(-0.25), rel=1e-5)


def test_default_weights_match_the_yaml():
    from mjx_envs.env_config import load_env_config

    assert load_env_config().reward_weights == RewardWeights()


def test_torque_headroom_counts_torque_beyond_the_soft_fraction_of_the_randomised_limit():
    """0 below the soft fraction, 1 per servo at its limit (quadratic in between); the limit is the
    episode's randomised one. In a real episode the nominal gait under a fast turning command with
    its motors at 85 % strength drives its hips to the limit, and the term sees it."""
    from mjx_envs.safety_limits import torque_excess

    limit = jnp.full(12, 20.0)
    force = jnp.array([0.0, 10.0, 17.0, 18.5, 20.0, -20.0, 23.0, 0, 0, 0, 0, 0])
    excess = np.asarray(torque_excess(force, limit, 0.85))
    assert np.allclose(excess[:7], [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0], atol=1e-5)
    x = _inputs(jnp.zeros(2), 0.0, jnp.zeros(3)).replace(torque_excess=jnp.asarray(excess))
    assert float(R.reward_torque_headroom(x)) == pytest.approx(0.25 + 1 + 1 + 4)
    assert EnvConfig().reward_weights.torque_headroom == 0.0  # logged; a retrained task sets its weight

    import dataclasses

    from mjx_envs.env_config import DomainRandomization, RandomRange
    from mjx_envs.gym_env import ResidualWalkEnv

    weak = DomainRandomization(motor_strength=RandomRange(enabled=True, range=(0.85, 0.85)))
    cfg = EnvConfig(
        command=CommandRanges(vx=(1.0, 1.0), vy=(0.0, 0.0), yaw_rate=(1.0, 1.0), zero_probability=0.0, resample=False),
        domain_randomization=weak,
        reward_weights=dataclasses.replace(WEIGHTS, torque_headroom=-1.0),
    )
    env = ResidualWalkEnv(env=cfg, world="flat", metrics=True)
    env.reset(seed=0)
    paid = [env.step(np.zeros(12, np.float32))[4]["metrics"]["reward/torque_headroom"] for _ in range(100)]
    assert min(paid) < 0.0 and max(paid) == 0.0  # paid on some steps, never a bonus

"""Robustness settings: each domain-randomisation switch changes what it should and nothing else,
deterministically per key, in the MJX model and the C-MuJoCo model alike; pushes, sensor noise,
action latency; the pre-issue-13 randomisation keys still load."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.env_config import DomainRandomization, EnvConfig, ObservationNoise, RandomRange
from mjx_envs.observation import NOISY_CHANNELS, noise_half_widths, observation_layout
from model.simulation_config import SimulationConfig
from model.yaml_config import from_dict

EXPECTED_FIELDS = {
    "friction": {"geom_friction"},
    "trunk_mass": {"body_mass"},
    "com_offset": {"body_ipos"},
    "link_mass": {"body_mass", "body_inertia"},
    "motor_strength": {"actuator_forcerange"},
    "kp": {"actuator_gainprm", "actuator_biasprm"},
    "kv": {"actuator_biasprm"},
}


def _only(name: str) -> EnvConfig:
    d = DomainRandomization()
    return EnvConfig(
        domain_randomization=dataclasses.replace(d, **{name: dataclasses.replace(getattr(d, name), enabled=True)})
    )


@pytest.fixture(scope="module")
def base_model():
    return logic.make_context(SimulationConfig(), EnvConfig(), GaitConfig()).mj_model


@pytest.mark.parametrize("name", logic.DR_NAMES)
def test_each_switch_changes_only_its_fields_deterministically(name, base_model):
    ctx = logic.make_context(SimulationConfig(), _only(name), GaitConfig(), base_model)
    base = {k: np.array(getattr(base_model, k)) for k in logic.DR_FIELDS}
    draw = jax.jit(lambda key: logic.draw_domain(ctx, key))
    fields = lambda key: logic.randomized_model_fields(  # noqa: E731  the C twin's float64 path
        ctx, base, {k: np.asarray(v, np.float64) for k, v in draw(key).items()}, xp=np
    )
    a, a2, b = fields(jax.random.PRNGKey(1)), fields(jax.random.PRNGKey(1)), fields(jax.random.PRNGKey(2))
    changed = {k for k in logic.DR_FIELDS if not np.array_equal(np.asarray(a[k]), base[k])}
    assert changed == EXPECTED_FIELDS[name], (name, changed)
    for k in logic.DR_FIELDS:
        np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(a2[k]))  # same key, same draw
    assert any(not np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in changed)  # other key, other draw
    lo, hi = getattr(DomainRandomization(), name).range
    draw = np.asarray(logic.draw_domain(ctx, jax.random.PRNGKey(1))[name])
    if name == "link_mass":
        draw = np.delete(draw, [0, ctx.trunk_body])
    assert np.all(draw >= lo) and np.all(draw <= hi)


def test_switched_off_draws_leave_the_model_bit_for_bit(base_model):
    ctx = logic.make_context(SimulationConfig(), EnvConfig(), GaitConfig(), base_model)
    base = {k: np.array(getattr(base_model, k)) for k in logic.DR_FIELDS}
    dr = logic.draw_domain(ctx, jax.random.PRNGKey(0))
    out = logic.randomized_model_fields(ctx, base, {k: np.asarray(v, np.float64) for k, v in dr.items()}, xp=np)
    for k in logic.DR_FIELDS:  # float64 (C twin)
        assert out[k].dtype == np.float64
        np.testing.assert_array_equal(out[k], base[k])
    base32 = {k: jnp.asarray(v, jnp.float32) for k, v in base.items()}
    out = logic.randomized_model_fields(ctx, base32, dr)
    for k in logic.DR_FIELDS:  # float32 (MJX)
        np.testing.assert_array_equal(np.asarray(out[k]), np.asarray(base32[k]))


def test_mjx_and_c_mujoco_models_get_the_same_draw():
    from mjx_envs.gym_env import ResidualWalkEnv
    from mjx_envs.residual_walk import MjxResidualWalk

    d = DomainRandomization()
    cfg = EnvConfig(
        domain_randomization=DomainRandomization(
            **{n: dataclasses.replace(getattr(d, n), enabled=True) for n in logic.DR_NAMES}
        )
    )
    mjx_env, gym_env = MjxResidualWalk(env=cfg), ResidualWalkEnv(env=cfg)
    key = jax.random.PRNGKey(4)
    state = jax.jit(mjx_env.reset)(key)
    gym_env.reset(options={"key": key})
    model = mjx_env._model(state.info)
    for k in logic.DR_FIELDS:
        np.testing.assert_allclose(np.asarray(getattr(model, k)), getattr(gym_env.model, k), rtol=1e-6, atol=1e-7)
        assert not np.array_equal(getattr(gym_env.model, k), gym_env._dr_base[k]), k
    gym_env.close()


def test_observation_noise_touches_only_sensor_channels_within_bounds():
    noise = ObservationNoise(enabled=True)
    half = noise_half_widths(noise)
    for c in observation_layout():
        part = half[c["start"] : c["stop"]]
        if c["name"] in NOISY_CHANNELS:
            assert np.allclose(part, getattr(noise, c["name"]) * c["scale"]) and part.min() > 0
        else:
            assert np.all(part == 0), c["name"]
    ctx = logic.make_context(SimulationConfig(), EnvConfig(observation_noise=noise), GaitConfig())
    clean_ctx = logic.make_context(SimulationConfig(), EnvConfig(), GaitConfig())
    meas = _still_measurements()
    _, _, info = logic.sample_episode(ctx, jax.random.PRNGKey(0))
    noisy, again = logic.observe(ctx, meas, info), logic.observe(ctx, meas, info)
    clean = logic.observe(clean_ctx, meas, info)
    diff = np.asarray(noisy - clean)
    np.testing.assert_array_equal(np.asarray(noisy), np.asarray(again))  # same rng -> same noise
    assert np.all(np.abs(diff) <= half + 1e-6) and np.all((diff != 0) == (half > 0))
    other = logic.observe(ctx, meas, {**info, "rng": jax.random.PRNGKey(9)})
    assert not np.array_equal(np.asarray(other), np.asarray(noisy))


def _still_measurements():
    """Measurements of a robot at rest, upright (every field zero but the orientation)."""
    from mjx_envs.measurements import Measurements

    shapes = dict(
        qpos=(19,),
        qvel=(18,),
        trunk_pos=(3,),
        trunk_quat=(4,),
        lin_vel=(3,),
        ang_vel=(3,),
        global_lin_vel=(3,),
        joint_pos=(12,),
        joint_vel=(12,),
        foot_force=(4,),
        foot_pos=(4, 3),
        foot_vel=(4, 3),
        body_contact_force=(9,),
        actuator_force=(12,),
        body_probe_pos=(12, 3),
    )
    meas = Measurements(**{k: jnp.zeros(v) for k, v in shapes.items()})
    return meas.replace(trunk_quat=jnp.array([1.0, 0.0, 0.0, 0.0]))


def test_action_latency_delays_the_action_by_one_step():
    ctx = logic.make_context(SimulationConfig(), EnvConfig(action_latency=True), GaitConfig())
    now = logic.make_context(SimulationConfig(), EnvConfig(), GaitConfig())
    _, _, info = logic.sample_episode(ctx, jax.random.PRNGKey(1))
    a1 = jnp.full(12, 0.5)
    c_late, _, info_late, _ = logic.action_to_ctrl(ctx, a1, info)
    c_zero, _, _, _ = logic.action_to_ctrl(now, jnp.zeros(12), info)
    c_now, _, _, _ = logic.action_to_ctrl(now, a1, info)
    np.testing.assert_array_equal(np.asarray(c_late), np.asarray(c_zero))  # step 1 runs the pending zero
    c_late2, _, _, _ = logic.action_to_ctrl(ctx, jnp.zeros(12), info_late)
    np.testing.assert_array_equal(np.asarray(c_late2), np.asarray(c_now))  # step 2 runs step 1's action


def test_legacy_randomization_keys_still_load():
    old = {
        "randomization": {
            "joint_noise": 0.1,
            "heading_noise": 0.3,
            "random_gait_phase": True,
            "push_interval": [4.0, 8.0],
            "push_velocity": 0.5,
            "domain_randomization": True,
            "friction_scale": [0.7, 1.1],
            "trunk_mass_delta": [-0.5, 1.5],
            "motor_strength": [0.9, 1.1],
        }
    }
    cfg = from_dict(EnvConfig, old, where="old.yaml")
    assert cfg.pushes.enabled and cfg.pushes.interval == (4.0, 8.0)
    assert cfg.domain_randomization.friction == RandomRange(True, (0.7, 1.1))
    assert cfg.domain_randomization.motor_strength.enabled and not cfg.domain_randomization.kv.enabled
    old["command"] = {"vx": [0.2, 0.5], "vy": [0.0, 0.0], "yaw_rate": [-0.3, 0.3]}
    cmd = from_dict(EnvConfig, old, where="old.yaml").command
    assert not cmd.resample and cmd.zero_probability == 0.0  # the old meaning: one command per episode
    off = {"randomization": {"push_velocity": 0.0, "domain_randomization": False, "friction_scale": [0.6, 1.25]}}
    cfg = from_dict(EnvConfig, off, where="old.yaml")
    assert not cfg.pushes.enabled and not cfg.domain_randomization.any_enabled


def test_gpu_preset_turns_robustness_on():
    from train.config import load_train_config

    env = load_train_config(preset="gpu").env
    d = env.domain_randomization
    assert all(getattr(d, n).enabled for n in logic.DR_NAMES)
    assert env.pushes.enabled and env.observation_noise.enabled
    assert d.friction.range == DomainRandomization().friction.range  # partial YAML keeps each default range
    small = load_train_config(preset="cpu_small").env
    assert not small.domain_randomization.any_enabled and not small.pushes.enabled

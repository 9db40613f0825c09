"""gait/footholds.py: where the gait's swing feet land on a height map (``gait.footholds``).

Synthetic height maps (a gap across the path, a step, flat ground) check the planner's choices;
one C-MuJoCo episode on the held-out suite's stepping stones checks the effect on the robot.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gait.bezier_gait import GaitState, half_steps_from_command, nominal_feet_in_body, swing_profile
from gait.controller import BezierController
from gait.footholds import (
    FootholdState,
    foothold_offsets,
    initial_footholds,
    plan_footholds,
    predicted_touchdowns,
    steered_command,
)
from gait.gait_config import GaitConfig, with_footholds
from model.yaml_config import ConfigError, from_dict, to_dict

CTRL = BezierController(config=with_footholds(GaitConfig()))
GAIT, GEOM = CTRL.config, CTRL.geometry
FH = GAIT.footholds
COMMAND = jnp.asarray([0.4, 0.0, 0.0])
HALF = half_steps_from_command(COMMAND, GAIT, GEOM)
SWING = GAIT.swing_duration


def flat(x, y):
    return jnp.zeros_like(x)


def plan(height_fn, lifting=(True, True, True, True), state=None, gait=GAIT):
    """Footholds planned for a trunk at the origin facing +x, every leg at the start of its swing."""
    state = state if state is not None else initial_footholds(jnp.zeros(2), jnp.zeros(()), gait, GEOM, height_fn)
    lift = jnp.asarray(lifting)
    return plan_footholds(
        state, lift, jnp.full((4,), SWING), jnp.zeros(2), jnp.zeros(()), HALF, COMMAND, gait, GEOM, height_fn
    )


def nominal_touchdowns():
    return np.asarray(predicted_touchdowns(HALF, COMMAND, jnp.full((4,), SWING), GAIT, GEOM))


def test_flat_ground_changes_nothing():
    out = plan(flat)
    np.testing.assert_array_equal(np.asarray(out.shift), 0.0)
    np.testing.assert_array_equal(np.asarray(out.ground), 0.0)
    np.testing.assert_array_equal(np.asarray(out.extra_clearance), 0.0)
    np.testing.assert_allclose(np.asarray(out.target), nominal_touchdowns(), atol=1e-6)
    # a zero foothold state adds nothing to the gait's targets: the plain gait, bit for bit
    zero = initial_footholds(jnp.zeros(2), jnp.zeros(()), GAIT, GEOM, flat)
    for phase in (0.0, 0.3, 0.6, 0.9):
        gs = GaitState.create(phase)
        plain = CTRL.joint_targets(gs, COMMAND).joint_targets
        with_fh = CTRL.joint_targets(gs, COMMAND, footholds=zero).joint_targets
        np.testing.assert_array_equal(np.asarray(plain), np.asarray(with_fh))


def test_a_gap_under_the_touchdown_moves_it_onto_safe_ground():
    td = nominal_touchdowns()
    gap_start, gap_end = td[0, 0] - 0.03, td[0, 0] + 0.07  # a 0.10 m gap, 0.3 m deep, under FR's touchdown

    def gap(x, y):
        return jnp.where((x > gap_start) & (x < gap_end), -0.3, 0.0)

    out = plan(gap)
    shift = np.asarray(out.shift)
    landing = np.asarray(out.target)
    # every foot whose nominal touchdown lay within edge_radius of the gap lands clear of it
    for leg in range(4):
        x = landing[leg, 0]
        clear = min(abs(x - gap_start), abs(x - gap_end))
        assert not gap_start < x < gap_end and clear >= FH.edge_radius - 1e-6, (leg, x)
    # FR (in the gap) moved backwards, the least distance (the gap's far side is farther), not sideways
    assert shift[0, 0] < 0 and shift[0, 1] == 0.0
    assert abs(landing[0, 0] - (gap_start - FH.edge_radius)) <= FH.resolution + 1e-6
    np.testing.assert_array_equal(np.asarray(out.ground), 0.0)
    # the swing path crosses no raised ground: the nominal swing height is enough
    np.testing.assert_array_equal(np.asarray(out.extra_clearance), 0.0)


def test_a_lengthwise_trench_under_the_right_feet_steers_the_trunk_left():
    """A trench along the heading, 0.15 m wide under the right feet (y = -0.13 m): the cheapest
    sideways offset of the whole trunk clears it by ``edge_radius`` on the near (left) side, and the
    gait steps to the command plus ``offset / steer_time`` sideways (capped at ``steer_speed``)."""
    right_y = float(nominal_feet_in_body(GAIT, GEOM)[0, 1])
    lo, hi = right_y - 0.075, right_y + 0.075

    def trench(x, y):
        return jnp.where((y > lo) & (y < hi), -0.3, 0.0)

    offset = hi + FH.edge_radius - right_y  # the right feet just clear the trench's left rim
    offset = FH.resolution * np.ceil(offset / FH.resolution - 1e-6)  # on the grid of offsets
    uncapped = dataclasses.replace(GAIT, footholds=dataclasses.replace(FH, steer_speed=1.0))
    np.testing.assert_allclose(np.asarray(plan(trench, gait=uncapped).steer), [0.0, offset / FH.steer_time], atol=1e-6)
    out = plan(trench)  # the default caps the speed
    expected = min(offset / FH.steer_time, FH.steer_speed)
    np.testing.assert_allclose(np.asarray(out.steer), [0.0, expected], atol=1e-6)
    command = np.asarray(steered_command(COMMAND, out))
    np.testing.assert_allclose(command, [0.4, expected, 0.0], atol=1e-6)
    # flat ground: no steering; a leg that does not lift keeps the last steering
    assert not np.any(np.asarray(plan(flat).steer))
    held = plan(flat, lifting=(False,) * 4, state=out)
    np.testing.assert_array_equal(np.asarray(held.steer), np.asarray(out.steer))


def test_a_step_on_the_path_raises_the_swing_and_the_stance_follows_the_ground():
    td = nominal_touchdowns()
    edge = td[0, 0] - 0.12  # a 0.12 m high step between FR's lift-off and its touchdown

    def step(x, y):
        return jnp.where(x > edge, 0.12, 0.0)

    before = initial_footholds(jnp.zeros(2), jnp.zeros(()), GAIT, GEOM, flat)  # FR stands below the step
    out = plan(step, lifting=(True, False, False, False), state=before)
    ground, extra = np.asarray(out.ground), np.asarray(out.extra_clearance)
    assert ground[0] == pytest.approx(0.12, abs=1e-6)  # lands on top of the step
    assert ground[1:].tolist() == [0.0, 0.0, 0.0]  # the others did not lift: unchanged
    # at each checked point of the swing path the foot is swing_margin above the ground under it:
    # base line (smoothstep from 0 to 0.12) + (swing_height + extra) x the unit swing height
    assert extra[0] > 0.0
    lift_x = float(nominal_feet_in_body(GAIT, GEOM)[0, 0] - HALF[0, 0])
    land_x = float(out.target[0, 0])
    for u in (np.arange(FH.path_samples) + 1.0) / (FH.path_samples + 1.0):
        sx, sz = (float(v) for v in swing_profile(u))
        x = lift_x + (sx + 1.0) / 2.0 * (land_x - lift_x)
        base = 0.12 * u * u * (3.0 - 2.0 * u)
        foot = base + (GAIT.swing_height + extra[0]) * sz
        assert foot >= float(step(x, 0.0)) + FH.swing_margin - 1e-5 or float(step(x, 0.0)) - base <= 0.01, u
    assert extra[1:].tolist() == [0.0, 0.0, 0.0]
    # in stance, FR's height target is 0.12 m above the others' less the mean: the stance follows the ground
    z = np.asarray(foothold_offsets(out, jnp.asarray([0.1, 0.1, 0.1, 0.1]), GAIT.duty_factor))[:, 2]
    np.testing.assert_allclose(z, np.array([0.12, 0.0, 0.0, 0.0]) - 0.03, atol=1e-6)
    # mid-swing the foot blends from the old ground to the new one and adds the extra apex height
    mid = np.asarray(foothold_offsets(out, jnp.asarray([0.775, 0.1, 0.1, 0.1]), GAIT.duty_factor))
    assert mid[0, 2] > 0.5 * extra[0]


def test_the_planner_jits_and_vmaps_over_environments():
    batched = jax.jit(
        jax.vmap(
            lambda xy: plan_footholds(
                initial_footholds(xy, jnp.zeros(()), GAIT, GEOM, flat),
                jnp.ones(4, bool),
                jnp.full((4,), SWING),
                xy,
                jnp.zeros(()),
                HALF,
                COMMAND,
                GAIT,
                GEOM,
                flat,
            )
        )
    )
    out = batched(jnp.asarray([[0.0, 0.0], [1.0, 2.0]]))
    assert isinstance(out, FootholdState) and out.shift.shape == (2, 4, 2)
    np.testing.assert_allclose(np.asarray(out.target[1] - out.target[0]), np.tile([1.0, 2.0], (4, 1)), atol=1e-5)


def test_foothold_config_errors_name_the_key():
    data = to_dict(GaitConfig())
    data["footholds"] = {**data["footholds"], "resolution": 0.005}
    with pytest.raises(ConfigError, match="footholds.resolution"):
        from_dict(GaitConfig, data)
    data["footholds"] = {**data["footholds"], "resolution": 0.03, "window_x": 0.5}
    with pytest.raises(ConfigError, match="window_x"):
        from_dict(GaitConfig, data)


def test_the_foothold_gait_crosses_stepping_stones_where_the_plain_gait_falls():
    """The held-out suite (seed 1000), stepping stones level 2 (0.10 m gaps across the path, 0.2 m
    trenches along it), 0.4 m/s ahead for 8 s, zero residual: the plain gait falls; the footholds
    without steering fall later; with steering the gait walks on (docs/gait_ik.md "Footholds")."""
    from evaluation.episode import episode_key, run_episode, zero_action
    from mjx_envs.policy_env import default_configs, make_env, with_world
    from model.terrain.suite import TERRAIN_TYPES

    configs = with_world(default_configs(), "suite", 1000)
    stones = TERRAIN_TYPES.index("stepping_stones")
    unsteered = dataclasses.replace(FH, steer_window=0.0)
    arms = {
        "plain": configs.gait,
        "unsteered": dataclasses.replace(configs.gait, footholds=unsteered),
        "footholds": with_footholds(configs.gait),
    }
    out = {}
    for name, gait in arms.items():
        env = make_env(configs._replace(gait=gait))
        out[name] = run_episode(
            env, zero_action(12), 400, episode_key(0, 5), terrain_level=2, terrain_type=stones, command=(0.4, 0.0, 0.0)
        )
        env.close()
    plain, unsteered, placed = out["plain"], out["unsteered"], out["footholds"]
    assert plain.terminated and plain.steps < 200  # measured: falls at step 95 (1.9 s)
    assert unsteered.terminated and unsteered.steps < 350  # measured: falls at step 159 (3.2 s)
    assert not placed.terminated and placed.steps == 400
    walked = placed.trunk_pos[-1, 0] - placed.trunk_pos[0, 0]
    assert walked > 2.0  # measured 2.41 m in 8 s (0.4 m/s commanded)
    # the feet crossed gaps: some foot swung over ground 0.3 m below the stones (measured -0.28 m)
    assert np.min(placed.foot_ground) < -0.25
    # steering moves the trunk's path sideways, within steer_window of the commanded line
    assert np.max(np.abs(placed.trunk_pos[:, 1] - placed.trunk_pos[0, 1])) < 0.3  # measured 0.14 m

"""Terrain curriculum (``episode_logic.track_command`` / ``curriculum_outcome`` / ``next_level``)
and off-map truncation, on scripted trajectories (no training, no MJX physics except the one
slow batched rollout at the end).

The rule (``EnvConfig.curriculum``, docs/residual_learning.md): the body-frame command is
integrated from the start pose into a commanded path (an arc for a turning command); at the end
of an episode the trunk is promoted when it ended within ``end_tolerance_fraction`` x L of the
commanded end point and progressed >= ``promote_distance_fraction`` x L along the commanded path
(L = commanded path length), demoted when it fell or progressed < ``demote_distance_fraction`` x L,
neutral for L < ``min_command_path``; leaving the map is never demoted.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.env_config import CommandRanges, Curriculum, EnvConfig
from model.simulation_config import SimulationConfig
from model.terrain import TERRAIN_TYPES

DT = SimulationConfig().control_dt
STEPS = int(round(EnvConfig().episode_length_s / DT))  # 1000: a full 20 s episode


@pytest.fixture(scope="module")
def rough_ctx():
    return logic.make_context(SimulationConfig(world="rough"), EnvConfig(), GaitConfig())


@pytest.fixture(scope="module")
def run(rough_ctx):
    """``run(command, level, xy (T, 2) trunk positions, fell, off_map) -> (info, next level)``:
    an episode whose trunk visits ``xy`` (one row per control step, after each step)."""
    ctx = rough_ctx
    sample = jax.jit(lambda k, level: logic.sample_episode(ctx, k, level)[2])

    @jax.jit
    def play(info, xys):
        def body(i, xy):
            i = logic.track_command(ctx, i, xy)
            return {**i, "last_xy": xy, "step": i["step"] + 1}, None

        return jax.lax.scan(body, info, xys)[0]

    outcome = jax.jit(lambda i: logic.curriculum_outcome(ctx, i))
    level_of = jax.jit(lambda i: logic.next_level(ctx, i))

    def _run(command, level, xy_fn, steps=STEPS, fell=False, off_map=False, key=0):
        info = sample(jax.random.PRNGKey(key), jnp.asarray(level))
        info = {**info, "command": jnp.asarray(command, jnp.float32)}
        x0 = np.asarray(info["start_xy"], np.float64)
        yaw0 = float(info["heading"])
        t = DT * np.arange(1, steps + 1)
        xys = np.asarray(xy_fn(x0, yaw0, np.asarray(command, np.float64), t), np.float32)
        info = play(info, jnp.asarray(xys))
        info = {**info, "fell": jnp.float32(fell), "off_map": jnp.float32(off_map)}
        promote, demote = outcome(info)
        return info, int(level_of(info)), bool(promote), bool(demote)

    return _run


def ideal(x0, yaw0, cmd, t):
    """Closed-form pose of a robot tracking the body-frame command exactly (arc for yaw != 0)."""
    vx, vy, w = cmd
    if abs(w) < 1e-9:
        dx, dy = vx * t, vy * t
        c, s = np.cos(yaw0), np.sin(yaw0)
        return np.stack([x0[0] + c * dx - s * dy, x0[1] + s * dx + c * dy], axis=-1)
    yaw = yaw0 + w * t
    ic = (np.sin(yaw) - np.sin(yaw0)) / w  # integral of cos(yaw) dt
    is_ = -(np.cos(yaw) - np.cos(yaw0)) / w  # integral of sin(yaw) dt
    return np.stack([x0[0] + vx * ic - vy * is_, x0[1] + vx * is_ + vy * ic], axis=-1)


def standing(x0, yaw0, cmd, t):
    return np.broadcast_to(x0, (len(t), 2))


def straight(x0, yaw0, cmd, t):
    """Walks at the commanded speed along the initial heading, ignoring the yaw command."""
    return ideal(x0, yaw0, np.array([cmd[0], cmd[1], 0.0]), t)


def half_speed(x0, yaw0, cmd, t):
    return ideal(x0, yaw0, np.array([cmd[0] * 0.6, cmd[1] * 0.6, cmd[2] * 0.6]), t)


def test_commanded_path_is_the_arc(run):
    """The per-step integration of the command matches the closed-form arc."""
    cmd = [0.4, 0.1, 0.5]
    info, *_ = run(cmd, 2, ideal)
    end = ideal(
        np.asarray(info["start_xy"], np.float64), float(info["heading"]), np.array(cmd), np.array([STEPS * DT])
    )[0]
    np.testing.assert_allclose(np.asarray(info["cmd_xy"]), end, atol=2e-3)
    np.testing.assert_allclose(float(info["cmd_path"]), np.hypot(0.4, 0.1) * STEPS * DT, rtol=1e-4)
    np.testing.assert_allclose(float(info["cmd_yaw"]), float(info["heading"]) + 0.5 * STEPS * DT, rtol=1e-4)
    np.testing.assert_allclose(float(info["progress"]), float(info["cmd_path"]), rtol=1e-3)


@pytest.mark.parametrize("cmd", [[0.4, 0.0, 0.5], [0.3, 0.0, -0.3], [-0.4, 0.2, 1.0], [0.8, 0.0, 0.0], [0.0, 0.4, 0.0]])
def test_perfect_walk_is_promoted(run, cmd):
    info, level, promote, demote = run(cmd, 2, ideal)
    assert promote and not demote and level == 3


def test_yaw_command_ignored_is_not_promoted(run):
    """Walking straight at the right speed while a turn was commanded: the end point is off and
    the progress along the arc is small (here negative: the arc turns back) -> demoted."""
    info, level, promote, demote = run([0.4, 0.0, 0.3], 2, straight)
    assert not promote and demote and level == 1


def test_fall_is_demoted(run):
    """Perfect tracking for 4 s, then a fall: demoted (also from a zero command)."""
    _, level, promote, demote = run([0.4, 0.0, 0.5], 2, ideal, steps=200, fell=True)
    assert demote and not promote and level == 1
    _, level, *_ = run([0.0, 0.0, 0.0], 2, standing, steps=200, fell=True)
    assert level == 1
    _, level, *_ = run([0.4, 0.0, 0.0], 0, ideal, steps=200, fell=True)
    assert level == 0  # floor


def test_standing_under_a_command_is_demoted_and_slow_walk_is_neutral(run):
    _, level, promote, demote = run([0.4, 0.0, 0.0], 2, standing)
    assert demote and level == 1
    _, level, promote, demote = run([0.4, 0.0, 0.0], 2, half_speed)  # 60 % of the path: neutral
    assert not promote and not demote and level == 2
    # 60 % of the speed *and* of the yaw rate of a turn: the heading lags 1.6 rad after 20 s and
    # the progress along the commanded arc falls below 40 %: demoted
    _, level, promote, demote = run([0.4, 0.0, 0.2], 2, half_speed)
    assert demote and level == 1


@pytest.mark.parametrize("cmd", [[0.0, 0.0, 0.0], [0.0, 0.0, 0.8], [0.02, 0.0, 0.0]])
def test_zero_or_tiny_command_is_neutral(run, cmd):
    """Commanded path < min_command_path (0.5 m): neither promoted nor demoted, whatever it did."""
    for xy_fn in (standing, ideal):
        _, level, promote, demote = run(cmd, 3, xy_fn)
        assert not promote and not demote and level == 3


def test_off_map_is_never_demoted(run):
    """Left the map after 10 s: promoted if it tracked the command so far, else neutral."""
    _, level, promote, demote = run([0.6, 0.0, 0.0], 2, ideal, steps=500, off_map=True)
    assert promote and level == 3
    _, level, promote, demote = run([0.6, 0.0, 0.0], 2, straight, steps=500, off_map=True)
    assert promote  # straight command: 'straight' is the ideal path
    _, level, promote, demote = run([0.6, 0.0, 0.5], 2, straight, steps=500, off_map=True)
    assert not promote and not demote and level == 2


def test_top_level_goes_to_a_random_level(run, rough_ctx):
    top = rough_ctx.num_levels - 1
    levels = {run([0.4, 0.0, 0.3], top, ideal, key=k)[1] for k in range(12)}
    assert levels <= set(range(top + 1)) and len(levels) >= 3, levels
    # demotion from the top is an ordinary demotion
    assert run([0.4, 0.0, 0.0], top, standing)[1] == top - 1


def test_curriculum_off_or_flat_world_keeps_the_level(run, rough_ctx):
    info, *_ = run([0.4, 0.0, 0.0], 2, standing)
    off = dataclasses.replace(rough_ctx, env=EnvConfig(curriculum=Curriculum(enabled=False)))
    assert int(logic.next_level(off, info)) == 2
    flat = dataclasses.replace(rough_ctx, heights=None)
    assert int(logic.next_level(flat, info)) == 2


def test_spawn_band_follows_the_level(rough_ctx):
    qpos, _, info = jax.jit(lambda k: logic.sample_episode(rough_ctx, k, jnp.asarray(4)))(jax.random.PRNGKey(0))
    assert 1.5 <= float(qpos[1]) < 3.0 and int(info["terrain_level"]) == 4  # band 4 spans y in [1.5, 3.0]


def test_suite_spawns_in_the_tile_of_its_level_and_type():
    """On the terrain suite an episode spawns on the tile (level, type) it is given; the type is
    drawn from the reset key when not given (different keys -> several types), the level clipped
    to the suite's rows."""
    from model import terrain

    ctx = logic.make_context(SimulationConfig(world="suite"), EnvConfig(), GaitConfig())
    assert (ctx.num_levels, ctx.num_types) == (8, len(TERRAIN_TYPES))
    sample = jax.jit(lambda k, lvl, t: logic.sample_episode(ctx, k, lvl, t))
    for lvl, t in ((0, 0), (7, 3), (4, 6), (9, 1)):
        qpos, _, info = sample(jax.random.PRNGKey(lvl), jnp.asarray(lvl), jnp.asarray(t))
        got = terrain.suite_tile_of(float(qpos[0]), float(qpos[1]), ctx.suite)
        assert (int(got[0]), int(got[1])) == (min(lvl, 7), t)
        assert int(info["terrain_level"]) == min(lvl, 7) and int(info["terrain_type"]) == t
        ground = float(logic.terrain_height(ctx, qpos[0], qpos[1]))
        assert abs(ground) < 1e-6 and 0.25 < float(qpos[2]) - ground < 0.35  # on the flat start pad
    free = jax.jit(lambda k: logic.sample_episode(ctx, k, jnp.asarray(2)))
    types = {int(free(jax.random.PRNGKey(i))[2]["terrain_type"]) for i in range(40)}
    assert len(types) >= 6, types


def test_suite_off_map_is_a_truncation():
    """Gymnasium twin on the suite: a trunk past the map's edge (on the flat border) ends the
    episode as a truncation; inside the border it does not."""
    import mujoco

    from mjx_envs.gym_env import ResidualWalkEnv

    env = ResidualWalkEnv(world="suite")
    edge = env.ctx.suite.size_x - 0.3
    for x, expect in ((edge - 0.5, False), (edge + 0.05, True)):
        env.reset(options={"key": jax.random.PRNGKey(0), "terrain_level": 0, "terrain_type": 0})
        d = env.data
        d.qpos[0] = x
        mujoco.mj_forward(env.model, d)
        xy = jnp.asarray(d.qpos[:2], jnp.float32)
        env.episode_info = {**env.episode_info, "last_xy": xy, "start_xy": xy, "cmd_xy": xy}
        _, _, terminated, truncated, info = env.step(np.zeros(12, np.float32))
        assert not terminated and truncated == expect and info["off_map"] == expect
    env.close()


# ------------------------------------------------------------------------------ off the map


def test_post_physics_off_map_is_a_truncation(rough_ctx):
    """The shared step logic: leaving the heightfield ends the episode (done) as a truncation
    (info['truncation'] = 1, brax's convention), is logged as off_map, not as a fall."""
    from mjx_envs.gym_env import ResidualWalkEnv

    env = ResidualWalkEnv(world="rough", metrics=True)
    env.reset(options={"key": jax.random.PRNGKey(0), "terrain_level": 0})
    d = env.data
    for x, expect in ((-6.0, False), (7.75, True)):  # band 0 is flat: the robot stands either way
        env.reset(options={"key": jax.random.PRNGKey(0), "terrain_level": 0})
        d.qpos[0] = x
        import mujoco

        mujoco.mj_forward(env.model, d)
        env.episode_info = {
            **env.episode_info,
            "last_xy": jnp.asarray(d.qpos[:2], jnp.float32),
            "start_xy": jnp.asarray(d.qpos[:2], jnp.float32),
            "cmd_xy": jnp.asarray(d.qpos[:2], jnp.float32),
        }
        level = env.terrain_level
        _, _, terminated, truncated, info = env.step(np.zeros(12, np.float32))
        assert not terminated
        assert truncated == expect and info["off_map"] == expect
        assert info["metrics"]["off_map"] == float(expect) and info["metrics"]["fell"] == 0.0
        assert float(env.episode_info["truncation"]) == float(expect)
        assert env.terrain_level == level  # 1 step: commanded path < min_command_path -> neutral


# ------------------------------------------------------------------ batched MJX rollout (slow)


@pytest.mark.slow
def test_batched_nominal_rollout_moves_the_level_distribution():
    """16 envs on the terrain suite, nominal gait (zero residual), 2 s episodes, curriculum on, under
    the training wrappers (auto-reset calls reset_from -> next_level): after 3 episodes the level
    distribution differs from the initial one, every level change is the logged promotion /
    demotion of the finished episode, and two envs teleported next to the map's edge end their
    episode as a truncation (done = 1, truncation = 1, off_map = 1, not fell)."""
    from mjx_envs.residual_walk import MjxResidualWalk
    from mjx_envs.training_wrappers import TerrainLevelMetrics, wrap_for_training

    n_env, ep_steps, n_steps = 16, 100, 300
    forward = CommandRanges(vx=(0.2, 0.5), vy=(0.0, 0.0), yaw_rate=(-0.3, 0.3), zero_probability=0.0, resample=False)
    cfg = EnvConfig(
        episode_length_s=ep_steps * DT,
        curriculum=Curriculum(initial_max_level=2, min_command_path=0.2),
        command=forward,
    )  # the forward task: the edge envs walk off the map
    raw = MjxResidualWalk(SimulationConfig(world="suite"), cfg)  # the training world: the terrain suite
    nl = raw.ctx.num_levels
    env = wrap_for_training(TerrainLevelMetrics(raw), episode_length=ep_steps)
    edge = jnp.arange(n_env) < 2  # envs 0, 1: moved onto the flat border, facing +x, 0.05 m from the off-map line
    edge_x = raw.ctx.suite.size_x - 0.35

    @jax.jit
    def rollout(key):
        s = env.reset(jax.random.split(key, n_env))
        x = jnp.where(edge, edge_x, s.data.qpos[:, 0])
        qpos = (
            s.data.qpos.at[:, 0]
            .set(x)
            .at[:, 3:7]
            .set(jnp.where(edge[:, None], jnp.array([1.0, 0, 0, 0]), s.data.qpos[:, 3:7]))
        )
        xy = jnp.stack([x, s.data.qpos[:, 1]], -1)
        s = s.replace(
            data=s.data.replace(qpos=qpos),
            info={
                **s.info,
                "start_xy": xy,
                "last_xy": xy,
                "cmd_xy": xy,
                "heading": jnp.where(edge, 0.0, s.info["heading"]),
                "cmd_yaw": jnp.where(edge, 0.0, s.info["cmd_yaw"]),
            },
        )

        def body(s, _):
            level_before = s.info["terrain_level"]
            s = env.step(s, jnp.zeros((n_env, 12)))
            return s, dict(
                level_before=level_before,
                level=s.info["terrain_level"],
                done=s.done,
                truncation=s.info["truncation"],
                off_map=s.metrics["off_map"],
                fell=s.metrics["fell"],
                promoted=s.metrics["curriculum_promoted"],
                demoted=s.metrics["curriculum_demoted"],
                frac=jnp.stack([s.metrics[f"terrain_level_{k}_per_step"] for k in range(nl)], -1),
                ttype=s.info["terrain_type"],
                tfrac=jnp.stack([s.metrics[f"terrain_type_{n}_per_step"] for n in TERRAIN_TYPES], -1),
            )

        return s.info["terrain_level"], jax.lax.scan(body, s, None, length=n_steps)[1]

    _, tr = rollout(jax.random.PRNGKey(0))
    tr = jax.tree.map(np.asarray, tr)
    level0 = tr["level_before"][0]
    assert level0.max() <= 2
    # off the map: the first episode of each edge env ends within 1 s, truncated, not terminated
    for e in (0, 1):
        t = int(np.argmax(tr["done"][:, e] > 0))
        assert tr["done"][t, e] and t < 50, t
        assert tr["truncation"][t, e] == 1 and tr["off_map"][t, e] == 1 and tr["fell"][t, e] == 0
    # every level change happens at an episode end and matches the logged outcome
    ends = tr["done"] > 0
    change = tr["level"].astype(int) - tr["level_before"].astype(int)
    assert not change[~ends].any()
    top = raw.ctx.num_levels - 1
    expected = tr["promoted"].astype(int) - tr["demoted"].astype(int)
    ok = (change == expected) | ((tr["promoted"] > 0) & (tr["level_before"] == top))
    assert ok[ends].all()
    print(
        "episodes",
        ends.sum(),
        "promoted",
        tr["promoted"].sum(),
        "demoted",
        tr["demoted"].sum(),
        "off_map",
        tr["off_map"].sum(),
        "fell",
        tr["fell"].sum(),
    )
    final = tr["level"][-1]
    hist0, hist1 = np.bincount(level0, minlength=nl), np.bincount(final, minlength=nl)
    print("levels before", hist0, "after", hist1)
    assert not np.array_equal(hist0, hist1)
    # the TerrainLevelMetrics indicators describe the level of the episode the step belongs to
    np.testing.assert_array_equal(tr["frac"].argmax(-1), tr["level_before"])
    np.testing.assert_array_equal(tr["frac"].sum(-1), 1.0)
    # suite: every episode draws a fresh terrain type (several types among the envs and episodes)
    assert len(np.unique(tr["ttype"])) >= 5
    np.testing.assert_array_equal(tr["tfrac"].sum(-1), 1.0)


def test_first_levels_follow_the_initial_level_weights(rough_ctx):
    """``curriculum.initial_level_weights`` (a resumed run's level distribution) sets how often a
    first episode starts on each level; empty keeps the uniform draw over [0, initial_max_level];
    a given level still wins; bad weights are refused naming the key."""
    from mjx_envs.env_config import ConfigError

    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    weighted = Curriculum(initial_level_weights=(0.0, 0.0, 1.0, 3.0))
    draw = jax.jit(jax.vmap(lambda k: logic.draw_start_level(weighted, k)))
    counts = np.bincount(np.asarray(draw(keys)), minlength=8)
    assert counts[[0, 1, 4, 5, 6, 7]].sum() == 0  # zero weight, or past the weights: never drawn
    assert abs(counts[3] / 4000 - 0.75) < 0.03, counts  # binomial sd 0.007
    uniform = jax.jit(jax.vmap(lambda k: logic.draw_start_level(Curriculum(initial_max_level=2), k)))
    counts = np.bincount(np.asarray(uniform(keys)), minlength=4)
    assert counts[3] == 0 and np.all(np.abs(counts[:3] / 4000 - 1 / 3) < 0.03), counts
    ctx = dataclasses.replace(rough_ctx, env=EnvConfig(curriculum=weighted))
    sample = jax.jit(lambda k, lvl: logic.sample_episode(ctx, k, lvl)[2]["terrain_level"])
    assert {int(sample(k, jnp.asarray(-1))) for k in keys[:20]} <= {2, 3}
    assert int(sample(keys[0], jnp.asarray(5))) == 5
    for bad in ((0.0, 0.0), (1.0, -0.5), (1.0,) * 33):
        with pytest.raises(ConfigError, match="curriculum.initial_level_weights"):
            Curriculum(initial_level_weights=bad).validate()

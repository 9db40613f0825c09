"""Residual-walking env: Gymnasium/SB3 API checks, random-policy smoke runs, MJX vs C-MuJoCo
parity, determinism (incl. across auto-resets inside a jitted rollout), batching without
recompilation, NaN safety."""

import dataclasses

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mjx_envs
from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.env_config import CommandRanges, DomainRandomization, EnvConfig, Pushes, RandomRange
from mjx_envs.gym_env import ResidualWalkEnv
from mjx_envs.observation import observation_layout
from mjx_envs.residual_walk import MjxResidualWalk
from mjx_envs.training_wrappers import wrap_for_training
from model.simulation_config import SimulationConfig


@pytest.fixture(scope="module")
def flat_mjx():
    env = MjxResidualWalk()
    return env, jax.jit(env.reset), jax.jit(env.step)


def test_gymnasium_and_sb3_env_checkers():
    from gymnasium.utils.env_checker import check_env

    env = gym.make(mjx_envs.GYM_ID)
    check_env(env.unwrapped, skip_render_check=True)
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3.check_env(ResidualWalkEnv(), warn=True)


def test_observation_layout_is_consistent():
    env = ResidualWalkEnv()
    layout = env.observation_layout()
    assert layout[0]["start"] == 0 and layout[-1]["stop"] == env.observation_space.shape[0]
    assert all(a["stop"] == b["start"] for a, b in zip(layout, layout[1:]))
    assert {c["name"] for c in layout} >= {
        "gravity",
        "lin_vel",
        "ang_vel",
        "joint_pos",
        "joint_vel",
        "gait_phase",
        "foot_contact",
        "command",
        "last_action",
    }
    terr = observation_layout(12, terrain=True)
    assert terr[-1]["name"] == "terrain_height" and terr[-1]["size"] == 20


@pytest.mark.parametrize("world", ["flat", "rough"])
def test_random_policy_smoke(world):
    """Random actions for 300 steps: no exception, no NaN, terminations happen, resets restart."""
    cfg = EnvConfig(action_mode="direct", direct_scale=1.0, episode_length_s=3.0)
    env = ResidualWalkEnv(env=cfg, world=world)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=1)
    terminations = truncations = 0
    for _ in range(300):
        obs, reward, term, trunc, info = env.step(rng.uniform(-1, 1, 12).astype(np.float32))
        assert np.isfinite(obs).all() and np.isfinite(reward)
        assert env.observation_space.contains(obs)
        if term or trunc:
            terminations += term
            truncations += trunc
            obs, info = env.reset()
            assert info["step"] == 0 and np.isfinite(obs).all()
    assert terminations > 0, "random joint targets should make the robot fall"
    # the residual mode with a random policy walks on (small residuals)
    env2 = ResidualWalkEnv(world=world)
    env2.reset(seed=2)
    for _ in range(100):
        obs, reward, term, trunc, _ = env2.step(rng.uniform(-1, 1, 12).astype(np.float32))
        assert np.isfinite(obs).all() and not term


def _parity(world, actions, mjx_env, reset, step):
    key = jax.random.PRNGKey(11)
    gym_env = ResidualWalkEnv(world=world)
    s = reset(key)
    o, _ = gym_env.reset(options={"key": key})
    np.testing.assert_allclose(np.asarray(s.obs), o, atol=1e-5)
    obs_err, rew_err = [], []
    for a in actions:
        s = step(s, jnp.asarray(a))
        o, r, term, trunc, info = gym_env.step(a)
        obs_err.append(np.abs(np.asarray(s.obs) - o).max())
        rew_err.append(abs(float(s.reward) - r))
        assert bool(s.done) == term
    return np.array(obs_err), np.array(rew_err)


def test_parity_flat_zero_and_random_residuals(flat_mjx):
    """MJX (float32) vs C MuJoCo (float64) from the same reset key, 60 control steps.

    Tolerance: observation 2e-3 (scaled units), reward 2e-3. What dominates: float32 vs float64
    arithmetic in the contact solver, which grows slowly over the trajectory (seen: obs 5e-6,
    reward 1e-5 after 60 steps on flat ground).
    """
    env, reset, step = flat_mjx
    zero = [np.zeros(12, np.float32)] * 60
    rand = list(np.random.default_rng(3).uniform(-1, 1, (60, 12)).astype(np.float32))
    for actions in (zero, rand):
        obs_err, rew_err = _parity("flat", actions, env, reset, step)
        assert obs_err.max() < 2e-3 and rew_err.max() < 2e-3, (obs_err.max(), rew_err.max())


@pytest.mark.slow
def test_parity_rough():
    """Same on the heightfield, 50 steps, with the height scan observed. MJX's prism-based hfield
    contacts differ from C MuJoCo's (2e-4 m after 1 s of standing, test_model.py). That shows in
    velocities and in the binary foot-contact bits (a touch force near the 1 N threshold flips), and
    with random residuals the two trajectories drift apart chaotically once one contact differs.
    Tolerances (seen): zero residual, 50 steps: continuous observation channels 0.15 (0.075 at a
    contact event), contact bits agree >= 95 % (98.5 %), summed reward within 10 % (8.3 %: the gait
    ramps up from standing at its acceleration limit, and in those steps the C-MuJoCo feet slip more
    on the heightfield, foot_slip -1.69 vs -0.66 in MJX; 0.3 % with the command taken at once). Random
    residuals, 50 steps: trunk position 0.15 m (0.083), gravity direction and joint angles 0.15
    (0.066, 0.089); rewards are NOT compared: with feet pushed around at random, MJX's hfield
    contacts let stance feet slide more (foot_slip term over 25 steps: -6.4 MJX vs -3.5 C MuJoCo,
    tracking correspondingly lower; summed reward 30 % apart). Terminations agree at every step.
    Under the forward-only commands of the CPU presets (vx 0.2-0.5 m/s); with joystick commands (1
    m/s, lateral, turning) the velocity channels differ up to 0.38 after 50 steps (seen, keys
    11-13), the chaotic contact divergence growing with speed (docs/model.md)."""
    env_cfg = EnvConfig(
        command=CommandRanges(vx=(0.2, 0.5), vy=(0.0, 0.0), yaw_rate=(-0.3, 0.3), zero_probability=0.0, resample=False)
    )
    # the height scan, with its per-episode map offset, is one more continuous channel (176 points)
    env_cfg = env_cfg.replace(
        height_scan=dataclasses.replace(env_cfg.height_scan, enabled=True, offset_randomization=True)
    )
    env = MjxResidualWalk(SimulationConfig(world="rough"), env_cfg)
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    for residuals in ("zero", "random"):
        actions = (
            np.zeros((50, 12), np.float32)
            if residuals == "zero"
            else np.random.default_rng(4).uniform(-1, 1, (50, 12)).astype(np.float32)
        )
        key = jax.random.PRNGKey(11)
        gym_env = ResidualWalkEnv(env=env_cfg, world="rough")
        layout = {c["name"]: slice(c["start"], c["stop"]) for c in gym_env.observation_layout()}
        continuous = [n for n in layout if n != "foot_contact"]
        s = reset(key)
        gym_env.reset(options={"key": key})
        sums, contact_agree, errs = np.zeros(2), [], []
        for t, a in enumerate(actions):
            s = step(s, jnp.asarray(a))
            o, r, term, _, _ = gym_env.step(a)
            m = np.asarray(s.obs)
            sums += [float(s.reward), r]
            assert bool(s.done) == term
            contact_agree.extend(m[layout["foot_contact"]] == o[layout["foot_contact"]])
            if residuals == "zero":
                errs.append(max(np.abs(m[layout[n]] - o[layout[n]]).max() for n in continuous))
            else:
                errs.append(
                    [np.abs(np.asarray(s.data.qpos[:3]) - gym_env.data.qpos[:3]).max()]
                    + [np.abs(m[layout[n]] - o[layout[n]]).max() for n in ("gravity", "joint_pos")]
                )
        rel = abs(sums[0] - sums[1]) / abs(sums[1])
        if residuals == "random":
            pos, grav, joints = np.max(errs, axis=0)
            print("random: position", pos, "gravity", grav, "joints", joints)
            assert pos < 0.15 and grav < 0.15 and joints < 0.15, (pos, grav, joints)
            errs = []
        print(
            residuals,
            "max continuous obs err",
            max(errs, default=0),
            "reward rel",
            rel,
            "contact agreement",
            np.mean(contact_agree),
        )
        if residuals == "zero":
            assert max(errs) < 0.15, max(errs)
        if residuals == "zero":
            assert rel < 0.10, sums
        if residuals == "zero":
            assert np.mean(contact_agree) >= 0.95, np.mean(contact_agree)


def test_determinism_and_variety(flat_mjx):
    env, reset, step = flat_mjx
    a, b = reset(jax.random.PRNGKey(5)), reset(jax.random.PRNGKey(5))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    c = reset(jax.random.PRNGKey(6))
    assert not np.allclose(a.info["command"], c.info["command"])
    assert not np.allclose(a.data.qpos[:2], c.data.qpos[:2])
    act = jnp.full(12, 0.3)
    a2, b2 = step(a, act), step(b, act)
    np.testing.assert_array_equal(np.asarray(a2.obs), np.asarray(b2.obs))


@pytest.mark.slow
def test_auto_reset_rerandomises_inside_jitted_rollout():
    """Under the training wrapper, each new episode (per env) gets a new command and spawn."""
    env = MjxResidualWalk(env=EnvConfig(episode_length_s=0.1))  # 5 control steps per episode
    wrapped = wrap_for_training(env, episode_length=5)
    n_env, n_steps = 4, 16

    @jax.jit
    def rollout(key):
        state = wrapped.reset(jax.random.split(key, n_env))

        def body(s, _):
            s = wrapped.step(s, jnp.zeros((n_env, 12)))
            return s, (s.info["command"], s.data.qpos[:, :2], s.info["episode_done"])

        return jax.lax.scan(body, state, None, length=n_steps)[1]

    cmds, xy, ep_done = rollout(jax.random.PRNGKey(0))
    cmds2, _, _ = rollout(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(cmds), np.asarray(cmds2))  # deterministic
    cmds, ep_done = np.asarray(cmds), np.asarray(ep_done)
    assert ep_done.sum() >= n_env * 2  # every env finished several episodes
    for e in range(n_env):
        per_episode = {tuple(np.round(cmds[t, e], 6)) for t in range(n_steps)}
        assert len(per_episode) >= 3, f"env {e} replays its command: {per_episode}"
    assert len({tuple(np.round(cmds[0, e], 6)) for e in range(n_env)}) == n_env


@pytest.mark.slow
def test_batched_mjx_steps_without_recompilation():
    env = MjxResidualWalk()
    traces = {"n": 0}

    def step(s, a):
        traces["n"] += 1
        return env.step(s, a)

    vstep = jax.jit(jax.vmap(step))
    states = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), 64))
    actions = jnp.zeros((64, 12))
    for _ in range(3):
        states = vstep(states, actions)
    jax.block_until_ready(states.obs)
    assert traces["n"] == 1
    assert states.obs.shape == (64, env.observation_size)
    assert np.isfinite(np.asarray(states.obs)).all()


def test_nan_physics_terminates_and_never_leaks(flat_mjx):
    env, reset, step = flat_mjx
    s = reset(jax.random.PRNGKey(0))
    bad = s.replace(data=s.data.replace(qvel=s.data.qvel.at[0].set(jnp.nan)))
    out = step(bad, jnp.zeros(12))
    assert float(out.done) == 1.0 and float(out.metrics["nan_physics"]) == 1.0
    assert np.isfinite(np.asarray(out.obs)).all() and np.isfinite(float(out.reward))
    # extreme and non-finite actions are clipped/sanitised, never NaN
    for a in (jnp.full(12, 1e9), jnp.full(12, -jnp.inf), jnp.full(12, jnp.nan)):
        out = step(s, a)
        assert np.isfinite(np.asarray(out.obs)).all() and float(out.metrics["nan_physics"]) == 0.0


def _standing(ctx, key=0):
    """(qpos, qvel, sensordata) of a freshly spawned episode after ``mj_forward``, float32, and its info."""
    import mujoco

    qpos, qvel, info = logic.sample_episode(ctx, jax.random.PRNGKey(key))
    d = mujoco.MjData(ctx.mj_model)
    d.qpos[:], d.qvel[:] = np.asarray(qpos), np.asarray(qvel)
    mujoco.mj_forward(ctx.mj_model, d)
    return (d.qpos.astype(np.float32), d.qvel.astype(np.float32), d.sensordata.astype(np.float32)), info


@pytest.mark.parametrize("min_base_height", [0.0, 0.15])
def test_diverged_physics_is_a_fall_in_info_and_metrics(min_base_height):
    """NaN physics ends the episode as a fall: ``metrics["fell"]`` == ``info["fell"]`` == 1, with
    ``nan_physics`` = 1 saying why, whatever the fall rule makes of the sanitised state (with
    ``min_base_height`` = 0 the zeroed trunk is not low enough to fall by the pose rule)."""
    from mjx_envs.measurements import measure

    ctx = logic.make_context(SimulationConfig(), EnvConfig(min_base_height=min_base_height), GaitConfig())
    (q, v, sd), info = _standing(ctx)
    aux = dict(action=jnp.zeros(ctx.action_size), ik_saturated=jnp.zeros(()))
    post = jax.jit(lambda q, v, sd, info: logic.post_physics(ctx, measure(ctx.idx, q, v, sd), info, aux))
    for nan, want in ((False, 0.0), (True, 1.0)):
        _, reward, done, metrics, new = post(
            q, v.copy() if not nan else np.where(np.arange(len(v)) == 0, np.nan, v), sd, info
        )
        assert float(done) == want and float(metrics["nan_physics"]) == want
        assert float(metrics["fell"]) == float(new["fell"]) == want
        assert float(metrics["off_map"]) == float(new["off_map"]) == float(new["truncation"]) == 0.0
        assert np.isfinite(float(reward)) and all(np.isfinite(float(x)) for x in metrics.values())


def test_metric_names_are_the_metrics_functions_keys():
    """METRIC_NAMES is read off the metrics function: it is exactly what post_physics reports
    besides ``reward/<term>`` (MJX env, batched C-MuJoCo logic, reset states alike), and leaving
    the map has one name, ``off_map``."""
    from mjx_envs.batched_logic import BatchedLogic

    ctx = logic.make_context(SimulationConfig(), EnvConfig(), GaitConfig())
    names = set(BatchedLogic(ctx).metric_names)
    assert names == set(logic.zero_metrics(ctx))
    assert {n for n in names if not n.startswith("reward/")} == set(logic.METRIC_NAMES)
    assert len(set(logic.METRIC_NAMES)) == len(logic.METRIC_NAMES)
    assert {"fell", "nan_physics", "off_map"} <= set(logic.METRIC_NAMES) and "out_of_bounds" not in logic.METRIC_NAMES
    env = MjxResidualWalk()
    s = jax.jit(env.step)(jax.jit(env.reset)(jax.random.PRNGKey(0)), jnp.zeros(env.action_size))
    assert set(s.metrics) == names


def test_terminate_reports_every_reason_and_vmaps():
    """One function holds every termination rule and returns the reasons; it jits and vmaps.
    Cases: upright, too low, tilted past max_roll, diverged, off the map, fallen off the map."""
    from mjx_envs.measurements import measure
    from mjx_envs.termination import sanitise, terminate

    ctx = logic.make_context(SimulationConfig(world="rough"), EnvConfig(), GaitConfig())
    (q, v, sd), _ = _standing(ctx)
    idx = ctx.idx
    tilt = np.array([np.cos(0.5), np.sin(0.5), 0.0, 0.0], np.float32)  # roll 1 rad > max_roll 0.8
    cases = []
    for z, quat, x, nan in (
        (None, None, None, False),
        (-0.5, None, None, False),
        (None, tilt, None, False),
        (None, None, None, True),
        (None, None, 50.0, False),
        (-0.5, None, 50.0, False),
    ):
        c_q, c_v, c_sd = q.copy(), v.copy(), sd.copy()
        if z is not None:
            c_sd[idx.trunk_pos + 2] = z
        if quat is not None:
            c_sd[idx.trunk_quat : idx.trunk_quat + 4] = quat
        if x is not None:
            c_sd[idx.trunk_pos] = x
        if nan:
            c_v[3] = np.inf
        cases.append((c_q, c_v, c_sd))
    qs, vs, sds = (np.stack(a) for a in zip(*cases))

    @jax.jit
    @jax.vmap
    def reasons(q, v, sd):
        meas, diverged = sanitise(measure(idx, q, v, sd))
        t = terminate(ctx, meas, diverged)
        return t, t.fell, t.terminated, t.truncated, t.done

    t, fell, terminated, truncated, done = jax.tree.map(np.asarray, reasons(qs, vs, sds))
    np.testing.assert_array_equal(t.fallen[[0, 1, 2, 4, 5]], [0, 1, 1, 0, 1])  # diverged: the zeroed state's pose
    np.testing.assert_array_equal(t.diverged, [0, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(t.left_map, [0, 0, 0, 0, 1, 1])
    np.testing.assert_array_equal(fell, [0, 1, 1, 1, 0, 1])
    np.testing.assert_array_equal(terminated, fell)
    np.testing.assert_array_equal(truncated, [0, 0, 0, 0, 1, 0])  # a fall off the map is a fall
    np.testing.assert_array_equal(done, [0, 1, 1, 1, 1, 1])


def test_pushes_and_domain_randomisation_change_per_episode():
    cfg = EnvConfig(
        pushes=Pushes(enabled=True, interval=(0.02, 0.04)),
        domain_randomization=DomainRandomization(friction=RandomRange(True, (0.6, 1.25))),
    )
    ctx = logic.make_context(SimulationConfig(), cfg, GaitConfig())
    sample = jax.jit(lambda k: logic.sample_episode(ctx, k, None)[2])
    info1, info2 = sample(jax.random.PRNGKey(1)), sample(jax.random.PRNGKey(2))
    assert float(info1["dr"]["friction"]) != float(info2["dr"]["friction"])
    kick, info = logic.apply_push(ctx, {**info1, "step": jnp.asarray(10)})
    assert kick.shape == (2,) and 0.2 <= float(jnp.linalg.norm(kick)) <= 0.6 and float(info["push_time"]) > 0.2
    assert float(info["pushed"]) == 1.0
    # the C-MuJoCo twin applies the same draw to its model
    g = ResidualWalkEnv(env=cfg)
    g.reset(options={"key": jax.random.PRNGKey(1)})
    fs = float(info1["dr"]["friction"])
    np.testing.assert_allclose(g.model.geom_friction[:, 0], g._dr_base["geom_friction"][:, 0] * fs, rtol=1e-5)


# The curriculum rule itself (promotion / demotion / neutral, off-map truncation) is tested on
# scripted trajectories in tests/test_curriculum.py.


def test_terrain_samples_rotate_with_the_trunk_yaw():
    """Height samples are taken in the body-yaw frame: with the trunk turned 90 deg, the sample
    'ahead' of a foot (+0.1 m in body x) lands on the world +y side of it."""
    from mjx_envs.measurements import Measurements
    from model import terrain

    spec = terrain.DEFAULT_TERRAIN
    ctx = logic.make_context(SimulationConfig(world="rough"), EnvConfig(terrain_observation=True), GaitConfig())
    ys = np.linspace(-spec.size_y, spec.size_y, spec.nrow)
    ctx = dataclasses.replace(ctx, heights=np.repeat((0.5 * ys)[:, None], spec.ncol, axis=1).astype(np.float32))
    feet = jnp.array([[0.2, -0.1, 0.0], [0.2, 0.1, 0.0], [-0.2, -0.1, 0.0], [-0.2, 0.1, 0.0]])

    def samples(yaw):
        meas = Measurements(
            qpos=jnp.zeros(19),
            qvel=jnp.zeros(18),
            trunk_pos=jnp.array([0.0, 0.0, 0.3]),
            trunk_quat=jnp.array([np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]),
            lin_vel=jnp.zeros(3),
            ang_vel=jnp.zeros(3),
            global_lin_vel=jnp.zeros(3),
            joint_pos=jnp.zeros(12),
            joint_vel=jnp.zeros(12),
            foot_force=jnp.zeros(4),
            foot_pos=feet,
            foot_vel=jnp.zeros((4, 3)),
            body_contact_force=jnp.zeros(9),
            actuator_force=jnp.zeros(12),
            body_probe_pos=jnp.zeros((0, 3)),
        )
        pts = np.asarray(logic.terrain_sample_points(meas))
        return pts, np.asarray(logic._terrain_samples(ctx, meas)).reshape(4, 5)

    # offsets: centre, +x, -x, +y, -y (body-yaw frame); heights rise 0.5 m per m of world y
    pts, h = samples(0.0)
    np.testing.assert_allclose(pts[:, 1] - pts[:, 0], [[0.1, 0.0]] * 4, atol=1e-6)
    np.testing.assert_allclose(h[:, 1] - h[:, 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(h[:, 3] - h[:, 0], 0.05, atol=1e-5)
    pts, h = samples(np.pi / 2)
    np.testing.assert_allclose(pts[:, 1] - pts[:, 0], [[0.0, 0.1]] * 4, atol=1e-6)  # ahead = world +y
    np.testing.assert_allclose(pts[:, 3] - pts[:, 0], [[-0.1, 0.0]] * 4, atol=1e-6)  # left = world -x
    np.testing.assert_allclose(h[:, 1] - h[:, 0], 0.05, atol=1e-5)
    np.testing.assert_allclose(h[:, 2] - h[:, 0], -0.05, atol=1e-5)
    np.testing.assert_allclose(h[:, 3] - h[:, 0], 0.0, atol=1e-5)
    np.testing.assert_allclose(h[:, 0], 0.5 * np.asarray(feet[:, 1]), atol=1e-5)


def test_gym_reset_seeding_and_curriculum_level():
    """reset(seed=s) gives the same episode whatever came before; only a finished episode moves
    env.terrain_level (by the curriculum rule); options={'terrain_level': k} pins the level."""
    import mujoco

    env = ResidualWalkEnv(world="rough", env=EnvConfig(episode_length_s=0.5))
    first = [env.reset(seed=7) for _ in range(3)]
    level = first[0][1]["terrain_level"]
    for obs, info in first[1:]:
        np.testing.assert_array_equal(obs, first[0][0])
        assert info["terrain_level"] == level
        np.testing.assert_array_equal(info["command"], first[0][1]["command"])
    assert env.terrain_level == level
    # an unstepped or unfinished episode does not move the level
    _, info = env.reset()
    assert info["terrain_level"] == level
    for _ in range(5):
        *_, term, trunc, _ = env.step(np.zeros(12, np.float32))
        assert not (term or trunc)
    _, info = env.reset()
    assert info["terrain_level"] == level == env.terrain_level
    # other episodes before do not change what reset(seed=7) gives
    obs, info = env.reset(seed=7)
    np.testing.assert_array_equal(obs, first[0][0])
    # a finished episode moves it: a fall is demoted ...
    env.reset(seed=7, options={"terrain_level": 3})
    assert env.terrain_level == 3
    env.data.qpos[2] -= 0.2  # trunk 0.1 m above ground: below min_base_height
    mujoco.mj_forward(env.model, env.data)
    *_, term, trunc, _ = env.step(np.zeros(12, np.float32))
    assert term and not trunc and env.terrain_level == 2
    _, info = env.reset()
    assert info["terrain_level"] == 2
    # ... and a timed-out one moves per next_level (25 steps of nominal gait)
    for _ in range(25):
        *_, term, trunc, _ = env.step(np.zeros(12, np.float32))
        if term or trunc:
            break
    assert trunc and not term
    assert env.terrain_level == int(logic.next_level(env.ctx, env.episode_info))
    # stepping past the end does not move it again
    moved = env.terrain_level
    env.step(np.zeros(12, np.float32))
    assert env.terrain_level == moved


def test_rgb_array_render():
    import os

    if os.environ.get("MUJOCO_GL") not in ("osmesa", "egl", "glfw"):
        pytest.skip("no offscreen GL configured (install libosmesa6 and set MUJOCO_GL=osmesa)")
    env = ResidualWalkEnv(render_mode="rgb_array", width=160, height=120)
    env.reset(seed=0)
    frame = env.render()
    env.close()
    assert frame.shape == (120, 160, 3) and frame.std() > 5


@pytest.mark.slow
def test_mjx_step_applies_per_env_domain_randomisation():
    """Two envs in one vmapped step, identical except for their DR draw, evolve differently;
    with equal draws they evolve identically."""
    on = DomainRandomization(**{n: RandomRange(True, getattr(DomainRandomization(), n).range) for n in logic.DR_NAMES})
    cfg = EnvConfig(domain_randomization=on)
    env = MjxResidualWalk(env=cfg)
    s = jax.jit(env.reset)(jax.random.PRNGKey(0))
    batch = jax.tree.map(lambda x: jnp.stack([x, x]), s)
    dr = jax.tree.map(lambda x: jnp.stack([x, x]), s.info["dr"])
    dr = {**dr, "trunk_mass": jnp.array([0.0, 1.5]), "motor_strength": dr["motor_strength"].at[1].multiply(0.85)}
    batch = batch.replace(info={**batch.info, "dr": dr})
    step = jax.jit(jax.vmap(env.step))
    for _ in range(10):
        batch = step(batch, jnp.zeros((2, 12)))
    qpos = np.asarray(batch.data.qpos)
    assert np.abs(qpos[0] - qpos[1]).max() > 1e-3  # heavier, weaker robot sags differently
    same = batch.replace(info={**batch.info, "dr": jax.tree.map(lambda x: jnp.stack([x[0], x[0]]), dr)})
    same = jax.tree.map(lambda x: jnp.stack([x[0], x[0]]), same)
    same = step(same, jnp.zeros((2, 12)))
    np.testing.assert_array_equal(np.asarray(same.data.qpos[0]), np.asarray(same.data.qpos[1]))

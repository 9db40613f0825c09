"""The batched C-MuJoCo back end (mjx_envs/cmujoco_physics.py, batched_logic.py, vector_env.py,
cmujoco_env.py, packing.py, backends.py).

* The vector env reproduces N single Gymnasium envs (seeds seed + i) bit for bit (tolerance 0;
  measured 0.0 on flat and rough), through auto-resets, with pushes, observation noise and
  per-world domain randomisation on.
* Only finished worlds are reset; the others continue untouched.
* Each world of a randomised batch simulates its own model (the draws of its episode).
* The Brax-side env (``CMujocoResidualWalk``, physics through ``jax.pure_callback``) agrees with
  the vector env (measured 4.8e-7 on observations after 100 steps: the same float32 logic fused
  into one XLA program rounds differently; tolerance 1e-4), hence with MJX as closely as the
  Gymnasium twin does (tests/test_residual_env.py; measured directly: observation error after 60
  zero-action steps 5.2e-6, as for the twin).
* Gymnasium's env checker on the single env; vector-env API shapes and dtypes.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from gait.gait_config import GaitConfig
from mjx_envs import episode_logic as logic
from mjx_envs.backends import make_env, resolve_backend
from mjx_envs.cmujoco_env import CMujocoResidualWalk
from mjx_envs.cmujoco_physics import BatchedPhysics, warm_start
from mjx_envs.env_config import DomainRandomization, EnvConfig, ObservationNoise, Pushes
from mjx_envs.gym_env import ResidualWalkEnv
from mjx_envs.packing import Packer
from mjx_envs.vector_env import ResidualWalkVectorEnv
from model.simulation_config import SimulationConfig

ROBUST = EnvConfig(
    episode_length_s=0.4,  # 20 steps: several auto-resets in a short test
    pushes=Pushes(enabled=True, interval=(0.04, 0.1), velocity=(0.2, 0.6)),
    observation_noise=ObservationNoise(enabled=True),
    domain_randomization=DomainRandomization(
        **{
            k: dataclasses.replace(getattr(DomainRandomization(), k), enabled=True)
            for k in ("friction", "trunk_mass", "com_offset", "link_mass", "motor_strength", "kp", "kv")
        }
    ),
)


def _actions(n, steps, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (steps, n, 12)).astype(np.float32) * 0.5


@pytest.mark.parametrize("world", ["flat", "rough"])
def test_vector_env_reproduces_single_envs_bit_for_bit(world):
    n, steps = 3, 45
    vec = ResidualWalkVectorEnv(n, env=ROBUST, world=world, metrics=True)
    singles = [ResidualWalkEnv(env=ROBUST, world=world, metrics=True) for _ in range(n)]
    obs_v, info_v = vec.reset(seed=11)
    obs_s = np.stack([e.reset(seed=11 + i)[0] for i, e in enumerate(singles)])
    np.testing.assert_array_equal(obs_v, obs_s)
    resets = 0
    for a in _actions(n, steps):
        obs_v, rew_v, term_v, trunc_v, info_v = vec.step(a)
        for i, e in enumerate(singles):
            o, r, te, tr, inf = e.step(a[i])
            assert (te, tr) == (bool(term_v[i]), bool(trunc_v[i]))
            assert r == rew_v[i]
            assert inf["metrics"]["vel_tracking_error"] == info_v["metrics"]["vel_tracking_error"][i]
            if te or tr:
                np.testing.assert_array_equal(info_v["final_obs"][i], o)
                assert info_v["_final_obs"][i]
                o, _ = e.reset()
                resets += 1
                assert vec.terrain_level[i] == e.terrain_level  # the curriculum moved both alike
            np.testing.assert_array_equal(obs_v[i], o)
            np.testing.assert_array_equal(vec.qpos[i], e.data.qpos)  # float64 physics state, exact
            np.testing.assert_array_equal(vec.qvel[i], e.data.qvel)
    assert resets >= 2 * n  # every world ended (time limit, 20 steps) at least twice
    # domain randomisation: every world has its own draws
    friction = vec.read_info("dr/friction")
    assert len(np.unique(friction)) == n


def test_each_world_simulates_its_own_randomised_model():
    n = 4
    vec = ResidualWalkVectorEnv(n, env=ROBUST, world="flat")
    vec.reset(seed=3)
    models = vec.physics.models(vec._dr)
    assert len({id(m) for m in models}) == n
    single = ResidualWalkEnv(env=ROBUST)
    for i in range(n):
        single.reset(seed=3 + i)
        for field in logic.DR_FIELDS:
            np.testing.assert_array_equal(getattr(models[i], field), getattr(single.model, field), err_msg=field)
    assert len({float(m.geom_friction[0, 0]) for m in models}) == n
    # without randomisation the shared model is used, no copies
    plain = ResidualWalkVectorEnv(n, world="flat")
    plain.reset(seed=0)
    assert all(m is plain.model for m in plain.physics.models(plain._dr))


def test_only_finished_worlds_are_reset():
    n = 3
    vec = ResidualWalkVectorEnv(n, world="flat")
    vec.reset(seed=5)
    a = np.zeros((n, 12), np.float32)
    for _ in range(5):
        vec.step(a)
    before_q = vec.qpos
    before_cmd = vec.read_info("command")
    # tip world 1 upside down: it must terminate (tilt) at the next step, the others continue
    vec._state[1, vec.physics.qpos_slice][3:7] = [0.0, 1.0, 0.0, 0.0]
    obs, rew, term, trunc, info = vec.step(a)
    assert term.tolist() == [False, True, False] and not trunc.any()
    assert info["_final_obs"].tolist() == [False, True, False]
    steps = vec.read_info("step")
    assert steps.tolist() == [6, 0, 6]  # world 1 starts a new episode, the others count on
    np.testing.assert_array_equal(vec.read_info("command")[[0, 2]], before_cmd[[0, 2]])
    assert np.abs(vec.qpos[[0, 2], :3] - before_q[[0, 2], :3]).max() < 0.05  # continued, not respawned
    assert vec.qpos[1, 2] > 0.2 and vec.qpos[1, 3] > 0.9  # respawned upright


def test_vector_env_api_and_errors():
    n = 2
    vec = ResidualWalkVectorEnv(n, world="flat")
    assert vec.observation_space.shape == (n, vec.ctx.observation_size)
    assert vec.action_space.shape == (n, 12)
    with pytest.raises(RuntimeError, match="reset"):
        vec.step(np.zeros((n, 12), np.float32))
    obs, info = vec.reset(seed=0)
    assert obs.dtype == np.float32 and vec.observation_space.contains(obs)
    with pytest.raises(ValueError, match="actions must have shape"):
        vec.step(np.zeros((n + 1, 12), np.float32))
    with pytest.raises(ValueError, match="terrain_type"):
        vec.reset(options={"terrain_type": 99})  # no such terrain type
    with pytest.raises(ValueError, match="num_envs"):
        ResidualWalkVectorEnv(0)
    # extreme and non-finite actions never produce NaN
    for a in (np.full((n, 12), 1e9, np.float32), np.full((n, 12), np.nan, np.float32)):
        obs, rew, *_ = vec.step(a)
        assert np.isfinite(obs).all() and np.isfinite(rew).all()
    # Gymnasium has no vector-env checker (1.4): its single-env checks, done by hand on the batch
    o1, _ = vec.reset(seed=4)
    o2, _ = vec.reset(seed=4)
    np.testing.assert_array_equal(o1, o2)  # seeded reset is deterministic
    o3, *_ = vec.step(np.zeros((n, 12), np.float32))
    assert not np.shares_memory(o2, o3) and vec.observation_space.contains(o3)  # returned data not reused
    assert not np.array_equal(vec.reset(seed=5)[0], o1)  # another seed, another episode
    vec.close()
    check_env(ResidualWalkEnv(), skip_render_check=True)


def test_packer_round_trip_is_exact():
    ctx = logic.make_context(SimulationConfig(), ROBUST, GaitConfig())
    _, _, info = logic.sample_episode(ctx, jax.random.PRNGKey(7), 0, 0)
    p = Packer.of(info)
    bufs = jax.tree.map(np.asarray, p.pack(info))
    assert set(bufs) == {"float32", "int32", "uint32"}
    back = p.unpack(bufs)
    for a, b in zip(jax.tree.leaves(info), jax.tree.leaves(back)):
        assert np.asarray(a).dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), b)
    np.testing.assert_array_equal(p.read(bufs, "rng"), np.asarray(info["rng"]))
    with pytest.raises(KeyError, match="no leaf"):
        p.read(bufs, "nope")


def test_warm_start_rebuilds_mujocos_own():
    import mujoco

    env = ResidualWalkEnv()
    env.reset(seed=0)
    m, d = env.model, env.data
    for _ in range(3):
        v0 = d.qvel.copy()
        mujoco.mj_step(m, d)
    np.testing.assert_allclose(warm_start(v0, d.qvel, m.opt.timestep), d.qacc_warmstart, atol=1e-8)


@pytest.fixture(scope="module")
def brax_side():
    sim = SimulationConfig(world="flat", backend="cmujoco")
    env = make_env(sim)
    assert isinstance(env, CMujocoResidualWalk)
    return env, jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))


def test_brax_side_env_matches_vector_env(brax_side):
    env, reset, step = brax_side
    n = 3
    keys = jax.random.split(jax.random.PRNGKey(3), n)
    s = reset(keys)
    vec = ResidualWalkVectorEnv(n, world="flat")
    obs, _ = vec.reset(options={"keys": np.asarray(keys)})
    np.testing.assert_array_equal(np.asarray(s.obs), obs)
    err = 0.0
    for a in _actions(n, 60, seed=1):
        s = step(s, jnp.asarray(a))
        obs, *_ = vec.step(a)
        err = max(err, float(np.abs(np.asarray(s.obs) - obs).max()))
    assert err < 1e-4
    np.testing.assert_allclose(np.asarray(s.data.qpos), vec.qpos, atol=1e-5)
    # the float64 state travels bit for bit in data.bits
    bits = np.asarray(s.data.bits).view(np.float64)
    np.testing.assert_array_equal(bits[:, vec.physics.qpos_slice].astype(np.float32), np.asarray(s.data.qpos))


def test_brax_side_reset_from_forwards_only_finished_worlds(brax_side):
    env, reset, step = brax_side
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    s = reset(keys)
    s = s.replace(done=jnp.asarray([0.0, 1.0, 0.0]))
    fresh = jax.jit(jax.vmap(env.reset_from))(keys, s)
    q = np.asarray(fresh.data.qpos)
    assert np.all(q[[0, 2]] == 0.0) and q[1, 2] > 0.2  # only world 1 was forwarded
    # unbatched calls work too (a batch of one inside the callback)
    one = jax.jit(env.step)(jax.jit(env.reset)(keys[0]), jnp.zeros(12))
    assert one.obs.shape == (env.observation_size,) and np.isfinite(float(one.reward))


def test_backend_resolution():
    assert resolve_backend(SimulationConfig(backend="mjx")) == "mjx"
    assert resolve_backend(SimulationConfig(backend="cmujoco")) == "cmujoco"
    expected = "cmujoco" if jax.default_backend() == "cpu" else "mjx"
    assert resolve_backend(SimulationConfig()) == expected
    from model.yaml_config import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        SimulationConfig().replace(backend="warp")
    with pytest.raises(ConfigError, match="threads"):
        SimulationConfig().replace(threads=-1)
    assert BatchedPhysics(logic.make_context(SimulationConfig(threads=1), EnvConfig(), GaitConfig()), 1).nthread == 1


def test_physics_calls_from_several_threads_match_serial_calls():
    """Under pmap each device's callback arrives from its own thread; the shared rollout and
    MjData are locked, so two halves stepped concurrently equal the same halves stepped in turn
    (without the lock this crashed: a segfault in a 2-device training run)."""
    import threading

    vec = ResidualWalkVectorEnv(8, env=ROBUST, world="flat")
    vec.reset(seed=5)
    phys, state, dr = vec.physics, np.array(vec._state), np.array(vec._dr)
    rng = np.random.default_rng(0)
    ctrl = np.asarray(vec.model.qpos0[7:], np.float64) + rng.normal(0, 0.2, (8, vec.model.nu))
    halves = [slice(0, 4), slice(4, 8)]
    serial = [phys.step(state[h], ctrl[h], None, dr[h]) for h in halves]
    out = [None, None]

    def work(k):
        for _ in range(20):  # many overlapping calls
            out[k] = phys.step(state[halves[k]], ctrl[halves[k]], None, dr[halves[k]])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        np.testing.assert_array_equal(out[k][0], serial[k][0])
        np.testing.assert_array_equal(out[k][1], serial[k][1])
    assert phys.step_batch_sizes == {4}


def test_warp_impl_is_refused_clearly_without_cuda(tmp_path):
    """simulation.impl=warp (MuJoCo Warp) names every reason it cannot run on this machine (no CUDA,
    no warp module), in the API and in the CLI (exit 2, before anything compiles); where both are
    present it is accepted. The C-MuJoCo back end refuses it everywhere."""
    import subprocess
    import sys

    from mjx_envs.backends import check_impl
    from model.yaml_config import ConfigError

    assert check_impl(SimulationConfig()) == "jax"
    import importlib.util

    on_gpu, has_warp = jax.default_backend() == "gpu", importlib.util.find_spec("warp") is not None
    with pytest.raises(ConfigError, match="MJX back end only"):  # on any machine
        check_impl(SimulationConfig(impl="warp", backend="cmujoco"))
    with pytest.raises(ConfigError, match="choices|must be one of"):
        SimulationConfig().replace(impl="cuda")
    if on_gpu and has_warp:
        assert check_impl(SimulationConfig(impl="warp", backend="mjx")) == "warp"
        return
    with pytest.raises(ConfigError, match="cannot run here") as e:
        check_impl(SimulationConfig(impl="warp", backend="mjx"))
    assert ("NVIDIA GPUs only" in str(e.value)) == (not on_gpu)
    assert ("'warp' module is not installed" in str(e.value)) == (not has_warp)
    if not on_gpu:
        assert "default device here is 'cpu'" in str(e.value)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "train",
            "--preset",
            "ci_tiny",
            "--output-dir",
            str(tmp_path),
            "simulation.backend=mjx",
            "simulation.impl=warp",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout[-1000:] + proc.stderr[-2000:]
    assert "simulation.impl=warp (MuJoCo Warp) cannot run here" in proc.stdout + proc.stderr


def test_randomised_worlds_copy_a_texture_free_model_with_the_same_physics():
    """Each randomised world holds its own model copy; the copies come from the model compiled
    without textures (56 kB instead of 5.5 MB for the flat world: 4,096 worlds took 23 GB and
    the kernel killed the run) and step bit for bit like the full model."""
    import mujoco

    from mjx_envs.cmujoco_physics import pool_source

    ctx = logic.make_context(SimulationConfig(world="flat"), EnvConfig(), GaitConfig())
    lean = pool_source(ctx)
    assert lean.ntexdata == 0 and ctx.mj_model.ntexdata > 0
    assert lean.nbuffer < 0.02 * ctx.mj_model.nbuffer  # measured 56,211 vs 5,561,811 bytes
    runs = []
    for m in (ctx.mj_model, lean):
        d = mujoco.MjData(m)
        mujoco.mj_resetDataKeyframe(m, d, 0)
        d.ctrl[:] = m.key_ctrl[0]
        for _ in range(200):
            mujoco.mj_step(m, d)
        runs.append(np.concatenate([d.qpos, d.qvel, d.sensordata]))
    assert np.array_equal(runs[0], runs[1])
    edited = ctx.mj_model.__copy__()
    edited.body_mass[1] += 1.0  # a caller's own edit: the copies keep it
    assert pool_source(dataclasses.replace(ctx, mj_model=edited)) is edited

"""SB3 PPO on the Gymnasium twin (train/sb3.py): a smoke run that trains, checkpoints, exports,
and whose export reproduces SB3's own deterministic actions; resume and bad input.

The smoke run is ``python -m train.sb3 --preset ci_tiny --output-dir runs_rel`` in a subprocess
from a temporary working directory (a relative output directory, as a newcomer types it)."""

import glob
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="SB3 path needs the 'sb3' extra: pip install -e '.[sb3]'")

from deploy.policy_loader import load_policy  # noqa: E402
from train import sb3 as sb3_train  # noqa: E402
from train.checkpoints import CheckpointError  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sb3_run(tmp_path_factory):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    root = str(tmp_path_factory.mktemp("sb3"))
    proc = subprocess.run(
        [sys.executable, "-m", "train.sb3", "--preset", "ci_tiny", "--output-dir", "runs_rel", "--name", "smoke"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = glob.glob(os.path.join(root, "runs_rel", "*_smoke"))
    model = PPO.load(os.path.join(run, sb3_train.FINAL_MODEL), device="cpu")
    from train.config import load_resolved_config

    cfg = load_resolved_config(os.path.join(run, "config.yaml"))
    venv = DummyVecEnv([lambda: sb3_train.make_gym_env(cfg)])
    vn = VecNormalize.load(os.path.join(run, sb3_train.FINAL_VECNORM), venv)
    vn.training = False
    out = {"run_dir": run, "model": model, "vec_normalize": vn, "num_timesteps": int(model.num_timesteps), "root": root}
    return out, proc.stdout.splitlines()


def test_smoke_run_trains_checkpoints_and_exports(sb3_run):
    out, lines = sb3_run
    run = out["run_dir"]
    assert out["num_timesteps"] >= 1024
    for f in (
        "config.yaml",
        sb3_train.FINAL_MODEL,
        sb3_train.FINAL_VECNORM,
        "export/policy.msgpack",
        "export/normalizer.npz",
        "export/meta.json",
    ):
        assert os.path.isfile(os.path.join(run, f)), f
    steps, model_zip, vn = sb3_train.latest_sb3_checkpoint(run)
    assert steps >= 512 and os.path.isfile(model_zip) and os.path.isfile(vn)
    tb = [f for _, _, fs in os.walk(os.path.join(run, "tensorboard")) for f in fs if "tfevents" in f]
    assert tb, "no TensorBoard event file"
    from train.progress import read_scalars

    scalars = read_scalars(os.path.join(run, "tensorboard"))
    assert "env_reward_terms/tracking_lin_vel" in scalars and "env/fell_per_step" in scalars
    assert any("export" in line for line in lines)


def test_sb3_export_matches_sb3_predict(sb3_run):
    out, _ = sb3_run
    model, vn = out["model"], out["vec_normalize"]
    pol = load_policy(out["run_dir"])
    assert pol.meta["backend"] == "sb3" and pol.obs_clip == pytest.approx(vn.clip_obs)
    obs = np.random.default_rng(0).normal(size=(32, pol.observation_size)).astype(np.float32) * 3.0
    want, _ = model.predict(vn.normalize_obs(obs), deterministic=True)
    want = np.clip(want, -1.0, 1.0)
    np.testing.assert_allclose(pol.act(obs), want, atol=1e-5)


def test_sb3_resume_relative_with_override(sb3_run):
    """--resume with a relative run path and an override: the override is recorded (config.yaml and
    config_history/), training continues to the new total, and a network-size change is refused."""
    import yaml

    from train.run_dir import config_history

    out, _ = sb3_run
    run, root = out["run_dir"], out["root"]
    rel = os.path.join("runs_rel", os.path.basename(run))
    cwd = os.getcwd()
    os.chdir(root)
    try:
        res = sb3_train.main(["--resume", rel, "sb3.total_timesteps=1536"], console=lambda *_: None)
        assert sb3_train.cli(["--resume", rel, "ppo.policy_hidden_layer_sizes=[8]"]) == 2
    finally:
        os.chdir(cwd)
    assert res["run_dir"] == run and res["num_timesteps"] >= 1536
    hist = config_history(run)
    assert len(hist) == 2
    assert yaml.safe_load(open(hist[0]))["sb3"]["total_timesteps"] == 1024
    assert yaml.safe_load(open(hist[1]))["sb3"]["total_timesteps"] == 1536
    assert yaml.safe_load(open(os.path.join(run, "config.yaml")))["sb3"]["total_timesteps"] == 1536


def test_sb3_resume_and_errors(sb3_run, tmp_path):
    out, _ = sb3_run
    with pytest.raises(CheckpointError, match="not an SB3 run directory"):
        sb3_train.main(["--resume", str(tmp_path)])
    (tmp_path / "config.yaml").write_text(open(os.path.join(out["run_dir"], "config.yaml")).read())
    with pytest.raises(CheckpointError, match="no SB3 checkpoint"):
        sb3_train.main(["--resume", str(tmp_path)])
    assert sb3_train.cli(["--preset", "nope"]) == 2


# ---------------------------------------------------------------------------- batched back end
def _batched(n, episode_length_s=0.2, **kw):
    from mjx_envs.env_config import EnvConfig
    from mjx_envs.vector_env import ResidualWalkVectorEnv
    from train.sb3_vec_env import BatchedSB3VecEnv

    env = EnvConfig(episode_length_s=episode_length_s)
    return BatchedSB3VecEnv(ResidualWalkVectorEnv(n, env=env, world="flat", nthread=2, metrics=True), **kw), env


def test_batched_vec_env_under_vec_check_nan():
    """SB3's VecCheckNan over the adapter: random steps across episode ends, no NaN/inf, SB3 shapes."""
    from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor

    base, _ = _batched(4)
    venv = VecCheckNan(VecMonitor(base), raise_exception=True)
    try:
        venv.seed(3)
        obs = venv.reset()
        assert obs.shape == (4, base.observation_space.shape[0]) and obs.dtype == np.float32
        rng = np.random.default_rng(0)
        ended = 0
        for _ in range(25):
            obs, rew, done, infos = venv.step(rng.uniform(-1, 1, (4,) + base.action_space.shape).astype(np.float32))
            assert obs.shape[0] == rew.shape[0] == done.shape[0] == len(infos) == 4
            assert rew.dtype == np.float32 and done.dtype == bool
            assert base.last_metrics.shape == (4, len(base.metric_names)) and np.isfinite(base.last_metrics).all()
            for i in np.flatnonzero(done):
                assert "episode" in infos[i] and "terminal_observation" in infos[i]
                ended += 1
        assert ended >= 4  # 10-step episodes: every world ended at least twice
        assert venv.env_is_wrapped(object) == [False] * 4
        assert venv.get_attr("terrain_level", indices=[1, 2]) == [0, 0]
        venv.set_attr("terrain_level", 0, indices=1)
        assert venv.get_attr("ctx")[0] is base.venv.ctx
        with pytest.raises(NotImplementedError, match="subset"):
            venv.set_attr("foo", 1, indices=[0])
        with pytest.raises(NotImplementedError, match="not separate envs"):
            venv.env_method("reset")
        with pytest.raises(AttributeError):
            venv.get_attr("no_such_attribute")
    finally:
        venv.close()


def test_batched_vec_env_matches_single_envs():
    """World i of the adapter = a single ResidualWalkEnv reset with seed + i (and re-reset without a
    seed at each episode end, as DummyVecEnv does), bit for bit: obs, rewards, dones,
    terminal_observation, TimeLimit.truncated, per-world info and metrics."""
    from mjx_envs.gym_env import ResidualWalkEnv

    n, seed, steps = 3, 11, 24
    venv, env_cfg = _batched(n, per_world_metrics=True)
    singles = [ResidualWalkEnv(env=env_cfg, world="flat", metrics=True) for _ in range(n)]
    try:
        venv.seed(seed)
        obs = venv.reset()
        want = np.stack([e.reset(seed=seed + i)[0] for i, e in enumerate(singles)])
        np.testing.assert_array_equal(obs, want)
        rng = np.random.default_rng(5)
        ends = 0
        for _ in range(steps):
            act = rng.uniform(-1, 1, (n,) + venv.action_space.shape).astype(np.float32)
            obs, rew, done, infos = venv.step(act)
            for i, e in enumerate(singles):
                o, r, term, trunc, info = e.step(act[i])
                assert rew[i] == np.float32(r) and done[i] == (term or trunc)
                assert infos[i]["terrain_level"] == info["terrain_level"] and infos[i]["step"] == info["step"]
                assert infos[i]["metrics"] == info["metrics"]
                if term or trunc:
                    ends += 1
                    np.testing.assert_array_equal(infos[i]["terminal_observation"], o)
                    assert infos[i]["TimeLimit.truncated"] == (trunc and not term)
                    o, _ = e.reset()
                else:
                    assert "terminal_observation" not in infos[i] and "TimeLimit.truncated" not in infos[i]
                np.testing.assert_array_equal(obs[i], o)
        assert ends >= n  # each world finished at least one 10-step episode
    finally:
        venv.close()
        for e in singles:
            e.close()


def test_sb3_thread_keys_are_validated():
    from model.yaml_config import ConfigError
    from train.config import load_train_config

    cfg = load_train_config(preset="ci_tiny", overrides=["sb3.threads=1", "sb3.torch_threads=0"])
    assert cfg.sb3.threads == 1 and cfg.sb3.torch_threads == 0
    for bad in ("sb3.threads=-1", "sb3.torch_threads=-2"):
        with pytest.raises(ConfigError, match="out of range"):
            load_train_config(preset="ci_tiny", overrides=[bad])

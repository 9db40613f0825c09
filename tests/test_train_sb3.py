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

from train import sb3 as sb3_train  # noqa: E402
from train.checkpoints import CheckpointError  # noqa: E402
from train.export import load_policy  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sb3_run(tmp_path_factory):
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    root = str(tmp_path_factory.mktemp("sb3"))
    proc = subprocess.run([sys.executable, "-m", "train.sb3", "--preset", "ci_tiny", "--output-dir", "runs_rel",
                           "--name", "smoke"], cwd=root, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run,) = glob.glob(os.path.join(root, "runs_rel", "*_smoke"))
    model = PPO.load(os.path.join(run, sb3_train.FINAL_MODEL), device="cpu")
    from train.config import load_resolved_config

    cfg = load_resolved_config(os.path.join(run, "config.yaml"))
    venv = DummyVecEnv([lambda: sb3_train.make_gym_env(cfg)])
    vn = VecNormalize.load(os.path.join(run, sb3_train.FINAL_VECNORM), venv)
    vn.training = False
    out = {"run_dir": run, "model": model, "vec_normalize": vn, "num_timesteps": int(model.num_timesteps),
           "root": root}
    return out, proc.stdout.splitlines()


def test_smoke_run_trains_checkpoints_and_exports(sb3_run):
    out, lines = sb3_run
    run = out["run_dir"]
    assert out["num_timesteps"] >= 1024
    for f in ("config.yaml", sb3_train.FINAL_MODEL, sb3_train.FINAL_VECNORM, "export/policy.msgpack",
              "export/normalizer.npz", "export/meta.json"):
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

"""Brax PPO over several local devices (it pmaps over all of them), on 2 fake CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=2``): the batch is split across the devices and
the run gives the same export as on one device, in shape — on both physics back ends: C MuJoCo
(the CPU default; its physics callback is called once per device) and MJX (the GPU path; this is
also the CI test that ``simulation.backend=mjx`` trains and exports end to end). Subprocesses,
because the device count is fixed when JAX starts."""

import glob
import os
import subprocess
import sys

import pytest

from train.progress import read_progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TWO_DEVICES = "--xla_force_host_platform_device_count=2"


def _run(args, tmp_path, flags=TWO_DEVICES):
    env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "") + " " + flags).strip(), JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-m", "train", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["cmujoco", "mjx"])
def test_training_splits_the_batch_over_two_devices(backend, tmp_path):
    proc = _run(
        ["--preset", "ci_tiny", "--output-dir", str(tmp_path), "--name", "two", f"simulation.backend={backend}"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert "2 envs on each of 2 devices" in proc.stdout
    (run_dir,) = glob.glob(os.path.join(str(tmp_path), "*_two"))
    (dev,) = read_progress(run_dir, "device")
    assert dev["jax_devices"] == 2 and dev["envs_per_device"] == 2, dev
    assert dev["physics"].startswith(backend), dev
    if backend == "cmujoco":
        # the C-MuJoCo physics was called with each device's half of the 4 envs, never the whole batch
        (batches,) = read_progress(run_dir, "physics_batches")
        assert batches["sizes"] == [2], batches
    assert read_progress(run_dir, "done")[-1]["step"] == 480

    from deploy.policy_loader import load_policy

    pol = load_policy(run_dir)
    shapes = [tuple(w.shape) for w, _ in pol.layers]
    width = pol.action_size if pol.output_rule == "clip_mean" else 2 * pol.action_size  # train/export.py
    assert shapes == [(pol.observation_size, 16), (16, 16), (16, width)], shapes
    assert pol.act(pol.obs_mean[None].astype("float32")).shape == (1, pol.action_size)


def test_a_batch_that_does_not_split_is_refused(tmp_path):
    """ppo.num_envs must divide among the devices: a clear ConfigError before anything compiles."""
    proc = _run(
        [
            "--preset",
            "ci_tiny",
            "--output-dir",
            str(tmp_path),
            "--name",
            "odd",
            "ppo.num_envs=3",
            "ppo.batch_size=3",
            "ppo.num_minibatches=2",
        ],
        tmp_path,
    )
    assert proc.returncode != 0
    assert "must be a multiple of the 2 local JAX devices" in proc.stdout + proc.stderr, proc.stderr[-2000:]

"""Brax PPO training end to end (train/brax_ppo.py, train/checkpoints.py, train/progress.py).

One module fixture does the expensive part once (MJX + PPO compilation dominates: ~3 min cold on a
2-core CPU, ~1.5 min with the persistent JAX cache):

1. ``python -m train --preset cpu_flat --output-dir runs_rel`` cut to 2 epochs of 15,360 env
   steps (64 envs, flat world) runs in a subprocess **from a temporary working directory with a
   relative output directory** (as a newcomer's ``make train`` does) and is killed with SIGKILL as
   soon as its first checkpoint is complete (the second epoch takes another ~20 s, so the kill
   lands mid-run);
2. ``python -m train --resume runs_rel/RUN run.early_stopping.patience=7`` (in this process, from
   the same working directory: a relative run path and an override that leaves the compiled
   computations alone, so the persistent JAX cache the killed process filled serves the resumed
   one) continues from that checkpoint and finishes, exporting the policy.

The tests then check the products: checkpoints, TensorBoard logs with every reward term, the step
count continuing across the kill, the export reproducing the in-memory policy's actions, corrupt
checkpoints raising clear errors, and the learning signal: the evaluation reward of the trained
policy rises above the zero-residual policy's on the same flat-world episodes. (The uninterrupted
8-epoch curve is in benchmarks/results/learning_signal_cpu.md: +2.2 % after 107k steps.)
"""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from train.checkpoints import (
    STATE_FILE,
    CheckpointError,
    list_checkpoints,
    load_checkpoint,
    load_latest,
    read_optimizer_state,
    read_state,
)
from train.progress import TB_SUBDIR, read_progress, read_scalars

pytestmark = pytest.mark.slow

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRESET = "cpu_flat"  # the first CPU default: flat world, 64 envs
OVERRIDES = [
    "ppo.num_timesteps=30720",
    "ppo.num_evals=3",
    "run.export_policy=final",
    "run.early_stopping.enabled=false",
]
TOTAL = 30720
RESUME_OVERRIDE = "run.early_stopping.patience=7"  # recorded for the resumed segment (cpu_flat: 3)


def _wait_for_checkpoint(run_root, proc, timeout):
    t0 = time.time()
    while time.time() - t0 < timeout:
        done = glob.glob(os.path.join(run_root, "*", "checkpoints", "*", STATE_FILE))
        if done:
            return done
        if proc.poll() is not None:
            return []
        time.sleep(0.05)
    return []


@pytest.fixture(scope="module")
def killed_and_resumed(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("runs"))  # the working directory of both processes
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(REPO, ".jax_cache"))
    log_path = os.path.join(root, "killed.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "train",
                "--preset",
                PRESET,
                "--output-dir",
                "runs_rel",
                "--name",
                "kill",
                *OVERRIDES,
            ],
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            found = _wait_for_checkpoint(os.path.join(root, "runs_rel"), proc, timeout=900)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert found, f"no checkpoint appeared; log:\n{open(log_path).read()[-3000:]}"
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed; make it longer"
    (run_dir,) = glob.glob(os.path.join(root, "runs_rel", "*_kill"))
    killed_at = list_checkpoints(run_dir)[-1][0]
    killed_snapshot = os.path.join(root, "snapshot")  # the run dir as the kill left it
    shutil.copytree(run_dir, killed_snapshot)

    from train.__main__ import main

    lines = []
    cwd = os.getcwd()
    os.chdir(root)
    try:
        result = main(
            ["--resume", os.path.join("runs_rel", os.path.basename(run_dir)), RESUME_OVERRIDE], console=lines.append
        )
    finally:
        os.chdir(cwd)
    return {
        "run_dir": run_dir,
        "killed_at": killed_at,
        "result": result,
        "lines": lines,
        "snapshot": killed_snapshot,
        "root": root,
    }


def test_killed_run_resumes_and_continues_step_count(killed_and_resumed):
    r = killed_and_resumed
    res = r["result"]
    assert 0 < r["killed_at"] < TOTAL
    assert res.start_step == r["killed_at"]
    assert res.final_step == TOTAL
    rows = read_progress(r["run_dir"])
    resume = [x for x in rows if x["kind"] == "resume"]
    assert len(resume) == 1 and resume[0]["step"] == r["killed_at"]
    after = rows[rows.index(resume[0]) + 1 :]
    eval_steps = [x["step"] for x in after if x["kind"] == "eval"]
    assert eval_steps and min(eval_steps) > r["killed_at"] and max(eval_steps) == TOTAL
    assert eval_steps == sorted(eval_steps)
    assert not any(x["kind"] == "zero_residual" for x in after), "resume must not restart at step 0"
    assert any("resuming from checkpoint" in line for line in r["lines"])
    # checkpoints cover the whole run, before and after the kill
    steps = [s for s, _ in list_checkpoints(r["run_dir"])]
    assert steps[-1] == TOTAL and r["killed_at"] in steps
    # the resumed process keeps the run's preset name and clock (exports and time-to-walk read them)
    final_state = read_state(list_checkpoints(r["run_dir"])[-1][1])
    killed_state = read_state(dict(list_checkpoints(r["snapshot"]))[r["killed_at"]])
    assert final_state["preset"] == PRESET
    assert final_state["wall_time_s"] > killed_state["wall_time_s"] > 0


def test_resumed_run_starts_from_checkpoint_params(killed_and_resumed):
    """The restored normaliser keeps counting: a fresh start would have fewer observations."""
    r = killed_and_resumed
    (norm_killed, _, _), state = load_checkpoint(os.path.join(r["snapshot"], "checkpoints", f"{r['killed_at']:012d}"))
    norm_final = r["result"].params[0]
    assert state["step"] == r["killed_at"]
    # restored statistics keep counting (a fresh normaliser would hold only the post-resume half)
    from train.export import normalizer_count

    assert normalizer_count(norm_final) > 1.5 * normalizer_count(norm_killed)


def test_logs_have_reward_terms_and_progress(killed_and_resumed):
    r = killed_and_resumed
    scalars = read_scalars(os.path.join(r["run_dir"], TB_SUBDIR))
    for tag in (
        "eval/reward",
        "eval/zero_residual_reward",
        "eval/fall_rate",
        "eval/episode_length",
        "eval/vel_tracking_error_per_step",
        "eval/ik_saturated_per_step",
        "eval/actuator_saturated_per_step",
        "eval_reward_terms/tracking_lin_vel",
        "eval_reward_terms/foot_slip",
        "eval_reward_terms/energy",
        "ppo/total_loss",
        "ppo/kl_mean",
    ):
        assert tag in scalars, f"missing TensorBoard tag {tag}; have {sorted(scalars)[:40]}"
    import dataclasses

    from mjx_envs.env_config import RewardWeights

    for term in dataclasses.asdict(RewardWeights()):
        assert f"eval_reward_terms/{term}" in scalars
    # (no training episode finishes here: 240 steps per env per epoch < the 250-step episode, and the
    # resumed run starts fresh episodes; train/episode_* tags appear in longer runs.)
    assert max(s for s, _ in scalars["eval/reward"]) == TOTAL
    assert all(np.isfinite(v) for _, v in scalars["eval/reward"])
    assert os.path.isfile(os.path.join(r["run_dir"], "config.yaml"))
    done = read_progress(r["run_dir"], "done")
    assert done and done[-1]["step"] == TOTAL
    dev = read_progress(r["run_dir"], "device")
    assert dev and dev[0]["device_name"].startswith("cpu-"), dev  # benchmarks name results files by it
    # simulation.backend: auto trains on the batched C-MuJoCo back end on a CPU-only machine
    assert dev[0]["physics"].startswith("cmujoco"), dev


def test_export_plays_in_both_backends(killed_and_resumed):
    """The export of the C-MuJoCo-trained run drives the MJX env and the C-MuJoCo env alike: the
    same episode (key) under the policy ends up in the same place (trunk within 1 cm after 1 s;
    the twins' physics differ by float32 rounding, parity measured ~1e-6 m) and walks forward."""
    from deploy.policy_loader import load_policy
    from mjx_envs.cmujoco_env import CMujocoResidualWalk
    from mjx_envs.residual_walk import MjxResidualWalk
    from train.config import load_resolved_config

    r = killed_and_resumed
    pol = load_policy(r["run_dir"])
    cfg = load_resolved_config(os.path.join(r["run_dir"], "config.yaml"))
    envs = {
        "mjx": MjxResidualWalk(cfg.simulation, cfg.env, cfg.gait),
        "cmujoco": CMujocoResidualWalk(cfg.simulation, cfg.env, cfg.gait),
    }
    keys = jax.random.split(jax.random.PRNGKey(21), 2)
    final = {}
    for name, env in envs.items():
        reset, step = jax.jit(jax.vmap(env.reset)), jax.jit(jax.vmap(env.step))
        s = reset(keys)
        x0 = np.asarray(s.data.qpos[:, 0])
        for _ in range(50):
            s = step(s, jnp.asarray(pol.act(np.asarray(s.obs))))
            assert not np.asarray(s.done).any(), name
        final[name] = (np.asarray(s.data.qpos[:, :3]), np.asarray(s.info["distance"]), x0)
    np.testing.assert_allclose(final["mjx"][0], final["cmujoco"][0], atol=0.01)
    assert (final["cmujoco"][1] > 0.1).all(), final  # commands are 0.2-0.5 m/s forward: > 0.1 m in 1 s


def test_export_reproduces_in_memory_policy(killed_and_resumed):
    from deploy.policy_loader import load_policy
    from mjx_envs.residual_walk import MjxResidualWalk
    from train.config import load_resolved_config

    r = killed_and_resumed
    res = r["result"]
    pol = load_policy(r["run_dir"])
    meta = pol.meta
    assert meta["backend"] == "brax" and meta["training"]["env_steps"] == TOTAL
    assert meta["training"]["exported_step"] == TOTAL and res.export_step == TOTAL  # run.export_policy=final
    assert meta["action"]["residual_max"] == pytest.approx(0.05)
    assert meta["config"]["run"]["early_stopping"]["patience"] == 7  # the resumed segment's config
    assert [c["name"] for c in meta["observation_layout"]][0] == "gravity"
    cfg = load_resolved_config(os.path.join(r["run_dir"], "config.yaml"))
    env = MjxResidualWalk(cfg.simulation, cfg.env, cfg.gait)
    assert pol.observation_size == env.observation_size and pol.action_size == env.action_size
    # realistic observations (a few env states) plus wide random ones
    obs = np.random.default_rng(0).normal(size=(64, env.observation_size)).astype(np.float32) * 2.0
    inference = res.make_policy(res.params, deterministic=True)
    want, _ = jax.jit(inference)(jnp.asarray(obs), jax.random.PRNGKey(0))
    want = np.clip(np.asarray(want), -1.0, 1.0)  # the env clips 'normal' policy actions to [-1, 1]
    got = pol.act(obs)
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert np.abs(want).max() > 1e-4, "policy outputs all zero: the comparison would be vacuous"


def test_learning_signal_beats_zero_residual(killed_and_resumed):
    """Flat world, 30k env steps on 2 CPU cores: the evaluation reward (fixed episodes) rises above
    the zero-residual policy's (the nominal trot alone), before and after the kill/resume."""
    r = killed_and_resumed
    rows = read_progress(r["run_dir"])
    zero = [x for x in rows if x["kind"] == "zero_residual"][0]["reward"]
    evals = {x["step"]: x["reward"] for x in rows if x["kind"] == "eval"}
    assert set(evals) == {0, TOTAL // 2, TOTAL}
    msg = f"zero-residual {zero:.2f}, evaluations {evals}"
    assert abs(evals[0] - zero) < 0.02 * abs(zero), "the initial policy should be ~ the nominal trot; " + msg
    assert evals[TOTAL] > zero + 1.0, msg
    assert evals[TOTAL] > evals[0], msg
    # the best evaluation's parameters are kept in best/
    best = list_checkpoints(r["run_dir"], "best")
    assert best and best[-1][0] == max(evals, key=evals.get), msg


def test_corrupt_or_missing_checkpoints_raise_clear_errors(killed_and_resumed, tmp_path):
    r = killed_and_resumed
    run = str(tmp_path / "run")
    shutil.copytree(r["run_dir"], run)
    ckpts = list_checkpoints(run)
    assert len(ckpts) >= 2
    newest, older = ckpts[-1][1], ckpts[-2][1]
    with open(os.path.join(newest, STATE_FILE), "w") as fh:
        fh.write("{not json")
    said = []  # an unreadable newest checkpoint: the one before it, saying so, the bad one set aside
    assert load_latest(run, log=said.append)[0] == ckpts[-2][0]
    assert "unreadable (checkpoint state file is corrupt" in said[0] and os.path.isdir(newest + ".unreadable")
    garbled = 0
    for f in glob.glob(os.path.join(older, "**", "*"), recursive=True):
        if os.path.isfile(f) and os.path.basename(f) not in (STATE_FILE, "ppo_network_config.json"):
            with open(f, "wb") as fh:
                fh.write(b"garbage")
            garbled += 1
    assert garbled
    with pytest.raises(CheckpointError, match="missing or corrupt"):
        load_checkpoint(older)
    if len(ckpts) == 2:
        with pytest.raises(CheckpointError, match="no readable checkpoint.*missing or corrupt"):
            load_latest(run)
    shutil.rmtree(os.path.join(run, "checkpoints"))
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_latest(run)
    from train.__main__ import cli

    assert cli(["--resume", run]) == 2


def test_export_any_checkpoint_cli(killed_and_resumed, tmp_path, capsys):
    from train import export as ex

    r = killed_and_resumed
    out = str(tmp_path / "exp")
    assert ex.main([r["run_dir"], "--step", str(r["killed_at"]), "--out", out]) == 0
    pol = ex.load_policy(out)
    assert pol.meta["training"]["env_steps"] == r["killed_at"]
    # the final checkpoint exported this way equals the run's own export
    final = str(tmp_path / "final")
    assert ex.main([r["run_dir"], "--out", final]) == 0
    obs = np.random.default_rng(1).normal(size=(8, pol.observation_size)).astype(np.float32)
    np.testing.assert_allclose(ex.load_policy(final).act(obs), ex.load_policy(r["run_dir"]).act(obs), atol=1e-6)
    # a relative run path works too (orbax itself refuses relative checkpoint paths)
    rel = os.path.relpath(r["run_dir"])
    assert ex.main([rel, "--step", str(r["killed_at"]), "--out", str(tmp_path / "rel")]) == 0
    np.testing.assert_allclose(ex.load_policy(str(tmp_path / "rel")).act(obs), pol.act(obs), atol=1e-6)
    assert ex.main([r["run_dir"], "--step", "7"]) == 2
    assert "no checkpoint for step 7" in capsys.readouterr().err


def test_benchmark_scripts_quick_on_this_run(killed_and_resumed, tmp_path):
    """benchmarks/learning_signal.py and benchmarks/time_to_walk.py (--quick) on the run above write
    well-formed results."""
    import json as _json

    from benchmarks import learning_signal, time_to_walk

    r = killed_and_resumed
    out = str(tmp_path / "results")
    ls = learning_signal.main(["--from-run", r["run_dir"], "--out", out])
    assert ls["env_steps"] == TOTAL and len(ls["curve"]) == 3
    data = _json.load(open(glob.glob(os.path.join(out, "learning_signal_*.json"))[0]))
    assert data["zero_residual_reward"] == pytest.approx(ls["zero_residual_reward"])
    assert glob.glob(os.path.join(out, "learning_signal_*.png"))
    tw = time_to_walk.main(["--from-run", r["run_dir"], "--quick", "--all", "--out", out])
    assert [c["step"] for c in tw["checkpoints"]] == [s for s, _ in list_checkpoints(r["run_dir"])]
    for c in tw["checkpoints"] + [tw["nominal"]]:
        assert 0.0 <= c["success_rate"] <= 1.0 and np.isfinite(c["distance_m_mean"])
    md = open(glob.glob(os.path.join(out, "time_to_walk_*_quick.md"))[0]).read()
    assert "Time to walk" in md and "| env steps |" in md
    # the bar on the suite tiles where the nominal gait fails: one 2-s episode per tile
    ts = time_to_walk.main(
        ["--from-run", r["run_dir"], "--quick", "--bar", "configs/walk_bar_suite.yaml", "--out", out]
    )
    assert ts["bar"]["world"] == "suite" and ts["nominal"]["success_rate"] is not None
    md = open(glob.glob(os.path.join(out, "time_to_walk_suite_*_quick.md"))[0]).read()
    assert "Time to walk on the hard suite tiles" in md and "stepping_stones levels 2, 3, 4, 5" in md


def test_relative_paths_resume_overrides_and_optimizer_state(killed_and_resumed, capsys):
    """The run lives where the relative --output-dir said; --resume keeps its override
    (config.yaml + config_history/), each checkpoint exports with the config that produced it, and
    Adam's state crosses the kill."""
    import yaml

    from train.optimizer_state import adam_count
    from train.run_dir import config_history

    r = killed_and_resumed
    run = r["run_dir"]
    assert os.path.isabs(r["result"].run_dir) and r["result"].run_dir == run
    assert os.path.dirname(run) == os.path.join(r["root"], "runs_rel")
    hist = config_history(run)
    assert [os.path.basename(h) for h in hist] == ["000_step000000000000.yaml", f"001_step{r['killed_at']:012d}.yaml"]
    seg = [yaml.safe_load(open(h)) for h in hist]
    assert seg[0]["run"]["early_stopping"]["patience"] == 3
    assert seg[1]["run"]["early_stopping"]["patience"] == 7
    assert yaml.safe_load(open(os.path.join(run, "config.yaml")))["run"]["early_stopping"]["patience"] == 7
    for step, path in list_checkpoints(run):  # each checkpoint keeps the config of its own segment
        want = 3 if step <= r["killed_at"] else 7
        assert yaml.safe_load(open(os.path.join(path, "config.yaml")))["run"]["early_stopping"]["patience"] == want
    # train.export of the first checkpoint, as a subprocess from the runs' working directory with a
    # relative run path: meta.json carries the first segment's config, not the resumed one's
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "train.export",
            os.path.join("runs_rel", os.path.basename(run)),
            "--step",
            str(r["killed_at"]),
            "--out",
            "exp_first",
        ],
        cwd=r["root"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    meta = json.load(open(os.path.join(r["root"], "exp_first", "meta.json")))
    for section in ("env", "ppo", "run"):
        assert meta["config"][section] == seg[0][section], section
    # Adam's state was restored: the step count continues (a fresh Adam would count only the
    # post-resume updates, equal in number to the pre-kill ones)
    restore = read_progress(run, "optimizer_restore")
    assert restore and restore[0]["restored"] is True, restore
    ckpts = dict(list_checkpoints(run))
    before = adam_count(read_optimizer_state(ckpts[r["killed_at"]]))
    after = adam_count(read_optimizer_state(ckpts[TOTAL]))
    assert before > 0 and after == 2 * before, (before, after)
    assert any("optimizer state restored" in line for line in r["lines"])
    # resuming with another network size is refused before any compilation, naming the key
    from train.__main__ import cli

    capsys.readouterr()
    assert cli(["--resume", run, "ppo.policy_hidden_layer_sizes=[32, 32]"]) == 2
    err = capsys.readouterr().err
    assert "ppo.policy_hidden_layer_sizes" in err and "cannot resume" in err, err
    assert cli(["--resume", run, "env.terrain_observation=true"]) == 2
    assert "env.terrain_observation" in capsys.readouterr().err


def test_export_uses_the_action_scale_the_checkpoint_was_trained_with(killed_and_resumed, tmp_path):
    """A resume with env.residual_max changed: train.export of a step before the change writes the
    old scale into meta.json (what the policy's actions mean), not the run's newer config.yaml.
    (The scale is set in the copied run's per-checkpoint configs, as such a resume writes them.)"""
    import yaml

    from train import export as ex

    r = killed_and_resumed
    run = str(tmp_path / "run")
    shutil.copytree(r["run_dir"], run)
    ckpts = dict(list_checkpoints(run))

    def set_scale(path, value):
        data = yaml.safe_load(open(path))
        data["env"]["residual_max"] = value
        yaml.safe_dump(data, open(path, "w"))

    set_scale(os.path.join(run, "config.yaml"), 0.03)  # the latest segment: 0.03
    set_scale(os.path.join(ckpts[TOTAL], "config.yaml"), 0.03)
    assert ex.main([run, "--step", str(r["killed_at"]), "--out", str(tmp_path / "first")]) == 0
    assert ex.main([run, "--step", str(TOTAL), "--out", str(tmp_path / "last")]) == 0
    assert ex.load_policy(str(tmp_path / "first")).meta["action"]["residual_max"] == pytest.approx(0.05)
    assert ex.load_policy(str(tmp_path / "last")).meta["action"]["residual_max"] == pytest.approx(0.03)

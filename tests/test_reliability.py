"""Faults and bad input an adversarial user tried: each case ends in a clear message and a sane
exit status, never a segfault, a kernel OOM kill, a half-written log or a raw traceback.

Cases of other modules live with their module's tests (playback output paths and per-episode
records: test_evaluate.py, test_safety.py, test_playback.py, test_benchmarks.py; the robot check:
test_model_check.py). The one subprocess test here costs ~10 s (start-up to the first compilation).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------- Ctrl-C


def test_ctrl_c_during_the_first_compilation_exits_cleanly_and_honestly(tmp_path):
    """SIGINT while XLA compiles: exit 130 (not a SIGSEGV in the interpreter's teardown), a
    message that says no checkpoint exists yet (not "resume with --resume RUN_DIR"), and no
    empty run directory left behind."""
    out = tmp_path / "runs"
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "cold_cache"), PYTHONUNBUFFERED="1")
    # a process started in the background ignores SIGINT and passes that on: handle it while the
    # child starts, so the child gets the default action (and Python its KeyboardInterrupt)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "train", "--preset", "ci_tiny", "--output-dir", str(out)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, before)
    seen = []
    deadline = time.time() + 240
    for line in proc.stdout:  # the run announces itself right before the first compilation
        seen.append(line)
        if "JIT compilation" in line or time.time() > deadline:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        rest, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert any("JIT compilation" in s for s in seen), "".join(seen)[-2000:]
    assert proc.returncode == 130, (proc.returncode, err[-3000:])
    assert "Fatal Python error" not in err and "RUN_DIR" not in err
    assert "interrupted before the first checkpoint: nothing to resume" in err, err[-2000:]
    assert not out.exists() or os.listdir(out) == []


def test_ctrl_c_inside_a_gc_callback_is_raised_at_the_next_training_callback():
    """Python swallows a KeyboardInterrupt raised in a gc callback ("Exception ignored in
    _xla_gc_callback": the run went on to the end, 1 of 3 tries); the handler notes it there and
    ``check_interrupt`` (every epoch's callback) raises it."""
    import gc

    from train import interrupts as ce

    ce._REQUESTED.clear()
    seen = []

    def callback(phase, info):
        if phase == "start" and not seen:
            seen.append(True)
            ce._on_sigint(signal.SIGINT, sys._getframe())  # must not raise here

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert seen
    with pytest.raises(KeyboardInterrupt):
        ce.check_interrupt()
    ce._REQUESTED.clear()
    with pytest.raises(KeyboardInterrupt):  # anywhere else: at once
        ce._on_sigint(signal.SIGINT, sys._getframe())
    ce._REQUESTED.clear()
    ce.check_interrupt()
    with pytest.raises(KeyboardInterrupt):  # inside a checkpoint write: when the write is done
        with ce.deferred_interrupts():
            ce._on_sigint(signal.SIGINT, sys._getframe())
            seen.append("finished")
    assert seen[-1] == "finished"
    ce._REQUESTED.clear()


def test_interrupt_message_names_the_checkpoint_and_the_command(tmp_path):
    from train.cli_errors import interrupt_message

    run = tmp_path / "run"
    (run / "checkpoints" / "000000000320").mkdir(parents=True)
    (run / "checkpoints" / "000000000320" / "train_state.json").write_text('{"step": 320}')
    (run / "checkpoints" / "000000000480").mkdir()  # a checkpoint whose write was cut: not complete
    msg = interrupt_message(str(run), fresh=True)
    assert "step 320" in msg and f"python -m train --resume {run}" in msg
    assert run.is_dir()  # a run with a checkpoint is never removed
    empty = tmp_path / "empty"
    (empty / "tensorboard").mkdir(parents=True)
    assert "nothing to resume" in interrupt_message(str(empty), fresh=True) and not empty.exists()
    kept = tmp_path / "resumed"
    kept.mkdir()
    assert "nothing to resume" in interrupt_message(str(kept), fresh=False) and kept.is_dir()


# ----------------------------------------------------------------------------- memory and presets


def test_memory_estimate_refuses_what_does_not_fit_before_allocating(tmp_path, capsys):
    """``ppo.num_envs=100000000`` was a raw RESOURCE_EXHAUSTED after 38 s with an empty run
    directory left; now an ``error:`` naming the key in seconds, and no run directory."""
    from train.__main__ import cli

    out = tmp_path / "runs"
    t0 = time.time()
    rc = cli(["--preset", "ci_tiny", "--output-dir", str(out), "ppo.num_envs=100000000", "ppo.batch_size=100000000"])
    err = capsys.readouterr().err
    assert rc == 2 and "GB of host memory" in err and "ppo.batch_size" in err and "--no-memory-check" in err
    assert time.time() - t0 < 30 and not out.exists()


def test_memory_estimate_parts_and_advice():
    """The gpu preset on a CPU (4,096 randomised C-MuJoCo worlds, the OOM kill of the report)
    on an 8 GB machine: refused, naming num_envs with how many fit and the randomisation."""
    from train.config import load_train_config
    from train.resources import GB, ResourceError, check_memory, estimate_memory

    cfg = load_train_config(preset="gpu", overrides=["simulation.world=flat", "run.eval_world=flat"])
    cpu = dict(backend="cmujoco", platform="cpu", device_bytes=None, num_devices=1)
    est = estimate_memory(cfg, host_available=8 * GB, **cpu)
    # 4,224 texture-free flat worlds of 56 kB (measured model size) = 0.24 GB
    assert est.host["world copies"] == pytest.approx(4224 * 56211, rel=0.05)
    assert not est.device and est.fits_host
    tight = estimate_memory(cfg, host_available=1.7 * GB, **cpu)
    assert not tight.fits_host
    with pytest.raises(ResourceError, match=r"ppo.num_envs=4096 \(about [\d,]+ fit.*ppo.batch_size=256"):
        check_memory(cfg, console=lambda s: None, host_available=2.1 * GB, **cpu)
    with pytest.raises(ResourceError, match=r"even one environment does not fit"):
        check_memory(cfg, console=lambda s: None, host_available=1.7 * GB, **cpu)
    lines = []
    check_memory(cfg, console=lines.append, skip=True, host_available=1.7 * GB, **cpu)
    assert lines[0].startswith("memory estimate:") and lines[1].startswith("warning: this run needs")
    gpu = estimate_memory(
        cfg, backend="mjx", platform="gpu", device_bytes=80 * GB, num_devices=2, host_available=64 * GB
    )
    assert set(gpu.device) == {"env states", "rollout", "networks"} and gpu.fits_device
    assert gpu.device_total == pytest.approx(sum(gpu.device.values()) / 2)


def test_presets_that_set_the_same_key_differently_are_refused():
    from model.yaml_config import ConfigError
    from train.config import load_train_config

    with pytest.raises(ConfigError, match=r"ppo.num_envs \(ci_tiny: 4, gpu: 4096\)"):
        load_train_config(preset="ci_tiny,gpu")
    assert load_train_config(preset="cpu_small,direct").env.action_mode == "direct"


# ----------------------------------------------------------------------------- YAML


def test_yaml_alias_bomb_and_huge_values_give_short_errors(tmp_path):
    from model.yaml_config import ConfigError, from_dict, read_yaml
    from train.config import PPOConfig, load_train_config

    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("presets:\n" + "".join(f"  {r}\n" for r in rows))
    t0 = time.time()
    with pytest.raises(ConfigError, match="aliases") as e:
        read_yaml(bomb)
    assert len(str(e.value)) < 400 and time.time() - t0 < 5
    with pytest.raises(ConfigError, match="learning_rate") as e:
        load_train_config(preset="ci_tiny", overrides=["ppo.learning_rate=[" + ",".join(["1"] * 3000) + "]"])
    assert len(str(e.value)) < 600
    with pytest.raises(ConfigError) as e:
        from_dict(PPOConfig, {"activation": "x" * 1_000_000})
    assert len(str(e.value)) < 400
    (tmp_path / "big.yaml").write_text("a: " + "x" * 5_000_000)
    with pytest.raises(ConfigError, match="at most"):
        read_yaml(tmp_path / "big.yaml")
    with pytest.raises(ConfigError, match="UTF-8"):
        (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00bad")
        read_yaml(tmp_path / "bin.yaml")


# ----------------------------------------------------------------------------- progress.jsonl


def _rows(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_progress_log_partial_line_and_records_past_the_resumed_checkpoint(tmp_path):
    """A crash mid-write leaves a partial last line: reading skips it, the next logger cuts it off
    before appending; a resume from step 160 moves the stopped run's records past 160 aside, so
    the learning curve has one evaluation per step."""
    from train.progress import PROGRESS_FILE, SUPERSEDED_FILE, ProgressLogger, read_progress

    run = str(tmp_path)
    log = ProgressLogger(run, 480, console=lambda s: None, tensorboard=False)
    for step in (0, 160, 320):
        log.record("eval", step, {"reward": float(step)})
    log.close()
    with open(os.path.join(run, PROGRESS_FILE), "a", encoding="utf-8") as fh:
        fh.write('{"kind": "eval", "step": 48')  # killed mid-write
    assert [r["step"] for r in read_progress(run, "eval")] == [0, 160, 320]
    said = []
    log = ProgressLogger(run, 480, console=said.append, tensorboard=False, start_step=160, resumed=True)
    log.record("eval", 320, {"reward": 1.0})
    log.close()
    assert [(r["step"], r["reward"]) for r in read_progress(run, "eval")] == [(0, 0.0), (160, 160.0), (320, 1.0)]
    assert [(r["step"], r["superseded_at"]) for r in _rows(os.path.join(run, SUPERSEDED_FILE))] == [(320, 160)]
    assert "partial last line (27 bytes)" in said[0] and "moved 1 record(s) past step 160" in said[0]


# ----------------------------------------------------------------------------- checkpoints


def _tiny_run(tmp_path, steps=(160, 320)):
    """A run directory with real brax checkpoints of the ci_tiny networks (no training)."""
    from random_policy_export import write_brax_checkpoints

    from train.config import load_train_config

    return write_brax_checkpoints(str(tmp_path / "run"), load_train_config(preset="ci_tiny"), steps)


def _damage(path):
    for root, _, files in os.walk(path):
        if os.path.basename(root) == "d":
            for f in files:
                with open(os.path.join(root, f), "wb") as fh:
                    fh.write(b"\x00garbage")


def test_unreadable_newest_checkpoint_falls_back_and_says_so(tmp_path, capfd):
    from train import export as ex
    from train.checkpoints import load_latest, load_newest_readable
    from train.run_dir import CONFIG_FILE

    run = _tiny_run(tmp_path)
    _damage(os.path.join(run, "checkpoints", "000000000320"))
    os.remove(os.path.join(run, CONFIG_FILE))  # the run's config lost: each checkpoint has its own
    assert ex.main([run]) == 0
    out, err = capfd.readouterr()
    assert "step 320 unreadable" in out and "using step 160" in out and "exported step 160" in out
    assert "Event loop is closed" not in err and "Traceback" not in err
    assert ex.main([run, "--step", "320"]) == 2
    err = capfd.readouterr().err
    assert "--step N (other steps: 160)" in err and "Traceback" not in err
    said = []
    step, _, _, _ = load_latest(run, log=said.append)
    assert step == 160 and any("set aside" in s for s in said)
    assert os.path.isdir(os.path.join(run, "checkpoints", "000000000320.unreadable"))
    assert load_newest_readable(run)[0] == 160  # the set-aside one is no longer listed


def test_unwritable_outputs_are_refused_at_start(tmp_path, capsys):
    from train import export as ex
    from train.__main__ import cli

    afile = tmp_path / "afile"
    afile.write_text("a regular file")
    assert cli(["--preset", "ci_tiny", "--output-dir", str(afile / "runs")]) == 2
    err = capsys.readouterr().err
    assert "error: --output-dir" in err and "is a file, not a directory" in err
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    assert ex.main([str(run), "--out", str(afile / "x")]) == 2
    assert "error: --out" in capsys.readouterr().err


# ----------------------------------------------------------------------------- the Gymnasium twin


def test_gymnasium_env_refuses_a_wrong_action_shape():
    from mjx_envs.gym_env import ResidualWalkEnv

    env = ResidualWalkEnv()
    env.reset(seed=0)
    for bad in (np.zeros(11), np.zeros((1, 12)), np.zeros((2, 12))):
        with pytest.raises(ValueError, match=r"action must have shape \(12,\)"):
            env.step(bad)
    obs, *_ = env.step(np.zeros(12))
    assert np.all(np.isfinite(obs))
    env.close()

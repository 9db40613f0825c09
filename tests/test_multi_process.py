"""Two ``python -m train`` processes on one machine, one CPU device each, joined by
``jax.distributed`` (gloo collectives over localhost): a multi-host run in miniature.

What is checked: each process steps half of ``ppo.num_envs``; only process 0 evaluates,
checkpoints, exports and writes the run directory; the export has the shape of a single-process
run's; a single-process ``--resume`` continues the run; when one process is killed mid-run the
other exits within a bounded time with the resume command, and the run resumes from its last
checkpoint (here with ``python -m train.launch``). Both physics back ends train. Every process is
started with a hard timeout and killed on failure, so CI cannot hang."""

import glob
import os
import signal
import subprocess
import sys
import time

import pytest

from train.launch import free_port, process_command
from train.progress import read_progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_S = 420


def _env(cache_dir):
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]  # one device each
    return dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache_dir), XLA_FLAGS=" ".join(flags))


_STARTED = []


@pytest.fixture(autouse=True)
def _kill_leftovers():
    """Whatever happens in a test, no process it started outlives it."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _start(args, cache_dir, log_dir, name):
    out = open(os.path.join(log_dir, f"{name}.out"), "w")
    err = open(os.path.join(log_dir, f"{name}.err"), "w")
    proc = subprocess.Popen(args, cwd=ROOT, env=_env(cache_dir), stdout=out, stderr=err, text=True)
    proc.logs = (out.name, err.name)
    _STARTED.append(proc)
    return proc


def _read(proc):
    return tuple(open(p).read() for p in proc.logs)


def _wait_all(procs, timeout=TIMEOUT_S):
    """Wait for every process; on the timeout kill them all and fail."""
    deadline = time.time() + timeout
    try:
        for p in procs:
            p.wait(timeout=max(1.0, deadline - time.time()))
    except subprocess.TimeoutExpired:
        for p in procs:
            p.kill()
        pytest.fail(
            "multi-process run did not finish in time:\n" + "\n".join("\n".join(_read(p))[-3000:] for p in procs)
        )
    return [p.returncode for p in procs]


def _run_module(args, cache_dir):
    """``python -m ARGS`` to the end (killed after TIMEOUT_S), output captured."""
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, env=_env(cache_dir), capture_output=True, text=True, timeout=TIMEOUT_S
    )


def _launch_two(args, cache_dir, log_dir, tag):
    port = free_port()
    return [_start(process_command(args, port, 2, i), cache_dir, log_dir, f"{tag}{i}") for i in (0, 1)]


def _export_shapes(run_dir):
    from deploy.policy_loader import load_policy

    pol = load_policy(run_dir)
    return pol.observation_size, pol.action_size, [tuple(w.shape) for w, _ in pol.layers]


def _check_split_and_products(run_dir, out0, out1, evals):
    """Each process stepped half of the 4 envs; only process 0 evaluated (``evals``: the env steps
    of this segment's evaluations, each recorded once), checkpointed and exported."""
    dev = read_progress(run_dir, "device")[-1]
    assert (dev["processes"], dev["jax_devices"], dev["envs_per_device"]) == (2, 1, 2), dev
    assert read_progress(run_dir, "env_batches")[-1]["envs_per_device"] == [2]
    assert "process 1 of 2: stepped [2] env(s) on each of its 1 device(s)" in out1, out1[-2000:]
    assert f"process 0 wrote the run to {run_dir}" in out1
    assert [r["step"] for r in read_progress(run_dir, "eval") if r["step"] >= evals[0]] == evals
    assert "eval reward" not in out1 and "export:" not in out1 and "export:" in out0
    obs, act, layers = shapes = _export_shapes(run_dir)
    assert layers[:2] == [(obs, 16), (16, 16)] and layers[2][0] == 16, shapes
    return shapes


@pytest.mark.slow
def test_two_processes_train_and_a_killed_one_ends_the_run_cleanly(tmp_path):
    """C MuJoCo: two processes train; process 1 is killed after the first checkpoint and process 0
    stops with the resume command; two processes resume and finish the run; one process resumes
    it further."""
    out, cache = tmp_path / "runs", tmp_path / "cache"
    args = ["--preset", "ci_tiny", "--output-dir", str(out), "--name", "two", "simulation.backend=cmujoco"]
    procs = _launch_two([*args, "ppo.num_timesteps=1600", "ppo.num_evals=11"], cache, tmp_path, "k")
    deadline = time.time() + TIMEOUT_S
    run_dir = None
    while time.time() < deadline and procs[1].poll() is None:  # until process 0 checkpointed once
        found = glob.glob(os.path.join(str(out), "*_two", "progress.jsonl"))
        if found and any(r["step"] > 0 for r in read_progress(os.path.dirname(found[0]), "checkpoint")):
            run_dir = os.path.dirname(found[0])
            break
        time.sleep(0.1)
    assert run_dir is not None, "\n".join("\n".join(_read(p))[-3000:] for p in procs)
    procs[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    rc0 = _wait_all(procs[:1], timeout=120)[0]
    waited = time.time() - killed_at
    o0, e0 = _read(procs[0])
    assert rc0 == 3, o0[-2000:] + e0[-3000:]
    assert waited < 40, waited  # measured 0.13 s (its next collective fails); bound: the 30 s heartbeat
    assert "process 0 of 2: another process of this run died or stopped answering" in e0, e0[-3000:]
    assert f"python -m train --resume {run_dir}" in e0
    last = max(r["step"] for r in read_progress(run_dir, "checkpoint"))
    assert 0 < last < 1600
    assert glob.glob(os.path.join(str(out), "*")) == [run_dir]  # process 1 made no directory of its own

    # two processes started by the launcher resume it from that checkpoint and finish it
    launched = _run_module(["train.launch", "--num-processes", "2", "--", "--resume", run_dir], cache)
    assert launched.returncode == 0, launched.stdout[-3000:] + launched.stderr[-3000:]
    lines = launched.stdout.splitlines()
    o0 = "\n".join(line for line in lines if not line.startswith("[process 1] "))
    o1 = "\n".join(line[len("[process 1] ") :] for line in lines if line.startswith("[process 1] "))
    assert read_progress(run_dir, "resume")[-1]["step"] == last
    assert read_progress(run_dir, "done")[-1]["step"] == 1600
    assert read_progress(run_dir, "physics_batches")[-1]["sizes"] == [2]  # C-MuJoCo calls of 2 worlds, never 4
    shapes = _check_split_and_products(run_dir, o0, o1, list(range(last + 160, 1601, 160)))

    # one process resumes it further (Adam state included) and exports the same shapes
    resumed = _run_module(["train", "--resume", run_dir, "ppo.num_timesteps=1760", "ppo.num_evals=12"], cache)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert "at step 1,600" in resumed.stdout, resumed.stdout[-2000:]
    assert read_progress(run_dir, "optimizer_restore")[-1]["restored"] is True
    assert read_progress(run_dir, "done")[-1]["step"] == 1760
    assert read_progress(run_dir, "device")[-1]["processes"] == 1
    assert _export_shapes(run_dir) == shapes


@pytest.mark.slow
def test_two_processes_train_on_mjx(tmp_path):
    """MJX (the GPU path): two processes train ci_tiny to the end, each on its own device. Early
    stopping, which would stop a single process at step 160 (no gain of 10), is off: process 0
    alone evaluates, and process 1 could not learn of the stop inside brax's loop."""
    out = tmp_path / "runs"
    args = ["--preset", "ci_tiny", "--output-dir", str(out), "--name", "mjx", "simulation.backend=mjx"]
    args += [f"run.early_stopping.{k}" for k in ("enabled=true", "patience=1", "min_delta=10", "min_evals=1")]
    procs = _launch_two(args, tmp_path / "cache", tmp_path, "m")
    rcs = _wait_all(procs)
    (o0, e0), (o1, e1) = _read(procs[0]), _read(procs[1])
    assert rcs == [0, 0], o0[-2000:] + e0[-3000:] + o1[-2000:] + e1[-3000:]
    (run_dir,) = glob.glob(os.path.join(str(out), "*"))
    assert read_progress(run_dir, "device")[-1]["physics"].startswith("mjx")
    assert [r["step"] for r in read_progress(run_dir, "checkpoint")] == [160, 320, 480]
    assert "run.early_stopping and run.max_wall_clock_s are off in a multi-process run" in o0
    assert not read_progress(run_dir, "early_stop")
    _check_split_and_products(run_dir, o0, o1, [0, 160, 320, 480])
    assert "process 1 of 2 done at step 480" in o1


def test_launcher_refuses_flags_it_sets_and_peer_failures_are_told_apart(monkeypatch, tmp_path, capsys):
    """``train.launch`` sets the three flags itself (given ones are refused, exit 2), and only a
    collective's failure in a multi-process run counts as a lost peer."""
    import train.distributed as dist
    from train.launch import main, process_command

    assert main(["--num-processes", "2", "--", "--preset", "ci_tiny", "--process-id", "1"]) == 2
    assert "sets --process-id itself" in capsys.readouterr().err
    assert main(["--num-processes", "0", "--", "--preset", "ci_tiny"]) == 2
    assert process_command(["--preset", "x"], 1234, 2, 1)[-8:] == [
        "--preset",
        "x",
        "--coordinator",
        "localhost:1234",
        "--num-processes",
        "2",
        "--process-id",
        "1",
    ]
    gloo = ValueError("UNKNOWN: Gloo all-reduce failed: [pair.cc:538] Read error: Connection reset by peer")
    monkeypatch.setattr(dist, "process_count", lambda: 2)
    assert dist.is_peer_failure(gloo)
    assert not dist.is_peer_failure(ValueError("shapes (3,) and (4,) do not match"))
    monkeypatch.setattr(dist, "process_count", lambda: 1)
    assert not dist.is_peer_failure(gloo)  # one process: nothing to lose
    message = dist.peer_lost_message(gloo, str(tmp_path))
    assert "Gloo all-reduce failed" in message and "No checkpoint was written yet" in message

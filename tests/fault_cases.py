"""Re-run the adversarial fault and bad-input cases against the command lines (not a test module).

    MUJOCO_GL=osmesa .venv/bin/python tests/fault_cases.py [--out benchmarks/results/fault_cases.md] [-k NAME]

Each case runs one real command in a subprocess (or, for the environment cases, a few lines of
Python) and passes when the exit status is the expected one, the expected words are in its output,
and none of the forbidden ones (a traceback, a segfault, "RUN_DIR") is. It trains one ``ci_tiny``
run first (about a minute on 2 cores with a warm compilation cache) and copies it for the cases that
damage a run. The automated, CI-sized subset of these cases is ``tests/test_reliability.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Callable, List, Optional, Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
NEVER = ("Traceback (most recent call last)", "Fatal Python error", "RUN_DIR", "Segmentation fault")


@dataclasses.dataclass
class Case:
    name: str
    cmd: Callable[[str], Sequence[str]]  # work dir -> argv
    rc: int
    expect: Sequence[str] = ()
    setup: Optional[Callable[[str], None]] = None
    sigint_after: Optional[str] = None  # send SIGINT once this text appears on stdout
    timeout: float = 300.0


def _train(*args):
    return [PY, "-m", "train", *args]


def _py(code: str):
    return [PY, "-c", code]


def _copy_run(work: str, name: str) -> str:
    dst = os.path.join(work, name)
    shutil.copytree(os.path.join(work, "base"), dst)
    return dst


def _damage_newest(run: str) -> None:
    newest = sorted(glob.glob(os.path.join(run, "checkpoints", "0*")))[-1]
    for f in glob.glob(os.path.join(newest, "**", "d", "*"), recursive=True):
        with open(f, "wb") as fh:
            fh.write(b"\0garbage")


def _cut_newest(run: str) -> None:
    newest = sorted(glob.glob(os.path.join(run, "checkpoints", "0*")))[-1]
    os.remove(os.path.join(newest, "train_state.json"))  # killed during the checkpoint write


def _partial_progress(run: str) -> None:
    with open(os.path.join(run, "progress.jsonl"), "a", encoding="utf-8") as fh:
        fh.write('{"kind": "eval", "step": 48')


def _bomb(work: str) -> str:
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    rows += [f"{n}: &{n} [" + ",".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi")]
    path = os.path.join(work, "bomb.yaml")
    with open(os.path.join(REPO, "configs", "ppo_residual.yaml"), encoding="utf-8") as fh:
        text = fh.read()
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + "".join(f"  {r}\n" for r in rows))
    return path


def _file(work: str, name: str, data: bytes = b"a regular file") -> str:
    path = os.path.join(work, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _long_legs(work: str) -> str:
    """go1_style with 1 m thigh and calf links: the feet hang 2 m below the hips."""
    src = os.path.join(REPO, "model", "robots", "go1_style", "robot.xml")
    with open(src, encoding="utf-8") as fh:
        text = fh.read()
    text = text.replace("0 0 -0.213", "0 0 -1.0").replace("0 0 -0.2", "0 0 -1.0")
    path = os.path.join(work, "long_legs.xml")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path


ENV_NAN = (
    "import numpy as np; from mjx_envs.gym_env import ResidualWalkEnv; "
    "from mjx_envs.vector_env import ResidualWalkVectorEnv\n"
    "e = ResidualWalkEnv(); e.reset(seed=0)\n"
    "for v in (np.nan, np.inf, 1e30, -1e30):\n"
    "    o, r, *_ = e.step(np.full(12, v, np.float32)); assert np.isfinite(o).all() and np.isfinite(r)\n"
    "v = ResidualWalkVectorEnv(2); v.reset(seed=0)\n"
    "o, r, *_ = v.step(np.full((2, 12), np.nan, np.float32)); assert np.isfinite(o).all()\n"
    "print('finite')"
)


def cases(work: str, run: str) -> List[Case]:
    afile = os.path.join(work, "afile")
    big = "ppo.num_envs=100000000"
    return [
        # -------------------------------------------------------------- training: config and input
        Case("unknown preset", lambda w: _train("--preset", "nope"), 2, ["unknown preset 'nope'", "valid presets"]),
        Case(
            "presets that clash (ci_tiny,gpu)",
            lambda w: _train("--preset", "ci_tiny,gpu"),
            2,
            ["set the same keys", "ppo.num_envs (ci_tiny: 4, gpu: 4096)"],
        ),
        Case(
            "unknown override key",
            lambda w: _train("--preset", "ci_tiny", "ppo.num_env=4"),
            2,
            ["unknown key 'ppo.num_env'"],
        ),
        Case("wrong type", lambda w: _train("--preset", "ci_tiny", "ppo.num_envs=abc"), 2, ["must be an integer"]),
        Case("out of range", lambda w: _train("--preset", "ci_tiny", "ppo.learning_rate=5"), 2, ["out of range"]),
        Case(
            "batch not a multiple of num_envs",
            lambda w: _train("--preset", "ci_tiny", "ppo.num_envs=3"),
            2,
            ["must be a multiple of 'num_envs'"],
        ),
        Case("malformed override", lambda w: _train("--preset", "ci_tiny", "ppo.num_envs"), 2, ["malformed override"]),
        Case(
            "YAML anchor bomb under presets",
            lambda w: _train("--config", _bomb(w), "--preset", "ci_tiny"),
            2,
            ["expands to more than 200,000 values"],
        ),
        Case(
            "config is not text",
            lambda w: _train("--config", _file(w, "bin.yaml", b"\xff\xfe\0"), "--preset", "x"),
            2,
            ["not UTF-8"],
        ),
        Case(
            "config missing", lambda w: _train("--config", os.path.join(w, "none.yaml")), 2, ["config file not found"]
        ),
        Case(
            "100M envs (memory)",
            lambda w: _train(
                "--preset", "ci_tiny", "--output-dir", os.path.join(w, "r1"), big, "ppo.batch_size=100000000"
            ),
            2,
            ["GB of host memory", "--no-memory-check"],
        ),
        Case(
            "--output-dir under a regular file",
            lambda w: _train("--preset", "ci_tiny", "--output-dir", os.path.join(afile, "runs")),
            2,
            ["error: --output-dir", "is a file"],
            setup=lambda w: _file(w, "afile"),
        ),
        Case(
            "--output-dir not writable (/sys)",
            lambda w: _train("--preset", "ci_tiny", "--output-dir", "/sys/runs"),
            2,
            ["error: --output-dir", "permission denied"],
        ),
        Case(
            "--resume with --preset",
            lambda w: _train("--resume", run, "--preset", "ci_tiny"),
            2,
            ["cannot be combined"],
        ),
        Case(
            "--resume of a missing directory", lambda w: _train("--resume", os.path.join(w, "none")), 2, ["not found"]
        ),
        Case(
            "--resume of a run without checkpoints",
            lambda w: _train("--resume", os.path.join(w, "empty")),
            2,
            ["nothing to resume"],
            setup=lambda w: os.makedirs(os.path.join(w, "empty"), exist_ok=True),
        ),
        Case(
            "--resume that changes the network",
            lambda w: _train("--resume", run, "ppo.policy_hidden_layer_sizes=[8]"),
            2,
            ["cannot resume with ppo.policy_hidden_layer_sizes"],
        ),
        # -------------------------------------------------------------- training: faults
        Case(
            "Ctrl-C during the first compilation",
            lambda w: _train("--preset", "ci_tiny", "--output-dir", os.path.join(w, "r2")),
            130,
            ["interrupted before the first checkpoint: nothing to resume"],
            sigint_after="JIT compilation",
        ),
        Case(
            "Ctrl-C after a checkpoint",
            lambda w: _train("--preset", "ci_tiny", "--output-dir", os.path.join(w, "r3")),
            130,
            ["the newest checkpoint is step", "python -m train --resume"],
            sigint_after="[eval  2/",
        ),
        Case(
            "resume after a kill during a checkpoint write",
            lambda w: _train("--resume", os.path.join(w, "cut")),
            0,
            ["moved", "progress_superseded.jsonl"],
            setup=lambda w: _cut_newest(_copy_run(w, "cut")),
        ),
        Case(
            "resume with an unreadable newest checkpoint",
            lambda w: _train("--resume", os.path.join(w, "bad")),
            0,
            ["unreadable", "using step 320", "set aside"],
            setup=lambda w: _damage_newest(_copy_run(w, "bad")),
        ),
        Case(
            "resume with a partial last line in progress.jsonl",
            lambda w: _train("--resume", os.path.join(w, "partial")),
            0,
            ["dropped a partial last line"],
            setup=lambda w: (_partial_progress(r := _copy_run(w, "partial")), _cut_newest(r)),
        ),
        Case(
            "resume of a run that lost config.yaml",
            lambda w: _train("--resume", os.path.join(w, "nocfg")),
            0,
            ["is missing: resuming with the config of checkpoint"],
            setup=lambda w: (os.remove(os.path.join(r := _copy_run(w, "nocfg"), "config.yaml")), _cut_newest(r)),
        ),
        Case(
            "two runs with the same name",
            lambda w: _train("--preset", "ci_tiny", "--output-dir", os.path.join(w, "same"), "--name", "same"),
            0,
            ["_same-2"],
            setup=lambda w: os.makedirs(os.path.join(w, "same", time.strftime("%Y%m%d_%H%M") + "_same"), exist_ok=True),
        ),
        # -------------------------------------------------------------- export
        Case(
            "export --out under a regular file",
            lambda w: [PY, "-m", "train.export", run, "--out", os.path.join(afile, "x")],
            2,
            ["error: --out"],
            setup=lambda w: _file(w, "afile"),
        ),
        Case(
            "export of a missing step",
            lambda w: [PY, "-m", "train.export", run, "--step", "999"],
            2,
            ["no checkpoint for step 999"],
        ),
        Case(
            "export with an unreadable newest checkpoint",
            lambda w: [PY, "-m", "train.export", os.path.join(w, "bad2")],
            0,
            ["unreadable", "exported step 320"],
            setup=lambda w: _damage_newest(_copy_run(w, "bad2")),
        ),
        Case(
            "export --step of an unreadable checkpoint",
            lambda w: [PY, "-m", "train.export", os.path.join(w, "bad3"), "--step", "480"],
            2,
            ["--step N (other steps: 320, 160)"],
            setup=lambda w: _damage_newest(_copy_run(w, "bad3")),
        ),
        # -------------------------------------------------------------- playback
        Case(
            "evaluate --out under a regular file",
            lambda w: [PY, "-m", "evaluation.evaluate", "--policy", run, "--out", os.path.join(afile, "o")],
            2,
            ["error: --out"],
            setup=lambda w: _file(w, "afile"),
        ),
        Case(
            "evaluate a missing policy",
            lambda w: [PY, "-m", "evaluation.evaluate", "--policy", os.path.join(w, "none")],
            2,
            ["error:"],
        ),
        Case(
            "evaluate a corrupt policy file",
            lambda w: [PY, "-m", "evaluation.evaluate", "--policy", os.path.join(w, "corrupt"), "--episodes", "1"],
            2,
            ["policy.msgpack"],
            setup=lambda w: _file(os.path.join(_copy_run(w, "corrupt"), "export"), "policy.msgpack", b"garbage"),
        ),
        Case(
            "safety --out under a regular file",
            lambda w: [PY, "-m", "evaluation.safety_report", "--policy", run, "--out", os.path.join(afile, "o")],
            2,
            ["error: --out"],
            setup=lambda w: _file(w, "afile"),
        ),
        Case(
            "play --video under a regular file",
            lambda w: [PY, "-m", "playback", "--policy", run, "--video", os.path.join(afile, "v.mp4")],
            2,
            ["error: --video"],
            setup=lambda w: _file(w, "afile"),
        ),
        # -------------------------------------------------------------- environments
        Case(
            "Gymnasium env, wrong action shape",
            lambda w: _py(
                "import numpy as np; from mjx_envs.gym_env import ResidualWalkEnv\n"
                "e = ResidualWalkEnv(); e.reset(seed=0)\n"
                "try:\n    e.step(np.zeros(11))\nexcept ValueError as x:\n    print('ValueError:', x)"
            ),
            0,
            ["ValueError: action must have shape (12,)"],
        ),
        Case(
            "vector env, wrong action shape",
            lambda w: _py(
                "import numpy as np; from mjx_envs.vector_env import ResidualWalkVectorEnv\n"
                "e = ResidualWalkVectorEnv(2); e.reset(seed=0)\n"
                "try:\n    e.step(np.zeros((3, 12)))\nexcept ValueError as x:\n    print('ValueError:', x)"
            ),
            0,
            ["ValueError: actions must have shape (2, 12)"],
        ),
        Case("NaN / inf / 1e30 actions", lambda w: _py(ENV_NAN), 0, ["finite"]),
        # -------------------------------------------------------------- robots
        Case(
            "model.check of a robot with 2 m legs",
            lambda w: [PY, "-m", "model.check", _long_legs(w)],
            2,
            ["FAIL env episodes"],
        ),
        Case(
            "model.check of a missing file",
            lambda w: [PY, "-m", "model.check", os.path.join(w, "none.xml")],
            2,
            ["FAIL"],
        ),
        Case(
            "model.check of a file that is not MJCF",
            lambda w: [PY, "-m", "model.check", _file(w, "not.xml", b"<html></html>")],
            2,
            ["FAIL"],
        ),
    ]


def run_case(case: Case, work: str) -> dict:
    if case.setup is not None:
        case.setup(work)
    argv = list(case.cmd(work))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if case.sigint_after:
        env["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(dir=work)  # a cold compile to interrupt
    t0 = time.time()
    # a job started in the background ignores SIGINT and its children inherit that (Python then installs no
    # KeyboardInterrupt); with a handler set while the child starts, the child gets the default action
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    finally:
        signal.signal(signal.SIGINT, before)
    seen = []
    if case.sigint_after:
        for line in proc.stdout:
            seen.append(line)
            if case.sigint_after in line:
                time.sleep(1.0)
                proc.send_signal(signal.SIGINT)
                break
    try:
        out, err = proc.communicate(timeout=case.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    text = "".join(seen) + out + err
    missing = [e for e in case.expect if e not in text]
    bad = [n for n in NEVER if n in text]
    ok = proc.returncode == case.rc and not missing and not bad
    last = next((ln for ln in reversed(err.strip().splitlines()) if ln.strip()), "") or next(
        (ln for ln in reversed(out.strip().splitlines()) if ln.strip()), ""
    )
    if bad:  # where the forbidden text came from, for the one who fixes it
        at = text.index(bad[0])
        print(text[max(0, at - 400) : at + 2000], file=sys.stderr)
    return dict(
        name=case.name,
        ok=ok,
        rc=proc.returncode,
        want_rc=case.rc,
        missing=missing,
        bad=bad,
        seconds=time.time() - t0,
        last=last[:160],
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=None, help="write the table (Markdown) here too")
    p.add_argument("-k", default=None, help="run only the cases whose name contains this")
    args = p.parse_args(argv)
    work = tempfile.mkdtemp(prefix="fault_cases_")
    base = os.path.join(work, "base_runs")
    subprocess.run(
        _train("--preset", "ci_tiny", "--output-dir", base, "--name", "base"),
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    shutil.copytree(glob.glob(os.path.join(base, "*_base"))[0], os.path.join(work, "base"))
    run = os.path.join(work, "base")
    rows = []
    for case in cases(work, run):
        if args.k and args.k not in case.name:
            continue
        r = run_case(case, work)
        rows.append(r)
        print(
            f"{'ok  ' if r['ok'] else 'FAIL'} {r['name']}: rc {r['rc']} ({r['seconds']:.0f} s) {r['last']}"
            + (f" missing {r['missing']}" if r["missing"] else "")
            + (f" found {r['bad']}" if r["bad"] else ""),
            flush=True,
        )
    lines = ["| case | exit status (expected) | outcome | last line |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['rc']} ({r['want_rc']}) | {'ok' if r['ok'] else 'DEFECT'} | "
            f"{r['last'].replace('|', '/')} |"
        )
    lines.append(
        f"\n{sum(r['ok'] for r in rows)} of {len(rows)} cases ok "
        f"(`python tests/fault_cases.py`, {time.strftime('%Y-%m-%d')})."
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(
                "# Fault and bad-input cases\n\nMachine: " + f"{os.cpu_count()}-core CPU. Command: "
                "`MUJOCO_GL=osmesa .venv/bin/python tests/fault_cases.py --out benchmarks/results/fault_cases.md`"
                "\n\n" + "\n".join(lines) + "\n"
            )
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m train.launch``: start the processes of a multi-process run on this machine.

    python -m train.launch --num-processes 2 -- --preset ci_tiny
    python -m train.launch --num-processes 2 -- --resume runs/residual_ppo/20261207_1400

Each process is ``python -m train ARGS --coordinator localhost:PORT --num-processes N
--process-id I`` (a free port unless ``--port``). Process 0's output passes through; the others'
lines are prefixed ``[process I]``. When a process fails, the others are given ``--grace`` seconds
to stop by themselves (they do, within about a second: their next collective fails) and are then
killed, so the launch never hangs; Ctrl-C stops every process (each says how to resume). The exit status is the first
failing process's (0 when all succeed). Several hosts: start ``python -m train`` on each with the
flags above (docs/training.md, "Many GPUs").
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional, Sequence


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train.launch",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--num-processes", type=int, required=True, help="how many training processes to start (>= 1)")
    p.add_argument("--port", type=int, default=None, help="process 0's port on localhost (default: a free one)")
    p.add_argument(
        "--grace", type=float, default=60.0, help="seconds the others get to stop after one fails (then killed)"
    )
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the arguments of python -m train")
    return p


def free_port() -> int:
    """A TCP port free on localhost now."""
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def process_command(train_args: Sequence[str], port: int, n: int, i: int) -> List[str]:
    """The command line of process ``i`` of ``n``."""
    flags = ["--coordinator", f"localhost:{port}", "--num-processes", str(n), "--process-id", str(i)]
    return [sys.executable, "-m", "train", *train_args, *flags]


def _pipe(stream, prefix: str, out) -> None:
    for line in iter(stream.readline, ""):
        out.write(prefix + line)
        out.flush()


def launch(train_args: Sequence[str], n: int, port: Optional[int] = None, grace_s: float = 60.0) -> int:
    """Run ``n`` processes of ``python -m train train_args`` joined on localhost; returns the exit
    status of the first process that failed (0 when all succeeded)."""
    port = port or free_port()
    procs, threads = [], []
    for i in range(n):
        proc = subprocess.Popen(
            process_command(train_args, port, n, i),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
            start_new_session=True,  # a terminal's Ctrl-C reaches the launcher alone, which passes it on once
        )
        prefix = "" if i == 0 else f"[process {i}] "
        for stream, out in ((proc.stdout, sys.stdout), (proc.stderr, sys.stderr)):
            t = threading.Thread(target=_pipe, args=(stream, prefix, out), daemon=True)
            t.start()
            threads.append(t)
        procs.append(proc)
    status, failed_at = 0, None
    try:
        while any(p.poll() is None for p in procs):
            for i, p in enumerate(procs):
                if p.returncode not in (None, 0) and status == 0:
                    status, failed_at = p.returncode, time.time()
                    print(
                        f"train.launch: process {i} exited with status {p.returncode}; the others stop "
                        f"(killed after {grace_s:.0f} s)",
                        file=sys.stderr,
                    )
            if failed_at is not None and time.time() - failed_at > grace_s:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
            time.sleep(0.2)
    except KeyboardInterrupt:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                p.kill()
        status = 130
    for t in threads:
        t.join(timeout=5)
    if status == 0:
        status = next((p.returncode for p in procs if p.returncode != 0), 0)
    return status


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    if args.num_processes < 1:
        print("error: --num-processes must be at least 1", file=sys.stderr)
        return 2
    bad = {"--coordinator", "--num-processes", "--process-id"} & set(train_args)
    if bad:
        print(f"error: train.launch sets {', '.join(sorted(bad))} itself; leave them out", file=sys.stderr)
        return 2
    return launch(train_args, args.num_processes, args.port, args.grace)


if __name__ == "__main__":
    sys.exit(main())

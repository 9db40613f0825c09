"""Several training processes (hosts) in one run: ``python -m train --coordinator HOST:PORT
--num-processes N --process-id I`` (docs/training.md, "Many GPUs").

Brax PPO does the splitting: each process steps ``ppo.num_envs / N`` environments on its own
devices and the gradients are averaged across every device of every process. This module holds
what the run needs around it:

* :func:`init_distributed`: ``jax.distributed.initialize`` (on CPU-only processes with the gloo
  collectives over TCP, which a cross-process gradient mean needs);
* :func:`is_main` / :func:`process_label`: process 0 evaluates, checkpoints, exports and writes
  the run directory; the others write nothing;
* :func:`shared_run_dir`: every process learns the run directory process 0 created;
* :class:`PeerLost`: a collective failed because another process died, with the message a user
  needs (what happened, where the last checkpoint is, how to resume).
"""

from __future__ import annotations

import importlib.util
from typing import Optional

from model.yaml_config import ConfigError

ACCELERATOR_PLUGINS = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm_plugin")
"""JAX plugins that bring their own collectives (NCCL/RCCL); without one, CPU processes use gloo."""

HEARTBEAT_TIMEOUT_S = 30
"""Seconds after which the coordinator declares a silent process dead (jax's default is 100)."""

CONNECT_TIMEOUT_S = 300
"""Seconds a process waits for all the others to join (jax.distributed.initialize)."""

_PATH_BYTES = 4096
_joined = False  # this process called jax.distributed.initialize with more than one process


def init_distributed(coordinator: Optional[str], num_processes: Optional[int], process_id: Optional[int]) -> bool:
    """``jax.distributed.initialize`` when ``coordinator`` is given (all three needed, else
    ConfigError naming the flags). Must run before JAX starts a backend. Returns whether it
    initialised."""
    given = [coordinator is not None, num_processes is not None, process_id is not None]
    if not any(given):
        return False
    if not all(given):
        raise ConfigError("--coordinator, --num-processes and --process-id go together (jax.distributed.initialize)")
    if num_processes < 1:
        raise ConfigError(f"--num-processes {num_processes} must be at least 1")
    if not 0 <= process_id < num_processes:
        raise ConfigError(f"--process-id {process_id} must lie in 0..{num_processes - 1}")
    if ":" not in coordinator:
        raise ConfigError(
            f"--coordinator {coordinator!r} must be HOST:PORT (process 0's address), e.g. localhost:12345"
        )
    import jax

    if not has_accelerator_plugin() and jax.config.jax_platforms in (None, "", "cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(
            coordinator_address=coordinator,
            num_processes=num_processes,
            process_id=process_id,
            initialization_timeout=CONNECT_TIMEOUT_S,
            heartbeat_timeout_seconds=HEARTBEAT_TIMEOUT_S,
        )
    except Exception as e:  # XLA raises its own runtime errors for an unreachable coordinator
        first_line = (str(e).strip().splitlines() or [type(e).__name__])[0][:240]
        raise ConfigError(
            f"--coordinator {coordinator}: process {process_id} of {num_processes} could not join the run "
            f"within {CONNECT_TIMEOUT_S} s ({first_line}); start every process with the same "
            f"--coordinator and --num-processes, process 0 on that host, and check the port is free there"
        ) from None
    global _joined
    _joined = num_processes > 1
    return True


def in_multi_process_run() -> bool:
    """Whether this process joined a run of several processes (:func:`init_distributed`)."""
    return _joined


def has_accelerator_plugin() -> bool:
    """Whether a CUDA/ROCm plugin for JAX is installed (looked up without starting a backend)."""
    return any(importlib.util.find_spec(m) is not None for m in ACCELERATOR_PLUGINS)


def process_count() -> int:
    import jax

    return jax.process_count()


def is_main() -> bool:
    """Process 0 (or the only process): the one that evaluates and writes the run's files."""
    import jax

    return jax.process_index() == 0


def process_label() -> str:
    """``"process I of N"`` (empty in a single-process run), for console lines."""
    import jax

    return f"process {jax.process_index()} of {jax.process_count()}" if jax.process_count() > 1 else ""


def shared_run_dir(run_dir: Optional[str]) -> str:
    """The run directory of process 0, on every process: process 0 passes the one it created, the
    others pass None (a single-process run gets ``run_dir`` back). The directory must be on a
    filesystem every process sees for ``--resume`` (the others read its checkpoint)."""
    import jax

    if jax.process_count() == 1:
        return run_dir
    import numpy as np
    from jax.experimental import multihost_utils

    buf = np.zeros(_PATH_BYTES, np.uint8)
    if is_main():
        raw = run_dir.encode("utf-8")
        if len(raw) > _PATH_BYTES:
            raise ConfigError(f"run directory path longer than {_PATH_BYTES} bytes: {run_dir[:80]}...")
        buf[: len(raw)] = np.frombuffer(raw, np.uint8)
    got = np.asarray(multihost_utils.broadcast_one_to_all(buf))
    return bytes(got[got != 0].tolist()).decode("utf-8")


class PeerLost(RuntimeError):
    """Another process of a multi-process run died (its collectives failed); this one stops."""


PEER_FAILURE_MARKERS = ("gloo", "nccl", "connection reset", "connection closed", "heartbeat", "coordination service")
"""Words of the errors XLA raises when a collective's peer process is gone (gloo on CPUs: "Gloo
all-reduce failed: ... Connection reset by peer"; NCCL on GPUs; the coordination service)."""


def is_peer_failure(error: BaseException) -> bool:
    """Whether ``error``, raised in a multi-process run, is a collective or coordination failure
    (another process died)."""
    text = f"{type(error).__name__}: {error}".lower()
    return process_count() > 1 and any(m in text for m in PEER_FAILURE_MARKERS)


def peer_lost_message(error: BaseException, run_dir: str) -> str:
    """What a process tells the user when another process of the run died: the failure, and the
    newest checkpoint with the command that resumes from it (or that there is none)."""
    import os

    from train.checkpoints import list_checkpoints

    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:240]
    steps = [s for s, _ in list_checkpoints(run_dir)] if os.path.isdir(run_dir) else []
    head = (
        f"{process_label() or 'this process'}: another process of this run died or stopped answering ({first_line}); "
        f"this process stops too."
    )
    if not steps:
        return f"{head} No checkpoint was written yet in {run_dir}: start the run again."
    return (
        f"{head} The newest checkpoint is step {max(steps):,d}: resume with\n"
        f"  python -m train --resume {run_dir}\n"
        f"on every process with the same --coordinator/--num-processes/--process-id flags, or on one "
        f"process without them"
    )

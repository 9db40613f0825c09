"""Checkpoints of a Brax PPO run: ``RUN_DIR/checkpoints/<env step, 12 digits>/``.

Each checkpoint directory holds

* the network parameters ``(normalizer state, policy params, value params)`` written by brax's
  own ``brax.training.agents.ppo.checkpoint.save`` (an orbax PyTree checkpoint plus
  ``ppo_network_config.json``), so ``brax.training.agents.ppo.checkpoint.load_policy`` reads it;
* ``config.yaml``: the resolved training config that produced these parameters (a resumed
  run with overrides writes its own), so an export of this step uses the right action scaling;
* ``optimizer_state.msgpack``: Adam's state after this step (:mod:`train.optimizer_state`), so
  ``--resume`` continues Adam's moment estimates instead of restarting them;
* ``train_state.json``: our bookkeeping (global env step, epoch size, evaluation history for early
  stopping, wall time). It is written last, so a directory without it is an interrupted save and
  is ignored when looking for the latest checkpoint.

All paths are made absolute here (orbax refuses relative ones), whatever the caller passes.
"""

from __future__ import annotations

import contextlib
import copy
import gc
import json
import logging
import os
import re
import shutil
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from train.run_dir import CHECKPOINT_SUBDIR, CONFIG_FILE

BEST_SUBDIR = "best"
"""``RUN_DIR/best/<step>/``: the parameters of the best evaluation so far (same format, one kept)."""
STATE_FILE = "train_state.json"
CKPT_CONFIG_FILE = CONFIG_FILE
"""``<checkpoint>/config.yaml``: the resolved config of the segment that wrote the checkpoint."""
_STEP_DIR = re.compile(r"^\d{12}$")


class CheckpointError(RuntimeError):
    """A checkpoint is missing or unreadable; the message names the path."""


def checkpoint_root(run_dir: str, subdir: str = CHECKPOINT_SUBDIR) -> str:
    return os.path.join(run_dir, subdir)


def list_checkpoints(run_dir: str, subdir: str = CHECKPOINT_SUBDIR) -> List[Tuple[int, str]]:
    """Complete checkpoints of a run as ``[(step, path)]``, oldest first."""
    root = checkpoint_root(run_dir, subdir)
    if not os.path.isdir(root):
        return []
    out = []
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if _STEP_DIR.match(name) and os.path.isfile(os.path.join(path, STATE_FILE)):
            out.append((int(name), path))
    return sorted(out)


def latest_checkpoint(run_dir: str) -> Tuple[int, str]:
    """``(step, path)`` of the newest complete checkpoint; CheckpointError if there is none."""
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"run directory not found: {run_dir}")
    found = list_checkpoints(run_dir)
    if not found:
        raise CheckpointError(
            f"no checkpoint in {checkpoint_root(run_dir)} (expected <step>/ directories with "
            f"{STATE_FILE}); nothing to resume from"
        )
    return found[-1]


def save_checkpoint(
    run_dir: str,
    step: int,
    params: Tuple[Any, Any, Any],
    network_config: Any,
    state: Dict[str, Any],
    keep: int = 0,
    subdir: str = CHECKPOINT_SUBDIR,
    config: Any = None,
    optimizer_state: Optional[bytes] = None,
) -> str:
    """Write checkpoint ``step`` (brax format + ``train_state.json``); prune to the newest ``keep``.

    Args:
      run_dir: the run directory.
      step: global env step (directory name).
      params: ``(normalizer state, policy params, value params)`` as brax's policy_params_fn gets them.
      network_config: ``brax.training.agents.ppo.checkpoint.network_config(...)``.
      state: JSON-serialisable bookkeeping, stored as ``train_state.json``.
      keep: keep only this many newest checkpoints (0 keeps all).
      subdir: ``checkpoints`` (the run's checkpoints) or ``best`` (best-evaluation parameters).
      config: the :class:`train.config.TrainConfig` that produced ``params`` (written as config.yaml).
      optimizer_state: serialised optimizer state (:mod:`train.optimizer_state`), or None.

    Returns:
      The checkpoint directory.
    """
    from train.interrupts import deferred_interrupts

    with deferred_interrupts():  # Ctrl-C while writing: the checkpoint is finished first
        return _save_checkpoint(run_dir, step, params, network_config, state, keep, subdir, config, optimizer_state)


@contextlib.contextmanager
def _process_local_orbax():
    """Brax's checkpoint save/load with an orbax checkpointer local to this process.

    In a multi-process run only process 0 writes checkpoints and every process reads them on
    resume, each on its own; orbax's default checkpointer would wait for all processes at a
    barrier the others never reach. Yields how to prepare parameters for a write (numpy leaves:
    the process-local arrays of a multi-process run cannot be written as they are)."""
    import jax

    if jax.process_count() == 1:
        yield lambda params: params
        return
    import orbax.checkpoint as ocp
    from brax.training import checkpoint as brax_checkpoint

    me = jax.process_index()

    def process_local_checkpointer(*args, **kwargs):
        options = ocp.options.MultiprocessingOptions(primary_host=me, active_processes={me})
        return ocp.Checkpointer(ocp.PyTreeCheckpointHandler(), multiprocessing_options=options)

    original = brax_checkpoint.ocp.PyTreeCheckpointer
    brax_checkpoint.ocp.PyTreeCheckpointer = process_local_checkpointer
    try:
        yield _numpy_tree
    finally:
        brax_checkpoint.ocp.PyTreeCheckpointer = original


def _numpy_tree(params):
    """``params`` with every leaf a numpy array, brax's ``UInt64`` counters included."""
    import jax
    import numpy as np
    from brax.training import types as brax_types

    def leaf(x):
        if isinstance(x, brax_types.UInt64):  # its __post_init__ makes jax arrays: set the fields after it
            counter = copy.copy(x)
            object.__setattr__(counter, "hi", np.asarray(x.hi))
            object.__setattr__(counter, "lo", np.asarray(x.lo))
            return counter
        return np.asarray(x)

    return jax.tree_util.tree_map(leaf, params, is_leaf=lambda x: isinstance(x, brax_types.UInt64))


def _save_checkpoint(run_dir, step, params, network_config, state, keep, subdir, config, optimizer_state) -> str:
    from brax.training.agents.ppo import checkpoint as brax_ckpt

    from train.optimizer_state import OPTIMIZER_FILE

    run_dir = os.path.abspath(run_dir)  # orbax refuses relative paths
    root = checkpoint_root(run_dir, subdir)
    path = os.path.join(root, f"{int(step):012d}")
    if os.path.isdir(path):  # re-saving a step (e.g. a resumed run that ends where it started)
        shutil.rmtree(path)
    with _process_local_orbax() as host_params:
        brax_ckpt.save(root, int(step), host_params(params), network_config)
    if config is not None:
        from train.config import save_resolved_config

        save_resolved_config(
            config,
            os.path.join(path, CKPT_CONFIG_FILE),
            header=f"Config that produced the parameters of checkpoint step {int(step)}.",
        )
    if optimizer_state is not None:
        with open(os.path.join(path, OPTIMIZER_FILE), "wb") as fh:
            fh.write(optimizer_state)
    tmp = os.path.join(path, STATE_FILE + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({**state, "step": int(step)}, fh, indent=1)
    os.replace(tmp, os.path.join(path, STATE_FILE))
    if keep > 0:
        for _, old in list_checkpoints(run_dir, subdir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return path


def read_state(path: str) -> Dict[str, Any]:
    """The ``train_state.json`` of checkpoint directory ``path``."""
    file = os.path.join(path, STATE_FILE)
    try:
        with open(file, "r", encoding="utf-8") as fh:
            state = json.load(fh)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint state file missing: {file}") from None
    except (OSError, ValueError) as e:
        raise CheckpointError(f"checkpoint state file is corrupt: {file} ({e})") from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise CheckpointError(f"checkpoint state file is corrupt: {file} (no integer 'step')")
    return state


class _Reported(logging.Filter):
    """Drops late reports of a checkpoint read that already failed with a CheckpointError: orbax's
    abandoned asyncio tasks log "Task exception was never retrieved" when they are collected, and
    a reader thread may end in the same exception; each repeats the error of the path in ``paths``."""

    def __init__(self):
        super().__init__()
        self.paths: set = set()

    def about(self, exc: Any, text: str = "") -> bool:
        return any(p in f"{text} {exc}" for p in self.paths)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not self.about(exc, record.getMessage())


_REPORTED = _Reported()


def _silence_later_reports(path: str) -> None:
    _REPORTED.paths.add(os.path.abspath(path))
    logger = logging.getLogger("asyncio")
    if _REPORTED not in logger.filters:
        logger.addFilter(_REPORTED)
        previous = threading.excepthook

        def hook(args):
            if not _REPORTED.about(args.exc_value):
                previous(args)

        threading.excepthook = hook


@contextlib.contextmanager
def _quiet_failure(path: str):
    """Hold what is written to file descriptor 2 while orbax reads checkpoint ``path``: when the
    read fails, tensorstore's reader threads print one "Event loop is closed" traceback per array
    after orbax has closed its event loop, and orbax's abandoned tasks report the error again when
    they are collected; the CheckpointError already says what went wrong, so that text is dropped
    (and later reports about ``path`` are filtered, :class:`_Reported`). After a successful read the
    held text is written out as usual."""
    import tempfile

    def drop_closed_loop(args):  # the same traceback, when it reaches sys.unraisablehook instead
        if not (isinstance(args.exc_value, RuntimeError) and "Event loop is closed" in str(args.exc_value)):
            hook(args)

    sys.stderr.flush()
    saved, hook = os.dup(2), sys.unraisablehook
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        sys.unraisablehook = drop_closed_loop
        ok = False
        try:
            yield
            ok = True
        finally:
            if not ok:
                _silence_later_reports(path)
                time.sleep(0.2)  # the reader threads finish printing into the held file
                gc.collect()  # and orbax's abandoned futures are finalised here, not in later code
            sys.unraisablehook = hook
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            if ok:
                held.seek(0)
                text = held.read()
                if text:
                    os.write(2, text)


def load_checkpoint(path: str) -> Tuple[Tuple[Any, Any, Any], Dict[str, Any]]:
    """Read checkpoint directory ``path``: ``((normalizer, policy, value), state)``.

    The parameters come back as JAX arrays (float32), ready for ``ppo.train(restore_params=...)``.

    Raises:
      CheckpointError: the directory, its parameters or its state file are missing or corrupt.
    """
    import jax
    import jax.numpy as jnp
    from brax.training.agents.ppo import checkpoint as brax_ckpt

    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint directory not found: {path}")
    state = read_state(path)
    try:
        with _quiet_failure(path):
            with _process_local_orbax():
                params = brax_ckpt.load(os.path.abspath(path))  # orbax refuses relative paths
    except Exception as e:  # orbax/tensorstore raise many types for damaged files
        raise CheckpointError(
            f"checkpoint parameters in {path} are missing or corrupt: {type(e).__name__}: {str(e)[:300]}"
        ) from None
    if not isinstance(params, (list, tuple)) or len(params) != 3:
        raise CheckpointError(f"checkpoint {path} does not hold (normalizer, policy, value) parameters")
    params = jax.tree_util.tree_map(jnp.asarray, tuple(params))
    return params, state


def load_newest_readable(
    run_dir: str, subdir: str = CHECKPOINT_SUBDIR, log: Optional[Any] = None
) -> Tuple[int, str, Tuple[Any, Any, Any], Dict[str, Any], List[Tuple[int, str, str]]]:
    """``(step, path, params, state, skipped)``: the newest checkpoint of ``run_dir`` that loads.

    A checkpoint whose parameters or state do not load (a crash during its write, a damaged
    disk) is skipped for the one before it; ``skipped`` lists ``(step, path, reason)`` and
    ``log`` (a line printer) is told of each.

    Raises:
      CheckpointError: no checkpoint, or none readable (each one's reason in the message).
    """
    found = list_checkpoints(run_dir, subdir)
    if not found:
        latest_checkpoint(run_dir)  # raises with the message for a run without checkpoints
        raise CheckpointError(f"no checkpoint in {checkpoint_root(run_dir, subdir)}")
    skipped: List[Tuple[int, str, str]] = []
    for step, path in reversed(found):
        try:
            params, state = load_checkpoint(path)
        except CheckpointError as e:
            skipped.append((step, path, str(e)))
            continue
        if skipped and log is not None:
            log(
                f"checkpoint step{'s' if len(skipped) > 1 else ''} {', '.join(f'{s:,d}' for s, _, _ in skipped)} "
                f"unreadable ({skipped[0][2]}); using step {step:,d}, the newest readable one"
            )
        return step, path, params, state, skipped
    raise CheckpointError(
        f"no readable checkpoint in {checkpoint_root(run_dir, subdir)}: "
        + "; ".join(f"step {s}: {why}" for s, _, why in skipped)
    )


def set_aside(path: str) -> str:
    """Rename an unreadable checkpoint directory to ``<step>.unreadable`` (no longer listed, not deleted)."""
    target, n = f"{path}.unreadable", 1
    while os.path.exists(target):
        n += 1
        target = f"{path}.unreadable-{n}"
    os.replace(path, target)
    return target


def load_latest(run_dir: str, log: Optional[Any] = None) -> Tuple[int, str, Tuple[Any, Any, Any], Dict[str, Any]]:
    """``(step, path, params, state)`` of the newest readable checkpoint of ``run_dir``
    (:func:`load_newest_readable`; unreadable newer ones are set aside, see :func:`set_aside`)."""
    step, path, params, state, skipped = load_newest_readable(run_dir, log=log)
    for _, bad, _ in skipped:
        moved = set_aside(bad)
        if log is not None:
            log(f"set aside {bad} as {moved}")
    return step, path, params, state


def read_optimizer_state(path: str) -> Optional[bytes]:
    """The serialised optimizer state of checkpoint directory ``path`` (None if it has none)."""
    from train.optimizer_state import OPTIMIZER_FILE

    file = os.path.join(path, OPTIMIZER_FILE)
    if not os.path.isfile(file):
        return None
    with open(file, "rb") as fh:
        return fh.read()


def checkpoint_config_path(run_dir: str, path: str) -> str:
    """The config that produced checkpoint ``path``: its own ``config.yaml``, else the run's
    (checkpoints written before per-checkpoint configs existed)."""
    own = os.path.join(path, CKPT_CONFIG_FILE)
    return own if os.path.isfile(own) else os.path.join(run_dir, CONFIG_FILE)

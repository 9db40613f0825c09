"""Ctrl-C during training, caught where acting on it is safe.

:func:`install_interrupt_handler` makes Ctrl-C reliable: Python swallows a KeyboardInterrupt raised
inside a garbage-collection callback or a finalizer (it prints "Exception ignored in
_xla_gc_callback" and the run goes on to the end); there the handler only notes the request, and
:func:`check_interrupt` (called by every training callback) raises it moments later. Inside
:func:`deferred_interrupts` (a checkpoint being written) it waits for the block to end.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import threading

_REQUESTED = threading.Event()


def _in_finalizer(frame) -> bool:
    """Whether ``frame`` runs inside a gc callback or a ``__del__`` (where an exception is swallowed)."""
    gc_codes = {getattr(cb, "__code__", None) for cb in gc.callbacks}
    while frame is not None:
        if frame.f_code in gc_codes or frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


_DEFERRING = [0]  # depth of deferred_interrupts() blocks


def _on_sigint(signum, frame) -> None:
    _REQUESTED.set()
    if not _DEFERRING[0] and not _in_finalizer(frame):
        raise KeyboardInterrupt


@contextlib.contextmanager
def deferred_interrupts():
    """A block Ctrl-C does not cut (a checkpoint is written whole): a Ctrl-C inside it is raised
    when it ends."""
    _DEFERRING[0] += 1
    try:
        yield
    finally:
        _DEFERRING[0] -= 1
    if not _DEFERRING[0]:
        check_interrupt()


def install_interrupt_handler() -> None:
    """Ctrl-C as :func:`_on_sigint` handles it (see the module docstring); nothing when SIGINT is
    ignored (``nohup``) or when called off the main thread."""
    _REQUESTED.clear()
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _on_sigint)


def check_interrupt() -> None:
    """Raise KeyboardInterrupt when a Ctrl-C was noted but could not be raised where it arrived."""
    if _REQUESTED.is_set():
        raise KeyboardInterrupt

"""Output directories checked before any work: a command that cannot write its results says so at once.

Every command that writes files (``python -m train``, ``train.sb3``, ``train.export``,
``evaluation.evaluate``, ``evaluation.safety_report``, the benchmarks) calls :func:`ensure_writable_dir` on its
output directory before it compiles or simulates anything, so an unwritable ``--out`` (a read-only
mount, a path under a regular file, no permission) is an ``error:`` line with exit status 2 instead
of a traceback after the work is done and lost.
"""

from __future__ import annotations

import errno
import os
import tempfile

from model.yaml_config import ConfigError


class OutputPathError(ConfigError):
    """An output directory cannot be created or written; the message names the option and the path."""


def _reason(e: OSError, path: str) -> str:
    if e.errno == errno.EROFS:
        return "the file system is read-only"
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno in (errno.ENOTDIR, errno.EEXIST) or (os.path.exists(path) and not os.path.isdir(path)):
        parent = path
        while parent and not os.path.exists(parent):
            parent = os.path.dirname(parent)
        return f"{parent} is a file, not a directory"
    if e.errno == errno.ENOSPC:
        return "no space left on the device"
    return e.strerror or type(e).__name__


def ensure_writable_dir(path: str, option: str = "--out") -> str:
    """Create directory ``path`` (and its parents) if needed and check a file can be written in it.

    Args:
      path: the output directory (relative: to the working directory).
      option: the command-line option or config key that named it (for the message).

    Returns:
      The absolute path.

    Raises:
      OutputPathError: naming ``option``, the path, why it is not writable and the fix.
    """
    full = os.path.abspath(os.path.expanduser(os.fspath(path)))
    try:
        os.makedirs(full, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=full, prefix=".write_check_"):
            pass
    except OSError as e:
        raise OutputPathError(
            f"{option} {path}: cannot write there ({_reason(e, full)}); choose a writable directory with {option} DIR"
        ) from None
    return full

"""What every benchmark's command line shares: output directories checked first, bad input as ``error:``.

Each ``main(argv)`` calls :func:`check_output_dirs` right after parsing its arguments, before it
compiles, trains or times anything; ``python -m benchmarks.NAME`` runs it through :func:`run`,
which turns bad input (``model.yaml_config.ConfigError``: an unwritable ``--out`` /
``--output-dir``, a malformed walk bar, ...) into one ``error: ...`` line on stderr and exit
status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Optional, Sequence

from model.yaml_config import ConfigError
from train.output_paths import ensure_writable_dir


def check_output_dirs(args: argparse.Namespace, *options: str) -> None:
    """``ensure_writable_dir`` on each option's value (``"--out"``, ``"--output-dir"``: the parsed
    ``args.out``, ``args.output_dir``); raises ``OutputPathError`` naming the option and the path."""
    for option in options:
        ensure_writable_dir(getattr(args, option.lstrip("-").replace("-", "_")), option)


def run(main: Callable[[Optional[Sequence[str]]], Any], argv: Optional[Sequence[str]] = None) -> int:
    """Exit status of ``main(argv)`` as a command: 2 with an ``error:`` line on a ``ConfigError``;
    else ``main``'s own status when it returns an int, 0 when it returns its results."""
    try:
        result = main(argv)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return result if isinstance(result, int) and not isinstance(result, bool) else 0

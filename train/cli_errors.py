"""How the training command lines turn bad input into a message and an exit status.

``run_cli(main, argv)`` calls ``main(argv)``; a :class:`model.yaml_config.ConfigError`,
:class:`train.checkpoints.CheckpointError` or :class:`train.export.ExportError` (bad config,
missing/corrupt checkpoint or export: the message names the key or file) prints ``error: ...``
on stderr and returns 2; Ctrl-C returns 130 with a hint about ``--resume``; success returns 0.
"""

from __future__ import annotations

import sys
from typing import Callable, List, Optional


def run_cli(main: Callable[[Optional[List[str]]], object], argv: Optional[List[str]] = None) -> int:
    from model.yaml_config import ConfigError
    from train.checkpoints import CheckpointError
    from train.export import ExportError

    try:
        main(argv)
    except (ConfigError, CheckpointError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; resume with --resume RUN_DIR from the last checkpoint", file=sys.stderr)
        return 130
    return 0

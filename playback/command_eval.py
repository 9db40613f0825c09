"""Forwarding name for one release: this module moved to :mod:`evaluation.command_eval` (see CHANGELOG.md).

``import playback.command_eval`` and ``python -m`` of this name both reach the new module.
"""

import sys

from evaluation import command_eval as _moved

if __name__ == "__main__":
    raise SystemExit("python -m evaluation.evaluate --mode commands|push|stand|all runs the command tests")
else:
    sys.modules[__name__] = _moved

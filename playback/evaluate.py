"""Forwarding name for one release: this module moved to :mod:`evaluation.evaluate` (see CHANGELOG.md).

``import playback.evaluate`` and ``python -m`` of this name both reach the new module.
"""

import sys

from evaluation import evaluate as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved

"""Forwarding name for one release: this module moved to :mod:`evaluation.nominal` (see CHANGELOG.md).

``import playback.nominal`` and ``python -m`` of this name both reach the new module.
"""

import sys

from evaluation import nominal as _moved

if __name__ == "__main__":
    _moved.main()
else:
    sys.modules[__name__] = _moved

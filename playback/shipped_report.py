"""Forwarding name for one release: this module moved to :mod:`evaluation.shipped_report` (see CHANGELOG.md).

``import playback.shipped_report`` and ``python -m`` of this name both reach the new module.
"""

import sys

from evaluation import shipped_report as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved

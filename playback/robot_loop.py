"""Forwarding name for one release: this module moved to :mod:`deploy.robot_loop` (see CHANGELOG.md).

``import playback.robot_loop`` and ``python -m`` of this name both reach the new module.
"""

import sys

from deploy import robot_loop as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved

"""Forwarding name for one release: this module moved to :mod:`deploy.exported_policy` (see CHANGELOG.md).

``import train.exported_policy`` and ``python -m`` of this name both reach the new module.
"""

import sys

from deploy import exported_policy as _moved

if __name__ == "__main__":
    raise SystemExit("deploy.exported_policy is a library module")
else:
    sys.modules[__name__] = _moved

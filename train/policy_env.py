"""Forwarding name for one release: this module moved to :mod:`mjx_envs.policy_env` (see CHANGELOG.md).

``import train.policy_env`` and ``python -m`` of this name both reach the new module.
"""

import sys

from mjx_envs import policy_env as _moved

if __name__ == "__main__":
    raise SystemExit("mjx_envs.policy_env is a library module")
else:
    sys.modules[__name__] = _moved

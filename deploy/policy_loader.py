"""``load_policy``: an export's policy, as numpy (``policy.msgpack``) or onnxruntime (``policy.onnx``).

What a robot-side program calls::

    from deploy.policy_loader import load_policy

    policy = load_policy("runs/my_run")            # the run's export/, numpy + flax's msgpack reader
    action = policy.act(obs)                       # (obs_size,) float32 -> (action_size,) in [-1, 1]
    onnx = load_policy("runs/my_run/export/policy.onnx")  # the same interface, run by onnxruntime

Both carry ``meta`` (the export's ``meta.json``: observation layout, action scaling, configs).
"""

from __future__ import annotations

import os
from typing import Optional, Union

from deploy.export_format import load_exported_policy
from deploy.exported_policy import ExportedPolicy
from deploy.onnx_policy import OnnxPolicy, load_onnx_policy


def load_policy(path: str, observation_size: Optional[int] = None) -> Union[ExportedPolicy, OnnxPolicy]:
    """Load an export written by :func:`deploy.export_format.write_export` (Brax or SB3 backend).

    Args:
      path: run directory, export directory, or a file inside the export directory. A path ending
        in ``.onnx`` loads that graph with onnxruntime instead
        (:func:`deploy.onnx_policy.load_onnx_policy`: same interface, ``meta`` from the
        ``meta.json`` beside it; needs ``pip install -e .[deploy]``).
      observation_size: if given, the export must expect observations of this size.

    Raises:
      ExportError: missing or corrupt file (named in the message), inconsistent shapes, files that
        do not belong together, or an observation-size mismatch.
    """
    if os.fspath(path).lower().endswith(".onnx"):
        return load_onnx_policy(path, observation_size)
    return load_exported_policy(path, observation_size)

"""The exported policy MLP in NumPy: ``ExportedPolicy.act(obs) -> action`` on any CPU.

:func:`deploy.policy_loader.load_policy` builds one from an export directory (the layout is in
:mod:`deploy.export_format`); this module holds the forward pass only: observation normalisation, the
hidden layers with their activation, and the output rule. NumPy only.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import numpy as np

META_FILE = "meta.json"
"""The export's metadata file (its layout: :mod:`deploy.export_format`)."""
OUTPUT_RULES = ("tanh_mean", "clip_mean")
"""``tanh_mean``: ``tanh(y[:A])`` (brax tanh_normal); ``clip_mean``: ``clip(y, -1, 1)`` (brax normal, SB3)."""


# ---------------------------------------------------------------------------------- activations


def _swish(x):
    return x * 0.5 * (1.0 + np.tanh(0.5 * x))  # x * sigmoid(x), without exp overflow


def _elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def _relu(x):
    return np.maximum(x, 0.0)


ACTIVATIONS = {
    "relu": _relu,
    "tanh": np.tanh,
    "swish": _swish,
    "silu": _swish,
    "elu": _elu,
}


def checked_observation(obs: Any, observation_size: int, export_dir: str) -> np.ndarray:
    """``obs`` as float32, shape (observation_size,) or (batch, observation_size); else a ValueError
    naming the expected size and the export's ``meta.json``."""
    obs = np.asarray(obs, np.float32)
    if obs.ndim not in (1, 2) or obs.shape[-1] != observation_size:
        raise ValueError(
            f"observation has shape {obs.shape}; this policy expects (..., {observation_size}) "
            f"(observation_size in {os.path.join(export_dir, META_FILE)})"
        )
    return obs


class ExportedPolicy:
    """A loaded export: ``act(obs) -> action`` (deterministic, numpy float32) and ``meta``.

    ``obs``: shape (observation_size,) or (batch, observation_size). The returned action has the
    matching shape (action_size,) or (batch, action_size) and lies in [-1, 1].
    """

    def __init__(
        self,
        export_dir: str,
        meta: Dict[str, Any],
        layers: List[Tuple[np.ndarray, np.ndarray]],
        mean: np.ndarray,
        std: np.ndarray,
        count: float,
    ):
        self.export_dir = export_dir
        self.load_path = export_dir  # the path load_policy read it from (OnnxPolicy: the .onnx file)
        self.meta = meta
        self.layers = layers
        self.obs_mean = mean
        self.obs_std = std
        self.obs_count = count
        self.observation_size = int(meta["observation_size"])
        self.action_size = int(meta["action_size"])
        self.backend = meta.get("backend", "brax")
        self.output_rule = meta["policy"]["output"]
        self.obs_clip = meta.get("normalizer", {}).get("clip")
        self._act_fn = ACTIVATIONS[meta["policy"]["activation"]]

    def _check_obs(self, obs: Any) -> np.ndarray:
        return checked_observation(obs, self.observation_size, self.export_dir)

    def normalize(self, obs: Any) -> np.ndarray:
        x = (self._check_obs(obs) - self.obs_mean) / self.obs_std
        if self.obs_clip is not None:
            x = np.clip(x, -self.obs_clip, self.obs_clip)
        return x.astype(np.float32)

    def forward(self, obs: Any) -> np.ndarray:
        """Raw output of the policy MLP for (normalised internally) observations."""
        x = self.normalize(obs)
        last = len(self.layers) - 1
        for i, (k, b) in enumerate(self.layers):
            x = x @ k + b
            if i != last:
                x = self._act_fn(x)
        return x.astype(np.float32)

    def act(self, obs: Any) -> np.ndarray:
        """Deterministic action in [-1, 1] (what the env executes)."""
        y = self.forward(obs)
        if self.output_rule == "tanh_mean":
            return np.tanh(y[..., : self.action_size]).astype(np.float32)
        return np.clip(y, -1.0, 1.0).astype(np.float32)

    __call__ = act

    def __repr__(self) -> str:
        return (
            f"ExportedPolicy({self.export_dir!r}, backend={self.backend}, obs={self.observation_size}, "
            f"act={self.action_size}, layers={[list(k.shape) for k, _ in self.layers]})"
        )

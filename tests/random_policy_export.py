"""Test helper: a small export with random weights, in the format ``train.export`` writes.

Not a test module (no ``test_`` prefix); imported by tests/test_playback.py, test_evaluate.py and
test_compare_world_trajectories.py.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from mjx_envs.observation import observation_layout, observation_size
from train.config import TrainConfig
from train.export import _common_meta, write_export


def write_random_export(directory: str, seed: int = 0, terrain_layout: bool = False,
                        cfg: Optional[Any] = None, weight_scale: float = 0.3) -> str:
    """Write ``directory/export`` (obs -> 16 -> 12, swish, clip_mean); returns ``directory``.

    ``terrain_layout`` declares the 74-number observation with terrain heights while the stored
    env config keeps ``terrain_observation: false`` — an export that does not fit its env.
    """
    cfg = cfg or TrainConfig()
    obs = observation_size(12, terrain_layout)
    rng = np.random.default_rng(seed)
    layers = [(rng.normal(size=(obs, 16)).astype(np.float32) * weight_scale, np.zeros(16, np.float32)),
              (rng.normal(size=(16, 12)).astype(np.float32) * weight_scale, np.zeros(12, np.float32))]
    meta = _common_meta(cfg, observation_layout(12, terrain_layout), obs, 12, {"note": "random test weights"})
    meta["backend"] = "brax"
    write_export(os.path.join(directory, "export"), layers=layers, activation="swish", output="clip_mean",
                 obs_mean=np.zeros(obs, np.float32), obs_std=np.ones(obs, np.float32), obs_count=0.0, meta=meta)
    return directory

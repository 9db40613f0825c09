"""Test helpers: a small export with random weights, in the format ``train.export`` writes, and
a run directory with real brax checkpoints of untrained networks (:func:`write_brax_checkpoints`).

Not a test module (no ``test_`` prefix); imported by tests/test_playback.py, test_evaluate.py,
test_compare_world_trajectories.py, test_export.py and test_reliability.py.
"""

from __future__ import annotations

import os
from typing import Any, Optional

import numpy as np

from mjx_envs.observation import observation_layout, observation_size
from train.config import TrainConfig
from train.export import _common_meta, write_export


def write_random_export(
    directory: str, seed: int = 0, terrain_layout: bool = False, cfg: Optional[Any] = None, weight_scale: float = 0.3
) -> str:
    """Write ``directory/export`` (obs -> 16 -> 12, swish, clip_mean); returns ``directory``.

    ``terrain_layout`` declares the 74-number observation with terrain heights while the stored
    env config keeps ``terrain_observation: false`` — an export that does not fit its env.
    """
    cfg = cfg or TrainConfig()
    obs = observation_size(12, terrain_layout)
    rng = np.random.default_rng(seed)
    layers = [
        (rng.normal(size=(obs, 16)).astype(np.float32) * weight_scale, np.zeros(16, np.float32)),
        (rng.normal(size=(16, 12)).astype(np.float32) * weight_scale, np.zeros(12, np.float32)),
    ]
    meta = _common_meta(cfg, observation_layout(12, terrain_layout), obs, 12, {"note": "random test weights"})
    meta["backend"] = "brax"
    write_export(
        os.path.join(directory, "export"),
        layers=layers,
        activation="swish",
        output="clip_mean",
        obs_mean=np.zeros(obs, np.float32),
        obs_std=np.ones(obs, np.float32),
        obs_count=0.0,
        meta=meta,
    )
    return directory


def write_brax_checkpoints(run_dir: str, cfg: Any, steps=(160,)) -> str:
    """``run_dir`` with ``config.yaml`` and real brax checkpoints (``checkpoints/<step>/``) of
    ``cfg``'s freshly initialised networks, one per step of ``steps`` (no training); returns it."""
    import jax
    from brax.training.acme import running_statistics, specs
    from brax.training.agents.ppo import checkpoint as brax_ckpt

    from train.checkpoints import save_checkpoint
    from train.config import save_resolved_config
    from train.ppo_setup import make_network_factory
    from train.run_dir import CONFIG_FILE

    act = cfg.env.action_size
    obs = observation_size(act, cfg.env.terrain_observation)
    factory = make_network_factory(cfg.ppo)
    nets = factory(obs, act, preprocess_observations_fn=running_statistics.normalize)
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    params = (
        running_statistics.init_state(specs.Array((obs,), np.dtype("float32"))),
        nets.policy_network.init(k1),
        nets.value_network.init(k2),
    )
    net_config = brax_ckpt.network_config(
        observation_size=obs, action_size=act, normalize_observations=True, network_factory=factory
    )
    os.makedirs(run_dir, exist_ok=True)
    save_resolved_config(cfg, os.path.join(run_dir, CONFIG_FILE))
    for step in steps:
        save_checkpoint(run_dir, step, params, net_config, {"wall_time_s": 1.0}, config=cfg)
    return run_dir

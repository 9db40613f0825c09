"""mjx_envs/env_config.py: a malformed env YAML is refused with the key and the file named
(defaults and their one source: tests/test_yaml_config.py)."""

import pytest

from mjx_envs.env_config import load_env_config
from model.yaml_config import ConfigError


def test_env_config_yaml_and_errors(tmp_path):
    bad = tmp_path / "env.yaml"
    for text, key in (
        ("residual_max: 0.5\n", "residual_max"),
        ("action_mode: velocity\n", "action_mode"),
        ("reward_weights:\n  speed: 1\n", "reward_weights.speed"),
        ("command:\n  vx: [0.5, 0.1]\n", "command.vx"),
        (
            "domain_randomization:\n  friction: {enabled: true, range: [1.2, 0.8]}\n",
            "domain_randomization.friction.range",
        ),
        ("domain_randomization:\n  kp: {enabled: true, range: [-0.1, 1.0]}\n", "kp.range"),
        ("pushes: {interval: [0.0, 1.0]}\n", "pushes.interval"),
        ("command:\n  resample_interval: [5.0, 1.0]\n", "command.resample_interval"),
        ("curriculum:\n  promote_distance_fraction: 0.3\n", "demote_distance_fraction"),
        ("curriculum:\n  end_tolerance_fraction: 0.0\n", "end_tolerance_fraction"),
        ("curriculum:\n  min_command_path: -1\n", "min_command_path"),
    ):
        bad.write_text(text)
        with pytest.raises(ConfigError) as err:
            load_env_config(str(bad))
        assert key in str(err.value) and "env.yaml" in str(err.value), str(err.value)

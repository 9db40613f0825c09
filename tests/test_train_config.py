"""train/config.py and the CLI's input checks: presets, overrides, validation, bad input (fast)."""

import os

import pytest

from model.yaml_config import ConfigError
from train import __main__ as train_cli
from train.config import (
    DEFAULT_TRAIN_YAML,
    TrainConfig,
    list_presets,
    load_resolved_config,
    load_train_config,
    save_resolved_config,
)


def test_presets_listed_and_applied():
    assert {"cpu_small", "cpu_flat", "cpu_joystick", "gpu", "ci_tiny"} <= set(list_presets())
    base = load_train_config()
    small = load_train_config(preset="cpu_small")
    assert base.ppo.num_envs == 4096 and base.simulation.world == "suite"
    # the full-size run evaluates (early stopping, best/) on the suite, on a held-out terrain seed
    assert base.run.eval_world == "suite" and base.run.eval_terrain_seed != base.simulation.terrain_seed
    assert small.ppo.num_envs == 128 and small.simulation.world == "rough"  # make train's default
    flat = load_train_config(preset="cpu_flat")
    assert flat.ppo.num_envs == 64 and flat.simulation.world == "flat" and flat.run.eval_world == "flat"
    assert small.ppo.learning_rate != base.ppo.learning_rate or small.ppo.num_timesteps < base.ppo.num_timesteps
    # keys a preset leaves alone keep the base value
    assert small.ppo.discounting == base.ppo.discounting
    assert small.episode_length == round(small.env.episode_length_s / small.simulation.control_dt)


def test_overrides_apply_last_and_parse_yaml():
    cfg = load_train_config(
        preset="ci_tiny",
        overrides=[
            "ppo.learning_rate=1e-4",
            "env.command.vx=[0.1, 0.2]",
            "run.early_stopping.patience=9",
            "run.name=abc",
        ],
    )
    assert cfg.ppo.learning_rate == pytest.approx(1e-4)
    assert tuple(cfg.env.command.vx) == (0.1, 0.2)
    assert cfg.run.early_stopping.patience == 9 and cfg.run.name == "abc"


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(preset="nope"), r"unknown preset 'nope'.*valid presets: .*ci_tiny"),
        (dict(overrides=["ppo.learning_rate"]), r"ppo.learning_rate"),
        (dict(overrides=["ppo.nope=1"]), r"unknown key 'ppo.nope'"),
        (dict(overrides=["nope.x=1"]), r"unknown section 'nope'"),
        (dict(overrides=["ppo=1"]), r"'ppo' is a section"),
        (dict(overrides=["ppo.learning_rate=abc"]), r"learning_rate"),
        (dict(overrides=["ppo.num_envs=0"]), r"num_envs"),
        (dict(overrides=["ppo.activation=sigmoid"]), r"activation"),
        (dict(overrides=["ppo.num_envs=3"]), r"multiple of 'num_envs'"),
        (dict(overrides=["run.name=a/b"]), r"plain name"),
    ],
)
def test_bad_input_names_the_key(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        load_train_config(**kwargs)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found|No such|missing"):
        load_train_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo: {learning_rate: [1, 2}\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_train_config(str(bad))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("ppo: {lerning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match=r"lerning_rate.*unknown.yaml|unknown.yaml.*lerning_rate"):
        load_train_config(str(unknown))
    top = tmp_path / "top.yaml"
    top.write_text("trainer: {}\n")
    with pytest.raises(ConfigError, match="unknown top-level key 'trainer'"):
        load_train_config(str(top))


def test_resolved_config_roundtrip(tmp_path):
    cfg = load_train_config(preset="cpu_small", overrides=["ppo.seed=7"])
    path = str(tmp_path / "config.yaml")
    save_resolved_config(cfg, path, header="hello")
    again = load_resolved_config(path)
    assert again == cfg
    assert load_resolved_config(path, ["ppo.seed=8"]).ppo.seed == 8


def test_step_accounting_matches_brax_rounding():
    p = load_train_config(preset="ci_tiny").ppo
    assert p.env_steps_per_training_step == p.batch_size * p.num_minibatches * p.unroll_length
    assert p.epoch_env_steps % p.env_steps_per_training_step == 0
    assert p.total_env_steps >= p.num_timesteps
    assert TrainConfig().ppo.num_epochs == TrainConfig().ppo.num_evals - 1


def test_cli_bad_input_exits_2_with_message(tmp_path, capsys):
    assert train_cli.cli(["--preset", "nope"]) == 2
    assert "unknown preset 'nope'" in capsys.readouterr().err
    assert train_cli.cli(["--preset", "ci_tiny", "ppo.learning_rate"]) == 2
    assert "ppo.learning_rate" in capsys.readouterr().err
    assert train_cli.cli(["--resume", str(tmp_path / "no_such_run")]) == 2
    assert "not found" in capsys.readouterr().err
    # a run directory with a config but no checkpoint: refused before any compilation
    run = tmp_path / "run"
    run.mkdir()
    save_resolved_config(load_train_config(preset="ci_tiny"), str(run / "config.yaml"))
    assert train_cli.cli(["--resume", str(run)]) == 2
    assert "no checkpoint" in capsys.readouterr().err
    assert train_cli.cli(["--resume", str(run), "--preset", "gpu"]) == 2
    assert "cannot be combined" in capsys.readouterr().err


def test_list_presets(capsys):
    assert train_cli.cli(["--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "cpu_small" in out and os.path.basename(DEFAULT_TRAIN_YAML) in out


def test_presets_combine_left_to_right():
    cfg = load_train_config(preset="cpu_small,direct")
    assert cfg.env.action_mode == "direct" and cfg.ppo.num_envs == 128
    with pytest.raises(ConfigError, match="unknown preset 'nope'"):
        load_train_config(preset="cpu_small,nope")


def test_eval_terrain_seed_must_be_held_out():
    with pytest.raises(ConfigError, match="eval_terrain_seed.*never uses"):
        load_train_config(overrides=["run.eval_terrain_seed=0"])
    assert load_train_config(preset="cpu_flat", overrides=["run.eval_terrain_seed=0"]).run.eval_world == "flat"
    with pytest.raises(ConfigError, match="eval_terrain_seed"):  # cpu_small evaluates on rough ground
        load_train_config(preset="cpu_small", overrides=["run.eval_terrain_seed=0"])


def test_activation_tables_cover_the_config_names():
    """One list of names (train.config.ACTIVATIONS); each framework's table implements exactly it."""
    from train.config import ACTIVATIONS
    from train.export import ACTIVATIONS as NUMPY_ACTIVATIONS
    from train.ppo_setup import activation_fn
    from train.sb3 import TORCH_ACTIVATIONS

    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(NUMPY_ACTIVATIONS) - set(ACTIVATIONS) <= {"silu"}  # the loader also reads brax's name for swish
    assert set(ACTIVATIONS) <= set(NUMPY_ACTIVATIONS)
    assert all(callable(activation_fn(n)) for n in ACTIVATIONS)


def test_multi_host_flags_call_jax_distributed_initialize(monkeypatch):
    """--coordinator/--num-processes/--process-id hand their values to jax.distributed.initialize
    (before anything else runs; CPU-only processes switch JAX to the gloo collectives first);
    incomplete or inconsistent flags and a coordinator that cannot be reached are refused, naming
    the flag. (tests/test_multi_process.py runs two real processes.)"""
    import jax

    import train.distributed as dist
    from train.__main__ import main

    seen, updates = {}, []

    class Initialised(BaseException):  # not an Exception: passes the wrapper that names the flag
        pass

    def fake_initialize(**kwargs):
        seen.update(kwargs)
        raise Initialised

    monkeypatch.setattr(jax.distributed, "initialize", fake_initialize)
    monkeypatch.setattr(jax.config, "update", lambda key, value: updates.append((key, value)))
    monkeypatch.setattr(dist, "has_accelerator_plugin", lambda: False)
    with pytest.raises(Initialised):
        main(["--coordinator", "10.0.0.1:1234", "--num-processes", "2", "--process-id", "1", "--preset", "ci_tiny"])
    assert seen == {
        "coordinator_address": "10.0.0.1:1234",
        "num_processes": 2,
        "process_id": 1,
        "initialization_timeout": dist.CONNECT_TIMEOUT_S,
        "heartbeat_timeout_seconds": dist.HEARTBEAT_TIMEOUT_S,
    }
    assert updates == [("jax_cpu_collectives_implementation", "gloo")]
    assert not dist.in_multi_process_run()
    with pytest.raises(ConfigError, match="go together"):
        main(["--coordinator", "10.0.0.1:1234", "--preset", "ci_tiny"])
    with pytest.raises(ConfigError, match="must lie in 0..1"):
        main(["--coordinator", "h:1", "--num-processes", "2", "--process-id", "2"])
    with pytest.raises(ConfigError, match="must be HOST:PORT"):
        main(["--coordinator", "h", "--num-processes", "2", "--process-id", "0"])

    def unreachable(**kwargs):
        raise RuntimeError("DEADLINE_EXCEEDED: Barrier timed out\n(more lines)")

    monkeypatch.setattr(jax.distributed, "initialize", unreachable)
    with pytest.raises(ConfigError, match=r"--coordinator h:1: process 1 of 2 could not join .*DEADLINE_EXCEEDED"):
        main(["--coordinator", "h:1", "--num-processes", "2", "--process-id", "1"])

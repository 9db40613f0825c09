"""Config defaults have one source, the YAML files in configs/ (model.yaml_config.yaml_dataclass)."""

import dataclasses
import os

import pytest

from benchmarks.time_to_walk import DEFAULT_BAR, WalkBar
from gait.gait_config import DEFAULT_GAIT_YAML, GaitConfig
from mjx_envs import env_config as ec
from model.simulation_config import DEFAULT_SIMULATION_YAML, REPO_ROOT, SimulationConfig
from model.terrain.suite import DEFAULT_SUITE_YAML, SuiteSpec
from model.yaml_config import ConfigError, defaults_source, from_dict, read_yaml, yaml_dataclass
from train import config as tc

CONFIG_CLASSES = [
    (GaitConfig, DEFAULT_GAIT_YAML, None),
    (SimulationConfig, DEFAULT_SIMULATION_YAML, None),
    (SuiteSpec, DEFAULT_SUITE_YAML, None),
    (ec.EnvConfig, ec.DEFAULT_ENV_YAML, None),
    (ec.CommandRanges, ec.DEFAULT_ENV_YAML, "command"),
    (ec.GaitModulation, ec.DEFAULT_ENV_YAML, "modulation"),
    (ec.Randomization, ec.DEFAULT_ENV_YAML, "randomization"),
    (ec.DomainRandomization, ec.DEFAULT_ENV_YAML, "domain_randomization"),
    (ec.Pushes, ec.DEFAULT_ENV_YAML, "pushes"),
    (ec.ObservationNoise, ec.DEFAULT_ENV_YAML, "observation_noise"),
    (ec.Curriculum, ec.DEFAULT_ENV_YAML, "curriculum"),
    (ec.RewardWeights, ec.DEFAULT_ENV_YAML, "reward_weights"),
    (tc.PPOConfig, tc.DEFAULT_TRAIN_YAML, "ppo"),
    (tc.RunConfig, tc.DEFAULT_TRAIN_YAML, "run"),
    (tc.EarlyStoppingConfig, tc.DEFAULT_TRAIN_YAML, "run.early_stopping"),
    (tc.SB3Config, tc.DEFAULT_TRAIN_YAML, "sb3"),
    (WalkBar, DEFAULT_BAR, None),
]


def _section(path, section):
    data = read_yaml(path)
    for part in section.split(".") if section else ():
        data = data[part]
    return data


@pytest.mark.parametrize("cls,path,section", CONFIG_CLASSES, ids=[c[0].__name__ for c in CONFIG_CLASSES])
def test_every_default_is_read_from_its_yaml(cls, path, section):
    # a dataclass that got its Python defaults back would not be a yaml_dataclass (and
    # yaml_dataclass refuses a field with a Python default at import)
    assert defaults_source(cls) == (path, section)
    assert os.path.dirname(path) == os.path.join(REPO_ROOT, "configs")
    data = _section(path, section)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    assert sorted(data) == sorted(f.name for f in fields)  # the file lists every knob
    expected = from_dict(cls, data, where=path)
    for f in fields:
        assert f.default == getattr(expected, f.name), f.name
    assert cls() == expected


def test_training_yaml_base_sections_are_the_class_defaults():
    base = tc.load_train_config()
    assert (base.ppo, base.run, base.sb3) == (tc.PPOConfig(), tc.RunConfig(), tc.SB3Config())
    # the simulation section lays a few keys over configs/simulation.yaml
    assert base.simulation.replace(world=SimulationConfig().world) == SimulationConfig()


def test_partial_keyword_construction_keeps_the_other_defaults():
    cfg = ec.EnvConfig(episode_length_s=2.0)
    assert cfg.episode_length_s == 2.0 and cfg.command == ec.CommandRanges()
    assert ec.CommandRanges(resample=False).vx == ec.CommandRanges().vx
    assert dataclasses.replace(GaitConfig(), period=0.5).duty_factor == GaitConfig().duty_factor


def _declare(path, section=None):
    @yaml_dataclass(path, section)
    class Demo:
        """A test config."""

        speed: float = dataclasses.field(metadata={"range": (0.0, 2.0)})
        sizes: tuple[int, ...]
        name: str

    return Demo


def test_yaml_dataclass_reads_the_file_once_per_path(tmp_path):
    path = tmp_path / "demo.yaml"
    path.write_text("outer:\n  inner:\n    speed: 1\n    sizes: [1, 2]\n    name: a\n")
    demo = _declare(str(path), "outer.inner")
    assert demo() == demo(speed=1.0, sizes=(1, 2), name="a") and isinstance(demo().speed, float)
    assert demo(name="b").sizes == (1, 2)
    assert dataclasses.is_dataclass(demo) and demo.__dataclass_params__.frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        demo().name = "c"


@pytest.mark.parametrize(
    "text,match",
    [
        ("speed: 1.0\nsizes: [1]\n", r"demo.yaml lacks key 'name'"),
        ("speed: 1.0\nsizes: [1]\nname: a\ncolour: red\n", r"unknown key 'colour' in .*demo.yaml"),
        ("speed: fast\nsizes: [1]\nname: a\n", r"key 'speed' in .*demo.yaml must be a number"),
        ("speed: 3.0\nsizes: [1]\nname: a\n", r"'speed' = 3.0 is out of range .*demo.yaml"),
        ("other: {}\n", r"demo.yaml has no section 'demo'"),
    ],
)
def test_yaml_dataclass_errors_name_the_key_and_file(tmp_path, text, match):
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        _declare(str(path), "demo" if text.startswith("other") else None)


def test_yaml_dataclass_refuses_a_missing_file_and_python_defaults(tmp_path):
    with pytest.raises(ConfigError, match=r"not found: .*nope.yaml"):
        _declare(str(tmp_path / "nope.yaml"))
    path = tmp_path / "demo.yaml"
    path.write_text("speed: 1.0\n")
    with pytest.raises(ConfigError, match=r"Twice.speed has a default in Python; .*demo.yaml"):

        @yaml_dataclass(str(path))
        class Twice:
            speed: float = 1.0

    with pytest.raises(ConfigError, match=r"Twice.speed has a default in Python"):

        @yaml_dataclass(str(path))
        class Twice:  # noqa: F811
            speed: float = dataclasses.field(default=1.0, metadata={"range": (0.0, 2.0)})

"""SimulationConfig / YAML loading: defaults, and bad input gives errors naming the key and file."""

import pytest

from model.simulation_config import SimulationConfig, load_simulation_config
from model.yaml_config import ConfigError, apply_overrides, parse_override


def test_default_yaml_loads_with_documented_timing():
    cfg = load_simulation_config()
    assert (cfg.physics_dt, cfg.control_dt, cfg.n_substeps) == (0.004, 0.02, 5)
    assert cfg.world_xml.endswith("model/world.xml")
    assert load_simulation_config(world="rough").world_xml.endswith("model/world_train.xml")


def _write(tmp_path, text):
    p = tmp_path / "sim.yaml"
    p.write_text(text)
    return str(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found.*nope.yaml"):
        load_simulation_config(str(tmp_path / "nope.yaml"))


def test_unknown_key_names_key_and_file(tmp_path):
    path = _write(tmp_path, "physics_dt: 0.004\ncontrol_dtt: 0.02\n")
    with pytest.raises(ConfigError, match=r"unknown key 'control_dtt' in .*sim.yaml"):
        load_simulation_config(path)


@pytest.mark.parametrize(
    "text,key",
    [
        ("physics_dt: 0.5\n", "physics_dt"),
        ("world: moon\n", "world"),
        ("terrain_seed: -1\n", "terrain_seed"),
        ("physics_dt: fast\n", "physics_dt"),
        ("control_dt: 0.021\n", "control_dt"),
        ("flat_xml: model/missing.xml\n", "flat_xml"),
        ("kp: 0\n", "kp"),
    ],
)
def test_bad_values_name_the_key_and_file(tmp_path, text, key):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_simulation_config(path)
    assert key in str(err.value) and "sim.yaml" in str(err.value)


def test_malformed_yaml(tmp_path):
    path = _write(tmp_path, "physics_dt: [0.004\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_simulation_config(path)


def test_section_and_overrides(tmp_path):
    path = _write(tmp_path, "simulation:\n  world: rough\n  terrain_seed: 4\n")
    cfg = load_simulation_config(path, section="simulation")
    assert cfg.world == "rough" and cfg.terrain_seed == 4
    data = apply_overrides({"a": {"b": 1}}, ["a.b=2.5", "a.c=true"])
    assert data == {"a": {"b": 2.5, "c": True}}
    with pytest.raises(ConfigError, match="malformed override"):
        parse_override("a.b")
    with pytest.raises(ConfigError, match="out of range"):
        SimulationConfig().replace(physics_dt=1.0)

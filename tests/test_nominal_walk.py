"""The nominal Bézier trot really walks: C MuJoCo (20 s flat, turning, rough band) and MJX (5 s)."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest

from evaluation.nominal import main, run_nominal, run_nominal_mjx_batch, summarize_trot, trunk_yaw

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HAS_ROUGH = os.path.isfile(os.path.join(REPO, "model", "world_train.xml"))


def _yaw_quat(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(yaw / 2), np.zeros_like(yaw), np.zeros_like(yaw), np.sin(yaw / 2)], axis=-1)


def test_summary_of_a_synthetic_trajectory():
    dt = 0.02
    n = 100
    yaw = np.linspace(0.0, 4.0, n + 1)  # more than pi: must be unwrapped
    speed = 0.25
    pos = np.zeros((n + 1, 3))
    for k in range(n):
        pos[k + 1, :2] = pos[k, :2] + speed * dt * np.array([math.cos(yaw[k]), math.sin(yaw[k])])
    pos[:, 2] = 0.26
    height = pos[1:, 2].copy()
    res = summarize_trot(pos, _yaw_quat(yaw), height, np.zeros((n, 4), bool), dt)
    assert res["mean_forward_speed"] == pytest.approx(speed, rel=1e-9)
    assert res["yaw_change"] == pytest.approx(4.0, rel=1e-9)
    assert not res["fell"] and res["fall_time"] is None
    height[60:] = 0.05
    res = summarize_trot(pos, _yaw_quat(yaw), height, np.zeros((n, 4), bool), dt)
    assert res["fell"] and res["fall_time"] == pytest.approx(61 * dt)
    tipped = _yaw_quat(yaw)
    tipped[80:] = [math.cos(1.2), math.sin(1.2), 0.0, 0.0]  # rolled by 2.4 rad
    res = summarize_trot(pos, tipped, pos[1:, 2], np.zeros((n, 4), bool), dt)
    assert res["fell"] and res["fall_time"] == pytest.approx(80 * dt)
    assert trunk_yaw(_yaw_quat(np.array(0.7))) == pytest.approx(0.7)


def test_flat_trot_20s_c_mujoco():
    res = run_nominal(duration=20.0, vx=0.3, world="flat")
    assert not res["fell"]
    assert res["walk_time"] == pytest.approx(20.0)
    assert res["trunk_pos"].shape == (1000, 3) and res["height"].shape == (1000,)
    assert 0.6 * 0.3 <= res["mean_forward_speed"] <= 1.3 * 0.3  # seen 0.217 m/s (the 0.4 s gait period)
    assert res["forward_distance"] > 0.6 * 0.3 * 20.0
    assert abs(res["yaw_change"]) < 0.3
    assert abs(res["trunk_pos"][-1, 1] - res["trunk_pos"][0, 1]) < 1.0
    assert res["min_height"] > 0.2
    assert res["saturation_fraction"] == 0.0


@pytest.mark.parametrize("yaw_rate", [0.5, -0.5])
def test_turns_in_the_commanded_direction(yaw_rate):
    duration = 10.0
    res = run_nominal(duration=duration, vx=0.2, yaw_rate=yaw_rate, world="flat")
    assert not res["fell"]
    assert np.sign(res["yaw_change"]) == np.sign(yaw_rate)
    assert abs(res["yaw_change"]) > 0.6 * abs(yaw_rate) * duration
    assert res["mean_forward_speed"] > 0.1


@pytest.mark.skipif(not HAS_ROUGH, reason="model/world_train.xml not present")
def test_rough_band_does_not_fall():
    res = run_nominal(duration=10.0, vx=0.3, world="rough", band=2)
    assert not res["fell"]
    assert res["mean_forward_speed"] > 0.15


def test_command_line_prints_the_summary(capsys):
    res = main(["--duration", "1.0", "--vx", "0.2"])
    out = capsys.readouterr().out
    assert "mean fwd speed" in out and "fell" in out
    assert res["walk_time"] == pytest.approx(1.0)


def test_robot_xml_option_resolves_against_the_working_directory_then_the_repository(tmp_path, monkeypatch, capsys):
    from evaluation.nominal import sim_config_from_options
    from model.yaml_config import ConfigError

    long = "model/robots/quad12_long/robot.xml"
    assert sim_config_from_options("flat").robot_path is None  # the shipped robot
    monkeypatch.chdir(tmp_path)
    assert sim_config_from_options("rough", long).robot_path == os.path.join(REPO, long)  # from any directory
    shutil.copy(os.path.join(REPO, long), tmp_path / "mine.xml")
    assert sim_config_from_options("flat", "mine.xml").robot_path == str(tmp_path / "mine.xml")
    with pytest.raises(ConfigError, match=r"key 'robot_xml': model file not found: .*nope\.xml"):
        sim_config_from_options("flat", "nope.xml")
    with pytest.raises(SystemExit) as exit_info:
        main(["--robot-xml", "nope.xml"])
    assert exit_info.value.code == 2 and "nope.xml" in capsys.readouterr().err


def test_command_line_walks_the_robot_it_is_given(capsys, monkeypatch):
    from evaluation import nominal

    long = os.path.join(REPO, "model", "robots", "quad12_long", "robot.xml")
    loaded, load = [], nominal.load_mj_model
    monkeypatch.setattr(nominal, "load_mj_model", lambda cfg: loaded.append(cfg.robot_path) or load(cfg))
    res = main(["--duration", "0.4", "--robot-xml", long])
    assert loaded == [long] and f"robot={long}" in capsys.readouterr().out
    assert not res["fell"] and res["walk_time"] == pytest.approx(0.4)


@pytest.mark.slow
def test_flat_trot_and_turns_5s_mjx():
    straight, left, right = run_nominal_mjx_batch([(0.3, 0.0, 0.0), (0.2, 0.0, 0.5), (0.2, 0.0, -0.5)], duration=5.0)
    for res in (straight, left, right):
        assert not res["fell"]
        assert res["trunk_pos"].shape == (250, 3)
        assert res["min_height"] > 0.2
    # the faster-cadence gait (period 0.4 s) walks slow commands ~30 % slow on the soft
    # servos (seen 0.206 m/s here, 0.217 m/s in C MuJoCo over 20 s; docs/gait_ik.md)
    assert 0.6 * 0.3 <= straight["mean_forward_speed"] <= 1.3 * 0.3
    assert abs(straight["yaw_change"]) < 0.3
    assert left["yaw_change"] > 0.6 * 0.5 * 5.0
    assert right["yaw_change"] < -0.6 * 0.5 * 5.0

"""train/run_summary.py: the before/after table, summary.json and the learning-curve PNG (fast)."""

import json
import os

import pytest

from train.progress import ProgressLogger
from train.run_summary import CURVE_FILE, before_after, plot_learning_curve, read_summary, summary_lines, write_summary

NOMINAL = {
    "reward": 500.0,
    "fall_rate": 0.25,
    "vel_tracking_error_per_step": 0.140,
    "distance": 1.0,
    "forward_velocity_per_step": 0.25,
    "episode_length": 400.0,
    "num_episodes": 8.0,
    "step": 0,
}
POLICY = {
    "reward": 700.0,
    "fall_rate": 0.0,
    "vel_tracking_error_per_step": 0.056,
    "distance": 0.5,
    "forward_velocity_per_step": 0.35,
    "episode_length": 500.0,
    "num_episodes": 8.0,
    "step": 1000,
}


def test_before_after_columns_and_ratio():
    ba = before_after(NOMINAL, POLICY, control_dt=0.02)
    # distance walked = forward speed x steps x dt: 0.25 x 400 x 0.02 = 2.0 m, 0.35 x 500 x 0.02 = 3.5 m
    assert ba["nominal"]["distance"] == pytest.approx(2.0) and ba["policy"]["distance"] == pytest.approx(3.5)
    assert ba["policy"]["heading_distance"] == pytest.approx(0.5)  # along the initial heading, for reference
    assert ba["nominal"]["success"] == pytest.approx(0.75) and ba["policy"]["success"] == pytest.approx(1.0)
    assert ba["vel_error_ratio"] == pytest.approx(0.4)
    lines = summary_lines(ba, "8 episodes")
    assert lines[0] == "before/after on 8 episodes:"
    text = "\n".join(lines)
    assert "75%" in text and "100%" in text and "0.140 m/s" in text and "0.056 m/s" in text and "x0.40" in text
    assert "2.00 m" in text and "3.50 m" in text


def test_missing_numbers_print_dashes():
    ba = before_after({"reward": 1.0}, {"reward": 2.0})
    assert ba["vel_error_ratio"] is None and ba["nominal"]["distance"] is None  # no control_dt
    assert "-" in summary_lines(ba)[3]


def test_summary_json_round_trip(tmp_path):
    ba = before_after(NOMINAL, POLICY)
    write_summary(str(tmp_path), ba, env_steps=1000, preset="cpu_small")
    s = read_summary(str(tmp_path))
    assert s["env_steps"] == 1000 and s["policy"]["vel_error"] == pytest.approx(0.056)
    json.dumps(s)


def test_learning_curve_png(tmp_path):
    run = str(tmp_path)
    assert plot_learning_curve(run) is None  # no progress.jsonl yet
    lg = ProgressLogger(run, 1000, console=lambda s: None, tensorboard=False)
    assert plot_learning_curve(run) is None  # no evaluation yet
    lg.record("zero_residual", 0, NOMINAL)
    for step, err in [(0, 0.14), (500, 0.09), (1000, 0.056)]:
        lg.log_eval(
            step, {**POLICY, "reward_std": 1.0, "episode_length": 250.0, "vel_tracking_error_per_step": err}, 0, 2
        )
    lg.close()
    path = plot_learning_curve(run)
    assert path == os.path.join(run, CURVE_FILE)
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(path) > 5000

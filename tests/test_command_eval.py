"""python -m evaluation.evaluate --mode command_grid / push / stand: files, numbers, bad input.

Kept fast (CI budget): tiny grids and short episodes; the episodes run batched (``evaluation.runner``),
the single env (``command_eval.cached_env``, a module fixture) checks the policy and is the reference.
"""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest
from random_policy_export import write_random_export

from evaluation import command_eval as ce
from evaluation import evaluate as ev
from evaluation.episode_records import read_records
from mjx_envs.policy_env import default_configs

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def env():
    """The flat-world env every test here runs in (built and jit-compiled once)."""
    return ce.cached_env(ce.mode_configs(default_configs()))


def _png_ok(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == PNG
    assert os.path.getsize(path) > 5000


def test_tiny_grid_writes_json_markdown_and_heat_maps(env, tmp_path, capsys):
    """2 x 2 cells per grid, 1.5 s, settle 0.5 s, nominal gait: 8 cells with finite errors."""
    out = str(tmp_path / "grid")
    argv = [
        "--no-residual",
        "--mode",
        "command_grid",
        "--grid-vx",
        "0",
        "0.3",
        "--grid-yaw",
        "0",
        "0.5",
        "--grid-vy",
        "-0.2",
        "0.2",
        "--grid-duration",
        "1.5",
        "--settle",
        "0.5",
        "--physics-threads",
        "1",
        "--out",
        out,
    ]
    rc = ev.main(argv)
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert ce.cached_env(ce.mode_configs(default_configs())) is env  # the CLI reused the fixture's env
    with open(os.path.join(out, "command_grid.json")) as fh:
        data = json.load(fh)
    s = data["settings"]
    assert s["command_line"] == "python -m evaluation.evaluate " + " ".join(argv)
    assert s["vx"] == [0.0, 0.3] and s["yaw_rate"] == [0.0, 0.5] and s["vy"] == [-0.2, 0.2]
    assert s["duration_s"] == 1.5 and s["settle_s"] == 0.5 and s["world"] == "flat" and s["controllers"] == ["nominal"]
    assert list(data["results"]) == ["nominal"]
    cells = data["results"]["nominal"]["cells"]
    assert len(cells) == 8
    assert [c["command"] for c in cells if c["grid"] == "vx_yaw"] == [
        [0, 0, 0],
        [0, 0, 0.5],
        [0.3, 0, 0],
        [0.3, 0, 0.5],
    ]
    assert [c["command"] for c in cells if c["grid"] == "vx_vy"] == [
        [0, -0.2, 0],
        [0, 0.2, 0],
        [0.3, -0.2, 0],
        [0.3, 0.2, 0],
    ]
    for c in cells:
        assert not c["fell"] and c["survived"] and c["steps"] == 75 and c["samples"] == 50
        for k in ("vel_tracking_error_mps", "yaw_rate_error_radps", "achieved_vx_mps", "achieved_yaw_rate_radps"):
            assert math.isfinite(c[k]), k
        assert 0 <= c["vel_tracking_error_mps"] < 2 and 0 <= c["yaw_rate_error_radps"] < 3
    # default (joystick) ranges vx [-0.6, 1], vy [-0.4, 0.4], yaw rate [-1, 1]: every cell is inside
    assert not any(c["outside_command_ranges"] for c in cells)
    assert not any("cells have" in n for n in data["notes"])
    summ = data["results"]["nominal"]["summary"]
    assert set(summ) == {"vx_yaw", "vx_vy", "all"} and summ["all"]["cells"] == 8 and summ["all"]["falls"] == 0
    errs = [c["vel_tracking_error_mps"] for c in cells]
    assert summ["all"]["vel_tracking_error_mps_mean"] == pytest.approx(np.mean(errs))
    assert summ["all"]["vel_tracking_error_mps_max"] == pytest.approx(max(errs))
    with open(os.path.join(out, "command_grid.md")) as fh:
        md = fh.read()
    for text in (
        "# Command grid",
        "| controller | grid | cells | falls |",
        "| nominal | all | 8 | 0 |",
        "| vx (m/s) \\ yaw rate (rad/s) | yaw rate +0 | yaw rate +0.5 |",
        "| vx (m/s) \\ vy (m/s) |",
        "![command grid vx_yaw](command_grid_vx_yaw.png)",
    ):
        assert text in md, text
    for png in ("command_grid_vx_yaw.png", "command_grid_vx_vy.png"):
        _png_ok(os.path.join(out, png))
    assert "nominal: command grid, 8 cells, 0 falls" in printed.out
    recs = read_records(os.path.join(out, "command_grid.episodes.jsonl"))  # written as the parts finished
    assert [(r["command"], r["vel_tracking_error_mps"]) for r in recs] == [
        (c["command"], c["vel_tracking_error_mps"]) for c in cells
    ]


def test_push_zero_kick_survives_and_huge_kick_falls(env):
    """Nominal gait, command (0.4, 0, 0): no kick -> no fall; a 6 m/s kick at 1 s -> a fall after the kick."""
    test = ce.PushTest(kicks_mps=(0.0, 6.0), episodes=2, duration_s=2.0, kick_time_s=1.0)
    rep = ce.run_push_recovery(None, test, threads=1)
    table = {r["kick_mps"]: r for r in rep["results"]["nominal"]["table"]}
    assert table[0.0]["success_rate"] == 1.0 and table[0.0]["episodes"] == 2
    assert table[6.0]["success_rate"] == 0.0 and table[6.0]["falls_before_kick"] == 0
    eps = rep["results"]["nominal"]["episodes"]
    assert [e["angle_rad"] for e in eps] == pytest.approx([0.0, np.pi, 0.0, np.pi])
    for e in eps:
        assert e["kick_applied"]
        assert np.linalg.norm(e["kick_world_mps"]) == pytest.approx(e["kick_mps"])
        if e["kick_mps"] == 6.0:
            assert e["fell"] and 1.0 < e["fall_time_s"] < 2.0
        else:
            assert e["steps"] == 100 and not e["fell"]
    assert rep["settings"]["kick_angles_rad"] == pytest.approx([0.0, np.pi])


def test_batched_runner_gives_the_single_env_numbers(env):
    """The tests run batched (evaluation.runner); each episode's numbers are the single env's, kick included."""
    from evaluation.episode import episode_key, zero_action

    test = ce.PushTest(kicks_mps=(1.5,), episodes=2, duration_s=1.0, kick_time_s=0.4)
    rep = ce.run_push_recovery(None, test, threads=1)
    for e in rep["results"]["nominal"]["episodes"]:
        one = ce.push_episode(env, zero_action(), e["kick_mps"], e["angle_rad"], test, episode_key(0, e["episode"]))
        assert {k: e[k] for k in one} == one


def test_kick_is_added_after_the_step_to_the_world_frame_velocity():
    """The callback adds the kick once, at step k, along heading + angle, to qvel[0:2]."""

    class Env:  # the two fields the callback touches
        class data:
            qpos = np.array([0, 0, 0.3, np.cos(np.pi / 4), 0, 0, np.sin(np.pi / 4)])  # yaw = pi/2
            qvel = np.zeros(18)

    applied = []
    cb = ce.kick_callback(2.0, np.pi / 2, 3, applied)
    assert cb(Env, 2) is True and not applied and not Env.data.qvel.any()
    cb(Env, 3)
    np.testing.assert_allclose(Env.data.qvel[:2], [-2.0, 0.0], atol=1e-12)  # heading +y, angle +90 deg -> -x
    assert len(applied) == 1 and not Env.data.qvel[2:].any()


def test_stand_still_gives_finite_drift(env, tmp_path):
    rep = ce.run_stand_still(None, ce.StandTest(episodes=1, duration_s=1.0), threads=1)
    (e,) = rep["results"]["nominal"]["episodes"]
    assert e["steps"] == 50 and math.isfinite(e["drift_m"]) and 0 <= e["drift_m"] <= e["max_drift_m"]
    assert math.isfinite(e["max_yaw_change_rad"]) and math.isfinite(e["mean_speed_mps"])
    s = rep["results"]["nominal"]["summary"]
    assert s["episodes"] == 1 and s["drift_m_mean"] == e["drift_m"]
    rep["settings"]["command_line"] = "test"
    paths = ce.write_mode_report(rep, str(tmp_path))
    with open(paths["json"]) as fh:
        assert json.load(fh)["settings"]["command"] == [0.0, 0.0, 0.0]
    with open(paths["markdown"]) as fh:
        assert "| nominal | 1 | " in fh.read()


def test_policy_and_nominal_side_by_side(env, tmp_path):
    """A random-weight export: 1 x 1 cells, both controllers, the same reset keys; push table and plot."""
    export = write_random_export(str(tmp_path / "run"))
    grid = ce.CommandGrid(vx=(0.3,), yaw_rate=(0.0,), vy=(0.0,), duration_s=0.6, settle_s=0.2)
    rep = ce.run_command_grid(export, grid, threads=1)
    assert list(rep["results"]) == ["policy", "nominal"]
    assert all(len(r["cells"]) == 2 for r in rep["results"].values())
    rep["settings"]["command_line"] = "test"
    paths = ce.write_mode_report(rep, str(tmp_path / "out"))
    with open(paths["markdown"]) as fh:
        md = fh.read()
    assert re.search(r"\| \+0\.3 \| \d\.\d{3}†? / \d\.\d{3}†? \|", md)  # "policy / nominal" cells
    push = ce.run_push_recovery(
        export, ce.PushTest(kicks_mps=(0.0,), episodes=1, duration_s=0.4, kick_time_s=0.2), threads=1
    )
    push["settings"]["command_line"] = "test"
    paths = ce.write_mode_report(push, str(tmp_path / "out"))
    _png_ok(paths["push recovery"])
    with open(paths["markdown"]) as fh:
        assert "| kick (m/s) | policy success | nominal success |" in fh.read()


def test_settings_validation():
    assert [c.command for c in ce.CommandGrid(vx=(1,), yaw_rate=(2,), vy=(3,)).cells()] == [(1, 0, 2), (1, 3, 0)]
    with pytest.raises(ValueError, match="grid vx needs at least one value"):
        ce.CommandGrid(vx=())
    with pytest.raises(ValueError, match="settle time must be in"):
        ce.CommandGrid(duration_s=1.0, settle_s=1.0)
    with pytest.raises(ValueError, match="kick sizes must be finite and >= 0"):
        ce.PushTest(kicks_mps=(0.5, -1.0))
    with pytest.raises(ValueError, match="kick time must be in"):
        ce.PushTest(duration_s=2.0, kick_time_s=2.0)
    with pytest.raises(ValueError, match="stand duration must be a positive"):
        ce.StandTest(duration_s=-1)
    assert ce.outside_command_ranges((0.3, 0, 0.5), {"vx": [0.2, 0.5], "vy": [0, 0], "yaw_rate": [-0.3, 0.3]}) == [
        "yaw_rate 0.5 outside [-0.3, 0.3]"
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--mode", "command_grid", "--grid-vx"], "grid vx needs at least one value (m/s)"),
        (["--mode", "command_grid", "--grid-duration", "-1"], "grid duration must be a positive number of seconds"),
        (["--mode", "push", "--kicks", "0", "-0.5"], "kick sizes must be finite and >= 0 (m/s), got -0.5"),
        (["--mode", "stand", "--stand-duration", "-2"], "stand duration must be a positive number of seconds"),
        (["--mode", "all", "--push-episodes", "0"], "push episodes must be an integer >= 1"),
    ],
)
def test_cli_bad_input_exits_2(argv, message, tmp_path, capsys):
    out = tmp_path / "o"
    assert ev.main(["--no-residual", "--out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_residual_stand_gate_keeps_the_shipped_policy_in_place(tmp_path):
    """``env.residual_stand_scale`` = 0 removes the residual while the gait stands. The shipped suite
    policy, trained without it, drifts 7.8 cm mean / 11.9 cm max in 8 stands of 10 s at a zero
    command (policies/quad12_suite_cpu/stand_still.md); its export with the gate stands like the
    gait: measured 0.6 / 0.9 cm, asserted <= 3 cm (issue 32's target), no fall."""
    import shutil

    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "policies", "quad12_suite_cpu")
    gated = str(tmp_path / "gated")
    shutil.copytree(src, gated, ignore=shutil.ignore_patterns("*.png", "*.jsonl", "safety"))
    meta_path = os.path.join(gated, "meta.json")
    with open(meta_path) as fh:
        meta = json.load(fh)
    meta["config"]["env"]["residual_stand_scale"] = 0.0
    with open(meta_path, "w") as fh:
        json.dump(meta, fh)
    rep = ce.run_stand_still(gated, ce.StandTest(episodes=8, duration_s=10.0), threads=2)
    policy, nominal = rep["results"]["policy"]["summary"], rep["results"]["nominal"]["summary"]
    assert policy["falls"] == 0 and policy["drift_m_max"] <= 0.03, policy
    assert policy["drift_m_max"] == pytest.approx(nominal["drift_m_max"], abs=1e-6)  # the gait's own drift

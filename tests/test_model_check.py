"""Bring your own robot: ``python -m model.check`` and ``simulation.robot_xml`` (issue 17).

The second robot, ``model/robots/quad12_long/robot.xml`` (longer legs, wider hips, heavier trunk),
passes the check, stands and walks with the nominal gait, and trains a few steps; malformed copies
of ``model/robot.xml`` fail with named problems.
"""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

from model.check import main as check_main
from model.simulation_config import REPO_ROOT, load_simulation_config
from model.yaml_config import ConfigError

LONG = "model/robots/quad12_long/robot.xml"
ROBOT_TEXT = open(os.path.join(REPO_ROOT, "model", "robot.xml")).read()


def _run_check(path):
    out = []
    rc = check_main([path], out=out.append)
    return rc, "\n".join(out)


@pytest.mark.parametrize("path", ["model/robot.xml", LONG])
def test_both_robots_pass(path):
    rc, text = _run_check(os.path.join(REPO_ROOT, path))
    assert rc == 0, text
    assert text.startswith("OK ") and "thigh / calf length (m)" in text
    if path == LONG:
        assert "0.2500 / 0.2500" in text and "FR (+0.220, -0.070, +0.000)" in text and "13.70" in text


def _write(tmp_path, text):
    p = tmp_path / "robot.xml"
    p.write_text(text)
    return str(p)


def _eleven_actuators(t):
    t = re.sub(r'\s*<position name="RL_knee"[^>]*/>', "", t, count=1)
    t = re.sub(r'\s*<actuatorfrc name="RL_knee_frc"[^>]*/>', "", t, count=1)
    return re.sub(r'(ctrl="[^"]*) -1.8"', r'\1"', t, count=1)


def _swapped_legs(t):
    lines = t.splitlines(keepends=True)
    fr = [i for i, ln in enumerate(lines) if '<position name="FR_' in ln]
    fl = [i for i, ln in enumerate(lines) if '<position name="FL_' in ln]
    for a, b in zip(fr, fl):
        lines[a], lines[b] = lines[b], lines[a]
    return "".join(lines)


def _no_foot_sensor(t):
    return re.sub(r'\s*<touch name="RR_touch"[^>]*/>', "", t, count=1)


@pytest.mark.parametrize("mutate, expected", [
    (_eleven_actuators, "11 actuators; the stack needs 12"),
    (_swapped_legs, "actuator 0 drives joint 'FL_abduction', expected 'FR_abduction'"),
    (_no_foot_sensor, "missing sensor RR_touch"),
])
def test_malformed_robots_fail_with_named_errors(tmp_path, mutate, expected):
    text = mutate(ROBOT_TEXT)
    assert text != ROBOT_TEXT, "the mutation did not apply"
    rc, out = _run_check(_write(tmp_path, text))
    assert rc == 2 and out.startswith("FAIL ") and expected in out, out


def test_unreadable_files_fail_clearly(tmp_path):
    rc, out = _run_check(str(tmp_path / "nope.xml"))
    assert rc == 2 and "file not found" in out
    rc, out = _run_check(_write(tmp_path, "<mujoco><worldbody><body></mujoco>"))
    assert rc == 2 and "MuJoCo cannot compile it" in out


def test_robot_xml_key_is_validated():
    with pytest.raises(ConfigError, match="key 'robot_xml': model file not found"):
        load_simulation_config(robot_xml="model/robots/nope.xml")


def test_command_box_is_checked_with_the_configured_robots_hips():
    """The config-load check of env.command against the gait's foot-speed limit uses the hips of
    the robot being trained: vx 0-1.1 m/s with yaw +-1.6 rad/s needs 1.355 m/s of foot speed on the
    shipped robot (limit 1.364) but 1.398 m/s on the long robot, whose hips sit further out."""
    from train.config import load_train_config

    box = ["env.command.vx=[0.0, 1.1]", "env.command.vy=[0.0, 0.0]", "env.command.yaw_rate=[-1.6, 1.6]"]
    load_train_config(preset="ci_tiny", overrides=box)  # the shipped robot can
    with pytest.raises(ConfigError, match=r"needs a foot speed of 1\.39\d m/s"):
        load_train_config(preset="ci_tiny", overrides=box + [f"simulation.robot_xml={LONG}"])


def test_second_robot_stands_and_walks_with_the_nominal_gait():
    from gait.gait_config import GaitConfig
    from ik.leg_geometry import DEFAULT_GEOMETRY
    from mjx_envs.env_config import EnvConfig
    from mjx_envs.episode_logic import make_context
    from playback.nominal import run_nominal

    sim = load_simulation_config(world="flat", robot_xml=LONG)
    ctx = make_context(sim, EnvConfig(), GaitConfig())
    assert ctx.controller.geometry.thigh_length == pytest.approx(0.25) != DEFAULT_GEOMETRY.thigh_length
    assert ctx.home_trunk_height == pytest.approx(0.331)
    r = run_nominal(duration=6.0, vx=0.4, sim_config=sim)
    # measured 2026-11-27: no fall, 1.9 m in 8 s (the shipped robot: 2.5 m), lowest trunk 0.23 m
    assert not r["fell"] and r["min_height"] > 0.2, r["min_height"]
    assert r["distance"] > 1.0, r["distance"]


@pytest.mark.slow
def test_second_robot_trains_and_exports(tmp_path):
    cmd = [sys.executable, "-m", "train", "--preset", "ci_tiny", "--output-dir", str(tmp_path), "--name", "long",
           f"simulation.robot_xml={LONG}"]
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(REPO_ROOT, ".jax_cache"))
    proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (run_dir,) = glob.glob(os.path.join(str(tmp_path), "*_long"))
    meta = json.load(open(os.path.join(run_dir, "export", "meta.json")))
    assert LONG in json.dumps(meta)  # the export records the robot it was trained on
    assert "before/after" in proc.stdout

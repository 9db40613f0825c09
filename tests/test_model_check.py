"""Bring any quadruped: ``python -m model.check`` and ``simulation.robot_xml`` on five robots.

The project's two robots and three written in the public collections' conventions
(``model/robots/go1_style``: trunk ``base``, FL listed first, foot sphere in the calf, feet with
contype 0 / conaffinity 1, collision geoms only, ``general`` servos; ``spot_style``: knee 2.5 cm ahead
of the hip axis, legs fl/fr/hl/hr, front and hind ranges differ; ``go2_style``: thighs rotated 0.3 rad,
``motor`` actuators, front and rear hip ranges differ, no keyframe) pass the check with no edit,
stand, walk, and train. Each defect the issue names has a test here or in test_robot_adapter.py.
"""

import glob
import json
import math
import os
import re
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from model import robot_adapter
from model.check import main as check_main
from model.check import physical_tests
from model.robot_spec import load_robot_spec
from model.simulation_config import REPO_ROOT, load_simulation_config
from model.yaml_config import ConfigError

LONG = "model/robots/quad12_long/robot.xml"
PUBLIC = ["model/robots/go1_style/robot.xml", "model/robots/spot_style/robot.xml", "model/robots/go2_style/robot.xml"]
ROBOTS = ["model/robot.xml", LONG] + PUBLIC


def _run_check(path, *extra):
    out = []
    rc = check_main([path, *extra], out=out.append)
    return rc, "\n".join(out)


def _go1_variant(tmp_path, scale=1.0, home=None):
    """go1_style as text, every length x ``scale`` at the same masses (inertias, armature x scale^2,
    servo stiffness and torque limits x scale, damping x scale^1.5: it stands as well as the
    original), optionally with the ``home`` (hip, knee) angles and the trunk height they give."""
    text = open(os.path.join(REPO_ROOT, PUBLIC[0])).read()
    k = scale
    for attr, f in (
        ("pos", lambda i: k),
        ("size", lambda i: k),
        ("fromto", lambda i: k),
        ("diaginertia", lambda i: k * k),
        ("armature", lambda i: k * k),
        ("damping", lambda i: k**1.5),
        ("frictionloss", lambda i: k),
        ("forcerange", lambda i: k),
        ("gainprm", lambda i: k),
        ("biasprm", lambda i: (1, k, k**1.5)[i]),
    ):
        text = re.sub(
            rf'(?<=\s){attr}="([^"]*)"',
            lambda m: f'{attr}="' + " ".join(f"{float(v) * f(i):.6g}" for i, v in enumerate(m.group(1).split())) + '"',
            text,
        )
    hip, knee = home or (0.9, -1.8)
    z = 2 * 0.213 * k * math.cos(hip) + 0.022 * k  # feet (r 0.022) on the floor, straight below the hips
    text = re.sub(r'qpos="0 0 [0-9.]+', f'qpos="0 0 {z:.4f}', text).replace("0 0.9 -1.8", f"0 {hip} {knee}")
    (tmp_path / "robot.xml").write_text(text)
    return str(tmp_path / "robot.xml")


def test_every_robot_passes_the_check_stands_and_walks():
    """Structure, the five physical tests, and the issue's bar: >= 50 % of the commanded 3.2 m in 8 s
    at 0.4 m/s without falling. Measured 2026-12-07 (8 s): 2.52, 1.62, 2.67, 2.89, 2.45 m."""
    from evaluation.nominal import run_nominal

    for path in ROBOTS:
        rc, text = _run_check(os.path.join(REPO_ROOT, path), "--no-walk")
        assert rc == 0, text
        assert text.count("PASS ") == 4 and "FAIL" not in text, text
        r = run_nominal(duration=8.0, vx=0.4, sim_config=load_simulation_config(world="flat", robot_xml=path))
        assert not r["fell"] and r["distance"] >= 1.6, (path, r["distance"])


def test_check_output_names_what_it_derived_and_did():
    rc, text = _run_check(os.path.join(REPO_ROOT, PUBLIC[2]))  # go2_style, with the walk
    assert rc == 0, text
    assert "FR: FR_hip_joint, FR_thigh_joint, FR_calf_joint" in text
    assert "12 torque motors -> PD servos kp 80" in text and "no keyframe 'home'" in text
    assert "PASS walks (nominal trot, 4 s at 0.4 m/s)" in text and "6/6 physical tests passed" in text
    assert "PASS env episodes (4 x 2 s, nominal gait): no episode ends" in text
    rc, text = _run_check(os.path.join(REPO_ROOT, PUBLIC[0]), "--no-walk")
    assert "feet: contype 0 -> bit 0 set" in text and "trunk" in text and "base" in text


def test_the_check_fails_a_robot_whose_feet_do_not_collide(monkeypatch):
    """The check's OK is backed by physics: without the adapter's contact fix the go1-style feet
    (contype 0 / conaffinity 1, the floor's bits) never touch, and the check says so."""
    real = robot_adapter.plan
    monkeypatch.setattr(
        robot_adapter, "plan", lambda m, rmap: real(m, rmap).__class__(**{**real(m, rmap).__dict__, "foot_contype": ()})
    )
    robot_adapter._prepare.cache_clear()
    try:
        spec = load_robot_spec(PUBLIC[0])
        results = dict((n, (ok, msg)) for n, ok, msg in physical_tests(PUBLIC[0], spec))
    finally:
        robot_adapter._prepare.cache_clear()
    ok, msg = results["feet collide"]
    assert not ok and "does not touch the floor" in msg, msg
    assert not results["settles on 4 feet"][0]


def test_the_check_fails_a_robot_with_2m_legs(tmp_path):
    """1 m thigh and 1 m calf (go1_style scaled 4.7x so that it stands: stretching only its legs
    leaves servos too weak, which the settle test catches): structure, contact, settle, leg order
    and FK pass, and --no-walk said a plain OK. The training configs refuse it (leg length 2.00 m:
    the gait's 'auto' body height 1.287, swing height 0.334 and step 1.43 m leave their ranges), so
    the check fails with those keys, and the walk reports the refusal instead of a traceback."""
    path = _go1_variant(tmp_path, scale=4.7)
    rc, text = _run_check(path)
    assert rc == 2, text
    assert text.count("PASS ") == 4 and "thigh / calf length (m)                         1.0011 / 1.0011" in text
    env = next(line for line in text.splitlines() if line.startswith("FAIL env episodes"))
    assert "leg length (thigh + calf 2.002 m" in env, env
    for key in ("'swing_height' = 0.334", "'body_height' = 1.287", "'max_step_length' = 1.43", "gait.body_height"):
        assert key in env, env
    assert "FAIL walks (nominal trot, 4 s at 0.4 m/s): not run: key 'swing_height'" in text, text
    rc, text = _run_check(path, "--no-walk")  # what it did not try is said on the verdict line
    assert rc == 0 and "not run (--no-walk): the training env's episodes and the walk" in text, text


def test_the_check_runs_the_training_envs_reset(tmp_path):
    """A robot that stands, settles and walks (after the walk's own stand-up) but whose home pose
    crouches the trunk to 0.094 m: the training env resets every episode into that pose, under
    env.min_base_height (0.15 m), and terminates it at the first control step. The check used to say
    OK; now its env-episodes test fails with the step, the height, the key and the fix, and the walk
    cannot pass."""
    path = _go1_variant(tmp_path, home=(1.4, -2.8))
    rc, text = _run_check(path)
    assert rc == 2, text
    assert "PASS settles on 4 feet" in text and "FAIL walks (nominal trot, 4 s at 0.4 m/s)" in text, text
    env = next(line for line in text.splitlines() if line.startswith("FAIL env episodes"))
    for part in (
        "4 of 4 episodes terminate",
        "at control step 1 (0.02 s)",
        "< env.min_base_height 0.15 m",
        "home keyframe's 0.094 m",
        "raise the trunk of keyframe 'home' above 0.15 m",
        "lower env.min_base_height below 0.094 m (configs/env.yaml)",
    ):
        assert part in env, env


def test_env_episode_failures_name_the_limit_and_the_key():
    """The env-episodes verdict for the terminations the env knows (tilt, diverged physics, a gait
    body height under the height limit), from a run's numbers."""
    from model.check import _episodes_result

    spec = load_robot_spec(PUBLIC[0])
    base = dict(
        episodes=4,
        control_dt=0.02,
        commands=np.zeros((4, 3)),
        min_base_height=0.15,
        max_roll_limit=0.8,
        max_pitch_limit=0.8,
        joint_noise=0.1,
        home_height=0.287,
        body_height=0.274,
        leg_length=0.426,
    )
    ok, msg = _episodes_result(spec, {**base, "ends": [(2, 7, 0.25, 0.1, -0.9, True)]})[1:]
    assert not ok and "episode 2" in msg and "|pitch| 0.90 rad > env.max_pitch 0.8 rad" in msg, msg
    ok, msg = _episodes_result(spec, {**base, "ends": [(0, 3, np.nan, np.nan, np.nan, False)]})[1:]
    assert not ok and "physics diverged" in msg, msg
    ok, msg = _episodes_result(spec, {**base, "body_height": 0.13, "ends": [(0, 40, 0.12, 0.0, 0.0, True)]})[1:]
    assert not ok and "set gait.body_height above 0.15 m" in msg and "below 0.130 m" in msg, msg
    ok, msg = _episodes_result(spec, {"refused": "env.command: the command ... needs a foot speed", "auto": []})[1:]
    assert not ok and "refuse this robot: env.command" in msg


def test_write_mapping_round_trip_and_bad_mapping(tmp_path):
    src = os.path.join(REPO_ROOT, PUBLIC[1])
    robot = tmp_path / "robot.xml"
    robot.write_text(open(src).read())
    rc, text = _run_check(str(robot), "--write-mapping", "--no-walk")
    assert rc == 0 and "wrote" in text, text
    mapping = (tmp_path / "robot.yaml").read_text()
    assert "FR:" in mapping and "fr_hx" in mapping and "motor_gains" in mapping
    rc, text = _run_check(str(robot), "--no-walk")  # the written mapping is used and gives the same robot
    assert rc == 0 and "robot.yaml" in text, text
    # a mapping that swaps the front legs is caught by the physical leg-order test
    (tmp_path / "robot.yaml").write_text(mapping.replace("fr_", "XX_").replace("fl_", "fr_").replace("XX_", "fl_"))
    rc, text = _run_check(str(robot), "--no-walk")
    assert rc == 2, text
    (tmp_path / "robot.yaml").write_text("trunk: body\nlegz: {}\n")
    rc, text = _run_check(str(robot), "--no-walk")
    assert rc == 2 and "unknown key(s) legz" in text and "robot.yaml" in text, text


def test_unreadable_files_fail_clearly(tmp_path):
    rc, out = _run_check(str(tmp_path / "nope.xml"))
    assert rc == 2 and "file not found" in out
    p = tmp_path / "robot.xml"
    p.write_text("<mujoco><worldbody><body></mujoco>")
    rc, out = _run_check(str(p))
    assert rc == 2 and "MuJoCo cannot compile it" in out


def test_robot_xml_key_is_validated():
    with pytest.raises(ConfigError, match="key 'robot_xml': model file not found"):
        load_simulation_config(robot_xml="model/robots/nope.xml")


def test_command_box_is_checked_with_the_configured_robots_legs():
    """The config-load check of env.command against the gait's foot-speed limit uses the robot being
    trained: its hips, and (gait sizes 'auto') its leg length. vx 0-1.1 m/s with yaw +-1.6 rad/s needs
    1.355 m/s of foot speed on the shipped robot (limit 0.30 / 0.22 = 1.364); go1_style's feet need
    1.349 m/s and its 0.426 m legs give a 0.304 m step (limit 1.382); a 0.29 m step (1.318) is refused."""
    from train.config import load_train_config

    box = ["env.command.vx=[0.0, 1.1]", "env.command.vy=[0.0, 0.0]", "env.command.yaw_rate=[-1.6, 1.6]"]
    load_train_config(preset="ci_tiny", overrides=box)
    cfg = load_train_config(preset="ci_tiny", overrides=box + [f"simulation.robot_xml={PUBLIC[0]}"])
    assert cfg.gait.max_step_length == pytest.approx(0.304) and cfg.gait.body_height == pytest.approx(0.274)
    with pytest.raises(ConfigError, match=r"needs a foot speed of 1\.349 m/s"):
        load_train_config(
            preset="ci_tiny", overrides=box + [f"simulation.robot_xml={PUBLIC[0]}", "gait.max_step_length=0.29"]
        )


@pytest.mark.slow
def test_robots_train_export_and_play(tmp_path):
    """quad12_long and the three public-style robots each train ci_tiny, export (with their robot) and
    run in the robot loop; go1_style (collision geoms only) also plays back as a video (robot loop
    measured on go1_style's cpu_flat export: 3.62 m in 8 s at 0.4 m/s, no fall). model/robot.xml
    trains, evaluates and plays back in .ci/run (the README's make train)."""
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=os.path.join(REPO_ROOT, ".jax_cache"))
    for path in [LONG] + PUBLIC:
        name = os.path.basename(os.path.dirname(path))
        cmd = [
            sys.executable,
            "-m",
            "train",
            "--preset",
            "ci_tiny",
            "--output-dir",
            str(tmp_path),
            "--name",
            name,
            f"simulation.robot_xml={path}",
        ]
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
        assert "before/after" in proc.stdout
        (run_dir,) = glob.glob(os.path.join(str(tmp_path), f"*_{name}"))
        meta = json.load(open(os.path.join(run_dir, "export", "meta.json")))
        assert path in json.dumps(meta["config"]["simulation"])
        assert meta["config"]["gait"]["body_height"] is not None  # the derived sizes are recorded
        if name == "go1_style":  # the video of the collision-only robot (a video costs ~20 s: one robot)
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "playback",
                    "--policy",
                    run_dir,
                    "--duration",
                    "1.0",
                    "--fps",
                    "10",
                    "--width",
                    "96",
                    "--height",
                    "72",
                    "--video",
                    str(tmp_path / f"{name}.mp4"),
                ],
                cwd=REPO_ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            ok = out.returncode == 0 and os.path.getsize(tmp_path / f"{name}.mp4") > 0
            assert ok or "OSMesa" in out.stderr + out.stdout, out.stdout[-1500:] + out.stderr[-1500:]
        # the copyable robot loop drives it from the export alone (adapted MJCF + meta.robot.kinematics)
        kin = meta["robot"]["kinematics"]
        assert meta["robot"]["adapted"].endswith("adapted_robot.xml") and len(kin["chains"]) == 4
        loop = subprocess.run(
            [
                sys.executable,
                "deploy/robot_loop.py",
                os.path.join(run_dir, "export"),
                "--duration",
                "2",
                "--command",
                "0.4",
                "0",
                "0",
            ],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert loop.returncode == 0 and "fell: no" in loop.stdout, loop.stdout[-1000:] + loop.stderr[-1500:]


def test_raw_public_file_falls_through_the_floor_without_the_adapter(tmp_path):
    """The trap the adapter removes: the go1-style file as MuJoCo compiles it in our flat world (no
    adapter) never touches the floor; through the stack's loader it stands on four loaded feet."""
    src = (
        open(os.path.join(REPO_ROOT, "model", "world.xml"))
        .read()
        .replace('<include file="robot.xml"/>', f'<include file="{os.path.join(REPO_ROOT, PUBLIC[0])}"/>')
        .replace('target="trunk"', 'target="base"')
    )
    (tmp_path / "world.xml").write_text(src)
    raw = mujoco.MjModel.from_xml_path(str(tmp_path / "world.xml"))
    d = mujoco.MjData(raw)
    mujoco.mj_resetDataKeyframe(raw, d, raw.key("home").id)
    mujoco.mj_step(raw, d, nstep=250)
    feet = [
        g for g in range(raw.ngeom) if raw.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE and raw.geom_contype[g] == 0
    ]
    floor = raw.geom("floor").id
    assert len(feet) == 4 and not any(
        {c.geom1, c.geom2} & set(feet) and floor in (c.geom1, c.geom2) for c in d.contact[: d.ncon]
    )
    m = __import__("model.loading", fromlist=["load_mj_model"]).load_mj_model(
        load_simulation_config(world="flat", robot_xml=PUBLIC[0])
    )
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    mujoco.mj_step(m, d, nstep=250)
    touch = [d.sensordata[m.sensor_adr[m.sensor(f"{leg}_touch").id]] for leg in ("FR", "FL", "RR", "RL")]
    assert min(touch) > 10.0 and d.qpos[2] > 0.25, (touch, d.qpos[2])  # measured: 27-35 N each, 0.273 m
    assert np.isfinite(d.qpos).all()

"""The JAX-free robot loop (deploy/robot_controller.py, run in MuJoCo by deploy/robot_loop.py) against
the stack it re-implements.

Equivalence: the shipped export's policy (numpy ``load_policy(...).act``) drives (a) the Gymnasium
twin built from the export's configs (flat world) and (b) the robot loop on its own MjData started
from the twin's reset state; observations, servo targets and trunk positions must agree step by
step. Measured (2-core CPU, 2026-11-26, 150 steps = 3 s, two starts): max |obs difference| <= 4.1e-6
over steps 0-49 and <= 1.8e-5 over steps 50-149 (it grows about linearly: the twin's float32 gait
phase drifts against the loop's float64 one, so the gait_phase channel carries the largest error;
no chaotic divergence within 150 steps); servo targets <= 7.7e-6 rad; trunk position <= 3.1e-6 m.
Asserted: obs <= 2e-5 (steps 0-49) and <= 1e-4 (all), ctrl <= 5e-5 rad, trunk <= 1e-4 m.
"""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import mujoco
import numpy as np
import pytest

from deploy import robot_controller as rc
from deploy import robot_loop as rl
from deploy.policy_loader import load_policy
from evaluation.episode import set_command
from gait.bezier_gait import GaitState
from gait.controller import BezierController
from mjx_envs.policy_env import configs_from_meta, make_env, with_world

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT = os.path.join(ROOT, "policies", "quad12_rough_h200")
SCRIPT = os.path.join(ROOT, "playback", "robot_loop.py")  # the forwarding module of the old name
STEPS = 150


@pytest.fixture(scope="module")
def policy():
    return load_policy(EXPORT)


@pytest.fixture(scope="module")
def twin(policy):
    env = make_env(with_world(configs_from_meta(policy.meta), "flat"))
    yield env
    env.close()


def _start_loop(env, meta):
    """The robot loop on its own MjData, started from the twin's state right after reset."""
    m = rl.load_world(meta, EXPORT, "flat")
    d = mujoco.MjData(m)
    d.qpos[:], d.qvel[:], d.ctrl[:] = env.data.qpos, env.data.qvel, env.data.ctrl
    mujoco.mj_forward(m, d)
    info = env.episode_info
    ctl = rc.Controller(
        meta,
        rc.Robot(m),
        None,
        np.asarray(info["command"], float),
        phase=float(info["gait"].phase),
        activity=float(info["gait"].activity),
        gait_command=np.asarray(info["gait"].command, float),
    )
    return m, d, ctl


@pytest.mark.parametrize(
    "key,command,activity0,stand_scale",
    [(3, (0.4, 0.0, 0.2), None, None), (1, (0.3, 0.1, -0.3), 0.0, None), (2, (0.3, 0.0, 0.0), 0.0, 0.3)],
)
def test_loop_matches_twin(twin, policy, key, command, activity0, stand_scale):
    env, meta = twin, policy.meta
    if stand_scale is not None:  # the residual's stand gate (env.residual_stand_scale) during the ramp
        meta = json.loads(json.dumps(meta))
        meta["config"]["env"]["residual_stand_scale"] = stand_scale
        env = make_env(with_world(configs_from_meta(meta), "flat"))
    env.reset(options={"key": jax.random.PRNGKey(key)})
    obs = set_command(env, command)
    if activity0 is not None:  # start standing: exercises the stand -> step ramp of the gait clock
        info = env.episode_info
        env.episode_info = {
            **info,
            "gait": info["gait"].replace(activity=jnp.full_like(info["gait"].activity, activity0)),
        }
        obs = env.observe()
    m, d, ctl = _start_loop(env, meta)
    ctl.policy = policy.act
    mine = ctl.observe(d.sensordata)
    assert np.abs(mine - obs).max() <= 1e-6
    n_sub = env.ctx.sim.n_substeps
    errs = []
    for k in range(STEPS):
        obs, _, term, trunc, _ = env.step(policy.act(obs))
        d.ctrl[:] = ctl.act()
        for _ in range(n_sub):
            mujoco.mj_step(m, d)
        mine = ctl.after_physics(d.sensordata)
        assert not (term or trunc), f"the twin's episode ended at step {k}"
        errs.append(
            (
                np.abs(mine - obs).max(),
                np.abs(d.ctrl - env.data.ctrl).max(),
                np.abs(d.qpos[:3] - env.data.qpos[:3]).max(),
            )
        )
    e = np.array(errs)
    print(
        f"max |obs| err: steps 0-49 {e[:50, 0].max():.2e}, 50-{STEPS - 1} {e[50:, 0].max():.2e}; "
        f"ctrl {e[:, 1].max():.2e}; trunk pos {e[:, 2].max():.2e} m"
    )
    assert e[:50, 0].max() <= 2e-5 and e[:, 0].max() <= 1e-4  # obs (float32 twin vs float64 loop)
    assert e[:, 1].max() <= 5e-5  # servo targets [rad]
    assert e[:, 2].max() <= 1e-4  # trunk position [m]
    assert float(env.episode_info["gait"].activity) == pytest.approx(ctl.activity, abs=1e-6)


@pytest.mark.parametrize(
    "section,key,message",
    [
        ("env", "height_scan", "observes terrain heights"),
        # footholds run with the robot's map and pose (tests/test_robot_footholds.py); without them: the fix
        ("gait", "footholds", r"places its footholds .*gait\.footholds\.enabled.*terrain=TerrainInput\(height, pose\)"),
    ],
)
def test_loop_refuses_what_needs_a_height_map(policy, section, key, message):
    meta = json.loads(json.dumps(policy.meta))
    meta["config"][section][key] = {**(meta["config"][section].get(key) or {}), "enabled": True}
    with pytest.raises(SystemExit, match=message):
        rc.Controller(meta, None, None, (0.3, 0.0, 0.0))


def test_gait_and_ik_match_stack(policy):
    """Foot targets + residual + IK against gait.controller over random phases, commands (some
    beyond the step cap) and residuals (some far outside the workspace: saturation)."""
    meta = policy.meta
    robot = rc.Robot(rl.load_world(meta, EXPORT, "flat"))
    gait = rc.Gait(meta["config"]["gait"], robot)
    saturated = _compare_with_stack(
        robot,
        gait,
        BezierController(config=configs_from_meta(meta).gait),
        60,
        40,
        (1.5, 0.6, 2.0),
        atol=1e-5,
        stepping=True,
    )  # measured 3.3e-7 rad
    assert saturated >= 20  # the saturation branches were exercised (measured: 74 of 240 legs)
    assert gait.stepping_target(np.zeros(3)) == 0.0


def _compare_with_stack(robot, gait, ctl_jax, n, n_small, cmd_max, atol, stepping=False) -> int:
    """Servo targets of the loop vs gait.controller over ``n`` random phases, activities, commands in
    +-``cmd_max`` and residuals (after ``n_small`` small ones, large: saturation); returns the number
    of saturated legs the stack reported."""
    fn = jax.jit(lambda ph, act, cmd, res: ctl_jax.joint_targets(GaitState.create(ph, act, cmd), cmd, None, res))
    rng = np.random.default_rng(0)
    saturated = 0
    for i in range(n):
        ph, act = rng.uniform(), rng.choice([0.0, 1.0, rng.uniform()])
        cmd = rng.uniform(-np.asarray(cmd_max), cmd_max)
        res = rng.normal(0.0, 0.03 if i < n_small else 0.4, (4, 3))
        ref = fn(jnp.float32(ph), jnp.float32(act), jnp.asarray(cmd, jnp.float32), jnp.asarray(res, jnp.float32))
        q = rc.joint_targets(gait.foot_targets(ph, act, cmd) + res, robot)
        np.testing.assert_allclose(q, np.asarray(ref.joint_targets), atol=atol)
        if stepping:
            assert gait.stepping_target(cmd) == 1.0
        saturated += int(np.sum(ref.saturated))
    return saturated


def test_imports_without_jax():
    """The loop imports numpy alone; its simulation harness adds mujoco; neither brings JAX or the stack
    (also through the old name's forwarding module, loaded from its file)."""
    code = (
        "import importlib.util, sys\n"
        "import deploy.robot_controller, deploy.robot_footholds\n"
        "assert 'mujoco' not in sys.modules\n"
        f"spec = importlib.util.spec_from_file_location('robot_loop', {SCRIPT!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "import deploy.robot_loop\n"
        "heavy = ('jax', 'jaxlib', 'flax', 'brax', 'gait', 'ik', 'mjx_envs', 'model', 'train')\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in heavy]\n"
        "assert not bad, bad\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_cli_runs_onnx_policy(policy, tmp_path):
    """The CLI end to end with a tiny stand-in policy.onnx (obs -> tanh(W obs + b), W small); the old
    name's script forwards to it."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(0).normal(0, 0.01, (54, 12)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["obs", "W"], ["z"]),
            helper.make_node("Add", ["z", "b"], ["y"]),
            helper.make_node("Tanh", ["y"], ["action"]),
        ],
        "stand_in",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["batch", 54])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["batch", 12])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(np.zeros(12, np.float32), "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "policy.onnx"))
    with open(tmp_path / "meta.json", "w") as f:
        json.dump(policy.meta, f)
    r = subprocess.run(
        [sys.executable, "-m", "deploy.robot_loop", str(tmp_path), "--command", "0.3", "0", "0", "--duration", "2"],
        cwd=str(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "distance" in r.stdout and "fell: no" in r.stdout, r.stdout
    bad = subprocess.run(
        [sys.executable, SCRIPT, str(tmp_path), "--world", "rough"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode != 0 and "only the flat world" in bad.stderr


def test_load_world_builds_the_exports_robot_copy(tmp_path):
    """An export carries its robot: the loop's world is built from ``export/robot/`` after the
    original file is gone (a marker site proves it is that copy), and an edited copy is refused by name."""
    from random_policy_export import write_random_export

    from train.config import load_train_config

    src = tmp_path / "src"
    src.mkdir()
    text = open(os.path.join(ROOT, "model", "robot.xml")).read()
    (src / "my_robot.xml").write_text(text.replace("<worldbody>", '<worldbody>\n    <site name="bundle_marker"/>', 1))
    cfg = load_train_config(overrides=[f"simulation.robot_xml={src / 'my_robot.xml'}"])
    export = os.path.join(write_random_export(str(tmp_path / "run"), cfg=cfg), "export")
    for name in os.listdir(src):
        os.remove(src / name)
    meta = json.load(open(os.path.join(export, "meta.json")))
    m = rl.load_world(meta, export, "flat")
    assert m.site("bundle_marker").id >= 0 and m.nu == 12
    with open(os.path.join(export, "robot", "my_robot.xml"), "a") as fh:
        fh.write("<!-- edited -->\n")
    with pytest.raises(SystemExit, match=r"changed after export: .*robot/my_robot\.xml"):
        rl.load_world(meta, export, "flat")


@pytest.mark.parametrize("robot_xml", ["model/robots/spot_style/robot.xml", "model/robots/go2_style/robot.xml"])
def test_gait_and_ik_match_stack_on_public_style_robots(tmp_path, robot_xml):
    """What an export records for a robot written in other conventions (knee offset along x; rotated
    thighs, motors, per-leg ranges): the loop, built from the bundled adapted MJCF and
    ``meta.robot.kinematics`` alone, computes the stack's servo targets (measured <= 1e-6 rad)."""
    from gait.gait_config import load_gait_config
    from ik.leg_geometry import LegGeometry
    from model.robot_bundle import add_adapted_robot, bundle_robot
    from model.robot_spec import load_robot_spec
    from model.yaml_config import to_dict

    rec = add_adapted_robot(str(tmp_path), bundle_robot(os.path.join(ROOT, robot_xml), str(tmp_path)))
    m = mujoco.MjModel.from_xml_path(os.path.join(str(tmp_path), rec["adapted"]))
    robot = rc.Robot(m, rec["kinematics"])
    geo = LegGeometry.from_robot_spec(load_robot_spec(os.path.join(ROOT, robot_xml)))
    cfg = load_gait_config().for_robot(geo)
    gait = rc.Gait(to_dict(cfg), robot)
    saturated = _compare_with_stack(
        robot, gait, BezierController(config=cfg, geometry=geo), 40, 25, (1.0, 0.4, 1.5), atol=2e-5
    )
    assert saturated >= 10
    np.testing.assert_allclose(robot.home, load_robot_spec(os.path.join(ROOT, robot_xml)).home_joints, atol=1e-5)

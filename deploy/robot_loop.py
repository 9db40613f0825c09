"""The robot loop (:mod:`deploy.robot_controller`) in MuJoCo simulation, and its command line.

``python -m deploy.robot_loop EXPORT_DIR [--command VX VY YAW] [--duration S] [--onnx FILE]``
builds the flat world with the export's bundled robot (:func:`load_world`), runs ``policy.onnx``
with onnxruntime (:func:`onnx_policy`) and drives the controller for ``--duration`` seconds of
simulated time (:func:`run`), printing the distance walked and whether the robot fell. The
controller's terrain input (``gait.footholds``) comes from the world (:func:`sim_terrain`). Imports
numpy, mujoco, onnxruntime (inside :func:`onnx_policy`) and :mod:`deploy.robot_controller` -- no
JAX, nothing else of this repository. The controller's names (``Controller``, ``Robot``, ``Gait``,
``joint_targets``, ...) are importable from here too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
from typing import Callable, Dict, Optional, Sequence

import mujoco
import numpy as np

from deploy.robot_controller import (  # noqa: F401  (the loop's names, importable from here too)
    GAIT_DEFAULTS,
    LEGS,
    OBS_CHANNELS,
    OBS_CLIP,
    SIDES,
    SWING_X,
    SWING_Z,
    TROT_OFFSETS,
    Chain,
    Controller,
    Gait,
    Robot,
    TerrainInput,
    bezier,
    joint_targets,
    leg_ik,
    observation,
)

ROBOT_INCLUDE = '<include file="robot.xml"/>'
"""How the world MJCF includes the robot; an export's bundled robot replaces it."""


def bundled_robot(meta: Dict, export_dir: str) -> Optional[str]:
    """Absolute path of the robot MJCF bundled in ``export_dir/robot/`` once every file matches the
    SHA-256 in ``meta["robot"]`` (its adapted copy when the export has one: the stack's sensors and
    actuator order, whatever the original file's conventions); None for an export without one."""
    record = meta.get("robot")
    if record is None:
        return None
    base = os.path.join(os.path.abspath(export_dir), "robot")
    for f in record["files"]:
        path = os.path.join(base, *f["path"].split("/"))
        if not os.path.isfile(path):
            raise SystemExit(
                f"robot_loop: bundled robot file missing: {path} (removed after export; re-export the "
                f"run, or restore it)"
            )
        with open(path, "rb") as fh:
            got = hashlib.sha256(fh.read()).hexdigest()
        if got != f["sha256"]:
            raise SystemExit(
                f"robot_loop: bundled robot file changed after export: {path} (re-export the run, or restore the file)"
            )
    return os.path.join(base, *record.get("adapted", record["entry"]).split("/"))


def load_world(meta: Dict, export_dir: str, world: str) -> mujoco.MjModel:
    """The MuJoCo model of the flat world with the export's robot (:func:`bundled_robot`, else the
    world's own), physics_dt and servo gains."""
    sim = meta["config"]["simulation"]
    if world != "flat":
        raise SystemExit(f"robot_loop: only the flat world is supported (got {world!r}); pass --world flat")
    path = sim.get("flat_xml", "model/world.xml")
    if not os.path.isabs(path):  # relative to the repository root (the export's parent's parent)
        candidates = [
            os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), path),
            os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(export_dir))), path),
            path,
        ]
        path = next((p for p in candidates if os.path.exists(p)), candidates[0])
    robot = bundled_robot(meta, export_dir)
    if robot is None:
        m = mujoco.MjModel.from_xml_path(path)
    else:
        with open(path, "r", encoding="utf-8") as fh:
            text = fh.read()
        if ROBOT_INCLUDE not in text:
            raise SystemExit(f"robot_loop: {path} has no {ROBOT_INCLUDE} line to put the export's robot in")
        spec = mujoco.MjSpec.from_string(text.replace(ROBOT_INCLUDE, f'<include file="{robot}"/>'))
        spec.modelfiledir = os.path.dirname(os.path.abspath(path))
        free = [b.name for b in spec.worldbody.bodies if any(j.type == mujoco.mjtJoint.mjJNT_FREE for j in b.joints)]
        trunk = (meta["robot"].get("kinematics") or {}).get("trunk") or (free[0] if free else "trunk")
        for light in spec.lights:  # the world's lights follow a body "trunk"
            if light.targetbody == "trunk":
                light.targetbody = trunk
        m = spec.compile()
    m.opt.timestep = float(sim["physics_dt"])
    if sim.get("kp") is not None:
        m.actuator_gainprm[:, 0] = sim["kp"]
        m.actuator_biasprm[:, 1] = -sim["kp"]
    if sim.get("kv") is not None:
        m.actuator_biasprm[:, 2] = -sim["kv"]
    return m


def heightfield_height(m: mujoco.MjModel) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Ground height [m, world z] at world (x, y) [m] (elementwise) of the world ``m``: bilinear in its
    first heightfield (rows along y, columns along x, the grid spanning +-``hfield_size`` around the
    hfield geom, heights ``hfield_data * size_z`` + the geom's z; points outside clamped to the
    border), as ``mjx_envs.termination.terrain_height`` reads it; 0 on a world without one (the plane)."""
    if m.nhfield == 0:
        return lambda x, y: np.zeros(np.broadcast(np.asarray(x), np.asarray(y)).shape)
    nrow, ncol = int(m.hfield_nrow[0]), int(m.hfield_ncol[0])
    sx, sy = float(m.hfield_size[0, 0]), float(m.hfield_size[0, 1])
    gids = np.flatnonzero((m.geom_type == mujoco.mjtGeom.mjGEOM_HFIELD) & (m.geom_dataid == 0))
    gx, gy, gz = (np.asarray(m.geom_pos[gids[0]], float) if len(gids) else np.zeros(3)).tolist()
    h = np.asarray(m.hfield_data[: nrow * ncol], float).reshape(nrow, ncol) * float(m.hfield_size[0, 2]) + gz

    def height(x, y):
        u = np.clip((np.asarray(x, float) - gx + sx) / (2 * sx) * (ncol - 1), 0.0, ncol - 1.000001)
        v = np.clip((np.asarray(y, float) - gy + sy) / (2 * sy) * (nrow - 1), 0.0, nrow - 1.000001)
        c0, r0 = np.floor(u).astype(int), np.floor(v).astype(int)
        fu, fv = u - c0, v - r0
        return (
            h[r0, c0] * (1 - fu) * (1 - fv)
            + h[r0, c0 + 1] * fu * (1 - fv)
            + h[r0 + 1, c0] * (1 - fu) * fv
            + h[r0 + 1, c0 + 1] * fu * fv
        )

    return height


def sim_terrain(m: mujoco.MjModel, d: mujoco.MjData, robot: Robot) -> TerrainInput:
    """The robot's :class:`TerrainInput` in simulation: the world's heightfield
    (:func:`heightfield_height`; map frame = world frame) and the trunk's pose from the sensors the
    env reads (``trunk_pos`` x, y; yaw of ``trunk_quat``)."""

    def pose():
        sd = d.sensordata
        w, qx, qy, qz = (float(v) for v in sd[robot.s_quat : robot.s_quat + 4])
        yaw = math.atan2(2.0 * (w * qz + qx * qy), 1.0 - 2.0 * (qy * qy + qz * qz))
        return float(sd[robot.s_pos]), float(sd[robot.s_pos + 1]), yaw

    return TerrainInput(heightfield_height(m), pose)


def onnx_policy(path: str) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda obs: sess.run(["action"], {"obs": np.asarray(obs, np.float32)[None]})[0][0]


def run(
    m: mujoco.MjModel,
    d: mujoco.MjData,
    ctl: Controller,
    steps: int,
    n_substeps: int,
    on_step: Optional[Callable[[int, np.ndarray, np.ndarray], None]] = None,
) -> Dict:
    """The control loop: ``steps`` control steps of ``n_substeps`` physics steps each."""
    start = d.qpos[:2].copy()
    ctl.observe(d.sensordata)
    fell = False
    for k in range(steps):
        d.ctrl[:] = ctl.act()
        for _ in range(n_substeps):
            mujoco.mj_step(m, d)
        obs = ctl.after_physics(d.sensordata)
        if on_step is not None:
            on_step(k, d.ctrl.copy(), obs)
        g = obs[0:3] / ctl.scales["gravity"]  # the env's fall rule: trunk too low or tilted too far
        roll, pitch = math.atan2(-g[1], -g[2]), math.asin(min(max(g[0], -1.0), 1.0))
        if d.sensordata[ctl.robot.s_pos + 2] < ctl.limits[0] or abs(roll) > ctl.limits[1] or abs(pitch) > ctl.limits[2]:
            fell = True
            break
    dist = float(np.linalg.norm(d.qpos[:2] - start))
    t = (k + 1) * ctl.dt if steps else 0.0
    return {
        "steps": k + 1 if steps else 0,
        "time_s": t,
        "distance_m": dist,
        "mean_speed_mps": dist / t if t > 0 else 0.0,
        "fell": fell,
        "final_xy": d.qpos[:2].tolist(),
    }


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m deploy.robot_loop",
        description="Run an export's policy.onnx through the robot loop in MuJoCo simulation (flat world).",
    )
    p.add_argument("export", help="export directory with meta.json and policy.onnx")
    p.add_argument(
        "--command",
        nargs=3,
        type=float,
        default=[0.3, 0.0, 0.0],
        metavar=("VX", "VY", "YAW"),
        help="body-frame velocity command: m/s, m/s, rad/s (default 0.3 0 0)",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds of simulated time (default 10)")
    p.add_argument("--world", default="flat", help="world to run on (only 'flat')")
    p.add_argument("--onnx", default=None, help="policy file (default EXPORT/policy.onnx)")
    args = p.parse_args(argv)
    with open(os.path.join(args.export, "meta.json")) as f:
        meta = json.load(f)
    m = load_world(meta, args.export, args.world)
    robot = Robot(m, (meta.get("robot") or {}).get("kinematics"))
    onnx_path = args.onnx or os.path.join(args.export, "policy.onnx")
    if not os.path.exists(onnx_path):
        raise SystemExit(f"robot_loop: no policy file {onnx_path} (export the ONNX policy first, or pass --onnx)")
    policy = onnx_policy(onnx_path)
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)  # home pose, trunk 1 cm above it, ctrl = home
    d.qpos[2] += 0.01
    mujoco.mj_forward(m, d)
    ctl = Controller(meta, robot, policy, args.command, terrain=sim_terrain(m, d, robot))
    sim = meta["config"]["simulation"]
    n_sub = int(round(float(sim["control_dt"]) / float(sim["physics_dt"])))
    out = run(m, d, ctl, int(round(args.duration / ctl.dt)), n_sub)
    print(
        f"robot_loop: {out['time_s']:.2f} s at {1 / ctl.dt:.0f} Hz ({n_sub} physics steps each), command "
        f"{args.command}: distance {out['distance_m']:.2f} m, mean speed {out['mean_speed_mps']:.3f} m/s, "
        f"fell: {'yes' if out['fell'] else 'no'} (export trained on world {sim.get('world')!r})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

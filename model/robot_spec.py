"""What the stack needs to know about a robot, derived from its compiled MJCF (one function, one dataclass).

:func:`robot_spec` reads a compiled ``mujoco.MjModel`` and returns a frozen :class:`RobotSpec`:
leg geometry (hip offsets, lateral offset, link lengths, foot radius, joint ranges, side signs),
the home pose, the actuator order and the sensors. The IK/gait geometry
(:meth:`ik.leg_geometry.LegGeometry.from_robot_spec`) and the envs take these numbers from the
model, so editing a link length in the MJCF changes the IK, the FK and the gait with no code edit.

What the model must look like (the structure of ``model/robot.xml``):

* a free-floating body ``trunk``;
* four legs named ``FR``, ``FL``, ``RR``, ``RL``; each a chain of bodies ``<leg>_hip`` (at the
  abduction-joint centre, its position in the trunk frame = the hip offset), ``<leg>_thigh``
  (offset along body y only: the lateral offset, on the leg's side), ``<leg>_calf`` (offset along
  z only: −thigh length) and ``<leg>_foot`` (offset along z only: −calf length), with a sphere
  geom ``<leg>_foot`` (its radius is the foot radius);
* hinge joints ``<leg>_abduction`` (axis +x), ``<leg>_hip`` and ``<leg>_knee`` (axis +y), with
  ranges; the knee range inside (−π, 0);
* twelve position actuators, one per joint, in the order FR, FL, RR, RL × (abduction, hip, knee);
* a keyframe ``home`` (the standing pose) — optional; without it the home pose is the joint
  values of ``model/robot_constants.HOME_LEG``.

Errors are :class:`RobotModelError` with one line per problem, naming the body, joint or actuator.
Units: metres, radians. Frames: trunk (body) frame x forward, y left, z up.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import List, Optional, Tuple

import mujoco
import numpy as np

from model import robot_constants as rc
from model.yaml_config import ConfigError

LEGS = rc.LEG_NAMES
JOINTS = rc.LEG_JOINTS
TOL = 1e-9  # m: how far an offset that must be along one axis may stray from it


class RobotModelError(ConfigError):
    """A robot MJCF does not have what the stack needs; ``problems`` lists each one."""

    def __init__(self, source: str, problems: List[str]):
        self.problems = list(problems)
        super().__init__(f"{source}: " + "; ".join(problems) if len(problems) == 1 else
                         f"{source}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """The robot as the stack uses it, derived from a compiled MJCF by :func:`robot_spec`.

    Attributes:
      hip_offsets: abduction-joint centres in the trunk frame, (x, y, z) per leg FR, FL, RR, RL [m].
      lateral_offset: |y| from the abduction joint to the hip-flexion joint [m] (same for all legs).
      thigh_length: hip-flexion joint to knee joint [m].
      calf_length: knee joint to foot-sphere centre [m].
      foot_radius: foot sphere radius [m].
      abduction_range, hip_range, knee_range: joint limits (lo, hi) [rad] (same for all legs).
      side_signs: −1 right (FR, RR), +1 left (FL, RL), from the sign of each hip offset's y.
      joint_names, actuator_names: the 12 names in actuator order.
      home_joints: (12,) standing joint angles [rad], actuator order.
      home_trunk_height: trunk height of the home keyframe [m] (or of the MJCF's initial pose).
      total_mass: kg.
      sensor_names: every sensor of the model, in ``sensordata`` order.
    """

    hip_offsets: Tuple[Tuple[float, float, float], ...]
    lateral_offset: float
    thigh_length: float
    calf_length: float
    foot_radius: float
    abduction_range: Tuple[float, float]
    hip_range: Tuple[float, float]
    knee_range: Tuple[float, float]
    side_signs: Tuple[float, float, float, float]
    joint_names: Tuple[str, ...]
    actuator_names: Tuple[str, ...]
    home_joints: Tuple[float, ...]
    home_trunk_height: float
    total_mass: float
    sensor_names: Tuple[str, ...]

    def table(self) -> str:
        """A printable table of the derived numbers (``python -m model.check``)."""
        rows = [("legs", ", ".join(LEGS)),
                ("hip offsets (m)", "; ".join(f"{leg} ({x:+.3f}, {y:+.3f}, {z:+.3f})"
                                              for leg, (x, y, z) in zip(LEGS, self.hip_offsets))),
                ("lateral offset (m)", f"{self.lateral_offset:.4f}"),
                ("thigh / calf length (m)", f"{self.thigh_length:.4f} / {self.calf_length:.4f}"),
                ("foot radius (m)", f"{self.foot_radius:.4f}"),
                ("abduction / hip / knee range (rad)",
                 " / ".join(f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in
                            (self.abduction_range, self.hip_range, self.knee_range))),
                ("home pose (rad, per leg)", " ".join(f"{v:+.2f}" for v in self.home_joints[:3])),
                ("home trunk height (m)", f"{self.home_trunk_height:.3f}"),
                ("total mass (kg)", f"{self.total_mass:.2f}"),
                ("actuators", f"{len(self.actuator_names)}: {', '.join(self.actuator_names[:3])}, ..."),
                ("sensors", f"{len(self.sensor_names)}")]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _name_id(m: mujoco.MjModel, obj: mujoco.mjtObj, name: str) -> int:
    return mujoco.mj_name2id(m, obj, name)


def _same(values, what: str, problems: List[str], tol: float = 1e-6) -> Optional[float]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    if max(vals) - min(vals) > tol:
        problems.append(f"{what} differs between legs ({', '.join(f'{v:.4f}' for v in vals)}); "
                        "the IK needs four equal legs")
    return float(np.mean(vals))


def robot_spec(m: mujoco.MjModel, source: str = "robot model") -> RobotSpec:
    """Derive the :class:`RobotSpec` of compiled model ``m``; :class:`RobotModelError` lists every
    missing or malformed part (``source`` names the file in the message)."""
    problems: List[str] = []
    if _name_id(m, mujoco.mjtObj.mjOBJ_BODY, rc.TRUNK_BODY) < 0:
        problems.append(f"no body '{rc.TRUNK_BODY}' (the free-floating trunk)")
    hips, lateral, thigh, calf, radius, sides = [], [], [], [], [], []
    ranges = {j: [] for j in JOINTS}
    for leg in LEGS:
        ids = {part: _name_id(m, mujoco.mjtObj.mjOBJ_BODY, f"{leg}_{part}")
               for part in ("hip", "thigh", "calf", "foot")}
        missing = [f"{leg}_{p}" for p, i in ids.items() if i < 0]
        if missing:
            problems.append(f"leg {leg}: missing bod{'y' if len(missing) == 1 else 'ies'} {', '.join(missing)}")
            continue
        hip = m.body_pos[ids["hip"]].astype(float)
        hips.append(tuple(float(v) for v in hip))
        sides.append(1.0 if hip[1] > 0 else -1.0)
        t, c, f = (m.body_pos[ids[p]].astype(float) for p in ("thigh", "calf", "foot"))
        if abs(t[0]) > TOL or abs(t[2]) > TOL or t[1] == 0.0:
            problems.append(f"body {leg}_thigh: offset {t.round(4).tolist()} must be along y only (the lateral offset)")
        elif np.sign(t[1]) != np.sign(hip[1]):
            problems.append(f"body {leg}_thigh: lateral offset {t[1]:+.3f} points to the other side than "
                            f"{leg}_hip ({hip[1]:+.3f}): legs in the wrong order?")
        else:
            lateral.append(abs(float(t[1])))
        for name, v, store in ((f"{leg}_calf", c, thigh), (f"{leg}_foot", f, calf)):
            if abs(v[0]) > TOL or abs(v[1]) > TOL or not v[2] < 0:
                problems.append(f"body {name}: offset {v.round(4).tolist()} must be along -z only (a link length)")
            else:
                store.append(-float(v[2]))
        gid = _name_id(m, mujoco.mjtObj.mjOBJ_GEOM, f"{leg}_foot")
        if gid < 0 or m.geom_type[gid] != mujoco.mjtGeom.mjGEOM_SPHERE:
            problems.append(f"leg {leg}: no sphere geom '{leg}_foot' (the foot)")
        else:
            radius.append(float(m.geom_size[gid, 0]))
            if m.geom_contype[gid] == 0 and m.geom_conaffinity[gid] == 0:
                problems.append(f"geom {leg}_foot: contype and conaffinity are 0, so the foot never touches the ground")
        for j, axis in zip(JOINTS, ((1, 0, 0), (0, 1, 0), (0, 1, 0))):
            jid = _name_id(m, mujoco.mjtObj.mjOBJ_JOINT, f"{leg}_{j}")
            if jid < 0:
                problems.append(f"leg {leg}: no joint '{leg}_{j}'")
                continue
            if m.jnt_type[jid] != mujoco.mjtJoint.mjJNT_HINGE or not np.allclose(m.jnt_axis[jid], axis):
                problems.append(f"joint {leg}_{j}: must be a hinge about {axis}")
            if not m.jnt_limited[jid]:
                problems.append(f"joint {leg}_{j}: needs a range")
            ranges[j].append(tuple(float(v) for v in m.jnt_range[jid]))
    # actuators: 12 position servos in the joint order
    want = [f"{leg}_{j}" for leg in LEGS for j in JOINTS]
    if m.nu != 12:
        problems.append(f"{m.nu} actuators; the stack needs 12 (FR, FL, RR, RL x abduction, hip, knee)")
    else:
        for i, name in enumerate(want):
            jid = int(m.actuator_trnid[i, 0])
            jname = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, jid) if jid >= 0 else None
            if jname != name:
                problems.append(f"actuator {i} drives joint '{jname}', expected '{name}' "
                                f"(order: FR, FL, RR, RL x abduction, hip, knee)")
                break
        if np.any(m.actuator_biastype != int(mujoco.mjtBias.mjBIAS_AFFINE)):
            problems.append("the actuators must be position servos (<position .../>)")
    # sensors the envs read
    adr = {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i): int(m.sensor_adr[i]) for i in range(m.nsensor)}
    missing = [n for n in rc.REQUIRED_SENSORS if n not in adr]
    if missing:
        problems.append(f"missing sensor{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        "(the sensors the envs read: model/robot_constants.REQUIRED_SENSORS, docs/model.md)")
    else:
        for group in rc.CONTIGUOUS_SENSORS:
            a = [adr[n] for n in group]
            if a != list(range(a[0], a[0] + len(a))):
                problems.append(f"sensors {group[0]} .. {group[-1]} must be contiguous and in actuator order")
    spec_ranges = {}
    for j in JOINTS:
        rs = ranges[j]
        if rs and any(np.max(np.abs(np.subtract(r, rs[0]))) > 1e-6 for r in rs):
            problems.append(f"the {j} joint ranges differ between legs: {rs}")
        spec_ranges[j] = rs[0] if rs else (0.0, 0.0)
    if ranges["knee"] and not (-np.pi < spec_ranges["knee"][0] and spec_ranges["knee"][1] < 0):
        problems.append(f"knee range {spec_ranges['knee']} must lie inside (-pi, 0) (the knee bends backwards)")
    lat = _same(lateral, "the lateral offset", problems)
    l2 = _same(thigh, "the thigh length", problems)
    l3 = _same(calf, "the calf length", problems)
    r = _same(radius, "the foot radius", problems)
    if problems:
        raise RobotModelError(source, problems)
    # home pose
    key = _name_id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
    jnt_qadr = [int(m.jnt_qposadr[m.actuator_trnid[i, 0]]) for i in range(12)]
    if key >= 0:
        home = [float(m.key_qpos[key, a]) for a in jnt_qadr]
        height = float(m.key_qpos[key, 2])
    else:
        home = [float(v) for v in rc.HOME_JOINTS]
        height = float(m.qpos0[2])
    return RobotSpec(
        hip_offsets=tuple(hips), lateral_offset=lat, thigh_length=l2, calf_length=l3, foot_radius=r,
        abduction_range=spec_ranges["abduction"], hip_range=spec_ranges["hip"], knee_range=spec_ranges["knee"],
        side_signs=tuple(sides), joint_names=tuple(want),
        actuator_names=tuple(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, i) or f"actuator{i}"
                             for i in range(m.nu)),
        home_joints=tuple(home), home_trunk_height=height, total_mass=float(np.sum(m.body_mass)),
        sensor_names=tuple(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i) or "" for i in range(m.nsensor)),
    )


def load_robot_spec(path: str) -> RobotSpec:
    """The :class:`RobotSpec` of the MJCF file at ``path`` (a robot on its own, or a world that
    includes it); :class:`RobotModelError` when the file is missing, does not compile, or lacks
    what the stack needs. Cached per file path and modification time (config loads call it)."""
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise RobotModelError(path, ["file not found"])
    return _load_robot_spec(path, os.path.getmtime(path))


@functools.lru_cache(maxsize=16)
def _load_robot_spec(path: str, mtime: float) -> RobotSpec:
    try:
        m = mujoco.MjModel.from_xml_path(path)
    except ValueError as e:
        raise RobotModelError(path, [f"MuJoCo cannot compile it: {str(e).strip()}"]) from None
    return robot_spec(m, path)

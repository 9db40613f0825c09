"""Turn a user's robot MJCF into what the stack needs, at load, with no edit to the user's file.

:func:`prepare` compiles the robot file on its own, infers its :class:`model.robot_mapping.RobotMap`
(or reads ``robot.yaml``) and plans the edits; :func:`apply` makes them on any ``mujoco.MjSpec``
that holds the robot (the robot alone, or a world that includes it):

* **feet collide**: a foot geom whose contype is 0 (public files give feet contype 0 / conaffinity 1,
  the same bits as the ground, so nothing would collide) gets contype bit 0;
* **sites**: ``imu`` on the trunk (unless the file has one there), ``<leg>_foot`` at each foot centre,
  and the body-contact zones ``trunk_contact``, ``<leg>_thigh_contact``, ``<leg>_calf_contact``;
* **actuators** are rebuilt in the stack's order FR, FL, RR, RL x (abduction, hip, knee), keeping
  their names and servo parameters; a torque motor becomes MuJoCo's affine-bias position servo
  ``force = kp (ctrl - q) - kv q̇`` clipped to the motor's torque range (``motor_gains``);
* **sensors**: every sensor of ``model.robot_constants.REQUIRED_SENSORS`` that the file lacks is
  added under the stack's name (the file's own sensors are kept, before them);
* **home**: without a keyframe ``home``, one is derived: the feet straight below the hips with the
  trunk at ``nominal_body_height(leg length)`` (solved on MuJoCo's own kinematics);
* lights that track a body ``trunk`` track the robot's trunk.

The project's own ``model/robot.xml`` already has all of this, so nothing changes for it.
Units: metres, radians, N*m. Frames: body-local unless stated.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import List, Optional, Tuple

import mujoco
import numpy as np

from model import robot_constants as rc
from model.robot_mapping import RobotMap, foot_centre, infer_mapping, read_mapping
from model.yaml_config import ConfigError

BODY_HEIGHT_PER_LEG_LENGTH = 0.643
"""Nominal trunk height / (hip-to-knee + knee-to-foot length): 0.27 m on the project's 0.42 m legs."""


def nominal_body_height(leg_length: float) -> float:
    """Trunk-origin height above flat ground [m] the gait stands a robot with ``leg_length`` [m] at."""
    return round(BODY_HEIGHT_PER_LEG_LENGTH * leg_length, 3)


class RobotModelError(ConfigError):
    """A robot MJCF does not have what the stack needs; ``problems`` lists each one."""

    def __init__(self, source: str, problems: List[str]):
        self.problems = list(problems)
        super().__init__(
            f"{source}: " + "; ".join(problems)
            if len(problems) == 1
            else f"{source}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems)
        )


@dataclasses.dataclass(frozen=True)
class SiteEdit:
    """A site to add: name, body, type (``sphere``/``box``/``capsule``), size, and pos or fromto."""

    name: str
    body: str
    type: str
    size: Tuple[float, ...]
    pos: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    fromto: Optional[Tuple[float, ...]] = None


@dataclasses.dataclass(frozen=True)
class ActuatorEdit:
    """An actuator rebuilt in the stack's order: the file's name, the joint it drives, its servo."""

    name: str
    joint: str
    kind: str  # "position" (kept) or "motor" (converted)
    kp: float
    kv: float
    ctrlrange: Tuple[float, float]
    forcerange: Tuple[float, float]
    forcelimited: bool
    group: int
    qpos_adr: int  # the joint's address in qpos (keyframes' servo targets are read there)


@dataclasses.dataclass(frozen=True)
class Adaptation:
    """The planned edits of one robot file (:func:`prepare`); ``notes`` say what they are."""

    rmap: RobotMap
    foot_contype: Tuple[Tuple[str, int, int], ...]  # (body, geom index in body, new contype)
    sites: Tuple[SiteEdit, ...]
    actuators: Tuple[ActuatorEdit, ...]  # empty: keep the file's
    sensors: Tuple[Tuple[str, str, str, str], ...]  # (name, sensor type, object type, object name)
    home: Optional[Tuple[Tuple[float, ...], Tuple[float, ...]]]  # (qpos, ctrl) of a derived keyframe
    notes: Tuple[str, ...]


def _site_on(m, name: str) -> int:
    return mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, name)


def _sensor_specs(rmap: RobotMap) -> List[Tuple[str, str, str, str]]:
    """(name, type, objtype, objname) of every sensor the envs read, for this robot."""
    T = "mjSENS_"
    out = [
        (rc.SENSOR_TRUNK_QUAT, T + "FRAMEQUAT", "site", rc.IMU_SITE),
        (rc.SENSOR_GYRO, T + "GYRO", "site", rc.IMU_SITE),
        (rc.SENSOR_ACC, T + "ACCELEROMETER", "site", rc.IMU_SITE),
        (rc.SENSOR_LINVEL, T + "VELOCIMETER", "site", rc.IMU_SITE),
        (rc.SENSOR_TRUNK_POS, T + "FRAMEPOS", "site", rc.IMU_SITE),
        (rc.SENSOR_GLOBAL_LINVEL, T + "FRAMELINVEL", "site", rc.IMU_SITE),
    ]
    joints = [j for lm in rmap.legs for j in lm.joints]
    acts = [a for lm in rmap.legs for a in lm.actuators]
    out += [(n, T + "JOINTPOS", "joint", j) for n, j in zip(rc.JOINT_POS_SENSORS, joints)]
    out += [(n, T + "JOINTVEL", "joint", j) for n, j in zip(rc.JOINT_VEL_SENSORS, joints)]
    out += [(n, T + "TOUCH", "site", s) for n, s in zip(rc.FOOT_TOUCH_SENSORS, rc.FOOT_SITES)]
    out += [(n, T + "FRAMEPOS", "site", s) for n, s in zip(rc.FOOT_POS_SENSORS, rc.FOOT_SITES)]
    out += [(n, T + "FRAMELINVEL", "site", s) for n, s in zip(rc.FOOT_VEL_SENSORS, rc.FOOT_SITES)]
    out += [(n, T + "TOUCH", "site", n) for n in rc.BODY_CONTACT_SENSORS]
    out += [(n, T + "ACTUATORFRC", "actuator", a) for n, a in zip(rc.ACTUATOR_FORCE_SENSORS, acts)]
    return out


def _local(d, body: int, p_world) -> np.ndarray:
    return d.xmat[body].reshape(3, 3).T @ (np.asarray(p_world) - d.xpos[body])


def _zone_sites(m, d, rmap: RobotMap, problems: List[str]) -> List[SiteEdit]:
    """Touch-sensor volumes of the body-contact zones (trunk box, thigh and calf capsules)."""
    trunk = m.body(rmap.trunk).id
    sites = []
    if _site_on(m, "trunk_contact") < 0:
        corners = []
        for g in range(int(m.body_geomadr[trunk]), int(m.body_geomadr[trunk] + m.body_geomnum[trunk])):
            if not (m.geom_contype[g] or m.geom_conaffinity[g]):
                continue
            c, h = m.geom_aabb[g, :3], m.geom_aabb[g, 3:]
            for sx in (-1, 1):
                for sy in (-1, 1):
                    for sz in (-1, 1):
                        corners.append(m.geom_pos[g] + _quat_mat(m.geom_quat[g]) @ (c + h * np.array([sx, sy, sz])))
        if not corners:  # no trunk collision geom: a box over the hips
            hips = np.array([_local(d, trunk, d.xanchor[m.joint(lm.joints[0]).id]) for lm in rmap.legs])
            corners = [hips.min(0) - [0, 0, 0.05], hips.max(0) + [0, 0, 0.05]]
        lo, hi = np.min(corners, axis=0) - 0.004, np.max(corners, axis=0) + 0.004
        sites.append(
            SiteEdit(
                "trunk_contact",
                rmap.trunk,
                "box",
                tuple(float(v) for v in (hi - lo) / 2),
                pos=tuple(float(v) for v in (hi + lo) / 2),
            )
        )
    for lm, (_, hip_body, knee_body) in zip(rmap.legs, rmap.bodies):
        hb, kb = m.body(hip_body).id, m.body(knee_body).id
        hip_a = d.xanchor[m.joint(lm.joints[1]).id]
        knee_a = d.xanchor[m.joint(lm.joints[2]).id]
        foot = foot_centre(m, d, lm)
        if _site_on(m, f"{lm.leg}_thigh_contact") < 0:
            a, b = _local(d, hb, hip_a), _local(d, hb, knee_a)
            sites.append(
                SiteEdit(
                    f"{lm.leg}_thigh_contact", hip_body, "capsule", (0.03,), fromto=tuple(float(v) for v in (*a, *b))
                )
            )
        if _site_on(m, f"{lm.leg}_calf_contact") < 0:
            length = float(np.linalg.norm(foot - knee_a))
            r = 0.02
            end = min(0.71, (length - lm.foot_radius - r - 0.005) / length)
            if end <= 0.2:
                problems.append(f"leg {lm.leg}: the knee-to-foot distance {length:.3f} m is too short for a calf zone")
                continue
            a, b = _local(d, kb, knee_a + 0.14 * (foot - knee_a)), _local(d, kb, knee_a + end * (foot - knee_a))
            sites.append(
                SiteEdit(f"{lm.leg}_calf_contact", knee_body, "capsule", (r,), fromto=tuple(float(v) for v in (*a, *b)))
            )
    return sites


def _quat_mat(q) -> np.ndarray:
    out = np.zeros(9)
    mujoco.mju_quat2Mat(out, np.asarray(q, float))
    return out.reshape(3, 3)


def _derive_home(m, rmap: RobotMap, height: float, problems: List[str]) -> Optional[np.ndarray]:
    """qpos with the trunk at ``height`` [m] (identity orientation) and each foot centre straight below
    its hip joint at ``foot_radius`` above z = 0, solved by damped least squares on MuJoCo's kinematics."""
    d = mujoco.MjData(m)
    q = m.qpos0.copy()
    q[0:7] = [0, 0, height, 1, 0, 0, 0]
    jids = [[m.joint(n).id for n in lm.joints] for lm in rmap.legs]
    for jl in jids:  # start from mid-range (a bent knee on its own side)
        for j in jl[1:]:
            q[m.jnt_qposadr[j]] = 0.5 * (m.jnt_range[j, 0] + m.jnt_range[j, 1])
    d.qpos[:] = q
    mujoco.mj_kinematics(m, d)
    targets = []
    for lm, jl in zip(rmap.legs, jids):
        hip = d.xanchor[jl[0]]
        targets.append(np.array([hip[0], foot_centre(m, d, lm)[1], lm.foot_radius]))
    jac = np.zeros((3, m.nv))
    for _ in range(100):
        d.qpos[:] = q
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        err = 0.0
        for lm, jl, t in zip(rmap.legs, jids, targets):
            foot = foot_centre(m, d, lm)
            e = t - foot
            err = max(err, float(np.abs(e).max()))
            mujoco.mj_jac(m, d, jac, None, foot, m.body(lm.foot_body).id)
            cols = [int(m.jnt_dofadr[j]) for j in jl]
            J = jac[:, cols]
            dq = J.T @ np.linalg.solve(J @ J.T + 1e-6 * np.eye(3), e)
            for j, step in zip(jl, dq):
                a = m.jnt_qposadr[j]
                q[a] = np.clip(q[a] + step, m.jnt_range[j, 0], m.jnt_range[j, 1])
        if err < 1e-7:
            return q
    problems.append(
        f"no keyframe 'home', and no standing pose with the trunk at {height:.3f} m and the feet below "
        f'the hips within the joint ranges (residual {err * 1000:.1f} mm): add <key name="home" .../>'
    )
    return None


def plan(m: mujoco.MjModel, rmap: RobotMap) -> Adaptation:
    """The edits that make compiled robot ``m`` (mapped by ``rmap``) what the stack needs."""
    problems: List[str] = []
    notes: List[str] = []
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    trunk = m.body(rmap.trunk).id
    foot_contype = []
    for lm in rmap.legs:
        b = m.body(lm.foot_body).id
        g = int(m.body_geomadr[b]) + lm.foot_index
        if not m.geom_contype[g] & 1:
            foot_contype.append((lm.foot_body, lm.foot_index, int(m.geom_contype[g]) | 1))
    if foot_contype:
        lm0 = rmap.legs[0]
        before = int(m.geom_contype[int(m.body_geomadr[m.body(lm0.foot_body).id]) + lm0.foot_index])
        notes.append(
            f"feet: contype {before} -> bit 0 set, so they collide with the ground (contype 0 / conaffinity 1)"
        )
    sites: List[SiteEdit] = []
    imu = _site_on(m, rc.IMU_SITE)
    if imu < 0:
        sites.append(SiteEdit(rc.IMU_SITE, rmap.trunk, "sphere", (0.01,)))
    elif int(m.site_bodyid[imu]) != trunk:
        problems.append(
            f"site '{rc.IMU_SITE}' is on body {m.body(int(m.site_bodyid[imu])).name}, not on the trunk "
            f"{rmap.trunk}; the stack reads the trunk's IMU there"
        )
    for lm, site in zip(rmap.legs, rc.FOOT_SITES):
        sid = _site_on(m, site)
        if sid < 0:
            sites.append(SiteEdit(site, lm.foot_body, "sphere", (lm.foot_radius + 0.005,), pos=lm.foot_pos))
        elif (
            m.body(int(m.site_bodyid[sid])).name != lm.foot_body
            or np.linalg.norm(m.site_pos[sid] - np.asarray(lm.foot_pos)) > 1e-6
        ):
            problems.append(
                f"site '{site}' exists but is not at the {lm.leg} foot centre; rename it (the stack adds "
                f"its own '{site}' there)"
            )
    sites += _zone_sites(m, d, rmap, problems)
    # actuators in the stack's order
    want = [(a, j, k) for lm in rmap.legs for a, j, k in zip(lm.actuators, lm.joints, lm.actuator_kinds)]
    in_order = [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, i) for i in range(m.nu)] == [w[0] for w in want]
    acts = []
    if not in_order or any(k == "motor" for _, _, k in want):
        kp_m, kv_m = rmap.motor_gains
        for name, joint, kind in want:
            a, j = m.actuator(name).id, m.joint(joint).id
            if kind == "motor":
                gear = float(m.actuator_gear[a, 0])
                lim = m.actuator_forcerange[a] if m.actuator_forcelimited[a] else m.actuator_ctrlrange[a] * gear
                if m.actuator_forcelimited[a] and m.actuator_ctrllimited[a]:
                    lim = np.clip(m.actuator_ctrlrange[a] * gear, *m.actuator_forcerange[a])
                lo, hi = sorted(float(v) for v in lim)
                acts.append(
                    ActuatorEdit(
                        name,
                        joint,
                        "motor",
                        kp_m,
                        kv_m,
                        tuple(m.jnt_range[j]),
                        (lo, hi),
                        True,
                        int(m.actuator_group[a]),
                        int(m.jnt_qposadr[j]),
                    )
                )
            else:
                acts.append(
                    ActuatorEdit(
                        name,
                        joint,
                        "position",
                        float(m.actuator_gainprm[a, 0]),
                        float(-m.actuator_biasprm[a, 2]),
                        tuple(m.actuator_ctrlrange[a]) if m.actuator_ctrllimited[a] else tuple(m.jnt_range[j]),
                        tuple(m.actuator_forcerange[a]),
                        bool(m.actuator_forcelimited[a]),
                        int(m.actuator_group[a]),
                        int(m.jnt_qposadr[j]),
                    )
                )
        if not in_order:
            notes.append("actuators: rebuilt in the stack's order FR, FL, RR, RL x (abduction, hip, knee)")
        motors = [e for e in acts if e.kind == "motor"]
        if motors:
            notes.append(
                f"actuators: {len(motors)} torque motors -> PD servos kp {kp_m:g} N*m/rad, kv {kv_m:g} "
                "N*m*s/rad at the physics rate, torque limits "
                f"{', '.join(sorted({f'±{e.forcerange[1]:g}' for e in motors}))} N*m"
            )
    names = {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i) for i in range(m.nsensor)}
    sensors = [s for s in _sensor_specs(rmap) if s[0] not in names]
    if sensors:
        notes.append(f"sensors: {len(sensors)} added under the stack's names ({m.nsensor} of the file's kept)")
    added = [s.name for s in sites]
    if added:
        notes.append(f"sites: {len(added)} added ({', '.join(added[:3])}{', ...' if len(added) > 3 else ''})")
    home = None
    if mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home") < 0:
        anchor = lambda lm, k: d.xanchor[m.joint(lm.joints[k]).id]  # noqa: E731
        length = float(
            np.mean(
                [
                    np.linalg.norm(anchor(lm, 2) - anchor(lm, 1))
                    + np.linalg.norm(foot_centre(m, d, lm) - anchor(lm, 2))
                    for lm in rmap.legs
                ]
            )
        )
        h = nominal_body_height(length)
        q = _derive_home(m, rmap, h, problems)
        if q is not None:
            ctrl = [float(q[m.jnt_qposadr[m.joint(j).id]]) for lm in rmap.legs for j in lm.joints]
            home = (tuple(float(v) for v in q), tuple(ctrl))
            notes.append(f"home: no keyframe 'home'; derived one with the trunk at {h:.3f} m, feet below the hips")
    if problems:
        raise RobotModelError(rmap.source, problems)
    return Adaptation(
        rmap=rmap,
        foot_contype=tuple(foot_contype),
        sites=tuple(sites),
        actuators=tuple(acts),
        sensors=tuple(sensors),
        home=home,
        notes=tuple(notes),
    )


def compile_robot(path: str) -> mujoco.MjModel:
    """The robot file compiled on its own (:class:`RobotModelError` when missing or not compilable)."""
    if not os.path.isfile(path):
        raise RobotModelError(path, ["file not found"])
    try:
        return mujoco.MjModel.from_xml_path(path)
    except ValueError as e:
        raise RobotModelError(path, [f"MuJoCo cannot compile it: {str(e).strip()}"]) from None


def prepare(robot_xml: str) -> Adaptation:
    """The :class:`Adaptation` of the robot file ``robot_xml`` (cached per file and robot.yaml
    modification time); :class:`RobotModelError` lists every problem at once."""
    path = os.path.abspath(robot_xml)
    if not os.path.isfile(path):
        raise RobotModelError(path, ["file not found"])
    yml = os.path.join(os.path.dirname(path), "robot.yaml")
    return _prepare(path, os.path.getmtime(path), os.path.getmtime(yml) if os.path.isfile(yml) else 0.0)


@functools.lru_cache(maxsize=16)
def _prepare(path: str, mtime: float, yaml_mtime: float) -> Adaptation:
    m = compile_robot(path)
    problems: List[str] = []
    rmap = infer_mapping(m, path, read_mapping(path), problems)
    if rmap is None:
        raise RobotModelError(path, problems)
    return plan(m, rmap)


_TYPES = {
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
}
_OBJ = {"site": mujoco.mjtObj.mjOBJ_SITE, "joint": mujoco.mjtObj.mjOBJ_JOINT, "actuator": mujoco.mjtObj.mjOBJ_ACTUATOR}


def apply(spec: mujoco.MjSpec, ad: Adaptation) -> mujoco.MjSpec:
    """Make the planned edits on ``spec`` (which holds the robot under its own names); returns it."""
    for body, index, contype in ad.foot_contype:
        spec.body(body).geoms[index].contype = contype
    for s in ad.sites:
        site = spec.body(s.body).add_site(name=s.name, type=_TYPES[s.type], group=4, rgba=[1, 0.5, 0, 0.2])
        site.size = list(s.size) + [0.0] * (3 - len(s.size))
        if s.fromto is not None:
            site.fromto = list(s.fromto)
        else:
            site.pos = list(s.pos)
    if ad.actuators:
        old = {a.name: a for a in spec.actuators}
        for e in ad.actuators:
            spec.delete(old[e.name])
        for e in ad.actuators:
            a = spec.add_actuator(name=e.name, target=e.joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            a.gaintype, a.biastype = mujoco.mjtGain.mjGAIN_FIXED, mujoco.mjtBias.mjBIAS_AFFINE
            a.gainprm = [e.kp] + [0.0] * 9
            a.biasprm = [0.0, -e.kp, -e.kv] + [0.0] * 7
            a.ctrlrange, a.ctrllimited = list(e.ctrlrange), mujoco.mjtLimited.mjLIMITED_TRUE
            a.forcerange = list(e.forcerange)
            a.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE if e.forcelimited else mujoco.mjtLimited.mjLIMITED_FALSE
            a.gear = [1.0, 0, 0, 0, 0, 0]
            a.group = e.group
        for k in spec.keys:  # keyframe servo targets in the new order: the keyframe's own joint angles
            q = list(k.qpos)
            k.ctrl = [q[e.qpos_adr] for e in ad.actuators] if q else []
    for name, stype, otype, oname in ad.sensors:
        spec.add_sensor(name=name, type=getattr(mujoco.mjtSensor, stype), objtype=_OBJ[otype], objname=oname)
    if ad.home is not None and spec.key("home") is None:
        spec.add_key(name="home", qpos=list(ad.home[0]), ctrl=list(ad.home[1]))
    if ad.rmap.trunk != rc.TRUNK_BODY and spec.body(rc.TRUNK_BODY) is None:
        for light in spec.lights:
            if light.targetbody == rc.TRUNK_BODY:
                light.targetbody = ad.rmap.trunk
    return spec

"""Which part of a robot MJCF is which leg, joint, foot and actuator: inferred, or read from ``robot.yaml``.

:func:`infer_mapping` reads a compiled robot (C MuJoCo, the file on its own) and finds, without any
naming convention:

* the **trunk**: the body with the free joint;
* the **four legs**: each chain of three hinges hanging off the trunk, named FR, FL, RR, RL by the
  position of its first hinge in the trunk frame (front/rear by x against the hips' mean, left/right
  by the sign of y);
* each leg's **joints** by order along the chain: abduction (axis ±x), hip and knee (axes ±y);
* the **foot**: the sphere collision geom (contype or conaffinity set) farthest from the knee, in
  whatever body of the knee's subtree it sits;
* the **actuators** by the joint they drive, in any order: position servos (``position``, or
  ``general`` with an affine bias ``biasprm = (0, -kp, -kv)``) and torque motors (``motor``, or
  ``general`` with no bias), which :mod:`model.robot_adapter` turns into servos.

Where the inference cannot decide, a ``robot.yaml`` beside the robot file overrides it::

    trunk: base                        # the free-floating body
    legs:                              # all four, stack leg names FR, FL, RR, RL
      FR: {joints: [FR_hip_joint, FR_thigh_joint, FR_calf_joint], foot: {geom: FR}}
      ...                              # foot: {geom: NAME} or {body: NAME} (its farthest sphere)
    motor_gains: {kp: 40.0, kv: 1.0}   # N*m/rad, N*m*s/rad: the PD law given to torque actuators

``python -m model.check ROBOT.xml --write-mapping`` writes the inferred one (:func:`mapping_yaml`).
Every problem is collected and reported at once (:class:`model.robot_spec.RobotModelError`).
Units: metres, radians. Frames: trunk frame x forward, y left, z up.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import mujoco
import numpy as np
import yaml

from model import robot_constants as rc
from model.yaml_config import ConfigError

MAPPING_FILE = "robot.yaml"
"""The optional mapping file beside a robot MJCF."""

DEFAULT_MOTOR_GAINS = (80.0, 2.0)
"""(kp [N*m/rad], kv [N*m*s/rad]) of the PD servo a torque actuator becomes unless robot.yaml sets
``motor_gains``: the project robot's servo gains (the nominal gait walks a 15 kg Go2-class robot with
them; kp 40 sags 0.2 rad and walks 0.4 m in 8 s). ``simulation.kp``/``kv`` override every actuator."""

AXIS_TOL = 1e-6
"""How far a joint axis (unit vector, trunk frame) may stray from ±x or ±y."""

_MAPPING_KEYS = ("trunk", "legs", "motor_gains")


@dataclasses.dataclass(frozen=True)
class LegMap:
    """One leg of the user's file, in the stack's terms.

    Attributes:
      leg: the stack's leg name (FR, FL, RR, RL).
      joints: the file's (abduction, hip, knee) joint names.
      actuators: the file's actuator names driving them (same order).
      actuator_kinds: ``position`` or ``motor`` per actuator.
      foot_body: the body holding the foot geom.
      foot_geom: the foot geom's name ("" when unnamed).
      foot_index: the foot geom's index among ``foot_body``'s geoms (finds an unnamed one).
      foot_pos: foot-sphere centre in ``foot_body``'s frame [m].
      foot_radius: [m].
    """

    leg: str
    joints: Tuple[str, str, str]
    actuators: Tuple[str, str, str]
    actuator_kinds: Tuple[str, str, str]
    foot_body: str
    foot_geom: str
    foot_index: int
    foot_pos: Tuple[float, float, float]
    foot_radius: float


@dataclasses.dataclass(frozen=True)
class RobotMap:
    """How a robot file maps onto the stack (legs in the stack's order FR, FL, RR, RL).

    Attributes:
      source: the robot file.
      trunk: the free-floating body's name.
      legs: four :class:`LegMap`.
      motor_gains: (kp, kv) for torque actuators.
      mapping_file: the robot.yaml that overrode the inference, or "".
      bodies: per leg, the (abduction, hip, knee) joints' body names.
    """

    source: str
    trunk: str
    legs: Tuple[LegMap, ...]
    motor_gains: Tuple[float, float]
    mapping_file: str
    bodies: Tuple[Tuple[str, str, str], ...]

    def to_dict(self) -> dict:
        """The robot.yaml content of this mapping."""
        legs = {}
        for lm in self.legs:
            foot = {"geom": lm.foot_geom} if lm.foot_geom else {"body": lm.foot_body}
            legs[lm.leg] = {"joints": list(lm.joints), "foot": foot}
        return {
            "trunk": self.trunk,
            "legs": legs,
            "motor_gains": {"kp": self.motor_gains[0], "kv": self.motor_gains[1]},
        }


def _name(m, obj, i) -> str:
    return mujoco.mj_id2name(m, obj, int(i)) or ""


def _body_name(m, b) -> str:
    return _name(m, mujoco.mjtObj.mjOBJ_BODY, b) or f"(body {int(b)})"


def _joint_name(m, j) -> str:
    return _name(m, mujoco.mjtObj.mjOBJ_JOINT, j) or f"(joint {int(j)})"


def subtree(m: mujoco.MjModel, root: int) -> List[int]:
    """Ids of body ``root`` and every body below it (MuJoCo numbers a parent before its children)."""
    inside = np.zeros(m.nbody, bool)
    inside[root] = True
    for b in range(root + 1, m.nbody):
        inside[b] = inside[int(m.body_parentid[b])]
    return [int(b) for b in np.flatnonzero(inside)]


def trunk_body(m: mujoco.MjModel) -> int:
    """Id of the trunk: the body of the model's first free joint (ConfigError when there is none)."""
    free = np.flatnonzero(np.asarray(m.jnt_type) == mujoco.mjtJoint.mjJNT_FREE)
    if len(free) == 0:
        raise ConfigError("the model has no free joint (the robot's trunk)")
    return int(m.jnt_bodyid[free[0]])


def foot_centre(m: mujoco.MjModel, d: mujoco.MjData, leg: "LegMap") -> np.ndarray:
    """World position [m] of ``leg``'s foot-sphere centre in ``d`` (after ``mj_kinematics``)."""
    fb = m.body(leg.foot_body).id
    return d.xpos[fb] + d.xmat[fb].reshape(3, 3) @ np.asarray(leg.foot_pos)


def _depth(m, b: int) -> int:
    d = 0
    while b != 0:
        b = int(m.body_parentid[b])
        d += 1
    return d


def read_mapping(robot_xml: str) -> Optional[dict]:
    """The ``robot.yaml`` beside ``robot_xml`` as a validated dict, or None when there is none."""
    path = os.path.join(os.path.dirname(os.path.abspath(robot_xml)), MAPPING_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a mapping with keys {', '.join(_MAPPING_KEYS)}")
    unknown = sorted(set(data) - set(_MAPPING_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(_MAPPING_KEYS)})")
    legs = data.get("legs")
    if legs is not None:
        if not isinstance(legs, dict) or sorted(legs) != sorted(rc.LEG_NAMES):
            raise ConfigError(
                f"{path}: key 'legs' must map each of {', '.join(rc.LEG_NAMES)} to "
                "{joints: [abduction, hip, knee], foot: {geom: NAME} or {body: NAME}}"
            )
        for leg, v in legs.items():
            if not isinstance(v, dict) or not isinstance(v.get("joints"), list) or len(v["joints"]) != 3:
                raise ConfigError(f"{path}: key 'legs.{leg}.joints' must list 3 joint names (abduction, hip, knee)")
            foot = v.get("foot")
            if foot is not None and (
                not isinstance(foot, dict) or len(foot) != 1 or next(iter(foot)) not in ("geom", "body")
            ):
                raise ConfigError(f"{path}: key 'legs.{leg}.foot' must be {{geom: NAME}} or {{body: NAME}}")
    gains = data.get("motor_gains")
    if gains is not None:
        if (
            not isinstance(gains, dict)
            or set(gains) != {"kp", "kv"}
            or not all(isinstance(gains[k], (int, float)) and gains[k] >= 0 for k in ("kp", "kv"))
            or gains["kp"] <= 0
        ):
            raise ConfigError(f"{path}: key 'motor_gains' must be {{kp: >0, kv: >=0}} (N*m/rad, N*m*s/rad)")
    return dict(data, _path=path)


def mapping_yaml(rmap: RobotMap) -> str:
    """The text ``--write-mapping`` writes: the mapping with a comment header."""
    head = (
        f"# How {os.path.basename(rmap.source)} maps onto the stack (python -m model.check --write-mapping).\n"
        "# Edit and keep beside the robot file: it overrides the inference. Legs: FR, FL, RR, RL;\n"
        "# joints in chain order (abduction about x, hip and knee about y); foot: {geom: NAME} or {body: NAME}.\n"
    )
    return head + yaml.safe_dump(rmap.to_dict(), sort_keys=False, default_flow_style=None)


def _actuator_kind(m, a: int) -> Optional[str]:
    gain, bias = int(m.actuator_gaintype[a]), int(m.actuator_biastype[a])
    if gain != int(mujoco.mjtGain.mjGAIN_FIXED) or int(m.actuator_dyntype[a]) != int(mujoco.mjtDyn.mjDYN_NONE):
        return None
    if bias == int(mujoco.mjtBias.mjBIAS_NONE):
        return "motor"
    kp = float(m.actuator_gainprm[a, 0])
    if (
        bias == int(mujoco.mjtBias.mjBIAS_AFFINE)
        and kp > 0
        and abs(m.actuator_biasprm[a, 0]) < 1e-12
        and abs(m.actuator_biasprm[a, 1] + kp) <= 1e-9 * kp
        and m.actuator_biasprm[a, 2] <= 0
    ):
        return "position"
    return None


def infer_mapping(
    m: mujoco.MjModel, source: str, mapping: Optional[dict] = None, problems: Optional[List[str]] = None
) -> Optional[RobotMap]:
    """The :class:`RobotMap` of compiled robot ``m`` (``mapping``: a :func:`read_mapping` dict
    overriding the inference). Appends every problem to ``problems`` and returns None if any."""
    problems = problems if problems is not None else []
    n0 = len(problems)
    mapping = mapping or {}
    where = mapping.get("_path", "")
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    free = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if len(free) != 1:
        problems.append(
            f"{len(free)} free joints; the stack needs exactly one, on the trunk (a <freejoint/> in "
            "the robot's top body)"
        )
        return None
    trunk = int(m.jnt_bodyid[free[0]])
    if m.jnt_qposadr[free[0]] != 0:
        problems.append(f"the free joint of body {_body_name(m, trunk)} must be the model's first joint")
    if mapping.get("trunk") and mapping["trunk"] != _body_name(m, trunk):
        problems.append(f"{where}: trunk '{mapping['trunk']}' is not the free-floating body '{_body_name(m, trunk)}'")
    R, p0 = d.xmat[trunk].reshape(3, 3), d.xpos[trunk]
    to_trunk = lambda v: R.T @ (np.asarray(v) - p0)  # noqa: E731
    others = [j for j in range(m.njnt) if j != free[0] and m.jnt_type[j] != mujoco.mjtJoint.mjJNT_HINGE]
    for j in others:
        problems.append(
            f"joint {_joint_name(m, j)}: a {mujoco.mjtJoint(int(m.jnt_type[j])).name} joint; the stack "
            "drives 12 hinges (3 per leg)"
        )
    hinges = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_HINGE]
    # --- the legs: chains of hinges below the trunk
    chains: List[List[int]] = []
    if mapping.get("legs"):
        by_name = {_joint_name(m, j): j for j in hinges}
        for leg in rc.LEG_NAMES:
            names = mapping["legs"][leg]["joints"]
            missing = [n for n in names if n not in by_name]
            if missing:
                problems.append(
                    f"{where}: legs.{leg}.joints names {', '.join(missing)}, not hinge joints of the "
                    f"model (hinges: {', '.join(sorted(by_name))})"
                )
            else:
                chains.append([by_name[n] for n in names])
    else:
        roots: Dict[int, List[int]] = {}
        for j in hinges:
            b = int(m.jnt_bodyid[j])
            a = int(m.body_parentid[b])
            while a != trunk and a != 0 and not any(m.jnt_bodyid[k] == a for k in hinges):
                a = int(m.body_parentid[a])
            if a == trunk:
                roots.setdefault(b, [])
        for b in roots:
            sub = set(subtree(m, b))
            chains.append(
                sorted(
                    (j for j in hinges if int(m.jnt_bodyid[j]) in sub),
                    key=lambda j: (_depth(m, int(m.jnt_bodyid[j])), j),
                )
            )
        if len(chains) != 4 or any(len(c) != 3 for c in chains):
            desc = "; ".join("[" + ", ".join(_joint_name(m, j) for j in c) + "]" for c in chains) or "none"
            problems.append(
                f"found {len(chains)} hinge chain(s) below the trunk {_body_name(m, trunk)} ({desc}); "
                "the stack needs 4 legs of 3 hinges (abduction, hip, knee). Write a robot.yaml "
                "naming each leg's joints (python -m model.check ROBOT.xml --write-mapping writes one)"
            )
            return None
    if len(problems) > n0:
        return None
    # --- which leg is which, by the first hinge's position in the trunk frame
    hips = np.array([to_trunk(d.xanchor[c[0]]) for c in chains])
    if mapping.get("legs"):
        order = list(range(4))
    else:
        front = hips[:, 0] > hips[:, 0].mean()
        left = hips[:, 1] > 0
        names = [("F" if f else "R") + ("L" if lft else "R") for f, lft in zip(front, left)]
        if sorted(names) != sorted(rc.LEG_NAMES):
            problems.append(
                "cannot tell the legs apart by hip position (trunk frame): "
                + "; ".join(
                    f"{_joint_name(m, c[0])} at ({h[0]:+.3f}, {h[1]:+.3f}, {h[2]:+.3f})" for c, h in zip(chains, hips)
                )
                + "; write a robot.yaml naming each leg (python -m model.check ROBOT.xml --write-mapping)"
            )
            return None
        order = [names.index(leg) for leg in rc.LEG_NAMES]
    legs, bodies = [], []
    gains = mapping.get("motor_gains") or {"kp": DEFAULT_MOTOR_GAINS[0], "kv": DEFAULT_MOTOR_GAINS[1]}
    for leg, ci in zip(rc.LEG_NAMES, order):
        chain = chains[ci]
        jn = tuple(_joint_name(m, j) for j in chain)
        for j, (role, want) in zip(chain, (("abduction", 0), ("hip", 1), ("knee", 1))):
            axis = R.T @ d.xaxis[j]
            if abs(abs(axis[want]) - 1.0) > AXIS_TOL:
                problems.append(
                    f"joint {_joint_name(m, j)} (leg {leg} {role}): axis {np.round(axis, 4).tolist()} in "
                    f"the trunk frame; the stack needs the {role} axis along ±{'xy'[want]}"
                )
            if not m.jnt_limited[j]:
                problems.append(f'joint {_joint_name(m, j)}: needs a range (limited="true" range="lo hi")')
        # the foot
        knee_body = int(m.jnt_bodyid[chain[2]])
        want = (mapping.get("legs") or {}).get(leg, {}).get("foot") if mapping.get("legs") else None
        cand = []
        search = subtree(m, knee_body)
        if want and "body" in want:
            bid = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, want["body"])
            search = [bid] if bid >= 0 else []
            if bid < 0:
                problems.append(f"{where}: legs.{leg}.foot body '{want['body']}' is not a body of the model")
        for b in search:
            for g in range(int(m.body_geomadr[b]), int(m.body_geomadr[b] + m.body_geomnum[b])):
                if want and "geom" in want and _name(m, mujoco.mjtObj.mjOBJ_GEOM, g) != want["geom"]:
                    continue
                if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE and (m.geom_contype[g] or m.geom_conaffinity[g]):
                    cand.append(g)
        if not cand:
            kinds = sorted(
                {
                    mujoco.mjtGeom(int(m.geom_type[g])).name.removeprefix("mjGEOM_").lower()
                    for b in subtree(m, knee_body)
                    for g in range(int(m.body_geomadr[b]), int(m.body_geomadr[b] + m.body_geomnum[b]))
                    if m.geom_contype[g] or m.geom_conaffinity[g]
                }
            )
            problems.append(
                f"leg {leg}: no sphere collision geom below joint {jn[2]} to stand on (collision geoms "
                f"there: {', '.join(kinds) or 'none'}); the foot must be a sphere geom with contype or "
                f"conaffinity set (or name it in robot.yaml: legs.{leg}.foot)"
            )
            continue
        knee_anchor = d.xanchor[chain[2]]
        g = max(cand, key=lambda g: float(np.linalg.norm(d.geom_xpos[g] - knee_anchor)))
        fb = int(m.geom_bodyid[g])
        calf = float(np.linalg.norm(d.geom_xpos[g] - knee_anchor))
        thigh = float(np.linalg.norm(knee_anchor - d.xanchor[chain[1]]))
        if calf < 0.5 * thigh:
            gname = _name(m, mujoco.mjtObj.mjOBJ_GEOM, g) or f"a sphere on body {_body_name(m, fb)}"
            problems.append(
                f"leg {leg}: the farthest sphere below joint {jn[2]} ({gname}) is {calf:.3f} m from the "
                f"knee, the thigh {thigh:.3f} m long: is the foot missing? (name it in robot.yaml: "
                f"legs.{leg}.foot)"
            )
            continue
        acts, kinds = [], []
        for j in chain:
            drv = [
                a
                for a in range(m.nu)
                if m.actuator_trntype[a] == mujoco.mjtTrn.mjTRN_JOINT and int(m.actuator_trnid[a, 0]) == j
            ]
            if len(drv) != 1:
                problems.append(
                    f"joint {_joint_name(m, j)}: driven by {len(drv)} actuators; the stack needs exactly one per joint"
                )
                acts.append("")
                kinds.append("")
                continue
            a = drv[0]
            an = _name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a)
            kind = _actuator_kind(m, a)
            if kind is None:
                problems.append(
                    f"actuator {an or a} (joint {_joint_name(m, j)}): neither a position servo (position, "
                    "or general with biastype affine, biasprm 0 -kp -kv) nor a torque motor (motor)"
                )
            elif kind == "position" and abs(m.actuator_gear[a, 0] - 1.0) > 1e-12:
                problems.append(
                    f"actuator {an or a}: a position servo with gear {m.actuator_gear[a, 0]:g}; "
                    "the stack's "
                    "servo targets are joint angles (gear 1)"
                )
            elif kind == "motor" and not (m.actuator_ctrllimited[a] or m.actuator_forcelimited[a]):
                problems.append(
                    f"actuator {an or a}: a torque motor with no ctrlrange or forcerange; the servo it "
                    "becomes needs the motor's torque limit"
                )
            if not an:
                problems.append(f"actuator {a} (joint {_joint_name(m, j)}): has no name; name it")
            acts.append(an)
            kinds.append(kind or "")
        legs.append(
            LegMap(
                leg=leg,
                joints=jn,
                actuators=tuple(acts),
                actuator_kinds=tuple(kinds),
                foot_body=_body_name(m, fb),
                foot_geom=_name(m, mujoco.mjtObj.mjOBJ_GEOM, g),
                foot_index=int(g - m.body_geomadr[fb]),
                foot_pos=tuple(float(v) for v in m.geom_pos[g]),
                foot_radius=float(m.geom_size[g, 0]),
            )
        )
        bodies.append(tuple(_body_name(m, int(m.jnt_bodyid[j])) for j in chain))
    legs_joints = {j for c in chains for j in c}
    extra = [
        a
        for a in range(m.nu)
        if m.actuator_trntype[a] != mujoco.mjtTrn.mjTRN_JOINT or int(m.actuator_trnid[a, 0]) not in legs_joints
    ]
    if extra:
        problems.append(
            f"actuator(s) {', '.join(_name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) or str(a) for a in extra)} "
            "drive something other than the 12 leg joints; the stack drives exactly those"
        )
    if len(problems) > n0:
        return None
    return RobotMap(
        source=source,
        trunk=_body_name(m, trunk),
        legs=tuple(legs),
        motor_gains=(float(gains["kp"]), float(gains["kv"])),
        mapping_file=where,
        bodies=tuple(bodies),
    )

"""What the stack needs to know about a robot, derived from its compiled MJCF (one function, one dataclass).

:func:`robot_spec` reads a compiled ``mujoco.MjModel`` whose robot went through the adapter
(:mod:`model.robot_adapter`: every world and :func:`load_robot_spec` compile that way) and returns a
frozen :class:`RobotSpec`: each leg's kinematic chain exactly as MuJoCo computes it (hip position,
joint-to-joint vectors, axis signs, reference angles, joint ranges), the foot radius, the home
pose, the actuator order, the joints' qpos/qvel addresses and the sensors. The IK/FK and gait
(:meth:`ik.leg_geometry.LegGeometry.from_robot_spec`) and the envs take these numbers from the
model, so a robot file from elsewhere needs no code edit.

What the model must be (checked by :mod:`model.robot_mapping`, every problem at once): one
free-floating trunk; four legs of three hinges (abduction about ±x, hip and knee about ±y, with
ranges, the knee bending to one side over its whole range); a sphere foot; one position servo or
torque motor per joint. Errors are :class:`RobotModelError` with one line per problem.
Units: metres, radians. Frames: trunk (body) frame x forward, y left, z up.
"""

from __future__ import annotations

import dataclasses
import os
from typing import List, Tuple

import mujoco
import numpy as np

from model import robot_constants as rc
from model.leg_chain import LegKinematics
from model.robot_adapter import RobotModelError, apply, prepare
from model.robot_mapping import AXIS_TOL, foot_centre, infer_mapping, trunk_body

LEGS = rc.LEG_NAMES
__all__ = ["LegKinematics", "RobotModelError", "RobotSpec", "load_robot_spec", "robot_spec", "trunk_body"]

Vec3 = Tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class RobotSpec:
    """The robot as the stack uses it, derived from a compiled (adapted) MJCF by :func:`robot_spec`.

    Attributes:
      hip_offsets: abduction-joint centres in the trunk frame, (x, y, z) per leg FR, FL, RR, RL [m].
      chains: per leg, its :class:`LegKinematics`.
      lateral_offset: mean |y| from the abduction axis to the foot in the leg plane [m].
      thigh_length, calf_length: mean hip→knee and knee→foot distances in the sagittal plane [m].
      foot_radius: foot sphere radius [m] (the largest of the four).
      abduction_range, hip_range, knee_range: the FR leg's joint limits (lo, hi) [rad] (each
        leg's own are in ``chains``).
      side_signs: −1 right (FR, RR), +1 left (FL, RL).
      joint_names, actuator_names: the file's 12 names in the stack's order.
      qpos_adr, qvel_adr: (12,) addresses of those joints in qpos / qvel.
      home_joints: (12,) standing joint angles [rad], stack order.
      home_trunk_height: trunk height of the home keyframe [m].
      total_mass: kg.
      sensor_names: every sensor of the model, in ``sensordata`` order.
      trunk: the trunk body's name.
    """

    hip_offsets: Tuple[Vec3, ...]
    chains: Tuple[LegKinematics, ...]
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
    qpos_adr: Tuple[int, ...]
    qvel_adr: Tuple[int, ...]
    home_joints: Tuple[float, ...]
    home_trunk_height: float
    total_mass: float
    sensor_names: Tuple[str, ...]
    trunk: str = rc.TRUNK_BODY

    @property
    def leg_length(self) -> float:
        """Mean hip→knee + knee→foot length [m]."""
        return self.thigh_length + self.calf_length

    def table(self) -> str:
        """A printable table of the derived numbers (``python -m model.check``)."""
        rng = lambda c, j: f"[{c.lower[j]:+.2f}, {c.upper[j]:+.2f}]"  # noqa: E731
        rows = [
            ("trunk", self.trunk),
            (
                "legs (stack name: abduction, hip, knee joints)",
                "; ".join(f"{leg}: {', '.join(self.joint_names[3 * i : 3 * i + 3])}" for i, leg in enumerate(LEGS)),
            ),
            (
                "hip offsets (m)",
                "; ".join(f"{leg} ({x:+.3f}, {y:+.3f}, {z:+.3f})" for leg, (x, y, z) in zip(LEGS, self.hip_offsets)),
            ),
            ("lateral offset (m)", f"{self.lateral_offset:.4f}"),
            ("thigh / calf length (m)", f"{self.thigh_length:.4f} / {self.calf_length:.4f}"),
            (
                "knee / foot offsets (m, FR)",
                f"hip->knee {_fmt(self.chains[0].p2)}, knee->foot {_fmt(self.chains[0].p3)}",
            ),
            ("foot radius (m)", f"{self.foot_radius:.4f}"),
            (
                "abduction / hip / knee range (rad)",
                "; ".join(f"{leg} " + " / ".join(rng(c, j) for j in range(3)) for leg, c in zip(LEGS, self.chains))
                if len({(c.lower, c.upper) for c in self.chains}) > 1
                else " / ".join(rng(self.chains[0], j) for j in range(3)),
            ),
            ("home pose (rad, FR)", " ".join(f"{v:+.2f}" for v in self.home_joints[:3])),
            ("home trunk height (m)", f"{self.home_trunk_height:.3f}"),
            ("total mass (kg)", f"{self.total_mass:.2f}"),
            ("actuators", f"{len(self.actuator_names)}: {', '.join(self.actuator_names[:3])}, ..."),
            ("sensors", f"{len(self.sensor_names)}"),
        ]
        w = max(len(k) for k, _ in rows)
        return "\n".join(f"{k:<{w}}  {v}" for k, v in rows)


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:+.3f}" for x in v) + ")"


def robot_spec(m: mujoco.MjModel, source: str = "robot model") -> RobotSpec:
    """Derive the :class:`RobotSpec` of compiled model ``m`` (its robot adapted: stack-ordered
    actuators and the stack's sensors); :class:`RobotModelError` lists every problem."""
    problems: List[str] = []
    rmap = infer_mapping(m, source, None, problems)
    if rmap is None:
        raise RobotModelError(source, problems)
    want = [j for lm in rmap.legs for j in lm.joints]
    jids = [m.joint(n).id for n in want]
    if m.nu != 12 or [int(m.actuator_trnid[i, 0]) for i in range(12)] != jids:
        problems.append(
            "the actuators are not in the stack's order FR, FL, RR, RL x (abduction, hip, knee) "
            f"({', '.join(want[:3])}, ...): compile the robot through model.loading (the adapter)"
        )
    elif np.any(m.actuator_biastype != int(mujoco.mjtBias.mjBIAS_AFFINE)):
        problems.append("the actuators must be position servos: compile the robot through model.loading (the adapter)")
    names = {mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i): int(m.sensor_adr[i]) for i in range(m.nsensor)}
    missing = [n for n in rc.REQUIRED_SENSORS if n not in names]
    if missing:
        problems.append(
            f"missing sensor{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            "(the sensors the envs read: model/robot_constants.REQUIRED_SENSORS, docs/model.md)"
        )
    else:
        for group in rc.CONTIGUOUS_SENSORS:
            a = [names[n] for n in group]
            if a != list(range(a[0], a[0] + len(a))):
                problems.append(f"sensors {group[0]} .. {group[-1]} must be contiguous and in actuator order")
    if problems:
        raise RobotModelError(source, problems)
    d = mujoco.MjData(m)
    mujoco.mj_kinematics(m, d)
    trunk = m.body(rmap.trunk).id
    R, p0 = d.xmat[trunk].reshape(3, 3), d.xpos[trunk]
    local = lambda v: R.T @ (np.asarray(v) - p0)  # noqa: E731
    hips, chains, radii = [], [], []
    for lm in rmap.legs:
        j = [m.joint(n).id for n in lm.joints]
        a = [local(d.xanchor[k]) for k in j]
        foot = local(foot_centre(m, d, lm))
        signs = []
        for k, axis_i in zip(j, (0, 1, 1)):
            axis = R.T @ d.xaxis[k]
            signs.append(1.0 if axis[axis_i] > 0 else -1.0)
            assert abs(abs(axis[axis_i]) - 1.0) <= AXIS_TOL
        t = lambda v: tuple(float(x) for x in v)  # noqa: E731
        chains.append(
            LegKinematics(
                p1=t(a[1] - a[0]),
                p2=t(a[2] - a[1]),
                p3=t(foot - a[2]),
                signs=t(signs),
                refs=t(m.qpos0[m.jnt_qposadr[k]] for k in j),
                lower=t(m.jnt_range[k, 0] for k in j),
                upper=t(m.jnt_range[k, 1] for k in j),
            )
        )
        hips.append(t(a[0]))
        radii.append(lm.foot_radius)
    for c, leg, h in zip(chains, LEGS, hips):
        if np.sign(c.lateral) != np.sign(h[1]):
            problems.append(
                f"leg {leg}: the foot sits {c.lateral:+.3f} m from the abduction axis, towards the other "
                f"side than its hip (y {h[1]:+.3f}): are the hip and thigh bodies' offsets mirrored?"
            )
        if not c.knee_folds_one_side:
            problems.append(
                f"leg {leg}: knee range [{c.lower[2]:+.2f}, {c.upper[2]:+.2f}] passes through the "
                "straight leg; the knee must bend to one side over its whole range"
            )
    if problems:
        raise RobotModelError(source, problems)
    qadr = tuple(int(m.jnt_qposadr[k]) for k in jids)
    key = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_KEY, "home")
    free_adr = int(m.jnt_qposadr[[k for k in range(m.njnt) if m.jnt_bodyid[k] == trunk][0]])
    if key >= 0:
        home = [float(m.key_qpos[key, a]) for a in qadr]
        height = float(m.key_qpos[key, free_adr + 2])
    else:
        home = [float(v) for v in rc.HOME_JOINTS]
        height = float(m.qpos0[free_adr + 2])
    fr = chains[0]
    return RobotSpec(
        hip_offsets=tuple(hips),
        chains=tuple(chains),
        lateral_offset=float(np.mean([abs(c.lateral) for c in chains])),
        thigh_length=float(np.mean([c.thigh_length for c in chains])),
        calf_length=float(np.mean([c.calf_length for c in chains])),
        foot_radius=float(max(radii)),
        abduction_range=(fr.lower[0], fr.upper[0]),
        hip_range=(fr.lower[1], fr.upper[1]),
        knee_range=(fr.lower[2], fr.upper[2]),
        side_signs=tuple(1.0 if h[1] > 0 else -1.0 for h in hips),
        joint_names=tuple(want),
        actuator_names=tuple(
            mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_ACTUATOR, i) or f"actuator{i}" for i in range(m.nu)
        ),
        qpos_adr=qadr,
        qvel_adr=tuple(int(m.jnt_dofadr[k]) for k in jids),
        home_joints=tuple(home),
        home_trunk_height=height,
        total_mass=float(np.sum(m.body_mass)),
        sensor_names=tuple(mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_SENSOR, i) or "" for i in range(m.nsensor)),
        trunk=rmap.trunk,
    )


def adapted_robot_model(path: str) -> mujoco.MjModel:
    """The robot file at ``path`` compiled on its own through the adapter."""
    ad = prepare(path)
    spec = mujoco.MjSpec.from_file(os.path.abspath(path))
    try:
        return apply(spec, ad).compile()
    except ValueError as e:
        raise RobotModelError(path, [f"MuJoCo cannot compile the adapted robot: {str(e).strip()}"]) from None


def load_robot_spec(path: str) -> RobotSpec:
    """The :class:`RobotSpec` of the MJCF file at ``path`` (a robot on its own, or a world that
    includes it), adapted as the envs load it; :class:`RobotModelError` when the file is missing,
    does not compile, or lacks what the stack needs (every problem at once)."""
    return robot_spec(adapted_robot_model(path), os.path.abspath(path))

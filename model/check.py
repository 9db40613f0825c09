"""``python -m model.check ROBOT.xml``: can the stack train this robot? Every problem, then physical tests.

    python -m model.check model/robots/go1_style/robot.xml
    python -m model.check ROBOT.xml --write-mapping      # writes the inferred robot.yaml beside it
    python -m model.check ROBOT.xml --no-walk            # skip the nominal-gait walk (no JAX)

1. **Structure** (:mod:`model.robot_mapping`, :mod:`model.robot_adapter`): the trunk, the four legs,
   their joints, feet and actuators are inferred from the file (or ``robot.yaml``); every problem is
   listed at once with its fix. Then the table of what the stack derived and what the adapter did.
2. **Physical acceptance**, each PASS or FAIL with the fix, on the flat world in C MuJoCo:

   * ``feet collide``: dropped from ``home`` (1 cm up), all four foot touch sensors carry load;
   * ``settles``: after 1.5 s the trunk is upright at 50–120 % of the home height, no NaN, and the
     feet carry the robot's weight (±25 %);
   * ``leg order``: each foot site lies in its leg's quadrant, a small step of each actuator moves
     its own leg's foot most, and the stack's reset writes the home pose into the right qpos;
   * ``FK``: the derived leg chains reproduce MuJoCo's foot positions within 1e-6 m (30 poses);
   * ``walk``: 4 s of the nominal trot at 0.4 m/s neither falls nor stalls (≥ 25 % of 1.6 m).

Exit 0 when everything passes, 2 otherwise. To use a robot: ``simulation.robot_xml: PATH``.
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from typing import Callable, List, Optional, Tuple

import mujoco
import numpy as np

from model import robot_constants as rc
from model.loading import foot_geoms, load_mj_model
from model.robot_adapter import prepare
from model.robot_mapping import MAPPING_FILE, mapping_yaml, subtree
from model.robot_spec import RobotSpec, load_robot_spec, trunk_body
from model.simulation_config import load_simulation_config
from model.yaml_config import ConfigError

Result = Tuple[str, bool, str]  # (test, passed, detail or fix)

STALL_FRACTION = 0.25
"""The walk stalls below this fraction of the commanded distance (the trot starts from standing and
ramps up: the project's robot covers 1.21 m of 1.6 m in the 4 s, its long variant 0.77 m)."""


def check(path: str) -> RobotSpec:
    """The :class:`RobotSpec` of the MJCF at ``path`` (structure only), or
    :class:`model.robot_adapter.RobotModelError`."""
    return load_robot_spec(path)


def _flat_model(path: str, collision: str = "all") -> mujoco.MjModel:
    return load_mj_model(load_simulation_config(world="flat", robot_xml=os.path.abspath(path), collision=collision))


def _settle(m, spec: RobotSpec, seconds: float) -> mujoco.MjData:
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    d.qpos[2] += 0.01
    d.ctrl[:] = spec.home_joints
    mujoco.mj_step(m, d, nstep=int(round(seconds / m.opt.timestep)))
    return d


def _sensor(m, d, name: str) -> np.ndarray:
    i = m.sensor(name).id
    return d.sensordata[m.sensor_adr[i]:m.sensor_adr[i] + m.sensor_dim[i]]


def physical_tests(path: str, spec: RobotSpec, walk: Optional[Callable[[str], dict]] = None) -> List[Result]:
    """The acceptance tests of the module docstring; ``walk(path)`` runs the nominal trot (None: skipped)."""
    out: List[Result] = []
    m = _flat_model(path)
    d = _settle(m, spec, 1.5)
    touch = np.array([float(_sensor(m, d, s)[0]) for s in rc.FOOT_TOUCH_SENSORS])
    weight = spec.total_mass * float(np.linalg.norm(m.opt.gravity))
    robot = set(subtree(m, trunk_body(m)))
    on_floor = {g for c in d.contact[:d.ncon] for g, other in ((c.geom1, c.geom2), (c.geom2, c.geom1))
                if int(m.geom_bodyid[other]) not in robot}
    feet = foot_geoms(m)
    ok = len(feet) == 4 and feet <= on_floor and bool(np.all(touch > 0.05 * weight / 4))
    out.append(("feet collide", ok, f"foot loads {', '.join(f'{v:.1f}' for v in touch)} N" + ("" if ok else
                f"; {4 - len(feet & on_floor)} foot geom(s) not in contact with the floor: a foot does not touch the "
                "floor; give the foot geoms contype 1 (the floor is contype 0 / conaffinity 1) or check the home "
                "keyframe")))
    finite = bool(np.all(np.isfinite(d.qpos)))
    z = float(d.qpos[2])
    up = np.zeros(3)
    mujoco.mju_rotVecQuat(up, np.array([0.0, 0.0, 1.0]), d.qpos[3:7])
    ok = finite and 0.5 * spec.home_trunk_height <= z <= 1.2 * spec.home_trunk_height and up[2] > np.cos(0.2) \
        and abs(touch.sum() / weight - 1.0) < 0.25 and out[-1][1]
    out.append(("settles on 4 feet", ok,
                f"trunk {z:.3f} m (home {spec.home_trunk_height:.3f}), tilt {np.degrees(np.arccos(min(up[2], 1))):.1f}"
                f" deg, feet carry {touch.sum() / weight * 100:.0f} % of {weight:.1f} N" + ("" if ok else
                ": the robot does not stand on its home pose: check the keyframe 'home', the servo gains and ranges")))
    out.append(_leg_order(m, spec, d))
    out.append(_fk(m, spec))
    if walk is not None:
        r = walk(path)
        ok = not r["fell"] and r["distance"] >= STALL_FRACTION * 0.4 * 4.0
        out.append(("walks (nominal trot, 4 s at 0.4 m/s)", ok,
                    f"{r['distance']:.2f} m, {'fell' if r['fell'] else 'no fall'}, lowest trunk {r['min_height']:.3f} m"
                    + ("" if ok else ": the gait cannot walk this robot; set gait.body_height / swing_height / "
                       "max_step_length, or the servo gains (robot.yaml motor_gains, simulation.kp/kv)")))
    return out


def _leg_order(m, spec: RobotSpec, d0) -> Result:
    trunk = trunk_body(m)
    R, p = d0.xmat[trunk].reshape(3, 3), d0.xpos[trunk]
    feet = [R.T @ (d0.site_xpos[m.site(s).id] - p) for s in rc.FOOT_SITES]
    bad = [leg for leg, f in zip(rc.LEG_NAMES, feet) if (f[0] > 0) != (leg[0] == "F") or (f[1] > 0) != (leg[1] == "L")]
    if bad:
        return ("leg order", False, f"foot site(s) of {', '.join(bad)} in the wrong quadrant: write robot.yaml legs")
    # each actuator alone, robot in the air without gravity: its own leg's foot moves most (trunk frame)
    m0 = copy.copy(m)
    m0.opt.gravity[:] = 0.0
    for i in range(12):
        d = mujoco.MjData(m0)
        d.qpos[:] = m0.key_qpos[m0.key("home").id]
        d.qpos[2] += 1.0
        d.ctrl[:] = spec.home_joints
        mujoco.mj_forward(m0, d)
        before = _feet_in_trunk(m0, d, trunk)
        lo, hi = m0.actuator_ctrlrange[i]
        d.ctrl[i] = spec.home_joints[i] + (0.2 if spec.home_joints[i] + 0.2 < hi else -0.2)
        mujoco.mj_step(m0, d, nstep=25)
        moved = np.linalg.norm(_feet_in_trunk(m0, d, trunk) - before, axis=1)
        if int(np.argmax(moved)) != i // 3:
            return ("leg order", False, f"actuator {spec.actuator_names[i]} (stack {rc.JOINT_NAMES[i]}) moves the "
                    f"{rc.LEG_NAMES[int(np.argmax(moved))]} foot most: write robot.yaml legs")
    driven = [int(m.jnt_qposadr[m.actuator_trnid[i, 0]]) for i in range(12)]
    if driven != list(spec.qpos_adr):  # where a reset writes joint i is where actuator i acts
        return ("leg order", False, f"the stack's joint qpos addresses {list(spec.qpos_adr)} differ from the ones "
                f"its actuators drive {driven}")
    return ("leg order", True, "feet in their quadrants; each actuator moves its own leg; home in the right joints")


def _feet_in_trunk(m, d, trunk: int) -> np.ndarray:
    R, p = d.xmat[trunk].reshape(3, 3), d.xpos[trunk]
    return np.array([R.T @ (d.site_xpos[m.site(s).id] - p) for s in rc.FOOT_SITES])


def _fk(m, spec: RobotSpec) -> Result:
    d = mujoco.MjData(m)
    rng = np.random.default_rng(0)
    trunk = trunk_body(m)
    worst = 0.0
    for _ in range(30):
        d.qpos[:] = m.qpos0
        lo = np.array([v for c in spec.chains for v in c.lower])
        hi = np.array([v for c in spec.chains for v in c.upper])
        q = rng.uniform(lo, hi)
        d.qpos[list(spec.qpos_adr)] = q
        mujoco.mj_kinematics(m, d)
        R, p = d.xmat[trunk].reshape(3, 3), d.xpos[trunk]
        for leg, (c, hip, site) in enumerate(zip(spec.chains, spec.hip_offsets, rc.FOOT_SITES)):
            want = R.T @ (d.site_xpos[m.site(site).id] - p)
            worst = max(worst, float(np.abs(c.forward(q[3 * leg:3 * leg + 3]) + np.asarray(hip) - want).max()))
    return ("FK matches MuJoCo", worst <= 1e-6, f"largest foot error {worst:.1e} m over 30 random poses"
            + ("" if worst <= 1e-6 else ": a joint axis or offset the chain model does not describe"))


def _nominal_walk(path: str) -> dict:
    # The walk runs the whole stack (gait + IK + C MuJoCo): the one place this CLI reaches above the model layer.
    from playback.nominal import run_nominal

    return run_nominal(duration=4.0, vx=0.4, sim_config=load_simulation_config(world="flat", robot_xml=path))


def main(argv: Optional[List[str]] = None, out=print) -> int:
    p = argparse.ArgumentParser(prog="python -m model.check", description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="robot MJCF (or a world MJCF that includes it)")
    p.add_argument("--write-mapping", action="store_true",
                   help=f"write the inferred mapping to {MAPPING_FILE} beside the robot (kept if it exists)")
    p.add_argument("--no-walk", action="store_true", help="skip the nominal-gait walk")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    try:
        ad = prepare(args.path)
        spec = check(args.path)
    except ConfigError as e:  # RobotModelError, or a malformed robot.yaml
        out(f"FAIL {e}")
        return 2
    if args.write_mapping:
        target = os.path.join(os.path.dirname(os.path.abspath(args.path)), MAPPING_FILE)
        if os.path.exists(target):
            out(f"{target} exists: kept (delete it to write the inferred one)")
        else:
            with open(target, "w", encoding="utf-8") as fh:
                fh.write(mapping_yaml(ad.rmap))
            out(f"wrote {target}")
    src = f"robot.yaml {ad.rmap.mapping_file}" if ad.rmap.mapping_file else "inferred from the file"
    out(f"structure OK {args.path} ({src})")
    out(spec.table())
    for note in ad.notes:
        out(f"adapter: {note}")
    results = physical_tests(args.path, spec, None if args.no_walk else _nominal_walk)
    for name, ok, detail in results:
        out(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    passed = all(ok for _, ok, _ in results)
    out(f"{'OK' if passed else 'FAIL'} {args.path}: {sum(ok for _, ok, _ in results)}/{len(results)} physical tests "
        f"passed in {time.perf_counter() - t0:.1f} s" + (f" (simulation.robot_xml: {args.path})" if passed else ""))
    return 0 if passed else 2


if __name__ == "__main__":
    sys.exit(main())

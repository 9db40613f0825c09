"""``python -m model.check ROBOT.xml``: can the stack train this robot? Every problem, then physical tests.

    python -m model.check model/robots/go1_style/robot.xml
    python -m model.check ROBOT.xml --write-mapping      # writes the inferred robot.yaml beside it
    python -m model.check ROBOT.xml --no-walk            # skip the walk and the env episodes (no JAX)

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
   * ``env episodes``: the training env itself (:class:`mjx_envs.vector_env.ResidualWalkVectorEnv`,
     ``configs/*.yaml``, flat world) builds for this robot, and 4 of its episodes (its own reset:
     home pose, joint noise, drawn commands) with zero residual (the nominal gait) run 2 s without
     terminating; a FAIL names the config key or the robot part to change;
   * ``walk``: 4 s of the nominal trot at 0.4 m/s neither falls nor stalls (≥ 25 % of 1.6 m); it
     cannot pass when the env episodes fail.

Exit 0 when everything passes, 2 otherwise. To use a robot: ``simulation.robot_xml: PATH``.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
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
from model.simulation_config import REPO_ROOT, load_simulation_config
from model.yaml_config import ConfigError

Result = Tuple[str, bool, str]  # (test, passed, detail or fix)

STALL_FRACTION = 0.25
"""The walk stalls below this fraction of the commanded distance (the trot starts from standing and
ramps up: the project's robot covers 1.21 m of 1.6 m in the 4 s, its long variant 0.77 m)."""

EPISODES = 4
"""Training-env episodes the check runs (world i resets with seed i)."""
EPISODE_SECONDS = 2.0
"""Length of each of them [s]: a reset that cannot stand ends in the first control steps."""


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
    return d.sensordata[m.sensor_adr[i] : m.sensor_adr[i] + m.sensor_dim[i]]


def physical_tests(
    path: str,
    spec: RobotSpec,
    walk: Optional[Callable[[str], dict]] = None,
    episodes: Optional[Callable[[str], dict]] = None,
) -> List[Result]:
    """The acceptance tests of the module docstring; ``walk(path)`` runs the nominal trot and
    ``episodes(path)`` the training env (:func:`run_episodes`, or ``{"refused": ConfigError text,
    "auto": auto_size_errors(...)}``); None: skipped."""
    out: List[Result] = []
    m = _flat_model(path)
    d = _settle(m, spec, 1.5)
    touch = np.array([float(_sensor(m, d, s)[0]) for s in rc.FOOT_TOUCH_SENSORS])
    weight = spec.total_mass * float(np.linalg.norm(m.opt.gravity))
    robot = set(subtree(m, trunk_body(m)))
    on_floor = {
        g
        for c in d.contact[: d.ncon]
        for g, other in ((c.geom1, c.geom2), (c.geom2, c.geom1))
        if int(m.geom_bodyid[other]) not in robot
    }
    feet = foot_geoms(m)
    ok = len(feet) == 4 and feet <= on_floor and bool(np.all(touch > 0.05 * weight / 4))
    out.append(
        (
            "feet collide",
            ok,
            f"foot loads {', '.join(f'{v:.1f}' for v in touch)} N"
            + (
                ""
                if ok
                else f"; {4 - len(feet & on_floor)} foot geom(s) not in contact with the floor: a foot does not "
                "touch the floor; give the foot geoms contype 1 (the floor is contype 0 / conaffinity 1) or check "
                "the home keyframe"
            ),
        )
    )
    finite = bool(np.all(np.isfinite(d.qpos)))
    z = float(d.qpos[2])
    up = np.zeros(3)
    mujoco.mju_rotVecQuat(up, np.array([0.0, 0.0, 1.0]), d.qpos[3:7])
    ok = (
        finite
        and 0.5 * spec.home_trunk_height <= z <= 1.2 * spec.home_trunk_height
        and up[2] > np.cos(0.2)
        and abs(touch.sum() / weight - 1.0) < 0.25
        and out[-1][1]
    )
    out.append(
        (
            "settles on 4 feet",
            ok,
            f"trunk {z:.3f} m (home {spec.home_trunk_height:.3f}), tilt {np.degrees(np.arccos(min(up[2], 1))):.1f}"
            f" deg, feet carry {touch.sum() / weight * 100:.0f} % of {weight:.1f} N"
            + (
                ""
                if ok
                else ": the robot does not stand on its home pose: check the keyframe 'home', the servo gains and "
                "ranges"
            ),
        )
    )
    out.append(_leg_order(m, spec, d))
    out.append(_fk(m, spec))
    env_ok = True
    if episodes is not None:
        out.append(_episodes_result(spec, episodes(path)))
        env_ok = out[-1][1]
    if walk is not None:
        out.append(_walk_result(walk, path, env_ok))
    return out


def _walk_result(walk: Callable[[str], dict], path: str, env_ok: bool) -> Result:
    name = "walks (nominal trot, 4 s at 0.4 m/s)"
    try:
        r = walk(path)
    except ConfigError as e:  # the gait's configs refuse this robot: the env episodes name the fix
        return (name, False, f"not run: {e}")
    ok = not r["fell"] and r["distance"] >= STALL_FRACTION * 0.4 * 4.0
    detail = f"{r['distance']:.2f} m, {'fell' if r['fell'] else 'no fall'}, lowest trunk {r['min_height']:.3f} m"
    if ok and not env_ok:
        return (
            name,
            False,
            detail + ", after its own stand-up; but the training env's episodes end (env "
            "episodes above): the robot cannot be trained as it is",
        )
    return (
        name,
        ok,
        detail
        + (
            ""
            if ok
            else ": the gait cannot walk this robot; set gait.body_height / "
            "swing_height / max_step_length, or the servo gains (robot.yaml motor_gains, "
            "simulation.kp/kv)"
        ),
    )


def _tilt(quat: np.ndarray) -> Tuple[float, float]:
    """(roll, pitch) [rad] of a trunk quaternion (w, x, y, z), as the env measures them (from the
    body-frame gravity direction)."""
    g = np.zeros(3)
    q = np.asarray(quat, float)
    mujoco.mju_rotVecQuat(g, np.array([0.0, 0.0, -1.0]), np.array([q[0], -q[1], -q[2], -q[3]]) / np.linalg.norm(q))
    return float(np.arctan2(-g[1], -g[2])), float(np.arcsin(np.clip(g[0], -1.0, 1.0)))


def run_episodes(envs, seconds: float) -> dict:
    """Reset the vector env ``envs`` (world i: seed i, built with ``autoreset=False``) and step every
    world with zero actions for ``seconds`` [s]. Returns the env's limits and gait sizes, the lowest
    trunk height [m] and largest |roll|, |pitch| [rad] seen, and per world that terminated its first
    end, earliest first: ``(world, control step, trunk height, roll, pitch, finite)`` (flat world:
    height = z of the env's trunk sensor)."""
    n, ctx = envs.num_envs, envs.ctx
    envs.reset(seed=0)
    commands = envs.read_info("command")
    ends: dict = {}
    low, tilt = np.inf, np.zeros(2)
    zero = np.zeros((n, ctx.action_size), np.float32)
    for k in range(int(round(seconds / ctx.sim.control_dt))):
        _, _, terminated, _, _ = envs.step(zero)
        qpos, qvel, sd = envs.qpos, envs.qvel, envs.sensordata
        for i in range(n):
            if i in ends:
                continue
            finite = bool(np.all(np.isfinite(qpos[i])) and np.all(np.isfinite(qvel[i])))
            z = float(sd[i, ctx.idx.trunk_pos + 2])  # the env's trunk sensors
            roll, pitch = _tilt(sd[i, ctx.idx.trunk_quat : ctx.idx.trunk_quat + 4]) if finite else (np.nan, np.nan)
            if terminated[i]:
                ends[i] = (i, k + 1, z, roll, pitch, finite)
            elif finite:
                low, tilt = min(low, z), np.maximum(tilt, np.abs([roll, pitch]))
        if len(ends) == n:
            break
    first = sorted(ends.values(), key=lambda end: (end[1], end[0]))
    e = ctx.env
    return dict(
        episodes=n,
        seconds=seconds,
        control_dt=ctx.sim.control_dt,
        ends=first,
        commands=commands,
        min_height=low,
        max_roll=float(tilt[0]),
        max_pitch=float(tilt[1]),
        min_base_height=e.min_base_height,
        max_roll_limit=e.max_roll,
        max_pitch_limit=e.max_pitch,
        joint_noise=e.randomization.joint_noise,
        home_height=float(ctx.home_trunk_height),
        body_height=float(ctx.gait.body_height),
        leg_length=float(ctx.controller.geometry.leg_length),
    )


def auto_size_errors(gait, geometry) -> List[str]:
    """Each gait size left ``auto`` (None) in ``gait`` that ``geometry``'s legs derive out of its
    range, as the config's own error text (the other ``auto`` sizes held at their lower bounds)."""
    fields = {f.name: f for f in dataclasses.fields(gait) if "range" in f.metadata}
    auto = [k for k in fields if getattr(gait, k) is None]
    out = []
    for name in auto:
        others = {k: fields[k].metadata["range"][0] for k in auto if k != name}
        try:
            dataclasses.replace(gait, **others).for_robot(geometry)
        except ConfigError as e:
            out.append(str(e))
    return out


def _episodes_result(spec: RobotSpec, r: dict) -> Result:
    name = f"env episodes ({EPISODES} x {EPISODE_SECONDS:g} s, nominal gait)"
    if "refused" in r:
        if not r["auto"]:
            return (name, False, f"the training configs refuse this robot: {r['refused']}")
        return (
            name,
            False,
            f"the training configs refuse this robot: the gait sizes left 'auto' in configs/gait.yaml "
            f"follow its leg length (thigh + calf {spec.thigh_length + spec.calf_length:.3f} m; body_height "
            f"0.643 x, swing_height / 6, max_step_length 0.714 x) out of their ranges: {'; '.join(r['auto'])}. "
            "Set those gait keys (gait.body_height, gait.swing_height, gait.max_step_length) to values in range in "
            "configs/gait.yaml or the training config's gait section, or shorten the legs",
        )
    if not r["ends"]:
        return (
            name,
            True,
            f"no episode ends: lowest trunk {r['min_height']:.3f} m (env.min_base_height "
            f"{r['min_base_height']:g}), largest roll / pitch {r['max_roll']:.2f} / {r['max_pitch']:.2f} rad "
            f"(env.max_roll / max_pitch {r['max_roll_limit']:g} / {r['max_pitch_limit']:g})",
        )
    world, step, z, roll, pitch, finite = r["ends"][0]
    cmd = ", ".join(f"{v:+.2f}" for v in r["commands"][world])
    where = (
        f"{len(r['ends'])} of {r['episodes']} episodes terminate; episode {world} (command vx, vy, yaw rate "
        f"{cmd}) at control step {step} ({step * r['control_dt']:.2f} s): "
    )
    home, body, floor = r["home_height"], r["body_height"], r["min_base_height"]
    if not finite:
        why = (
            "the physics diverged (NaN): check the servo gains against the link inertias (robot.yaml "
            "motor_gains, simulation.kp/kv) and simulation.physics_dt"
        )
    elif z < floor:
        why = f"trunk {z:.3f} m < env.min_base_height {floor:g} m"
        if home + 0.01 < floor:
            why += (
                f": the env starts every episode with the trunk at the home keyframe's {home:.3f} m (+0.01), under "
                f"the limit: raise the trunk of keyframe 'home' above {floor:g} m (a less crouched home pose) or "
                f"lower env.min_base_height below {home:.3f} m (configs/env.yaml)"
            )
        elif body < floor:
            why += (
                f": the gait stands the trunk at gait.body_height {body:.3f} m (0.643 x leg length "
                f"{r['leg_length']:.3f} m), under the limit: set gait.body_height above {floor:g} m "
                f"(configs/gait.yaml) or lower env.min_base_height below {body:.3f} m (configs/env.yaml)"
            )
        else:
            why += (
                f" (home {home:.3f} m, gait.body_height {body:.3f} m): the nominal gait lets the robot sink or "
                "fall; stiffen the servos (robot.yaml motor_gains, simulation.kp/kv) or set gait.body_height"
            )
    else:
        axis, angle, key = (
            ("roll", roll, "max_roll") if abs(roll) > r["max_roll_limit"] else ("pitch", pitch, "max_pitch")
        )
        why = (
            f"|{axis}| {abs(angle):.2f} rad > env.{key} {r[key + '_limit']:g} rad (trunk {z:.3f} m): the "
            f"robot tips over from the env's reset (home pose, joint noise ±{r['joint_noise']:g} rad) under the "
            "nominal gait; check the home keyframe and the servo gains (robot.yaml motor_gains, simulation.kp/kv), "
            "or narrow env.command / env.randomization.joint_noise (configs/env.yaml)"
        )
    return (name, False, where + why)


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
            return (
                "leg order",
                False,
                f"actuator {spec.actuator_names[i]} (stack {rc.JOINT_NAMES[i]}) moves the "
                f"{rc.LEG_NAMES[int(np.argmax(moved))]} foot most: write robot.yaml legs",
            )
    driven = [int(m.jnt_qposadr[m.actuator_trnid[i, 0]]) for i in range(12)]
    if driven != list(spec.qpos_adr):  # where a reset writes joint i is where actuator i acts
        return (
            "leg order",
            False,
            f"the stack's joint qpos addresses {list(spec.qpos_adr)} differ from the ones its actuators drive {driven}",
        )
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
            worst = max(worst, float(np.abs(c.forward(q[3 * leg : 3 * leg + 3]) + np.asarray(hip) - want).max()))
    return (
        "FK matches MuJoCo",
        worst <= 1e-6,
        f"largest foot error {worst:.1e} m over 30 random poses"
        + ("" if worst <= 1e-6 else ": a joint axis or offset the chain model does not describe"),
    )


def _nominal_walk(path: str) -> dict:
    # The walk runs the whole stack (gait + IK + C MuJoCo): the one place this CLI reaches above the model layer.
    from evaluation.nominal import run_nominal

    return run_nominal(duration=4.0, vx=0.4, sim_config=load_simulation_config(world="flat", robot_xml=path))


def _env_episodes(path: str) -> dict:
    # The training env's own reset and episode logic (mjx_envs on C MuJoCo, configs/*.yaml): the CLI's
    # second reach above the model layer, like the walk.
    import jax

    from gait.gait_config import load_gait_config
    from ik.leg_geometry import LegGeometry
    from mjx_envs.env_config import load_env_config
    from mjx_envs.vector_env import ResidualWalkVectorEnv

    if not jax.config.jax_compilation_cache_dir:  # as training and evaluation: the logic compiles once per robot
        jax.config.update("jax_compilation_cache_dir", os.path.join(REPO_ROOT, ".jax_cache"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    gait = load_gait_config()
    try:
        envs = ResidualWalkVectorEnv(
            EPISODES,
            load_simulation_config(world="flat", robot_xml=os.path.abspath(path)),
            load_env_config(),
            gait,
            nthread=1,
            autoreset=False,
        )
    except ConfigError as e:
        return {"refused": str(e), "auto": auto_size_errors(gait, LegGeometry.from_robot_spec(check(path)))}
    try:
        return run_episodes(envs, EPISODE_SECONDS)
    finally:
        envs.close()


def main(argv: Optional[List[str]] = None, out=print) -> int:
    p = argparse.ArgumentParser(prog="python -m model.check", description=__doc__.split("\n\n")[0])
    p.add_argument("path", help="robot MJCF (or a world MJCF that includes it)")
    p.add_argument(
        "--write-mapping",
        action="store_true",
        help=f"write the inferred mapping to {MAPPING_FILE} beside the robot (kept if it exists)",
    )
    p.add_argument("--no-walk", action="store_true", help="skip the nominal-gait walk and the training env's episodes")
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
    if not args.no_walk:  # the env's logic and the walk compile more than they run: LLVM -O0 halves XLA's compile
        os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")
    results = physical_tests(args.path, spec, *((None, None) if args.no_walk else (_nominal_walk, _env_episodes)))
    for name, ok, detail in results:
        out(f"{'PASS' if ok else 'FAIL'} {name}: {detail}")
    passed = all(ok for _, ok, _ in results)
    tail = (
        "; not run (--no-walk): the training env's episodes and the walk"
        if args.no_walk
        else f" (simulation.robot_xml: {args.path})"
        if passed
        else ""
    )
    out(
        f"{'OK' if passed else 'FAIL'} {args.path}: {sum(ok for _, ok, _ in results)}/{len(results)} physical tests "
        f"passed in {time.perf_counter() - t0:.1f} s" + tail
    )
    return 0 if passed else 2


if __name__ == "__main__":
    sys.exit(main())

"""Roll out the nominal Bézier trot controller on C MuJoCo (headless by default).

Usage::

    python -m evaluation.nominal [--duration 20] [--vx 0.3] [--vy 0] [--yaw-rate 0]
                               [--world flat|rough] [--band 2] [--robot-xml PATH] [--viewer]

The robot starts in the ``home`` keyframe, stands up to ``GaitConfig.body_height`` with
:meth:`gait.controller.BezierController.stand_up_targets`, holds still for a moment and then
trots with the commanded body velocity for ``--duration`` seconds.  It prints the distance
walked, the mean forward speed and whether it fell.  :func:`run_nominal` is the importable
rollout used by the tests and by evaluation code.  ``--robot-xml PATH`` walks another robot
(``simulation.robot_xml``; :func:`sim_config_from_options`).  The viewer shows a robot's
collision geoms when it has no visible ones (:func:`model.robot_view.show_robot_geoms`).

World frame: z up; trunk position is the trunk-body origin [m]; yaw [rad] about world z.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from gait.controller import BezierController
from gait.gait_config import GaitConfig, load_gait_config
from ik.leg_geometry import LegGeometry
from mjx_envs.env_config import EnvConfig
from mjx_envs.episode_logic import fall_condition
from mjx_envs.measurements import roll_pitch
from model import terrain
from model.loading import load_mj_model, terrain_heights
from model.robot_spec import robot_spec
from model.robot_view import show_robot_geoms
from model.simulation_config import SimulationConfig, load_simulation_config
from model.yaml_config import ConfigError

FALL_RULE = EnvConfig()
"""Fall thresholds (``min_base_height``, ``max_roll``, ``max_pitch``) of the env's one fall rule
(:func:`mjx_envs.episode_logic.fall_condition`), at their config defaults."""


@jax.jit
def _fell_now(height: jax.Array, quat: jax.Array) -> jax.Array:
    """:func:`fallen` for one control step, compiled once (the trot loop's per-step check)."""
    roll, pitch = roll_pitch(quat)
    return fall_condition(height, roll, pitch, FALL_RULE)


def fallen(height, quat_wxyz) -> np.ndarray:
    """The env's fall rule for trunk heights above the terrain [m] and quaternions (..., 4)
    (one call per rollout; the per-step check in the trot loop is ``_fell_now``)."""
    q = jnp.asarray(np.asarray(quat_wxyz, np.float32).reshape(-1, 4))
    roll, pitch = jax.vmap(roll_pitch)(q)
    out = fall_condition(np.asarray(height, np.float32).reshape(-1), np.asarray(roll), np.asarray(pitch), FALL_RULE)
    return out if np.ndim(height) else bool(out[0])


def trunk_yaw(quat_wxyz: np.ndarray) -> np.ndarray:
    """Yaw angle(s) [rad] about world z of unit quaternion(s) (w, x, y, z), shape (..., 4) -> (...)."""
    w, x, y, z = np.moveaxis(np.asarray(quat_wxyz, dtype=np.float64), -1, 0)
    return np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _ground_height_fn(m: mujoco.MjModel):
    """Function (x, y) -> terrain height [m] for the loaded world (0 for the flat plane)."""
    heights = terrain_heights(m)
    if heights is None:
        return lambda x, y: 0.0
    spec = terrain.spec_of_model(m)
    return lambda x, y: float(terrain.height_at(heights, x, y, spec))


def initial_data(m: mujoco.MjModel, band: int = 2) -> mujoco.MjData:
    """MjData in the ``home`` keyframe; in a heightfield world placed in ``band`` at x = -6 m.

    The trunk is lifted so that the feet clear the highest terrain point under the robot.
    """
    d = mujoco.MjData(m)
    mujoco.mj_resetDataKeyframe(m, d, m.key("home").id)
    if m.nhfield > 0:
        ground = _ground_height_fn(m)
        x0, y0 = terrain.band_spawn_xy(band, 0.5, 0.5, terrain.spec_of_model(m))
        xs = np.linspace(x0 - 0.35, x0 + 0.35, 15)
        ys = np.linspace(y0 - 0.25, y0 + 0.25, 11)
        highest = max(ground(x, y) for x in xs for y in ys)
        d.qpos[0:3] = (x0, y0, highest + float(m.key_qpos[m.key("home").id, 2]) + 0.01)
    mujoco.mj_forward(m, d)
    return d


def run_nominal(
    duration: float = 20.0,
    vx: float = 0.3,
    vy: float = 0.0,
    yaw_rate: float = 0.0,
    world: str = "flat",
    band: int = 2,
    gait_config: Optional[GaitConfig] = None,
    sim_config: Optional[SimulationConfig] = None,
    settle_time: float = 0.5,
    viewer: bool = False,
    stop_on_fall: bool = True,
) -> Dict[str, Any]:
    """Stand up, then trot with the nominal controller on C MuJoCo.

    Args:
      duration: trotting time after standing up [s].
      vx, vy: commanded body-frame forward / leftward velocity [m/s].
      yaw_rate: commanded yaw rate [rad/s] (positive = counter-clockwise seen from above).
      world: ``"flat"`` or ``"rough"`` (ignored when ``sim_config`` is given).
      band: rough world only: difficulty band to spawn in (0 flat .. 5 roughest); the robot
        starts at x = -6 m in the middle of the band and walks along +x.
      gait_config: gait parameters (default ``configs/gait.yaml``).
      sim_config: simulation settings (default ``configs/simulation.yaml`` with ``world``).
      settle_time: standing time between the stand-up and the first step [s].
      viewer: open the MuJoCo passive viewer and run in real time.
      stop_on_fall: end the rollout at the first control step the robot counts as fallen.

    Returns:
      dict with scalars ``distance`` (xy displacement while trotting [m]), ``forward_distance``
      (path integral of the displacement along the current heading [m]), ``mean_forward_speed``
      [m/s], ``yaw_change`` (unwrapped [rad]), ``mean_yaw_rate`` [rad/s], ``fell`` (bool),
      ``fall_time`` (trot time of the fall [s] or None), ``walk_time`` [s],
      ``saturation_fraction`` (fraction of leg-steps where the IK saturated), ``min_height``
      [m above terrain]; and per control step of the trot (N = steps): ``time`` (N,),
      ``trunk_pos`` (N, 3) world [m], ``trunk_quat`` (N, 4) (w, x, y, z), ``yaw`` (N,) unwrapped
      [rad], ``height`` (N,) above terrain [m], ``saturated`` (N, 4) bool.
    """
    gait_config = load_gait_config() if gait_config is None else gait_config
    sim_config = load_simulation_config(world=world) if sim_config is None else sim_config
    m = load_mj_model(sim_config)
    d = initial_data(m, band)
    ground = _ground_height_fn(m)

    spec = robot_spec(m, sim_config.robot_file)
    controller = BezierController(config=gait_config, geometry=LegGeometry.from_robot_spec(spec))
    n_sub = sim_config.n_substeps
    dt = sim_config.control_dt
    command = jnp.asarray([vx, vy, yaw_rate], dtype=jnp.float32)
    stand_fn = jax.jit(controller.stand_up_targets)

    @jax.jit
    def trot_fn(gait_state):
        out = controller.joint_targets(gait_state, command)
        return out.joint_targets, out.saturated, controller.advance(gait_state, dt)

    handle = None
    if viewer:
        from mujoco import viewer as mj_viewer

        from mjx_envs.display import require_display

        require_display("--viewer", "run without --viewer (headless) or write a video with python -m playback")

        handle = mj_viewer.launch_passive(m, d)
        with handle.lock():
            show_robot_geoms(m, handle.opt)

    def step(ctrl: np.ndarray) -> None:
        d.ctrl[:] = ctrl
        t0 = time.perf_counter()
        mujoco.mj_step(m, d, nstep=n_sub)
        if handle is not None:
            handle.sync()
            time.sleep(max(0.0, dt - (time.perf_counter() - t0)))

    try:
        start_q = jnp.asarray(d.qpos[list(spec.qpos_adr)], dtype=jnp.float32)
        n_stand = int(round((gait_config.stand_up_duration + settle_time) / dt))
        for k in range(n_stand):
            step(np.asarray(stand_fn(start_q, k * dt)))

        n_walk = int(round(duration / dt))
        poses, quats, heights, sats = [], [], [], []
        gait_state = controller.init_state()
        start_pos = d.qpos[0:3].copy()
        start_quat = d.qpos[3:7].copy()
        for _ in range(n_walk):
            ctrl, sat, gait_state = trot_fn(gait_state)
            step(np.asarray(ctrl))
            pos, quat = d.qpos[0:3].copy(), d.qpos[3:7].copy()
            height = pos[2] - ground(pos[0], pos[1])
            poses.append(pos)
            quats.append(quat)
            heights.append(height)
            sats.append(np.asarray(sat))
            down = bool(_fell_now(np.float32(height), quat.astype(np.float32)))
            if (down and stop_on_fall) or (handle is not None and not handle.is_running()):
                break
    finally:
        if handle is not None:
            handle.close()

    trunk_pos = np.concatenate([start_pos[None], np.asarray(poses).reshape(-1, 3)], axis=0)
    trunk_quat = np.concatenate([start_quat[None], np.asarray(quats).reshape(-1, 4)], axis=0)
    return summarize_trot(trunk_pos, trunk_quat, np.asarray(heights), np.asarray(sats, dtype=bool).reshape(-1, 4), dt)


def summarize_trot(
    trunk_pos: np.ndarray, trunk_quat: np.ndarray, height: np.ndarray, saturated: np.ndarray, dt: float
) -> Dict[str, Any]:
    """Result dict of a trot rollout (see :func:`run_nominal`) from its per-step trunk trajectory.

    Args:
      trunk_pos: (N + 1, 3) world trunk positions [m], row 0 at the start of the trot.
      trunk_quat: (N + 1, 4) trunk orientations (w, x, y, z), row 0 at the start of the trot.
      height: (N,) trunk height above the terrain after each control step [m].
      saturated: (N, 4) per-leg IK saturation flags of each control step.
      dt: control period [s].
    """
    n = trunk_pos.shape[0] - 1
    yaw = np.unwrap(trunk_yaw(trunk_quat))
    delta = np.diff(trunk_pos[:, :2], axis=0)
    heading = np.stack([np.cos(yaw[:-1]), np.sin(yaw[:-1])], axis=-1)
    forward_distance = float(np.sum(delta * heading))
    times = dt * np.arange(1, n + 1)
    down = fallen(height, trunk_quat[1:])
    fall_time = float(times[np.argmax(down)]) if np.any(down) else None
    walk_time = float(n * dt)
    return {
        "distance": float(np.linalg.norm(trunk_pos[-1, :2] - trunk_pos[0, :2])),
        "forward_distance": forward_distance,
        "mean_forward_speed": forward_distance / walk_time if walk_time > 0 else 0.0,
        "yaw_change": float(yaw[-1] - yaw[0]),
        "mean_yaw_rate": float(yaw[-1] - yaw[0]) / walk_time if walk_time > 0 else 0.0,
        "fell": fall_time is not None,
        "fall_time": fall_time,
        "walk_time": walk_time,
        "saturation_fraction": float(np.mean(saturated)) if n > 0 else 0.0,
        "min_height": float(np.min(height)) if n > 0 else float("nan"),
        "time": times,
        "trunk_pos": trunk_pos[1:],
        "trunk_quat": trunk_quat[1:],
        "yaw": yaw[1:],
        "height": np.asarray(height),
        "saturated": np.asarray(saturated, dtype=bool),
    }


def run_nominal_mjx(
    duration: float = 5.0,
    vx: float = 0.3,
    vy: float = 0.0,
    yaw_rate: float = 0.0,
    world: str = "flat",
    band: int = 2,
    gait_config: Optional[GaitConfig] = None,
    sim_config: Optional[SimulationConfig] = None,
    settle_time: float = 0.5,
) -> Dict[str, Any]:
    """Same rollout as :func:`run_nominal` on MJX (one command); see :func:`run_nominal_mjx_batch`."""
    return run_nominal_mjx_batch([(vx, vy, yaw_rate)], duration, world, band, gait_config, sim_config, settle_time)[0]


def run_nominal_mjx_batch(
    commands: Sequence[Sequence[float]],
    duration: float = 5.0,
    world: str = "flat",
    band: int = 2,
    gait_config: Optional[GaitConfig] = None,
    sim_config: Optional[SimulationConfig] = None,
    settle_time: float = 0.5,
) -> List[Dict[str, Any]]:
    """The :func:`run_nominal` rollout on MJX for several commands at once (vmapped robots).

    One jitted ``lax.scan`` over control steps, vmapped over the commands.  Each scan step
    evaluates the controller (stand-up targets for the first ``stand_up_duration +
    settle_time`` seconds, the trot afterwards) and runs the ``n_substeps`` physics steps with
    ``mjx.step`` in a ``fori_loop``.  The robots are not stopped when they fall.

    Args:
      commands: (B, 3) body commands ``(vx [m/s], vy [m/s], yaw rate [rad/s])``.
      duration, world, band, gait_config, sim_config, settle_time: as in :func:`run_nominal`.

    Returns:
      one result dict per command, with the keys of :func:`run_nominal` plus
      ``compile_and_run_s`` (wall time of the jitted batch rollout incl. compilation [s]).
    """
    from mujoco import mjx

    gait_config = load_gait_config() if gait_config is None else gait_config
    sim_config = load_simulation_config(world=world) if sim_config is None else sim_config
    m = load_mj_model(sim_config)
    d = initial_data(m, band)
    mx = mjx.put_model(m)
    dx0 = mjx.put_data(m, d)
    heights_grid = terrain_heights(m)

    spec = robot_spec(m, sim_config.robot_file)
    controller = BezierController(config=gait_config, geometry=LegGeometry.from_robot_spec(spec))
    n_sub = sim_config.n_substeps
    dt = sim_config.control_dt
    n_stand = int(round((gait_config.stand_up_duration + settle_time) / dt))
    n_walk = int(round(duration / dt))
    cmds = jnp.asarray(np.asarray(commands, dtype=np.float32).reshape(-1, 3))
    start_q = jnp.asarray(d.qpos[list(spec.qpos_adr)], dtype=jnp.float32)

    def rollout_one(command):
        def control_step(carry, k):
            dx, gait_state = carry
            walking = k >= n_stand
            out = controller.joint_targets(gait_state, command)
            stand = controller.stand_up_targets(start_q, k * dt)
            ctrl = jnp.where(walking, out.joint_targets, stand)
            dx = dx.replace(ctrl=ctrl.astype(dx.ctrl.dtype))
            dx = jax.lax.fori_loop(0, n_sub, lambda _, x: mjx.step(mx, x), dx)
            gait_state = jax.tree_util.tree_map(
                lambda new, old: jnp.where(walking, new, old), controller.advance(gait_state, dt), gait_state
            )
            return (dx, gait_state), (dx.qpos[0:3], dx.qpos[3:7], out.saturated & walking)

        _, traj = jax.lax.scan(control_step, (dx0, controller.init_state()), jnp.arange(n_stand + n_walk))
        return traj

    t0 = time.perf_counter()
    pos_b, quat_b, sat_b = jax.block_until_ready(jax.jit(jax.vmap(rollout_one))(cmds))
    elapsed = time.perf_counter() - t0
    results = []
    for pos, quat, sat in zip(np.asarray(pos_b, np.float64), np.asarray(quat_b, np.float64), np.asarray(sat_b)):
        pos = np.concatenate([d.qpos[None, 0:3], pos], axis=0)  # row k: after k control steps
        quat = np.concatenate([d.qpos[None, 3:7], quat], axis=0)
        trunk_pos, trunk_quat = pos[n_stand:], quat[n_stand:]
        walk_pos = trunk_pos[1:]
        if heights_grid is None:
            height = walk_pos[:, 2]
        else:
            height = walk_pos[:, 2] - np.asarray(
                terrain.height_at(heights_grid, walk_pos[:, 0], walk_pos[:, 1], terrain.spec_of_model(m))
            )
        res = summarize_trot(trunk_pos, trunk_quat, height, sat[n_stand:], dt)
        res["compile_and_run_s"] = elapsed
        results.append(res)
    return results


def robot_xml_option(path: str) -> str:
    """The file a ``--robot-xml PATH`` option names: ``PATH`` relative to the working directory
    when a file is there, else as ``simulation.robot_xml`` reads it (relative to the repository
    root: :meth:`model.simulation_config.SimulationConfig.resolve`). Absolute paths are kept."""
    path = os.path.expanduser(path)
    if not os.path.isabs(path) and os.path.isfile(path):
        return os.path.abspath(path)
    return path


def sim_config_from_options(world: str = "flat", robot_xml: Optional[str] = None) -> SimulationConfig:
    """``configs/simulation.yaml`` with ``world`` and, when given, ``robot_xml`` (a ``--robot-xml``
    value, :func:`robot_xml_option`).

    Raises:
      ConfigError: the robot file does not exist (the message names the path tried).
    """
    overrides: Dict[str, Any] = {"world": world}
    if robot_xml is not None:
        overrides["robot_xml"] = robot_xml_option(robot_xml)
    return load_simulation_config(**overrides)


def main(argv: Optional[list] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description="Nominal Bezier trot on C MuJoCo.")
    parser.add_argument("--duration", type=float, default=20.0, help="trotting time [s]")
    parser.add_argument("--vx", type=float, default=0.3, help="forward velocity command [m/s]")
    parser.add_argument("--vy", type=float, default=0.0, help="leftward velocity command [m/s]")
    parser.add_argument("--yaw-rate", type=float, default=0.0, help="yaw-rate command [rad/s]")
    parser.add_argument("--world", choices=("flat", "rough"), default="flat")
    parser.add_argument("--band", type=int, default=2, help="rough world: difficulty band 0..5")
    parser.add_argument("--gait-config", default=None, help="GaitConfig YAML (default configs/gait.yaml)")
    parser.add_argument(
        "--robot-xml",
        default=None,
        metavar="PATH",
        help="robot MJCF to walk (simulation.robot_xml; relative to the working directory, else to "
        "the repository root; default model/robot.xml)",
    )
    parser.add_argument("--viewer", action="store_true", help="open the MuJoCo passive viewer")
    args = parser.parse_args(argv)
    try:
        sim_config = sim_config_from_options(args.world, args.robot_xml)
        gait_config = load_gait_config(args.gait_config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    res = run_nominal(
        duration=args.duration,
        vx=args.vx,
        vy=args.vy,
        yaw_rate=args.yaw_rate,
        band=args.band,
        gait_config=gait_config,
        sim_config=sim_config,
        viewer=args.viewer,
    )
    robot = f" robot={sim_config.robot_path}" if sim_config.robot_path else ""
    print(
        f"world={args.world}{robot} command=(vx {args.vx:+.2f} m/s, vy {args.vy:+.2f} m/s, "
        f"yaw {args.yaw_rate:+.2f} rad/s) "
        f"trot time {res['walk_time']:.2f} s\n"
        f"  distance          {res['distance']:.3f} m\n"
        f"  forward distance  {res['forward_distance']:.3f} m\n"
        f"  mean fwd speed    {res['mean_forward_speed']:.3f} m/s\n"
        f"  yaw change        {res['yaw_change']:+.3f} rad (mean {res['mean_yaw_rate']:+.3f} rad/s)\n"
        f"  min trunk height  {res['min_height']:.3f} m\n"
        f"  IK saturation     {100 * res['saturation_fraction']:.1f} % of leg-steps\n"
        f"  fell              {res['fell']}" + (f" (at {res['fall_time']:.2f} s)" if res["fell"] else "")
    )
    return res


if __name__ == "__main__":
    main()

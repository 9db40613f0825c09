"""Play an exported residual policy (or the nominal gait alone) on C MuJoCo: viewer or video.

Usage (``python -m playback`` runs :func:`main`)::

    python -m playback --policy RUN_DIR_OR_EXPORT [--viewer | --video out.mp4|out.gif]
                       [--world flat|rough|suite] [--terrain-seed S] [--band B]
                       [--level L] [--type NAME]
                       [--vx 0.3] [--vy 0] [--yaw-rate 0] [--sampled-command]
                       [--duration 20] [--seed 0] [--action-scale 1] [--no-residual]
                       [--fps 25] [--width 640] [--height 480] [--snapshot frame.png]
    python -m playback --no-residual --video nominal.mp4     # no policy needed

The environment is the Gymnasium twin ``ResidualWalkEnv`` built from the configs stored in the
export (``meta.json`` -> ``config``), or from ``configs/*.yaml`` without a policy; ``--world``
and ``--terrain-seed`` replace the world. The policy's observation must match the env's (size
and layout), else the command stops with a message naming what differs. A missing or
incompatible export, or a ``--video`` / ``--snapshot`` whose directory cannot be written (checked
before the episode), exits with status 2. On the terrain suite (``--world suite``) ``--level``
and ``--type`` pick the tile (invalid values exit with status 2, listing the valid ones).

The episode runs for ``--duration`` seconds or until the env terminates it (fall, NaN physics)
or truncates it because the robot left the map (not a fall); a video then holds the last frame
to the full duration. Video, snapshot and viewer draw a robot's collision geoms when it has no
visible ones (:func:`model.robot_view.show_robot_geoms`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np

from deploy.export_format import ExportError
from deploy.policy_loader import load_policy
from evaluation.episode import policy_controller, run_episode, zero_action
from evaluation.episode_metrics import gravity, robot_mass, summarize_episode
from mjx_envs.policy_env import (
    EnvConfigs,
    check_policy_matches_env,
    configs_from_meta,
    default_configs,
    make_env,
    meta_path,
    with_world,
)
from model import terrain
from model.robot_view import RobotRenderer, show_robot_geoms
from model.yaml_config import ConfigError
from playback.video import (
    VideoWriter,
    check_video_path,
    frame_steps,
    offscreen_gl_problem,
)
from train.output_paths import OutputPathError, ensure_writable_dir

DEFAULT_COMMAND = (0.3, 0.0, 0.0)
"""Velocity command of a playback unless given: (vx m/s, vy m/s, yaw rate rad/s)."""


def play(
    policy: Any = None,
    configs: Optional[EnvConfigs] = None,
    *,
    world: Optional[str] = "flat",
    terrain_seed: Optional[int] = None,
    band: Optional[int] = None,
    terrain_type: Optional[int] = None,
    action_scale: float = 1.0,
    command: Optional[Sequence[float]] = DEFAULT_COMMAND,
    duration: float = 20.0,
    seed: int = 0,
    viewer: bool = False,
    video: Optional[str] = None,
    fps: float = 25.0,
    width: int = 640,
    height: int = 480,
    snapshot: Optional[str] = None,
) -> Dict[str, Any]:
    """Run one episode and return its summary (:func:`evaluation.episode_metrics.summarize_episode`).

    Args:
      policy: a loaded export (``train.export.ExportedPolicy``) or None for the nominal gait
        (zero residual).
      configs: env configs; default: the export's (``meta["config"]``), or ``configs/*.yaml``.
      world, terrain_seed: replace the world (``flat``/``rough``/``suite``) and terrain seed; None keeps.
      band: rough-world spawn band 0..5, or the suite's difficulty level (``terrain_level`` of the
        reset); None lets the env draw.
      terrain_type: suite: index into ``model.terrain.TERRAIN_TYPES`` of the tile's column; None
        lets the env draw it.
      action_scale: multiplies the policy's action (the env clips to [-1, 1]).
      command: (vx [m/s], vy [m/s], yaw rate [rad/s]); None keeps the command the env sampled.
      duration: episode length [s]; seed: the reset key is ``jax.random.PRNGKey(seed)``.
      viewer: MuJoCo passive viewer, real time (needs a display).
      video: ``.mp4`` or ``.gif`` path; ``round(duration * fps)`` frames of ``width`` x ``height``.
      snapshot: PNG path for the last rendered state (works without ``video``).

    Returns the summary plus ``video``/``frames``/``snapshot`` (paths, frame count) and ``world``.

    Raises:
      PolicyEnvMismatch (an ExportError): the policy's observation/action do not fit the env.
      RuntimeError: video/snapshot requested but offscreen GL is unavailable.
    """
    import jax

    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    if configs is None:
        configs = configs_from_meta(policy.meta, meta_path(policy)) if policy is not None else default_configs()
    configs = with_world(configs, world, terrain_seed)
    if video is not None:
        check_video_path(video)
    wants_frames = video is not None or snapshot is not None
    if wants_frames and viewer:
        raise ValueError("choose either the viewer or a video/snapshot, not both")
    if viewer:
        from mjx_envs.display import require_display

        require_display("--viewer", "write a video instead: --video out.mp4")
    if wants_frames:
        problem = offscreen_gl_problem()
        if problem is not None:
            raise RuntimeError(problem)
    env = make_env(configs, render_mode="human" if viewer else None, width=width, height=height)
    frames = RobotRenderer(env.model, width, height) if wants_frames else None
    try:
        if policy is not None:
            check_policy_matches_env(policy.meta, env, meta_path(policy))
            controller = policy_controller(policy, action_scale)
        else:
            controller = zero_action(env.action_space.shape[0])
        dt = env.ctx.sim.control_dt
        n_steps = int(round(duration / dt))
        schedule = frame_steps(duration, fps, dt) if video is not None else np.zeros(0, np.int64)
        writer = VideoWriter(video, fps) if video is not None else None
        state = {"next": 0, "last": None, "t0": time.perf_counter(), "groups_shown": False}

        def on_step(e, k: int) -> bool:
            if writer is not None:
                while state["next"] < len(schedule) and schedule[state["next"]] == k:
                    state["last"] = frames.render(e.data)
                    writer.append(state["last"])
                    state["next"] += 1
            if viewer:
                time.sleep(max(0.0, state["t0"] + k * dt - time.perf_counter()))
                handle = getattr(e, "_viewer", None)
                if handle is not None and not state["groups_shown"]:
                    with handle.lock():
                        show_robot_geoms(e.model, handle.opt)
                    state["groups_shown"] = True
                return handle is None or handle.is_running()
            return True

        try:
            rec = run_episode(
                env,
                controller,
                n_steps,
                jax.random.PRNGKey(int(seed)),
                band,
                command,
                on_step,
                terrain_type=terrain_type,
            )
            if writer is not None and state["last"] is None:
                state["last"] = frames.render(env.data)
            while writer is not None and writer.frames < len(schedule):  # hold the last frame after a fall
                writer.append(state["last"])
        finally:
            if writer is not None:
                writer.close()
        if snapshot is not None:
            import imageio.v3 as iio

            os.makedirs(os.path.dirname(os.path.abspath(snapshot)), exist_ok=True)
            iio.imwrite(snapshot, frames.render(env.data))
        summary = summarize_episode(rec, robot_mass(env), gravity(env))
        summary.update(
            world=configs.simulation.world,
            terrain_seed=configs.simulation.terrain_seed,
            video=video,
            frames=writer.frames if writer is not None else 0,
            snapshot=snapshot,
            policy=getattr(policy, "export_dir", None),
            action_scale=float(action_scale),
        )
        return summary
    finally:
        if frames is not None:
            frames.close()
        env.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m playback", description="Play an exported residual policy (or the nominal gait) on C MuJoCo."
    )
    p.add_argument(
        "--policy", help="run directory or its export/ directory (train.export); optional with --no-residual"
    )
    p.add_argument("--no-residual", action="store_true", help="nominal Bezier trot only (zero action)")
    p.add_argument("--action-scale", type=float, default=1.0, help="multiplies the policy's action (default 1)")
    p.add_argument("--world", choices=("flat", "rough", "suite"), default="flat")
    p.add_argument(
        "--terrain-seed", type=int, default=None, help="rough / suite world: terrain seed (default: config's)"
    )
    p.add_argument(
        "--band",
        type=int,
        default=None,
        help=f"rough world: spawn band 0..{terrain.DEFAULT_TERRAIN.num_bands - 1} (0 flat .. "
        f"{terrain.DEFAULT_TERRAIN.max_relief * 100:.0f} cm relief); default: the env draws it",
    )
    p.add_argument(
        "--level",
        type=int,
        default=None,
        help=f"suite: difficulty level 0..{terrain.default_suite_spec().num_levels - 1}; "
        "default: the env draws it (level 0 when only --type is given)",
    )
    p.add_argument(
        "--type",
        dest="terrain_type",
        default=None,
        metavar="NAME",
        help=f"suite: terrain type, one of {', '.join(terrain.TERRAIN_TYPES)}; default: the env draws it",
    )
    p.add_argument("--vx", type=float, default=DEFAULT_COMMAND[0], help="forward velocity command [m/s]")
    p.add_argument("--vy", type=float, default=DEFAULT_COMMAND[1], help="leftward velocity command [m/s]")
    p.add_argument("--yaw-rate", type=float, default=DEFAULT_COMMAND[2], help="yaw-rate command [rad/s]")
    p.add_argument(
        "--sampled-command",
        action="store_true",
        help="keep the command the env samples at reset instead of --vx/--vy/--yaw-rate",
    )
    p.add_argument("--duration", type=float, default=20.0, help="episode length [s]")
    p.add_argument("--seed", type=int, default=0, help="reset key jax.random.PRNGKey(seed)")
    p.add_argument("--viewer", action="store_true", help="open the MuJoCo viewer (real time)")
    p.add_argument("--video", default=None, help="write a headless video (.mp4 or .gif)")
    p.add_argument("--snapshot", default=None, help="write the last rendered frame as PNG")
    p.add_argument("--fps", type=float, default=25.0, help="video frames per second")
    p.add_argument("--width", type=int, default=640, help="video width [px]")
    p.add_argument("--height", type=int, default=480, help="video height [px]")
    return p


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def format_summary(res: Dict[str, Any]) -> str:
    """The lines ``python -m playback`` prints."""
    who = (
        f"policy {res['policy']} (action scale {res['action_scale']:g})"
        if res.get("policy")
        else "nominal gait (zero residual)"
    )
    cmd = res["command"]
    where = ""
    if res["world"] == "rough":
        where = f" (band {res['terrain_level']}, terrain seed {res['terrain_seed']})"
    elif res["world"] == "suite":
        where = f" (tile {res['terrain_type']} level {res['terrain_level']}, terrain seed {res['terrain_seed']})"
    lines = [
        f"{who} on the {res['world']} world" + where,
        f"  command          vx {cmd[0]:+.2f} m/s, vy {cmd[1]:+.2f} m/s, yaw rate {cmd[2]:+.2f} rad/s",
        f"  time             {res['time_s']:.2f} s ({res['steps']} control steps)",
        f"  distance         {res['distance_m']:.3f} m",
        f"  mean speed       {res['mean_forward_speed_mps']:.3f} m/s",
        f"  fell             {_yes_no(res['fell'])}" + (f" (at {res['fall_time_s']:.2f} s)" if res["fell"] else ""),
    ]
    if res.get("out_of_bounds"):
        lines.append("  left the terrain yes (the env truncated the episode: off map, not a fall)")
    if res.get("video"):
        lines.append(f"  video            {res['video']} ({res['frames']} frames)")
    if res.get("snapshot"):
        lines.append(f"  snapshot         {res['snapshot']}")
    return "\n".join(lines)


def check_output_file(path: str, option: str) -> None:
    """Create the directory of output file ``path`` if needed and check a file can be written there.

    Raises ``OutputPathError`` (a ``ConfigError``) naming ``option``, ``path``, the reason and the fix.
    """
    parent = os.path.dirname(os.path.abspath(path))
    try:
        ensure_writable_dir(parent, option)
    except OutputPathError as e:  # reworded for a file: the option names the file, not the directory
        reason = str(e).partition("cannot write there (")[2].rpartition("); ")[0] or str(e)
        raise OutputPathError(
            f"{option} {path}: cannot write into {parent} ({reason}); choose a path in a "
            f"writable directory with {option} PATH"
        ) from None


def _suite_tile_problem(args: argparse.Namespace) -> Optional[str]:
    """Why ``--world`` / ``--level`` / ``--type`` / ``--band`` do not fit together, or None."""
    types = ", ".join(terrain.TERRAIN_TYPES)
    nl = terrain.default_suite_spec().num_levels
    if args.world != "suite":
        if args.level is not None or args.terrain_type is not None:
            return (
                f"--level/--type pick a tile of the terrain suite: add --world suite (valid types: {types}; "
                f"levels 0..{nl - 1})"
            )
        return None
    if args.band is not None:
        return f"--band is for the rough world; on the suite use --level 0..{nl - 1} and --type NAME"
    if args.terrain_type is not None and args.terrain_type not in terrain.TERRAIN_TYPES:
        return f"--type {args.terrain_type!r} is not a terrain type; valid types: {types}"
    if args.level is not None and not 0 <= args.level < nl:
        return f"--level must be in 0..{nl - 1} (valid levels: {', '.join(map(str, range(nl)))}), got {args.level}"
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns the exit status (2: missing/incompatible policy or bad arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.policy is None and not args.no_residual:
        parser.print_usage(sys.stderr)
        print(
            "error: --policy RUN_DIR_OR_EXPORT is required (or pass --no-residual to play the nominal gait "
            "without a policy)",
            file=sys.stderr,
        )
        return 2
    nb = terrain.DEFAULT_TERRAIN.num_bands
    if args.band is not None and not 0 <= args.band < nb:
        print(f"error: --band must be in 0..{nb - 1}, got {args.band}", file=sys.stderr)
        return 2
    problem = _suite_tile_problem(args)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.width < 16 or args.height < 16 or args.fps <= 0 or args.duration <= 0:
        print("error: --width/--height must be >= 16 px, --fps and --duration positive", file=sys.stderr)
        return 2
    try:
        for option, path in (("--video", args.video), ("--snapshot", args.snapshot)):
            if path is not None:  # before the episode: its directory must take the file
                if option == "--video":
                    check_video_path(path)
                check_output_file(path, option)
        policy = load_policy(args.policy) if args.policy is not None else None
        configs = None
        if policy is not None:
            configs = configs_from_meta(policy.meta, meta_path(policy))
        elif args.no_residual:
            configs = default_configs()
        if args.no_residual:
            policy = None  # the export (if any) only provided the configs
        command = None if args.sampled_command else (args.vx, args.vy, args.yaw_rate)
        level = args.level if args.world == "suite" else args.band
        ttype = terrain.TERRAIN_TYPES.index(args.terrain_type) if args.terrain_type is not None else None
        res = play(
            policy,
            configs,
            world=args.world,
            terrain_seed=args.terrain_seed,
            band=level,
            terrain_type=ttype,
            action_scale=args.action_scale,
            command=command,
            duration=args.duration,
            seed=args.seed,
            viewer=args.viewer,
            video=args.video,
            fps=args.fps,
            width=args.width,
            height=args.height,
            snapshot=args.snapshot,
        )
    except (ExportError, ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(format_summary(res))
    return 0

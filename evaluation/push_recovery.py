"""The push-recovery test (``python -m evaluation.evaluate --mode push``).

A forward command; at ``kick_time_s`` a horizontal velocity kick (m/s) is added to the trunk's
free-joint linear velocity (``env.data.qvel[0:2]``, world frame), in direction
``heading + 2π i / episodes`` for episode i (0 = forward, π/2 = to the robot's left), for the
policy and the nominal gait on the same reset keys. Success = the episode runs to the end without
the env terminating it (fall, NaN physics). Files: ``push_recovery.{json,md,png}``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from evaluation.episode import EpisodeRecord, run_episode
from evaluation.mode_markdown import footer, header, or_dash
from evaluation.mode_plots import pyplot, save_figure
from evaluation.mode_runs import (
    by_controller,
    command_setting,
    count_setting,
    fall_fields,
    outside_command_ranges,
    run_mode,
    seconds_setting,
    time_in_episode,
    values_setting,
)
from evaluation.runner import EpisodeResult, Kick, kick_velocity

KICK_SIZES = (0.0, 0.5, 1.0, 1.5, 2.0)
"""Default push-recovery kick sizes [m/s]."""
PUSH_COMMAND = (0.4, 0.0, 0.0)
"""Default command of the push-recovery episodes (vx m/s, vy m/s, yaw rate rad/s)."""


def kick_angles(episodes: int) -> np.ndarray:
    """(episodes,) kick directions [rad] relative to the heading: 2π i / episodes (0 = forward, π/2 = left)."""
    return 2.0 * np.pi * np.arange(int(episodes)) / int(episodes)


@dataclasses.dataclass(frozen=True)
class PushTest:
    """Settings of the push-recovery test (validated on construction: ``ValueError``).

    Attributes:
      kicks_mps: kick sizes [m/s] (>= 0, no repeats); episodes: per kick size;
      duration_s: episode length [s]; kick_time_s: when the kick is added [s] (0 <= t < duration);
      command: (vx m/s, vy m/s, yaw rate rad/s) of every episode.
    """

    kicks_mps: Tuple[float, ...] = KICK_SIZES
    episodes: int = 8
    duration_s: float = 5.0
    kick_time_s: float = 2.0
    command: Tuple[float, float, float] = PUSH_COMMAND

    def __post_init__(self):
        object.__setattr__(self, "kicks_mps", values_setting("kick sizes", self.kicks_mps, "m/s", nonnegative=True))
        object.__setattr__(self, "episodes", count_setting("push episodes", self.episodes))
        object.__setattr__(self, "duration_s", seconds_setting("push duration", self.duration_s))
        object.__setattr__(self, "kick_time_s", time_in_episode("kick time", self.kick_time_s, self.duration_s))
        object.__setattr__(self, "command", command_setting(self.command, "push command"))

    def episode_cases(self) -> List[Tuple[int, Tuple[float, float]]]:
        """(episode index, (kick m/s, angle rad)): per kick size, episode i has index i (the same
        reset key for every kick size) and angle ``kick_angles(episodes)[i]``."""
        angles = kick_angles(self.episodes)
        return [(i, (k, float(angles[i]))) for k in self.kicks_mps for i in range(self.episodes)]

    def episode_setup(self, kick: Tuple[float, float], control_dt: float) -> Dict[str, Any]:
        """Plan fields of the episode with the kick (size m/s, angle rad) ``kick``: step count,
        command and the :class:`evaluation.runner.Kick` after the step ending at the kick time."""
        return {
            "n_steps": int(round(self.duration_s / control_dt)),
            "command": self.command,
            "kick": Kick(int(round(self.kick_time_s / control_dt)), float(kick[0]), float(kick[1])),
        }

    def case_numbers(self, result: EpisodeResult) -> Dict[str, Any]:
        """The numbers of one push episode (:func:`push_numbers`)."""
        kick, applied = result.episode.case, result.kick_world_mps
        return push_numbers(result.record, kick[0], kick[1], [] if applied is None else [applied])

    def fill_report(self, report: Dict[str, Any], rows: List[Dict[str, Any]]) -> None:
        """Add the test's settings, per-controller tables and episodes, and notes to ``report``."""
        s = report["settings"]
        s.update(
            kicks_mps=list(self.kicks_mps),
            episodes_per_kick=self.episodes,
            duration_s=self.duration_s,
            kick_time_s=self.kick_time_s,
            command=list(self.command),
            kick_angles_rad=kick_angles(self.episodes).tolist(),
        )
        results = {
            c: {"table": push_table(eps, self.kicks_mps), "episodes": eps}
            for c, eps in by_controller(rows, s["controllers"]).items()
        }
        out = outside_command_ranges(self.command, s["command_ranges"])
        notes = [f"the push command is outside the env config's command ranges: {', '.join(out)}"] if out else []
        report.update(mode="push", results=results, notes=notes)


def kick_callback(kick_mps: float, angle_rad: float, kick_step: int, applied: List[np.ndarray]):
    """``on_step`` for :func:`evaluation.episode.run_episode` that kicks the trunk once.

    After control step ``kick_step`` (0 = right after the reset) it adds ``kick_mps`` [m/s] to the
    trunk's free-joint linear velocity ``env.data.qvel[0:2]`` (world frame) in direction trunk
    yaw + ``angle_rad``, so the next control step starts with the kicked velocity, and appends
    the world-frame kick (2,) to ``applied``.
    """

    def on_step(env, k: int) -> bool:
        if k == kick_step:
            v = kick_velocity(env.data.qpos[3:7], kick_mps, angle_rad)
            env.data.qvel[0:2] += v
            applied.append(v)
        return True

    return on_step


def push_episode(
    env, controller, kick_mps: float, angle_rad: float, test: PushTest, key, terrain_level: Optional[int] = None
) -> Dict[str, Any]:
    """One push-recovery episode: ``test.command``, a kick of ``kick_mps`` [m/s] at
    ``test.kick_time_s`` in direction heading + ``angle_rad`` [rad]; ``success`` = no fall to the end."""
    dt = env.ctx.sim.control_dt
    n = int(round(test.duration_s / dt))
    kick_step = int(round(test.kick_time_s / dt))
    applied: List[np.ndarray] = []
    rec = run_episode(
        env,
        controller,
        n,
        key,
        terrain_level,
        test.command,
        on_step=kick_callback(kick_mps, angle_rad, kick_step, applied),
    )
    return push_numbers(rec, kick_mps, angle_rad, applied)


def push_numbers(rec: EpisodeRecord, kick_mps: float, angle_rad: float, applied: List[np.ndarray]) -> Dict[str, Any]:
    """Numbers of the push episode ``rec``: the kick (size m/s, angle rad), the fall fields, the
    kick as applied (world frame m/s; ``applied`` is empty when the episode ended before it),
    ``fell_before_kick`` and ``success`` (no fall to the end). Pure."""
    fields = fall_fields(rec)
    return {
        "kick_mps": float(kick_mps),
        "angle_rad": float(angle_rad),
        **fields,
        "kick_applied": bool(applied),
        "kick_world_mps": applied[0].tolist() if applied else None,
        "fell_before_kick": bool(rec.terminated and not applied),
        "success": not rec.terminated,
    }


def push_table(episodes: Sequence[Mapping[str, Any]], kicks: Sequence[float]) -> List[Dict[str, Any]]:
    """One row per kick size [m/s]: episodes, successes, success_rate, falls_before_kick. Pure."""
    out = []
    for k in kicks:
        eps = [e for e in episodes if e["kick_mps"] == k]
        ok = sum(bool(e["success"]) for e in eps)
        out.append(
            {
                "kick_mps": float(k),
                "episodes": len(eps),
                "successes": ok,
                "success_rate": ok / len(eps) if eps else None,
                "falls_before_kick": sum(bool(e["fell_before_kick"]) for e in eps),
            }
        )
    return out


def run_push_recovery(policy: Any = None, test: PushTest = PushTest(), **options: Any) -> Dict[str, Any]:
    """The push-recovery test; returns the report ``push_recovery.json`` holds.

    Episode i of every kick size is reset with ``episode_key(seed, i)`` and kicked in direction
    heading + ``kick_angles(test.episodes)[i]``. ``policy`` and the keyword ``options`` as
    :func:`evaluation.mode_runs.run_mode`.

    Returns:
      ``{"mode", "settings", "results": {controller: {"table": push_table, "episodes": [...]}},
      "notes", "definitions", "control_dt", "wall_time_s", "device"}``.
    """
    return run_mode(test, policy, **options)


# ------------------------------------------------------------------------------------------ reports


def push_recovery_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``push_recovery.md``: kick size -> success rate per controller."""
    s = report["settings"]
    c = s["command"]
    lines = header(
        report,
        "Push recovery",
        f"{s['episodes_per_kick']} episodes of {s['duration_s']:g} s per kick size, command vx "
        f"{c[0]:+g} m/s, vy {c[1]:+g} m/s, yaw rate {c[2]:+g} rad/s. At t = {s['kick_time_s']:g} s the "
        "kick is added to the trunk's horizontal velocity (world frame), in direction heading + "
        f"2π i / {s['episodes_per_kick']} for episode i (0 = forward, 90° = left). Success = no fall "
        "until the end.",
    )
    controllers = list(report["results"])
    head = (
        "| kick (m/s) | "
        + " | ".join(f"{ctl} success" for ctl in controllers)
        + " | "
        + " | ".join(f"{ctl} falls before kick" for ctl in controllers)
        + " |"
    )
    lines += [head, "|---:|" + "---:|" * (2 * len(controllers))]
    tables = {ctl: report["results"][ctl]["table"] for ctl in controllers}
    for i, k in enumerate(s["kicks_mps"]):
        cells = [
            f"{tables[ctl][i]['successes']}/{tables[ctl][i]['episodes']} "
            f"({or_dash(tables[ctl][i]['success_rate'], '{:.0%}')})"
            for ctl in controllers
        ]
        cells += [str(tables[ctl][i]["falls_before_kick"]) for ctl in controllers]
        lines.append(f"| {k:g} | " + " | ".join(cells) + " |")
    lines += [""] + footer(report, ["kick", "success (push)", "fell"], ["push_recovery.png"])
    return "\n".join(lines) + "\n"


def plot_push_recovery(path: str, report: Mapping[str, Any]) -> str:
    """Success rate vs kick size [m/s], one line per controller."""
    plt = pyplot()
    s = report["settings"]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for c, res in report["results"].items():
        rate = [np.nan if r["success_rate"] is None else r["success_rate"] for r in res["table"]]
        ax.plot([r["kick_mps"] for r in res["table"]], rate, "o-", label=c)
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel(f"kick at t = {s['kick_time_s']:g} s (m/s, horizontal)")
    ax.set_ylabel("success rate")
    ax.set_title(
        f"push recovery: {s['episodes_per_kick']} directions per kick, {s['duration_s']:g} s episodes", fontsize=10
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def write_plots(report: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """The plot ``push_recovery.png`` in ``out_dir``; {name: path}."""
    return {"push recovery": plot_push_recovery(os.path.join(out_dir, "push_recovery.png"), report)}


def summary_line(controller: str, result: Mapping[str, Any]) -> str:
    """One terminal line: successes per kick size [m/s]."""
    return f"{controller}: push recovery, success per kick: " + ", ".join(
        f"{r['kick_mps']:g} m/s {r['successes']}/{r['episodes']}" for r in result["table"]
    )

"""The stand-still test (``python -m evaluation.evaluate --mode stand``).

Command (0, 0, 0) for the policy and the nominal gait on the same reset keys; drift = horizontal
distance of the trunk between the reset and the end (m), the largest yaw change (rad), falls.
Files: ``stand_still.{json,md}``. Nothing is assumed about what the gait does at zero command.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from evaluation import mode_runs
from evaluation.episode import EpisodeRecord
from evaluation.mode_markdown import footer, header, or_dash
from evaluation.nominal import trunk_yaw
from evaluation.runner import EpisodeResult

ZERO_COMMAND = (0.0, 0.0, 0.0)
"""The stand-still command (vx m/s, vy m/s, yaw rate rad/s)."""


@dataclasses.dataclass(frozen=True)
class StandTest:
    """Settings of the stand-still test: ``episodes`` (>= 1) of ``duration_s`` [s] at command (0, 0, 0)."""

    episodes: int = 8
    duration_s: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "episodes", mode_runs.count_setting("stand episodes", self.episodes))
        object.__setattr__(self, "duration_s", mode_runs.seconds_setting("stand duration", self.duration_s))

    def episode_cases(self) -> List[Tuple[int, None]]:
        """(episode index, None) for episodes 0 .. episodes - 1."""
        return [(i, None) for i in range(self.episodes)]

    def episode_setup(self, case: None, control_dt: float) -> Dict[str, Any]:
        """Plan fields of a stand-still episode: step count, command (0, 0, 0); ``case`` is unused."""
        return {"n_steps": int(round(self.duration_s / control_dt)), "command": ZERO_COMMAND}

    def case_numbers(self, result: EpisodeResult) -> Dict[str, Any]:
        """The numbers of one stand-still episode (:func:`stand_numbers`)."""
        return stand_numbers(result.record)

    def fill_report(self, report: Dict[str, Any], rows: List[Dict[str, Any]]) -> None:
        """Add the test's settings, per-controller summaries and episodes, and notes to ``report``."""
        s = report["settings"]
        s.update(episodes=self.episodes, duration_s=self.duration_s, command=list(ZERO_COMMAND))
        results = {
            c: {"summary": stand_summary(eps), "episodes": eps}
            for c, eps in mode_runs.by_controller(rows, s["controllers"]).items()
        }
        out = mode_runs.outside_command_ranges(ZERO_COMMAND, s["command_ranges"])
        notes = [f"zero command is outside the env config's command ranges: {', '.join(out)}"] if out else []
        report.update(mode="stand", results=results, notes=notes)


def stand_numbers(rec: EpisodeRecord) -> Dict[str, Any]:
    """Drift of one episode: ``drift_m`` (start -> end, horizontal, m), ``max_drift_m`` (m),
    ``max_yaw_change_rad`` (rad, unwrapped), ``mean_speed_mps`` (m/s) plus the fall fields. Pure."""
    rows = mode_runs.good_rows(rec)
    pos = rec.trunk_pos[:rows, :2]
    dist = np.linalg.norm(pos - pos[0], axis=1)
    yaw = np.unwrap(trunk_yaw(rec.trunk_quat[:rows]))
    speed = rec.metric("vel_tracking_error")[: rows - 1]
    return {
        **mode_runs.fall_fields(rec),
        "drift_m": float(dist[-1]),
        "max_drift_m": float(dist.max()),
        "max_yaw_change_rad": float(np.max(np.abs(yaw - yaw[0]))),
        "mean_speed_mps": float(np.mean(speed)) if speed.size else None,
    }


def stand_summary(episodes: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Episodes, falls, mean/max drift [m], mean/max of the largest yaw change [rad], mean speed [m/s]. Pure."""
    drift_mean, drift_max = mode_runs.mean_max([e["drift_m"] for e in episodes])
    yaw_mean, yaw_max = mode_runs.mean_max([e["max_yaw_change_rad"] for e in episodes])
    speed_mean, _ = mode_runs.mean_max([e["mean_speed_mps"] for e in episodes])
    return {
        "episodes": len(episodes),
        "falls": sum(bool(e["fell"]) for e in episodes),
        "drift_m_mean": drift_mean,
        "drift_m_max": drift_max,
        "max_drift_m_max": mode_runs.mean_max([e["max_drift_m"] for e in episodes])[1],
        "max_yaw_change_rad_mean": yaw_mean,
        "max_yaw_change_rad_max": yaw_max,
        "mean_speed_mps": speed_mean,
    }


def run_stand_still(policy: Any = None, test: StandTest = StandTest(), **options: Any) -> Dict[str, Any]:
    """The stand-still test at command (0, 0, 0), episode i reset with ``episode_key(seed, i)``;
    ``policy`` and the keyword ``options`` as :func:`evaluation.mode_runs.run_mode`. Returns the report
    ``stand_still.json`` holds: ``{"mode", "settings", "results": {controller: {"summary": stand_summary,
    "episodes": [...]}}, "notes", "definitions", "control_dt", "wall_time_s", "device"}``."""
    return mode_runs.run_mode(test, policy, **options)


def stand_still_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``stand_still.md``: drift, yaw change and falls per controller."""
    s = report["settings"]
    lines = header(report, "Stand still", f"{s['episodes']} episodes of {s['duration_s']:g} s at command (0, 0, 0).")
    lines += [
        "| controller | episodes | falls | drift mean (m) | drift max (m) | max yaw change mean (rad) | "
        "max yaw change max (rad) | mean speed (m/s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c, res in report["results"].items():
        x = res["summary"]
        lines.append(
            f"| {c} | {x['episodes']} | {x['falls']} | {or_dash(x['drift_m_mean'], '{:.3f}')} | "
            f"{or_dash(x['drift_m_max'], '{:.3f}')} | {or_dash(x['max_yaw_change_rad_mean'], '{:.3f}')} | "
            f"{or_dash(x['max_yaw_change_rad_max'], '{:.3f}')} | {or_dash(x['mean_speed_mps'], '{:.3f}')} |"
        )
    lines += [""] + footer(report, ["drift_m", "max_drift_m", "max_yaw_change_rad", "mean_speed_mps", "fell"])
    return "\n".join(lines) + "\n"


def write_plots(report: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """The stand-still test has no plots: {}."""
    return {}


def summary_line(controller: str, result: Mapping[str, Any]) -> str:
    """One terminal line: episodes, falls, mean / max drift [m], largest yaw change [rad]."""
    s = result["summary"]
    return (
        f"{controller}: stand still, {s['episodes']} episodes, {s['falls']} falls, drift mean "
        f"{or_dash(s['drift_m_mean'], '{:.3f}')} / max {or_dash(s['drift_m_max'], '{:.3f}')} m, max yaw "
        f"change {or_dash(s['max_yaw_change_rad_max'], '{:.3f}')} rad"
    )

"""Files of an evaluation (:mod:`playback.evaluate`): ``evaluation.json``, ``evaluation.md``, PNG plots.

``evaluation.json`` holds everything (settings, per-episode numbers, aggregates, metric
definitions, versions); NaN/inf are written as ``null``. ``evaluation.md`` is the table a reviewer
reads. Plots (matplotlib, Agg back end): ``distance_per_episode.png`` and ``forward_speed.png``.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any, List, Mapping, Optional

import numpy as np

METRIC_DEFINITIONS = {
    "success_rate": "fraction of episodes without a fall (trunk too low or tilted beyond the env's limits, "
                    "or diverged physics) within the duration",
    "falls": "episodes that ended in a fall (NaN physics included)",
    "distance_m": "m; path integral of the trunk's horizontal displacement along its current heading",
    "env_distance_m": "m; the env's info['distance']: displacement along the initial heading",
    "mean_forward_speed_mps": "m/s; distance / episode time",
    "vel_tracking_error_mps": "m/s; mean over steps of |v_xy,cmd - v_xy| (body frame)",
    "yaw_rate_error_radps": "rad/s; mean over steps of |yaw_rate_cmd - yaw_rate|",
    "energy_j": "J; sum over control steps of sum_j |tau_j * qdot_j| * dt",
    "cost_of_transport": "-; energy / (m g distance), m = total robot mass; episodes under 0.1 m are left out",
    "joint_limit_violations": "joint-steps with a joint more than 0.01 rad beyond its range (sum over episodes)",
    "actuator_saturation_rate": "fraction of servo-steps at >= 99 % of the torque limit",
    "ik_saturation_rate": "fraction of leg-steps whose foot target the IK had to clip",
    "out_of_bounds": "episodes ended by leaving the heightfield (not a fall)",
    "nan_physics": "episodes ended by diverged physics (counted as falls)",
}

TABLE_COLUMNS = (
    ("success_rate", "success", "{:.0%}"),
    ("falls", "falls", "{:d}"),
    ("out_of_bounds", "off terrain", "{:d}"),
    ("distance_m_mean", "distance (m)", "{:.2f}"),
    ("mean_forward_speed_mps", "speed (m/s)", "{:.3f}"),
    ("vel_tracking_error_mps", "vel. error (m/s)", "{:.3f}"),
    ("cost_of_transport", "CoT", "{:.2f}"),
    ("joint_limit_violations", "joint-limit viol.", "{:d}"),
    ("actuator_saturation_rate", "actuator sat.", "{:.2%}"),
    ("ik_saturation_rate", "IK sat.", "{:.2%}"),
)


def jsonable(value: Any) -> Any:
    """Nested structure with numpy scalars/arrays converted and NaN/inf replaced by None."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(float(value)) else None
    return value


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, float) and not math.isfinite(value):
        return "–"
    return fmt.format(value)


def markdown_table(results: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Markdown table: one row per (controller, world) of ``results[controller][world]["summary"]``."""
    head = "| controller | world | episodes | " + " | ".join(c[1] for c in TABLE_COLUMNS) + " |"
    rule = "|" + "---|" * (3 + len(TABLE_COLUMNS))
    rows = [head, rule]
    for controller, worlds in results.items():
        for world, res in worlds.items():
            s = res["summary"]
            std = s.get("distance_m_std")
            cells = []
            for key, _, fmt in TABLE_COLUMNS:
                c = _cell(s.get(key), fmt)
                if key == "distance_m_mean" and std is not None and c != "–":
                    c += f" ± {std:.2f}"
                cells.append(c)
            rows.append(f"| {controller} | {world} | {s['episodes']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_markdown(path: str, report: Mapping[str, Any], plots: Mapping[str, str]) -> None:
    s = report["settings"]
    lines = [
        "# Evaluation",
        "",
        f"Policy: `{s['policy'] or '(none: nominal gait only)'}` (action scale {s['action_scale']:g}). "
        f"{s['episodes']} episodes of {s['duration_s']:g} s per world (seed {s['seed']}; rough-world bands "
        f"{s['bands']}), C MuJoCo (`ResidualWalkEnv`). Command: "
        + (f"vx {s['command'][0]:+.2f} m/s, vy {s['command'][1]:+.2f} m/s, yaw rate {s['command'][2]:+.2f} rad/s"
           if s["command"] is not None else "sampled by the env at reset (same for every controller)") + ".",
        "The nominal gait is the same env with a zero action, on the same episodes.",
        "",
        markdown_table(report["results"]),
        "",
        "## Metrics",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in METRIC_DEFINITIONS.items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({os.path.basename(p)})" for name, p in plots.items()]
    lines += ["", f"Command: `{s['command_line']}`  ", f"Wall time: {report['wall_time_s']:.1f} s on "
              f"{report['device']}, {s['processes']} process(es)."]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_json(path: str, report: Mapping[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jsonable(report), fh, indent=1, allow_nan=False)


def _padded(traces: List[np.ndarray]) -> np.ndarray:
    n = max((len(t) for t in traces), default=0)
    out = np.full((len(traces), n), np.nan)
    for i, t in enumerate(traces):
        out[i, :len(t)] = t
    return out


def plot_distance_per_episode(path: str, results: Mapping[str, Mapping[str, Mapping[str, Any]]],
                              duration: Optional[float] = None) -> str:
    """Distance [m] of every episode, one panel per world, one marker series per controller.

    Markers: o = full episode, x = fell, hollow square = left the heightfield (episode ended).

    With ``duration`` [s], grey bars mark each episode's commanded distance (command vx * duration).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = sorted({w for per in results.values() for w in per})
    fig, axes = plt.subplots(1, len(worlds), figsize=(5.5 * len(worlds), 3.6), squeeze=False)
    for ax, world in zip(axes[0], worlds):
        if duration is not None:
            first = next(per[world]["episodes"] for per in results.values() if world in per)
            ax.plot(np.arange(len(first)), [e["command"][0] * duration for e in first], "_", color="0.5",
                    markersize=14, label="commanded (vx * duration)")
        for j, (controller, per) in enumerate(results.items()):
            if world not in per:
                continue
            eps = per[world]["episodes"]
            x = np.arange(len(eps)) + (j - 0.5 * (len(results) - 1)) * 0.15
            d = np.array([e["distance_m"] if e["distance_m"] is not None else np.nan for e in eps], float)
            fell = np.array([e["fell"] for e in eps], bool)
            off = np.array([e["out_of_bounds"] for e in eps], bool)
            ok = ~fell & ~off
            line, = ax.plot(x[ok], d[ok], "o", label=controller)
            ax.plot(x[fell], d[fell], "x", color=line.get_color(), markersize=8,
                    label=f"{controller} (fell)" if fell.any() else None)
            ax.plot(x[off], d[off], "s", color=line.get_color(), markerfacecolor="none",
                    label=f"{controller} (left the terrain)" if off.any() else None)
        ax.set_title(f"{world} world")
        ax.set_xlabel("episode")
        ax.set_ylabel("distance (m)")
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_forward_speed(path: str, traces: Mapping[str, Mapping[str, List[np.ndarray]]], dt: float,
                       command_vx: Optional[float] = None) -> str:
    """Body-frame forward velocity [m/s] over time: mean ± std over episodes, per controller and world.

    ``traces[controller][world]`` is a list of per-episode (N,) arrays (episodes that ended early
    stop contributing at their end).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    worlds = sorted({w for per in traces.values() for w in per})
    fig, axes = plt.subplots(1, len(worlds), figsize=(5.5 * len(worlds), 3.6), squeeze=False)
    for ax, world in zip(axes[0], worlds):
        for controller, per in traces.items():
            if world not in per or not per[world]:
                continue
            v = _padded(per[world])
            t = dt * np.arange(1, v.shape[1] + 1)
            with warnings.catch_warnings():  # all-NaN columns after every episode ended
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, std = np.nanmean(v, axis=0), np.nanstd(v, axis=0)
            line, = ax.plot(t, mean, label=f"{controller} (mean of {v.shape[0]})")
            ax.fill_between(t, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        if command_vx is not None:
            ax.axhline(command_vx, color="k", linestyle="--", linewidth=1, label="commanded vx (mean)")
        ax.set_title(f"{world} world")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("forward velocity (m/s, body frame)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

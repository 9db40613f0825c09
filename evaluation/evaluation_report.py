"""Files of an evaluation (:mod:`evaluation.evaluate`): ``evaluation.json``, ``evaluation.md``, PNG plots.

``evaluation.json`` holds everything (settings, per-episode numbers, aggregates, metric
definitions, versions); NaN/inf are written as ``null``. ``evaluation.md`` is the table a reviewer
reads. Plots (matplotlib, Agg back end): ``distance_per_episode.png`` and ``forward_speed.png``;
with the terrain suite also ``suite_success.png`` (success per level x type, one panel per
controller) and, in the Markdown, per-tile tables and the tiles where the nominal gait fails.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from evaluation.mode_plots import save_figure

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
    "out_of_bounds": "episodes ended by leaving the map: the env truncates them (off terrain); not a fall, "
    "counted as a success",
    "off_map": "same as out_of_bounds",
    "stalled": "episodes without a fall that covered < 25 % of the commanded forward distance vx_cmd * time "
    "(stuck; still counted as a success)",
    "left_tile": "suite: episodes whose trunk ended on another tile than the spawn tile (drifted to a "
    "neighbouring level, the border or off the map)",
    "on_tile_fraction": "suite, per episode: fraction of the recorded states with the trunk on the spawn tile",
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


def parallelism(settings: Mapping[str, Any]) -> str:
    """How a report's episodes ran, for its footer: ``"N physics thread(s)"`` (reports written
    before the physics threads had a name of their own: ``"N process(es)"``)."""
    if "physics_threads" in settings:
        return f"{settings['physics_threads']} physics thread(s)"
    return f"{settings['processes']} process(es)"


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


SUITE_TILE_COLUMNS = (
    ("episodes", "episodes", "{:d}"),
    ("success_rate", "success", "{:.0%}"),
    ("distance_m_mean", "distance (m)", "{:.2f}"),
    ("vel_tracking_error_mps", "vel. error (m/s)", "{:.3f}"),
    ("falls", "falls", "{:d}"),
    ("off_map", "off map", "{:d}"),
    ("stalled", "stalled", "{:d}"),
    ("left_tile", "left tile", "{:d}"),
)


def suite_tile_table(tiles: List[Mapping[str, Any]]) -> str:
    """Markdown table, one row per suite tile (type-major): success, distance, tracking error, falls, off map."""
    head = "| type | level | " + " | ".join(c[1] for c in SUITE_TILE_COLUMNS) + " |"
    rows = [head, "|---|---:|" + "---:|" * len(SUITE_TILE_COLUMNS)]
    types = list(dict.fromkeys(r["terrain_type"] for r in tiles))
    for t in types:
        for r in sorted((r for r in tiles if r["terrain_type"] == t), key=lambda r: r["terrain_level"]):
            rows.append(
                f"| {t} | {r['terrain_level']} | "
                + " | ".join(_cell(r.get(k), fmt) for k, _, fmt in SUITE_TILE_COLUMNS)
                + " |"
            )
    return "\n".join(rows)


def suite_success_matrix(tiles: List[Mapping[str, Any]]) -> str:
    """Markdown table of the success rate: rows = levels, columns = types."""
    types = list(dict.fromkeys(r["terrain_type"] for r in tiles))
    levels = sorted({r["terrain_level"] for r in tiles})
    by = {(r["terrain_level"], r["terrain_type"]): r for r in tiles}
    rows = ["| level | " + " | ".join(types) + " |", "|---:|" + "---:|" * len(types)]
    for lv in levels:
        rows.append(
            f"| {lv} | "
            + " | ".join(_cell(by[(lv, t)]["success_rate"], "{:.0%}") if (lv, t) in by else "–" for t in types)
            + " |"
        )
    return "\n".join(rows)


def _suite_lines(report: Mapping[str, Any]) -> List[str]:
    suite = report["settings"]["suite"]
    seed_note = ""
    if suite.get("config_terrain_seed") is not None:
        seed_note = (
            f" (the policy's config uses terrain seed {suite['config_terrain_seed']}"
            + (": **not** held out" if suite["config_terrain_seed"] == suite["terrain_seed"] else "")
            + ")"
        )
    lines = [
        "",
        "## Terrain suite",
        "",
        f"{suite['episodes_per_tile']} episode(s) per tile and controller on {suite['tiles']} tiles "
        f"(levels {suite['levels']}, types {', '.join(suite['types'])}), terrain seed {suite['terrain_seed']}"
        f"{seed_note}; {suite['tile_order']}. Success = no fall; leaving the map ends an episode "
        "without failing it (off map); `stalled` counts episodes that did not fall but covered < 25 % of the "
        "commanded forward distance (stuck, still a success); `left tile` counts episodes that ended on "
        "another tile.",
        "",
    ]
    fails = report.get("suite_gait_failures")
    below = suite.get("gait_fails_below", 0.5)
    if fails is not None:
        lines += [
            "### Where the gait fails",
            "",
            f"Tiles where the nominal gait succeeds in < {below:.0%} of the episodes: "
            + (
                ", ".join(f"{f['terrain_type']} level {f['terrain_level']} ({f['success_rate']:.0%})" for f in fails)
                if fails
                else "none"
            )
            + ".",
            "",
        ]
        stalls = report.get("suite_gait_stalls") or []
        lines += [
            "Tiles where it does not fall but stalls (covers < 25 % of the commanded distance) in "
            f">= {below:.0%} of the episodes: "
            + (
                ", ".join(
                    f"{f['terrain_type']} level {f['terrain_level']} ({f['stalled']}/{f['episodes']})" for f in stalls
                )
                if stalls
                else "none"
            )
            + ".",
            "",
        ]
    for controller, per in report["results"].items():
        if "suite" not in per:
            continue
        lines += [
            f"### {controller}: success per level (rows) and type (columns)",
            "",
            suite_success_matrix(per["suite"]["tiles"]),
            "",
            f"### {controller}: per tile",
            "",
            suite_tile_table(per["suite"]["tiles"]),
            "",
        ]
    return lines


def _command_text(s: Mapping[str, Any]) -> str:
    if s["command"] is not None:
        c = s["command"]
        return f"vx {c[0]:+.2f} m/s, vy {c[1]:+.2f} m/s, yaw rate {c[2]:+.2f} rad/s"
    r = s.get("command_ranges")
    if not r:
        return "sampled by the env at reset (same for every controller)"
    return (
        f"sampled by the env at reset, uniform vx in [{r['vx'][0]:g}, {r['vx'][1]:g}] m/s, vy in "
        f"[{r['vy'][0]:g}, {r['vy'][1]:g}] m/s, yaw rate in [{r['yaw_rate'][0]:g}, {r['yaw_rate'][1]:g}] rad/s, "
        f"heading noise ±{r['heading_noise']:g} rad (same for every controller)"
    )


def write_markdown(path: str, report: Mapping[str, Any], plots: Mapping[str, str]) -> None:
    s = report["settings"]
    per_world = f"{s['episodes']} episodes of {s['duration_s']:g} s per world"
    if "suite" in s:
        per_world += " (suite: per tile)"
    lines = [
        "# Evaluation",
        "",
        f"Policy: `{s['policy'] or '(none: nominal gait only)'}` (action scale {s['action_scale']:g}). "
        f"{per_world} (seed {s['seed']}; rough-world bands {s['bands']}), C MuJoCo (`ResidualWalkEnv`). "
        f"Command: {_command_text(s)}.",
        "The nominal gait is the same env with a zero action, on the same episodes.",
        "",
        markdown_table(report["results"]),
    ]
    if "suite" in s:
        lines += _suite_lines(report)
    lines += [
        "",
        "## Metrics",
        "",
    ]
    lines += [f"- `{k}`: {v}" for k, v in METRIC_DEFINITIONS.items()]
    lines += ["", "## Plots", ""]
    lines += [f"![{name}]({os.path.basename(p)})" for name, p in plots.items()]
    lines += [
        "",
        f"Command: `{s['command_line']}`  ",
        f"Wall time: {report['wall_time_s']:.1f} s on {report['device']}, {parallelism(s)}.",
    ]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def write_json(path: str, report: Mapping[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(jsonable(report), fh, indent=1, allow_nan=False)


def _padded(traces: List[np.ndarray]) -> np.ndarray:
    n = max((len(t) for t in traces), default=0)
    out = np.full((len(traces), n), np.nan)
    for i, t in enumerate(traces):
        out[i, : len(t)] = t
    return out


def plot_distance_per_episode(
    path: str, results: Mapping[str, Mapping[str, Mapping[str, Any]]], duration: Optional[float] = None
) -> str:
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
            ax.plot(
                np.arange(len(first)),
                [e["command"][0] * duration for e in first],
                "_",
                color="0.5",
                markersize=14,
                label="commanded (vx * duration)",
            )
        for j, (controller, per) in enumerate(results.items()):
            if world not in per:
                continue
            eps = per[world]["episodes"]
            x = np.arange(len(eps)) + (j - 0.5 * (len(results) - 1)) * 0.15
            d = np.array([e["distance_m"] if e["distance_m"] is not None else np.nan for e in eps], float)
            fell = np.array([e["fell"] for e in eps], bool)
            off = np.array([e["out_of_bounds"] for e in eps], bool)
            ok = ~fell & ~off
            (line,) = ax.plot(x[ok], d[ok], "o", label=controller)
            ax.plot(
                x[fell],
                d[fell],
                "x",
                color=line.get_color(),
                markersize=8,
                label=f"{controller} (fell)" if fell.any() else None,
            )
            ax.plot(
                x[off],
                d[off],
                "s",
                color=line.get_color(),
                markerfacecolor="none",
                label=f"{controller} (left the terrain)" if off.any() else None,
            )
        ax.set_title(f"{world} world")
        ax.set_xlabel("episode")
        ax.set_ylabel("distance (m)")
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_forward_speed(
    path: str, traces: Mapping[str, Mapping[str, List[np.ndarray]]], dt: float, command_vx: Optional[float] = None
) -> str:
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
            (line,) = ax.plot(t, mean, label=f"{controller} (mean of {v.shape[0]})")
            ax.fill_between(t, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        if command_vx is not None:
            ax.axhline(command_vx, color="k", linestyle="--", linewidth=1, label="commanded vx (mean)")
        ax.set_title(f"{world} world")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("forward velocity (m/s, body frame)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_suite_success(
    path: str, results: Mapping[str, Mapping[str, Mapping[str, Any]]], levels: List[int], types: List[str]
) -> str:
    """Heat map of the suite's success rate: rows = levels (0 at the bottom), columns = types,
    one panel per controller, the rate (%) written in each cell (``results[c]["suite"]["tiles"]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    controllers = [c for c, per in results.items() if "suite" in per]
    fig, axes = plt.subplots(
        1,
        max(1, len(controllers)),
        squeeze=False,
        figsize=(1.0 + 0.95 * len(types) * max(1, len(controllers)), 1.6 + 0.42 * len(levels)),
    )
    image = None
    for ax, controller in zip(axes[0], controllers):
        by = {(r["terrain_level"], r["terrain_type"]): r for r in results[controller]["suite"]["tiles"]}
        grid = np.full((len(levels), len(types)), np.nan)
        for i, lv in enumerate(levels):
            for j, t in enumerate(types):
                r = by.get((lv, t))
                if r is not None and r["success_rate"] is not None:
                    grid[i, j] = r["success_rate"]
        image = ax.imshow(grid, origin="lower", cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto")
        for i in range(len(levels)):
            for j in range(len(types)):
                v = grid[i, j]
                dark = np.isfinite(v) and (v < 0.2 or v > 0.8)  # the ends of RdYlGn are dark
                ax.text(
                    j,
                    i,
                    "–" if not np.isfinite(v) else f"{100 * v:.0f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if dark else "black",
                )
        ax.set_xticks(range(len(types)))
        ax.set_xticklabels(types, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(levels)))
        ax.set_yticklabels([str(lv) for lv in levels], fontsize=8)
        ax.set_ylabel("level")
        ax.set_title(f"{controller}: success (%)", fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=list(axes[0]), fraction=0.03, pad=0.02, label="success rate")
    return save_figure(fig, path, bbox_inches="tight")


def write_report(report: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``evaluation.json``, ``evaluation.md`` and the PNG plots of
    :func:`evaluation.suite_evaluation.evaluate_policy`'s report into ``out_dir``; returns {name: path}."""
    os.makedirs(out_dir, exist_ok=True)
    vx = [e["command"][0] for per in report["results"].values() for res in per.values() for e in res["episodes"]]
    plots = {
        "distance per episode": plot_distance_per_episode(
            os.path.join(out_dir, "distance_per_episode.png"), report["results"], report["settings"]["duration_s"]
        ),
        "forward speed": plot_forward_speed(
            os.path.join(out_dir, "forward_speed.png"),
            report["traces"],
            report["control_dt"],
            float(np.mean(vx)) if vx else None,
        ),
    }
    suite = report["settings"].get("suite")
    if suite is not None:
        plots["suite success"] = plot_suite_success(
            os.path.join(out_dir, "suite_success.png"), report["results"], suite["levels"], suite["types"]
        )
    from train.export import package_versions

    data = {k: v for k, v in report.items() if k not in ("traces", "records")}
    data["versions"] = package_versions()
    data["plots"] = {k: os.path.basename(v) for k, v in plots.items()}
    paths = {"json": os.path.join(out_dir, "evaluation.json"), "markdown": os.path.join(out_dir, "evaluation.md")}
    write_json(paths["json"], data)
    write_markdown(paths["markdown"], data, plots)
    return {**paths, **plots}

"""The command-grid test (``python -m evaluation.evaluate --mode command_grid``).

One episode per command of two grids, vx x yaw rate (vy = 0) and vx x vy (yaw rate = 0), the
command fixed for the whole episode, for the policy and the nominal gait on the same reset keys.
Per cell the mean over the control steps after ``settle_s`` of the env's ``vel_tracking_error``
(‖v_xy,cmd − v_xy‖, body frame, m/s) and ``yaw_rate_error`` (|ω_z,cmd − ω_z|, rad/s), whether it
fell, and the achieved heading-frame velocity. Files: ``command_grid.{json,md}``,
``command_grid_vx_yaw.png``, ``command_grid_vx_vy.png``.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from evaluation.episode import EpisodeRecord
from evaluation.mode_markdown import footer, header, or_dash
from evaluation.mode_plots import pyplot, save_figure
from evaluation.mode_runs import (
    by_controller,
    fall_fields,
    good_rows,
    mean_max,
    outside_command_ranges,
    run_mode,
    seconds_setting,
    time_in_episode,
    values_setting,
)
from evaluation.nominal import trunk_yaw
from evaluation.runner import EpisodeResult

GRID_VX = (-0.6, -0.3, 0.0, 0.3, 0.6, 1.0)
"""Default forward-velocity commands of both grids [m/s]."""
GRID_YAW_RATE = (-1.0, -0.5, 0.0, 0.5, 1.0)
"""Default yaw-rate commands of the vx x yaw grid [rad/s]."""
GRID_VY = (-0.4, -0.2, 0.0, 0.2, 0.4)
"""Default lateral-velocity commands of the vx x vy grid [m/s]."""

GRIDS = {"vx_yaw": ("vx", "yaw_rate"), "vx_vy": ("vx", "vy")}
"""Grid name -> (row axis, column axis); the command component not on a grid is 0."""
AXIS_LABELS = {"vx": "vx (m/s)", "vy": "vy (m/s)", "yaw_rate": "yaw rate (rad/s)"}
_AXIS_INDEX = {"vx": 0, "vy": 1, "yaw_rate": 2}
ACHIEVED_KEYS = {"vx": "achieved_vx_mps", "vy": "achieved_vy_mps", "yaw_rate": "achieved_yaw_rate_radps"}


@dataclasses.dataclass(frozen=True)
class GridCell:
    """One command of a grid: grid name, row/column index in it, command (vx m/s, vy m/s, yaw rate rad/s)."""

    grid: str
    row: int
    col: int
    command: Tuple[float, float, float]


@dataclasses.dataclass(frozen=True)
class CommandGrid:
    """Settings of the command-grid test (validated on construction: ``ValueError``).

    Attributes:
      vx: forward commands [m/s] (rows of both grids); yaw_rate: [rad/s] (columns of the vx x yaw
        grid); vy: [m/s] (columns of the vx x vy grid). Each at least one finite value, no repeats.
      duration_s: episode length [s] (> 0).
      settle_s: the tracking errors average the steps after this time [s] (0 <= settle < duration).
    """

    vx: Tuple[float, ...] = GRID_VX
    yaw_rate: Tuple[float, ...] = GRID_YAW_RATE
    vy: Tuple[float, ...] = GRID_VY
    duration_s: float = 6.0
    settle_s: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "vx", values_setting("grid vx", self.vx, "m/s"))
        object.__setattr__(self, "yaw_rate", values_setting("grid yaw rate", self.yaw_rate, "rad/s"))
        object.__setattr__(self, "vy", values_setting("grid vy", self.vy, "m/s"))
        object.__setattr__(self, "duration_s", seconds_setting("grid duration", self.duration_s))
        object.__setattr__(self, "settle_s", time_in_episode("settle time", self.settle_s, self.duration_s))

    def axis(self, name: str) -> Tuple[float, ...]:
        """Values of axis ``vx``, ``vy`` or ``yaw_rate``."""
        return getattr(self, name)

    def cells(self) -> List[GridCell]:
        """Every cell: the vx x yaw grid (row-major), then the vx x vy grid."""
        out = []
        for grid, (row_axis, col_axis) in GRIDS.items():
            for i, r in enumerate(self.axis(row_axis)):
                for j, c in enumerate(self.axis(col_axis)):
                    cmd = [0.0, 0.0, 0.0]
                    cmd[_AXIS_INDEX[row_axis]], cmd[_AXIS_INDEX[col_axis]] = r, c
                    out.append(GridCell(grid, i, j, tuple(cmd)))
        return out

    def episode_cases(self) -> List[Tuple[int, GridCell]]:
        """(episode index, cell): cell i of :meth:`cells` is episode i."""
        return list(enumerate(self.cells()))

    def episode_setup(self, cell: GridCell, control_dt: float) -> Dict[str, Any]:
        """Plan fields of the episode of ``cell``: its step count and its command, held from the reset."""
        return {"n_steps": int(round(self.duration_s / control_dt)), "command": cell.command}

    def case_numbers(self, result: EpisodeResult) -> Dict[str, Any]:
        """The numbers of one cell's episode (:func:`grid_cell_numbers`)."""
        return grid_cell_numbers(result.record, result.episode.case, self.settle_s)

    def fill_report(self, report: Dict[str, Any], rows: List[Dict[str, Any]]) -> None:
        """Add the grid's settings, per-controller cells and summaries, notes and grids to ``report``."""
        s = report["settings"]
        for r in rows:
            r["outside_command_ranges"] = outside_command_ranges(r["command"], s["command_ranges"])
        s.update(
            vx=list(self.vx),
            yaw_rate=list(self.yaw_rate),
            vy=list(self.vy),
            duration_s=self.duration_s,
            settle_s=self.settle_s,
        )
        results = {}
        for c, cells in by_controller(rows, s["controllers"]).items():
            summary = {g: grid_summary([x for x in cells if x["grid"] == g]) for g in GRIDS}
            summary["all"] = grid_summary(cells)
            results[c] = {"cells": cells, "summary": summary}
        first = next(iter(results.values()))["cells"]
        outside = [x for x in first if x["outside_command_ranges"]]
        notes = []
        if outside:
            r = s["command_ranges"]
            notes.append(
                f"{len(outside)} of {len(first)} cells have command values outside the env config's "
                f"command ranges (vx [{r['vx'][0]:g}, {r['vx'][1]:g}] m/s, vy [{r['vy'][0]:g}, "
                f"{r['vy'][1]:g}] m/s, yaw rate [{r['yaw_rate'][0]:g}, {r['yaw_rate'][1]:g}] rad/s): the "
                "policy was not trained on them (marked * in the tables)"
            )
        report.update(
            mode="command_grid",
            results=results,
            notes=notes,
            grids={
                g: {"rows": a, "cols": b, "row_values": list(self.axis(a)), "col_values": list(self.axis(b))}
                for g, (a, b) in GRIDS.items()
            },
        )


def tracking_after_settle(rec: EpisodeRecord, settle_s: float) -> Dict[str, Any]:
    """Tracking numbers of one episode over the control steps that end after ``settle_s`` [s].

    Pure. Returns ``vel_tracking_error_mps`` (m/s) and ``yaw_rate_error_radps`` (rad/s): means of
    the env's per-step metrics; ``achieved_vx_mps`` / ``achieved_vy_mps`` (m/s): mean trunk
    velocity in the heading frame; ``achieved_yaw_rate_radps`` (rad/s); ``samples``: steps
    averaged. All None (samples 0) when the episode ended before the settle time.
    """
    first = int(round(settle_s / rec.dt))
    last = good_rows(rec) - 1  # the last good state row = number of good steps
    out: Dict[str, Any] = {
        "samples": max(0, last - first),
        "vel_tracking_error_mps": None,
        "yaw_rate_error_radps": None,
        "achieved_vx_mps": None,
        "achieved_vy_mps": None,
        "achieved_yaw_rate_radps": None,
    }
    if last <= first:
        return out
    out["vel_tracking_error_mps"] = float(np.mean(rec.metric("vel_tracking_error")[first:last]))
    out["yaw_rate_error_radps"] = float(np.mean(rec.metric("yaw_rate_error")[first:last]))
    pos = rec.trunk_pos[first : last + 1, :2]
    yaw = np.unwrap(trunk_yaw(rec.trunk_quat[first : last + 1]))
    mid = 0.5 * (yaw[:-1] + yaw[1:])
    d = np.diff(pos, axis=0)
    span = (last - first) * rec.dt
    out["achieved_vx_mps"] = float(np.sum(np.cos(mid) * d[:, 0] + np.sin(mid) * d[:, 1]) / span)
    out["achieved_vy_mps"] = float(np.sum(-np.sin(mid) * d[:, 0] + np.cos(mid) * d[:, 1]) / span)
    out["achieved_yaw_rate_radps"] = float((yaw[-1] - yaw[0]) / span)
    return out


def grid_cell_numbers(rec: EpisodeRecord, cell: GridCell, settle_s: float) -> Dict[str, Any]:
    """Numbers of the episode ``rec`` of ``cell``: the cell, the fall fields and
    :func:`tracking_after_settle` (see :data:`evaluation.mode_runs.DEFINITIONS`). Pure."""
    return {
        "grid": cell.grid,
        "row": cell.row,
        "col": cell.col,
        "command": list(cell.command),
        **fall_fields(rec),
        "survived": not rec.terminated,
        **tracking_after_settle(rec, settle_s),
    }


def grid_summary(cells: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    """Mean and max over ``cells`` of the tracking errors [m/s, rad/s] (cells with a defined error),
    cells, falls. Pure."""
    vel_mean, vel_max = mean_max([c["vel_tracking_error_mps"] for c in cells])
    yaw_mean, yaw_max = mean_max([c["yaw_rate_error_radps"] for c in cells])
    return {
        "cells": len(cells),
        "falls": sum(bool(c["fell"]) for c in cells),
        "cells_with_error": sum(c["vel_tracking_error_mps"] is not None for c in cells),
        "vel_tracking_error_mps_mean": vel_mean,
        "vel_tracking_error_mps_max": vel_max,
        "yaw_rate_error_radps_mean": yaw_mean,
        "yaw_rate_error_radps_max": yaw_max,
    }


def run_command_grid(policy: Any = None, grid: CommandGrid = CommandGrid(), **options: Any) -> Dict[str, Any]:
    """The command-grid test; returns the report ``command_grid.json`` holds.

    Cell i is reset with ``episode_key(seed, i)`` and, on the rough world, spawns in
    ``bands[i % len(bands)]``. ``policy`` and the keyword ``options`` (configs, world, bands,
    seed, action_scale, include_nominal, threads, progress, on_episodes) as
    :func:`evaluation.mode_runs.run_mode`.

    Returns:
      ``{"mode", "settings", "grids": {name: {"rows", "cols", "row_values", "col_values"}},
      "results": {controller: {"cells": [...], "summary": {grid name | "all": grid_summary}}},
      "notes", "definitions", "control_dt", "wall_time_s", "device"}``.
    """
    return run_mode(grid, policy, **options)


# ------------------------------------------------------------------------------------------ reports


def grid_matrix(report: Mapping[str, Any], grid: str, key: Any, fmt: str = "{:.3f}") -> str:
    """Markdown matrix of ``key`` over one grid: rows = the row axis, columns = the column axis;
    each cell ``policy / nominal`` (the controllers in the report's order). ``†`` = the episode
    fell, ``*`` = the command is outside the config's command ranges. A tuple ``key`` shows the
    values as ``(a, b)``."""
    g = report["grids"][grid]
    controllers = list(report["results"])
    by = {c: {(x["row"], x["col"]): x for x in report["results"][c]["cells"] if x["grid"] == grid} for c in controllers}
    col_names = [f"{AXIS_LABELS[g['cols']].split(' (')[0]} {v:+g}" for v in g["col_values"]]
    lines = [
        f"| {AXIS_LABELS[g['rows']]} \\ {AXIS_LABELS[g['cols']]} | " + " | ".join(col_names) + " |",
        "|---:|" + "---:|" * len(col_names),
    ]
    for i, rv in enumerate(g["row_values"]):
        cells = []
        for j in range(len(g["col_values"])):
            parts = []
            for c in controllers:
                x = by[c][(i, j)]
                if isinstance(key, tuple):
                    vals = [x[k] for k in key]
                    text = "–" if None in vals else "(" + ", ".join(fmt.format(v) for v in vals) + ")"
                else:
                    text = or_dash(x[key], fmt)
                parts.append(text + ("†" if x["fell"] else ""))
            star = "*" if by[controllers[0]][(i, j)]["outside_command_ranges"] else ""
            cells.append(" / ".join(parts) + star)
        lines.append(f"| {rv:+g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def grid_summary_table(report: Mapping[str, Any]) -> str:
    """Markdown: one row per (controller, grid): cells, falls, mean and max of both tracking errors."""
    rows = [
        "| controller | grid | cells | falls | vel. error mean (m/s) | vel. error max (m/s) | "
        "yaw-rate error mean (rad/s) | yaw-rate error max (rad/s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c, res in report["results"].items():
        for g, s in res["summary"].items():
            rows.append(
                f"| {c} | {g} | {s['cells']} | {s['falls']} | "
                f"{or_dash(s['vel_tracking_error_mps_mean'], '{:.3f}')} | "
                f"{or_dash(s['vel_tracking_error_mps_max'], '{:.3f}')} | "
                f"{or_dash(s['yaw_rate_error_radps_mean'], '{:.3f}')} | "
                f"{or_dash(s['yaw_rate_error_radps_max'], '{:.3f}')} |"
            )
    return "\n".join(rows)


def command_grid_markdown(report: Mapping[str, Any]) -> str:
    """The text of ``command_grid.md``."""
    s = report["settings"]
    controllers = " / ".join(report["results"])
    lines = header(
        report,
        "Command grid",
        f"One episode of {s['duration_s']:g} s per command, the command fixed from the reset on; errors "
        f"averaged over the control steps after {s['settle_s']:g} s. Cells show {controllers}; "
        "† = fell, * = outside the config's command ranges, – = ended before the settle time.",
    )
    lines += ["## Summary", "", grid_summary_table(report), ""]
    for g, (a, b) in GRIDS.items():
        title = f"{a} x {b}" + (" (vy = 0)" if g == "vx_yaw" else " (yaw rate = 0)")
        lines += [
            f"## {title}",
            "",
            "Velocity-tracking error (m/s):",
            "",
            grid_matrix(report, g, "vel_tracking_error_mps"),
            "",
            "Yaw-rate error (rad/s):",
            "",
            grid_matrix(report, g, "yaw_rate_error_radps"),
            "",
            f"Achieved mean ({a}, {b}) after the settle time ({AXIS_LABELS[a].split(' (')[1][:-1]}, "
            f"{AXIS_LABELS[b].split(' (')[1][:-1]}; heading frame):",
            "",
            grid_matrix(report, g, (ACHIEVED_KEYS[a], ACHIEVED_KEYS[b]), "{:+.2f}"),
            "",
            f"![command grid {g}](command_grid_{g}.png)",
            "",
        ]
    lines += footer(
        report,
        [
            "vel_tracking_error_mps",
            "yaw_rate_error_radps",
            "achieved_vx_mps / achieved_vy_mps",
            "achieved_yaw_rate_radps",
            "fell",
            "survived",
            "outside_command_ranges",
        ],
    )
    return "\n".join(lines) + "\n"


def _error_grids(report: Mapping[str, Any], grid: str, key: str, shape: Tuple[int, int]):
    """Per controller: (values of ``key``, fall time [s] or NaN) as (rows, cols) arrays of one grid."""
    grids, fell = {}, {}
    for c in report["results"]:
        a, f = np.full(shape, np.nan), np.full(shape, np.nan)
        for x in report["results"][c]["cells"]:
            if x["grid"] == grid:
                a[x["row"], x["col"]] = np.nan if x[key] is None else x[key]
                f[x["row"], x["col"]] = x["fall_time_s"] if x["fell"] else np.nan
        grids[c], fell[c] = a, f
    return grids, fell


def plot_command_grid(path: str, report: Mapping[str, Any], grid: str) -> str:
    """Heat maps of one grid: rows = velocity-tracking error (m/s) and yaw-rate error (rad/s),
    columns = controllers side by side (shared colour scale per row); the value in each cell,
    ``fell T s`` under it when the episode fell at T."""
    plt = pyplot()
    g = report["grids"][grid]
    controllers = list(report["results"])
    nr, nc = len(g["row_values"]), len(g["col_values"])
    metrics = (
        ("vel_tracking_error_mps", "velocity-tracking error (m/s)"),
        ("yaw_rate_error_radps", "yaw-rate error (rad/s)"),
    )
    fig, axes = plt.subplots(
        2,
        len(controllers),
        squeeze=False,
        gridspec_kw={"hspace": 0.4},
        figsize=(1.2 + 1.0 * nc * len(controllers), 2.0 + 2 * (0.45 * nr + 0.3)),
    )
    for m, (key, label) in enumerate(metrics):
        grids, fell = _error_grids(report, grid, key, (nr, nc))
        finite = [v for a in grids.values() for v in a[np.isfinite(a)]]
        vmax = max(max(finite, default=0.0), 1e-3)
        image = None
        for ax, c in zip(axes[m], controllers):
            image = ax.imshow(grids[c], origin="lower", cmap="RdYlGn_r", vmin=0.0, vmax=vmax, aspect="auto")
            for i in range(nr):
                for j in range(nc):
                    v = grids[c][i, j]
                    dark = np.isfinite(v) and (v < 0.2 * vmax or v > 0.8 * vmax)  # the ends of RdYlGn are dark
                    text = "–" if not np.isfinite(v) else f"{v:.2f}"
                    fall = fell[c][i, j]
                    ax.text(
                        j,
                        i,
                        text + (f"\nfell {fall:.1f} s" if np.isfinite(fall) else ""),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if dark else "black",
                    )
            ax.set_xticks(range(nc))
            ax.set_xticklabels([f"{v:g}" for v in g["col_values"]], fontsize=8)
            ax.set_yticks(range(nr))
            ax.set_yticklabels([f"{v:g}" for v in g["row_values"]], fontsize=8)
            ax.set_xlabel(AXIS_LABELS[g["cols"]], fontsize=8)
            ax.set_ylabel(AXIS_LABELS[g["rows"]], fontsize=8)
            ax.set_title(f"{c}: {label}", fontsize=9)
        if image is not None:
            fig.colorbar(image, ax=list(axes[m]), fraction=0.03, pad=0.02)
    s = report["settings"]
    fig.suptitle(
        f"command grid {g['rows']} x {g['cols']}: mean error after {s['settle_s']:g} s of "
        f"{s['duration_s']:g} s episodes",
        fontsize=10,
    )
    return save_figure(fig, path, bbox_inches="tight")


def write_plots(report: Mapping[str, Any], out_dir: str) -> Dict[str, str]:
    """The heat maps ``command_grid_{grid}.png`` in ``out_dir``; {name: path}."""
    return {
        f"heat map {g}": plot_command_grid(os.path.join(out_dir, f"command_grid_{g}.png"), report, g) for g in GRIDS
    }


def summary_line(controller: str, result: Mapping[str, Any]) -> str:
    """One terminal line: cells, falls, mean / max of both tracking errors over the whole grid."""
    s = result["summary"]["all"]
    return (
        f"{controller}: command grid, {s['cells']} cells, {s['falls']} falls, vel. error mean "
        f"{or_dash(s['vel_tracking_error_mps_mean'], '{:.3f}')} / max "
        f"{or_dash(s['vel_tracking_error_mps_max'], '{:.3f}')} m/s, yaw-rate error mean "
        f"{or_dash(s['yaw_rate_error_radps_mean'], '{:.3f}')} / max "
        f"{or_dash(s['yaw_rate_error_radps_max'], '{:.3f}')} rad/s"
    )

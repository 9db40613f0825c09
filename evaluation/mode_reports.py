"""The command-grid, push-recovery and stand-still tests by mode name, and their report files.

:data:`RUNNERS` (mode -> run function), :data:`FILE_STEMS` (mode -> file name stem),
:func:`write_mode_report` (JSON, Markdown, PNGs of one test's report) and :func:`summary_lines`
(terminal lines) for ``python -m evaluation.evaluate --mode command_grid / push / stand``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Mapping, NamedTuple

from evaluation import command_grid, push_recovery, stand_still
from evaluation.evaluation_report import jsonable, write_json


class ModeEntry(NamedTuple):
    """What one mode runs and writes: its run function, file stem, Markdown, plots, terminal line."""

    run: Callable[..., Dict[str, Any]]
    stem: str
    markdown: Callable[[Mapping[str, Any]], str]
    plots: Callable[[Mapping[str, Any], str], Dict[str, str]]
    summary_line: Callable[[str, Mapping[str, Any]], str]


MODE_ENTRIES = {
    "command_grid": ModeEntry(
        command_grid.run_command_grid,
        "command_grid",
        command_grid.command_grid_markdown,
        command_grid.write_plots,
        command_grid.summary_line,
    ),
    "push": ModeEntry(
        push_recovery.run_push_recovery,
        "push_recovery",
        push_recovery.push_recovery_markdown,
        push_recovery.write_plots,
        push_recovery.summary_line,
    ),
    "stand": ModeEntry(
        stand_still.run_stand_still,
        "stand_still",
        stand_still.stand_still_markdown,
        stand_still.write_plots,
        stand_still.summary_line,
    ),
}
"""Mode name (``--mode``) -> :class:`ModeEntry`."""

MODES = tuple(MODE_ENTRIES)
RUNNERS = {mode: m.run for mode, m in MODE_ENTRIES.items()}
FILE_STEMS = {mode: m.stem for mode, m in MODE_ENTRIES.items()}


def write_mode_report(report: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write one test's files to ``out_dir``: ``STEM.json`` (the report plus package versions and the
    plot file names), ``STEM.md`` and the test's PNGs; returns {"json", "markdown", plot name: path}."""
    from train.export import package_versions

    os.makedirs(out_dir, exist_ok=True)
    mode = MODE_ENTRIES[report["mode"]]
    stem = os.path.join(out_dir, mode.stem)
    plots = mode.plots(report, out_dir)
    text = mode.markdown(report)
    data = {**report, "versions": package_versions(), "plots": {k: os.path.basename(v) for k, v in plots.items()}}
    write_json(stem + ".json", jsonable(data))
    with open(stem + ".md", "w", encoding="utf-8") as fh:
        fh.write(text)
    return {"json": stem + ".json", "markdown": stem + ".md", **plots}


def summary_lines(report: Mapping[str, Any]) -> List[str]:
    """A few lines for the terminal: the mode's headline numbers per controller."""
    line = MODE_ENTRIES[report["mode"]].summary_line
    return [line(c, res) for c, res in report["results"].items()]

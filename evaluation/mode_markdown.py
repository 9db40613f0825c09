"""The parts every command-grid / push-recovery / stand-still Markdown report shares.

:func:`or_dash` (a number or ``–``), :func:`header` (title, policy, controllers, world, notes) and
:func:`footer` (definitions, plots, command line, wall time [s]) of the reports
:mod:`evaluation.mode_runs` builds.
"""

from __future__ import annotations

import math
import os
from typing import Any, List, Mapping, Sequence

from evaluation.evaluation_report import parallelism


def or_dash(value: Any, form: str) -> str:
    """``form.format(value)``, or ``–`` for None and non-finite floats."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return form.format(value)


def header(report: Mapping[str, Any], title: str, what: str) -> List[str]:
    """Markdown lines: ``# title``, the policy and the run's setting, ``what`` the test did, the notes."""
    s = report["settings"]
    world = s["world"] + (f" (bands {s['bands']})" if s.get("bands") else "")
    lines = [
        f"# {title}",
        "",
        f"Policy: `{s['policy'] or '(none: nominal gait only)'}` (action scale {s['action_scale']:g}); "
        f"controllers: {', '.join(s['controllers'])} (nominal = the same env with a zero action, on the "
        f"same episodes). C MuJoCo (`ResidualWalkEnv`), {world} world, seed {s['seed']}, the env's random "
        "pushes off.",
        "",
        what,
        "",
    ]
    for note in report.get("notes", []):
        lines += [f"Note: {note}.", ""]
    return lines


def footer(report: Mapping[str, Any], keys: Sequence[str], plots: Sequence[str] = ()) -> List[str]:
    """Markdown lines: the definitions of ``keys``, the ``plots`` (file names), command line, wall time [s]."""
    s = report["settings"]
    lines = ["## Definitions", ""] + [f"- `{k}`: {report['definitions'][k]}" for k in keys]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{os.path.splitext(p)[0].replace('_', ' ')}]({p})" for p in plots]
    lines += [
        "",
        f"Command: `{s['command_line']}`  ",
        f"Wall time: {report['wall_time_s']:.1f} s on {report['device']}, {parallelism(s)}.",
    ]
    return lines

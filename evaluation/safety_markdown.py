"""The files of the safety report: ``safety.md`` (:func:`markdown`) and ``safety.json`` (:func:`write_report`).

:func:`markdown` renders a report of :func:`evaluation.safety_report.run_safety`: the verdict,
the settings, one table per world with every criterion per controller, the joint-limit margin
distribution, per-joint maxima and the criteria's definitions. Units as the report gives them
(rad, rad/s, N·m, m/s; fractions shown in %).
"""

from __future__ import annotations

import os
from typing import Any, Dict


def _fmt(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "episodes":
        return f"{int(v)}"
    if unit == "fraction":
        return f"{100 * float(v):.3f} %"
    return f"{float(v):.3f}"


def markdown(report: Dict[str, Any]) -> str:
    """The ``safety.md`` text: verdict, settings, one table per world with every criterion per
    controller, joint-limit margin distribution, per-joint maxima, definitions."""
    s = report["settings"]
    res = report["results"]
    crits = [{"name": k, **v} for k, v in report["definitions"].items()]
    lines = [
        f"# Safety report: {'PASS' if report['passed'] else 'FAIL'}",
        "",
        f"Policy `{s['policy']}`"
        + (f" (action x {s['action_scale']:g})" if s["action_scale"] != 1.0 else "")
        + f": **{'PASS' if report['passed'] else 'FAIL'}** (every criterion on every world, for the policy; "
        "the nominal gait = zero action on the same episodes is judged for reference only).",
        "",
        f"- {s['episodes']} episode(s) per world and controller, {s['duration_s']:g} s each, C MuJoCo "
        f"(Gymnasium twin from the export's meta.json), worlds: {', '.join(s['worlds'])}; rough: "
        f"{s['rough_bands']}"
        + (f"; suite: {s['suite_tiles']}" if "suite" in s["worlds"] and "suite_tiles" in s else ""),
        f"- seeds: {s['episode_keys']}; command: "
        + (
            f"fixed {s['command']}"
            if s["command"]
            else f"the env's draw per episode (vx {s['command_ranges']['vx']} m/s, vy {s['command_ranges']['vy']} m/s, "
            f"yaw rate {s['command_ranges']['yaw_rate']} rad/s)"
        ),
        "- domain randomisation ON (per episode, from the reset key): "
        + ", ".join(f"{k} {v['range']}" for k, v in s["domain_randomization"].items()),
        f"- {s['sampling']}; thresholds: {report.get('thresholds_file', 'configs/safety.yaml')}",
        f"- command line: `{s['command_line']}`",
        f"- wall time {report['wall_time_s']:.0f} s on {report['device']}",
        "",
    ]
    for w in s["worlds"]:
        ctrls = [c for c in res if w in res[c]]
        lines += [
            f"## {w}",
            "",
            "| criterion | unit | threshold | " + " | ".join(ctrls) + " |",
            "|---|---|---|" + "---|" * len(ctrls),
        ]
        for i, c in enumerate(crits):
            cells = []
            for ctrl in ctrls:
                row = res[ctrl][w]["criteria"][i]
                cells.append(f"{_fmt(row['value'], c['unit'])} {'PASS' if row['passed'] else '**FAIL**'}")
            th = res[ctrls[0]][w]["criteria"][i]["threshold"]
            label = c["label"].replace("|", "\\|")  # a literal | inside a Markdown table cell
            lines.append(f"| {label} | {c['unit']} | {c['op']} {_fmt(th, c['unit'])} | " + " | ".join(cells) + " |")
        lines.append(
            "| **overall** | | | "
            + " | ".join("PASS" if res[ctrl][w]["passed"] else "**FAIL**" for ctrl in ctrls)
            + " |"
        )
        lines += [
            "",
            "Joint-limit margin distribution (rad, all joint-steps) and more:",
            "",
            "| controller | min | p1 | p5 | median | near-limit fraction | max torque (N·m) | "
            "contact foot-steps | off terrain | steps |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ctrl in ctrls:
            m = res[ctrl][w]["summary"]
            lines.append(
                f"| {ctrl} | {_fmt(m['joint_limit_margin_min_rad'], 'rad')} | "
                f"{_fmt(m['joint_limit_margin_p1_rad'], 'rad')} | {_fmt(m['joint_limit_margin_p5_rad'], 'rad')} | "
                f"{_fmt(m['joint_limit_margin_median_rad'], 'rad')} | {_fmt(m['near_limit_fraction'], 'fraction')} | "
                f"{_fmt(m['max_torque_nm'], 'Nm')} | {m['contact_foot_steps']} | {m['off_map']} | {m['steps']} |"
            )
        lines += [
            "",
            "Per joint: max |joint velocity| (rad/s) / peak |torque| as a fraction of the limit:",
            "",
            "| controller | " + " | ".join(s["joints"]) + " |",
            "|---|" + "---|" * len(s["joints"]),
        ]
        for ctrl in ctrls:
            m = res[ctrl][w]["summary"]
            lines.append(
                f"| {ctrl} | "
                + " | ".join(
                    f"{v:.1f} / {f:.2f}"
                    for v, f in zip(m["max_joint_velocity_per_joint_radps"], m["max_torque_fraction_per_joint"])
                )
                + " |"
            )
        lines.append("")
    lines += ["## Definitions", ""]
    lines += [
        f"- **{c['label']}** ({c['unit']}; pass if `{c['measure']}` {c['op']} {_fmt(c['threshold'], c['unit'])}): "
        f"{c['definition']}"
        for c in crits
    ]
    lines += ["", "Per-episode numbers, seeds and domain-randomisation draws: `safety.json`.", ""]
    return "\n".join(lines)


def write_report(report: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``safety.json`` and ``safety.md`` into ``out_dir``; returns their paths."""
    from evaluation.evaluation_report import write_json

    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "safety.json"), "markdown": os.path.join(out_dir, "safety.md")}
    write_json(paths["json"], report)
    with open(paths["markdown"], "w", encoding="utf-8") as fh:
        fh.write(markdown(report))
    return paths

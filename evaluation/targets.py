"""The shipped policy's targets, policy and nominal gait side by side.

    python -m evaluation.targets DIR      # DIR: where `python -m evaluation.evaluate --mode all` wrote

reads the four files of one evaluation directory and writes ``targets.json`` / ``targets.md``
there, and the same table as the "Targets" section of ``evaluation.md``:

================================  =================================================================
``evaluation.json``               episodes mode on the terrain suite (``--worlds ... suite``): the
                                  tiles where the nominal gait's success is below 50 % and the
                                  mid-level tracking error per terrain type
``command_grid.json``             the velocity-tracking error over the whole command grid, flat
``push_recovery.json``            success after the configured kicks (``env.pushes.velocity``)
``stand_still.json``              trunk drift at zero command
================================  =================================================================

Targets (fixed here, never relaxed to fit a result; a missed target shows the measured gap):

- success >= 95 % on every terrain type at the levels where the nominal gait's success is < 50 %
  (the levels are named per type; a type where the gait never fails that badly has no such row);
- velocity-tracking error <= 0.10 m/s over the whole command grid on flat ground;
- velocity-tracking error <= 0.15 m/s on the mid levels (:data:`MID_LEVELS`) of every terrain type;
- push recovery >= 95 % over the kicks inside the configured push range;
- drift <= 5 cm over a 10 s stand at zero command (the largest drift of any episode).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

GAIT_FAILS_BELOW = 0.5
SUCCESS_TARGET = 0.95
GRID_ERROR_TARGET = 0.10  # m/s
MID_ERROR_TARGET = 0.15  # m/s
MID_LEVELS = (3, 4)
"""The suite's mid levels (of 0..7)."""
PUSH_TARGET = 0.95
DRIFT_TARGET = 0.05  # m
STAND_DURATION = 10.0  # s
FILES = ("evaluation.json", "command_grid.json", "push_recovery.json", "stand_still.json")
SECTION = "## Targets"


class TargetsError(ValueError):
    """An evaluation directory lacks what a target needs."""


def _load(directory: str, name: str) -> Dict[str, Any]:
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise TargetsError(
            f"{path} is missing: run `python -m evaluation.evaluate --policy POLICY --mode all "
            f"--worlds flat suite --out {directory}` first"
        )
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _controllers(report: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    results = report.get("results", {})
    for c in ("policy", "nominal"):
        if c not in results:
            raise TargetsError(f"{name} has no {c!r} results (evaluate a policy, without --no-nominal)")
    return results


def _mean(values: Sequence[float]) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(vals) / len(vals) if vals else None


def _row(
    target: str,
    where: str,
    op: str,
    threshold: float,
    policy: Optional[float],
    nominal: Optional[float],
    unit: str,
    episodes: int,
) -> Dict[str, Any]:
    met = policy is not None and (policy >= threshold if op == ">=" else policy <= threshold)
    gap = None if policy is None or met else (threshold - policy if op == ">=" else policy - threshold)
    return {
        "target": target,
        "where": where,
        "op": op,
        "threshold": threshold,
        "unit": unit,
        "policy": policy,
        "nominal": nominal,
        "met": bool(met),
        "gap": gap,
        "episodes": episodes,
    }


def suite_rows(report: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """Success where the gait fails, and mid-level tracking, per terrain type (from ``evaluation.json``)."""
    results = _controllers(report, "evaluation.json")
    if "suite" not in results["nominal"] or "suite" not in results["policy"]:
        raise TargetsError("evaluation.json has no terrain-suite results: evaluate with --worlds ... suite")
    episodes = {c: results[c]["suite"]["episodes"] for c in ("policy", "nominal")}
    types = report["settings"]["suite"]["types"]
    levels = report["settings"]["suite"]["levels"]
    rows = []

    def on(c, t, lv):
        return [e for e in episodes[c] if e["terrain_type"] == t and e["terrain_level"] in lv]

    def success(eps):
        return sum(not e["fell"] for e in eps) / len(eps) if eps else None

    for t in types:
        failing = [lv for lv in levels if (s := success(on("nominal", t, [lv]))) is not None and s < GAIT_FAILS_BELOW]
        if not failing:
            continue
        pol, nom = on("policy", t, failing), on("nominal", t, failing)
        rows.append(
            _row(
                "success where the gait fails",
                f"{t}, level{'s' if len(failing) > 1 else ''} {', '.join(map(str, failing))}",
                ">=",
                SUCCESS_TARGET,
                success(pol),
                success(nom),
                "",
                len(pol),
            )
        )
    mid = [lv for lv in MID_LEVELS if lv in levels]
    for t in types:
        pol, nom = on("policy", t, mid), on("nominal", t, mid)
        if not pol:
            continue
        rows.append(
            _row(
                "tracking error, mid levels",
                f"{t}, levels {', '.join(map(str, mid))}",
                "<=",
                MID_ERROR_TARGET,
                _mean([e["vel_tracking_error_mps"] for e in pol]),
                _mean([e["vel_tracking_error_mps"] for e in nom]),
                "m/s",
                len(pol),
            )
        )
    return rows


def grid_row(grid: Mapping[str, Any]) -> Dict[str, Any]:
    results = _controllers(grid, "command_grid.json")
    if grid["settings"].get("world") != "flat":
        raise TargetsError("command_grid.json: the tracking target is on flat ground (--mode-world flat)")
    s = {c: results[c]["summary"]["all"] for c in ("policy", "nominal")}
    return _row(
        "tracking error, whole command grid",
        "flat, " + ", ".join(f"{k} {grid['settings'][k]}" for k in ("vx", "vy", "yaw_rate") if k in grid["settings"]),
        "<=",
        GRID_ERROR_TARGET,
        s["policy"]["vel_tracking_error_mps_mean"],
        s["nominal"]["vel_tracking_error_mps_mean"],
        "m/s",
        int(s["policy"]["cells"]),
    )


def push_row(push: Mapping[str, Any], configured: Optional[Sequence[float]]) -> Dict[str, Any]:
    """Success over the kicks inside the configured range (``configured`` = env.pushes.velocity)."""
    results = _controllers(push, "push_recovery.json")
    lo, hi = configured if configured else (push["settings"].get("config_push_velocity_mps") or (None, None))
    if lo is None:
        raise TargetsError("push_recovery.json: the policy's config has no push range (env.pushes.velocity)")

    def pooled(c):
        rows = [r for r in results[c]["table"] if lo - 1e-9 <= r["kick_mps"] <= hi + 1e-9]
        n = sum(r["episodes"] for r in rows)
        return (sum(r["successes"] for r in rows) / n if n else None), n, [r["kick_mps"] for r in rows]

    pol, n, kicks = pooled("policy")
    if not kicks:
        raise TargetsError(
            f"push_recovery.json: no kick inside the configured range {lo}-{hi} m/s "
            f"(run --mode push with --kicks inside it)"
        )
    return _row(
        "push recovery",
        f"kicks {', '.join(f'{k:g}' for k in kicks)} m/s (configured {lo:g}-{hi:g})",
        ">=",
        PUSH_TARGET,
        pol,
        pooled("nominal")[0],
        "",
        n,
    )


def stand_row(stand: Mapping[str, Any]) -> Dict[str, Any]:
    results = _controllers(stand, "stand_still.json")
    duration = stand["settings"].get("duration_s")
    if duration is None or abs(float(duration) - STAND_DURATION) > 1e-6:
        raise TargetsError(
            f"stand_still.json: the drift target is over {STAND_DURATION:g} s stands, "
            f"these were {duration} s (--stand-duration {STAND_DURATION:g})"
        )
    s = {c: results[c]["summary"] for c in ("policy", "nominal")}
    return _row(
        "drift at zero command",
        f"flat, {s['policy']['episodes']} stands of {STAND_DURATION:g} s (largest)",
        "<=",
        DRIFT_TARGET,
        s["policy"]["drift_m_max"],
        s["nominal"]["drift_m_max"],
        "m",
        int(s["policy"]["episodes"]),
    )


def targets(directory: str) -> Dict[str, Any]:
    """Every target row of the evaluation in ``directory`` (see the module docstring)."""
    report, grid, push, stand = (_load(directory, f) for f in FILES)
    configured = report.get("settings", {}).get("config_push_velocity_mps") or push.get("settings", {}).get(
        "config_push_velocity_mps"
    )
    rows = suite_rows(report) + [grid_row(grid), push_row(push, configured), stand_row(stand)]
    failing = [r["where"] for r in rows if r["target"] == "success where the gait fails"]
    return {
        "rows": rows,
        "met": sum(r["met"] for r in rows),
        "total": len(rows),
        "gait_failure_tiles": failing,
        "terrain_seed": report["settings"]["suite"].get("terrain_seed"),
        "duration_s": report["settings"].get("duration_s"),
        "policy": report["settings"].get("policy"),
    }


def _fmt(v: Optional[float], unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:.0%}" if unit == "" else f"{v:.3f}"


def cells(r: Mapping[str, Any]) -> List[str]:
    """A target row as table cells: target, where, target value, policy, nominal gait, met."""
    thr = f"{r['op']} {_fmt(r['threshold'], r['unit'])}{' ' + r['unit'] if r['unit'] else ''}"
    return [
        r["target"],
        r["where"],
        thr,
        _fmt(r["policy"], r["unit"]),
        _fmt(r["nominal"], r["unit"]),
        "yes" if r["met"] else "**no**",
    ]


def markdown(result: Mapping[str, Any]) -> str:
    lines = [
        SECTION,
        "",
        f"{result['met']} of {result['total']} targets met (C MuJoCo, held-out terrain seed "
        f"{result['terrain_seed']}, the policy's domain randomisation on, {result['duration_s']:g} s suite "
        "episodes). Targets are fixed in `evaluation/targets.py`; a missed one shows its gap.",
        "",
        "| target | where | target value | policy | nominal gait | met | gap |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for r in result["rows"]:
        gap = "" if r["gap"] is None else _fmt(r["gap"], r["unit"]).replace("%", " pt")
        lines.append("| " + " | ".join(cells(r)) + f" | {gap} |")
    if not result["gait_failure_tiles"]:
        lines += [
            "",
            "The nominal gait's success is >= 50 % on every tile of this evaluation: no success target applies.",
        ]
    return "\n".join(lines) + "\n"


def write(directory: str) -> Dict[str, Any]:
    """Compute the targets of ``directory`` and write targets.json/.md and evaluation.md's section."""
    result = targets(directory)
    with open(os.path.join(directory, "targets.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    text = markdown(result)
    with open(os.path.join(directory, "targets.md"), "w", encoding="utf-8") as fh:
        fh.write("# " + text[3:])
    ev = os.path.join(directory, "evaluation.md")
    with open(ev, encoding="utf-8") as fh:
        body = fh.read()
    if SECTION in body:  # replace the previous section (up to the next "## " heading)
        head, rest = body.split(SECTION, 1)
        nxt = rest.find("\n## ")
        body = head + text + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        first = body.find("\n## ")
        body = body[: first + 1] + text + "\n" + body[first + 1 :] if first >= 0 else body + "\n" + text
    with open(ev, "w", encoding="utf-8") as fh:
        fh.write(body)
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("directory", help="an evaluation directory (evaluation.evaluate --mode all --out DIR)")
    args = p.parse_args(argv)
    try:
        result = write(args.directory)
    except TargetsError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(
            f"error: {e.filename or args.directory}: {e.strerror or e} (targets.json, targets.md and "
            "evaluation.md are written into the evaluation directory)",
            file=sys.stderr,
        )
        return 2
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shipped policy's tables in policies/README.md, generated from its committed reports (no hand-copied figures).

    python -m evaluation.shipped_report policies/NAME            # rewrite policies/README.md's section
    python -m evaluation.shipped_report policies/NAME --check    # exit 1 if policies/README.md is out of date

The section sits between ``<!-- shipped-policy:begin -->`` and ``<!-- shipped-policy:end -->`` in
policies/README.md (``--file PATH`` names another file with the same markers). It is built from the
policy folder's ``meta.json`` (training provenance), ``evaluation.json`` (policy vs nominal gait per
world) and ``targets.json`` (:mod:`evaluation.targets`); ``tests/test_shipped_policy.py`` checks that
policies/README.md holds exactly this text.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Mapping, Optional, Sequence

from evaluation import targets
from model.simulation_config import REPO_ROOT

BEGIN = "<!-- shipped-policy:begin -->"
END = "<!-- shipped-policy:end -->"
README = os.path.join(REPO_ROOT, "policies", "README.md")


def _load(policy_dir: str, name: str) -> Mapping[str, Any]:
    path = os.path.join(policy_dir, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} is missing: the shipped policy folder needs meta.json, evaluation.json "
            "and targets.json (docs/playback.md, 'Shipping a policy')"
        )
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _pct(v: Optional[float]) -> str:
    return "—" if v is None else f"{v:.0%}"


def _num(v: Optional[float], fmt: str = "{:.3f}") -> str:
    return "—" if v is None else fmt.format(v)


def section(policy_dir: str) -> str:
    """The section's text (between the markers) for ``policy_dir``."""
    meta, ev, tg = (_load(policy_dir, n) for n in ("meta.json", "evaluation.json", "targets.json"))
    rel = os.path.relpath(os.path.abspath(policy_dir), REPO_ROOT)
    tr = meta.get("training", {})
    wall = tr.get("wall_time_s")
    seed = (ev["settings"].get("suite") or {}).get("terrain_seed", ev["settings"].get("terrain_seed"))
    lines = [
        f"`{rel}/`: trained on {tr.get('device', 'an unrecorded device')}, {tr.get('env_steps', 0):,d} env steps, "
        f"{_num(wall / 60 if wall else None, '{:.0f}')} min of training wall-clock "
        f"(preset `{tr.get('preset', '?')}`, world `{tr.get('train_world', '?')}`; the export is the best "
        f"evaluation on terrain seed {seed}, which training never used).",
        "",
        f"Evaluation (`{rel}/evaluation.md`; C MuJoCo, {ev['settings']['duration_s']:g} s episodes, "
        "commands sampled by the env, the same episodes for both controllers):",
        "",
        "| controller | world | episodes | success | distance (m) | vel. error (m/s) | cost of transport |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for world in ev["settings"]["worlds"]:
        for ctrl in ("policy", "nominal"):
            s = ev["results"][ctrl][world]["summary"]
            lines.append(
                f"| {'policy' if ctrl == 'policy' else 'nominal gait'} | {world} | {s['episodes']} | "
                f"{_pct(s['success_rate'])} | {_num(s['distance_m_mean'], '{:.2f}')} | "
                f"{_num(s['vel_tracking_error_mps'])} | {_num(s['cost_of_transport'], '{:.2f}')} |"
            )
    lines += [
        "",
        f"Targets ({tg['met']} of {tg['total']} met; `{rel}/targets.md`):",
        "",
        "| target | where | target value | policy | nominal gait | met |",
        "|---|---|---|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(targets.cells(r)) + " |" for r in tg["rows"]]
    return "\n".join(lines)


def render(readme_text: str, policy_dir: str, name: str = "policies/README.md") -> str:
    """``readme_text`` (the text of the file ``name``) with its shipped-policy section replaced."""
    if BEGIN not in readme_text or END not in readme_text:
        raise ValueError(f"{name} has no {BEGIN} ... {END} section to fill")
    head, rest = readme_text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + BEGIN + "\n" + section(policy_dir) + "\n" + END + tail


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("policy_dir")
    p.add_argument(
        "--file",
        "--readme",
        dest="readme",
        default=README,
        metavar="PATH",
        help="the Markdown file holding the section (default: policies/README.md)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 if the file's section is out of date")
    args = p.parse_args(argv)
    try:
        with open(args.readme, encoding="utf-8") as fh:
            text = fh.read()
        new = render(text, args.policy_dir, args.readme)
    except (OSError, ValueError, KeyError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if new != text:
            print(
                f"{args.readme}: the shipped-policy section is out of date; run "
                f"python -m evaluation.shipped_report {args.policy_dir}",
                file=sys.stderr,
            )
            return 1
        return 0
    try:
        with open(args.readme, "w", encoding="utf-8") as fh:
            fh.write(new)
    except OSError as e:
        print(
            f"error: --file {args.readme}: cannot write it ({e.strerror or e}); make it writable or pass --file PATH",
            file=sys.stderr,
        )
        return 2
    print(section(args.policy_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

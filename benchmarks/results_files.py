"""Where a benchmark's numbers go: ``<stem>.json`` (everything measured) and ``<stem>.md`` (the table).

Every benchmark writes both into ``benchmarks/results/`` (or ``--out``), named for what it measured
and on which machine (e.g. ``profile_step_cpu-2core``).
"""

from __future__ import annotations

import json
import os
from typing import Any, Mapping, Sequence


def write_json(result: Mapping[str, Any], out_dir: str, name: str, indent: int = 2) -> str:
    """Write ``result`` to ``out_dir/name.json`` (the folder is made); returns the stem ``out_dir/name``."""
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, name)
    with open(stem + ".json", "w") as fh:
        json.dump(result, fh, indent=indent)
    return stem


def write_markdown(stem: str, lines: Sequence[str]) -> str:
    """Write ``lines`` (one Markdown line each) to ``stem.md``; returns its path."""
    with open(stem + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return stem + ".md"

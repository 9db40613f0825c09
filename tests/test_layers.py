"""The package layers stay acyclic: model → ik → gait → mjx_envs → train → playback → benchmarks.

A module may import (at module level or inside a function) only packages at its own layer or
below. ``KNOWN_UPWARD`` lists the one upward import left (issue 17, not yet moved); the test fails
on any new one, and also once that one is gone, so the list cannot go stale.
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["model", "ik", "gait", "mjx_envs", "train", "playback", "benchmarks"]
KNOWN_UPWARD = {
    # record_observations (the ONNX check's recorded observations) runs playback episodes
    ("train/onnx_export.py", "playback.episode"),
    ("train/onnx_export.py", "playback.policy_env"),
}


def upward_imports():
    rank = {p: i for i, p in enumerate(LAYERS)}
    found = set()
    for pkg in LAYERS:
        for root, _, files in os.walk(os.path.join(REPO, pkg)):
            for f in files:
                if not f.endswith(".py"):
                    continue
                path = os.path.join(root, f)
                rel = os.path.relpath(path, REPO).replace(os.sep, "/")
                for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                    if isinstance(node, ast.Import):
                        mods = [a.name for a in node.names]
                    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                        mods = [node.module]
                    else:
                        continue
                    for m in mods:
                        top = m.split(".")[0]
                        if top in rank and rank[top] > rank[pkg]:
                            found.add((rel, m))
    return found


def test_no_upward_imports():
    found = upward_imports()
    assert found - KNOWN_UPWARD == set(), f"imports against the layer order {LAYERS}: {sorted(found - KNOWN_UPWARD)}"
    assert KNOWN_UPWARD - found == set(), f"fixed: remove from KNOWN_UPWARD {sorted(KNOWN_UPWARD - found)}"

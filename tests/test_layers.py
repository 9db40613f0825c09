"""The package layers stay acyclic: model → ik → gait → mjx_envs → train → playback → benchmarks.

A module may import (at module level or inside a function) only packages at its own layer or
below, with no exceptions (the last one, the ONNX check's recorded episodes in
``train/onnx_export.py`` running ``playback`` code, moved down in issue 17: the export's env lives in
``train/policy_env.py`` and the recording loop in ``train.onnx_export.record_observations``).
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["model", "ik", "gait", "mjx_envs", "train", "playback", "benchmarks"]


def upward_imports(repo=REPO):
    rank = {p: i for i, p in enumerate(LAYERS)}
    found = set()
    for pkg in LAYERS:
        for root, _, files in os.walk(os.path.join(repo, pkg)):
            for f in files:
                if not f.endswith(".py"):
                    continue
                path = os.path.join(root, f)
                rel = os.path.relpath(path, repo).replace(os.sep, "/")
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
    assert found == set(), f"imports against the layer order {LAYERS}: {sorted(found)}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The scan finds a function-level upward import (so the test above can fail)."""
    pkg = tmp_path / "ik"
    pkg.mkdir()
    (pkg / "bad.py").write_text("def f():\n    from playback.episode import run_episode\n    return run_episode\n")
    for other in LAYERS:
        if other != "ik":
            (tmp_path / other).mkdir()
    assert upward_imports(str(tmp_path)) == {("ik/bad.py", "playback.episode")}

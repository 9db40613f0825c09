"""The package layers stay acyclic: model → deploy → ik → gait → mjx_envs → train → evaluation →
playback → benchmarks.

A module may import (at module level or inside a function) only packages at its own layer or
below, with one exception: the robot check's command line (``model/check.py``) runs the nominal-gait
walk of ``evaluation.nominal`` inside its ``_nominal_walk`` function, because ``python -m model.check``
is the one command a user runs on a new robot and the walk needs the whole stack; likewise its
``_env_episodes`` function builds the training env itself (``mjx_envs`` with the gait and leg
geometry of the default configs) to run that env's own reset and episodes on the robot. Library code
of the model layer stays free of it (``physical_tests`` takes the walk and the episodes as arguments).
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["model", "deploy", "ik", "gait", "mjx_envs", "train", "evaluation", "playback", "benchmarks"]
ALLOWED = {
    ("model/check.py", "evaluation.nominal"),
    ("model/check.py", "mjx_envs.vector_env"),
    ("model/check.py", "mjx_envs.env_config"),
    ("model/check.py", "gait.gait_config"),
    ("model/check.py", "ik.leg_geometry"),
}


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
    found = upward_imports() - ALLOWED
    assert found == set(), f"imports against the layer order {LAYERS}: {sorted(found)}"


def test_the_check_sees_an_upward_import(tmp_path):
    """The scan finds a function-level upward import (so the test above can fail)."""
    pkg = tmp_path / "ik"
    pkg.mkdir()
    (pkg / "bad.py").write_text("def f():\n    from evaluation.episode import run_episode\n    return run_episode\n")
    for other in LAYERS:
        if other != "ik":
            (tmp_path / other).mkdir()
    assert upward_imports(str(tmp_path)) == {("ik/bad.py", "evaluation.episode")}

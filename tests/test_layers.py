"""The package layers stay acyclic: model → deploy → ik → gait → mjx_envs → train → evaluation →
playback → benchmarks.

A module may import (at module level or inside a function) only packages at its own layer or
below, with one exception: the robot check's command line (``model/check.py``) runs the nominal-gait
walk of ``evaluation.nominal`` inside its ``_nominal_walk`` function, because ``python -m model.check``
is the one command a user runs on a new robot and the walk needs the whole stack; likewise its
``_env_episodes`` function builds the training env itself (``mjx_envs`` with the gait and leg
geometry of the default configs) to run that env's own reset and episodes on the robot. Library code
of the model layer stays free of it (``physical_tests`` takes the walk and the episodes as arguments).

Within the layers the modules import each other without a circle (module-level and function-level
imports alike; ``if TYPE_CHECKING:`` imports are annotations only and do not count), and the robot
side (``deploy``) imports without brax or any module of the training stack.
"""

import ast
import os
import subprocess
import sys
from typing import Dict, List, Set, Tuple

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


# ------------------------------------------------------------------------------------ import cycles


def layer_modules(repo: str = REPO) -> Dict[str, str]:
    """Dotted module name -> file, for every module of the layer packages (a package is its ``__init__``)."""
    out = {}
    for pkg in LAYERS:
        for root, _, files in os.walk(os.path.join(repo, pkg)):
            for f in files:
                if f.endswith(".py"):
                    path = os.path.join(root, f)
                    name = os.path.relpath(path, repo)[: -len(".py")].replace(os.sep, ".")
                    out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


def _type_checking_only(tree: ast.AST) -> Set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks (annotations, never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skip.update(id(n) for n in ast.walk(stmt))
    return skip


def import_graph(repo: str = REPO) -> Dict[str, Set[str]]:
    """Module -> the layer modules it imports (module level and inside functions)."""
    mods = layer_modules(repo)

    def known(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: Dict[str, Set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        skip = _type_checking_only(tree)
        package = mod.split(".") if path.endswith("__init__.py") else mod.split(".")[:-1]
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            if isinstance(node, ast.Import):
                targets = [known(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name`` the module mod
                targets = [known(f"{base}.{a.name}") if f"{base}.{a.name}" in mods else known(base) for a in node.names]
            else:
                continue
            graph[mod].update(t for t in targets if t and t != mod)
    return graph


def import_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One circle ``[a, b, ..., a]`` per strongly connected group of modules (Tarjan, iterative)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[Set[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: List[Tuple[str, List[str]]] = [(root, sorted(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, todo = work[-1]
            if todo:
                w = todo.pop(0)
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, sorted(graph[w])))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.add(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(group)
    return [_circle_in(graph, g) for g in groups]


def _circle_in(graph: Dict[str, Set[str]], group: Set[str]) -> List[str]:
    """A shortest circle through the alphabetically first module of a strongly connected group."""
    start = min(group)
    came_from = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                path = [v]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return path[::-1] + [start]
            if w not in came_from:
                came_from[w] = v
                queue.append(w)
    raise AssertionError(f"no circle in the strongly connected group {sorted(group)}")


def test_no_import_cycles():
    cycles = import_cycles(import_graph())
    assert cycles == [], "modules that import each other in a circle (move one import down a layer):\n" + "\n".join(
        " -> ".join(c) for c in cycles
    )


def test_the_check_sees_an_import_cycle(tmp_path):
    """A circle closed by a function-level import is found and shown (so the test above can fail);
    a ``TYPE_CHECKING`` import and ``from pkg import mod`` are read as Python executes them."""
    for pkg in LAYERS:
        (tmp_path / pkg).mkdir()
        (tmp_path / pkg / "__init__.py").write_text("")
    (tmp_path / "gait" / "a.py").write_text("from gait import b\n")
    (tmp_path / "gait" / "b.py").write_text("import gait.c\n")
    (tmp_path / "gait" / "c.py").write_text("def f():\n    from gait.a import x\n    return x\n")
    annotation_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ik.e import E\n"
    (tmp_path / "ik" / "d.py").write_text(annotation_only)
    (tmp_path / "ik" / "e.py").write_text("from . import d\n")
    graph = import_graph(str(tmp_path))
    assert graph["gait.a"] == {"gait.b"} and graph["ik.e"] == {"ik.d"} and graph["ik.d"] == set()
    assert import_cycles(graph) == [["gait.a", "gait.b", "gait.c", "gait.a"]]


# ------------------------------------------------------------------------------------ the robot side


def test_deploy_imports_without_the_training_stack():
    """A robot-side program imports ``deploy`` alone: its modules, and loading and running the
    shipped policy, bring in no brax and no module of the layers above it."""
    code = (
        "import sys\n"
        "import numpy as np\n"
        "import deploy.export_format, deploy.exported_policy, deploy.onnx_policy\n"
        "import deploy.robot_controller, deploy.robot_loop\n"
        "from deploy.policy_loader import load_policy\n"
        "p = load_policy('policies/quad12_rough_h200')\n"
        "assert p.act(np.zeros(p.observation_size, np.float32)).shape == (p.action_size,)\n"
        f"above = {tuple(['brax'] + LAYERS[LAYERS.index('deploy') + 1 :])!r}\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in above))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"importing deploy loaded {r.stdout.strip()}"

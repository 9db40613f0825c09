"""tests/compare_world_trajectories.py (a review script) runs and writes its five non-empty PNGs."""

from __future__ import annotations

import importlib.util
import os

from random_policy_export import write_random_export

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "compare_world_trajectories.py")


def _load_script():
    spec = importlib.util.spec_from_file_location("compare_world_trajectories", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_writes_the_comparison_pngs(tmp_path, capsys):
    script = _load_script()
    export = write_random_export(str(tmp_path / "run"))
    out = tmp_path / "cmp"
    paths = script.main(["--policy", export, "--out", str(out), "--duration", "0.5"])
    assert sorted(os.path.basename(p) for p in paths) == sorted(f"{n}.png" for n in script.PLOTS)
    for p in paths:
        assert os.path.isfile(p) and os.path.getsize(p) > 5000
        with open(p, "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    for line in ("nominal  flat", "nominal  rough", "policy   flat", "policy   rough"):
        assert line in printed

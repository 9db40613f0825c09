"""benchmarks/env_throughput.py in --quick mode writes well-formed results (the learning-signal and
time-to-walk scripts are exercised on a real run in tests/test_train_brax.py)."""

import json
import os

import pytest

from benchmarks import env_throughput

pytestmark = pytest.mark.slow


def test_env_throughput_quick_writes_results(tmp_path):
    out = str(tmp_path)
    res = env_throughput.main(["--quick", "--out", out])
    stem = env_throughput.device_name() + "_quick"
    data = json.load(open(os.path.join(out, stem + ".json")))
    backends = [r["backend"] for r in data["rows"]]
    assert "mjx" in backends and "gym x1" in backends and backends[-1].startswith("mj_step")
    for name in ("cmujoco vec, 1 thr", "rollout (floor), 1 thr", "gym single (metrics off)", "cmujoco brax env"):
        assert name in backends, backends
    assert all(r["steps_per_s"] > 0 for r in data["rows"])
    vec = next(r for r in data["rows"] if r["backend"] == "cmujoco vec, 1 thr")
    assert 0 < vec["ratio_to_rollout"] <= 1.5  # the back end cannot beat bare physics by much
    single = next(r for r in data["rows"] if r["backend"] == "gym single (metrics off)")
    assert single["ratio_to_mj_step"] >= 0.9  # logic costs something: >= its physics alone
    assert data["compile"]["compile_step_s"] > 0 and data["compile"]["compile_batched_rollouts_s"] > 0
    assert data["versions"]["mujoco"] and "partial" not in data  # the final write, not a stage's
    md = open(os.path.join(out, stem + ".md")).read()
    assert "| backend | envs | control steps/s | ratio to gym x1 | ratio to its floor |" in md
    assert os.path.getsize(os.path.join(out, stem + ".png")) > 1000
    assert res["rows"] == data["rows"]


def test_compare_runs_tables_learning_curves(tmp_path):
    """Eval rows of two progress files side by side: table, JSON, PNG; bad input exits with status 2."""
    import json

    from benchmarks import compare_runs

    for name, errs in (("a", (0.17, 0.12, 0.10)), ("b", (0.17, 0.13, 0.11))):
        run = tmp_path / name
        run.mkdir()
        rows = [{"kind": "zero_residual", "step": 0, "time_s": 1.0, "reward": 10.0, "fall_rate": 0.3,
                 "vel_tracking_error_per_step": 0.17, "yaw_rate_error_per_step": 0.5},
                {"kind": "train", "step": 5}]
        rows += [{"kind": "eval", "step": 1000 * k, "time_s": 2.0 + k, "reward": 10.0 + k, "fall_rate": 0.3,
                  "vel_tracking_error_per_step": e, "yaw_rate_error_per_step": 0.4} for k, e in enumerate(errs)]
        (run / "progress.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out"
    assert (
        compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b"), "--labels", "res", "mod", "--out", str(out)]) == 0
    )
    data = json.loads((out / "learning_curves.json").read_text())
    assert [r["vel_tracking_error_per_step"] for r in data["runs"]["mod"]["evals"]] == [0.17, 0.13, 0.11]
    md = (out / "learning_curves.md").read_text()
    assert "| res | 2,000 | 4 | 12.0 | 0.300 | 0.100 | 0.400 |" in md
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert compare_runs.main([str(tmp_path / "missing"), "--out", str(out)]) == 2

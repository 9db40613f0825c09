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
    assert all(r["steps_per_s"] > 0 for r in data["rows"])
    assert data["compile"]["compile_step_s"] > 0 and data["compile"]["compile_batched_rollouts_s"] > 0
    assert data["versions"]["mujoco"] and "partial" not in data  # the final write, not a stage's
    md = open(os.path.join(out, stem + ".md")).read()
    assert "| backend | envs | control steps/s | ratio to gym x1 |" in md
    assert os.path.getsize(os.path.join(out, stem + ".png")) > 1000
    assert res["rows"] == data["rows"]

"""benchmarks/env_throughput.py and profile_step.py in --quick mode write well-formed results, the
physics-economy verdict is right (the learning-signal and
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
        rows = [
            {
                "kind": "zero_residual",
                "step": 0,
                "time_s": 1.0,
                "reward": 10.0,
                "fall_rate": 0.3,
                "vel_tracking_error_per_step": 0.17,
                "yaw_rate_error_per_step": 0.5,
            },
            {"kind": "train", "step": 5},
        ]
        rows += [
            {
                "kind": "eval",
                "step": 1000 * k,
                "time_s": 2.0 + k,
                "reward": 10.0 + k,
                "fall_rate": 0.3,
                "vel_tracking_error_per_step": e,
                "yaw_rate_error_per_step": 0.4,
            }
            for k, e in enumerate(errs)
        ]
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


def test_unwritable_output_dirs_exit_2_before_any_work(tmp_path, capsys, monkeypatch):
    """``python -m benchmarks.NAME`` (benchmarks.cli.run): an unwritable --out / --output-dir is an
    ``error:`` line and exit status 2 before anything is timed or trained."""
    from benchmarks import cli, profile_step, time_to_walk

    def must_not_run(*args, **kwargs):
        raise AssertionError("nothing may run before the output directories are checked")

    afile = tmp_path / "afile"
    afile.write_text("a regular file")
    monkeypatch.setattr(profile_step, "run", must_not_run)
    monkeypatch.setattr(time_to_walk, "load_walk_bar", must_not_run)
    assert cli.run(profile_step.main, ["--quick", "--out", str(afile / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {afile / 'out'}: cannot write there ({afile} is a file"), err
    assert cli.run(time_to_walk.main, ["--out", str(tmp_path / "res"), "--output-dir", str(afile / "runs")]) == 2
    assert capsys.readouterr().err.startswith(f"error: --output-dir {afile / 'runs'}: cannot write there")


def test_profile_step_quick_writes_results(tmp_path):
    """Every part is timed (positive µs per env step) and the table has them in order."""
    from benchmarks import profile_step

    res = profile_step.main(["--quick", "--out", str(tmp_path)])
    (row,) = res["rows"]
    assert row["backend"] == "cmujoco" and row["world"] == "flat" and row["batch"] == 16
    us = row["us_per_env_step"]
    assert set(us) == set(profile_step.PARTS) and all(v > 0 for v in us.values()), us
    # the full step runs gait + IK, physics and post-physics, so it costs at least its physics
    assert us["full step"] > us["physics"], us
    data = json.load(open(os.path.join(str(tmp_path), f"profile_step_{res['device']}_quick.json")))
    assert data["rows"] == res["rows"] and data["learner"]["update_per_env_step_s"] > 0
    md = open(os.path.join(str(tmp_path), f"profile_step_{res['device']}_quick.md")).read()
    assert "| back end | world | gait + IK | physics | obs + reward + done | full step | policy | PPO update |" in md


def test_physics_economy_judgement():
    """The sweep's verdict: a setting passes only within every tolerance of the baseline, and the
    fastest passing setting is picked per world (synthetic rows; the sweep itself is too slow for CI
    on a CPU: ~90 s per setting and world, most of it MJX compilation)."""
    from benchmarks.physics_economy import fastest_keeping, judge, parse_setting

    assert parse_setting("1/5/feet") == (1, 5, "feet")

    def row(setting, world, sps, drift=0.001, rew=0.001, succ=1.0, dist=2.0):
        return {
            "setting": setting,
            "world": world,
            "mjx_steps_per_s": sps,
            "drift_max_m": drift,
            "reward_rel": rew,
            "walk_success": succ,
            "walk_distance_m": dist,
        }

    rows = [
        row("4/8/all", "flat", 100),
        row("1/5/all", "flat", 150),
        row("1/5/feet", "flat", 200, drift=0.05),
        row("4/8/all", "rough", 100),
        row("1/5/all", "rough", 130, dist=1.85),
        row("2/4/all", "rough", 120),
    ]
    judge(rows, "4/8/all")
    verdict = {(r["world"], r["setting"]): r["keeps_parity_and_walking"] for r in rows}
    assert verdict == {
        ("flat", "4/8/all"): True,
        ("flat", "1/5/all"): True,
        ("flat", "1/5/feet"): False,
        ("rough", "4/8/all"): True,
        ("rough", "1/5/all"): False,
        ("rough", "2/4/all"): True,
    }
    assert rows[2]["checks"]["parity_drift"] is False and rows[4]["checks"]["walk_distance"] is False
    assert fastest_keeping(rows) == {"flat": "1/5/all", "rough": "2/4/all"}
    assert rows[1]["mjx_speedup"] == pytest.approx(1.5)


def test_walk_bars_load_and_refuse_bad_tiles(tmp_path):
    from benchmarks.time_to_walk import load_walk_bar
    from model.yaml_config import ConfigError

    rough, suite = load_walk_bar(), load_walk_bar("configs/walk_bar_suite.yaml")
    assert rough.world == "rough" and rough.bands == (4, 5)
    assert (suite.world, suite.types, suite.levels, suite.episodes) == ("suite", ("stepping_stones",), (2, 3, 4, 5), 8)
    assert suite.terrain_seed != 0  # held out from training
    for bad, msg in (("types: [lava]", "suite terrain types"), ("episodes: 6", "multiple of the 4 tiles")):
        path = tmp_path / "bar.yaml"
        text = open("configs/walk_bar_suite.yaml").read()
        key = bad.split(":")[0]
        text = "\n".join(line for line in text.splitlines() if not line.startswith(key + ":")) + "\n" + bad + "\n"
        path.write_text(text)
        with pytest.raises(ConfigError, match=msg):
            load_walk_bar(str(path))


def _ablation_run(arm, seed, walk_step, stones_ok, ret):
    # episode summaries as evaluation.episode_metrics.summarize_episode writes them
    template = {
        "steps": 1000,
        "time_s": 20.0,
        "nan_physics": False,
        "out_of_bounds": False,
        "stalled": False,
        "mean_forward_speed_mps": 0.3,
        "yaw_rate_error_radps": 0.1,
        "cost_of_transport": None,
        "energy_j": 100.0,
        "joint_limit_violations": 0,
        "actuator_saturation_rate": 0.0,
        "ik_saturation_rate": 0.0,
        "return": 10.0,
    }
    eps = [
        {
            **template,
            "terrain_type": "stepping_stones",
            "fell": i >= stones_ok,
            "vel_tracking_error_mps": 0.1 + 0.1 * seed,
            "distance_m": float(i),
        }
        for i in range(4)
    ]
    from benchmarks.ablation import per_type

    report = {"results": {"policy": {"suite": {"episodes": eps}}}}
    return {
        "arm": arm,
        "seed": seed,
        "run_dir": f"r{arm}{seed}",
        "env_steps": 1000,
        "wall_time_s": 10.0,
        "final_return": ret,
        "zero_residual_reward": 1.0,
        "curve": [{"step": 0, "reward": 1.0}, {"step": 1000, "reward": ret}],
        "walks": {
            "suite": None if walk_step is None else {"step": walk_step, "wall_time_s": walk_step / 100.0},
            "rough": {"step": 100, "wall_time_s": 1.0},
        },
        "per_type": per_type(report, "policy"),
    }


def test_ablation_aggregates_seeds_per_arm_and_writes_its_tables(tmp_path):
    from benchmarks import ablation

    runs = [
        _ablation_run("suite", 0, 500, 4, 10.0),
        _ablation_run("suite", 1, None, 2, 8.0),
        _ablation_run("direct", 0, None, 0, 2.0),
        _ablation_run("direct", 1, None, 1, 4.0),
    ]
    agg = ablation.aggregate(runs)
    walks = agg["suite"]["walks"]["suite"]
    assert walks["walked"] == 1 and walks["steps_to_walk"] == 500  # mean over the runs that walked
    assert agg["direct"]["walks"]["suite"]["walked"] == 0 and agg["direct"]["walks"]["suite"]["steps_to_walk"] is None
    assert agg["direct"]["walks"]["rough"] == {"walked": 2, "steps_to_walk": 100, "wall_to_walk_s": 1.0}
    assert agg["suite"]["per_type"]["stepping_stones"]["success_rate"] == pytest.approx(0.75)
    assert agg["direct"]["per_type"]["stepping_stones"]["success_rate"] == pytest.approx(0.125)
    assert agg["suite"]["final_return_std"] == pytest.approx(2**0.5)
    assert agg["suite"]["per_type"]["stepping_stones"]["distance_m"] == pytest.approx(1.5)
    result = {
        "device": "test",
        "versions": {},
        "command": "x",
        "preset": "ci_tiny",
        "seeds": [0, 1],
        "env_steps": 1000,
        "bars": {"suite": "suite bar", "rough": "rough bar"},
        "nominal_walks": {"suite": False, "rough": True},
        "eval": "eval",
        "runs": runs,
        "aggregate": agg,
        "nominal_per_type": {
            "stepping_stones": {"success_rate": 0.0, "vel_tracking_error_mps": 0.3, "distance_m": 0.5}
        },
    }
    md = open(ablation.write(result, "ablation_test", str(tmp_path))).read()
    assert "| residual | 1 of 2 | 500 | 5 | 2 of 2 | 100 | 1 | 9.0 ± 1.4 |" in md
    assert "| direct joint targets | 0 of 2 | — | — | 2 of 2 | 100 | 1 | 3.0 ± 1.4 |" in md
    assert "| nominal gait | misses it | — | — | meets it | — | — | — |" in md
    assert "| residual | 1.50 |" in md and "| nominal gait | 0.50 |" in md
    assert "| residual | 0 | 1,000 | 10 | 500 | 100 | 10.0 |" in md
    assert "| nominal gait | 0% |" in md and (tmp_path / "ablation_test.png").is_file()
    # a reference other than the plain gait is named (the first arm whose zero action is a gait)
    assert ablation.GAIT_ARMS == ("suite", "modulated", "footholds")
    md = open(ablation.write({**result, "nominal_label": "foothold gait (zero residual)"}, "t2", str(tmp_path))).read()
    assert "| foothold gait (zero residual) | 0% |" in md and "| nominal gait |" not in md


def test_ablation_reuses_only_finished_runs(tmp_path):
    """--reuse takes the newest run of an arm and seed whose progress.jsonl has a ``done`` record;
    a run killed mid-training (no ``done``) is trained again."""
    import json as _json

    from benchmarks.ablation import finished_run

    def run(name, records):
        d = tmp_path / name
        d.mkdir()
        (d / "progress.jsonl").write_text("".join(_json.dumps({"kind": k}) + "\n" for k in records))
        return str(d)

    old = run("20261127_1424_ablation_suite_s0", ["device", "eval", "done"])
    assert finished_run(str(tmp_path), "suite", 0) == old
    run("20261127_1441_ablation_suite_s1", ["device", "eval"])  # killed
    assert finished_run(str(tmp_path), "suite", 1) is None
    assert finished_run(str(tmp_path), "direct", 0) is None
    new = run("20261127_1500_ablation_suite_s0", ["device", "done"])
    assert finished_run(str(tmp_path), "suite", 0) == new
    (tmp_path / "20261127_1510_ablation_suite_s0").mkdir()  # no progress file yet
    assert finished_run(str(tmp_path), "suite", 0) == new


def test_height_scan_cost_quick_writes_results(tmp_path):
    """C-MuJoCo rows only (MJX compiles for minutes on a CPU): one row per terrain input, timed
    and compared with no terrain input."""
    from benchmarks import height_scan_cost

    res = height_scan_cost.main(["--quick", "--skip-mjx", "--out", str(tmp_path)])
    rows = {r["variant"]: r for r in res["rows"]}
    assert set(rows) == {"none", "foot_samples", "height_scan", "footholds"} and res["scan_points"] == 176
    assert rows["none"]["ratio_to_none"] == 1.0 and all(r["ms_per_batched_step"] > 0 for r in rows.values())
    md = open(os.path.join(str(tmp_path), f"height_scan_cost_{res['device']}_quick.md")).read()
    assert "| cmujoco | footholds |" in md and "python -m benchmarks.height_scan_cost --quick" in md


def test_time_to_walk_reference_is_the_runs_own_gait(tmp_path, monkeypatch):
    """The walk bar's reference is the gait the run's policy corrects: its first checkpoint's export
    at action scale 0 (the run's env: footholds, randomisation), not the default plain gait; a run
    whose zero action is no gait (``direct``) falls back to the nominal gait and says so."""
    import train.checkpoints
    import train.export
    from benchmarks import time_to_walk as ttw

    calls = []

    def fake_judge(policy, bar, processes=1, action_scale=1.0):
        calls.append((policy and os.path.basename(policy), action_scale))
        return {"success_rate": 0.0, "speed_fraction": 0.5, "distance_m_mean": 1.0, "walks": False}

    monkeypatch.setattr(train.checkpoints, "list_checkpoints", lambda d: [(512, "a"), (1024, "b")])
    monkeypatch.setattr(train.checkpoints, "read_state", lambda p: {"wall_time_s": 1.0})
    monkeypatch.setattr(ttw, "judge", fake_judge)
    for mode in ("residual", "direct"):

        def fake_export(run_dir, out_dir, step=None, mode=mode):
            os.makedirs(out_dir)
            with open(os.path.join(out_dir, "meta.json"), "w") as fh:
                json.dump({"config": {"env": {"action_mode": mode}}}, fh)
            return out_dir

        monkeypatch.setattr(train.export, "export_checkpoint", fake_export)
        calls.clear()
        res = ttw.judge_run(str(tmp_path), ttw.load_walk_bar(), stop_at_first=False, log=lambda s: None)
        first = ("s512", 0.0) if mode == "residual" else (None, 1.0)
        assert calls == [first, ("s512", 1.0), ("s1024", 1.0)], calls
        assert [c["step"] for c in res["checkpoints"]] == [512, 1024]
        assert res["nominal"]["reference"].startswith("the run's gait" if mode == "residual" else "the nominal gait")

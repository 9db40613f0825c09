"""python -m evaluation.evaluate: files and metrics, nominal mode = env with zero action, falls/NaN, bad inputs."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from random_policy_export import write_random_export

from evaluation import evaluate as cli
from evaluation import evaluate as ev
from evaluation.episode import EpisodeRecord, episode_key
from evaluation.episode_metrics import aggregate, cost_of_transport, forward_distance, summarize_episode
from evaluation.episode_records import EpisodeRecords, output_dir, read_records, records_path
from mjx_envs.policy_env import default_configs, make_env, with_world
from train.output_paths import OutputPathError

SUMMARY_KEYS = {
    "episodes",
    "success_rate",
    "falls",
    "nan_physics",
    "out_of_bounds",
    "distance_m_mean",
    "distance_m_std",
    "mean_forward_speed_mps",
    "vel_tracking_error_mps",
    "yaw_rate_error_radps",
    "cost_of_transport",
    "energy_j_mean",
    "joint_limit_violations",
    "actuator_saturation_rate",
    "ik_saturation_rate",
    "time_s_mean",
    "return_mean",
}
EPISODE_KEYS = {
    "episode",
    "world",
    "controller",
    "terrain_level",
    "command",
    "steps",
    "time_s",
    "fell",
    "fall_time_s",
    "nan_physics",
    "out_of_bounds",
    "distance_m",
    "env_distance_m",
    "displacement_m",
    "mean_forward_speed_mps",
    "vel_tracking_error_mps",
    "yaw_rate_error_radps",
    "energy_j",
    "cost_of_transport",
    "joint_limit_violations",
    "actuator_saturation_rate",
    "ik_saturation_rate",
    "min_trunk_height_m",
    "return",
}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return write_random_export(str(tmp_path_factory.mktemp("run")))


def _finished(rc, capsys, out):
    """(captured output, evaluation.json) of a command that must have exited 0."""
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    with open(os.path.join(out, "evaluation.json")) as fh:
        return printed, json.load(fh)


def test_two_episodes_write_json_markdown_and_plots(export_dir, tmp_path, capsys):
    out = str(tmp_path / "eval")
    rc = ev.main(
        [
            "--policy",
            export_dir,
            "--episodes",
            "2",
            "--duration",
            "0.5",
            "--out",
            out,
            "--physics-threads",
            "1",
            "--band",
            "1",
            "3",
        ]
    )
    printed, data = _finished(rc, capsys, out)
    assert set(data["results"]) == {"policy", "nominal"}
    for controller, per in data["results"].items():
        assert set(per) == {"flat", "rough"}
        for world, res in per.items():
            s = res["summary"]
            assert SUMMARY_KEYS <= set(s), SUMMARY_KEYS - set(s)
            assert s["episodes"] == 2 and 0.0 <= s["success_rate"] <= 1.0
            assert s["falls"] == sum(e["fell"] for e in res["episodes"])
            assert 0.0 <= s["actuator_saturation_rate"] <= 1.0 and 0.0 <= s["ik_saturation_rate"] <= 1.0
            for e in res["episodes"]:
                assert EPISODE_KEYS <= set(e), EPISODE_KEYS - set(e)
                assert math.isfinite(e["distance_m"]) and abs(e["distance_m"]) < 2.0
                assert 0 < e["steps"] <= 25 and e["energy_j"] >= 0.0
            assert [e["terrain_level"] for e in res["episodes"]] == ([1, 3] if world == "rough" else [None, None])
    # same episodes for both controllers: same commands
    assert [e["command"] for e in data["results"]["policy"]["flat"]["episodes"]] == [
        e["command"] for e in data["results"]["nominal"]["flat"]["episodes"]
    ]
    assert data["mass_kg"] > 5 and data["gravity_mps2"] == pytest.approx(9.81)
    with open(os.path.join(out, "evaluation.md")) as fh:
        md = fh.read()
    for row in ("| policy | flat | 2 |", "| policy | rough | 2 |", "| nominal | flat | 2 |", "| nominal | rough | 2 |"):
        assert row in md
    assert "cost_of_transport" in md and "![distance per episode](distance_per_episode.png)" in md
    for png in ("distance_per_episode.png", "forward_speed.png"):
        with open(os.path.join(out, png), "rb") as fh:
            head = fh.read(8)
        assert head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(os.path.join(out, png)) > 5000
    assert "| nominal | rough | 2 |" in printed.out and "evaluation.json" in printed.out
    # the per-episode records were written as the batches finished: the same numbers as the report
    recs = read_records(os.path.join(out, "evaluation.episodes.jsonl"))
    kept = sorted((r["controller"], r["world"], r["episode"], r["distance_m"]) for r in recs)
    assert len(recs) == 8 and kept == sorted(
        (e["controller"], e["world"], e["episode"], e["distance_m"])
        for per in data["results"].values()
        for res in per.values()
        for e in res["episodes"]
    )


def test_nominal_mode_is_the_env_with_zero_action_step_for_step():
    """evaluate_policy(None) == a hand-written loop over the same env, keys and bands with action 0.

    Same process, same jitted functions, same inputs: the per-step metrics must be bit-identical
    (tolerance 0); the summary numbers must equal the ones recomputed from them (1e-12).
    """
    duration, bands = 0.4, (4,)
    report = ev.evaluate_policy(
        None,
        episodes=2,
        duration=duration,
        worlds=("flat", "rough"),
        bands=bands,
        seed=7,
        threads=1,
        keep_records=True,
    )
    configs = default_configs()
    for world in ("flat", "rough"):
        env = make_env(with_world(configs, world))
        n = int(round(duration / env.ctx.sim.control_dt))
        for i, (rec, summ) in enumerate(
            zip(report["records"]["nominal"][world], report["results"]["nominal"][world]["episodes"])
        ):
            options = {"key": episode_key(7, i), **({"terrain_level": bands[0]} if world == "rough" else {})}
            env.reset(options=options)
            power, fwd, rew, pos = [], [], [], [env.data.qpos[:3].copy()]
            for _ in range(n):
                _, r, term, _, info = env.step(np.zeros(12, np.float32))
                power.append(info["metrics"]["power"])
                fwd.append(info["metrics"]["forward_velocity"])
                rew.append(r)
                pos.append(env.data.qpos[:3].copy())
                if term:
                    break
            np.testing.assert_array_equal(rec.metric("power"), power)
            np.testing.assert_array_equal(rec.metric("forward_velocity"), fwd)
            np.testing.assert_array_equal(rec.reward, rew)
            np.testing.assert_array_equal(rec.trunk_pos, np.asarray(pos))
            assert summ["env_distance_m"] == info["distance"]
            assert summ["energy_j"] == pytest.approx(sum(power) * env.ctx.sim.control_dt, abs=1e-12)
            assert summ["return"] == pytest.approx(sum(rew), abs=1e-12)
            if world == "rough":
                assert summ["terrain_level"] == bands[0]
        env.close()


def _record(n=50, fall_at=None, nan_at=None, dt=0.02, speed=0.3) -> EpisodeRecord:
    steps = n if fall_at is None and nan_at is None else (fall_at or nan_at)
    pos = np.zeros((steps + 1, 3))
    pos[:, 0] = speed * dt * np.arange(steps + 1)
    pos[:, 2] = 0.27
    quat = np.tile([1.0, 0, 0, 0], (steps + 1, 1))
    metrics = {
        k: np.zeros(steps)
        for k in (
            "fell",
            "nan_physics",
            "out_of_bounds",
            "power",
            "vel_tracking_error",
            "yaw_rate_error",
            "joint_limit_violations",
            "actuator_saturated",
            "ik_saturated",
            "forward_velocity",
        )
    }
    metrics["power"][:] = 30.0
    metrics["ik_saturated"][:] = 1.0
    if fall_at is not None:
        metrics["fell"][-1] = 1.0
        pos[-1, 2] = 0.1
    if nan_at is not None:
        metrics["nan_physics"][-1] = 1.0
        pos[-1] = [0.0, 0.0, 0.0]  # MuJoCo reset the state: the last row must be ignored
    return EpisodeRecord(
        dt=dt,
        world="flat",
        terrain_level=0,
        command=np.array([speed, 0, 0]),
        trunk_pos=pos,
        trunk_quat=quat,
        foot_pos=np.zeros((steps + 1, 4, 3)),
        trunk_ground=np.zeros(steps + 1),
        foot_ground=np.zeros((steps + 1, 4)),
        action=np.zeros((steps, 12)),
        reward=np.ones(steps),
        metrics=metrics,
        env_distance=float(pos[-1, 0]),
        terminated=fall_at is not None or nan_at is not None,
        physics_diverged=nan_at is not None,
    )


def test_falls_and_nan_physics_are_counted_gracefully():
    ok = summarize_episode(_record(), 12.0, 9.81)
    assert not ok["fell"] and ok["distance_m"] == pytest.approx(0.3 * 0.02 * 50)
    assert ok["mean_forward_speed_mps"] == pytest.approx(0.3)
    assert ok["cost_of_transport"] == pytest.approx(30.0 * 1.0 / (12.0 * 9.81 * 0.3))
    assert ok["ik_saturation_rate"] == pytest.approx(0.25)
    fell = summarize_episode(_record(fall_at=20), 12.0, 9.81)
    assert fell["fell"] and fell["fall_time_s"] == pytest.approx(0.4) and not fell["nan_physics"]
    nan = summarize_episode(_record(nan_at=30), 12.0, 9.81)
    assert nan["fell"] and nan["nan_physics"]
    assert nan["distance_m"] == pytest.approx(0.3 * 0.02 * 29)  # up to the last good state
    agg = aggregate([ok, fell, nan])
    assert agg["success_rate"] == pytest.approx(1 / 3) and agg["falls"] == 2 and agg["nan_physics"] == 1
    assert all(v is None or math.isfinite(v) for v in agg.values())
    assert cost_of_transport(10.0, 12.0, 9.81, 0.05) is None  # too short to define
    quat = np.tile([np.cos(0.5), 0, 0, np.sin(0.5)], (3, 1))  # yaw 1 rad, walking along it
    pos = np.array([[0, 0, 0], [np.cos(1), np.sin(1), 0], [2 * np.cos(1), 2 * np.sin(1), 0]])
    assert forward_distance(pos, quat) == pytest.approx(2.0)


def test_bad_inputs_exit_2(tmp_path, capsys):
    missing = str(tmp_path / "nope")
    assert ev.main(["--policy", missing, "--episodes", "1", "--out", str(tmp_path / "o")]) == 2
    assert missing in capsys.readouterr().err
    bad = write_random_export(str(tmp_path / "terrain_run"), terrain_layout=True)
    # --processes: the deprecated name of --physics-threads, still accepted
    assert ev.main(["--policy", bad, "--episodes", "1", "--out", str(tmp_path / "o"), "--processes", "1"]) == 2
    assert "observation layout mismatch: export has terrain_height (20)" in capsys.readouterr().err
    assert ev.main(["--episodes", "1"]) == 2
    with pytest.raises(ValueError, match="band 7 out of range"):
        ev.evaluate_policy(None, episodes=1, duration=0.1, bands=(7,))
    assert not os.path.exists(tmp_path / "o")


def test_off_map_truncation_is_off_terrain_not_a_fall():
    """A record the env truncated because the robot left the map: off terrain, success, no fall."""
    rec = _record(n=30)
    rec.off_map = True
    rec.metrics["off_map"] = np.zeros(30)
    rec.metrics["off_map"][-1] = 1.0
    rec.metrics["out_of_bounds"][-1] = 1.0
    s = summarize_episode(rec, 12.0, 9.81)
    assert s["out_of_bounds"] and s["off_map"] and not s["fell"] and s["fall_time_s"] is None
    agg = aggregate([s, summarize_episode(_record(fall_at=10), 12.0, 9.81)])
    assert agg["success_rate"] == pytest.approx(0.5) and agg["falls"] == 1
    assert agg["out_of_bounds"] == agg["off_map"] == 1
    stuck = summarize_episode(_record(n=100, speed=0.05), 12.0, 9.81)  # commanded 0.05 m/s * 2 s: too short to tell
    assert not stuck["stalled"]
    rec = _record(n=100, speed=0.3)
    rec.trunk_pos[:, 0] *= 0.2  # walked 20 % of the commanded 0.6 m
    stuck = summarize_episode(rec, 12.0, 9.81)
    assert stuck["stalled"] and not stuck["fell"] and aggregate([stuck])["stalled"] == 1
    assert aggregate([stuck])["success_rate"] == 1.0


def test_suite_evaluation_per_tile_table_and_heat_map(export_dir, tmp_path, capsys):
    """2 types x 2 levels, 1 episode per tile, 0.5 s: the per-tile tables, the heat map, the
    held-out terrain seed, and the same tiles and commands for the policy and the nominal gait."""
    out = str(tmp_path / "suite_eval")
    rc = ev.main(
        [
            "--policy",
            export_dir,
            "--worlds",
            "suite",
            "--levels",
            "0",
            "5",
            "--types",
            "rough",
            "stairs_up",
            "--episodes",
            "1",
            "--duration",
            "0.5",
            "--out",
            out,
            "--physics-threads",
            "1",
        ]
    )
    printed, data = _finished(rc, capsys, out)
    suite = data["settings"]["suite"]
    assert suite["terrain_seed"] == ev.SUITE_EVAL_TERRAIN_SEED == 1000
    assert suite["levels"] == [0, 5] and suite["types"] == ["rough", "stairs_up"] and suite["tiles"] == 4
    assert data["settings"]["command_ranges"]["vx"] == [-0.6, 1.0]  # the export's (joystick) ranges
    tiles = [("rough", 0), ("stairs_up", 0), ("rough", 5), ("stairs_up", 5)]  # level-major round robin
    for controller in ("policy", "nominal"):
        res = data["results"][controller]["suite"]
        eps = res["episodes"]
        assert [(e["terrain_type"], e["terrain_level"]) for e in eps] == tiles
        assert [e["episode"] for e in eps] == [0, 1, 2, 3]
        # 0.5 s after the spawn the trunk is still on its tile (the spawn really is on the tile)
        assert [(e["end_terrain_type"], e["end_terrain_level"]) for e in eps] == tiles
        assert all(e["on_tile_fraction"] == 1.0 for e in eps)
        assert res["summary"]["episodes"] == 4
        rows = res["tiles"]
        assert [(r["terrain_type"], r["terrain_level"]) for r in rows] == tiles
        for r in rows:
            assert r["episodes"] == 1 and r["success_rate"] in (0.0, 1.0)
            assert {"distance_m_mean", "vel_tracking_error_mps", "falls", "off_map", "stalled", "left_tile"} <= set(r)
    assert [e["command"] for e in data["results"]["policy"]["suite"]["episodes"]] == [
        e["command"] for e in data["results"]["nominal"]["suite"]["episodes"]
    ]
    assert isinstance(data["suite_gait_failures"], list) and isinstance(data["suite_gait_stalls"], list)
    with open(os.path.join(out, "evaluation.md")) as fh:
        md = fh.read()
    for text in (
        "## Terrain suite",
        "### Where the gait fails",
        "### policy: per tile",
        "### nominal: per tile",
        "### nominal: success per level (rows) and type (columns)",
        "| level | rough | stairs_up |",
        "| type | level | episodes | success | distance (m) | vel. error (m/s) | falls | off map |",
        "| policy | suite | 4 |",
        "terrain seed 1000",
        "![suite success](suite_success.png)",
    ):
        assert text in md, text
    assert "| stairs_up | 5 | 1 |" in md
    png = os.path.join(out, "suite_success.png")
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert os.path.getsize(png) > 5000


def test_suite_tasks_and_failures_table():
    tiles = ev.suite_tiles([1, 2], ["obstacles", "rough"])
    assert tiles == [(1, 5), (1, 0), (2, 5), (2, 0)]
    tasks = ev.episode_tasks(["nominal"], ["suite", "flat"], 2, tiles=tiles)
    suite = [t for t in tasks if t.world == "suite"]
    assert len(suite) == 8 and len(tasks) == 10  # --episodes is per tile on the suite
    assert [(t.level, t.terrain_type) for t in suite] == tiles * 2 and [t.index for t in suite] == list(range(8))
    rows = [
        {"terrain_type": "rough", "terrain_level": 3, "success_rate": 0.25, "falls": 3, "episodes": 4},
        {"terrain_type": "rough", "terrain_level": 1, "success_rate": 0.5, "falls": 2, "episodes": 4},
        {"terrain_type": "obstacles", "terrain_level": 0, "success_rate": 0.0, "falls": 4, "episodes": 4},
    ]
    assert [(f["terrain_type"], f["terrain_level"]) for f in ev.gait_failures(rows)] == [("rough", 3), ("obstacles", 0)]
    rows = [{**r, "stalled": s} for r, s in zip(rows, (2, 1, 0))]
    assert [(f["terrain_type"], f["terrain_level"]) for f in ev.gait_stalls(rows)] == [("rough", 3)]


def test_bad_suite_arguments_exit_2(capsys):
    assert ev.main(["--no-residual", "--worlds", "suite", "--types", "lava", "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert "lava" in err and "stepping_stones" in err
    assert ev.main(["--no-residual", "--worlds", "suite", "--levels", "8", "--episodes", "1"]) == 2
    assert "suite level 8 out of range 0..7" in capsys.readouterr().err


# ------------------------------------------------------------------- unwritable --out, records kept


def _must_not_run(*args, **kwargs):
    raise AssertionError("nothing may load or run before --out is checked")


def test_unwritable_out_exits_2_before_anything_runs(export_dir, tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("a regular file")
    for name in ("load_policy", "evaluate_policy"):
        monkeypatch.setattr(cli, name, _must_not_run)
    monkeypatch.setattr(cli.command_eval, "RUNNERS", dict.fromkeys(cli.command_eval.MODES, _must_not_run))
    for mode in ("episodes", "all"):
        assert ev.main(["--policy", export_dir, "--mode", mode, "--out", str(afile / "out")]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --out {afile / 'out'}: cannot write there ({afile} is a file"), err


def test_records_survive_a_failing_report_and_are_named(export_dir, tmp_path, capsys, monkeypatch):
    def disk_full(report, out_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli, "write_report", disk_full)
    out = tmp_path / "eval"
    assert (
        ev.main(
            [
                "--policy",
                export_dir,
                "--episodes",
                "2",
                "--duration",
                "0.5",
                "--worlds",
                "flat",
                "--physics-threads",
                "1",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    path = out / "evaluation.episodes.jsonl"
    assert "No space left on device" in err and f"the 4 finished episode(s) are in {path}" in err, err
    assert len(path.read_text().splitlines()) == 4  # one line per episode
    recs = read_records(str(path))
    assert [(r["controller"], r["world"], r["episode"]) for r in recs] == [
        ("policy", "flat", 0),
        ("policy", "flat", 1),
        ("nominal", "flat", 0),
        ("nominal", "flat", 1),
    ]
    assert EPISODE_KEYS <= set(recs[0])


def test_episode_records_file(tmp_path, capsys):
    path = records_path(str(tmp_path), "evaluation")
    assert path == str(tmp_path / "evaluation.episodes.jsonl")
    with open(path, "w") as fh:
        fh.write("stale line of an earlier run\n")
    log = EpisodeRecords(path)
    assert log.where() == ""
    log.append([{"episode": 0, "x": np.float32(0.5), "bad": float("nan")}])  # the first batch starts the file
    log.append([])
    log.append([{"episode": 1, "x": np.int64(2), "v": np.arange(2)}])
    assert read_records(path) == [{"episode": 0, "x": 0.5, "bad": None}, {"episode": 1, "x": 2, "v": [0, 1]}]
    assert log.count == 2 and log.where() == f"the 2 finished episode(s) are in {path} (one JSON line per episode)"
    with open(path, "a") as fh:
        fh.write('{"episode": 2, "x"')  # killed while writing a line: the torn line is left out
    assert len(read_records(path)) == 2
    broken = EpisodeRecords(str(tmp_path / "no_dir" / "r.jsonl"))
    broken.append([{"episode": 0}])  # cannot write: a warning, the run goes on
    assert "warning: cannot write the episode records" in capsys.readouterr().err
    assert "could not be written either" in broken.where()


def test_output_dir_is_removed_again_when_the_work_fails_before_writing(tmp_path):
    new = tmp_path / "a" / "b"
    with pytest.raises(ValueError):
        with output_dir(str(new)) as full:
            assert full == str(new) and new.is_dir()
            raise ValueError("bad input found later")
    assert not (tmp_path / "a").exists()
    with pytest.raises(OSError):
        with output_dir(str(new)):
            (new / "evaluation.episodes.jsonl").write_text("{}\n")
            raise OSError("the report failed")
    assert (new / "evaluation.episodes.jsonl").exists()  # what was written stays
    with pytest.raises(OutputPathError, match="--out"):
        with output_dir(str(new / "evaluation.episodes.jsonl" / "x")):
            pass

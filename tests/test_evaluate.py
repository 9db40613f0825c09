"""python -m playback.evaluate: files and metrics, nominal mode = env with zero action, falls/NaN, bad inputs."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from playback import evaluate as ev
from playback.episode import EpisodeRecord, episode_key
from playback.episode_metrics import aggregate, cost_of_transport, forward_distance, summarize_episode
from playback.policy_env import default_configs, make_env, with_world
from random_policy_export import write_random_export

SUMMARY_KEYS = {"episodes", "success_rate", "falls", "nan_physics", "out_of_bounds", "distance_m_mean",
                "distance_m_std", "mean_forward_speed_mps", "vel_tracking_error_mps", "yaw_rate_error_radps",
                "cost_of_transport", "energy_j_mean", "joint_limit_violations", "actuator_saturation_rate",
                "ik_saturation_rate", "time_s_mean", "return_mean"}
EPISODE_KEYS = {"episode", "world", "controller", "terrain_level", "command", "steps", "time_s", "fell",
                "fall_time_s", "nan_physics", "out_of_bounds", "distance_m", "env_distance_m", "displacement_m",
                "mean_forward_speed_mps", "vel_tracking_error_mps", "yaw_rate_error_radps", "energy_j",
                "cost_of_transport", "joint_limit_violations", "actuator_saturation_rate", "ik_saturation_rate",
                "min_trunk_height_m", "return"}


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return write_random_export(str(tmp_path_factory.mktemp("run")))


def test_two_episodes_write_json_markdown_and_plots(export_dir, tmp_path, capsys):
    out = str(tmp_path / "eval")
    rc = ev.main(["--policy", export_dir, "--episodes", "2", "--duration", "0.5", "--out", out,
                  "--processes", "1", "--band", "1", "3"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    with open(os.path.join(out, "evaluation.json")) as fh:
        data = json.load(fh)
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
    assert [e["command"] for e in data["results"]["policy"]["flat"]["episodes"]] == \
           [e["command"] for e in data["results"]["nominal"]["flat"]["episodes"]]
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


def test_nominal_mode_is_the_env_with_zero_action_step_for_step():
    """evaluate_policy(None) == a hand-written loop over the same env, keys and bands with action 0.

    Same process, same jitted functions, same inputs: the per-step metrics must be bit-identical
    (tolerance 0); the summary numbers must equal the ones recomputed from them (1e-12).
    """
    duration, bands = 0.4, (4,)
    report = ev.evaluate_policy(None, episodes=2, duration=duration, worlds=("flat", "rough"), bands=bands,
                                seed=7, processes=1, keep_records=True)
    configs = default_configs()
    for world in ("flat", "rough"):
        env = make_env(with_world(configs, world))
        n = int(round(duration / env.ctx.sim.control_dt))
        for i, (rec, summ) in enumerate(zip(report["records"]["nominal"][world],
                                            report["results"]["nominal"][world]["episodes"])):
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


@pytest.mark.slow
def test_two_processes_give_the_same_numbers_as_one(export_dir):
    kw = dict(episodes=2, duration=0.3, worlds=("flat",), seed=3)
    one = ev.evaluate_policy(export_dir, processes=1, **kw)
    two = ev.evaluate_policy(export_dir, processes=2, **kw)
    assert one["results"] == two["results"]


def _record(n=50, fall_at=None, nan_at=None, dt=0.02, speed=0.3) -> EpisodeRecord:
    steps = n if fall_at is None and nan_at is None else (fall_at or nan_at)
    pos = np.zeros((steps + 1, 3))
    pos[:, 0] = speed * dt * np.arange(steps + 1)
    pos[:, 2] = 0.27
    quat = np.tile([1.0, 0, 0, 0], (steps + 1, 1))
    metrics = {k: np.zeros(steps) for k in ("fell", "nan_physics", "out_of_bounds", "power", "vel_tracking_error",
                                            "yaw_rate_error", "joint_limit_violations", "actuator_saturated",
                                            "ik_saturated", "forward_velocity")}
    metrics["power"][:] = 30.0
    metrics["ik_saturated"][:] = 1.0
    if fall_at is not None:
        metrics["fell"][-1] = 1.0
        pos[-1, 2] = 0.1
    if nan_at is not None:
        metrics["nan_physics"][-1] = 1.0
        pos[-1] = [0.0, 0.0, 0.0]  # MuJoCo reset the state: the last row must be ignored
    return EpisodeRecord(dt=dt, world="flat", terrain_level=0, command=np.array([speed, 0, 0]), trunk_pos=pos,
                         trunk_quat=quat, foot_pos=np.zeros((steps + 1, 4, 3)), trunk_ground=np.zeros(steps + 1),
                         foot_ground=np.zeros((steps + 1, 4)), action=np.zeros((steps, 12)),
                         reward=np.ones(steps), metrics=metrics, env_distance=float(pos[-1, 0]),
                         terminated=fall_at is not None or nan_at is not None, physics_diverged=nan_at is not None)


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
    assert ev.main(["--policy", bad, "--episodes", "1", "--out", str(tmp_path / "o"), "--processes", "1"]) == 2
    assert "observation layout mismatch: export has terrain_height (20)" in capsys.readouterr().err
    assert ev.main(["--episodes", "1"]) == 2
    with pytest.raises(ValueError, match="band 7 out of range"):
        ev.evaluate_policy(None, episodes=1, duration=0.1, bands=(7,))
    assert not os.path.exists(tmp_path / "o")

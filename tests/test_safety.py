"""python -m evaluation.safety_report: the pre-hardware safety report.

Fast (a few seconds of simulation; the two DR envs are built and compiled once per process): the
shipped policy on 1 short episode per world, the same policy with its action scaled up (it must
FAIL, exit status 1), malformed thresholds (exit status 2 naming the key), and the threshold
checks on synthetic numbers.
"""

import json
import os

import pytest

from evaluation import safety_criteria as criteria
from evaluation import safety_report as safety
from evaluation.episode_records import read_records
from model.simulation_config import REPO_ROOT

POLICY = os.path.join(REPO_ROOT, "policies", "quad12_rough_h200")
SHORT = ["--episodes", "1", "--duration", "2"]


def _values(report, controller, world):
    return {r["name"]: r["value"] for r in report["results"][controller][world]["criteria"]}


@pytest.fixture(scope="module")
def shipped_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("safety_shipped")
    status = safety.main(["--policy", POLICY, *SHORT, "--out", str(out)])
    return status, out, json.load(open(out / "safety.json"))


def test_shipped_policy_report_is_well_formed(shipped_report):
    status, out, rep = shipped_report
    assert status in (0, 1) and status == (0 if rep["passed"] else 1)
    s = rep["settings"]
    assert s["episodes"] == 1 and s["duration_s"] == 2.0 and s["worlds"] == ["flat", "rough"]
    assert (
        s["command_line"].startswith("python -m evaluation.safety_report --policy ")
        and "--episodes 1" in s["command_line"]
    )
    assert all(v["enabled"] for v in s["domain_randomization"].values()) and len(s["domain_randomization"]) == 7
    crit = criteria.load_criteria()
    names = [c.name for c in crit.criteria]
    assert rep["thresholds"] == crit.thresholds() and list(rep["definitions"]) == names
    for ctrl in ("policy", "nominal"):
        for world in ("flat", "rough"):
            res = rep["results"][ctrl][world]
            assert [r["name"] for r in res["criteria"]] == names
            for r in res["criteria"]:
                assert r["value"] is not None and isinstance(r["passed"], bool), r
            m = res["summary"]
            assert (
                m["joint_limit_margin_min_rad"]
                <= m["joint_limit_margin_p1_rad"]
                <= m["joint_limit_margin_p5_rad"]
                <= m["joint_limit_margin_median_rad"]
            )
            assert 0 < m["max_torque_fraction"] <= 1.0 + 1e-9  # MuJoCo clamps to the (randomised) limit
            assert m["foot_slip_mean_mps"] <= m["foot_slip_p95_mps"] * 3 and m["contact_foot_steps"] > 0
            (ep,) = res["episodes"]
            assert ep["steps"] == 100 and ep["episode"] == 0 and len(ep["torque_limit_per_joint_nm"]) == 12
            assert ep["dr"]["friction"] != 1.0  # domain randomisation was drawn
    md = (out / "safety.md").read_text()
    assert md.startswith("# Safety report: " + ("PASS" if rep["passed"] else "FAIL"))
    for c in crit.criteria:
        assert md.count("| " + c.label.replace("|", "\\|") + " |") == 2, c.label  # one row per world table
    assert "## flat" in md and "## rough" in md and "p5" in md
    recs = read_records(str(out / "safety.episodes.jsonl"))  # one line per episode, written as each ended
    assert sorted((r["controller"], r["world"], r["episode"]) for r in recs) == sorted(
        (c, w, 0) for c in ("policy", "nominal") for w in ("flat", "rough")
    )
    assert (
        recs[0]["max_torque_per_joint_nm"]
        == rep["results"][recs[0]["controller"]][recs[0]["world"]]["episodes"][0]["max_torque_per_joint_nm"]
    )


def test_scaled_up_action_fails(shipped_report, tmp_path, capsys):
    _, _, base = shipped_report
    status = safety.main(["--policy", POLICY, *SHORT, "--action-scale", "20", "--no-nominal", "--out", str(tmp_path)])
    rep = json.load(open(tmp_path / "safety.json"))
    assert status == 1 and rep["passed"] is False
    assert "FAIL" in (tmp_path / "safety.md").read_text().splitlines()[0]
    failed = {r["name"] for w in ("flat", "rough") for r in rep["results"]["policy"][w]["criteria"] if not r["passed"]}
    assert failed, "a scaled-up policy must fail some criterion"
    # bang-bang residuals: the feet slide and the trunk rocks much more than with the policy's own actions
    for world in ("flat", "rough"):
        big, own = _values(rep, "policy", world), _values(base, "policy", world)
        assert big != own
        assert big["foot_slip_p95"] > own["foot_slip_p95"] and big["roll"] > own["roll"]
    assert "safety: FAIL" in capsys.readouterr().out


def test_malformed_thresholds_exit_2(tmp_path, capsys):
    bad = tmp_path / "safety.yaml"
    cases = [
        ("criteria: {joint_velocity: {at_most: fast}}\n", "criteria.joint_velocity.at_most must be a finite number"),
        ("max_joint_velocity_radps: 30\n", "unknown key 'max_joint_velocity_radps'; thresholds sit under criteria"),
        ("criteria: {ik_saturation: {at_most: 1.5}}\n", "criteria.ik_saturation.at_most is a fraction"),
        ("criteria: {grip: {measure: grip_force, at_most: 1, unit: N, label: g, definition: d}}\n", "grip_force"),
        ("criteria: {roll: {at_least: 0.1}, pitch: {speed: 1}}\n", "criteria.pitch: unknown key 'speed'"),
        ("criteria: {jerk: {at_most: 3}}\n", "criteria.jerk lacks measure, unit, label, definition"),
        ("criteria: {falls: {at_most: 0.5}}\n", "criteria.falls.at_most counts episodes"),
    ]
    for text, message in cases:
        bad.write_text(text)
        assert safety.main(["--policy", POLICY, "--thresholds", str(bad), "--out", str(tmp_path / "o")]) == 2, text
        err = capsys.readouterr().err
        assert message in err and str(bad) in err, (text, err)
    assert safety.main(["--policy", str(tmp_path / "no_such_policy")]) == 2
    assert "no_such_policy" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_criteria_are_data_and_judge_synthetic_numbers(tmp_path):
    crit = criteria.load_criteria()  # the shipped configs/safety.yaml loads and validates
    by_name = {c.name: c for c in crit.criteria}
    assert [c.measure for c in crit.criteria] == list(criteria.MEASURES) and crit.near_limit_margin_rad == 0.05
    assert (by_name["torque"].op, by_name["torque"].threshold) == ("<=", 0.95)
    good = {
        "joint_limit_margin_min_rad": 0.3,
        "near_limit_fraction": 0.0,
        "max_joint_velocity_radps": 10.0,
        "max_torque_fraction": 0.6,
        "actuator_saturation_rate": 0.0,
        "ik_saturation_rate": 0.0,
        "foot_slip_mean_mps": 0.03,
        "foot_slip_p95_mps": 0.1,
        "max_abs_roll_rad": 0.1,
        "max_abs_pitch_rad": 0.1,
        "falls": 0,
        "nan_physics": 0,
    }
    rows = safety.check_criteria(good, crit)
    assert [r["name"] for r in rows] == list(by_name) and all(r["passed"] for r in rows)
    bad = {
        **good,
        "joint_limit_margin_min_rad": -0.02,
        "max_joint_velocity_radps": by_name["joint_velocity"].threshold + 0.1,
        "falls": 1,
        "foot_slip_p95_mps": None,
    }
    failed = {r["name"] for r in safety.check_criteria(bad, crit) if not r["passed"]}
    assert failed == {"joint_limit_margin", "joint_velocity", "falls", "foot_slip_p95"}
    # boundaries pass: value == threshold
    edge = {**good, "max_joint_velocity_radps": 21.0, "joint_limit_margin_min_rad": 0.0}
    assert all(r["passed"] for r in safety.check_criteria(edge, crit))
    assert safety.check_criteria({**good, "max_abs_roll_rad": float("nan")}, crit)[8]["passed"] is False
    judged = {
        "policy": {"flat": safety.check_criteria(good, crit), "rough": safety.check_criteria(bad, crit)},
        "nominal": {"flat": safety.check_criteria(bad, crit)},
    }
    assert safety.verdict(judged) is False
    judged["policy"]["rough"] = safety.check_criteria(good, crit)
    assert safety.verdict(judged) is True  # the nominal gait's failures do not decide
    assert safety.verdict({}) is False
    # a user file lays over the defaults: one bound changed, a bound flipped, a criterion added
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "near_limit_margin_rad: 0.1\n"
        "criteria:\n"
        "  joint_velocity: {at_most: 30}\n"
        "  roll: {at_least: -1.0}\n"
        "  slip_mean_strict: {measure: foot_slip_mean_mps, at_most: 0.02, unit: m/s, label: strict, definition: d}\n"
    )
    over = criteria.load_criteria(str(mine))
    names = [c.name for c in over.criteria]
    assert names == list(by_name) + ["slip_mean_strict"] and over.near_limit_margin_rad == 0.1
    mine_by_name = {c.name: c for c in over.criteria}
    assert mine_by_name["joint_velocity"].threshold == 30.0 and mine_by_name["torque"].threshold == 0.95
    assert (mine_by_name["roll"].op, mine_by_name["roll"].threshold) == (">=", -1.0)
    rows = {r["name"]: r for r in safety.check_criteria({**good, "max_joint_velocity_radps": 25.0}, over)}
    assert rows["joint_velocity"]["passed"] and not rows["slip_mean_strict"]["passed"]
    assert rows["joint_velocity"]["threshold_key"] == "criteria.joint_velocity.at_most"


def _must_not_run(*args, **kwargs):
    raise AssertionError("nothing may load or run before --out is checked")


def test_unwritable_out_exits_2_before_anything_runs(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("a regular file")
    monkeypatch.setattr(safety, "load_policy", _must_not_run)
    monkeypatch.setattr(safety, "run_safety", _must_not_run)
    assert safety.main(["--policy", POLICY, "--out", str(afile / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --out {afile / 'out'}: cannot write there ({afile} is a file"), err


def test_records_survive_a_failing_report(tmp_path, capsys, monkeypatch):
    def disk_full(report, out_dir):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safety, "write_report", disk_full)
    out = tmp_path / "o"
    assert (
        safety.main(
            [
                "--policy",
                POLICY,
                "--episodes",
                "1",
                "--duration",
                "0.5",
                "--no-nominal",
                "--worlds",
                "flat",
                "--out",
                str(out),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    path = out / "safety.episodes.jsonl"
    assert "No space left on device" in err and f"the 1 finished episode(s) are in {path}" in err, err
    (rec,) = read_records(str(path))
    assert (rec["controller"], rec["world"], rec["episode"], rec["steps"]) == ("policy", "flat", 0, 25)


def test_suite_episodes_visit_every_type_at_the_mid_levels_of_the_held_out_seed():
    from mjx_envs.policy_env import default_configs
    from model.terrain.suite import TERRAIN_TYPES

    plan = safety.safety_plan(default_configs(), ["flat", "suite"], ["policy", "nominal"], 16, 10)
    suite = [e for e in plan if e.group == ("policy", "suite")]
    assert [e.terrain_type for e in suite] == [i % len(TERRAIN_TYPES) for i in range(16)]
    assert [e.level for e in suite] == [3] * 7 + [4] * 7 + [3] * 2
    assert all(e.configs.simulation.world == "suite" and e.configs.simulation.terrain_seed == 1000 for e in suite)
    flat = [e for e in plan if e.group == ("nominal", "flat")]
    assert all(e.level is None and e.terrain_type is None for e in flat) and len(flat) == 16

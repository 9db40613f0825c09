"""evaluation/targets.py: the shipped policy's targets from an evaluation directory (synthetic files)."""

import json
import os

import pytest

from evaluation import targets as tg

TYPES = ["rough", "stepping_stones"]


def _episode(c, t, level, fell, err):
    return {"controller": c, "terrain_type": t, "terrain_level": level, "fell": fell, "vel_tracking_error_mps": err}


def _write(d, name, obj):
    with open(os.path.join(d, name), "w") as fh:
        json.dump(obj, fh)


@pytest.fixture()
def evaluation(tmp_path):
    d = str(tmp_path)
    eps = {"policy": [], "nominal": []}
    for level in range(8):
        for k in range(4):
            # the gait falls on stepping stones at levels 2 and 5 (3 of 4 and 4 of 4 episodes)
            gait_falls = (level == 2 and k < 3) or level == 5
            eps["nominal"].append(_episode("nominal", "stepping_stones", level, gait_falls, 0.20))
            eps["policy"].append(_episode("policy", "stepping_stones", level, level == 5 and k == 0, 0.12))
            eps["nominal"].append(_episode("nominal", "rough", level, False, 0.14))
            eps["policy"].append(_episode("policy", "rough", level, False, 0.16 if level == 4 else 0.10))
    report = {
        "settings": {
            "suite": {"types": TYPES, "levels": list(range(8)), "terrain_seed": 1000},
            "terrain_seed": 0,
            "duration_s": 20.0,
            "policy": "policies/x",
        },
        "results": {c: {"suite": {"episodes": e}} for c, e in eps.items()},
    }
    _write(d, "evaluation.json", report)
    grid = {
        "settings": {"world": "flat", "vx": [0.0, 0.5], "vy": [0.0], "yaw_rate": [0.0]},
        "results": {
            "policy": {"summary": {"all": {"cells": 10, "vel_tracking_error_mps_mean": 0.08}}},
            "nominal": {"summary": {"all": {"cells": 10, "vel_tracking_error_mps_mean": 0.12}}},
        },
    }
    _write(d, "command_grid.json", grid)
    table = [{"kick_mps": k, "episodes": 8, "successes": s} for k, s in ((0.0, 8), (0.2, 8), (0.6, 7), (1.0, 2))]
    push = {
        "settings": {"config_push_velocity_mps": [0.2, 0.6]},
        "results": {"policy": {"table": table}, "nominal": {"table": [dict(r, successes=4) for r in table]}},
    }
    _write(d, "push_recovery.json", push)
    stand = {
        "settings": {"duration_s": 10.0},
        "results": {
            "policy": {"summary": {"episodes": 8, "drift_m_max": 0.03}},
            "nominal": {"summary": {"episodes": 8, "drift_m_max": 0.01}},
        },
    }
    _write(d, "stand_still.json", stand)
    with open(os.path.join(d, "evaluation.md"), "w") as fh:
        fh.write("# Evaluation\n\nintro\n\n## Metrics\n\n- x\n")
    return d


def test_targets_name_the_gait_failure_levels_and_judge_every_target(evaluation):
    r = tg.targets(evaluation)
    rows = {(x["target"], x["where"]): x for x in r["rows"]}
    stones = rows[("success where the gait fails", "stepping_stones, levels 2, 5")]
    # gait: 1 of 8 succeeds; policy: 7 of 8 -> 87.5 % < 95 %, gap 7.5 points
    assert stones["nominal"] == pytest.approx(1 / 8) and stones["policy"] == pytest.approx(7 / 8)
    assert not stones["met"] and stones["gap"] == pytest.approx(0.075) and stones["episodes"] == 8
    assert not any(x["where"].startswith("rough") and x["target"].startswith("success") for x in r["rows"])
    rough_mid = rows[("tracking error, mid levels", "rough, levels 3, 4")]
    assert rough_mid["policy"] == pytest.approx(0.13) and rough_mid["met"]
    assert rows[("tracking error, mid levels", "stepping_stones, levels 3, 4")]["policy"] == pytest.approx(0.12)
    grid = next(x for x in r["rows"] if x["target"] == "tracking error, whole command grid")
    assert grid["met"] and grid["nominal"] == pytest.approx(0.12)
    push = next(x for x in r["rows"] if x["target"] == "push recovery")
    assert push["policy"] == pytest.approx(15 / 16) and not push["met"]  # kicks 0.2 and 0.6 only
    assert push["where"].startswith("kicks 0.2, 0.6 m/s")
    stand = next(x for x in r["rows"] if x["target"] == "drift at zero command")
    assert stand["met"] and stand["policy"] == 0.03
    assert (r["met"], r["total"]) == (4, 6)
    assert r["terrain_seed"] == 1000  # the suite's (held-out) seed, not the rough world's


def test_write_puts_the_section_into_evaluation_md_once(evaluation):
    tg.write(evaluation)
    tg.write(evaluation)  # rewriting replaces the section
    text = open(os.path.join(evaluation, "evaluation.md")).read()
    assert text.count(tg.SECTION) == 1 and text.index(tg.SECTION) < text.index("## Metrics")
    assert "| success where the gait fails | stepping_stones, levels 2, 5 | >= 95% | 88% | 12% | **no** |" in text
    assert json.load(open(os.path.join(evaluation, "targets.json")))["total"] == 6


def test_missing_file_and_wrong_stand_duration_are_refused(evaluation, capsys):
    os.remove(os.path.join(evaluation, "push_recovery.json"))
    assert tg.main([evaluation]) == 2
    assert "push_recovery.json is missing" in capsys.readouterr().err
    stand = {"settings": {"duration_s": 5.0}, "results": {"policy": {"summary": {}}, "nominal": {"summary": {}}}}
    _write(evaluation, "stand_still.json", stand)
    with pytest.raises(tg.TargetsError, match="10 s stands"):
        tg.stand_row(stand)

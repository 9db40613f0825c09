"""The policy shipped under policies/: it loads on a CPU with its reports, policies/README.md's
tables are the ones its committed reports give (no hand-copied figures), its targets table is what
its evaluation files give, and on a hard suite tile of a terrain seed neither training nor the
shipped evaluation used it beats the nominal gait it corrects."""

import json
import os

import numpy as np
import pytest

from model.simulation_config import REPO_ROOT

POLICY = os.path.join(REPO_ROOT, "policies", "quad12_suite_cpu")
PREVIOUS = os.path.join(REPO_ROOT, "policies", "quad12_rough_h200")
FILES = (
    "policy.msgpack",
    "policy.onnx",
    "normalizer.npz",
    "meta.json",
    "evaluation.json",
    "evaluation.md",
    "targets.json",
    "targets.md",
    "command_grid.json",
    "push_recovery.json",
    "stand_still.json",
    "safety/safety.md",
    "COMMANDS.md",
)


def test_shipped_policy_loads_with_its_reports():
    from deploy.policy_loader import load_policy
    from mjx_envs.policy_env import configs_from_meta, make_env

    for name in FILES:
        assert os.path.isfile(os.path.join(POLICY, name)), name
    pol = load_policy(POLICY)
    tr = pol.meta["training"]
    assert tr["env_steps"] > 1_000_000 and tr["train_world"] == "suite"
    cfg = configs_from_meta(pol.meta)
    # the task it was trained on: the suite with curriculum, joystick commands, robustness on
    assert cfg.simulation.world == "suite" and cfg.env.curriculum.enabled
    assert cfg.env.command.vy[1] > 0 and cfg.env.command.vx[0] < 0 and cfg.env.command.yaw_rate[1] >= 1.0
    assert cfg.env.pushes.enabled and cfg.env.domain_randomization.friction.enabled
    # exported before the gait's acceleration limits: it plays as trained, the command taken at once
    assert cfg.gait.max_acceleration == 0.0 and cfg.gait.max_yaw_acceleration == 0.0
    env = make_env(cfg)
    try:
        assert pol.observation_size == env.observation_space.shape[0]
    finally:
        env.close()
    a = pol.act(np.zeros((3, pol.observation_size), np.float32))
    assert a.shape == (3, pol.meta["action_size"]) and np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1.0)
    ev = json.load(open(os.path.join(POLICY, "evaluation.json")))
    assert ev["settings"]["suite"]["terrain_seed"] != cfg.simulation.terrain_seed  # evaluated on held-out terrain


def test_readme_tables_are_generated_from_the_committed_reports():
    from evaluation import shipped_report

    assert shipped_report.README == os.path.join(REPO_ROOT, "policies", "README.md")
    readme = open(shipped_report.README, encoding="utf-8").read()
    assert shipped_report.render(readme, POLICY) == readme, (
        "policies/README.md's shipped-policy section differs from its reports: python -m evaluation.shipped_report "
        "policies/quad12_suite_cpu"
    )
    assert shipped_report.section(POLICY) in readme


def test_targets_table_is_what_the_evaluation_files_give():
    from evaluation import targets

    committed = json.load(open(os.path.join(POLICY, "targets.json")))
    assert targets.targets(POLICY) == committed
    # the task contains levels where the nominal gait fails (< 50 % success), and they are named
    assert committed["gait_failure_tiles"], "no tile where the nominal gait's success is below 50 %"
    md = open(os.path.join(POLICY, "evaluation.md"), encoding="utf-8").read()
    assert targets.markdown(committed) in md


def test_previous_policy_still_loads():
    from deploy.policy_loader import load_policy

    pol = load_policy(PREVIOUS)
    assert pol.meta["config"]["simulation"].get("collision") is None  # trained with every sphere colliding
    a = pol.act(np.zeros((1, pol.observation_size), np.float32))
    assert np.all(np.isfinite(a))


def _hard_tile():
    """The shipped report's gait-failure tile where the policy's success is highest above the gait's."""
    ev = json.load(open(os.path.join(POLICY, "evaluation.json")))
    best = None
    for t in ev["suite_gait_failures"]:
        pol = [
            e
            for e in ev["results"]["policy"]["suite"]["episodes"]
            if e["terrain_type"] == t["terrain_type"] and e["terrain_level"] == t["terrain_level"]
        ]
        margin = sum(not e["fell"] for e in pol) / len(pol) - t["success_rate"]
        if best is None or margin > best[0]:
            best = (margin, t["terrain_type"], t["terrain_level"])
    return best


@pytest.mark.slow
def test_beats_the_nominal_gait_on_a_hard_tile_of_unseen_terrain():
    from evaluation.suite_evaluation import evaluate_policy

    margin, ttype, level = _hard_tile()
    assert margin > 0, f"the shipped report has no gait-failure tile where the policy does better ({ttype} {level})"
    # terrain seed 4242: neither training (0) nor the shipped evaluation (1000) used it
    rep = evaluate_policy(
        POLICY,
        episodes=4,
        duration=10.0,
        worlds=("suite",),
        levels=(level,),
        types=(ttype,),
        suite_terrain_seed=4242,
        command=(0.4, 0.0, 0.0),
        seed=7,
        processes=1,
    )
    pol = rep["results"]["policy"]["suite"]["summary"]
    nom = rep["results"]["nominal"]["suite"]["summary"]
    msg = (
        f"{ttype} level {level}, seed 4242, 4 x 10 s at vx 0.4 m/s: policy success {pol['success_rate']:.2f}, "
        f"distance {pol['distance_m_mean']:.2f} m; nominal success {nom['success_rate']:.2f}, distance "
        f"{nom['distance_m_mean']:.2f} m"
    )
    assert pol["success_rate"] > nom["success_rate"] or pol["distance_m_mean"] > nom["distance_m_mean"], msg

"""The policy shipped under policies/ loads on a CPU, carries its evaluation report, and on rough
ground beats the nominal gait it corrects (issue 7)."""

import json
import os

import numpy as np
import pytest

from model.simulation_config import REPO_ROOT

POLICY = os.path.join(REPO_ROOT, "policies", "quad12_rough_h200")


def test_shipped_policy_loads_with_its_report():
    from mjx_envs.residual_walk import ResidualWalk
    from train.export import load_policy

    pol = load_policy(POLICY)
    assert pol.meta["training"]["env_steps"] > 1_000_000
    # its observation layout is the current env's (playback would refuse it otherwise)
    assert pol.observation_size == ResidualWalk().observation_size
    a = pol.act(np.zeros((3, pol.observation_size), np.float32))
    assert a.shape == (3, 12) and np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1.0)
    report = json.load(open(os.path.join(POLICY, "evaluation.json")))
    for ctrl in ("policy", "nominal"):
        for world in ("flat", "rough"):
            s = report["results"][ctrl][world]["summary"]
            assert 0.0 <= s["success_rate"] <= 1.0 and np.isfinite(s["distance_m_mean"])
    assert os.path.isfile(os.path.join(POLICY, "evaluation.md"))


@pytest.mark.slow
def test_shipped_policy_beats_nominal_on_rough_ground():
    from playback.evaluate import evaluate_policy

    rep = evaluate_policy(POLICY, episodes=4, duration=20.0, worlds=("rough",), bands=(2, 3, 4, 5),
                          command=(0.4, 0.0, 0.0), seed=0, processes=1)
    pol = rep["results"]["policy"]["rough"]["summary"]
    nom = rep["results"]["nominal"]["rough"]["summary"]
    msg = (f"policy: success {pol['success_rate']:.2f}, distance {pol['distance_m_mean']:.2f} m, "
           f"speed {pol['mean_forward_speed_mps']:.3f} m/s; nominal: success {nom['success_rate']:.2f}, "
           f"distance {nom['distance_m_mean']:.2f} m, speed {nom['mean_forward_speed_mps']:.3f} m/s "
           f"(4 episodes x 20 s, rough bands 2-5, command vx 0.4 m/s)")
    print(msg)
    assert (pol["distance_m_mean"] > nom["distance_m_mean"] or pol["success_rate"] > nom["success_rate"]), msg

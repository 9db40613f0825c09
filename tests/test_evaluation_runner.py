"""The evaluation runner (evaluation/runner.py) and the batched episodes it runs: the same records as
the single env, bit for bit; one plan batched and regrouped; the numbers independent of the threads."""

from __future__ import annotations

import numpy as np
import pytest
from random_policy_export import write_random_export

from evaluation import evaluate as cli
from evaluation import runner
from evaluation import suite_evaluation as ev
from evaluation.episode import EpisodeRecord, episode_key, episode_keys, run_episode, run_episodes, zero_action
from mjx_envs.policy_env import default_configs, make_env, with_world
from mjx_envs.vector_env import ResidualWalkVectorEnv


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory):
    return write_random_export(str(tmp_path_factory.mktemp("run")))


def _assert_same_record(a: EpisodeRecord, b: EpisodeRecord) -> None:
    for f in (
        "dt",
        "world",
        "terrain_level",
        "env_distance",
        "terminated",
        "physics_diverged",
        "off_map",
        "terrain_type",
    ):
        assert getattr(a, f) == getattr(b, f), f
    for f in ("command", "trunk_pos", "trunk_quat", "foot_pos", "trunk_ground", "foot_ground", "action", "reward"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)
    assert set(a.metrics) == set(b.metrics)
    for k in a.metrics:
        np.testing.assert_array_equal(a.metrics[k], b.metrics[k], err_msg=k)


def _bang_bang(obs):
    """A controller without ``.batch`` (run_episodes calls it row by row) that rocks the robot."""
    return np.float32(0.6) * np.sign(obs[:12] + np.float32(1e-3)).astype(np.float32)


@pytest.mark.parametrize("world", ["flat", "rough", pytest.param("suite", marks=pytest.mark.slow)])
def test_batched_runner_records_equal_run_episode(world):
    """run_episodes (the episodes as the worlds of one ResidualWalkVectorEnv) gives every episode
    run_episode's record (single env), bit for bit: reset keys, rough bands / suite tiles, a
    command override on two of the three episodes (one of them standing). Rough and suite: a
    roll limit of 0.1 rad under a bang-bang controller (no ``.batch``: called per row) ends
    episodes early at different steps (asserted) while the others keep stepping; the batch of 4
    worlds is padded."""
    configs = with_world(default_configs(), world)
    levels = {"flat": None, "rough": [1, 3, 5], "suite": [0, 5, 7]}[world]
    types = [0, 1, 5] if world == "suite" else None
    commands = [None, (0.5, 0.0, 0.3), (0.0, 0.0, 0.0)]
    if world == "flat":
        controller, n_steps = zero_action(), 25
    else:
        configs = configs._replace(env=configs.env.replace(max_roll=0.1))
        controller, n_steps = _bang_bang, 20
    envs = ResidualWalkVectorEnv(4, configs.simulation, configs.env, configs.gait, nthread=2)
    recs = run_episodes(envs, controller, n_steps, episode_keys(5, [0, 1, 2]), levels, types, commands)
    assert len(recs) == 3 and envs.autoreset and not envs.return_metrics  # restored
    envs.close()
    env = make_env(configs)
    for i, rec in enumerate(recs):
        env.terrain_level = None  # level drawn from the key, as the vector env draws it
        ref = run_episode(
            env,
            controller,
            n_steps,
            episode_key(5, i),
            None if levels is None else levels[i],
            commands[i],
            terrain_type=None if types is None else types[i],
        )
        _assert_same_record(rec, ref)
    env.close()
    np.testing.assert_array_equal(recs[1].command, np.float32([0.5, 0.0, 0.3]))
    if world != "flat":
        steps = [r.steps for r in recs]
        assert any(r.terminated for r in recs) and min(steps) < n_steps and len(set(steps)) > 1, steps


@pytest.mark.slow
def test_two_physics_threads_give_the_same_numbers_as_one(export_dir):
    kw = dict(episodes=2, duration=0.3, worlds=("flat",), seed=3)
    one = ev.evaluate_policy(export_dir, threads=1, **kw)
    two = ev.evaluate_policy(export_dir, processes=2, **kw)  # the deprecated name still works
    assert one["results"] == two["results"]


def test_one_plan_runs_batched_and_regroups():
    """The runner's batches: same configs, controller and length together, in plan order, chunked."""
    flat, rough = default_configs(), default_configs("rough")
    plan = [
        runner.PlannedEpisode(("a", w), c, ctl, i, 10)
        for w, c in (("flat", flat), ("rough", rough))
        for ctl in ("a", "b")
        for i in range(3)
    ]
    assert runner.batches(plan, max_batch=2) == [[0, 1], [2], [3, 4], [5], [6, 7], [8], [9, 10], [11]]
    fake = [runner.EpisodeResult(e, None) for e in plan]
    assert list(runner.regroup(fake)) == [("a", "flat"), ("a", "rough")]
    assert runner.physics_threads(None, 3) == 3 and runner.physics_threads(2, 3) == 2
    help_text = cli.build_parser().format_help()
    assert "--physics-threads T, --processes T" in help_text and "deprecated" in help_text

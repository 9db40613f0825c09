"""train/tasks.py: the task registry. Every registered task resets and steps in both twins — the
MJX env (``MjxResidualWalk``, jit) and the Gymnasium env on C MuJoCo (``ResidualWalkEnv``) — and both
give the same first observation and reward; ``--task`` reaches the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from model.yaml_config import ConfigError
from train.config import task_config
from train.tasks import TASKS, task_names

WORLD = {
    "flat": "flat",
    "rough": "rough",
    "suite": "suite",
    "direct": "suite",
    "modulated": "suite",
    "footholds": "suite",
    "torque": "suite",
}
ACTIONS = {"flat": 12, "rough": 12, "suite": 12, "direct": 12, "modulated": 15, "footholds": 12, "torque": 12}


def test_registry_lists_every_task_with_its_config():
    assert task_names() == list(WORLD)
    for name in task_names():
        cfg = task_config(name, preset="ci_tiny")
        assert cfg.simulation.world == WORLD[name] and cfg.run.eval_world == WORLD[name]
        assert cfg.env.action_size == ACTIONS[name]
        assert cfg.env.curriculum.enabled == (name != "flat")
        assert TASKS[name].__doc__
        assert cfg.gait.footholds.enabled == cfg.env.height_scan.enabled == (name == "footholds")
    # the task wins over the preset, overrides win over the task
    assert task_config("flat", preset="cpu_small").simulation.world == "flat"
    assert task_config("flat", overrides=["simulation.world=rough", "run.eval_world=rough"]).simulation.world == "rough"
    with pytest.raises(ConfigError, match="unknown task 'nope'; registered tasks: flat, rough"):
        task_config("nope")


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WORLD))
def test_every_task_resets_and_steps_in_both_twins(name):
    from mjx_envs.gym_env import ResidualWalkEnv
    from mjx_envs.residual_walk import MjxResidualWalk

    cfg = task_config(name, preset="ci_tiny")
    action = np.full(ACTIONS[name], 0.3, np.float32)
    gym_env = ResidualWalkEnv(cfg.simulation, cfg.env, cfg.gait)
    obs0, _ = gym_env.reset(seed=3)
    obs1, reward, terminated, truncated, info = gym_env.step(action)
    assert gym_env.action_space.shape == (ACTIONS[name],)
    assert np.all(np.isfinite(obs1)) and np.isfinite(reward) and not terminated
    mjx_env = MjxResidualWalk(cfg.simulation, cfg.env, cfg.gait)
    assert mjx_env.observation_size == obs0.shape[0] and mjx_env.action_size == ACTIONS[name]
    s = jax.jit(mjx_env.reset)(jax.random.PRNGKey(0))
    s1 = jax.jit(mjx_env.step)(s, jnp.asarray(action))
    assert np.all(np.isfinite(np.asarray(s1.obs))) and np.isfinite(float(s1.reward)) and float(s1.done) == 0.0


def test_cli_task_and_list(capsys):
    from train.__main__ import cli

    assert cli(["--list-tasks"]) == 0
    out = capsys.readouterr().out
    assert all(line.split()[0] in TASKS for line in out.strip().splitlines())
    assert cli(["--task", "nope"]) == 2
    cap = capsys.readouterr()
    assert "unknown task 'nope'" in cap.err + cap.out

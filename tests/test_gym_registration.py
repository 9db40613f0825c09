"""The Gymnasium id ``Quad12ResidualWalk-v0`` (mjx_envs/__init__.py): ``make`` gives one world,
``make_vec`` the batched C-MuJoCo vector env (not N single envs in a ``SyncVectorEnv``)."""

import gymnasium as gym
import numpy as np

import mjx_envs
from mjx_envs.gym_env import ResidualWalkEnv
from mjx_envs.vector_env import ResidualWalkVectorEnv


def test_make_and_make_vec():
    vec = gym.make_vec(mjx_envs.GYM_ID, num_envs=3, world="flat")
    assert isinstance(vec, ResidualWalkVectorEnv) and vec.num_envs == 3
    obs, _ = vec.reset(seed=0)
    obs, reward, terminated, truncated, _ = vec.step(np.zeros((3, 12), np.float32))
    assert obs.shape == (3, 54) and reward.shape == (3,) and np.all(np.isfinite(obs))
    vec.close()
    single = gym.make(mjx_envs.GYM_ID, world="flat")
    assert isinstance(single.unwrapped, ResidualWalkEnv)
    assert single.observation_space.shape == (54,)
    single.close()

"""Residual-walking environments: ``ResidualWalk`` (MJX) and ``ResidualWalkEnv`` (Gymnasium, C MuJoCo).

Importing this package registers the Gymnasium id ``Quad12ResidualWalk-v0``; keyword arguments of
``gymnasium.make`` go to ``ResidualWalkEnv`` (``world``, ``sim``, ``env``, ``gait``, ``render_mode``).
Episodes truncate themselves after ``EnvConfig.episode_length_s``.
"""

import gymnasium

GYM_ID = "Quad12ResidualWalk-v0"

if GYM_ID not in gymnasium.registry:
    gymnasium.register(id=GYM_ID, entry_point="mjx_envs.gym_env:ResidualWalkEnv", disable_env_checker=True)

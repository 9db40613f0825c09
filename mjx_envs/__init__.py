"""Residual-walking environments on every physics back end, one episode logic.

Brax-style training envs (``reset(rng)`` / ``step(state, action)`` on a JAX ``State``):

* ``MjxResidualWalk`` (``residual_walk.py``): MJX, batched in JAX — the GPU training env
  (``ResidualWalk`` is its former name, kept for one release);
* ``CMujocoResidualWalk`` (``cmujoco_env.py``): the same env on batched C MuJoCo through a JAX
  callback — the CPU training env.

Gymnasium envs (numpy in and out):

* ``ResidualWalkVectorEnv`` (``vector_env.py``): a Gymnasium ``VectorEnv`` of N worlds on batched
  C MuJoCo — for evaluation, SB3 and anything that steps many worlds from numpy;
* ``ResidualWalkEnv`` (``gym_env.py``): one world, a Gymnasium ``Env`` on C MuJoCo — for parity
  checks, the viewer and code that wants a single env.

Importing this package registers the Gymnasium id ``Quad12ResidualWalk-v0``:

    gymnasium.make("Quad12ResidualWalk-v0", world="rough")              # one world (ResidualWalkEnv)
    gymnasium.make_vec("Quad12ResidualWalk-v0", num_envs=64)            # 64 batched worlds (ResidualWalkVectorEnv)

Use ``make_vec`` for many worlds: its vector entry point steps them in one batched call, while a
``SyncVectorEnv`` of single envs pays the per-env Python and JAX overhead N times (flat world,
2-core CPU: one ``ResidualWalkEnv`` 1,082 control steps/s, ``make_vec`` with 64 worlds 6,427).
Keyword arguments go to the class (``world``, ``sim``, ``env``, ``gait``; ``render_mode`` for the
single env). Episodes truncate themselves after ``EnvConfig.episode_length_s``.
"""

import gymnasium

GYM_ID = "Quad12ResidualWalk-v0"

if GYM_ID not in gymnasium.registry:
    gymnasium.register(
        id=GYM_ID,
        entry_point="mjx_envs.gym_env:ResidualWalkEnv",
        vector_entry_point="mjx_envs.vector_env:ResidualWalkVectorEnv",
        disable_env_checker=True,
    )

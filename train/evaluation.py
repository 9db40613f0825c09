"""Evaluation rollouts of a policy on the (unwrapped) MJX env, one jit-compiled function.

Why not brax's ``acting.Evaluator``: it runs the auto-reset training wrapper (an env reset traced
into every step), it compiles its rollout twice on jax >= 0.10 (docs/brax_notes.md), and it
draws new episodes for every evaluation. Here:

* ``num_envs`` episodes run in parallel from **fixed** reset keys, so successive evaluations
  (and the zero-residual baseline) score the same episodes: commands, spawn points, pushes;
* an episode counts until its first ``done`` (later steps are masked out, no auto-reset);
* one compiled function serves the policy and the zero-residual baseline: the action is
  multiplied by ``action_scale`` (1 = policy, 0 = the nominal Bézier trot alone).

:func:`summarize` turns the per-episode sums into the logged numbers (see docs/training.md).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict

import jax
import jax.numpy as jnp
import numpy as np


class PolicyEvaluator:
    """Deterministic-episode evaluator.

    Args:
      env: unbatched env (``reset(rng)``, ``step(state, action)``), e.g. a flat-world ``MjxResidualWalk``.
      make_policy: brax ``make_policy(params, deterministic) -> policy(obs, key) -> (action, extras)``.
      num_envs: episodes per evaluation.
      episode_length: env steps per episode (time limit).
      action_repeat: env steps per policy step.
      deterministic: evaluate the policy mean.
      seed: seed of the fixed evaluation episodes.
    """

    def __init__(
        self,
        env: Any,
        make_policy: Callable,
        num_envs: int,
        episode_length: int,
        action_repeat: int = 1,
        deterministic: bool = True,
        seed: int = 0,
    ):
        self.num_envs = int(num_envs)
        self.episode_length = int(episode_length)
        self._keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), 0xE7A1), num_envs)
        self._policy_key = jax.random.PRNGKey(seed + 1)
        n_policy_steps = max(self.episode_length // action_repeat, 1)

        def rollout(params, action_scale, keys, policy_key):
            state = jax.vmap(env.reset)(keys)
            policy = make_policy(params, deterministic=deterministic)
            zeros = jnp.zeros((keys.shape[0],), jnp.float32)
            msum0 = {k: zeros for k in state.metrics}

            def body(carry, _):
                state, alive, ret, msum, length, key = carry
                key, k_act = jax.random.split(key)
                action, _ = policy(state.obs, k_act)
                action = action * action_scale
                for _ in range(action_repeat):
                    ns = jax.vmap(env.step)(state, action)
                    live = alive > 0
                    ret = ret + jnp.where(live, ns.reward, 0.0)
                    msum = {k: msum[k] + jnp.where(live, ns.metrics[k], 0.0) for k in msum}
                    length = length + live.astype(jnp.float32)
                    alive = jnp.where(ns.done > 0, 0.0, alive)
                    state = ns
                return (state, alive, ret, msum, length, key), None

            init = (state, jnp.ones_like(zeros), zeros, msum0, zeros, policy_key)
            (_, _, ret, msum, length, _), _ = jax.lax.scan(body, init, None, length=n_policy_steps)
            return {"return": ret, "length": length, "metrics": msum}

        self._rollout = jax.jit(rollout)

    def run(self, params: Any, action_scale: float = 1.0) -> Dict[str, Any]:
        """Per-episode results as numpy: ``return`` (N,), ``length`` (N,), ``metrics`` {name: (N,)},
        plus ``eval_time_s``."""
        t = time.time()
        # host copies: brax hands over parameters with the sharding of wherever they came from
        # (step 0 vs after an epoch), and each sharding would compile the rollout once more
        params = jax.device_get(params)
        out = self._rollout(params, jnp.float32(action_scale), self._keys, self._policy_key)
        out = jax.tree_util.tree_map(np.asarray, out)
        out["eval_time_s"] = time.time() - t
        return out


def summarize(raw: Dict[str, Any]) -> Dict[str, float]:
    """Logged numbers from :meth:`PolicyEvaluator.run` output.

    * ``reward``, ``reward_std``: mean/std over episodes of the episode return;
    * ``episode_length``: mean episode length (env steps);
    * ``fall_rate``: fraction of episodes that ended in a fall; ``nan_rate`` likewise for NaN physics;
    * ``distance``: mean distance walked along the initial heading (m);
    * ``<metric>_per_step`` for every env metric (``reward/<term>`` included): the metric's mean over
      all evaluated steps (step-weighted); e.g. ``ik_saturated_per_step`` = IK-saturated legs per step.
    """
    ret = np.asarray(raw["return"], np.float64)
    length = np.asarray(raw["length"], np.float64)
    steps = max(float(length.sum()), 1.0)
    m = raw["metrics"]
    out = {
        "reward": float(ret.mean()),
        "reward_std": float(ret.std()),
        "episode_length": float(length.mean()),
        "num_episodes": float(ret.shape[0]),
    }
    if "fell" in m:
        out["fall_rate"] = float(np.mean(np.asarray(m["fell"]) > 0))
    if "nan_physics" in m:
        out["nan_rate"] = float(np.mean(np.asarray(m["nan_physics"]) > 0))
    if "distance_step" in m:
        out["distance"] = float(np.mean(m["distance_step"]))
    for name, v in m.items():
        out[f"{name}_per_step"] = float(np.sum(v) / steps)
    if "eval_time_s" in raw:
        out["eval_time_s"] = float(raw["eval_time_s"])
    return out

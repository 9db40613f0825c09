"""Training wrappers that plug our Playground-style environments into brax's training agents.

Our environments return :class:`mjx_envs.state.State` (``data`` instead of brax's
``pipeline_state``) and keep per-episode randomness in ``state.info['rng']``. brax's own
``AutoResetWrapper`` restores a cached copy of the *first* reset state, so every episode of an
environment slot would replay the same spawn point / command / push schedule. The wrappers here
instead call ``env.reset`` with a fresh key for every environment that finished and select the
new state per environment with ``jnp.where`` (pure, jit/vmap-safe, no Python branching).

Stack built by :func:`wrap_for_training` (outermost first)::

    AutoResetWrapper      fresh env.reset for done envs, keeps the finished episode's bookkeeping
    EpisodeWrapper        step counter, time limit (truncation), action repeat, episode metrics
    VmapWrapper           batch axis
    [TerrainLevelMetrics] curriculum indicator metrics (rough/suite training world, added by the trainer)

Every wrapper derives from :class:`Wrapper`.
    env                   unbatched: reset(rng) -> State, step(state, action) -> State

Keys the wrappers maintain in ``state.info`` (read by brax ``ppo.train`` / ``acting.Evaluator``):

* ``steps``           env steps (inner steps, i.e. counting action repeats) in the current episode
* ``truncation``      1.0 at the step the time limit ended a non-terminated episode, or the env
                      itself ended it as a truncation (it returned ``done`` = 1 with
                      ``info['truncation']`` = 1, e.g. MjxResidualWalk leaving the map), else 0.0
* ``time_out``        same as ``truncation`` (read by ``ppo.train(bootstrap_on_timeout=True)``)
* ``episode_done``    1.0 at the last step of an episode (terminated or truncated)
* ``episode_metrics`` running sums for the current episode: ``sum_reward``, ``length`` and every
                      key of ``state.metrics`` (except ``reward``); valid when ``episode_done``.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Optional, Tuple

import jax
import jax.numpy as jnp

from mjx_envs.state import State
from model import terrain

# info keys owned by EpisodeWrapper; everything else in info belongs to the environment and is
# replaced by the fresh reset state on auto-reset.
BOOKKEEPING_KEYS = ("steps", "truncation", "time_out", "episode_done", "episode_metrics")

# Constant folded into an env's info['rng'] to derive its auto-reset key. Any constant works; it
# only keeps the reset key distinct from keys the env itself splits off info['rng'].
_AUTO_RESET_SALT = 0x5EED


def _broadcast_select(pred: jax.Array, on_true: Any, on_false: Any) -> Any:
    """Leaf-wise ``where(pred, on_true, on_false)``; ``pred`` has the batch shape (e.g. (N,)).

    ``pred`` is broadcast against each leaf's trailing (non-batch) dimensions.
    """

    def select(a: jax.Array, b: jax.Array) -> jax.Array:
        p = jnp.reshape(pred, pred.shape + (1,) * (jnp.ndim(b) - pred.ndim))
        return jnp.where(p, a, b)

    return jax.tree_util.tree_map(select, on_true, on_false)


def _batched_fold_in(keys: jax.Array, data: int, batch_ndim: int) -> jax.Array:
    """``jax.random.fold_in`` applied to a batch of keys with ``batch_ndim`` leading axes.

    Works for raw ``uint32[..., 2]`` keys and typed key arrays alike.
    """
    fn = lambda k: jax.random.fold_in(k, data)  # noqa: E731
    for _ in range(batch_ndim):
        fn = jax.vmap(fn)
    return fn(keys)


def auto_reset_keys(rng: jax.Array, batch_ndim: int) -> jax.Array:
    """Reset keys for the next episode, derived from each env's current ``info['rng']``.

    Args:
      rng: per-env PRNG keys, batch shape of ``batch_ndim`` leading axes.
      batch_ndim: number of batch axes (1 for the usual ``(num_envs,)`` batch).

    Returns:
      Keys of the same shape, distinct from ``rng`` and from ``jax.random.split(rng)``.
    """
    return _batched_fold_in(rng, _AUTO_RESET_SALT, batch_ndim)


def step_unaliased(env: Any, state: State, action: jax.Array) -> State:
    """``env.step`` on a copy of ``state`` whose ``info``/``metrics`` dicts are fresh objects.

    Playground-style envs often assign into ``state.info[...]`` in place; the copy keeps the
    caller's ``state`` (still needed for selects and bookkeeping) unchanged.
    """
    return env.step(state.replace(info=dict(state.info), metrics=dict(state.metrics)), action)


def reset_after(env: Any, rng: jax.Array, prev: State) -> State:
    """New episode after ``prev`` ended: ``env.reset_from(rng, prev)`` if the env defines it
    (e.g. a terrain curriculum that reads the finished episode's info), else ``env.reset(rng)``.
    """
    if hasattr(env, "reset_from"):
        return env.reset_from(rng, prev)
    return env.reset(rng)


class Wrapper:
    """Delegates ``reset``/``reset_from``/``step`` and every unknown attribute to the wrapped env.

    Every wrapper defines ``reset_from`` itself (rather than through ``__getattr__``) so that a
    batched layer never forwards it to the unbatched env.
    """

    def __init__(self, env: Any):
        self.env = env

    def reset(self, rng: jax.Array) -> State:
        return self.env.reset(rng)

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        return reset_after(self.env, rng, prev)

    def step(self, state: State, action: jax.Array) -> State:
        return self.env.step(state, action)

    @property
    def observation_size(self) -> Any:
        return self.env.observation_size

    @property
    def action_size(self) -> int:
        return self.env.action_size

    @property
    def unwrapped(self) -> Any:
        return getattr(self.env, "unwrapped", self.env)

    def __getattr__(self, name: str) -> Any:
        if name in ("env", "__setstate__", "__getstate__"):
            raise AttributeError(name)
        return getattr(self.env, name)


class TerrainLevelMetrics(Wrapper):
    """Adds curriculum indicator metrics to an unbatched env (used when the training world is rough
    or the suite and the curriculum is on; ``train.ppo_setup.make_envs``).

    The env logs ``metrics['terrain_level']`` every step, and brax's training logger reports the
    mean over recent episodes of each metric's *episode sum*. To get the level *distribution*, this
    wrapper adds one indicator metric per level, ``terrain_level_<k>_per_step`` (1.0 while the
    episode runs on level k). brax divides metrics whose name ends in ``_per_step`` by the episode
    length, so ``episode/terrain_level_<k>_per_step`` is exactly the fraction of recent training
    episodes on level k (logged as ``train/terrain_level_frac/<k>``, with
    ``train/terrain_level_mean``). On the suite world it adds ``terrain_type_<name>_per_step`` the
    same way (``train/terrain_type_frac/<name>``). Promotion / demotion rates come from the env
    itself (``metrics['curriculum_promoted']`` / ``['curriculum_demoted']``, 1.0 at the last step
    of an episode the curriculum promotes / demotes). The indicators of a step belong to the
    episode that step is part of (at an auto-reset: the finished one).
    """

    def __init__(self, env: Any, num_levels: Optional[int] = None):
        super().__init__(env)
        # the env's own level count (MjxResidualWalk.ctx.num_levels) unless given
        self.num_levels = int(num_levels if num_levels is not None else env.ctx.num_levels)
        ctx = getattr(env, "ctx", None)
        self.type_names = tuple(terrain.TERRAIN_TYPES) if getattr(ctx, "suite", None) is not None else ()

    def _with_levels(self, state: State) -> State:
        level = state.info["terrain_level"]
        extra = {f"terrain_level_{k}_per_step": (level == k).astype(jnp.float32) for k in range(self.num_levels)}
        if self.type_names:  # suite: the share of each terrain type (train/terrain_type_frac/<name>)
            ttype = state.info["terrain_type"]
            extra.update(
                {
                    f"terrain_type_{name}_per_step": (ttype == k).astype(jnp.float32)
                    for k, name in enumerate(self.type_names)
                }
            )
        return state.replace(metrics={**state.metrics, **extra})

    def reset(self, rng: jax.Array) -> State:
        return self._with_levels(self.env.reset(rng))

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        return self._with_levels(reset_after(self.env, rng, prev))

    def step(self, state: State, action: jax.Array) -> State:
        return self._with_levels(self.env.step(state, action))


class VmapWrapper(Wrapper):
    """Batches an unbatched env: ``reset`` takes keys ``(N, 2)``, ``step`` batched states.

    ``batch_sizes`` holds every N ``reset`` was traced with: the environments one device steps
    (under brax's ``pmap`` each device's share; in a multi-process run this process's share).
    """

    def __init__(self, env: Any):
        super().__init__(env)
        self.batch_sizes: set = set()

    def reset(self, rng: jax.Array) -> State:
        self.batch_sizes.add(int(rng.shape[0]))  # static under jit/pmap: recorded once per trace
        return jax.vmap(self.env.reset)(rng)

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        return jax.vmap(functools.partial(reset_after, self.env))(rng, prev)

    def step(self, state: State, action: jax.Array) -> State:
        return jax.vmap(self.env.step)(state, action)


def _with_bookkeeping(state: State) -> State:
    """Adds zeroed episode bookkeeping (:data:`BOOKKEEPING_KEYS`) to a freshly reset state."""
    zero = jnp.zeros_like(state.done)
    episode_metrics = {"sum_reward": zero, "length": zero}
    episode_metrics.update({k: zero for k in state.metrics if k != "reward"})
    info = {
        **state.info,
        "steps": zero,
        "truncation": zero,
        "time_out": zero,
        "episode_done": zero,
        "episode_metrics": episode_metrics,
    }
    return state.replace(info=info)


class EpisodeWrapper(Wrapper):
    """Time limit, action repeat and per-episode metric sums (batched or unbatched state).

    Args:
      env: env to wrap.
      episode_length: time limit in inner env steps (action repeats count individually), same
        convention as brax: the episode ends once ``steps >= episode_length``.
      action_repeat: inner steps per ``step`` call; rewards are summed. Once the env reports
        ``done`` inside a repeat the state is frozen, so no reward is collected after termination.
    """

    def __init__(self, env: Any, episode_length: int, action_repeat: int = 1):
        super().__init__(env)
        if episode_length < 1:
            raise ValueError(f"episode_length must be >= 1, got {episode_length}")
        if action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {action_repeat}")
        self.episode_length = int(episode_length)
        self.action_repeat = int(action_repeat)

    def reset(self, rng: jax.Array) -> State:
        return _with_bookkeeping(self.env.reset(rng))

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        return _with_bookkeeping(reset_after(self.env, rng, prev))

    def _repeat_step(self, state: State, action: jax.Array) -> Tuple[State, jax.Array]:
        """Runs ``action_repeat`` inner steps; returns the final state and the summed reward."""
        if self.action_repeat == 1:
            nstate = step_unaliased(self.env, state, action)
            return nstate, nstate.reward

        def body(carry, _):
            s, reward_sum, terminated = carry
            ns = step_unaliased(self.env, s, action)
            reward_sum = reward_sum + ns.reward * (1.0 - terminated)
            ns = _broadcast_select(terminated > 0, s, ns)
            return (ns, reward_sum, jnp.maximum(terminated, ns.done)), None

        init = (state, jnp.zeros_like(state.reward), jnp.zeros_like(state.done))
        (nstate, reward_sum, _), _ = jax.lax.scan(body, init, None, length=self.action_repeat)
        return nstate, reward_sum

    def step(self, state: State, action: jax.Array) -> State:
        # The previous step ended an episode: restart the counters for the new one.
        keep = 1.0 - state.info["episode_done"]
        old_steps = state.info["steps"]
        old = state.info["episode_metrics"]
        # info['truncation'] is cleared before the inner step: an env that ends an episode as a
        # truncation sets it to 1 (with done = 1); an env that never touches it leaves 0.
        cleared = state.replace(info={**state.info, "truncation": jnp.zeros_like(state.done)})
        nstate, reward = self._repeat_step(cleared, action)

        steps = old_steps * keep + self.action_repeat
        timed_out = steps >= self.episode_length
        env_truncated = nstate.done * (nstate.info.get("truncation", jnp.zeros_like(nstate.done)) > 0)
        terminated = nstate.done - env_truncated  # a real termination (no value bootstrap)
        done = jnp.where(timed_out, jnp.ones_like(terminated), nstate.done)
        truncation = jnp.where(timed_out | (env_truncated > 0), 1.0 - terminated, jnp.zeros_like(terminated))

        episode_metrics = {
            "sum_reward": old["sum_reward"] * keep + reward,
            "length": old["length"] * keep + self.action_repeat,
        }
        for name in old:
            if name not in episode_metrics:
                episode_metrics[name] = old[name] * keep + nstate.metrics[name]

        info = {
            **nstate.info,
            "steps": steps,
            "truncation": truncation,
            "time_out": truncation,
            "episode_done": done,
            "episode_metrics": episode_metrics,
        }
        return nstate.replace(reward=reward, done=done, info=info)


class AutoResetWrapper(Wrapper):
    """Re-randomising auto-reset for a batched env (outermost wrapper).

    At every ``step``, each environment whose episode ended gets ``env.reset(key)`` with
    ``key = fold_in(info[rng_key], salt)``: a fresh spawn point, command, push schedule, ...
    per episode. If the env defines ``reset_from(rng, prev_state)`` it is called instead, with
    the finished episode's state (e.g. for a terrain curriculum). The reset is computed for all
    envs and selected per env with ``jnp.where`` (no Python branching).

    The returned state of a finished env holds the *new* episode's ``data``, ``obs`` and
    env-owned ``info`` entries, but the *finished* transition's ``reward``, ``done`` = 1,
    ``metrics`` and the bookkeeping keys (:data:`BOOKKEEPING_KEYS`), so that PPO sees the
    terminal transition and brax's loggers see the completed episode's sums.

    Args:
      env: batched env, normally ``EpisodeWrapper(VmapWrapper(env))``.
      rng_key: name of the per-env PRNG key in ``state.info``.
    """

    def __init__(self, env: Any, rng_key: str = "rng"):
        super().__init__(env)
        self.rng_key = rng_key

    def reset(self, rng: jax.Array) -> State:
        state = self.env.reset(rng)
        if self.rng_key not in state.info:
            raise KeyError(
                f"AutoResetWrapper needs state.info[{self.rng_key!r}] (the env's PRNG key) to "
                f"re-randomise episodes; info has {sorted(state.info)}"
            )
        return state

    def step(self, state: State, action: jax.Array) -> State:
        # done=1 on the input only marks that its data is already the new episode's.
        state = state.replace(done=jnp.zeros_like(state.done))
        stepped = step_unaliased(self.env, state, action)
        done = stepped.done > 0

        keys = auto_reset_keys(stepped.info[self.rng_key], batch_ndim=stepped.done.ndim)
        fresh = reset_after(self.env, keys, stepped)

        env_keys = [k for k in fresh.info if k not in BOOKKEEPING_KEYS]
        env_info_fresh = {k: fresh.info[k] for k in env_keys}
        env_info_old = {k: stepped.info[k] for k in env_keys}
        env_info = _broadcast_select(done, env_info_fresh, env_info_old)

        return stepped.replace(
            data=_broadcast_select(done, fresh.data, stepped.data),
            obs=_broadcast_select(done, fresh.obs, stepped.obs),
            info={**stepped.info, **env_info},
        )


def wrap_for_training(
    env: Any,
    episode_length: int,
    action_repeat: int = 1,
    randomization_fn: Optional[Callable] = None,
) -> AutoResetWrapper:
    """Wraps an unbatched env for brax training; pass as ``ppo.train(wrap_env_fn=...)``.

    brax calls it as ``wrap_env_fn(env, episode_length=..., action_repeat=...,
    randomization_fn=...)`` once for training and once for evaluation.

    Args:
      env: unbatched env with ``reset(rng) -> State``, ``step(state, action) -> State``,
        ``observation_size``, ``action_size`` and a PRNG key in ``state.info['rng']``.
      episode_length: time limit in inner env steps (see :class:`EpisodeWrapper`).
      action_repeat: inner env steps per agent step.
      randomization_fn: must be None. Domain randomisation is one mechanism here: the env draws
        it per episode (``env.domain_randomization`` in the config; the draws live in
        ``state.info['dr']`` and work on the MJX and the C-MuJoCo back ends alike), so brax's
        per-slot model randomisation (``ppo.train(randomization_fn=...)``) is refused.

    Returns:
      A batched env: ``reset(keys[N, 2]) -> State`` with leading batch axis N, and ``step``.
    """
    if randomization_fn is not None:
        raise ValueError(
            "wrap_for_training: brax's randomization_fn is not supported; domain randomisation is "
            "drawn by the env every episode (env.domain_randomization in the training config, "
            "docs/commands_and_robustness.md)"
        )
    return AutoResetWrapper(EpisodeWrapper(VmapWrapper(env), episode_length, action_repeat))

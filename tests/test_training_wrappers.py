"""Behaviour of the brax training wrappers on a tiny pure-JAX environment (CPU, a few seconds)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.wrappers import training as brax_training
from brax.training import acting

from mjx_envs.state import State
from mjx_envs.training_wrappers import auto_reset_keys, wrap_for_training

NUM_ENVS = 4
EPISODE_LENGTH = 5


class CommandEnv:
    """1-D point that integrates its action; reset draws a random velocity "command".

    obs = [pos, command]; reward = 1 per inner step; terminates when pos > ``limit`` (m).
    ``step`` advances ``info['rng']`` like an env drawing push noise would. ``trace_log`` gets
    one entry per Python execution of reset/step, i.e. per trace under jit.
    """

    observation_size = 2
    action_size = 1

    def __init__(self, limit: float = np.inf):
        self.limit = limit
        self.mjx_model = {"gain": jnp.float32(1.0)}
        self.trace_log: list[str] = []

    def reset(self, rng: jax.Array) -> State:
        self.trace_log.append("reset")
        rng, key = jax.random.split(rng)
        command = jax.random.uniform(key, (), minval=-1.0, maxval=1.0)
        pos = jnp.zeros(())
        return State(
            data={"pos": pos},
            obs=jnp.stack([pos, command]),
            reward=jnp.zeros(()),
            done=jnp.zeros(()),
            metrics={"pos_abs": jnp.zeros(())},
            info={"rng": rng, "command": command},
        )

    def step(self, state: State, action: jax.Array) -> State:
        self.trace_log.append("step")
        pos = state.data["pos"] + self.mjx_model["gain"] * action[0]
        rng, _ = jax.random.split(state.info["rng"])
        state.info["rng"] = rng  # in-place, as Playground envs do
        return state.replace(
            data={"pos": pos},
            obs=jnp.stack([pos, state.info["command"]]),
            reward=jnp.ones(()),
            done=(pos > self.limit).astype(jnp.float32),
            metrics={"pos_abs": jnp.abs(pos)},
        )


def make_rollout(env, num_steps: int):
    """Jitted: reset with ``keys`` and step ``num_steps`` times with constant ``action``."""

    def rollout(keys: jax.Array, action: jax.Array):
        first = env.reset(keys)

        def body(state, _):
            nstate = env.step(state, jnp.broadcast_to(action, (keys.shape[0], 1)))
            return nstate, nstate

        _, traj = jax.lax.scan(body, first, None, length=num_steps)
        return first, traj

    return jax.jit(rollout)


@pytest.fixture(scope="module")
def timelimit_run():
    """4 envs, episode_length 5, 23 steps (4 full episodes + 3 steps), zero action."""
    raw = CommandEnv()
    env = wrap_for_training(raw, episode_length=EPISODE_LENGTH)
    rollout = make_rollout(env, num_steps=23)
    keys = jax.random.split(jax.random.PRNGKey(0), NUM_ENVS)
    first, traj = rollout(keys, jnp.zeros(1))
    return raw, rollout, keys, first, traj


def _commands_in_effect(first: State, traj: State) -> np.ndarray:
    """[T, N] command seen by the input state of each step."""
    seq = np.concatenate([first.info["command"][None], traj.info["command"]], axis=0)
    return seq[:-1]


def test_auto_reset_redraws_command_every_episode(timelimit_run):
    _, _, _, first, traj = timelimit_run
    cmds = _commands_in_effect(first, traj)  # [23, N]
    episodes = [cmds[e * EPISODE_LENGTH : (e + 1) * EPISODE_LENGTH] for e in range(4)]
    for ep in episodes:  # constant within an episode
        np.testing.assert_array_equal(ep, np.broadcast_to(ep[0], ep.shape))
    per_episode = np.stack([ep[0] for ep in episodes] + [cmds[20]])  # [5 episodes, N]
    for n in range(NUM_ENVS):  # a fresh command after every auto-reset
        assert len(np.unique(per_episode[:, n])) == per_episode.shape[0], per_episode[:, n]
    for e in range(per_episode.shape[0]):  # and different across envs
        assert len(np.unique(per_episode[e])) == NUM_ENVS, per_episode[e]


def test_first_episode_matches_unwrapped_reset(timelimit_run):
    _, _, keys, first, _ = timelimit_run
    direct = jax.jit(jax.vmap(CommandEnv().reset))(keys)
    np.testing.assert_array_equal(first.info["command"], direct.info["command"])
    np.testing.assert_array_equal(first.obs, direct.obs)


def test_time_limit_flags_and_bookkeeping(timelimit_run):
    _, _, _, _, traj = timelimit_run
    t = np.arange(23)
    last = ((t + 1) % EPISODE_LENGTH == 0).astype(np.float32)[:, None] * np.ones(NUM_ENVS)
    np.testing.assert_array_equal(traj.done, last)
    np.testing.assert_array_equal(traj.info["truncation"], last)
    np.testing.assert_array_equal(traj.info["time_out"], last)
    np.testing.assert_array_equal(traj.info["episode_done"], last)
    steps = (t % EPISODE_LENGTH + 1).astype(np.float32)[:, None] * np.ones(NUM_ENVS)
    np.testing.assert_array_equal(traj.info["steps"], steps)
    ep = traj.info["episode_metrics"]
    np.testing.assert_array_equal(ep["length"], steps)
    np.testing.assert_array_equal(ep["sum_reward"], steps)  # reward 1 per step
    np.testing.assert_array_equal(traj.reward, np.ones_like(traj.reward))


def test_identical_keys_identical_trajectories(timelimit_run):
    _, rollout, keys, first, traj = timelimit_run
    first2, traj2 = rollout(keys, jnp.zeros(1))
    leaves = jax.tree_util.tree_leaves
    for a, b in zip(leaves((first, traj)), leaves((first2, traj2))):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    _, traj3 = rollout(jax.random.split(jax.random.PRNGKey(1), NUM_ENVS), jnp.zeros(1))
    assert not np.array_equal(traj3.info["command"], traj.info["command"])


def test_no_retrace_on_repeated_calls(timelimit_run):
    raw, rollout, keys, _, _ = timelimit_run
    traces_before = len(raw.trace_log)
    assert traces_before > 0
    for seed in (3, 4):
        out = rollout(jax.random.split(jax.random.PRNGKey(seed), NUM_ENVS), jnp.zeros(1))
        jax.block_until_ready(out)
    assert len(raw.trace_log) == traces_before


def test_termination_resets_without_truncation():
    # pos += 1 per step, limit 2.5: terminates at the 3rd step; time limit 3 also hits there.
    env = wrap_for_training(CommandEnv(limit=2.5), episode_length=3)
    first, traj = make_rollout(env, num_steps=7)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.ones(1))
    done = np.asarray(traj.done[:, 0])
    np.testing.assert_array_equal(done, [0, 0, 1, 0, 0, 1, 0])
    # terminated and timed out at the same step: a termination, not a truncation
    np.testing.assert_array_equal(traj.info["truncation"][:, 0], np.zeros(7))
    # the finished transition keeps its metrics; the returned data/obs are the new episode's
    np.testing.assert_array_equal(traj.metrics["pos_abs"][:, 0], [1, 2, 3, 1, 2, 3, 1])
    np.testing.assert_array_equal(traj.data["pos"][:, 0], [1, 2, 0, 1, 2, 0, 1])
    np.testing.assert_array_equal(traj.obs[:, 0, 0], [1, 2, 0, 1, 2, 0, 1])
    summed = traj.info["episode_metrics"]["pos_abs"][:, 0]
    np.testing.assert_array_equal(summed, [1, 3, 6, 1, 3, 6, 1])


def test_action_repeat_sums_reward_and_freezes_after_termination():
    env = wrap_for_training(CommandEnv(limit=2.5), episode_length=100, action_repeat=2)
    _, traj = make_rollout(env, num_steps=3)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.ones(1))
    # step 1: inner pos 1, 2 (reward 2). step 2: inner pos 3 -> terminated, 4th inner step frozen.
    np.testing.assert_array_equal(traj.reward[:, 0], [2, 1, 2])
    np.testing.assert_array_equal(traj.metrics["pos_abs"][:, 0], [2, 3, 2])
    np.testing.assert_array_equal(traj.done[:, 0], [0, 1, 0])
    np.testing.assert_array_equal(traj.info["steps"][:, 0], [2, 4, 2])
    np.testing.assert_array_equal(traj.info["episode_metrics"]["sum_reward"][:, 0], [2, 3, 2])


def test_brax_randomization_fn_is_refused():
    """Domain randomisation is drawn by the env per episode (one mechanism); brax's per-slot
    ``randomization_fn`` is refused with a message that says where it lives instead."""
    env = wrap_for_training(CommandEnv(), episode_length=3, action_repeat=1, randomization_fn=None)
    assert env is not None
    with pytest.raises(ValueError, match="randomization_fn is not supported.*env.domain_randomization"):
        wrap_for_training(
            CommandEnv(), episode_length=3, action_repeat=1, randomization_fn=lambda model, rng: (model, {})
        )


def test_brax_evaluator_metrics_on_our_state():
    env = wrap_for_training(CommandEnv(), episode_length=EPISODE_LENGTH)
    eval_env = brax_training.EvalWrapper(env)

    def run(key):
        state = eval_env.reset(jax.random.split(key, NUM_ENVS))
        policy = lambda obs, k: (jnp.zeros((obs.shape[0], 1)), {})  # noqa: E731
        final, _ = acting.generate_unroll(eval_env, state, policy, key, EPISODE_LENGTH + 2)
        return final.info["eval_metrics"]

    metrics = jax.jit(run)(jax.random.PRNGKey(0))
    np.testing.assert_array_equal(metrics.episode_steps, np.full(NUM_ENVS, EPISODE_LENGTH))
    np.testing.assert_array_equal(metrics.active_episodes, np.zeros(NUM_ENVS))
    np.testing.assert_array_equal(metrics.episode_metrics["reward"], np.full(NUM_ENVS, EPISODE_LENGTH))


def test_auto_reset_keys_are_fresh():
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    new = jax.jit(auto_reset_keys, static_argnums=1)(keys, 1)
    assert new.shape == keys.shape
    assert not np.any(np.all(np.asarray(new) == np.asarray(keys), axis=-1))
    assert len({tuple(k) for k in np.asarray(new).tolist()}) == 3


def test_missing_rng_is_reported():
    class NoRng(CommandEnv):
        def reset(self, rng):
            state = super().reset(rng)
            return state.replace(info={"command": state.info["command"]})

    env = wrap_for_training(NoRng(), episode_length=3)
    with pytest.raises(KeyError, match="rng"):
        jax.jit(env.reset)(jax.random.split(jax.random.PRNGKey(0), 2))


class CurriculumEnv(CommandEnv):
    """Counts episodes per env through ``reset_from`` (stands in for a terrain curriculum)."""

    def reset(self, rng: jax.Array) -> State:
        state = super().reset(rng)
        return state.replace(info={**state.info, "episode_index": jnp.zeros((), jnp.int32)})

    def reset_from(self, rng: jax.Array, prev: State) -> State:
        state = self.reset(rng)
        index = prev.info["episode_index"] + 1
        return state.replace(info={**state.info, "episode_index": index})


def test_auto_reset_uses_reset_from_with_finished_episode():
    env = wrap_for_training(CurriculumEnv(), episode_length=2)
    first, traj = make_rollout(env, num_steps=6)(jax.random.split(jax.random.PRNGKey(0), NUM_ENVS), jnp.zeros(1))
    np.testing.assert_array_equal(first.info["episode_index"], np.zeros(NUM_ENVS))
    expected = np.array([0, 1, 1, 2, 2, 3])[:, None] * np.ones(NUM_ENVS)
    np.testing.assert_array_equal(traj.info["episode_index"], expected)
    cmds = np.asarray(traj.info["command"][1::2])  # one per new episode
    assert len(np.unique(cmds[:, 0])) == cmds.shape[0]


class EdgeEnv(CommandEnv):
    """Like CommandEnv, but leaving ``pos > edge`` ends the episode as a *truncation*: the env sets
    ``done`` = 1 and ``info['truncation']`` = 1 (brax's convention; MjxResidualWalk leaving the map)."""

    def __init__(self, limit: float = np.inf, edge: float = np.inf):
        super().__init__(limit)
        self.edge = edge

    def reset(self, rng: jax.Array) -> State:
        state = super().reset(rng)
        return state.replace(info={**state.info, "truncation": jnp.zeros(())})

    def step(self, state: State, action: jax.Array) -> State:
        state = super().step(state, action)
        pos = state.data["pos"]
        off = ((pos > self.edge) & (state.done == 0)).astype(jnp.float32)
        return state.replace(done=jnp.maximum(state.done, off), info={**state.info, "truncation": off})


def test_env_truncation_is_kept_and_combined_with_the_time_limit():
    # pos += 1 per step; off the map at pos > 2.5 (3rd step); time limit 5 never reached
    env = wrap_for_training(EdgeEnv(edge=2.5), episode_length=5)
    _, traj = make_rollout(env, num_steps=7)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.ones(1))
    np.testing.assert_array_equal(traj.done[:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(traj.info["truncation"][:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(traj.info["time_out"][:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(traj.info["episode_done"][:, 0], [0, 0, 1, 0, 0, 1, 0])
    np.testing.assert_array_equal(traj.info["steps"][:, 0], [1, 2, 3, 1, 2, 3, 1])
    # the time limit still truncates when the env does not (edge never reached at action 0)
    env = wrap_for_training(EdgeEnv(edge=2.5), episode_length=3)
    _, traj = make_rollout(env, num_steps=4)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.zeros(1))
    np.testing.assert_array_equal(traj.info["truncation"][:, 0], [0, 0, 1, 0])
    # a termination at the same step as the env's truncation stays a termination
    env = wrap_for_training(EdgeEnv(limit=2.5, edge=2.5), episode_length=100)
    _, traj = make_rollout(env, num_steps=4)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.ones(1))
    np.testing.assert_array_equal(traj.done[:, 0], [0, 0, 1, 0])
    np.testing.assert_array_equal(traj.info["truncation"][:, 0], [0, 0, 0, 0])


def test_env_truncation_with_action_repeat():
    env = wrap_for_training(EdgeEnv(edge=2.5), episode_length=100, action_repeat=2)
    _, traj = make_rollout(env, num_steps=3)(jax.random.split(jax.random.PRNGKey(0), 2), jnp.ones(1))
    # step 1: pos 1, 2; step 2: pos 3 -> off the map (truncated), 4th inner step frozen
    np.testing.assert_array_equal(traj.done[:, 0], [0, 1, 0])
    np.testing.assert_array_equal(traj.info["truncation"][:, 0], [0, 1, 0])
    np.testing.assert_array_equal(traj.reward[:, 0], [2, 1, 2])

"""The jax>=0.10 shim for brax, and brax PPO end-to-end on a toy env through our wrappers."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec

from mjx_envs.state import State
from mjx_envs.training_wrappers import wrap_for_training
from train import brax_compat

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_replicated_has_leading_device_axis_and_equal_values():
    devices = jax.local_devices()
    tree = {
        "w": jnp.arange(6.0).reshape(2, 3),
        "step": jnp.int32(7),
        "raw_key": jax.random.PRNGKey(3),
        "typed_key": jax.random.key(4),
    }
    out = brax_compat.device_put_replicated(tree, devices)
    for name, leaf in tree.items():
        rep = out[name]
        assert rep.shape == (len(devices),) + leaf.shape, name
        assert rep.dtype == leaf.dtype, name
        assert isinstance(rep.sharding, NamedSharding)
        assert rep.sharding.spec == PartitionSpec(brax_compat.PMAP_AXIS_NAME)
        assert [s.device for s in rep.addressable_shards] == list(devices)
    for d in range(len(devices)):
        np.testing.assert_array_equal(out["w"][d], tree["w"])
        np.testing.assert_array_equal(out["raw_key"][d], tree["raw_key"])
        np.testing.assert_array_equal(jax.random.key_data(out["typed_key"][d]), jax.random.key_data(tree["typed_key"]))


def test_sharded_stacks_per_device_values():
    devices = jax.local_devices()
    shards = [{"x": jnp.full((2,), float(i))} for i in range(len(devices))]
    out = brax_compat.device_put_sharded(shards, devices)
    np.testing.assert_array_equal(out["x"], np.stack([s["x"] for s in shards]))
    with pytest.raises(ValueError, match="must equal"):
        brax_compat.device_put_sharded(shards + shards, devices)
    with pytest.raises(ValueError, match="non-empty"):
        brax_compat.device_put_replicated(jnp.ones(2), [])


def test_apply_is_idempotent_and_installs_on_jax():
    first = brax_compat.apply()
    second = brax_compat.apply()
    assert first == second
    for name in first:
        assert getattr(jax, name) is getattr(brax_compat, name)
    out = jax.device_put_replicated(jnp.ones(3), jax.local_devices())  # what brax calls
    assert out.shape == (len(jax.local_devices()), 3)


def test_apply_leaves_native_functions_alone(monkeypatch):
    def native(x, devices):
        return "native"

    monkeypatch.setattr(jax, "device_put_replicated", native, raising=False)
    served = brax_compat.apply()
    assert "device_put_replicated" not in served
    assert jax.device_put_replicated is native


_MULTI_DEVICE_SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    from train import brax_compat
    brax_compat.apply()
    from brax.training import pmap as brax_pmap
    devices = jax.local_devices()
    assert len(devices) == 2, devices
    x = brax_pmap.bcast_local_devices({"a": jnp.arange(3.0)}, 2)
    assert [s.device for s in x["a"].addressable_shards] == devices
    total = jax.pmap(lambda t: jax.lax.psum(t["a"], "i"), axis_name="i")(x)
    np.testing.assert_array_equal(total, np.stack([2 * np.arange(3.0)] * 2))
    brax_pmap.assert_is_replicated(x)
    y = jax.device_put_sharded([jnp.zeros(2), jnp.ones(2)], devices)
    assert [float(s.data.sum()) for s in y.addressable_shards] == [0.0, 2.0]
    print("OK")
    """
)


def test_two_cpu_devices_with_pmap_in_subprocess():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", _MULTI_DEVICE_SCRIPT],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "OK" in proc.stdout


# ----------------------------------------------------------------------------- brax PPO

EPISODE_LENGTH = 20
# Expected return of the do-nothing policy: 20 steps of -E|target - pos| = -20 * 2/3.
DO_NOTHING_RETURN = -EPISODE_LENGTH * 2.0 / 3.0


class PointToTarget:
    """1-D point that must move to a random target; pure JAX, our State, Playground-style API.

    obs = [target - pos] (m); action in [-1, 1] moves ``0.2 * gain * action`` m per step;
    reward = -|target - pos| per step (``mjx_model`` holds the fixed ``gain``).
    """

    observation_size = 1
    action_size = 1

    def __init__(self):
        self.mjx_model = {"gain": jnp.float32(1.0)}

    def reset(self, rng: jax.Array) -> State:
        rng, k_pos, k_tgt = jax.random.split(rng, 3)
        pos = jax.random.uniform(k_pos, (), minval=-1.0, maxval=1.0)
        target = jax.random.uniform(k_tgt, (), minval=-1.0, maxval=1.0)
        return State(
            data={"pos": pos},
            obs=jnp.stack([target - pos]),
            reward=jnp.zeros(()),
            done=jnp.zeros(()),
            metrics={"distance": jnp.zeros(())},
            info={"rng": rng, "target": target},
        )

    def step(self, state: State, action: jax.Array) -> State:
        pos = jnp.clip(state.data["pos"] + 0.2 * self.mjx_model["gain"] * action[0], -2.0, 2.0)
        distance = jnp.abs(state.info["target"] - pos)
        return state.replace(
            data={"pos": pos},
            obs=jnp.stack([state.info["target"] - pos]),
            reward=-distance,
            metrics={"distance": distance},
        )


def test_ppo_train_learns_toy_env_through_our_wrappers():
    brax_compat.apply()
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo

    wrapped = []

    def wrap(env, **kw):  # brax calls it for training and for evaluation
        wrapped.append(kw.get("randomization_fn"))
        return wrap_for_training(env, **kw)

    progress = []
    make_policy, params, metrics = ppo.train(
        PointToTarget(),
        num_timesteps=10_000,
        episode_length=EPISODE_LENGTH,
        num_envs=16,
        num_eval_envs=8,
        batch_size=16,
        num_minibatches=4,
        unroll_length=10,
        num_updates_per_batch=2,
        learning_rate=3e-3,
        entropy_cost=1e-3,
        discounting=0.9,
        num_evals=1,
        log_training_metrics=True,
        training_metrics_steps=1000,
        seed=0,
        wrap_env_fn=wrap,
        network_factory=functools.partial(
            ppo_networks.make_ppo_networks,
            policy_hidden_layer_sizes=(16, 16),
            value_hidden_layer_sizes=(16, 16),
        ),
        progress_fn=lambda step, m: progress.append((step, dict(m))),
    )

    # ppo.train called our wrapper for training and for evaluation, without a randomization_fn
    assert wrapped == [None, None]
    leaves = jax.tree_util.tree_leaves(params)
    assert len(params) == 3 and leaves
    assert all(np.all(np.isfinite(np.asarray(x))) for x in leaves)
    assert all(np.isfinite(v) for v in metrics.values()), metrics
    assert metrics["eval/avg_episode_length"] == EPISODE_LENGTH

    # brax's EpisodeMetricsLogger read our episode_metrics / episode_done
    train_logs = [m for _, m in progress if "episode/sum_reward" in m]
    assert len(train_logs) >= 2
    assert all(m["episode/length"] == EPISODE_LENGTH for m in train_logs)
    assert train_logs[-1]["episode/sum_reward"] > train_logs[0]["episode/sum_reward"] + 3.0

    # the deterministic policy reaches the target: well beyond the do-nothing return
    assert metrics["eval/episode_reward"] > 0.45 * DO_NOTHING_RETURN, metrics["eval/episode_reward"]

    policy = jax.jit(make_policy(params, deterministic=True))
    action, _ = policy(jnp.array([[0.5], [-0.5]]), jax.random.PRNGKey(0))
    assert action[0, 0] > 0.0 > action[1, 0]  # moves towards the target

"""What a Brax PPO run is built from: the network factory, the training and evaluation envs, the
config's ``ppo.train`` hyperparameters, the batch's split over the local JAX devices, and the
device/physics labels the logs and results files carry (used by :mod:`train.runner`, the SB3 path
and the benchmarks)."""

from __future__ import annotations

import dataclasses
import functools
import os
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from train.config import TrainConfig


def activation_fn(name: str):
    """The flax activation named by ``ppo.activation`` (``train.config.ACTIVATIONS``)."""
    from flax import linen

    return {"relu": linen.relu, "tanh": linen.tanh, "swish": linen.swish, "elu": linen.elu}[name]


def make_network_factory(ppo_cfg) -> Callable:
    """``brax.training.agents.ppo.networks.make_ppo_networks`` with the config's sizes bound.

    Only registered (name-serialisable) functions are bound, so brax's checkpoint config works.
    """
    import jax
    from brax.training.agents.ppo import networks as ppo_networks

    kwargs: Dict[str, Any] = dict(
        policy_hidden_layer_sizes=tuple(ppo_cfg.policy_hidden_layer_sizes),
        value_hidden_layer_sizes=tuple(ppo_cfg.value_hidden_layer_sizes),
        activation=activation_fn(ppo_cfg.activation),
        distribution_type=ppo_cfg.distribution,
    )
    if ppo_cfg.distribution == "normal":
        kwargs.update(noise_std_type="log", init_noise_std=ppo_cfg.init_noise_std)
        if ppo_cfg.mean_init_scale > 0:
            kwargs.update(
                mean_kernel_init_fn=jax.nn.initializers.variance_scaling,
                mean_kernel_init_kwargs={"scale": ppo_cfg.mean_init_scale, "mode": "fan_in", "distribution": "uniform"},
            )
        else:
            kwargs.update(mean_kernel_init_fn=jax.nn.initializers.constant, mean_kernel_init_kwargs={"value": 0.0})
    return functools.partial(ppo_networks.make_ppo_networks, **kwargs)


def make_envs(cfg: TrainConfig, start_levels: Optional[Sequence[float]] = None) -> Tuple[Any, Any, Any]:
    """``(training env, eval env, raw training env)``; the training env carries curriculum metrics
    on the rough world. ``start_levels`` (a resumed run's level distribution at its checkpoint:
    the fraction of training episodes on each level) replaces the training env's
    ``curriculum.initial_level_weights``; the eval env always spreads its episodes over every level."""
    from mjx_envs.backends import make_env
    from mjx_envs.training_wrappers import TerrainLevelMetrics
    from model import terrain

    train_env_cfg = cfg.env
    if start_levels:
        train_env_cfg = dataclasses.replace(
            cfg.env,
            curriculum=dataclasses.replace(cfg.env.curriculum, initial_level_weights=tuple(map(float, start_levels))),
        )
    raw = make_env(cfg.simulation, train_env_cfg, cfg.gait)
    train_env = raw
    if cfg.simulation.world in ("rough", "suite") and cfg.env.curriculum.enabled:
        train_env = TerrainLevelMetrics(raw)
    eval_cfg = cfg.env
    eval_sim = cfg.simulation.replace(world=cfg.run.eval_world)
    if cfg.run.eval_world != "flat":
        # fixed evaluation episodes spread over every level (and, on the suite, every type: drawn
        # from each episode's key), on a terrain seed training never uses
        num_levels = (
            terrain.default_suite_spec().num_levels
            if cfg.run.eval_world == "suite"
            else terrain.DEFAULT_TERRAIN.num_bands
        )
        eval_cfg = dataclasses.replace(
            cfg.env,
            curriculum=dataclasses.replace(
                cfg.env.curriculum, initial_max_level=num_levels - 1, initial_level_weights=()
            ),
        )
        if cfg.run.eval_terrain_seed is not None:
            eval_sim = eval_sim.replace(terrain_seed=cfg.run.eval_terrain_seed)
    eval_env = make_env(eval_sim, eval_cfg, cfg.gait)
    return train_env, eval_env, raw


def device_label() -> str:
    """Short file-name label of the device: ``"nvidia-h200"``, ``"cpu-2core"`` (results files use it)."""
    import jax

    d = jax.local_devices()[0]
    if d.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return str(getattr(d, "device_kind", d.platform)).lower().replace(" ", "-")


def describe_device() -> str:
    """``"gpu: NVIDIA H100 (1 device)"`` / ``"cpu: 2 cores (1 device)"``: this process's devices
    (in a multi-process run ``"... (1 device; 2 in all processes)"``)."""
    import jax

    devs = jax.local_devices()
    n = len(devs)
    count = f"{n} {'JAX ' if jax.default_backend() == 'cpu' else ''}device{'s' if n > 1 else ''}"
    if jax.process_count() > 1:
        count += f"; {jax.device_count()} in all processes"
    if jax.default_backend() == "cpu":
        return f"cpu: {os.cpu_count()} cores ({count})"
    kind = getattr(devs[0], "device_kind", str(devs[0]))
    return f"{jax.default_backend()}: {kind} ({count})"


def describe_physics(env) -> str:
    """``"cmujoco (C MuJoCo, mujoco.rollout, 2 threads)"`` or ``"mjx"``: the training env's back end."""
    physics = getattr(env, "physics", None)
    if physics is not None:
        return f"cmujoco (C MuJoCo, mujoco.rollout, {physics.nthread} thread{'s' if physics.nthread > 1 else ''})"
    return "mjx"


def observation_normalizer(pcfg):
    """brax's running-statistics normaliser, or the identity when ``ppo.normalize_observations`` is off."""
    from brax.training.acme import running_statistics

    if pcfg.normalize_observations:
        return running_statistics.normalize
    return lambda x, y: x


def check_device_split(pcfg) -> int:
    """Local JAX devices brax PPO will split the batch over (it pmaps over all of them, on every
    process of a multi-process run); a ConfigError if ``ppo.num_envs`` or ``ppo.batch_size`` does
    not divide evenly among all of them."""
    import jax

    from model.yaml_config import ConfigError

    n, processes = jax.local_device_count(), jax.process_count()
    where = f"the {n} local JAX devices" + (f" of each of the {processes} processes" if processes > 1 else "")
    for key in ("num_envs", "batch_size"):
        value = getattr(pcfg, key)
        if value % (n * processes):
            raise ConfigError(
                f"key 'ppo.{key}' = {value} must be a multiple of {where} brax PPO splits it over "
                f"({jax.devices()[0].platform}; XLA_FLAGS / CUDA_VISIBLE_DEVICES choose how many)"
            )
    return n


def ppo_hyperparameters(cfg: TrainConfig) -> Dict[str, Any]:
    """The keyword arguments of ``brax.training.agents.ppo.train`` that come straight from the
    config (``ppo.*``, ``episode_length``, ``run.log_training_metrics`` / ``training_metrics_steps``);
    the run adds the env, step counts, network factory, seed and callbacks."""
    pcfg, rcfg = cfg.ppo, cfg.run
    return dict(
        episode_length=cfg.episode_length,
        action_repeat=pcfg.action_repeat,
        num_envs=pcfg.num_envs,
        learning_rate=pcfg.learning_rate,
        entropy_cost=pcfg.entropy_cost,
        discounting=pcfg.discounting,
        gae_lambda=pcfg.gae_lambda,
        unroll_length=pcfg.unroll_length,
        batch_size=pcfg.batch_size,
        num_minibatches=pcfg.num_minibatches,
        num_updates_per_batch=pcfg.num_updates_per_batch,
        clipping_epsilon=pcfg.clipping_epsilon,
        reward_scaling=pcfg.reward_scaling,
        max_grad_norm=pcfg.max_grad_norm,
        normalize_observations=pcfg.normalize_observations,
        normalize_advantage=pcfg.normalize_advantage,
        log_training_metrics=rcfg.log_training_metrics,
        training_metrics_steps=rcfg.training_metrics_steps,
    )

"""Functional entry of Brax PPO training: :func:`train_policy` (the CLI ``python -m train`` wraps it).

    from train.config import load_train_config
    from train.brax_ppo import train_policy
    result = train_policy(load_train_config(preset="cpu_small"), "runs/residual_ppo/my_run")
    result.export_dir, result.final_eval["reward"]

What one run does (details in docs/training.md):

* training env: ``mjx_envs.backends.make_env(cfg.simulation, cfg.env, cfg.gait)`` — MJX
  ``ResidualWalk``, or on a CPU-only machine (``simulation.backend: auto``, or ``cmujoco``) the
  batched C-MuJoCo ``CMujocoResidualWalk`` (same logic, physics through ``jax.pure_callback``) — wrapped by brax through
  ``mjx_envs.training_wrappers.wrap_for_training`` (re-randomising auto-reset, terrain curriculum
  via ``reset_from``); eval env: the same on ``run.eval_world`` (flat by default);
* ``brax.training.agents.ppo.train`` with observation normalisation; the run is cut into
  ``ppo.num_evals - 1`` equal epochs. After each epoch (brax's ``policy_params_fn``) the policy
  is evaluated on fixed flat-world episodes (:mod:`train.evaluation`), a checkpoint is written
  every ``run.checkpoint_every_evals`` epochs (and at the end), and early stopping is checked
  (brax's ``progress_fn`` raises :class:`EarlyStop`; the run still checkpoints and exports);
* at step 0 the zero-residual policy (nominal trot alone) is evaluated on the same episodes, the
  baseline every later evaluation is compared with;
* ``resume=True`` continues from the newest checkpoint of ``run_dir``: parameters, observation
  statistics and Adam's state (:mod:`train.optimizer_state`) are restored, env steps continue
  from the checkpoint's step; the segment's resolved config is recorded (``config.yaml`` and
  ``config_history/``) and every checkpoint stores the config that produced it;
* the end: ``export/`` (:mod:`train.export`), readable with ``train.export.load_policy``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from train.checkpoints import (
    BEST_SUBDIR,
    CheckpointError,
    checkpoint_config_path,
    list_checkpoints,
    load_checkpoint,
    load_latest,
    read_optimizer_state,
    save_checkpoint,
)
from train.config import TrainConfig, load_resolved_config
from train.optimizer_state import OptimizerStateHook, adam_count
from train.progress import ProgressLogger
from train.run_dir import record_config
from train.run_summary import before_after, plot_learning_curve, summary_lines, write_summary


class EarlyStop(Exception):
    """Raised from brax's progress_fn to end training early (caught by :func:`train_policy`)."""


@dataclasses.dataclass
class TrainResult:
    """What :func:`train_policy` returns.

    Attributes:
      run_dir, export_dir: where the run and its export are.
      params: final ``(normalizer state, policy params, value params)``.
      export_params: the parameters written to ``export/`` (best or final, ``run.export_policy``);
      export_step: the env step they come from.
      make_policy: brax ``make_inference_fn(ppo_network)``; ``make_policy(params, deterministic=True)``.
      start_step: env step the run (or resumed run) started from; ``final_step``: where it ended.
      evals: every evaluation summary of this run (with ``step``), oldest first.
      final_eval: the last evaluation summary; ``zero_residual_eval``: the baseline's.
      stopped_early: early stopping ended the run.
      wall_time_s: seconds of this call.
      summary: the before/after comparison (train/run_summary.py: nominal gait vs the exported
        policy on the evaluation episodes), also in ``RUN_DIR/summary.json``; None without a
        zero-residual evaluation.
    """

    run_dir: str
    export_dir: str
    params: Any
    export_params: Any
    export_step: int
    make_policy: Callable
    start_step: int
    final_step: int
    evals: List[Dict[str, Any]]
    final_eval: Dict[str, Any]
    zero_residual_eval: Optional[Dict[str, Any]]
    stopped_early: bool
    wall_time_s: float
    summary: Optional[Dict[str, Any]] = None


class EarlyStopping:
    """Plateau detector on the evaluation reward.

    ``update(reward)`` returns True once ``patience`` consecutive evaluations did not beat the best
    so far by more than ``min_delta``, provided at least ``min_evals`` evaluations were seen.
    """

    def __init__(self, enabled: bool, patience: int, min_delta: float, min_evals: int = 0):
        self.enabled, self.patience, self.min_delta, self.min_evals = enabled, patience, min_delta, min_evals
        self.best = -math.inf
        self.best_step: Optional[int] = None
        self.since_best = 0
        self.count = 0

    def update(self, reward: float, step: Optional[int] = None) -> bool:
        self.count += 1
        if reward > self.best + self.min_delta or self.best_step is None:
            self.best, self.best_step, self.since_best = float(reward), step, 0
        else:
            self.since_best += 1
        return bool(self.enabled and self.count >= self.min_evals and self.since_best >= self.patience)

    def state(self) -> Dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best, "count": self.count}

    def load(self, s: Dict[str, Any]) -> None:
        self.best = float(s.get("best", -math.inf)) if s.get("best") is not None else -math.inf
        self.best_step = s.get("best_step")
        self.since_best = int(s.get("since_best", 0))
        self.count = int(s.get("count", 0))


# ------------------------------------------------------------------------------------- builders

def activation_fn(name: str):
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
            kwargs.update(mean_kernel_init_fn=jax.nn.initializers.variance_scaling,
                          mean_kernel_init_kwargs={"scale": ppo_cfg.mean_init_scale, "mode": "fan_in",
                                                   "distribution": "uniform"})
        else:
            kwargs.update(mean_kernel_init_fn=jax.nn.initializers.constant,
                          mean_kernel_init_kwargs={"value": 0.0})
    return functools.partial(ppo_networks.make_ppo_networks, **kwargs)


def make_envs(cfg: TrainConfig) -> Tuple[Any, Any, Any]:
    """``(training env, eval env, raw training env)``; the training env carries curriculum metrics
    on the rough world."""
    from mjx_envs.backends import make_env
    from mjx_envs.training_wrappers import TerrainLevelMetrics
    from model import terrain

    raw = make_env(cfg.simulation, cfg.env, cfg.gait)
    train_env = raw
    if cfg.simulation.world in ("rough", "suite") and cfg.env.curriculum.enabled:
        train_env = TerrainLevelMetrics(raw)
    eval_cfg = cfg.env
    eval_sim = cfg.simulation.replace(world=cfg.run.eval_world)
    if cfg.run.eval_world != "flat":
        # fixed evaluation episodes spread over every level (and, on the suite, every type: drawn
        # from each episode's key), on a terrain seed training never uses
        num_levels = (terrain.default_suite_spec().num_levels if cfg.run.eval_world == "suite"
                      else terrain.DEFAULT_TERRAIN.num_bands)
        eval_cfg = dataclasses.replace(cfg.env, curriculum=dataclasses.replace(
            cfg.env.curriculum, initial_max_level=num_levels - 1))
        if cfg.run.eval_terrain_seed is not None:
            eval_sim = eval_sim.replace(terrain_seed=cfg.run.eval_terrain_seed)
    eval_env = make_env(eval_sim, eval_cfg, cfg.gait)
    return train_env, eval_env, raw


def device_label() -> str:
    """Short file-name label of the device: ``"nvidia-h200"``, ``"cpu-2core"`` (results files use it)."""
    import jax

    d = jax.devices()[0]
    if d.platform == "cpu":
        return f"cpu-{os.cpu_count()}core"
    return str(getattr(d, "device_kind", d.platform)).lower().replace(" ", "-")


def describe_device() -> str:
    """``"gpu: NVIDIA H100 (1 device)"`` / ``"cpu: 2 cores (1 device)"``."""
    import jax

    devs = jax.devices()
    backend = jax.default_backend()
    if backend == "cpu":
        return f"cpu: {os.cpu_count()} cores ({len(devs)} JAX device{'s' if len(devs) > 1 else ''})"
    kind = getattr(devs[0], "device_kind", str(devs[0]))
    return f"{backend}: {kind} ({len(devs)} device{'s' if len(devs) > 1 else ''})"


def describe_physics(env) -> str:
    """``"cmujoco (C MuJoCo, mujoco.rollout, 2 threads)"`` or ``"mjx"``: the training env's back end."""
    physics = getattr(env, "physics", None)
    if physics is not None:
        return f"cmujoco (C MuJoCo, mujoco.rollout, {physics.nthread} thread{'s' if physics.nthread > 1 else ''})"
    return "mjx"


def _to_numpy_tree(tree):
    import jax

    return jax.tree_util.tree_map(lambda x: np.asarray(x), tree)


# ------------------------------------------------------------------------------------ training

def train_policy(cfg: TrainConfig, run_dir: str, progress_fn: Optional[Callable[[int, Dict[str, Any]], None]] = None,
                 resume: bool = False, console: Callable[[str], None] = print) -> TrainResult:
    """Train (or resume) a residual policy with Brax PPO; checkpoint, log and export under ``run_dir``.

    Args:
      cfg: the run's configuration.
      run_dir: run directory (created; for ``resume`` it must hold a checkpoint).
      progress_fn: optional ``fn(step, metrics)`` called after every evaluation with the global
        env step and a dict of ``eval/<name>`` (evaluation summary) and brax ``training/*`` numbers.
        An exception it raises ends the run (no export) — the checkpoints stay.
      resume: continue from the newest checkpoint in ``run_dir`` (CheckpointError if none/corrupt).
      console: printer of the progress lines.

    Returns:
      :class:`TrainResult`.
    """
    import jax
    from brax.training.agents.ppo import checkpoint as brax_ckpt
    from brax.training.agents.ppo import networks as ppo_networks
    from brax.training.agents.ppo import train as ppo

    from mjx_envs.training_wrappers import wrap_for_training
    from train import brax_compat
    from train.evaluation import PolicyEvaluator, summarize
    from train.export import EXPORT_SUBDIR, export_brax_policy

    t_start = time.time()
    brax_compat.apply()
    pcfg, rcfg = cfg.ppo, cfg.run
    run_dir = os.path.abspath(run_dir)  # once; every path of the run derives from it

    # ---- where we start
    start_step, restore_params, prior_state, restore_opt = 0, None, {}, None
    if resume:
        start_step, ckpt_path, restore_params, prior_state = load_latest(run_dir)
        restore_opt = read_optimizer_state(ckpt_path)
        record_config(run_dir, cfg, start_step,
                      header=f"Resolved training config (source: {cfg.source}), resumed at env step {start_step}.\n"
                             f"Resume with: python -m train --resume {run_dir}")
    else:
        os.makedirs(run_dir, exist_ok=True)
        record_config(run_dir, cfg, 0, header=f"Resolved training config (source: {cfg.source}).\n"
                                              f"Resume with: python -m train --resume {run_dir}")
    opt_hook = OptimizerStateHook(restore_opt)
    epoch_steps = pcfg.epoch_env_steps
    target_steps = pcfg.total_env_steps
    remaining_epochs = max(0, -(-(target_steps - start_step) // epoch_steps))
    final_target = start_step + remaining_epochs * epoch_steps
    num_evals_total = pcfg.num_epochs + 1

    logger = ProgressLogger(run_dir, final_target, console=console, start_step=start_step)
    evals: List[Dict[str, Any]] = list(prior_state.get("evals", []))
    zero_eval = prior_state.get("zero_residual_eval")
    stopper = EarlyStopping(rcfg.early_stopping.enabled, rcfg.early_stopping.patience,
                            rcfg.early_stopping.min_delta, rcfg.early_stopping.min_evals)
    stopper.load(prior_state.get("early_stopping", {}))
    prior_wall = float(prior_state.get("wall_time_s", 0.0))
    preset = cfg.preset or prior_state.get("preset")  # a resumed run's config.yaml has no preset name

    def run_clock() -> float:
        """Training wall-clock of the whole run [s], across resumed processes."""
        return prior_wall + time.time() - t_start

    train_env, eval_env, raw_env = make_envs(cfg)
    network_factory = make_network_factory(pcfg)
    obs_size, act_size = raw_env.observation_size, raw_env.action_size
    ppo_network = network_factory(obs_size, act_size, preprocess_observations_fn=_normalizer(pcfg))
    make_policy = ppo_networks.make_inference_fn(ppo_network)
    evaluator = PolicyEvaluator(eval_env, make_policy, pcfg.num_eval_envs, cfg.episode_length,
                                pcfg.action_repeat, pcfg.deterministic_eval, seed=pcfg.seed)
    net_config = brax_ckpt.network_config(observation_size=obs_size, action_size=act_size,
                                          normalize_observations=pcfg.normalize_observations,
                                          network_factory=network_factory)

    device = describe_device()
    physics = describe_physics(raw_env)
    logger.message(f"JAX device: {device}; physics: {physics}")
    logger.record("device", start_step, device=device, device_name=device_label(), physics=physics)
    logger.message(f"run dir: {run_dir}")
    if resume:
        logger.message(f"resuming from checkpoint {ckpt_path} at step {start_step:,d}; "
                       f"{remaining_epochs} epoch(s) of {epoch_steps:,d} env steps left")
        logger.record("resume", start_step, checkpoint=ckpt_path, remaining_epochs=remaining_epochs)
    else:
        slow_compile = jax.default_backend() == "cpu" and not physics.startswith("cmujoco")  # MJX on a CPU
        logger.message(f"training {pcfg.num_epochs} epoch(s) of {epoch_steps:,d} env steps "
                       f"({target_steps:,d} total), {pcfg.num_envs} envs, episode {cfg.episode_length} steps, "
                       f"world '{cfg.simulation.world}', eval on '{rcfg.eval_world}' "
                       f"({pcfg.num_eval_envs} episodes); the first JIT compilation takes "
                       f"{'minutes on a CPU' if slow_compile else 'about a minute'}")

    st: Dict[str, Any] = {
        "params": restore_params,
        "step": start_step,
        "pending_eval": None,
        "last_ckpt": start_step if resume else None,
        "stopped": False,
    }

    def checkpoint_state(step: int) -> Dict[str, Any]:
        return {
            "epoch_env_steps": epoch_steps,
            "target_steps": target_steps,
            "seed": pcfg.seed,
            "evals": evals,
            "zero_residual_eval": zero_eval,
            "early_stopping": stopper.state(),
            "best_export_reward": best["reward"] if math.isfinite(best["reward"]) else None,
            "wall_time_s": run_clock(),
            "preset": preset,
        }

    def write_checkpoint(step: int) -> None:
        path = save_checkpoint(
            run_dir,
            step,
            st["params"],
            net_config,
            checkpoint_state(step),
            keep=rcfg.keep_checkpoints,
            config=cfg,
            optimizer_state=opt_hook.to_bytes(),
        )
        st["last_ckpt"] = step
        logger.record("checkpoint", step, path=path)

    best = {"reward": float(prior_state.get("best_export_reward", -math.inf) or -math.inf)}

    def evaluate(step: int, params) -> Dict[str, Any]:
        summary = summarize(evaluator.run(params, 1.0))
        summary["step"] = step
        if summary["reward"] > best["reward"]:  # keep the best-evaluated parameters (RUN_DIR/best/)
            best["reward"] = summary["reward"]
            save_checkpoint(
                run_dir,
                step,
                params,
                net_config,
                {"eval_reward": summary["reward"], "wall_time_s": run_clock(), "preset": preset},
                keep=1,
                subdir=BEST_SUBDIR,
                config=cfg,
            )
            logger.record("best", step, reward=summary["reward"])
        return summary

    def policy_params_fn(current_step: int, _make_policy, params) -> None:
        nonlocal zero_eval
        step = start_step + int(current_step)
        st["params"], st["step"] = params, step
        if int(current_step) == 0:
            if resume:
                return
            zero_eval = summarize(evaluator.run(params, 0.0))
            zero_eval["step"] = 0
            logger.record("zero_residual", 0, zero_eval)
            summary = evaluate(0, params)
            evals.append(summary)
            stopper.update(summary["reward"], 0)
            logger.log_eval(0, summary, len(evals) - 1, num_evals_total - 1, zero_residual=zero_eval)
            return
        if resume and opt_hook.epochs == 1:
            if opt_hook.restored:
                logger.message(f"optimizer state restored from {ckpt_path} (Adam step count {adam_count(restore_opt)})")
            else:
                why = opt_hook.restore_error or "the checkpoint has no optimizer_state file"
                logger.message(f"optimizer state NOT restored ({why}); Adam restarts from zero moments")
            logger.record("optimizer_restore", step, restored=opt_hook.restored, reason=opt_hook.restore_error)
        summary = evaluate(step, params)
        evals.append(summary)
        st["pending_eval"] = summary  # logged, and checkpointed, by progress() right after this

    def progress(current_step: int, metrics: Dict[str, Any]) -> None:
        if any(k.startswith("episode/") for k in metrics):  # brax's training-episode logger (host callback)
            n = int(current_step) * pcfg.action_repeat
            logger.log_training(start_step + n, metrics)
            logger.tick(start_step + n)  # the progress line with env steps/s and ETA
            return
        step = start_step + int(current_step)
        summary = st.pop("pending_eval", None)
        st["pending_eval"] = None
        if summary is None:
            return
        training = {k: float(np.asarray(v)) for k, v in metrics.items() if k.startswith("training/")}
        logger.mark_step(step)
        logger.log_eval(step, summary, len(evals) - 1, num_evals_total - 1, zero_residual=zero_eval, training=training)
        should_stop = stopper.update(summary["reward"], step)
        # The checkpoint comes after the eval is logged and counted by the early stopper, so a run
        # killed at any point resumes with a log and a stopper state that match its checkpoint.
        epoch_index = (step // epoch_steps) if epoch_steps else 0
        stopping = should_stop and step < final_target
        if step >= final_target or epoch_index % rcfg.checkpoint_every_evals == 0 or stopping:
            write_checkpoint(step)
        if progress_fn is not None:
            progress_fn(step, {**{f"eval/{k}": v for k, v in summary.items()}, **training})
        if stopping:
            es = rcfg.early_stopping
            logger.message(
                f"early stopping at step {step:,d}: eval reward has not improved by more than "
                f"{es.min_delta} for {es.patience} evaluations (best {stopper.best:.2f} at step "
                f"{stopper.best_step})"
            )
            logger.record("early_stop", step, best=stopper.best, best_step=stopper.best_step)
            st["stopped"] = True
            raise EarlyStop(step)

    try:
        if remaining_epochs > 0:
            seed = pcfg.seed if not resume else (pcfg.seed * 1_000_003 + start_step) % (2**31 - 1)
            try:
                with opt_hook:
                    ppo.train(
                        environment=train_env,
                        num_timesteps=remaining_epochs * epoch_steps,
                        num_evals=remaining_epochs + 1,
                        run_evals=False,
                        wrap_env_fn=wrap_for_training,
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
                        network_factory=network_factory,
                        seed=seed,
                        log_training_metrics=rcfg.log_training_metrics,
                        training_metrics_steps=rcfg.training_metrics_steps,
                        progress_fn=progress,
                        policy_params_fn=policy_params_fn,
                        restore_params=restore_params,
                    )
            except EarlyStop:
                pass
        if st["params"] is None:
            raise CheckpointError(f"no parameters to export in {run_dir}")
        final_step = st["step"]
        if st["last_ckpt"] != final_step:
            write_checkpoint(final_step)
        final_eval = evals[-1] if evals else {}
        training_info = {
            "env_steps": final_step,
            "target_steps": target_steps,
            "stopped_early": st["stopped"],
            "final_eval": final_eval,
            "zero_residual_eval": zero_eval,
            "best_eval_reward": stopper.best if math.isfinite(stopper.best) else None,
            "best_eval_step": stopper.best_step,
            "num_envs": pcfg.num_envs,
            "episode_length": cfg.episode_length,
            "wall_time_s": run_clock(),
            "device": device,
            "run_dir": run_dir,
            "preset": preset,
            "eval_world": rcfg.eval_world,
            "train_world": cfg.simulation.world,
        }
        export_params, export_step, export_cfg = st["params"], final_step, cfg
        best_ckpts = list_checkpoints(run_dir, BEST_SUBDIR)
        if rcfg.export_policy == "best" and best_ckpts:
            export_step, best_path = best_ckpts[-1]
            export_params, _ = load_checkpoint(best_path)
            export_cfg = load_resolved_config(checkpoint_config_path(run_dir, best_path))  # its own segment's config
        training_info.update(
            exported=rcfg.export_policy if best_ckpts else "final",
            exported_step=export_step,
            exported_eval=next((e for e in evals if e.get("step") == export_step), None),
        )
        export_dir = os.path.join(run_dir, EXPORT_SUBDIR)
        export_brax_policy(
            export_dir,
            _to_numpy_tree(export_params),
            export_cfg,
            raw_env.observation_layout(),
            obs_size,
            act_size,
            training_info,
        )
        from train.onnx_export import export_onnx_if_available

        export_onnx_if_available(export_dir, log=console)  # policy.onnx, or one line saying why not
        summary = None
        policy_eval = training_info["exported_eval"] or final_eval
        if zero_eval and policy_eval:
            summary = before_after(zero_eval, policy_eval, cfg.simulation.control_dt)
            desc = (
                f"the {int(zero_eval.get('num_episodes', pcfg.num_eval_envs))} evaluation episodes "
                f"(world '{rcfg.eval_world}'"
                + (f", terrain seed {rcfg.eval_terrain_seed}" if rcfg.eval_world != "flat" else "")
                + f"; policy: the export, step {export_step:,d})"
            )
            write_summary(
                run_dir,
                summary,
                env_steps=final_step,
                exported_step=export_step,
                wall_time_s=run_clock(),
                preset=preset,
                eval_world=rcfg.eval_world,
                description=desc,
            )
            for line in summary_lines(summary, desc):
                logger.message(line)
        try:
            curve = plot_learning_curve(run_dir, title=f"{os.path.basename(run_dir)} ({preset or 'custom'})")
            if curve:
                logger.message(f"learning curve: {curve}")
        except Exception as e:  # a plotting failure must not lose the trained policy
            logger.message(f"learning curve not written: {type(e).__name__}: {e}")
        logger.record(
            "done",
            final_step,
            export_dir=export_dir,
            stopped_early=st["stopped"],
            exported_step=export_step,
            final_reward=final_eval.get("reward"),
            zero_residual_reward=(zero_eval or {}).get("reward"),
        )
    finally:
        logger.close()
    return TrainResult(
        run_dir=run_dir,
        export_dir=export_dir,
        params=st["params"],
        export_params=export_params,
        export_step=export_step,
        make_policy=make_policy,
        start_step=start_step,
        final_step=final_step,
        evals=evals,
        final_eval=final_eval,
        zero_residual_eval=zero_eval,
        stopped_early=st["stopped"],
        wall_time_s=time.time() - t_start,
        summary=summary,
    )


def _normalizer(pcfg):
    from brax.training.acme import running_statistics

    if pcfg.normalize_observations:
        return running_statistics.normalize
    return lambda x, y: x

"""Functional entry of Brax PPO training: :func:`train_policy` (the CLI ``python -m train`` wraps it);
the run itself is :class:`train.runner.TrainingRun`, whose methods are the parts listed below.

    from train.config import load_train_config
    from train.brax_ppo import train_policy
    result = train_policy(load_train_config(preset="cpu_small"), "runs/residual_ppo/my_run")
    result.export_dir, result.final_eval["reward"]

What one run does (details in docs/training.md):

* training env: ``mjx_envs.backends.make_env(cfg.simulation, cfg.env, cfg.gait)`` — MJX
  ``MjxResidualWalk``, or on a CPU-only machine (``simulation.backend: auto``, or ``cmujoco``) the
  batched C-MuJoCo ``CMujocoResidualWalk`` (same logic, physics through ``jax.pure_callback``) — wrapped by brax through
  ``mjx_envs.training_wrappers.wrap_for_training`` (re-randomising auto-reset, terrain curriculum
  via ``reset_from``); eval env: the same on ``run.eval_world`` (the suite by default, configs/ppo_residual.yaml);
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
* the end: ``export/`` (:mod:`train.export`), readable with ``deploy.policy_loader.load_policy``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from train.config import TrainConfig
from train.runner import TrainingRun, TrainResult


def train_policy(
    cfg: TrainConfig,
    run_dir: str,
    progress_fn: Optional[Callable[[int, Dict[str, Any]], None]] = None,
    resume: bool = False,
    console: Callable[[str], None] = print,
) -> TrainResult:
    """Train (or resume) a residual policy with Brax PPO; checkpoint, log and export under ``run_dir``.

    ``TrainingRun(cfg, run_dir, resume=..., progress_fn=..., console=...).run()``; see
    :class:`train.runner.TrainingRun` for the arguments and :class:`train.runner.TrainResult` for
    what comes back.
    """
    return TrainingRun(cfg, run_dir, resume=resume, progress_fn=progress_fn, console=console).run()

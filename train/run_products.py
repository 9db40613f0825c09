"""What a finished Brax PPO run leaves behind: ``RUN_DIR/export/`` (:func:`export_run`), the
before/after summary with the learning curve (:func:`report_run`), and the :class:`TrainResult`
handed back to the caller.

The functions read a ``train.runner.TrainingRun`` at the end of training (its config, evaluations,
parameters, clock and logger) and write under its ``run_dir``; ``TrainingRun.export`` and
``TrainingRun.report`` call them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import numpy as np

from train.checkpoints import BEST_SUBDIR, checkpoint_config_path, list_checkpoints, load_checkpoint
from train.config import load_resolved_config
from train.run_summary import before_after, plot_learning_curve, summary_lines, write_summary

if TYPE_CHECKING:
    from train.runner import TrainingRun


@dataclasses.dataclass
class TrainResult:
    """What ``train.runner.TrainingRun.run`` (and ``train.brax_ppo.train_policy``) returns.

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


@dataclasses.dataclass(frozen=True)
class ExportedPolicy:
    """What :func:`export_run` wrote.

    Attributes:
      export_dir: ``RUN_DIR/export``.
      params: the exported ``(normalizer state, policy params, value params)`` (best or final).
      step: the env step they come from.
      info: the training info recorded with the export (``exported_step``, ``final_eval``, ...).
    """

    export_dir: str
    params: Any
    step: int
    info: Dict[str, Any]


def _to_numpy_tree(tree):
    import jax

    return jax.tree_util.tree_map(lambda x: np.asarray(x), tree)


def training_info(run: TrainingRun) -> Dict[str, Any]:
    """The run's record for ``export/``: env steps [-], wall time [s], evaluations, device, worlds."""
    cfg = run.cfg
    return {
        "env_steps": run.step,
        "target_steps": run.target_steps,
        "stopped_early": run.stopped_early,
        "final_eval": run.evals[-1] if run.evals else {},
        "zero_residual_eval": run.zero_eval,
        "best_eval_reward": run.stopper.best if math.isfinite(run.stopper.best) else None,
        "best_eval_step": run.stopper.best_step,
        "num_envs": cfg.ppo.num_envs,
        "episode_length": cfg.episode_length,
        "wall_time_s": run.clock(),
        "device": run.device,
        "run_dir": run.run_dir,
        "preset": run.preset,
        "eval_world": cfg.run.eval_world,
        "train_world": cfg.simulation.world,
    }


def export_run(run: TrainingRun) -> ExportedPolicy:
    """Write ``RUN_DIR/export/`` (and ``policy.onnx`` where possible) from the best parameters
    (``RUN_DIR/best/``, with the config of the segment that produced them) when
    ``run.export_policy`` is ``best`` and there are any, else from the final ones."""
    from train.export import EXPORT_SUBDIR, export_brax_policy
    from train.onnx_export import export_onnx_if_available

    rcfg = run.cfg.run
    info = training_info(run)
    params, step, export_cfg = run.params, run.step, run.cfg
    best_ckpts = list_checkpoints(run.run_dir, BEST_SUBDIR)
    if rcfg.export_policy == "best" and best_ckpts:
        step, best_path = best_ckpts[-1]
        params, _ = load_checkpoint(best_path)
        export_cfg = load_resolved_config(checkpoint_config_path(run.run_dir, best_path))  # its segment's config
    info.update(
        exported=rcfg.export_policy if best_ckpts else "final",
        exported_step=step,
        exported_eval=next((e for e in run.evals if e.get("step") == step), None),
    )
    export_dir = os.path.join(run.run_dir, EXPORT_SUBDIR)
    export_brax_policy(
        export_dir,
        _to_numpy_tree(params),
        export_cfg,
        run.raw_env.observation_layout(),
        run.obs_size,
        run.act_size,
        info,
    )
    export_onnx_if_available(export_dir, log=run.console)  # policy.onnx, or one line saying why not
    return ExportedPolicy(export_dir=export_dir, params=params, step=step, info=info)


def report_run(run: TrainingRun, export_info: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The before/after table (nominal gait vs the export; ``RUN_DIR/summary.json``) and
    ``RUN_DIR/learning_curve.png``; returns the summary (None without a baseline evaluation)."""
    cfg, rcfg, log = run.cfg, run.cfg.run, run.logger
    summary = None
    policy_eval = export_info["exported_eval"] or export_info["final_eval"]
    if run.zero_eval and policy_eval:
        summary = before_after(run.zero_eval, policy_eval, cfg.simulation.control_dt)
        desc = (
            f"the {int(run.zero_eval.get('num_episodes', cfg.ppo.num_eval_envs))} evaluation episodes "
            f"(world '{rcfg.eval_world}'"
            + (f", terrain seed {rcfg.eval_terrain_seed}" if rcfg.eval_world != "flat" else "")
            + f"; policy: the export, step {run.export_step:,d})"
        )
        write_summary(
            run.run_dir,
            summary,
            env_steps=run.step,
            exported_step=run.export_step,
            wall_time_s=run.clock(),
            preset=run.preset,
            eval_world=rcfg.eval_world,
            description=desc,
        )
        for line in summary_lines(summary, desc):
            log.message(line)
    try:
        curve = plot_learning_curve(run.run_dir, title=f"{os.path.basename(run.run_dir)} ({run.preset or 'custom'})")
        if curve:
            log.message(f"learning curve: {curve}")
    except Exception as e:  # a plotting failure must not lose the trained policy
        log.message(f"learning curve not written: {type(e).__name__}: {e}")
    return summary

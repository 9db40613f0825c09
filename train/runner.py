"""One Brax PPO training run, with named parts: :class:`TrainingRun`.

    run = TrainingRun(cfg, "runs/residual_ppo/my_run")       # or resume=True
    result = run.run()                                        # -> TrainResult

What each part does (details in docs/training.md):

* ``__init__``: where the run starts (:meth:`TrainingRun._start_point`: step 0, or the newest
  checkpoint of ``run_dir`` with its parameters, observation statistics, Adam state and run
  state), the recorded config, the envs (:func:`train.ppo_setup.make_envs`), the network and the
  evaluator;
* :meth:`TrainingRun.train`: ``brax.training.agents.ppo.train`` cut into ``ppo.num_evals - 1``
  equal epochs; brax calls :meth:`on_policy_params` after each epoch and :meth:`on_progress`
  right after it (and for the training-episode metrics);
* :meth:`TrainingRun.evaluate_baseline`: the zero-residual policy (the nominal trot alone) at step
  0, the baseline every later evaluation is compared with;
* :meth:`TrainingRun.evaluate`: the policy on the fixed evaluation episodes; the best-evaluated
  parameters are kept in ``RUN_DIR/best/``;
* :meth:`TrainingRun.checkpoint`: parameters, optimizer state and run state (evaluations, early
  stopper, clock) every ``run.checkpoint_every_evals`` epochs, at the end and before an early stop;
* :meth:`TrainingRun.check_early_stop`: the plateau rule (:class:`~train.early_stopping.EarlyStopping`);
  it raises :class:`~train.early_stopping.EarlyStop` out of brax, and the run still checkpoints
  and exports;
* :meth:`TrainingRun.export`: ``export/`` (best or final parameters, ``run.export_policy``) with
  ONNX when available; :meth:`TrainingRun.report`: the before/after summary and learning curve
  (both in :mod:`train.run_products`).

``EarlyStop``, ``EarlyStopping`` (:mod:`train.early_stopping`) and :class:`~train.run_products.TrainResult`,
what :meth:`TrainingRun.run` returns, are importable from here too.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from train.checkpoints import BEST_SUBDIR, CheckpointError, load_latest, read_optimizer_state, save_checkpoint
from train.config import TrainConfig
from train.distributed import PeerLost, is_main, is_peer_failure, peer_lost_message, process_count, process_label
from train.early_stopping import EarlyStop, EarlyStopping
from train.interrupts import check_interrupt
from train.optimizer_state import OptimizerStateHook, adam_count
from train.ppo_setup import (
    check_device_split,
    describe_device,
    describe_physics,
    make_envs,
    make_network_factory,
    observation_normalizer,
    ppo_hyperparameters,
)
from train.progress import ProgressLogger, level_fractions
from train.run_dir import record_config
from train.run_products import TrainResult, export_run, report_run
from train.run_start import announce_run, resumed_levels

__all__ = ["EarlyStop", "EarlyStopping", "TrainResult", "TrainingRun"]


class TrainingRun:
    """Train (or resume) a residual policy with Brax PPO; checkpoint, log and export under ``run_dir``.

    Args:
      cfg: the run's configuration.
      run_dir: run directory (created; for ``resume`` it must hold a checkpoint).
      progress_fn: optional ``fn(step, metrics)`` called after every evaluation with the global
        env step and a dict of ``eval/<name>`` (evaluation summary) and brax ``training/*`` numbers.
        An exception it raises ends the run (no export) — the checkpoints stay.
      resume: continue from the newest checkpoint in ``run_dir`` (CheckpointError if none/corrupt).
      console: printer of the progress lines.

    The run's state lives in attributes a reader can find by name: ``step`` and ``params`` (the
    newest), ``evals`` (every evaluation, oldest first), ``zero_eval`` (the nominal gait's),
    ``stopper`` (:class:`EarlyStopping`), ``best_reward`` (of ``RUN_DIR/best/``), ``last_checkpoint``
    (its env step) and ``stopped_early``.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        run_dir: str,
        *,
        resume: bool = False,
        progress_fn: Optional[Callable[[int, Dict[str, Any]], None]] = None,
        console: Callable[[str], None] = print,
    ):
        from brax.training.agents.ppo import checkpoint as brax_ckpt
        from brax.training.agents.ppo import networks as ppo_networks

        from train import brax_compat
        from train.evaluation import PolicyEvaluator

        self.t_start = time.time()
        brax_compat.apply()
        self.cfg, self.resume, self.progress_fn, self.console = cfg, resume, progress_fn, console
        self.run_dir = run_dir = os.path.abspath(run_dir)  # once; every path of the run derives from it
        pcfg, rcfg = cfg.ppo, cfg.run
        # several processes (python -m train --coordinator ...): process 0 evaluates, checkpoints,
        # exports and writes the run directory; the others only train (brax calls the callbacks
        # below on process 0 after step 0) and write nothing
        self.is_main = is_main()

        prior_state = self._start_point()
        self.opt_hook = OptimizerStateHook(self.restore_opt)
        self.epoch_steps = pcfg.epoch_env_steps
        self.target_steps = pcfg.total_env_steps
        self.remaining_epochs = max(0, -(-(self.target_steps - self.start_step) // self.epoch_steps))
        self.final_target = self.start_step + self.remaining_epochs * self.epoch_steps
        self.num_evals_total = pcfg.num_epochs + 1

        self.logger = ProgressLogger(
            run_dir,
            self.final_target,
            console=console,
            start_step=self.start_step,
            resumed=resume,
            files=self.is_main,
        )
        self.evals: List[Dict[str, Any]] = list(prior_state.get("evals", []))
        self.zero_eval: Optional[Dict[str, Any]] = prior_state.get("zero_residual_eval")
        es = rcfg.early_stopping
        # process 0 alone evaluates, and the others cannot learn of a stop inside brax's loop
        self.stops_allowed = process_count() == 1
        self.stopper = EarlyStopping(es.enabled and self.stops_allowed, es.patience, es.min_delta, es.min_evals)
        self.stopper.load(prior_state.get("early_stopping", {}))
        self.best_reward = float(prior_state.get("best_export_reward", -math.inf) or -math.inf)
        self.prior_wall = float(prior_state.get("wall_time_s", 0.0))
        self.preset = cfg.preset or prior_state.get("preset")  # a resumed run's config.yaml has no preset name
        self.step = self.start_step
        self.last_checkpoint: Optional[int] = self.start_step if resume else None
        self.stopped_early = False
        self._pending_eval: Optional[Dict[str, Any]] = None
        self._training_env = None  # the wrapped training env brax stepped (see _wrap_env)

        # the curriculum's level distribution at the last training log (resumed: at the checkpoint)
        self.level_fractions: Optional[List[float]] = resumed_levels(self, prior_state)
        self.train_env, self.eval_env, self.raw_env = make_envs(cfg, self.level_fractions)
        self.network_factory = make_network_factory(pcfg)
        self.obs_size, self.act_size = self.raw_env.observation_size, self.raw_env.action_size
        ppo_network = self.network_factory(
            self.obs_size, self.act_size, preprocess_observations_fn=observation_normalizer(pcfg)
        )
        self.make_policy = ppo_networks.make_inference_fn(ppo_network)
        self.evaluator = PolicyEvaluator(
            self.eval_env,
            self.make_policy,
            pcfg.num_eval_envs,
            cfg.episode_length,
            pcfg.action_repeat,
            pcfg.deterministic_eval,
            seed=pcfg.seed,
        )
        self.net_config = brax_ckpt.network_config(
            observation_size=self.obs_size,
            action_size=self.act_size,
            normalize_observations=pcfg.normalize_observations,
            network_factory=self.network_factory,
        )
        self.device, self.physics = describe_device(), describe_physics(self.raw_env)
        self.num_devices = check_device_split(pcfg)
        announce_run(self)

    # ------------------------------------------------------------------------------ set-up

    def _start_point(self) -> Dict[str, Any]:
        """Step 0 (a new run dir) or the newest checkpoint's step, parameters and optimizer state;
        records the resolved config either way. Returns the checkpoint's run state (``{}`` if new)."""
        cfg, run_dir = self.cfg, self.run_dir
        header = f"Resolved training config (source: {cfg.source})"
        self.start_step, self.params, self.restore_opt, self.resumed_from = 0, None, None, None
        if not self.resume:
            if self.is_main:
                os.makedirs(run_dir, exist_ok=True)
                record_config(run_dir, cfg, 0, header=f"{header}.\nResume with: python -m train --resume {run_dir}")
            return {}
        self.start_step, self.resumed_from, self.params, prior_state = load_latest(run_dir, log=self.console)
        self.restore_opt = read_optimizer_state(self.resumed_from)
        if not self.is_main:
            return prior_state
        record_config(
            run_dir,
            cfg,
            self.start_step,
            header=f"{header}, resumed at env step {self.start_step}.\nResume with: python -m train --resume {run_dir}",
        )
        return prior_state

    def clock(self) -> float:
        """Training wall-clock of the whole run [s], across resumed processes."""
        return self.prior_wall + time.time() - self.t_start

    # ------------------------------------------------------------------------------ the parts

    def evaluate(self, step: int, params) -> Dict[str, Any]:
        """The policy on the fixed evaluation episodes (summary with ``step``); a new best reward
        saves ``params`` to ``RUN_DIR/best/``."""
        from train.evaluation import summarize

        summary = summarize(self.evaluator.run(params, 1.0))
        summary["step"] = step
        if summary["reward"] > self.best_reward:
            self.best_reward = summary["reward"]
            save_checkpoint(
                self.run_dir,
                step,
                params,
                self.net_config,
                {"eval_reward": summary["reward"], "wall_time_s": self.clock(), "preset": self.preset},
                keep=1,
                subdir=BEST_SUBDIR,
                config=self.cfg,
            )
            self.logger.record("best", step, reward=summary["reward"])
        return summary

    def evaluate_baseline(self, params) -> Dict[str, Any]:
        """The zero-residual policy (the nominal gait alone) on the same episodes, at step 0."""
        from train.evaluation import summarize

        self.zero_eval = summarize(self.evaluator.run(params, 0.0))
        self.zero_eval["step"] = 0
        self.logger.record("zero_residual", 0, self.zero_eval)
        return self.zero_eval

    def checkpoint(self, step: int) -> str:
        """Write ``RUN_DIR/checkpoints/<step>``: parameters, Adam state, config and run state."""
        state = {
            "epoch_env_steps": self.epoch_steps,
            "target_steps": self.target_steps,
            "seed": self.cfg.ppo.seed,
            "evals": self.evals,
            "zero_residual_eval": self.zero_eval,
            "early_stopping": self.stopper.state(),
            "best_export_reward": self.best_reward if math.isfinite(self.best_reward) else None,
            "wall_time_s": self.clock(),
            "preset": self.preset,
            "terrain_level_fractions": self.level_fractions,
        }
        path = save_checkpoint(
            self.run_dir,
            step,
            self.params,
            self.net_config,
            state,
            keep=self.cfg.run.keep_checkpoints,
            config=self.cfg,
            optimizer_state=self.opt_hook.to_bytes(),
        )
        self.last_checkpoint = step
        self.logger.record("checkpoint", step, path=path)
        return path

    def check_early_stop(self, step: int, reward: float) -> bool:
        """Count this evaluation in the plateau rule; True (logged) if the run should stop here:
        the reward plateaued, or the wall-clock budget ``run.max_wall_clock_s`` is spent."""
        should_stop = self.stopper.update(reward, step) and step < self.final_target
        budget = self.cfg.run.max_wall_clock_s if self.stops_allowed else None
        if not should_stop and budget is not None and step < self.final_target and self.clock() >= budget:
            self.logger.message(
                f"stopping at step {step:,d}: the wall-clock budget run.max_wall_clock_s = "
                f"{budget:,.0f} s is spent ({self.clock():,.0f} s)"
            )
            self.logger.record("wall_clock_stop", step, budget_s=budget, wall_time_s=self.clock())
            return True
        if should_stop:
            es = self.cfg.run.early_stopping
            self.logger.message(
                f"early stopping at step {step:,d}: eval reward has not improved by more than "
                f"{es.min_delta} for {es.patience} evaluations (best {self.stopper.best:.2f} at step "
                f"{self.stopper.best_step})"
            )
            self.logger.record("early_stop", step, best=self.stopper.best, best_step=self.stopper.best_step)
        return should_stop

    # ------------------------------------------------------------------ brax's two callbacks

    def on_policy_params(self, current_step: int, _make_policy, params) -> None:
        """brax ``policy_params_fn``: after each epoch (and at step 0) with the new parameters."""
        check_interrupt()  # a Ctrl-C that arrived inside a gc callback (train/interrupts.py)
        step = self.start_step + int(current_step)
        self.params, self.step = params, step
        if not self.is_main:
            return
        if int(current_step) == 0:
            if self.resume:
                return
            self.evaluate_baseline(params)
            summary = self.evaluate(0, params)
            self.evals.append(summary)
            self.stopper.update(summary["reward"], 0)
            self.logger.log_eval(
                0, summary, len(self.evals) - 1, self.num_evals_total - 1, zero_residual=self.zero_eval
            )
            return
        if self.resume and self.opt_hook.epochs == 1:
            self._log_optimizer_restore(step)
        summary = self.evaluate(step, params)
        self.evals.append(summary)
        self._pending_eval = summary  # logged, and checkpointed, by on_progress right after this

    def on_progress(self, current_step: int, metrics: Dict[str, Any]) -> None:
        """brax ``progress_fn``: training-episode metrics (host callback), or the epoch's end."""
        pcfg = self.cfg.ppo
        if not self.is_main:
            return
        if any(k.startswith("episode/") for k in metrics):  # brax's training-episode logger
            n = self.start_step + int(current_step) * pcfg.action_repeat
            self.level_fractions = level_fractions(self.logger.log_training(n, metrics)) or self.level_fractions
            self.logger.tick(n)  # the progress line with env steps/s and ETA
            return
        step = self.start_step + int(current_step)
        summary, self._pending_eval = self._pending_eval, None
        if summary is None:
            return
        training = {k: float(np.asarray(v)) for k, v in metrics.items() if k.startswith("training/")}
        self.logger.mark_step(step)
        self.logger.log_eval(
            step,
            summary,
            len(self.evals) - 1,
            self.num_evals_total - 1,
            zero_residual=self.zero_eval,
            training=training,
        )
        stopping = self.check_early_stop(step, summary["reward"])
        # The checkpoint comes after the eval is logged and counted by the early stopper, so a run
        # killed at any point resumes with a log and a stopper state that match its checkpoint.
        epoch_index = (step // self.epoch_steps) if self.epoch_steps else 0
        if step >= self.final_target or epoch_index % self.cfg.run.checkpoint_every_evals == 0 or stopping:
            self.checkpoint(step)
        if self.progress_fn is not None:
            self.progress_fn(step, {**{f"eval/{k}": v for k, v in summary.items()}, **training})
        if stopping:
            self.stopped_early = True
            raise EarlyStop(step)

    def _log_optimizer_restore(self, step: int) -> None:
        hook = self.opt_hook
        if hook.restored:
            self.logger.message(
                f"optimizer state restored from {self.resumed_from} (Adam step count {adam_count(self.restore_opt)})"
            )
        else:
            why = hook.restore_error or "the checkpoint has no optimizer_state file"
            self.logger.message(f"optimizer state NOT restored ({why}); Adam restarts from zero moments")
        self.logger.record("optimizer_restore", step, restored=hook.restored, reason=hook.restore_error)

    # ------------------------------------------------------------------------------ the run

    def train(self) -> None:
        """The remaining epochs of brax PPO (nothing if the run already reached its target).

        In a multi-process run a collective that fails because another process died raises
        :class:`train.distributed.PeerLost` (what happened, and the checkpoint to resume from)."""
        from brax.training.agents.ppo import train as ppo

        if self.remaining_epochs <= 0:
            return
        pcfg = self.cfg.ppo
        seed = pcfg.seed if not self.resume else (pcfg.seed * 1_000_003 + self.start_step) % (2**31 - 1)
        try:
            with self.opt_hook:
                ppo.train(
                    environment=self.train_env,
                    num_timesteps=self.remaining_epochs * self.epoch_steps,
                    num_evals=self.remaining_epochs + 1,
                    run_evals=False,
                    wrap_env_fn=self._wrap_env,
                    network_factory=self.network_factory,
                    seed=seed,
                    progress_fn=self.on_progress,
                    policy_params_fn=self.on_policy_params,
                    restore_params=self.params,
                    **ppo_hyperparameters(self.cfg),
                )
        except EarlyStop:
            pass
        except Exception as e:
            if is_peer_failure(e):
                raise PeerLost(peer_lost_message(e, self.run_dir)) from e
            raise

    def _wrap_env(self, env, **kwargs):
        """brax's ``wrap_env_fn``: :func:`mjx_envs.training_wrappers.wrap_for_training`, keeping the
        first env it wraps (the training env) to read the batch each device stepped."""
        from mjx_envs.training_wrappers import wrap_for_training

        wrapped = wrap_for_training(env, **kwargs)
        if self._training_env is None:
            self._training_env = wrapped
        return wrapped

    def envs_per_device(self) -> List[int]:
        """The environments each local device stepped, as traced (``[]`` before training)."""
        return sorted(self._training_env.batch_sizes) if self._training_env is not None else []

    def export(self) -> Dict[str, Any]:
        """Write ``RUN_DIR/export/`` (and ``policy.onnx`` where possible) from the best or final
        parameters (:func:`train.run_products.export_run`); returns the training info recorded with
        it (``exported_step``, ...)."""
        exported = export_run(self)
        self.export_dir, self.export_params, self.export_step = exported.export_dir, exported.params, exported.step
        return exported.info

    def report(self, export_info: Dict[str, Any]) -> Optional[Dict[str, Any]]:
        """The before/after table and the learning curve (:func:`train.run_products.report_run`);
        returns the summary (None without a baseline evaluation)."""
        return report_run(self, export_info)

    def run(self) -> TrainResult:
        """Train, checkpoint the end, export, report; returns :class:`TrainResult`."""
        try:
            self.train()
            if not self.is_main:  # brax calls no callback here after step 0; no early stop can end the run
                self.step = self.final_target
            self.logger.record(
                "env_batches", self.step, envs_per_device=self.envs_per_device(), processes=process_count()
            )
            if not self.is_main:  # another process of a multi-process run: process 0 writes the products
                self.console(
                    f"{process_label()}: stepped {self.envs_per_device()} env(s) on each of its "
                    f"{self.num_devices} device(s) (ppo.num_envs = {self.cfg.ppo.num_envs} over all processes)"
                )
                return self._result(
                    export_dir="",
                    export_params=None,
                    export_step=self.step,
                    evals=[],
                    final_eval={},
                    zero_residual_eval=None,
                    stopped_early=False,
                )
            if self.params is None:
                raise CheckpointError(f"no parameters to export in {self.run_dir}")
            if self.last_checkpoint != self.step:
                self.checkpoint(self.step)
            info = self.export()
            summary = self.report(info)
            final_eval = info["final_eval"]
            physics = getattr(self.raw_env, "physics", None)
            if physics is not None:  # C MuJoCo: the batch each physics call stepped (per device under pmap)
                self.logger.record("physics_batches", self.step, sizes=sorted(physics.step_batch_sizes))
            self.logger.record(
                "done",
                self.step,
                export_dir=self.export_dir,
                stopped_early=self.stopped_early,
                exported_step=self.export_step,
                final_reward=final_eval.get("reward"),
                zero_residual_reward=(self.zero_eval or {}).get("reward"),
            )
        finally:
            self.logger.close()
        return self._result(
            export_dir=self.export_dir,
            export_params=self.export_params,
            export_step=self.export_step,
            evals=self.evals,
            final_eval=final_eval,
            zero_residual_eval=self.zero_eval,
            stopped_early=self.stopped_early,
            summary=summary,
        )

    def _result(self, **products) -> TrainResult:
        """:class:`TrainResult` of this call: where the run is and ended, plus ``products`` (what
        process 0 evaluated and exported; empty on the other hosts of a multi-host run)."""
        return TrainResult(
            run_dir=self.run_dir,
            params=self.params,
            make_policy=self.make_policy,
            start_step=self.start_step,
            final_step=self.step,
            wall_time_s=time.time() - self.t_start,
            **products,
        )

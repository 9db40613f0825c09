"""What a training run says when it starts: :func:`announce_run` (console lines and the
``device`` / ``resume`` records of ``progress.jsonl``) and, resumed, where its curriculum stands
(:func:`resumed_levels`)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from train.distributed import process_count, process_label
from train.ppo_setup import device_label
from train.progress import logged_level_fractions


def announce_run(run) -> None:
    """The device, physics and batch split of ``run`` (a :class:`train.runner.TrainingRun`; per
    process in a multi-process run), its run directory, and where it starts: a fresh run's epochs
    and sizes, or the checkpoint a resumed run continues from. The processes other than 0 print
    their split only."""
    import jax

    pcfg, log = run.cfg.ppo, run.logger
    processes = process_count()
    per_device = pcfg.num_envs // (run.num_devices * processes)
    split = ""
    if processes > 1:
        split = (
            f"; {process_label()}: {per_device} envs on each of its {run.num_devices} device(s) "
            f"(ppo.num_envs = {pcfg.num_envs} over all processes)"
        )
    elif run.num_devices > 1:
        split = f"; {per_device} envs on each of {run.num_devices} devices"
    log.message(f"JAX device: {run.device}; physics: {run.physics}{split}")
    if not run.is_main:
        log.message(f"process 0 evaluates, checkpoints and writes the run directory {run.run_dir}")
        return
    rcfg = run.cfg.run
    if processes > 1 and (rcfg.early_stopping.enabled or rcfg.max_wall_clock_s is not None):
        log.message(
            "run.early_stopping and run.max_wall_clock_s are off in a multi-process run (process 0 alone "
            "evaluates, and the others cannot learn of a stop inside brax's loop): it trains all "
            f"{run.target_steps:,d} env steps"
        )
    log.record(
        "device",
        run.start_step,
        device=run.device,
        device_name=device_label(),
        physics=run.physics,
        jax_devices=run.num_devices,
        envs_per_device=per_device,
        processes=processes,
    )
    log.message(f"run dir: {run.run_dir}")
    if run.resume:
        log.message(
            f"resuming from checkpoint {run.resumed_from} at step {run.start_step:,d}; "
            f"{run.remaining_epochs} epoch(s) of {run.epoch_steps:,d} env steps left"
        )
        log.record("resume", run.start_step, checkpoint=run.resumed_from, remaining_epochs=run.remaining_epochs)
        return
    slow_compile = jax.default_backend() == "cpu" and not run.physics.startswith("cmujoco")  # MJX on a CPU
    log.message(
        f"training {pcfg.num_epochs} epoch(s) of {run.epoch_steps:,d} env steps "
        f"({run.target_steps:,d} total), {pcfg.num_envs} envs, episode {run.cfg.episode_length} steps, "
        f"world '{run.cfg.simulation.world}', eval on '{run.cfg.run.eval_world}' "
        f"({pcfg.num_eval_envs} episodes); the first JIT compilation takes "
        f"{'minutes on a CPU' if slow_compile else 'about a minute'}"
    )


def resumed_levels(run, prior_state: Dict[str, Any]) -> Optional[List[float]]:
    """A resumed curriculum run's level distribution at its checkpoint (the fraction of training
    episodes on each level: the checkpoint's run state ``terrain_level_fractions``, else the last one
    progress.jsonl logged by then), which the training envs' first episodes start from instead of
    levels [0, initial_max_level]; said and recorded (``curriculum_resume``). None for a new run, a
    world without a curriculum, or a checkpoint with no distribution (said too). ``run`` is a
    :class:`train.runner.TrainingRun`."""
    cfg, log = run.cfg, run.logger
    if not (run.resume and cfg.env.curriculum.enabled and cfg.simulation.world in ("rough", "suite")):
        return None
    levels = prior_state.get("terrain_level_fractions") or logged_level_fractions(run.run_dir, run.start_step)
    if not levels:
        log.message(
            f"no curriculum level distribution was recorded by step {run.start_step:,d}: the training envs "
            f"start again from levels 0-{cfg.env.curriculum.initial_max_level}"
        )
        return None
    mean = sum(k * f for k, f in enumerate(levels)) / sum(levels)
    log.message(
        f"the curriculum resumes where it was at step {run.start_step:,d}: the training envs start on "
        f"levels drawn from the fractions {[round(f, 2) for f in levels]} (mean level {mean:.2f})"
    )
    log.record("curriculum_resume", run.start_step, level_fractions=levels, mean_level=mean)
    return list(levels)

"""``python -m train``: train the residual walking policy with Brax PPO on batched MJX.

    python -m train                                  # preset gpu if JAX sees a GPU, else cpu_small
    python -m train --preset gpu --name baseline     # runs/residual_ppo/YYYYMMDD_HHMM_baseline/
    python -m train ppo.learning_rate=1e-4 run.early_stopping.patience=8
    python -m train --resume runs/residual_ppo/20250101_1200   # continue from its last checkpoint
    python -m train --task rough                     # a registered task (train/tasks.py) at the default size

Options: ``--config PATH`` (default configs/ppo_residual.yaml), ``--preset NAME``, ``--name NAME``
(run-directory suffix), ``--output-dir DIR`` (overrides run.output_dir), ``--resume RUN_DIR``
(reads RUN_DIR/config.yaml; ``key=value`` overrides still apply and are recorded in
RUN_DIR/config.yaml and RUN_DIR/config_history/; network sizes, observation layout and action
mode cannot change), ``--list-presets``. Relative paths are resolved against the working
directory once; the run directory is absolute from then on. Trailing
``section.key=value`` arguments override config keys (values parsed as YAML).
See docs/training.md.
"""

from __future__ import annotations

import argparse
import os
from typing import List, Optional


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default=None, help="training YAML (default: configs/ppo_residual.yaml)")
    p.add_argument(
        "--preset", default=None, help="preset of the config file (default: gpu when a GPU is present, else cpu_small)"
    )
    p.add_argument(
        "--task",
        default=None,
        help="registered task (train/tasks.py: flat, rough, suite, direct, modulated), applied over the preset",
    )
    p.add_argument("--list-tasks", action="store_true", help="print the registered tasks and exit")
    p.add_argument("--name", default=None, help="suffix of the run directory name")
    p.add_argument("--output-dir", default=None, help="parent directory of runs (default: run.output_dir)")
    p.add_argument(
        "--resume", default=None, metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint"
    )
    p.add_argument("--list-presets", action="store_true", help="print the presets of the config file and exit")
    p.add_argument(
        "--no-memory-check",
        action="store_true",
        help="train even when the memory estimate (train/resources.py) exceeds what is available",
    )
    mh = p.add_argument_group("several hosts (jax.distributed.initialize; docs/training.md, 'Many GPUs')")
    mh.add_argument(
        "--coordinator", default=None, metavar="HOST:PORT", help="address of process 0, the same on every host"
    )
    mh.add_argument("--num-processes", type=int, default=None, help="how many processes (hosts) in all")
    mh.add_argument("--process-id", type=int, default=None, help="this process's index, 0 .. N-1")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. ppo.learning_rate=1e-4")
    return p


def default_preset() -> str:
    """``gpu`` when JAX's default backend is a GPU, else ``cpu_small``."""
    import jax

    return "gpu" if jax.default_backend() == "gpu" else "cpu_small"


def main(argv: Optional[List[str]] = None, console=print):
    """Parse ``argv``, train, return the :class:`train.brax_ppo.TrainResult`.

    Raises ConfigError / CheckpointError / ExportError with a message naming the key or file
    (:func:`cli` turns them into ``error: ...`` and exit status 2).
    """
    from model.yaml_config import ConfigError
    from train.config import DEFAULT_TRAIN_YAML, list_presets, load_train_config
    from train.distributed import init_distributed
    from train.interrupts import install_interrupt_handler

    args = build_parser().parse_args(argv)
    install_interrupt_handler()
    init_distributed(args.coordinator, args.num_processes, args.process_id)
    if args.list_presets:
        console("presets in " + (args.config or DEFAULT_TRAIN_YAML) + ": " + ", ".join(list_presets(args.config)))
        return None
    if args.list_tasks:
        from train.tasks import TASKS

        for name, fn in TASKS.items():
            console(f"{name:10s} {(fn.__doc__ or '').strip().splitlines()[0]}")
        return None

    if args.resume:
        from train.checkpoints import CheckpointError
        from train.run_dir import CONFIG_FILE

        if args.config or args.preset or args.task or args.name or args.output_dir:
            raise ConfigError(
                "--resume continues a run with its own config.yaml; --config/--preset/--task/--name/"
                "--output-dir cannot be combined with it (key=value overrides can)"
            )
        from train.run_dir import resolve_run_dir, resume_config

        run_dir = resolve_run_dir(args.resume)
        if not os.path.isdir(run_dir):
            raise CheckpointError(f"run directory to resume not found: {args.resume} ({run_dir})")
        from train.checkpoints import latest_checkpoint

        step, ckpt = latest_checkpoint(run_dir)  # fail fast, before any compilation
        cfg_path = os.path.join(run_dir, CONFIG_FILE)
        if not os.path.isfile(cfg_path):
            from train.checkpoints import checkpoint_config_path

            cfg_path = checkpoint_config_path(run_dir, ckpt)
            if not os.path.isfile(cfg_path):
                raise CheckpointError(
                    f"{os.path.join(run_dir, CONFIG_FILE)} is missing and checkpoint {ckpt} has no "
                    f"config.yaml either: the run's config is lost; start a new run"
                )
            console(
                f"{os.path.join(run_dir, CONFIG_FILE)} is missing: resuming with the config of checkpoint "
                f"step {step:,d} ({cfg_path})"
            )
        cfg = resume_config(cfg_path, args.overrides)
    else:
        preset = args.preset
        auto = preset is None
        if auto:
            import jax  # noqa: F401  (device query)

            preset = default_preset()
        cfg = load_train_config(args.config, preset=preset, overrides=args.overrides, task=args.task)
        if auto:
            console(f"no --preset given: using '{preset}'")
        run_dir = None

    from train.distributed import is_main, process_label, shared_run_dir
    from train.output_paths import ensure_writable_dir
    from train.resources import check_memory
    from train.run_dir import make_run_dir, setup_jax_cache

    check_memory(cfg, console=console, skip=args.no_memory_check)  # before anything is allocated or created
    if run_dir is None:
        out = args.output_dir or cfg.run.output_dir
        ensure_writable_dir(out, "--output-dir" if args.output_dir else "run.output_dir")
    else:
        ensure_writable_dir(run_dir, "--resume")
    setup_jax_cache(cfg.run.jax_cache_dir, cfg.run.jax_cache_min_compile_s)
    if run_dir is None and is_main():
        run_dir = make_run_dir(out, args.name if args.name is not None else cfg.run.name)
    run_dir = shared_run_dir(run_dir)  # process 0's, on every process of a multi-process run

    from train.brax_ppo import train_policy

    try:
        result = train_policy(cfg, run_dir, resume=bool(args.resume), console=console)
    except KeyboardInterrupt:
        from train.cli_errors import Interrupted

        raise Interrupted(run_dir, fresh=not args.resume and is_main()) from None
    fe, zr = result.final_eval, result.zero_residual_eval or {}
    console("")
    if not is_main():
        console(f"{process_label()} done at step {result.final_step:,d}; process 0 wrote the run to {result.run_dir}")
        return result
    console(f"run dir:  {os.path.abspath(result.run_dir)}")
    console(f"export:   {os.path.abspath(result.export_dir)}  (deploy.policy_loader.load_policy(path).act(obs))")
    if fe:
        line = f"final eval reward {fe['reward']:.2f} at step {result.final_step:,d}"
        if zr:
            line += f" (zero-residual policy: {zr['reward']:.2f})"
        if result.stopped_early:
            line += "; stopped early"
        console(line)
    console(f"TensorBoard: tensorboard --logdir {os.path.abspath(result.run_dir)}/tensorboard")
    return result


def cli(argv: Optional[List[str]] = None) -> int:
    """Command-line entry: exit status 0, or 2 with ``error: ...`` for bad input (train/cli_errors.py)."""
    from train.cli_errors import run_cli

    return run_cli(main, argv)


if __name__ == "__main__":
    from train.cli_errors import exit_process

    exit_process(cli())

"""Export of a trained brax policy (``python -m train.export``), written in the format of :mod:`deploy`.

The export format (file names, ``meta.json``, the atomic write, the checks of a read) and the
loaders live in :mod:`deploy.export_format`, :mod:`deploy.onnx_policy` and
:mod:`deploy.policy_loader`, which import no brax and nothing of ``train/``; this module turns
brax PPO parameters and a run's :class:`train.config.TrainConfig` into the arguments of
:func:`deploy.export_format.write_export`, and exports any checkpoint of a run directory.

The names of the format and the loader (``load_policy``, ``ExportError``, ``write_export``,
``POLICY_FILE``, ...) stay importable from here for the code written against this module.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deploy.export_format import (  # noqa: F401  (the format's names, importable from here too)
    EXPORT_SUBDIR,
    FORMAT_VERSION,
    NORMALIZER_FILE,
    POLICY_FILE,
    ROBOT_SUBDIR,
    ExportError,
    _check_consistent,
    _check_file_hashes,
    _write_dir_atomically,
    export_robot_path,
    resolve_export_dir,
    robot_file_of_meta,
    write_export,
)
from deploy.exported_policy import ACTIVATIONS, META_FILE, OUTPUT_RULES, ExportedPolicy  # noqa: F401
from deploy.policy_loader import load_policy  # noqa: F401

# ---------------------------------------------------------------------------------------- brax


def package_versions(extra: Sequence[str] = ()) -> Dict[str, str]:
    """Versions of the packages that define the trained policy's behaviour."""
    from importlib import metadata

    names = ["jax", "jaxlib", "brax", "mujoco", "mujoco-mjx", "flax", "optax", "numpy", *extra]
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            out[n] = "not installed"
    return out


def brax_policy_layers(policy_params: Mapping[str, Any], distribution: str) -> List[Tuple[np.ndarray, np.ndarray]]:
    """``[(kernel, bias)]`` of a brax PPO policy network, input to output.

    ``tanh_normal``: brax's ``MLP`` params ``{'params': {'hidden_i': ...}}``; ``normal``:
    ``PolicyModuleWithStd`` params ``{'params': {'MLP_0': {'hidden_i'}, 'Dense_0': ..., 'std_*'}}``.
    """
    p = policy_params["params"] if "params" in policy_params else policy_params

    def ordered(tree):
        names = sorted((k for k in tree if k.startswith("hidden_")), key=lambda k: int(k.split("_")[1]))
        return [(np.asarray(tree[k]["kernel"], np.float32), np.asarray(tree[k]["bias"], np.float32)) for k in names]

    if distribution == "tanh_normal":
        return ordered(p)
    if distribution == "normal":
        if "MLP_0" not in p or "Dense_0" not in p:
            raise ExportError(f"brax 'normal' policy params lack MLP_0/Dense_0 (got {sorted(p)})")
        d = p["Dense_0"]
        return ordered(p["MLP_0"]) + [(np.asarray(d["kernel"], np.float32), np.asarray(d["bias"], np.float32))]
    raise ExportError(f"unknown policy distribution {distribution!r}")


def export_brax_policy(
    export_dir: str,
    params: Tuple[Any, Any, Any],
    cfg: Any,
    observation_layout: List[dict],
    observation_size: int,
    action_size: int,
    training: Dict[str, Any],
) -> str:
    """Export brax PPO ``params`` = ``(normalizer state, policy params, value params)``.

    ``cfg`` is the run's :class:`train.config.TrainConfig`; ``training`` the run summary (steps,
    final evaluation, ...), stored in meta.json.
    """
    norm, policy, _ = params
    ppo = cfg.ppo
    layers = brax_policy_layers(policy, ppo.distribution)
    if ppo.normalize_observations:
        mean = np.asarray(norm.mean, np.float32)
        std = np.asarray(norm.std, np.float32)
        count = normalizer_count(norm)
    else:
        mean = np.zeros(observation_size, np.float32)
        std = np.ones(observation_size, np.float32)
        count = 0.0
    meta = _common_meta(cfg, observation_layout, observation_size, action_size, training)
    meta.update(
        backend="brax",
        versions=package_versions(),
        value_hidden_layer_sizes=list(ppo.value_hidden_layer_sizes),
        distribution=ppo.distribution,
        normalize_observations=ppo.normalize_observations,
    )
    output = "tanh_mean" if ppo.distribution == "tanh_normal" else "clip_mean"
    return write_export(
        export_dir,
        layers=layers,
        activation=ppo.activation,
        output=output,
        obs_mean=mean,
        obs_std=std,
        obs_count=count,
        meta=meta,
    )


def normalizer_count(norm: Any) -> float:
    """Observations seen by a brax running-statistics state (its ``count`` is a ``UInt64`` pair)."""
    count = norm.count
    return float(count.to_numpy()) if hasattr(count, "to_numpy") else float(np.asarray(count))


ACTION_LAYOUTS = {
    "residual": "[FR xyz, FL xyz, RR xyz, RL xyz] foot residuals (m) = action * residual_max",
    "modulated": "[FR xyz, FL xyz, RR xyz, RL xyz] foot residuals (m) = action * residual_max, then step "
    "frequency, swing height, body height (env.modulation)",
    "direct": "joint offsets from the home pose (rad) = action * direct_scale, actuator order",
    "torque": "joint torques (N m) = action * torque_scale * torque limit, actuator order (motors, no servo)",
}
"""``meta["action"]["layout"]`` of each action mode: what the policy's action means."""


def _common_meta(
    cfg: Any, observation_layout: List[dict], observation_size: int, action_size: int, training: Dict[str, Any]
) -> Dict[str, Any]:
    from model.yaml_config import to_dict

    env = cfg.env
    return {
        "observation_size": int(observation_size),
        "observation_layout": observation_layout,
        "action_size": int(action_size),
        "action": {
            "mode": env.action_mode,
            "residual_max": env.residual_max,
            "direct_scale": env.direct_scale,
            "action_filter": env.action_filter,
            "range": [-1.0, 1.0],
            "torque_scale": env.torque_scale,
            "layout": ACTION_LAYOUTS.get(env.action_mode, ACTION_LAYOUTS["residual"]),
        },
        "control_dt": cfg.simulation.control_dt,
        "config": {
            "simulation": to_dict(cfg.simulation),
            "gait": to_dict(cfg.gait),
            "env": to_dict(env),
            "ppo": to_dict(cfg.ppo),
            **({"run": to_dict(cfg.run)} if hasattr(cfg, "run") else {}),
        },
        "training": training,
    }


# ------------------------------------------------------------------------- checkpoint -> export


def _training_device(run_dir: str) -> Dict[str, str]:
    """The device and physics a run trained on (its ``progress.jsonl`` "device" record), if recorded."""
    from train.progress import device_record

    rec = device_record(run_dir)
    return {k: str(rec[k]) for k in ("device", "physics") if rec.get(k)}


def export_checkpoint(
    run_dir: str,
    out_dir: str,
    step: Optional[int] = None,
    subdir: str = "checkpoints",
    extra_training: Optional[Dict[str, Any]] = None,
) -> str:
    """Export checkpoint ``step`` (default: the newest) of a Brax run directory to ``out_dir``.

    Uses the config that produced that checkpoint (its own ``config.yaml``; the run's for
    checkpoints written before per-checkpoint configs) for the network, observation layout and
    action scaling, so a step trained before a ``--resume`` with overrides exports with the
    values it was trained with; the
    ``training`` block of ``meta.json`` records the run, the step and the checkpoint's wall time.
    ``subdir="best"`` exports the best-evaluation parameters.

    Raises:
      CheckpointError: no such run, step or checkpoint; ExportError: unexportable network.
    """
    from mjx_envs.observation import observation_layout, observation_size, observation_spec
    from train.checkpoints import CheckpointError, checkpoint_config_path, list_checkpoints, load_checkpoint
    from train.config import load_resolved_config
    from train.run_dir import CONFIG_FILE, resolve_run_dir

    run_dir = resolve_run_dir(run_dir)
    if not os.path.isdir(run_dir):
        raise CheckpointError(f"run directory not found: {run_dir}")
    found = dict(list_checkpoints(run_dir, subdir))
    if not found:
        what = "" if os.path.isfile(os.path.join(run_dir, CONFIG_FILE)) else f" (and no {CONFIG_FILE}: is it a run?)"
        raise CheckpointError(f"no checkpoint in {os.path.join(run_dir, subdir)}{what}")
    if step is None:
        step = max(found)
    if step not in found:
        raise CheckpointError(
            f"no checkpoint for step {step} in {os.path.join(run_dir, subdir)} (have {sorted(found)})"
        )
    try:
        params, state = load_checkpoint(found[step])
    except CheckpointError as e:
        others = sorted((s for s in found if s != step), reverse=True)
        raise CheckpointError(
            f"{e}; export another checkpoint with --step N (other steps: {', '.join(map(str, others)) or 'none'})"
        ) from None
    cfg_path = checkpoint_config_path(run_dir, found[step])  # the config that produced this step
    if not os.path.isfile(cfg_path):
        raise CheckpointError(
            f"neither checkpoint {found[step]} nor {run_dir} has a {CONFIG_FILE}: the config that "
            f"produced these parameters is lost"
        )
    cfg = load_resolved_config(cfg_path)
    import jax

    params = jax.tree_util.tree_map(np.asarray, params)
    act = cfg.env.action_size  # 12, or 15 with gait modulation
    spec = observation_spec(cfg.env)
    training = {
        "env_steps": int(step),
        "checkpoint": found[step],
        "run_dir": run_dir,
        "config_file": cfg_path,
        "wall_time_s": state.get("wall_time_s"),
        "preset": state.get("preset"),
        "train_world": cfg.simulation.world,
        **_training_device(run_dir),
        **(extra_training or {}),
    }
    return export_brax_policy(out_dir, params, cfg, observation_layout(**spec), observation_size(**spec), act, training)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m train.export RUN_DIR [--step N | --best] [--out DIR] [--onnx]``: export any checkpoint
    (``--onnx``: also ``policy.onnx``); ``python -m train.export EXPORT_DIR --onnx-only`` adds
    ``policy.onnx`` to an existing export without re-exporting it."""
    import argparse
    import sys

    from model.yaml_config import ConfigError
    from train.checkpoints import CheckpointError

    p = argparse.ArgumentParser(
        prog="python -m train.export",
        description="Export a checkpoint of a training run (RUN_DIR/export_<step>/), "
        "optionally with a verified policy.onnx.",
    )
    p.add_argument(
        "run_dir", help="training run directory (with --onnx-only: an export, its run directory or a file in it)"
    )
    p.add_argument("--step", type=int, default=None, help="checkpoint step (default: the newest)")
    p.add_argument("--best", action="store_true", help="export the best-evaluation parameters (RUN_DIR/best/)")
    p.add_argument("--out", default=None, help="export directory (default: RUN_DIR/export_<step>)")
    p.add_argument(
        "--onnx",
        action="store_true",
        help="also write policy.onnx (+ onnx_check.json), verified with onnxruntime (pip install -e .[deploy])",
    )
    p.add_argument(
        "--onnx-only",
        action="store_true",
        help="add policy.onnx to the existing export RUN_DIR (export dir or run dir) without re-exporting it",
    )
    p.add_argument("--onnx-random", type=int, default=1000, metavar="N", help="random verification observations")
    p.add_argument(
        "--onnx-recorded",
        type=int,
        default=1000,
        metavar="N",
        help="verification observations recorded from playback episodes (flat world)",
    )
    args = p.parse_args(argv)
    if args.onnx_only:
        if args.step is not None or args.best or args.out is not None:
            p.error("--onnx-only works on an existing export: --step/--best/--out do not apply")
        from train.onnx_export import main_onnx_only

        return main_onnx_only(args.run_dir, args.onnx_random, args.onnx_recorded)
    from train.output_paths import ensure_writable_dir
    from train.run_dir import resolve_run_dir

    args.run_dir = resolve_run_dir(args.run_dir)
    try:
        from train.checkpoints import load_newest_readable

        if not os.path.isdir(args.run_dir):
            raise CheckpointError(f"run directory not found: {args.run_dir}")
        if args.out is not None:
            ensure_writable_dir(args.out, "--out")  # before any checkpoint is read
        sub = "best" if args.best else "checkpoints"
        step = args.step
        if step is None:  # the newest checkpoint that loads, saying which were skipped
            step = load_newest_readable(args.run_dir, sub, log=print)[0]
        out = args.out or os.path.join(args.run_dir, f"export_{'best_' if args.best else ''}{step}")
        ensure_writable_dir(out, "--out")
        export_checkpoint(args.run_dir, out, step, subdir=sub)
        print(f"exported step {step} of {args.run_dir} to {os.path.abspath(out)}")
        if args.onnx:
            from train.onnx_export import export_onnx, summary_line

            print(summary_line(out, export_onnx(out, n_random=args.onnx_random, n_recorded=args.onnx_recorded)))
    except (CheckpointError, ExportError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    from train.cli_errors import exit_process

    exit_process(main())

"""Export of a trained policy and a dependency-light loader for it.

An export directory (``RUN_DIR/export/``) holds three files and the robot:

``policy.msgpack``
    the deterministic policy MLP, ``flax.serialization.msgpack_serialize`` of
    ``{"params": {"hidden_0": {"kernel": (in, out), "bias": (out,)}, ..., "hidden_<n>": ...}}``
    (brax's MLP layout; the last layer is the output layer). Brax ``tanh_normal`` policies are
    stored exactly as brax holds them; brax ``normal`` policies have their trunk and mean layer
    flattened into the same list; SB3 policies have ``mlp_extractor.policy_net`` + ``action_net``
    converted (kernels transposed).
``normalizer.npz``
    ``mean``, ``std`` (obs_size,), ``count``: observation normalisation ``(obs - mean) / std``
    (then clipped to ``±meta.normalizer.clip`` when that is not null: SB3 VecNormalize).
``meta.json``
    format version, backend (``brax``/``sb3``), observation size and layout, action size and
    scaling (``action_mode``, ``residual_max``, ``direct_scale``), network (hidden sizes,
    activation, output rule), the env/sim/gait/ppo/run config, package versions, training steps,
    final evaluation numbers and ``robot``, the record of the bundled robot (below).
``robot/``
    the robot MJCF the policy was trained on (``SimulationConfig.robot_file``: ``simulation.robot_xml``
    or the worlds' ``model/robot.xml``), every file it references and its ``robot.yaml``, copied by
    :func:`model.robot_bundle.bundle_robot`; ``meta["robot"]`` holds the entry file, each file's
    SHA-256 and size, the original path (information only) and one combined SHA-256.
    :func:`export_robot_path` checks the copy and returns its MJCF: the env of an export is built
    from it, so the policy plays after the original file moves or changes, and a changed copy is
    refused by name. Exports without ``meta["robot"]`` (older ones) use ``config.simulation``.

The files and ``robot/`` are written into a fresh temporary directory beside ``export/`` and swapped in
with renames, so an interrupted (re-)export leaves the previous export whole; ``meta.json``
(format 2) holds the SHA-256 of the other two files and the loader refuses an export whose files
do not belong together. A re-export replaces the whole directory (other files in it are dropped:
they described the previous policy).

Action rule (``meta.policy.output``): ``tanh_mean`` -> ``tanh(y[:A])`` (brax tanh_normal, whose
output layer holds loc and scale); ``clip_mean`` -> ``clip(y, -1, 1)`` (brax normal, SB3: the
env clips actions to [-1, 1]). Both are the deterministic action the env executes.

:func:`load_policy` needs numpy, msgpack and flax's serialisation only; no brax or training state.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deploy.exported_policy import ACTIVATIONS, META_FILE, OUTPUT_RULES, ExportedPolicy  # noqa: F401

EXPORT_SUBDIR = "export"
POLICY_FILE = "policy.msgpack"
NORMALIZER_FILE = "normalizer.npz"
ROBOT_SUBDIR = "robot"
FORMAT_VERSION = 2
"""2: ``meta.files.sha256`` pairs the three files (format 1 exports, without it, still load)."""


class ExportError(ValueError):
    """An export is missing, corrupt or does not match the caller; the message names the file."""


# ---------------------------------------------------------------------------------------- write


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


def write_export(
    export_dir: str,
    *,
    layers: Sequence[Tuple[np.ndarray, np.ndarray]],
    activation: str,
    output: str,
    obs_mean: np.ndarray,
    obs_std: np.ndarray,
    obs_count: float,
    meta: Dict[str, Any],
    obs_clip: Optional[float] = None,
    robot_file: Optional[str] = None,
) -> str:
    """Write ``policy.msgpack``, ``normalizer.npz``, ``meta.json`` and ``robot/``; returns ``export_dir``.

    ``meta`` is completed with the format version, the network description, the normaliser
    settings and ``robot`` (the bundle's record); it must hold ``observation_size`` and
    ``action_size``. ``robot_file``: the robot MJCF to bundle; default the one
    ``meta["config"]["simulation"]`` trains with (:func:`robot_file_of_meta`).

    Raises:
      ExportError: an unexportable network, or a robot file (or a file it names) that cannot be
        bundled (the message names it).
    """
    from flax import serialization

    if activation not in ACTIVATIONS:
        raise ExportError(f"activation {activation!r} cannot be exported (supported: {sorted(ACTIVATIONS)})")
    if output not in OUTPUT_RULES:
        raise ExportError(f"output rule {output!r} unknown (supported: {OUTPUT_RULES})")
    os.makedirs(export_dir, exist_ok=True)
    tree = {
        "params": {
            f"hidden_{i}": {"kernel": np.asarray(k, np.float32), "bias": np.asarray(b, np.float32)}
            for i, (k, b) in enumerate(layers)
        }
    }
    meta = dict(meta)
    meta.update(
        format_version=FORMAT_VERSION,
        policy={
            "layers": [list(np.shape(k)) for k, _ in layers],
            "activation": activation,
            "output": output,
            "hidden_layer_sizes": [int(np.shape(k)[1]) for k, _ in layers[:-1]],
        },
        normalizer={"clip": None if obs_clip is None else float(obs_clip)},
        files={"policy": POLICY_FILE, "normalizer": NORMALIZER_FILE},
    )
    _check_consistent(tree["params"], np.asarray(obs_mean), np.asarray(obs_std), meta, export_dir)
    policy_bytes = serialization.msgpack_serialize(tree)
    buf = io.BytesIO()
    np.savez(
        buf,
        mean=np.asarray(obs_mean, np.float32),
        std=np.asarray(obs_std, np.float32),
        count=np.asarray(obs_count, np.float64),
    )
    norm_bytes = buf.getvalue()
    meta["files"]["sha256"] = {POLICY_FILE: _sha256(policy_bytes), NORMALIZER_FILE: _sha256(norm_bytes)}
    robot_file = robot_file or robot_file_of_meta(meta)

    def fill(tmp: str) -> None:
        from model.robot_bundle import add_adapted_robot, bundle_robot
        from model.yaml_config import ConfigError

        try:
            meta["robot"] = add_adapted_robot(
                os.path.join(tmp, ROBOT_SUBDIR), bundle_robot(robot_file, os.path.join(tmp, ROBOT_SUBDIR))
            )
        except ConfigError as e:
            raise ExportError(f"cannot copy the robot into the export {export_dir}: {e}") from None
        _write_files(
            tmp,
            {
                POLICY_FILE: policy_bytes,
                NORMALIZER_FILE: norm_bytes,
                META_FILE: json.dumps(meta, indent=1, default=_json_default).encode(),
            },
        )

    _write_dir_atomically(export_dir, fill)
    return export_dir


def robot_file_of_meta(meta: Mapping[str, Any]) -> str:
    """The robot MJCF an export's ``meta["config"]["simulation"]`` trains with
    (``SimulationConfig.robot_file``; the default robot when the meta has no simulation config)."""
    from model.simulation_config import SimulationConfig
    from model.yaml_config import ConfigError, from_dict

    sim = (meta.get("config") or {}).get("simulation")
    if sim is None:
        return SimulationConfig().robot_file
    try:
        return from_dict(SimulationConfig, sim, where="the export's meta [config.simulation]").robot_file
    except ConfigError as e:
        raise ExportError(f"cannot tell which robot to copy into the export: {e}") from None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_files(directory: str, files: Dict[str, bytes]) -> None:
    """Write ``files`` (name -> bytes) into ``directory``, each synced to disk."""
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def _write_dir_atomically(export_dir: str, fill: Callable[[str], None]) -> None:
    """Let ``fill(tmp)`` write the export into a fresh sibling temp directory, then swap it in for
    ``export_dir``.

    Until the first rename the previous export is untouched (a ``fill`` that raises leaves no temp
    directory); between the two renames it sits intact at ``<export_dir>.old-<pid>`` (named by
    :func:`resolve_export_dir` if ever left there).
    """
    export_dir = os.path.abspath(export_dir).rstrip(os.sep)
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    tmp = f"{export_dir}.tmp-{os.getpid()}"
    if os.path.exists(tmp):
        shutil.rmtree(tmp)
    os.makedirs(tmp)
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(export_dir):
        old = f"{export_dir}.old-{os.getpid()}"
        if os.path.exists(old):
            shutil.rmtree(old)
        os.rename(export_dir, old)
    os.rename(tmp, export_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _json_default(v: Any) -> Any:
    if isinstance(v, (np.generic, np.ndarray)):
        return np.asarray(v).tolist()
    return str(v)


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
            "layout": "[FR xyz, FL xyz, RR xyz, RL xyz] foot residuals (m) = action * residual_max"
            if env.action_mode == "residual"
            else "joint offsets (rad) = action * direct_scale",
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


# ----------------------------------------------------------------------------------------- load


def _check_consistent(
    params: Mapping[str, Any], mean: np.ndarray, std: np.ndarray, meta: Mapping[str, Any], where: str
) -> None:
    names = sorted(params, key=lambda k: int(k.split("_")[1]) if k.split("_")[-1].isdigit() else 1 << 30)
    if not names or any(not n.startswith("hidden_") for n in names):
        raise ExportError(f"{where}: policy layers must be named hidden_0..hidden_n, got {names}")
    obs_size = int(meta["observation_size"])
    act_size = int(meta["action_size"])
    width = obs_size
    for n in names:
        k, b = np.asarray(params[n]["kernel"]), np.asarray(params[n]["bias"])
        if k.ndim != 2 or k.shape[0] != width or b.shape != (k.shape[1],):
            raise ExportError(f"{where}: layer {n} has kernel {k.shape} / bias {b.shape}; expected input width {width}")
        width = k.shape[1]
    out_rule = meta["policy"]["output"]
    expected = 2 * act_size if out_rule == "tanh_mean" else act_size
    if width != expected:
        raise ExportError(
            f"{where}: policy output width {width} does not match action_size {act_size} "
            f"(rule {out_rule} needs {expected})"
        )
    if mean.shape != (obs_size,) or std.shape != (obs_size,):
        raise ExportError(
            f"{where}: normalizer mean/std shapes {mean.shape}/{std.shape} do not match observation_size {obs_size}"
        )


def resolve_export_dir(path: str) -> str:
    """The export directory for ``path``: a run directory (``path/export``), an export directory,
    or one of its files."""
    path = os.path.abspath(os.fspath(path))
    if os.path.isfile(path):
        return os.path.dirname(path)
    if not os.path.exists(path):
        _raise_if_interrupted_swap(path)
        raise ExportError(f"policy export not found: {path} (expected a run directory or its export/ directory)")
    if os.path.isfile(os.path.join(path, META_FILE)) or os.path.isfile(os.path.join(path, POLICY_FILE)):
        return path
    sub = os.path.join(path, EXPORT_SUBDIR)
    if os.path.isdir(sub):
        return sub
    _raise_if_interrupted_swap(sub)
    raise ExportError(
        f"no export in {path}: neither {os.path.join(path, META_FILE)} nor "
        f"{os.path.join(sub, META_FILE)} exists (did the run finish?)"
    )


def _raise_if_interrupted_swap(export_dir: str) -> None:
    import glob

    left = sorted(glob.glob(glob.escape(export_dir.rstrip(os.sep)) + ".old-*"))
    if left:
        raise ExportError(
            f"{export_dir} is missing but {left[-1]} holds the previous export: a re-export was "
            f"interrupted while swapping directories; rename it back to {export_dir} or export again"
        )


def _check_file_hashes(meta: Mapping[str, Any], export_dir: str) -> None:
    """Format 2: the policy and normaliser files must be the ones ``meta.json`` was written with."""
    sums = (meta.get("files") or {}).get("sha256")
    if int(meta.get("format_version", 1)) < 2:
        return
    if not isinstance(sums, dict):
        raise ExportError(
            f"export file is corrupt: {os.path.join(export_dir, META_FILE)} (format 2 without files.sha256)"
        )
    for name in (POLICY_FILE, NORMALIZER_FILE):
        with open(os.path.join(export_dir, name), "rb") as fh:
            got = _sha256(fh.read())
        if got != sums.get(name):
            raise ExportError(
                f"export files do not belong together: {os.path.join(export_dir, name)} has SHA-256 "
                f"{got[:12]}..., {META_FILE} expects {str(sums.get(name))[:12]}... (an interrupted or "
                f"mixed export; export again)"
            )


def export_robot_path(export_dir: str, meta: Mapping[str, Any]) -> Optional[str]:
    """Absolute path of the robot MJCF bundled in ``export_dir/robot/``, checked against
    ``meta["robot"]``; None for an export without a bundled robot (made before exports carried
    one: its ``config.simulation`` names the robot).

    Raises:
      ExportError: a bundled file is missing or was changed after export (the message names it),
        or ``meta["robot"]`` is malformed.
    """
    record = meta.get("robot")
    if record is None:
        return None
    from model.robot_bundle import verify_bundle
    from model.yaml_config import ConfigError

    try:
        return verify_bundle(os.path.join(export_dir, ROBOT_SUBDIR), record, os.path.join(export_dir, META_FILE))
    except ConfigError as e:
        raise ExportError(str(e)) from None


def load_policy(path: str, observation_size: Optional[int] = None) -> ExportedPolicy:
    """Load an export written by :func:`write_export` (Brax or SB3 backend).

    Args:
      path: run directory, export directory, or a file inside the export directory. A path ending
        in ``.onnx`` loads that graph with onnxruntime instead
        (:func:`train.onnx_export.load_onnx_policy`: same interface, ``meta`` from the
        ``meta.json`` beside it; needs ``pip install -e .[deploy]``).
      observation_size: if given, the export must expect observations of this size.

    Raises:
      ExportError: missing or corrupt file (named in the message), inconsistent shapes, or an
        observation-size mismatch.
    """
    if os.fspath(path).lower().endswith(".onnx"):
        from train.onnx_export import load_onnx_policy

        return load_onnx_policy(path, observation_size)
    from flax import serialization

    export_dir = resolve_export_dir(path)
    meta_path = os.path.join(export_dir, META_FILE)
    policy_path = os.path.join(export_dir, POLICY_FILE)
    norm_path = os.path.join(export_dir, NORMALIZER_FILE)
    for f in (meta_path, policy_path, norm_path):
        if not os.path.isfile(f):
            raise ExportError(f"export file missing: {f}")
    try:
        with open(meta_path, "r", encoding="utf-8") as fh:
            meta = json.load(fh)
        if not isinstance(meta, dict):
            raise ValueError("top level is not an object")
        for key in ("observation_size", "action_size", "policy"):
            if key not in meta:
                raise ValueError(f"key '{key}' missing")
        if meta["policy"].get("activation") not in ACTIVATIONS:
            raise ValueError(f"unsupported activation {meta['policy'].get('activation')!r}")
        if meta["policy"].get("output") not in OUTPUT_RULES:
            raise ValueError(f"unsupported output rule {meta['policy'].get('output')!r}")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise ValueError(f"format_version {meta['format_version']} is newer than this loader ({FORMAT_VERSION})")
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise ExportError(f"export file is corrupt: {meta_path} ({e})") from None
    try:
        with open(policy_path, "rb") as fh:
            tree = serialization.msgpack_restore(fh.read())
        params = tree["params"]
        layers_named = {
            k: (np.asarray(v["kernel"], np.float32), np.asarray(v["bias"], np.float32)) for k, v in params.items()
        }
    except Exception as e:  # msgpack raises several unrelated exception types on garbage
        raise ExportError(f"export file is corrupt: {policy_path} ({type(e).__name__}: {e})") from None
    try:
        with np.load(norm_path) as z:
            mean = np.asarray(z["mean"], np.float32)
            std = np.asarray(z["std"], np.float32)
            count = float(np.asarray(z["count"]))
    except Exception as e:  # zipfile/pickle/KeyError on damaged archives
        raise ExportError(f"export file is corrupt: {norm_path} ({type(e).__name__}: {e})") from None
    _check_consistent(
        {k: {"kernel": kb[0], "bias": kb[1]} for k, kb in layers_named.items()}, mean, std, meta, export_dir
    )
    if np.any(~np.isfinite(mean)) or np.any(~(std > 0)):
        raise ExportError(f"export file is corrupt: {norm_path} (non-finite mean or non-positive std)")
    _check_file_hashes(meta, export_dir)  # last: a damaged file gets its specific message above
    if observation_size is not None and int(observation_size) != int(meta["observation_size"]):
        raise ExportError(
            f"observation size mismatch: the environment gives {observation_size} numbers, "
            f"the policy in {export_dir} expects {meta['observation_size']} ({meta_path})"
        )
    order = sorted(layers_named, key=lambda k: int(k.split("_")[1]))
    return ExportedPolicy(export_dir, meta, [layers_named[k] for k in order], mean, std, count)


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
    from mjx_envs.observation import observation_layout, observation_size
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
    terrain = cfg.env.terrain_observation
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
    return export_brax_policy(
        out_dir, params, cfg, observation_layout(act, terrain), observation_size(act, terrain), act, training
    )


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
    except (CheckpointError, ExportError, _module_export_error(), ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def _module_export_error() -> type:
    """``train.export.ExportError`` as other modules raise it: under ``python -m train.export`` this
    file runs as ``__main__``, whose ``ExportError`` is a different class."""
    from train import export as module

    return module.ExportError


if __name__ == "__main__":
    from train.cli_errors import exit_process

    exit_process(main())

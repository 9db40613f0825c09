"""The policy export format: its file names, the writer, and the checks and numpy loader of a read.

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

Imports numpy, flax's msgpack serialisation (inside the writer and the loader) and ``model``'s robot
bundle; no brax, JAX training code or ``train/``. Who writes exports: ``train.export`` (brax) and
``train.sb3``; who reads them: :func:`deploy.policy_loader.load_policy`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from deploy.exported_policy import ACTIVATIONS, META_FILE, OUTPUT_RULES, ExportedPolicy

EXPORT_SUBDIR = "export"
"""A run directory's export (``RUN_DIR/export/``)."""
POLICY_FILE = "policy.msgpack"
NORMALIZER_FILE = "normalizer.npz"
ROBOT_SUBDIR = "robot"
FORMAT_VERSION = 2
"""2: ``meta.files.sha256`` pairs the three files (format 1 exports, without it, still load)."""


class ExportError(ValueError):
    """An export is missing, corrupt or does not match the caller; the message names the file."""


# ---------------------------------------------------------------------------------------- write


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


# ----------------------------------------------------------------------------------------- read


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


def load_exported_policy(path: str, observation_size: Optional[int] = None) -> ExportedPolicy:
    """Load the numpy policy of an export written by :func:`write_export` (Brax or SB3 backend).

    Args:
      path: run directory, export directory, or a file inside the export directory.
      observation_size: if given, the export must expect observations of this size.

    Raises:
      ExportError: missing or corrupt file (named in the message), inconsistent shapes, files that
        do not belong together, or an observation-size mismatch.
    """
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

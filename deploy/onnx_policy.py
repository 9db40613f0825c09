"""The ONNX form of an exported policy: the graph, its check against the numpy policy, and its loader.

``policy.onnx`` (beside ``meta.json``, ``policy.msgpack``, ``normalizer.npz`` in an export
directory) is ONE float32 graph, opset :data:`OPSET`, built with ``onnx.helper`` from a loaded
:class:`deploy.exported_policy.ExportedPolicy`:

    obs [batch, observation_size] --(obs - mean) / std--> [Clip(±normalizer.clip)] --> MLP
        (MatMul + Add per layer, the export's activation between layers) --> output rule
        (``tanh_mean``: Tanh of the first action_size outputs; ``clip_mean``: Clip to [-1, 1])
        --> action [batch, action_size]

Input ``obs`` and output ``action`` (names :data:`INPUT_NAME`, :data:`OUTPUT_NAME`), ``batch`` a
dynamic dimension. ``metadata_props`` hold the observation/action sizes, the names, the opset and
the SHA-256s of the export's files (so the graph names the export it was made from).

:func:`verify` runs a graph with onnxruntime against ``ExportedPolicy.act`` on given observations
(:func:`random_observations` makes the random ones); ``train.onnx_export.export_onnx`` writes
``policy.onnx`` only when they agree to :data:`TOLERANCE`, on random observations and on ones it
records from playback episodes. :func:`load_onnx_policy` (reached through
``deploy.policy_loader.load_policy("…/policy.onnx")``) runs the graph with onnxruntime (CPU) behind
the ``ExportedPolicy`` interface, with ``meta`` from the ``meta.json`` beside it.

Needs ``onnx`` + ``onnxruntime`` (``pip install -e .[deploy]``), imported inside the functions: this
module imports without them, and a missing one is named with that command.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, List, Optional

import numpy as np

from deploy.export_format import META_FILE, NORMALIZER_FILE, POLICY_FILE, ExportError
from deploy.exported_policy import ACTIVATIONS, ExportedPolicy, checked_observation

OPSET = 17
ONNX_FILE = "policy.onnx"
CHECK_FILE = "onnx_check.json"
INPUT_NAME = "obs"
OUTPUT_NAME = "action"
BATCH_DIM = "batch"
TOLERANCE = 1e-5
"""Largest allowed |onnxruntime - ExportedPolicy.act| over the verification observations."""
OBS_RANGE = 10.0
"""Random verification observations lie in [-OBS_RANGE, OBS_RANGE] (the env's observation clip)."""
NORMALISED_BOUND = 100.0
"""The gated random observations also keep ``|(obs - mean) / std| <= NORMALISED_BOUND`` per channel.

A channel that was constant in training has std at brax's 1e-6 floor; uniform ±10 there is
normalised to ±1e7, the layers' pre-activations reach ~1e6, and float32 rounding alone (numpy's
and onnxruntime's MatMul sum in different orders) then differs by ~1e-4 — a conditioning effect,
not a graph error. Full-range ±10 observations are still run and reported (not gated)."""
DEPLOY_HINT = "pip install -e .[deploy]"
GRAPH_FORMAT = "quad12-residual policy.onnx 1"


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(
            f"the ONNX export/loader needs the '{module}' package, which is not installed: run `{DEPLOY_HINT}`"
        ) from None


def onnx_available() -> bool:
    """True when both ``onnx`` and ``onnxruntime`` import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


# ------------------------------------------------------------------------------------ the graph


def _file_sha256(path: str) -> Optional[str]:
    if not os.path.isfile(path):
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_hashes(export_dir: str, meta: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """SHA-256 of the export's policy and normaliser files: ``meta.json``'s ``files.sha256`` (format 2)
    or, for format-1 exports without them, hashed from the files."""
    sums = (meta.get("files") or {}).get("sha256") or {}
    return {
        name: sums.get(name) or _file_sha256(os.path.join(export_dir, name)) for name in (POLICY_FILE, NORMALIZER_FILE)
    }


def _activation_nodes(helper, name: str, x: str, out: str, tag: str) -> List[Any]:
    if name == "relu":
        return [helper.make_node("Relu", [x], [out], name=f"{tag}_relu")]
    if name == "tanh":
        return [helper.make_node("Tanh", [x], [out], name=f"{tag}_tanh")]
    if name in ("swish", "silu"):  # x * sigmoid(x)
        return [
            helper.make_node("Sigmoid", [x], [f"{tag}_sig"], name=f"{tag}_sigmoid"),
            helper.make_node("Mul", [x, f"{tag}_sig"], [out], name=f"{tag}_swish"),
        ]
    if name == "elu":
        return [helper.make_node("Elu", [x], [out], name=f"{tag}_elu", alpha=1.0)]
    raise ExportError(f"activation {name!r} has no ONNX form (supported: {sorted(ACTIVATIONS)})")


def build_model(policy: ExportedPolicy) -> Any:
    """The ``onnx.ModelProto`` of ``policy``: normaliser (+ clip), MLP and output rule in one graph."""
    onnx = _require("onnx")
    from onnx import TensorProto, helper, numpy_helper

    meta = policy.meta
    activation = meta["policy"]["activation"]
    obs_n, act_n = policy.observation_size, policy.action_size
    f32 = np.float32
    inits = [
        numpy_helper.from_array(np.asarray(policy.obs_mean, f32), "obs_mean"),
        numpy_helper.from_array(np.asarray(policy.obs_std, f32), "obs_std"),
    ]
    nodes = [
        helper.make_node("Sub", [INPUT_NAME, "obs_mean"], ["obs_centered"], name="normalize_sub"),
        helper.make_node("Div", ["obs_centered", "obs_std"], ["obs_norm"], name="normalize_div"),
    ]
    x = "obs_norm"
    if policy.obs_clip is not None:
        c = float(policy.obs_clip)
        inits += [
            numpy_helper.from_array(np.asarray(-c, f32), "obs_clip_min"),
            numpy_helper.from_array(np.asarray(c, f32), "obs_clip_max"),
        ]
        nodes.append(
            helper.make_node("Clip", [x, "obs_clip_min", "obs_clip_max"], ["obs_clipped"], name="normalize_clip")
        )
        x = "obs_clipped"
    last = len(policy.layers) - 1
    for i, (k, b) in enumerate(policy.layers):
        inits += [
            numpy_helper.from_array(np.asarray(k, f32), f"hidden_{i}_kernel"),
            numpy_helper.from_array(np.asarray(b, f32), f"hidden_{i}_bias"),
        ]
        nodes += [
            helper.make_node("MatMul", [x, f"hidden_{i}_kernel"], [f"hidden_{i}_matmul"], name=f"hidden_{i}_matmul"),
            helper.make_node(
                "Add", [f"hidden_{i}_matmul", f"hidden_{i}_bias"], [f"hidden_{i}_pre"], name=f"hidden_{i}_add"
            ),
        ]
        x = f"hidden_{i}_pre"
        if i != last:
            nodes += _activation_nodes(helper, activation, x, f"hidden_{i}_out", f"hidden_{i}")
            x = f"hidden_{i}_out"
    if policy.output_rule == "tanh_mean":
        inits += [
            numpy_helper.from_array(np.asarray([0], np.int64), "mean_start"),
            numpy_helper.from_array(np.asarray([act_n], np.int64), "mean_end"),
            numpy_helper.from_array(np.asarray([1], np.int64), "mean_axis"),
        ]
        nodes += [
            helper.make_node(
                "Slice", [x, "mean_start", "mean_end", "mean_axis"], ["policy_mean"], name="output_slice_mean"
            ),
            helper.make_node("Tanh", ["policy_mean"], [OUTPUT_NAME], name="output_tanh"),
        ]
    else:
        inits += [
            numpy_helper.from_array(np.asarray(-1.0, f32), "action_min"),
            numpy_helper.from_array(np.asarray(1.0, f32), "action_max"),
        ]
        nodes.append(helper.make_node("Clip", [x, "action_min", "action_max"], [OUTPUT_NAME], name="output_clip"))
    doc = (
        f"quad12-residual policy ({meta.get('backend', 'brax')}): input '{INPUT_NAME}' float32 "
        f"[{BATCH_DIM}, {obs_n}] (raw env observation) -> (obs - mean) / std"
        + (f" -> clip ±{policy.obs_clip}" if policy.obs_clip is not None else "")
        + f" -> MLP {[list(np.shape(k)) for k, _ in policy.layers]} ({activation}) -> "
        + ("tanh of the first action_size outputs" if policy.output_rule == "tanh_mean" else "clip to [-1, 1]")
        + f" -> output '{OUTPUT_NAME}' float32 [{BATCH_DIM}, {act_n}] in [-1, 1]; opset {OPSET}. "
        "Observation layout, action scaling and the env config: meta.json beside this file."
    )
    graph = helper.make_graph(
        nodes,
        "quad12_policy",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, obs_n])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [BATCH_DIM, act_n])],
        initializer=inits,
        doc_string=doc,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="quad12-residual deploy.onnx_policy",
        doc_string=doc,
    )
    model.ir_version = 8  # opset 17's IR version: loadable by onnxruntime >= 1.13
    hashes = export_hashes(policy.export_dir, meta)
    props = {
        "format": GRAPH_FORMAT,
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "opset": str(OPSET),
        "observation_size": str(obs_n),
        "action_size": str(act_n),
        "activation": activation,
        "output_rule": policy.output_rule,
        "normalizer_clip": json.dumps(policy.obs_clip),
        "backend": str(meta.get("backend", "brax")),
        "export_format_version": str(meta.get("format_version", 1)),
        **{f"sha256.{name}": h or "" for name, h in hashes.items()},
    }
    helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    return model


# ----------------------------------------------------------------------------- verification


def random_observations(
    n: int,
    size: int,
    seed: int = 0,
    scale: float = OBS_RANGE,
    mean: Optional[np.ndarray] = None,
    std: Optional[np.ndarray] = None,
    bound: Optional[float] = None,
) -> np.ndarray:
    """``n`` observations: the zero vector, then uniform in [-scale, scale] per channel.

    With ``mean``, ``std`` and ``bound`` each channel's range is narrowed to ``mean ± bound * std``
    where that is narrower (and the zero vector clamped into it): normalised values stay within ±bound.
    """
    rng = np.random.default_rng(seed)
    lo, hi = np.full(size, -scale, np.float64), np.full(size, scale, np.float64)
    if mean is not None and std is not None and bound is not None:
        m, sd = np.asarray(mean, np.float64), np.asarray(std, np.float64)
        lo, hi = np.maximum(lo, m - bound * sd), np.minimum(hi, m + bound * sd)
        lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    obs = rng.uniform(lo, hi, size=(max(int(n), 1), size)).astype(np.float32)
    obs[0] = np.clip(0.0, lo, hi)
    return obs


def _session(model_bytes: bytes, where: str):
    ort = _require("onnxruntime")
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types on bad graphs
        raise ExportError(f"ONNX file is corrupt or unreadable: {where} ({type(e).__name__}: {e})") from None


def max_abs_diff(session, policy: ExportedPolicy, obs: np.ndarray) -> float:
    """max |onnxruntime(obs) - policy.act(obs)| over a batch (NaN counts as infinite)."""
    if len(obs) == 0:
        return 0.0
    got = session.run([OUTPUT_NAME], {INPUT_NAME: np.asarray(obs, np.float32)})[0]
    want = policy.act(obs)
    if got.shape != want.shape:
        return float("inf")
    d = np.abs(got.astype(np.float64) - want.astype(np.float64))
    return float("inf") if not np.all(np.isfinite(d)) else float(d.max())


def verify(
    model_bytes: bytes,
    policy: ExportedPolicy,
    random_obs: np.ndarray,
    recorded_obs: np.ndarray,
    where: str = ONNX_FILE,
    full_range_obs: Optional[np.ndarray] = None,
) -> Dict[str, Any]:
    """onnxruntime vs ``policy.act``: the numbers ``train.onnx_export.export_onnx`` checks and records
    (``full_range_obs``: reported only, with the share of saturated actions)."""
    ort = _require("onnxruntime")
    sess = _session(model_bytes, where)
    d_rand = max_abs_diff(sess, policy, random_obs)
    d_rec = max_abs_diff(sess, policy, recorded_obs)
    one = random_obs[1:2] if len(random_obs) > 1 else random_obs[:1]
    d_one = max_abs_diff(sess, policy, one)  # batch 1, the robot's case
    out = {}
    if full_range_obs is not None and len(full_range_obs):
        acts = policy.act(full_range_obs)
        out = {
            "max_abs_diff_random_full_range": max_abs_diff(sess, policy, full_range_obs),
            "n_random_full_range": int(len(full_range_obs)),
            "saturated_action_share_full_range": float(np.mean(np.abs(acts) >= 1.0)),
            "saturated_action_share_random": float(np.mean(np.abs(policy.act(random_obs)) >= 1.0)),
        }
    return {
        "max_abs_diff_random": d_rand,
        "max_abs_diff_recorded": d_rec,
        "max_abs_diff_batch1": d_one,
        **out,
        "n_random": int(len(random_obs)),
        "n_recorded": int(len(recorded_obs)),
        "onnxruntime_version": ort.__version__,
        "onnx_version": _require("onnx").__version__,
        "opset": OPSET,
    }


# ------------------------------------------------------------------------------------- loader


class OnnxPolicy:
    """``policy.onnx`` run by onnxruntime (CPU) behind the :class:`~deploy.exported_policy.ExportedPolicy`
    interface: ``act``/``__call__`` (obs (N,) or (B, N) -> action (A,) / (B, A), float32),
    ``meta`` (the ``meta.json`` beside it), ``export_dir``, ``observation_size``, ``action_size``.
    ``load_path`` is the ``.onnx`` file it was read from."""

    def __init__(self, onnx_path: str, meta: Dict[str, Any], session: Any, props: Dict[str, str]):
        self.onnx_path = onnx_path
        self.load_path = onnx_path
        self.export_dir = os.path.dirname(onnx_path)
        self.meta = meta
        self.metadata = props
        self.observation_size = int(meta["observation_size"])
        self.action_size = int(meta["action_size"])
        self.backend = "onnxruntime"
        self.session = session

    def act(self, obs: Any) -> np.ndarray:
        """Deterministic action in [-1, 1]."""
        x = checked_observation(obs, self.observation_size, self.export_dir)
        out = self.session.run([OUTPUT_NAME], {INPUT_NAME: x.reshape(-1, self.observation_size)})[0]
        return out.reshape(self.action_size) if x.ndim == 1 else out

    __call__ = act

    def __repr__(self) -> str:
        return f"OnnxPolicy({self.onnx_path!r}, obs={self.observation_size}, act={self.action_size})"


def load_onnx_policy(path: str, observation_size: Optional[int] = None) -> OnnxPolicy:
    """Load ``policy.onnx`` (any ``.onnx`` file whose directory holds the export's ``meta.json``).

    Raises:
      ExportError: onnx/onnxruntime missing, the file or meta.json missing or corrupt (named), the
        graph's input/output sizes differ from meta.json, the graph was made from other export
        files than meta.json describes, or ``observation_size`` differs.
    """
    onnx = _require("onnx")
    _require("onnxruntime")
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise ExportError(f"ONNX file not found: {path}")
    export_dir = os.path.dirname(path)
    meta_path = os.path.join(export_dir, META_FILE)
    if not os.path.isfile(meta_path):
        raise ExportError(f"export file missing: {meta_path} (policy.onnx needs the meta.json of its export beside it)")
    try:
        with open(meta_path, "r", encoding="utf-8") as fh:
            meta = json.load(fh)
        int(meta["observation_size"]), int(meta["action_size"])
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ExportError(f"export file is corrupt: {meta_path} ({type(e).__name__}: {e})") from None
    with open(path, "rb") as fh:
        data = fh.read()
    try:
        model = onnx.load_from_string(data)
        onnx.checker.check_model(model)
    except Exception as e:  # protobuf DecodeError, ValidationError, ...
        raise ExportError(f"ONNX file is corrupt: {path} ({type(e).__name__}: {e})") from None
    session = _session(data, path)
    props = {p.key: p.value for p in model.metadata_props}
    ins, outs = session.get_inputs(), session.get_outputs()
    if [i.name for i in ins] != [INPUT_NAME] or [o.name for o in outs] != [OUTPUT_NAME]:
        raise ExportError(
            f"{path}: expected one input '{INPUT_NAME}' and one output '{OUTPUT_NAME}', got "
            f"{[i.name for i in ins]} -> {[o.name for o in outs]} (not a policy.onnx of this stack)"
        )
    obs_n, act_n = ins[0].shape[-1], outs[0].shape[-1]
    if obs_n != int(meta["observation_size"]):
        raise ExportError(
            f"observation size mismatch: {path} takes {obs_n} numbers, {meta_path} says "
            f"{meta['observation_size']} (a policy.onnx from another export?)"
        )
    if act_n != int(meta["action_size"]):
        raise ExportError(
            f"action size mismatch: {path} outputs {act_n} numbers, {meta_path} says {meta['action_size']}"
        )
    want = export_hashes(export_dir, meta)
    for name, h in want.items():
        got = props.get(f"sha256.{name}")
        if h and got and got != h:
            raise ExportError(
                f"{path} was made from another export: its {name} SHA-256 {got[:12]}... differs from "
                f"{h[:12]}... ({meta_path}); export ONNX again (python -m train.export "
                f"{export_dir} --onnx-only)"
            )
    if observation_size is not None and int(observation_size) != int(meta["observation_size"]):
        raise ExportError(
            f"observation size mismatch: the environment gives {observation_size} numbers, "
            f"the policy {path} expects {meta['observation_size']}"
        )
    return OnnxPolicy(path, meta, session, props)

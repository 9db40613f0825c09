"""Export time of ``policy.onnx``: record observations from the policy's own episodes, build, verify, write.

The graph, its verification against the numpy policy and the onnxruntime loader are in
:mod:`deploy.onnx_policy` (no JAX, no env); this module adds what needs the training stack: the
observations ``policy`` sees in seeded playback episodes of the C MuJoCo twin built from the
export's ``meta.json`` (:func:`record_observations`, via ``mjx_envs.policy_env``), and
:func:`export_onnx`, which refuses to write ``policy.onnx`` unless onnxruntime reproduces
``ExportedPolicy.act`` to :data:`~deploy.onnx_policy.TOLERANCE` (max abs difference) on random
observations and on recorded ones; the numbers go to ``onnx_check.json``.

The names of :mod:`deploy.onnx_policy` (``build_model``, ``verify``, ``OnnxPolicy``,
``load_onnx_policy``, the constants) stay importable from here. Needs ``onnx`` + ``onnxruntime``:
``pip install -e .[deploy]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from deploy.export_format import ExportError, resolve_export_dir
from deploy.exported_policy import ExportedPolicy
from deploy.onnx_policy import (  # noqa: F401  (the graph's names, importable from here too)
    BATCH_DIM,
    CHECK_FILE,
    DEPLOY_HINT,
    GRAPH_FORMAT,
    INPUT_NAME,
    NORMALISED_BOUND,
    OBS_RANGE,
    ONNX_FILE,
    OPSET,
    OUTPUT_NAME,
    TOLERANCE,
    OnnxPolicy,
    _file_sha256,
    _require,
    _session,
    build_model,
    export_hashes,
    load_onnx_policy,
    max_abs_diff,
    onnx_available,
    random_observations,
    verify,
)
from deploy.policy_loader import load_policy

# ------------------------------------------------------------------------------ recorded observations


def record_observations(
    policy: ExportedPolicy,
    n: int = 1000,
    seconds: float = 20.0,
    max_episodes: int = 8,
    world: str = "flat",
    seed: int = 0,
) -> np.ndarray:
    """Observations ``policy`` sees in seeded playback episodes (C MuJoCo twin, ``world``): episodes of
    up to ``seconds`` with seeds ``seed, seed+1, ...`` until ``n`` observations (at most ``max_episodes``)."""
    if int(n) <= 0:
        return np.zeros((0, policy.observation_size), np.float32)
    import jax

    from mjx_envs.policy_env import cached_env, check_policy_matches_env, configs_from_meta, meta_path, with_world

    configs = with_world(configs_from_meta(policy.meta, meta_path(policy)), world)
    env = cached_env(configs)
    check_policy_matches_env(policy.meta, env, meta_path(policy))
    seen: List[np.ndarray] = []
    steps = int(round(seconds / float(configs.simulation.control_dt)))
    for ep in range(int(max_episodes)):
        remaining = int(n) - len(seen)
        if remaining <= 0:
            break
        # the reset key of playback's episode ``ep`` of seed ``seed`` (evaluation.episode.episode_key)
        obs, _ = env.reset(options={"key": jax.random.fold_in(jax.random.PRNGKey(int(seed)), ep)})
        for _ in range(min(steps, remaining)):
            seen.append(np.array(obs, np.float32, copy=True))
            obs, _, terminated, truncated, info = env.step(np.asarray(policy.act(obs), np.float32))
            if terminated or (truncated and info.get("off_map", False)):
                break
    return np.asarray(seen[: int(n)], np.float32).reshape(-1, policy.observation_size)


# ------------------------------------------------------------------------------------- export


def export_onnx(
    path: str,
    *,
    n_random: int = 1000,
    n_recorded: int = 1000,
    recorded_obs: Optional[np.ndarray] = None,
    episode_seconds: float = 20.0,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    verifier: Optional[Callable[..., Dict[str, Any]]] = None,
) -> Dict[str, Any]:
    """Write ``policy.onnx`` + ``onnx_check.json`` into the export directory of ``path``.

    Args:
      path: run directory, export directory or a file in it (as :func:`deploy.policy_loader.load_policy`).
      n_random: random verification observations (uniform in ±:data:`OBS_RANGE`, the first zero).
      n_recorded: observations recorded from playback episodes of the policy (flat world, up to
        ``episode_seconds`` each, seeds ``seed, seed+1, ...``); ``recorded_obs`` supplies them instead.
      tolerance: the largest allowed max abs difference (onnxruntime vs ``ExportedPolicy.act``).
      verifier: replaces :func:`verify` (tests).

    Returns the check record (also written to ``onnx_check.json``).

    Raises:
      ExportError: onnx/onnxruntime missing (names ``pip install -e .[deploy]``), an unloadable
        export, or a failed verification — then no ``policy.onnx`` is written (a previous one is
        left as it was) and the message holds the numbers.
    """
    _require("onnx")
    _require("onnxruntime")
    policy = load_policy(resolve_export_dir(path))  # the msgpack export, also for a path to policy.onnx
    export_dir = policy.export_dir
    t0 = time.perf_counter()
    model = build_model(policy)
    model_bytes = model.SerializeToString()
    rand = random_observations(
        n_random, policy.observation_size, seed=seed, mean=policy.obs_mean, std=policy.obs_std, bound=NORMALISED_BOUND
    )
    full = random_observations(n_random, policy.observation_size, seed=seed)
    if recorded_obs is None:
        rec = record_observations(policy, n_recorded, seconds=episode_seconds, seed=seed)
        rec_source = f"playback episodes, flat world, seeds {seed}+, up to {episode_seconds:g} s each"
    else:
        rec = np.asarray(recorded_obs, np.float32).reshape(-1, policy.observation_size)
        rec_source = "supplied by the caller"
    final = os.path.join(export_dir, ONNX_FILE)
    tmp = f"{final}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as fh:
            fh.write(model_bytes)
            fh.flush()
            os.fsync(fh.fileno())
        with open(tmp, "rb") as fh:  # verify the file as written
            written = fh.read()
        check = (verifier or verify)(written, policy, rand, rec, where=final, full_range_obs=full)
        worst = max(check["max_abs_diff_random"], check["max_abs_diff_recorded"], check.get("max_abs_diff_batch1", 0.0))
        if not worst <= tolerance:
            raise ExportError(
                f"ONNX verification failed, {final} not written: max |onnxruntime - ExportedPolicy.act| = "
                f"{check['max_abs_diff_random']:.3g} on {check['n_random']} random observations, "
                f"{check['max_abs_diff_recorded']:.3g} on {check['n_recorded']} recorded observations "
                f"(tolerance {tolerance:g})"
            )
        check.update(
            file=ONNX_FILE,
            sha256=hashlib.sha256(written).hexdigest(),
            tolerance=tolerance,
            passed=True,
            recorded_source=rec_source,
            random_source=f"zeros + uniform in ±{OBS_RANGE:g} per channel, narrowed to "
            f"mean ± {NORMALISED_BOUND:g} std where narrower "
            f"(normalised |z| <= {NORMALISED_BOUND:g}); seed "
            f"{seed}",
            full_range_source=f"zeros + uniform in ±{OBS_RANGE:g}, seed {seed}: reported, not gated",
            input={"name": INPUT_NAME, "shape": [BATCH_DIM, policy.observation_size], "dtype": "float32"},
            output={"name": OUTPUT_NAME, "shape": [BATCH_DIM, policy.action_size], "dtype": "float32"},
            export_sha256=export_hashes(export_dir, policy.meta),
            wall_time_s=round(time.perf_counter() - t0, 2),
        )
        check_tmp = os.path.join(export_dir, f"{CHECK_FILE}.tmp-{os.getpid()}")
        with open(check_tmp, "w", encoding="utf-8") as fh:
            json.dump(check, fh, indent=1)
        os.replace(check_tmp, os.path.join(export_dir, CHECK_FILE))
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return check


def export_onnx_if_available(export_dir: str, log: Callable[[str], None] = print, **kwargs) -> Optional[Dict[str, Any]]:
    """The trainers' final step: :func:`export_onnx` when onnx + onnxruntime import, else one log line.

    A failed verification is logged (the msgpack export stays valid) rather than raised.
    """
    if not onnx_available():
        log(f"ONNX export skipped: onnx/onnxruntime not installed ({DEPLOY_HINT})")
        return None
    try:
        check = export_onnx(export_dir, **kwargs)
    except ExportError as e:
        log(f"ONNX export failed: {e}")
        return None
    log(
        f"ONNX: {os.path.join(export_dir, ONNX_FILE)} (onnxruntime max abs diff {check['max_abs_diff_random']:.1e} "
        f"random / {check['max_abs_diff_recorded']:.1e} recorded)"
    )
    return check


def main_onnx_only(path: str, n_random: int = 1000, n_recorded: int = 1000, log: Callable[[str], None] = print) -> int:
    """``python -m train.export EXPORT_DIR --onnx-only``: add ``policy.onnx`` to an existing export."""
    import sys

    try:
        export_dir = resolve_export_dir(path)
        check = export_onnx(export_dir, n_random=n_random, n_recorded=n_recorded)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    log(summary_line(export_dir, check))
    return 0


def summary_line(export_dir: str, check: Dict[str, Any]) -> str:
    return (
        f"wrote {os.path.join(export_dir, ONNX_FILE)} (opset {check['opset']}): onnxruntime "
        f"{check['onnxruntime_version']} vs ExportedPolicy.act max abs diff {check['max_abs_diff_random']:.2e} on "
        f"{check['n_random']} random, {check['max_abs_diff_recorded']:.2e} on {check['n_recorded']} recorded "
        f"observations (tolerance {check['tolerance']:g}); {os.path.join(export_dir, CHECK_FILE)}"
    )


__all__: Sequence[str] = (
    "OPSET",
    "ONNX_FILE",
    "CHECK_FILE",
    "INPUT_NAME",
    "OUTPUT_NAME",
    "TOLERANCE",
    "OnnxPolicy",
    "build_model",
    "export_onnx",
    "export_onnx_if_available",
    "load_onnx_policy",
    "onnx_available",
    "random_observations",
    "record_observations",
    "verify",
)

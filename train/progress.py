"""Training progress: one console line per evaluation, TensorBoard scalars, ``progress.jsonl``.

Everything goes under the run directory:

* ``tensorboard/``: tensorboardX event files (``tensorboard --logdir runs/residual_ppo``);
* ``progress.jsonl``: one JSON object per event (``kind`` = ``eval``, ``zero_residual``, ``train``,
  ``checkpoint``, ``early_stop``, ``resume``, ``curriculum_resume``, ``done``), with the global env
  ``step``; the machine-readable log the tests and benchmarks read.

TensorBoard tags (all against global env steps; a resumed run continues the same curves):

=================================  =====================================================
``eval/reward``                    mean episode return of the evaluation episodes
``eval/zero_residual_reward``      the same episodes with the zero residual (nominal trot)
``eval/episode_length``            mean evaluation episode length (env steps)
``eval/fall_rate``                 fraction of evaluation episodes ending in a fall
``eval/<metric>_per_step``         every env metric averaged over evaluated steps
                                   (vel_tracking_error, ik_saturated, actuator_saturated, ...)
``eval_reward_terms/<term>``       each weighted reward term per step
``train/episode_reward`` ...       the same for training episodes (brax ``episode/*``)
``train/terrain_level_mean``       mean curriculum level of recent training episodes
``train/terrain_level_frac/<k>``   fraction of recent training episodes on level k
``train/terrain_type_frac/<name>`` fraction of recent training episodes on terrain type <name> (suite)
``train/curriculum_promoted_rate`` fraction of recent training episodes the curriculum promoted
``train/curriculum_demoted_rate``  ... and demoted
``ppo/<loss or sps>``              brax training metrics (losses, ``sps``, ...)
=================================  =====================================================
"""

from __future__ import annotations

import json
import os
import struct
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np

TB_SUBDIR = "tensorboard"
PROGRESS_FILE = "progress.jsonl"
SUPERSEDED_FILE = "progress_superseded.jsonl"
"""Records a resume took out of ``progress.jsonl``: those past the checkpoint it resumed from,
written by the process that was stopped (kept here, marked with ``superseded_at``)."""


def _fmt_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def eval_tags(summary: Mapping[str, float], prefix: str = "eval") -> Dict[str, float]:
    """TensorBoard tags of an evaluation summary (see module docstring)."""
    out = {}
    for k, v in summary.items():
        if k.startswith("reward/") and k.endswith("_per_step"):
            out[f"{prefix}_reward_terms/{k[len('reward/') : -len('_per_step')]}"] = v
        elif k in ("num_episodes", "step"):
            continue
        else:
            out[f"{prefix}/{k}"] = v
    return out


def training_episode_tags(metrics: Mapping[str, Any]) -> Dict[str, float]:
    """TensorBoard tags from brax's training logger (``episode/<name>``).

    brax reports, over recent finished training episodes, the mean of each env metric's episode
    sum (divided by the episode length for names ending in ``_per_step``), and, under the same
    prefix, the mean of its PPO loss metrics (``total_loss``, ``kl_mean``, ``policy_dist_*``...).
    Env metrics become per-step means ``train/<name>_per_step`` / ``train_reward_terms/<term>``;
    PPO metrics go to ``ppo/<name>`` unchanged.
    """
    from mjx_envs.episode_logic import METRIC_NAMES

    ep = {k[len("episode/") :]: float(np.asarray(v)) for k, v in metrics.items() if k.startswith("episode/")}
    out: Dict[str, float] = {}
    length = ep.get("length", 0.0)
    if "sum_reward" in ep:
        out["train/episode_reward"] = ep["sum_reward"]
    if length:
        out["train/episode_length"] = length
    if "sps" in ep:
        out["train/logger_sps"] = ep["sps"]
    levels = {}
    for name, v in ep.items():
        if name in ("sum_reward", "length", "sps"):
            continue
        if name.startswith("terrain_level_") and name.endswith("_per_step"):
            k = name[len("terrain_level_") : -len("_per_step")]
            if k.isdigit():
                levels[int(k)] = v
                out[f"train/terrain_level_frac/{k}"] = v
            continue
        if name.startswith("terrain_type_") and name.endswith("_per_step"):
            out[f"train/terrain_type_frac/{name[len('terrain_type_') : -len('_per_step')]}"] = v
            continue
        if name in ("curriculum_promoted", "curriculum_demoted"):  # 1 at the last step: a per-episode rate
            out[f"train/{name}_rate"] = v
            continue
        if name.startswith("reward/"):
            if length:
                out[f"train_reward_terms/{name[len('reward/') :]}"] = v / length
            continue
        if name not in METRIC_NAMES:  # a brax PPO training metric (loss, KL, policy std, ...)
            out[f"ppo/{name}"] = v
            continue
        if name == "fell":
            out["train/fall_rate"] = v
        if length:
            out[f"train/{name}_per_step"] = v / length
    if levels:
        total = sum(levels.values())
        if total > 0:
            out["train/terrain_level_mean"] = sum(k * f for k, f in levels.items()) / total
    elif length and "terrain_level" in ep:
        out["train/terrain_level_mean"] = ep["terrain_level"] / length
    return out


def level_fractions(tags: Mapping[str, Any]) -> Optional[List[float]]:
    """The curriculum's level distribution in training-episode tags (``train/terrain_level_frac/<k>``,
    :func:`training_episode_tags` or a ``train`` record of progress.jsonl): the fraction of recent
    training episodes on level k, index = k (levels not logged: 0); None when none is logged or all
    are 0."""
    prefix = "train/terrain_level_frac/"
    found = {int(k[len(prefix) :]): float(v) for k, v in tags.items() if k.startswith(prefix) and v is not None}
    if not found or sum(found.values()) <= 0:
        return None
    return [max(0.0, found.get(k, 0.0)) for k in range(max(found) + 1)]


def logged_level_fractions(run_dir: str, at_step: int) -> Optional[List[float]]:
    """The last level distribution progress.jsonl logged at or before env step ``at_step`` (see
    :func:`level_fractions`); None when the log is missing or holds none."""
    if not os.path.isfile(os.path.join(run_dir, PROGRESS_FILE)):
        return None
    found = None
    for row in read_progress(run_dir, kind="train"):
        if int(row.get("step", 0)) <= at_step:
            found = level_fractions(row) or found
    return found


class ProgressLogger:
    """Console + TensorBoard + ``progress.jsonl`` for one (possibly resumed) training run.

    Besides one line per evaluation it prints, at most every ``tick_interval_s`` seconds of
    training, a progress line with the env steps/s, the elapsed time and an ETA (:meth:`tick`).
    The rate is measured from the first training step this process saw (compilation excluded)
    over wall-clock, so evaluations and checkpoints between epochs are part of it and the ETA
    counts them too.

    Args:
      run_dir: run directory (created if needed).
      total_steps: the run's planned env steps (for the percentage in the console line).
      console: line printer (``print``; tests pass a list's ``append``).
      tensorboard: write TensorBoard event files.
      start_step: the env step this process starts at (a resumed run's checkpoint step).
      tick_interval_s: seconds between progress lines (0: after every training step; None: never).
      resumed: a resumed run: records past ``start_step`` (written after the checkpoint it resumes
        from) move to ``progress_superseded.jsonl`` (:func:`repair_progress`).
      files: write ``progress.jsonl`` and TensorBoard (False: console only, as on the processes
        other than 0 of a multi-process run, which write nothing to the run directory).

    Each record is one ``write`` of a whole line, flushed, so a crash leaves at most one partial
    last line; opening the log drops it (:func:`repair_progress`).
    """

    def __init__(
        self,
        run_dir: str,
        total_steps: int,
        console: Callable[[str], None] = print,
        tensorboard: bool = True,
        start_step: int = 0,
        tick_interval_s: Optional[float] = 20.0,
        resumed: bool = False,
        files: bool = True,
    ):
        self._jsonl, self._writer = None, None
        partial, superseded = 0, 0
        if files:
            os.makedirs(run_dir, exist_ok=True)
            partial, superseded = repair_progress(run_dir, after_step=start_step if resumed else None)
        if partial or superseded:
            console(
                f"{PROGRESS_FILE}: "
                + ", ".join(
                    ([f"dropped a partial last line ({partial} bytes)"] if partial else [])
                    + (
                        [
                            f"moved {superseded} record(s) past step {start_step:,d} (after the checkpoint resumed "
                            f"from) to {SUPERSEDED_FILE}"
                        ]
                        if superseded
                        else []
                    )
                )
            )
        self.run_dir = run_dir
        self.total_steps = int(total_steps)
        self.console = console
        self.t0 = time.time()
        self.start_step = int(start_step)
        self.tick_interval_s = tick_interval_s
        self._rate_origin: Optional[Tuple[float, int]] = None  # (time, step) of the first training step seen
        self._last_tick = -float("inf")
        if not files:
            return
        self._jsonl = open(os.path.join(run_dir, PROGRESS_FILE), "a", encoding="utf-8")
        if tensorboard:
            from tensorboardX import SummaryWriter

            self._writer = SummaryWriter(os.path.join(run_dir, TB_SUBDIR), flush_secs=10)

    # ------------------------------------------------------------------ sinks
    def record(self, kind: str, step: int, data: Optional[Mapping[str, Any]] = None, **more: Any) -> None:
        """Append one event to ``progress.jsonl`` (``data``/``more``: extra fields; a ``step`` in them
        is ignored in favour of the ``step`` argument)."""
        row = {"kind": kind, "step": int(step), "time_s": round(time.time() - self.t0, 3)}
        for k, v in {**(data or {}), **more}.items():
            if k not in ("kind", "step", "time_s"):
                row[k] = _jsonable(v)
        if self._jsonl is None:
            return
        self._jsonl.write(json.dumps(row) + "\n")
        self._jsonl.flush()

    def scalars(self, step: int, tags: Mapping[str, float]) -> None:
        if self._writer is None:
            return
        for tag, v in tags.items():
            v = float(v)
            if np.isfinite(v):
                self._writer.add_scalar(tag, v, int(step))

    def text(self, tag: str, text: str, step: int = 0) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text, int(step))

    # ------------------------------------------------------------------ rate and ETA
    def mark_step(self, step: int, now: Optional[float] = None) -> None:
        """Note that training reached env ``step``: the first call past ``start_step`` (the first
        training step done, so compilation is behind us) starts the rate clock."""
        if self._rate_origin is None and step > self.start_step:
            self._rate_origin = (time.time() if now is None else now, int(step))

    def rate(self, step: int, now: Optional[float] = None) -> Optional[float]:
        """Env steps/s since the first training step seen (None before two distinct steps)."""
        if self._rate_origin is None:
            return None
        t0, s0 = self._rate_origin
        dt = (time.time() if now is None else now) - t0
        if step <= s0 or dt <= 0:
            return None
        return (step - s0) / dt

    def eta_s(self, step: int, now: Optional[float] = None) -> Optional[float]:
        """Seconds left to ``total_steps`` at the measured rate (None while unknown)."""
        r = self.rate(step, now)
        if r is None:
            return None
        return max(self.total_steps - step, 0) / r

    def progress_line(self, step: int, now: Optional[float] = None) -> str:
        """``step 245,760/2,457,600 (10.0%) | 7,905 env steps/s | elapsed 1m02s | ETA 4m40s``."""
        now = time.time() if now is None else now
        pct = 100.0 * step / max(self.total_steps, 1)
        r, eta = self.rate(step, now), self.eta_s(step, now)
        return " | ".join(
            [
                f"step {step:,d}/{self.total_steps:,d} ({pct:.1f}%)",
                f"{r:,.0f} env steps/s" if r is not None else "- env steps/s",
                f"elapsed {_fmt_duration(now - self.t0)}",
                f"ETA {_fmt_duration(eta)}" if eta is not None else "ETA -",
            ]
        )

    def tick(self, step: int, now: Optional[float] = None) -> Optional[str]:
        """Called after every training step: prints :meth:`progress_line` when ``tick_interval_s``
        has passed since the last one; returns the line printed (or None)."""
        now = time.time() if now is None else now
        self.mark_step(step, now)
        if self.tick_interval_s is None or now - self._last_tick < self.tick_interval_s:
            return None
        if self.rate(step, now) is None:
            return None
        self._last_tick = now
        line = "  " + self.progress_line(step, now)
        self.console(line)
        return line

    # ------------------------------------------------------------------ events
    def log_eval(
        self,
        step: int,
        summary: Mapping[str, float],
        index: int,
        num_evals: int,
        zero_residual: Optional[Mapping[str, float]] = None,
        training: Optional[Mapping[str, Any]] = None,
    ) -> str:
        """Log one evaluation; returns (and prints) the console line."""
        training = dict(training or {})
        sps = training.get("training/sps")
        tags = eval_tags(summary)
        if zero_residual is not None:
            tags["eval/zero_residual_reward"] = zero_residual["reward"]
        tags.update(
            {
                f"ppo/{k[len('training/') :]}": float(np.asarray(v))
                for k, v in training.items()
                if k.startswith("training/")
            }
        )
        self.scalars(step, tags)
        self.record(
            "eval",
            step,
            summary,
            index=index,
            sps=sps,
            **({"zero_residual_reward": zero_residual["reward"]} if zero_residual else {}),
        )
        pct = 100.0 * step / max(self.total_steps, 1)
        parts = [
            f"[eval {index:>2d}/{num_evals}] step {step:>11,d}/{self.total_steps:,d} ({pct:5.1f}%)",
            f"{sps:8,.0f} steps/s" if sps is not None else f"{'-':>8s} steps/s",
            f"eval reward {summary['reward']:8.2f} ± {summary['reward_std']:6.2f}",
        ]
        if zero_residual is not None:
            parts[-1] += f" (zero-residual {zero_residual['reward']:.2f})"
        parts.append(f"ep len {summary['episode_length']:6.1f}")
        if "fall_rate" in summary:
            parts.append(f"falls {summary['fall_rate']:4.2f}")
        if "vel_tracking_error_per_step" in summary:
            parts.append(f"vel err {summary['vel_tracking_error_per_step']:.3f} m/s")
        now = time.time()
        parts.append(_fmt_duration(now - self.t0))
        eta = self.eta_s(step, now)
        if eta is not None and step < self.total_steps:
            parts.append(f"ETA {_fmt_duration(eta)}")
        self._last_tick = now  # the eval line stands in for the next progress line
        line = " | ".join(parts)
        self.console(line)
        return line

    def log_training(self, step: int, metrics: Mapping[str, Any]) -> Dict[str, float]:
        """Log brax's training-episode ``metrics`` at env ``step``; returns their tags."""
        tags = training_episode_tags(metrics)
        self.scalars(step, tags)
        self.record("train", step, tags)
        return tags

    def message(self, text: str) -> None:
        self.console(text)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            self._writer.close()
            self._writer = None
        if self._jsonl is not None and not self._jsonl.closed:
            self._jsonl.close()


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.generic, np.ndarray)):
        return np.asarray(v).tolist()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if hasattr(v, "__array__"):
        return np.asarray(v).tolist()
    return v


def device_record(run_dir: str) -> Dict[str, Any]:
    """The run's ``device`` record (device, device_name, physics, ...), or {} when it has none."""
    try:
        rows = read_progress(run_dir, "device")
    except (OSError, ValueError):
        return {}
    return rows[0] if rows else {}


def _parse_lines(text: str) -> List[Dict[str, Any]]:
    """The records of a progress log's text; a line that is not a JSON object (a partial line a
    crash left) is skipped."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def read_progress(run_dir: str, kind: Optional[str] = None) -> List[Dict[str, Any]]:
    """Rows of ``RUN_DIR/progress.jsonl`` (optionally of one ``kind``), in order; a partial line
    (a crash during a write) is skipped."""
    path = os.path.join(run_dir, PROGRESS_FILE)
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        rows = _parse_lines(fh.read())
    return [r for r in rows if kind is None or r.get("kind") == kind]


def repair_progress(run_dir: str, after_step: Optional[int] = None) -> Tuple[int, int]:
    """Make ``RUN_DIR/progress.jsonl`` safe to append to; returns ``(partial bytes dropped,
    records superseded)``.

    A last line without its newline (a crash during a write) is cut off. With ``after_step``
    (a resume from the checkpoint at that env step) the records with a larger ``step`` were
    written by the stopped process after that checkpoint; they move to ``progress_superseded.jsonl``
    (each marked ``superseded_at``), so the log and its plots hold one record per step.
    Both rewrites go through a temporary file and ``os.replace``.
    """
    path = os.path.join(run_dir, PROGRESS_FILE)
    if not os.path.isfile(path):
        return 0, 0
    with open(path, "rb") as fh:
        data = fh.read()
    cut = 0
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        cut, data = len(data) - keep, data[:keep]
    moved: List[bytes] = []
    if after_step is not None:
        kept = []
        for line in data.splitlines(keepends=True):
            try:
                row = json.loads(line)
                late = isinstance(row, dict) and int(row.get("step", 0)) > after_step
            except (ValueError, TypeError):
                late = False
            (moved if late else kept).append(line)
        data = b"".join(kept)
    if not cut and not moved:
        return 0, 0
    if moved:
        with open(os.path.join(run_dir, SUPERSEDED_FILE), "a", encoding="utf-8") as fh:
            for line in moved:
                fh.write(json.dumps({**json.loads(line), "superseded_at": int(after_step)}) + "\n")
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return cut, len(moved)


def read_scalars(logdir: str) -> Dict[str, List[Tuple[int, float]]]:
    """All scalars of the TensorBoard event files under ``logdir``: ``{tag: [(step, value)]}``.

    A small TFRecord reader (no ``tensorboard`` package needed), for tests and scripts.
    """
    from tensorboardX.proto import event_pb2

    out: Dict[str, List[Tuple[int, float]]] = {}
    files = []
    for root, _, names in os.walk(logdir):
        files += [os.path.join(root, n) for n in names if "tfevents" in n]
    for path in sorted(files):
        with open(path, "rb") as fh:
            data = fh.read()
        pos = 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            start = pos + 12
            if start + length + 4 > len(data):
                break
            ev = event_pb2.Event()
            ev.ParseFromString(data[start : start + length])
            pos = start + length + 4
            for v in ev.summary.value:
                if v.HasField("simple_value"):
                    out.setdefault(v.tag, []).append((int(ev.step), float(v.simple_value)))
    for tag in out:
        out[tag].sort()
    return out

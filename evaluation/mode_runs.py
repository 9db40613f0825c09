"""How the command-grid, push-recovery and stand-still tests run their episodes.

What the three tests of :mod:`evaluation.command_eval` share: checks of their settings, the fields
every episode row has (fall, NaN physics, off map), the plan (:func:`mode_plan`: one
:class:`evaluation.runner.PlannedEpisode` per controller and episode, grouped by controller), run
batched by :func:`evaluation.runner.run_plan`, and :func:`run_mode`, which loads and checks the
policy, runs the plan and hands the rows to the test's settings object to build its report.

A test's settings object (:class:`evaluation.command_grid.CommandGrid`,
:class:`evaluation.push_recovery.PushTest`, :class:`evaluation.stand_still.StandTest`) provides:

* ``episode_cases()``: ``[(episode index, case), ...]`` in report order; the index selects the
  reset key ``episode_key(seed, index)``, the case is what the episode varies (a grid cell, a
  kick, nothing);
* ``episode_setup(case, control_dt)``: the plan fields of one episode: ``n_steps`` and
  ``command`` (and ``kick``, an :class:`evaluation.runner.Kick`);
* ``case_numbers(result)``: one episode's numbers from its :class:`evaluation.runner.EpisodeResult`;
* ``fill_report(report, rows)``: add ``mode``, ``results``, ``notes`` (and the test's settings)
  to the shared report.

Units: m, s, rad, m/s, rad/s.
"""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from deploy.policy_loader import load_policy
from evaluation.episode import EpisodeRecord, policy_controller, zero_action
from evaluation.runner import NOMINAL, POLICY, EpisodeResult, PlannedEpisode, physics_threads, run_plan
from mjx_envs import policy_env
from mjx_envs.episode_logic import DR_NAMES
from mjx_envs.policy_env import EnvConfigs, cached_env

MODE_WORLDS = ("flat", "rough")

DEFINITIONS = {
    "vel_tracking_error_mps": "m/s; mean over the control steps after the settle time of the env's "
    "vel_tracking_error = |v_xy,cmd - v_xy| (body frame); null when the episode "
    "ended before the settle time",
    "yaw_rate_error_radps": "rad/s; mean over the same steps of |yaw_rate_cmd - yaw_rate|",
    "achieved_vx_mps / achieved_vy_mps": "m/s; mean trunk velocity after the settle time in the heading frame "
    "(world xy rotated by the trunk yaw)",
    "achieved_yaw_rate_radps": "rad/s; trunk yaw change after the settle time / that time",
    "fell": "the env terminated the episode: trunk too low or tilted beyond the env's limits, or diverged physics",
    "survived": "not fell (an episode the env truncated because the trunk left the map is not a fall)",
    "success (push)": "the episode ran to the end without a fall; a fall before the kick counts as a failure",
    "kick": "m/s; horizontal velocity added once to the trunk's free-joint linear velocity (world frame) "
    "after the control step ending at the kick time, direction = heading at the kick + angle",
    "drift_m": "m; horizontal distance of the trunk between the reset and the end of the episode",
    "max_drift_m": "m; largest horizontal distance from the start position during the episode",
    "max_yaw_change_rad": "rad; largest |yaw - yaw at the reset| during the episode (yaw unwrapped)",
    "mean_speed_mps": "m/s; stand still: mean over steps of the body-frame horizontal speed "
    "(the env's vel_tracking_error at zero command)",
    "outside_command_ranges": "components of the command outside the env config's command ranges "
    "(what the policy was trained on); such commands are run and noted",
}
"""Every report's glossary: the keys of the episode rows and tables of all three tests, with units."""


# ----------------------------------------------------------------------------------------- settings


def values_setting(name: str, values: Sequence[float], unit: str, nonnegative: bool = False) -> Tuple[float, ...]:
    """Validated tuple of floats in ``unit``: at least one, finite, no repeats (and >= 0 if asked);
    ``ValueError`` naming ``name`` otherwise."""
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers ({unit}), got {values!r}") from None
    if not out:
        raise ValueError(f"{name} needs at least one value ({unit})")
    bad = [v for v in out if not math.isfinite(v) or (nonnegative and v < 0)]
    if bad:
        kind = "finite and >= 0" if nonnegative else "finite"
        raise ValueError(f"{name} must be {kind} ({unit}), got {bad[0]:g}")
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {list(out)}")
    return out


def seconds_setting(name: str, value: float) -> float:
    """``value`` [s] as a float if finite and > 0, else ``ValueError``."""
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number of seconds, got {value:g}")
    return value


def time_in_episode(name: str, value: float, duration_s: float) -> float:
    """``value`` [s] as a float if in [0, ``duration_s``), else ``ValueError``."""
    value = float(value)
    if not (math.isfinite(value) and 0 <= value < duration_s):
        raise ValueError(f"{name} must be in [0, duration = {duration_s:g}) s, got {value:g}")
    return value


def count_setting(name: str, value: int) -> int:
    """``value`` as an int if it is an integer >= 1, else ``ValueError``."""
    if int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def command_setting(value: Sequence[float], name: str = "command") -> Tuple[float, float, float]:
    """``value`` as (vx m/s, vy m/s, yaw rate rad/s) if it is 3 finite numbers, else ``ValueError``."""
    out = tuple(float(v) for v in value)
    if len(out) != 3 or not all(math.isfinite(v) for v in out):
        raise ValueError(f"{name} must be 3 finite numbers (vx m/s, vy m/s, yaw rate rad/s), got {value!r}")
    return out  # type: ignore[return-value]


def outside_command_ranges(command: Sequence[float], ranges: Mapping[str, Sequence[float]]) -> List[str]:
    """Components of ``command`` outside ``ranges`` (``{"vx": [lo, hi], "vy": ..., "yaw_rate": ...}``).

    Pure. Returns e.g. ``["vx 0.6 outside [0.2, 0.5]"]``; empty when the command is in range.
    """
    out = []
    for name, value in zip(("vx", "vy", "yaw_rate"), command):
        lo, hi = ranges[name]
        if not lo - 1e-9 <= value <= hi + 1e-9:
            out.append(f"{name} {value:g} outside [{lo:g}, {hi:g}]")
    return out


def mode_configs(configs: EnvConfigs, world: str = "flat") -> EnvConfigs:
    """``configs`` on ``world`` with the env's own random pushes off (``env.pushes.enabled = False``);
    domain randomisation and sensor noise stay as configured (evaluate what the policy will meet)."""
    configs = policy_env.with_world(configs, world)
    p = configs.env.pushes
    if p.enabled:
        configs = configs._replace(env=configs.env.replace(pushes=dataclasses.replace(p, enabled=False)))
    return configs


# ------------------------------------------------------------------------------ per-episode numbers


def good_rows(rec: EpisodeRecord) -> int:
    """Number of meaningful state rows: after diverged physics the last row is MuJoCo's reset state."""
    nan = rec.physics_diverged or bool(np.any(rec.metric("nan_physics") > 0))
    return rec.steps if nan else rec.steps + 1


def fall_fields(rec: EpisodeRecord) -> Dict[str, Any]:
    """What every episode row holds: ``steps``, ``time_s`` [s], ``fell``, ``fall_time_s`` [s] (None
    without a fall), ``nan_physics``, ``off_map``."""
    return {
        "steps": rec.steps,
        "time_s": rec.steps * rec.dt,
        "fell": bool(rec.terminated),
        "fall_time_s": rec.steps * rec.dt if rec.terminated else None,
        "nan_physics": bool(rec.physics_diverged or np.any(rec.metric("nan_physics") > 0)),
        "off_map": bool(rec.off_map),
    }


def mean_max(values: Sequence[Optional[float]]) -> Tuple[Optional[float], Optional[float]]:
    """(mean, max) of the finite ``values`` that are not None; (None, None) when there are none. Pure."""
    v = [x for x in values if x is not None and math.isfinite(x)]
    return (float(np.mean(v)), float(np.max(v))) if v else (None, None)


# ---------------------------------------------------------------------------------------- the plan


def mode_plan(
    spec: Any, controllers: Sequence[str], configs: EnvConfigs, control_dt: float, bands: Optional[Sequence[int]] = None
) -> List[PlannedEpisode]:
    """Every episode of the test settings ``spec`` per controller, in ``spec.episode_cases()``
    order, grouped by controller. ``bands`` (rough world): episode i spawns in ``bands[i % len(bands)]``."""
    if not hasattr(spec, "episode_cases"):
        raise TypeError(f"unknown test settings {spec!r}")

    def level(i):
        return int(bands[i % len(bands)]) if bands else None

    return [
        PlannedEpisode(c, configs, c, i, level=level(i), case=case, **spec.episode_setup(case, control_dt))
        for c in controllers
        for i, case in spec.episode_cases()
    ]


def episode_row(result: EpisodeResult, spec: Any) -> Dict[str, Any]:
    """One episode's row: controller, episode index, spawn level and the test's numbers (``spec.case_numbers``)."""
    e = result.episode
    return {"controller": e.controller, "episode": e.index, "terrain_level": e.level, **spec.case_numbers(result)}


def by_controller(rows: Sequence[Dict[str, Any]], controllers: Sequence[str]) -> Dict[str, List[Dict[str, Any]]]:
    """``rows`` regrouped per controller (in ``controllers`` order), each group in task order."""
    return {c: [r for r in rows if r["controller"] == c] for c in controllers}


def run_mode(
    spec: Any,
    policy: Any = None,
    *,
    configs: Optional[EnvConfigs] = None,
    world: str = "flat",
    bands: Optional[Sequence[int]] = None,
    seed: int = 0,
    action_scale: float = 1.0,
    include_nominal: bool = True,
    threads: Optional[int] = None,
    progress: Optional[Callable[[str], None]] = None,
    on_episodes=None,
    processes: Optional[int] = None,
) -> Dict[str, Any]:
    """Run the test ``spec`` for the policy and the nominal gait and return its report.

    Args:
      spec: the test's settings (see the module docstring).
      policy: an export (loaded or its path) or None for the nominal gait alone.
      configs: env configs (default: the export's, else ``configs/*.yaml``); world replaced,
        env pushes off (:func:`mode_configs`).
      world: ``flat`` (default) or ``rough`` (episode i spawns in ``bands[i % len(bands)]``, default band 0).
      seed: episode index i is reset with ``episode_key(seed, i)``, the same for every controller.
      action_scale: multiplies the policy's action; include_nominal: also run the nominal gait.
      threads: physics threads of the batched back end (default 1; the numbers do not depend on
        it); ``processes``: its deprecated name. progress: optional ``callable(str)``.
      on_episodes: optional ``callable(list of dict)``: each finished batch's episode rows, at once.

    The episodes run through :func:`evaluation.runner.run_plan` (plan :func:`mode_plan`, rows
    :func:`episode_row`, regrouped per controller by ``spec.fill_report``).

    Returns:
      ``{"settings", "control_dt" (s), "definitions", "device"}`` plus what ``spec.fill_report``
      adds (``mode``, ``results``, ``notes``, ...) and ``wall_time_s`` [s].
    """
    t0 = time.perf_counter()
    if world not in MODE_WORLDS:
        raise ValueError(
            f"world must be one of {', '.join(MODE_WORLDS)} for the command-grid / push / stand tests, got {world!r}"
        )
    if isinstance(policy, (str, os.PathLike)):
        policy = load_policy(os.fspath(policy))
    if configs is None and policy is not None:
        configs = policy_env.configs_from_meta(policy.meta, policy_env.meta_path(policy))
    elif configs is None:
        configs = policy_env.default_configs()
    pushes = list(configs.env.pushes.velocity) if configs.env.pushes.enabled else None
    configs = mode_configs(configs, world)
    if world == "rough":
        bands = list(bands) if bands else [0]
        for b in bands:
            if not 0 <= int(b) < 6:
                raise ValueError(f"band {b} out of range 0..5")
    else:
        bands = None
    env = cached_env(configs)
    if policy is not None:
        policy_env.check_policy_matches_env(policy.meta, env, policy_env.meta_path(policy))
    controllers = ([POLICY] if policy is not None else []) + ([NOMINAL] if include_nominal or policy is None else [])
    threads = physics_threads(threads, processes)
    plan = mode_plan(spec, controllers, configs, float(env.ctx.sim.control_dt), bands)
    ctrl = {NOMINAL: zero_action(env.action_space.shape[0])}
    if policy is not None:
        ctrl[POLICY] = policy_controller(policy, float(action_scale))
    rows: List[Dict[str, Any]] = []

    def finished(batch):
        rows.extend(episode_row(r, spec) for r in batch)
        if on_episodes:
            on_episodes(rows[-len(batch) :])
        if progress:
            progress(f"  {len(rows)}/{len(plan)} episodes done")

    run_plan(plan, ctrl, int(seed), threads, on_batch=finished)
    cmd = configs.env.command
    settings = {
        "policy": getattr(policy, "export_dir", None),
        "controllers": controllers,
        "action_scale": float(action_scale),
        "world": world,
        "bands": bands,
        "terrain_seed": configs.simulation.terrain_seed,
        "seed": int(seed),
        "command_ranges": {"vx": list(cmd.vx), "vy": list(cmd.vy), "yaw_rate": list(cmd.yaw_rate)},
        "heading_noise_rad": float(configs.env.randomization.heading_noise),
        "config_push_velocity_mps": pushes,
        "env_pushes": "off (env.pushes.enabled = false)",
        "domain_randomization": [n for n in DR_NAMES if getattr(configs.env.domain_randomization, n).enabled],
        "observation_noise": bool(configs.env.observation_noise.enabled),
        "physics_threads": threads,
        "command_line": "",
    }
    report = {
        "settings": settings,
        "control_dt": float(env.ctx.sim.control_dt),
        "definitions": DEFINITIONS,
        "device": f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.platform()})",
    }
    spec.fill_report(report, rows)
    report["wall_time_s"] = time.perf_counter() - t0
    return report

"""Pre-hardware safety report of an exported policy on C MuJoCo, with domain randomisation on.

Usage::

    python -m evaluation.safety_report --policy RUN_DIR_OR_EXPORT [--episodes 8] [--duration 20]
                              [--worlds flat rough] [--seed 0] [--thresholds configs/safety.yaml]
                              [--action-scale 1] [--processes 1] [--out EXPORT/safety]

Runs ``--episodes`` seeded episodes per world (flat, rough) for the policy and, for reference,
for the nominal gait (zero action) on the same episodes, in the Gymnasium twin built from the
export's ``meta.json`` with **every** ``env.domain_randomization`` switch forced on (ranges from
the export's config). Each step it reads the physics state and measures, per controller and
world (definitions and units: ``configs/safety.yaml``, ``docs/safety.md``): joint-limit margins, joint
speeds, actuator torques vs the episode's (randomised) torque limits, actuator and IK
saturation, foot slip, trunk roll/pitch, falls and NaN physics. Every criterion is judged
against ``configs/safety.yaml`` (:mod:`evaluation.safety_criteria`); the report PASSes only when the
policy meets all of them on every world.

Writes ``safety.md`` and ``safety.json`` to ``--out`` (checked writable before anything runs); each
finished episode's numbers are appended to ``safety.episodes.jsonl`` there as it ends
(:mod:`evaluation.episode_records`). Exit status: 0 PASS, 1 FAIL, 2 bad input (missing/invalid
policy, malformed thresholds YAML, bad arguments, an unwritable ``--out``) or the report could not
be written (the message names the records file).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import platform
import shlex
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from evaluation.episode import episode_key, policy_controller, roll_pitch_array, run_episode, zero_action
from evaluation.episode_metrics import NUM_LEGS, NUM_SERVOS, gravity, robot_mass, summarize_episode
from evaluation.episode_records import EpisodeRecords, output_dir, records_path, with_records
from evaluation.safety_criteria import (
    DEFAULT_THRESHOLDS,
    POLICY,
    SafetyCriteria,
    check_criteria,
    definitions,
    load_criteria,
    verdict,
)
from mjx_envs.policy_env import (
    EnvConfigs,
    cached_env,
    check_policy_matches_env,
    configs_from_meta,
    meta_path,
    with_world,
)
from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError
from train.export import ExportError, load_policy, resolve_export_dir

NOMINAL = "nominal"
WORLDS = ("flat", "rough")
NUM_BANDS = 6


# ------------------------------------------------------------------------------------ measurement


def with_domain_randomization(configs: EnvConfigs) -> EnvConfigs:
    """``configs`` with every ``env.domain_randomization`` switch on (its range kept)."""
    dr = configs.env.domain_randomization
    on = dataclasses.replace(
        dr, **{f.name: dataclasses.replace(getattr(dr, f.name), enabled=True) for f in dataclasses.fields(dr)}
    )
    on.validate()
    return configs._replace(env=configs.env.replace(domain_randomization=on))


class StepRecorder:
    """``on_step`` callback for :func:`evaluation.episode.run_episode`: copies what the safety
    criteria need from ``env.data`` after the reset and after every control step."""

    def __init__(self, env):
        m = env.model
        jid = m.actuator_trnid[:, 0]
        self.qadr, self.dadr = m.jnt_qposadr[jid], m.jnt_dofadr[jid]
        self.joint_range = np.array(m.jnt_range[jid], np.float64)  # (12, 2) rad, actuator order
        self.force_limit = np.abs(np.array(m.actuator_forcerange[:, 1], np.float64))  # after DR (reset)
        idx = env.ctx.idx
        self.touch = list(idx.foot_touch)
        self.foot_vel = [slice(s, s + 3) for s in idx.foot_vel]
        self.q, self.qd, self.tau, self.force, self.vel = [], [], [], [], []

    def __call__(self, env, k: int):
        if k == 0:  # the reset applied this episode's domain randomisation to env.model
            self.force_limit = np.abs(np.array(env.model.actuator_forcerange[:, 1], np.float64))
        self.capture(env)
        return True

    def capture(self, env) -> None:
        d = env.data
        self.q.append(d.qpos[self.qadr].copy())
        self.qd.append(d.qvel[self.dadr].copy())
        self.tau.append(d.actuator_force.copy())
        self.force.append(d.sensordata[self.touch].copy())
        self.vel.append(np.stack([d.sensordata[s] for s in self.foot_vel]))


def episode_safety(
    rec, steps: StepRecorder, contact_threshold: float, near_margin: float
) -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """Per-episode safety numbers and the pooled per-step samples (margins, slip speeds).

    ``steps`` holds the states after the reset and after each control step (the state after a
    terminating step included); the reset state is left out (the env, not the controller, set
    it), and so is a step whose physics diverged (its state is meaningless).
    """
    n = rec.steps
    rows = slice(1, n if rec.physics_diverged else n + 1)
    q, qd, tau = (np.asarray(a, np.float64)[rows] for a in (steps.q, steps.qd, steps.tau))
    force, fvel = np.asarray(steps.force, np.float64)[rows], np.asarray(steps.vel, np.float64)[rows]
    lo, hi = steps.joint_range[:, 0], steps.joint_range[:, 1]
    margin = np.minimum(q - lo, hi - q)  # (T, 12) rad; < 0 beyond a limit
    contact = force > contact_threshold  # (T, 4)
    slip = np.linalg.norm(fvel[..., :2], axis=-1)[contact]  # m/s, feet in contact
    rp = np.abs(roll_pitch_array(rec.trunk_quat[rows]))
    t = margin.shape[0]
    stat = lambda f, a, default=None: float(f(a)) if a.size else default
    summary = summarize_episode(rec, 1.0, 1.0)
    per_joint_vel = np.max(np.abs(qd), axis=0) if t else np.zeros(NUM_SERVOS)
    per_joint_tau = np.max(np.abs(tau), axis=0) if t else np.zeros(NUM_SERVOS)
    out = {
        "steps": n,
        "samples": t,
        "command": summary["command"],
        "terrain_level": summary["terrain_level"],
        "fell": summary["fell"],
        "nan_physics": summary["nan_physics"],
        "off_map": summary["off_map"],
        "dr": {k[3:]: float(rec.metric(k)[0]) for k in rec.metrics if k.startswith("dr/") and n > 0},
        "joint_limit_margin_min_rad": stat(np.min, margin),
        "joint_limit_margin_p1_rad": stat(lambda a: np.percentile(a, 1), margin),
        "joint_limit_margin_p5_rad": stat(lambda a: np.percentile(a, 5), margin),
        "joint_limit_margin_median_rad": stat(np.median, margin),
        "near_limit_fraction": stat(lambda a: np.mean(a < near_margin), margin),
        "max_joint_velocity_radps": stat(np.max, per_joint_vel) if t else None,
        "max_joint_velocity_per_joint_radps": per_joint_vel.tolist(),
        "max_joint_velocity_time_s": float((np.argmax(np.max(np.abs(qd), axis=1)) + 1) * rec.dt) if t else None,
        "max_torque_per_joint_nm": per_joint_tau.tolist(),
        "torque_limit_per_joint_nm": steps.force_limit.tolist(),
        "max_torque_fraction": float(np.max(per_joint_tau / steps.force_limit)) if t else None,
        "actuator_saturated_steps": float(np.sum(rec.metric("actuator_saturated"))),
        "ik_saturated_steps": float(np.sum(rec.metric("ik_saturated"))),
        "actuator_saturation_rate": summary["actuator_saturation_rate"] if n else None,
        "ik_saturation_rate": summary["ik_saturation_rate"] if n else None,
        "contact_foot_steps": int(slip.size),
        "foot_slip_mean_mps": stat(np.mean, slip),
        "foot_slip_p95_mps": stat(lambda a: np.percentile(a, 95), slip),
        "max_abs_roll_rad": stat(np.max, rp[:, 0]),
        "max_abs_pitch_rad": stat(np.max, rp[:, 1]),
    }
    return out, {"margin": margin.reshape(-1), "slip": slip}


def aggregate_safety(
    episodes: Sequence[Dict[str, Any]], pooled: Sequence[Dict[str, np.ndarray]], near_margin: float
) -> Dict[str, Any]:
    """Criterion values over a world's episodes: percentiles over all pooled joint-steps / contact
    foot-steps, maxima over episodes, rates over all servo-/leg-steps, counts of episodes."""
    margin = np.concatenate([p["margin"] for p in pooled]) if pooled else np.zeros(0)
    slip = np.concatenate([p["slip"] for p in pooled]) if pooled else np.zeros(0)
    steps = sum(e["steps"] for e in episodes)
    pct = lambda a, q: float(np.percentile(a, q)) if a.size else None
    maxof = lambda key: max((e[key] for e in episodes if e[key] is not None), default=None)
    vel = np.max([e["max_joint_velocity_per_joint_radps"] for e in episodes], axis=0)
    frac = np.max(
        [np.asarray(e["max_torque_per_joint_nm"]) / np.asarray(e["torque_limit_per_joint_nm"]) for e in episodes],
        axis=0,
    )
    return {
        "episodes": len(episodes),
        "steps": int(steps),
        "joint_limit_margin_min_rad": float(np.min(margin)) if margin.size else None,
        "joint_limit_margin_p1_rad": pct(margin, 1),
        "joint_limit_margin_p5_rad": pct(margin, 5),
        "joint_limit_margin_median_rad": pct(margin, 50),
        "near_limit_fraction": float(np.mean(margin < near_margin)) if margin.size else None,
        "max_joint_velocity_radps": float(np.max(vel)),
        "max_joint_velocity_per_joint_radps": vel.tolist(),
        "max_torque_fraction": float(np.max(frac)),
        "max_torque_fraction_per_joint": frac.tolist(),
        "max_torque_nm": float(np.max([np.max(e["max_torque_per_joint_nm"]) for e in episodes])),
        "actuator_saturation_rate": (
            sum(e["actuator_saturated_steps"] for e in episodes) / (NUM_SERVOS * steps) if steps else None
        ),
        "ik_saturation_rate": sum(e["ik_saturated_steps"] for e in episodes) / (NUM_LEGS * steps) if steps else None,
        "contact_foot_steps": int(slip.size),
        "foot_slip_mean_mps": float(np.mean(slip)) if slip.size else None,
        "foot_slip_p95_mps": pct(slip, 95),
        "max_abs_roll_rad": maxof("max_abs_roll_rad"),
        "max_abs_pitch_rad": maxof("max_abs_pitch_rad"),
        "falls": int(sum(e["fell"] for e in episodes)),
        "nan_physics": int(sum(e["nan_physics"] for e in episodes)),
        "off_map": int(sum(e["off_map"] for e in episodes)),
    }


# ------------------------------------------------------------------------------------ running


@dataclasses.dataclass
class _Job:
    tasks: List[Tuple[str, str, int]]  # (controller, world, episode index)
    configs: EnvConfigs
    duration: float
    seed: int
    command: Optional[Tuple[float, float, float]]
    action_scale: float
    near_margin: float
    export_dir: Optional[str] = None
    policy: Any = None  # in-process only
    jax_cache_dir: Optional[str] = None


def _run_job(job: _Job) -> List[Tuple[Tuple[str, str, int], Dict[str, Any], Dict[str, np.ndarray]]]:
    if job.jax_cache_dir:
        import jax

        jax.config.update("jax_compilation_cache_dir", job.jax_cache_dir)
    policy = job.policy if job.policy is not None else load_policy(job.export_dir)
    out = []
    for controller, world, i in job.tasks:
        env = cached_env(with_world(job.configs, world))
        ctrl = (
            policy_controller(policy, job.action_scale)
            if controller == POLICY
            else zero_action(env.action_space.shape[0])
        )
        steps = StepRecorder(env)
        n_steps = int(round(job.duration / env.ctx.sim.control_dt))
        band = i % NUM_BANDS if world == "rough" else None
        rec = run_episode(env, ctrl, n_steps, episode_key(job.seed, i), band, job.command, on_step=steps)
        if len(steps.q) == rec.steps:  # run_episode does not call on_step after the step that ended it
            steps.capture(env)
        numbers, pooled = episode_safety(rec, steps, env.ctx.env.contact_force_threshold, job.near_margin)
        numbers.update(episode=i, world=world, controller=controller)
        out.append(((controller, world, i), numbers, pooled))
    return out


def run_safety(
    policy: Any,
    thresholds: SafetyCriteria,
    *,
    episodes: int = 8,
    duration: float = 20.0,
    worlds: Sequence[str] = WORLDS,
    seed: int = 0,
    command: Optional[Sequence[float]] = None,
    action_scale: float = 1.0,
    include_nominal: bool = True,
    processes: int = 1,
    progress=None,
    on_episodes=None,
) -> Dict[str, Any]:
    """Run the safety episodes and judge them; returns the report (what ``safety.json`` holds).

    Args:
      policy: a loaded export (``train.export.load_policy``) or an export path.
      thresholds: the pass/fail criteria (:func:`evaluation.safety_criteria.load_criteria`).
      episodes: episodes per world and controller; duration: episode length [s].
      worlds: ``flat`` and/or ``rough`` (rough: episode i spawns in band i mod 6).
      seed: episode i is reset with :func:`evaluation.episode.episode_key` ``(seed, i)``: the same
        command, spawn, joint noise, gait phase and domain-randomisation draw for every controller.
      command: (vx, vy, yaw rate) for every episode; None keeps the env's sampled command.
      action_scale: multiplies the policy's action (the env clips it to [-1, 1]).
      include_nominal: also run the nominal gait (zero action) for reference.
      processes: worker processes (``multiprocessing`` spawn; 1 = in this process). The numbers
        do not depend on it.
      on_episodes: optional ``callable(list of dict)``: the per-episode numbers (what
        ``results[c][w]["episodes"]`` holds) of each finished episode (in workers: each finished
        part), at once (``evaluation.episode_records.EpisodeRecords.append``).

    Returns:
      ``{"settings", "thresholds", "results": {controller: {world: {"summary", "criteria",
      "passed", "episodes"}}}, "passed", "definitions", "wall_time_s", "device"}``.
    """
    t0 = time.perf_counter()
    if isinstance(policy, (str, os.PathLike)):
        policy = load_policy(os.fspath(policy))
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    if duration <= 0:
        raise ValueError(f"duration must be positive, got {duration} s")
    worlds = list(worlds)
    if not worlds or any(w not in WORLDS for w in worlds):
        raise ValueError(f"worlds must be flat and/or rough, got {worlds}")
    cmd = None if command is None else tuple(float(c) for c in command)
    if cmd is not None and len(cmd) != 3:
        raise ValueError(f"command must be (vx, vy, yaw rate), got {command!r}")
    configs = with_domain_randomization(configs_from_meta(policy.meta, meta_path(policy)))
    probe = cached_env(with_world(configs, worlds[0]))
    check_policy_matches_env(policy.meta, probe, meta_path(policy))
    controllers = [POLICY] + ([NOMINAL] if include_nominal else [])
    tasks = [(c, w, i) for w in worlds for c in controllers for i in range(episodes)]
    import jax

    common = dict(
        configs=configs,
        duration=float(duration),
        seed=int(seed),
        command=cmd,
        action_scale=float(action_scale),
        near_margin=thresholds.near_limit_margin_rad,
        jax_cache_dir=jax.config.jax_compilation_cache_dir,
    )
    raw = []
    if processes <= 1:
        for w in worlds:
            for task in [t for t in tasks if t[1] == w]:  # one at a time: each is recorded as it ends
                raw += _run_job(_Job([task], policy=policy, **common))
                if on_episodes:
                    on_episodes([raw[-1][1]])
            if progress:
                progress(f"  {len(raw)}/{len(tasks)} episodes done")
    else:
        export_dir = getattr(policy, "export_dir", None)
        if export_dir is None:
            raise ValueError("processes > 1 needs a policy loaded from an export (train.export.load_policy)")
        parts = max(1, min(2 * processes, len(tasks)))
        bounds = np.linspace(0, len(tasks), parts + 1).round().astype(int)
        jobs = [_Job(tasks[a:b], export_dir=export_dir, **common) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            for part in pool.imap_unordered(_run_job, jobs):
                raw += part
                if on_episodes:
                    on_episodes([r[1] for r in part])
                if progress:
                    progress(f"  {len(raw)}/{len(tasks)} episodes done")
    raw.sort(key=lambda r: (controllers.index(r[0][0]), worlds.index(r[0][1]), r[0][2]))
    results: Dict[str, Dict[str, Any]] = {}
    for c in controllers:
        for w in worlds:
            mine = [r for r in raw if r[0][:2] == (c, w)]
            summary = aggregate_safety([r[1] for r in mine], [r[2] for r in mine], thresholds.near_limit_margin_rad)
            rows = check_criteria(summary, thresholds)
            results.setdefault(c, {})[w] = {
                "summary": summary,
                "criteria": rows,
                "passed": all(r["passed"] for r in rows),
                "episodes": [r[1] for r in mine],
            }
    judged = {c: {w: res["criteria"] for w, res in per.items()} for c, per in results.items()}
    dr = configs.env.domain_randomization
    m = probe.model
    jid = m.actuator_trnid[:, 0]
    export_dir = getattr(policy, "export_dir", None)
    if export_dir is not None and os.path.abspath(export_dir).startswith(REPO_ROOT + os.sep):
        export_dir = os.path.relpath(os.path.abspath(export_dir), REPO_ROOT)  # repository-relative in the report
    settings = {
        "policy": export_dir,
        "action_scale": float(action_scale),
        "episodes": int(episodes),
        "duration_s": float(duration),
        "worlds": worlds,
        "seed": int(seed),
        "episode_keys": f"jax.random.fold_in(jax.random.PRNGKey({int(seed)}), i), i = 0..{int(episodes) - 1}",
        "rough_bands": "episode i spawns in band i mod 6",
        "command": None if cmd is None else list(cmd),
        "command_ranges": {
            "vx": list(configs.env.command.vx),
            "vy": list(configs.env.command.vy),
            "yaw_rate": list(configs.env.command.yaw_rate),
        },
        "domain_randomization": {
            f.name: {"enabled": True, "range": list(getattr(dr, f.name).range)} for f in dataclasses.fields(dr)
        },
        "contact_force_threshold_n": float(configs.env.contact_force_threshold),
        "joints": [m.joint(int(j)).name for j in jid],
        "joint_range_rad": np.asarray(m.jnt_range[jid]).tolist(),
        "nominal_torque_limit_nm": np.abs(np.asarray(probe.ctx.force_limit, np.float64)).tolist(),
        "processes": int(processes),
        "command_line": "",
        "sampling": "physics state read once per control step (0.02 s), at its end",
    }
    return {
        "settings": settings,
        "thresholds": thresholds.thresholds(),
        "results": results,
        "passed": verdict(judged, POLICY),
        "definitions": definitions(thresholds),
        "mass_kg": robot_mass(probe),
        "gravity_mps2": gravity(probe),
        "wall_time_s": time.perf_counter() - t0,
        "device": f"{platform.machine()} CPU, {os.cpu_count()} cores ({platform.platform()})",
    }


# ------------------------------------------------------------------------------------ report files


def _fmt(v: Any, unit: str) -> str:
    if v is None:
        return "n/a"
    if unit == "episodes":
        return f"{int(v)}"
    if unit == "fraction":
        return f"{100 * float(v):.3f} %"
    return f"{float(v):.3f}"


def markdown(report: Dict[str, Any]) -> str:
    """The ``safety.md`` text: verdict, settings, one table per world with every criterion per
    controller, joint-limit margin distribution, per-joint maxima, definitions."""
    s = report["settings"]
    res = report["results"]
    crits = [{"name": k, **v} for k, v in report["definitions"].items()]
    lines = [
        f"# Safety report: {'PASS' if report['passed'] else 'FAIL'}",
        "",
        f"Policy `{s['policy']}`"
        + (f" (action x {s['action_scale']:g})" if s["action_scale"] != 1.0 else "")
        + f": **{'PASS' if report['passed'] else 'FAIL'}** (every criterion on every world, for the policy; "
        "the nominal gait = zero action on the same episodes is judged for reference only).",
        "",
        f"- {s['episodes']} episode(s) per world and controller, {s['duration_s']:g} s each, C MuJoCo "
        f"(Gymnasium twin from the export's meta.json), worlds: {', '.join(s['worlds'])}; rough: "
        f"{s['rough_bands']}",
        f"- seeds: {s['episode_keys']}; command: "
        + (
            f"fixed {s['command']}"
            if s["command"]
            else f"the env's draw per episode (vx {s['command_ranges']['vx']} m/s, vy {s['command_ranges']['vy']} m/s, "
            f"yaw rate {s['command_ranges']['yaw_rate']} rad/s)"
        ),
        "- domain randomisation ON (per episode, from the reset key): "
        + ", ".join(f"{k} {v['range']}" for k, v in s["domain_randomization"].items()),
        f"- {s['sampling']}; thresholds: {report.get('thresholds_file', 'configs/safety.yaml')}",
        f"- command line: `{s['command_line']}`",
        f"- wall time {report['wall_time_s']:.0f} s on {report['device']}",
        "",
    ]
    for w in s["worlds"]:
        ctrls = [c for c in res if w in res[c]]
        lines += [
            f"## {w}",
            "",
            "| criterion | unit | threshold | " + " | ".join(ctrls) + " |",
            "|---|---|---|" + "---|" * len(ctrls),
        ]
        for i, c in enumerate(crits):
            cells = []
            for ctrl in ctrls:
                row = res[ctrl][w]["criteria"][i]
                cells.append(f"{_fmt(row['value'], c['unit'])} {'PASS' if row['passed'] else '**FAIL**'}")
            th = res[ctrls[0]][w]["criteria"][i]["threshold"]
            label = c["label"].replace("|", "\\|")  # a literal | inside a Markdown table cell
            lines.append(f"| {label} | {c['unit']} | {c['op']} {_fmt(th, c['unit'])} | " + " | ".join(cells) + " |")
        lines.append(
            "| **overall** | | | "
            + " | ".join("PASS" if res[ctrl][w]["passed"] else "**FAIL**" for ctrl in ctrls)
            + " |"
        )
        lines += [
            "",
            "Joint-limit margin distribution (rad, all joint-steps) and more:",
            "",
            "| controller | min | p1 | p5 | median | near-limit fraction | max torque (N·m) | "
            "contact foot-steps | off terrain | steps |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for ctrl in ctrls:
            m = res[ctrl][w]["summary"]
            lines.append(
                f"| {ctrl} | {_fmt(m['joint_limit_margin_min_rad'], 'rad')} | "
                f"{_fmt(m['joint_limit_margin_p1_rad'], 'rad')} | {_fmt(m['joint_limit_margin_p5_rad'], 'rad')} | "
                f"{_fmt(m['joint_limit_margin_median_rad'], 'rad')} | {_fmt(m['near_limit_fraction'], 'fraction')} | "
                f"{_fmt(m['max_torque_nm'], 'Nm')} | {m['contact_foot_steps']} | {m['off_map']} | {m['steps']} |"
            )
        lines += [
            "",
            "Per joint: max |joint velocity| (rad/s) / peak |torque| as a fraction of the limit:",
            "",
            "| controller | " + " | ".join(s["joints"]) + " |",
            "|---|" + "---|" * len(s["joints"]),
        ]
        for ctrl in ctrls:
            m = res[ctrl][w]["summary"]
            lines.append(
                f"| {ctrl} | "
                + " | ".join(
                    f"{v:.1f} / {f:.2f}"
                    for v, f in zip(m["max_joint_velocity_per_joint_radps"], m["max_torque_fraction_per_joint"])
                )
                + " |"
            )
        lines.append("")
    lines += ["## Definitions", ""]
    lines += [
        f"- **{c['label']}** ({c['unit']}; pass if `{c['measure']}` {c['op']} {_fmt(c['threshold'], c['unit'])}): "
        f"{c['definition']}"
        for c in crits
    ]
    lines += ["", "Per-episode numbers, seeds and domain-randomisation draws: `safety.json`.", ""]
    return "\n".join(lines)


def write_report(report: Dict[str, Any], out_dir: str) -> Dict[str, str]:
    """Write ``safety.json`` and ``safety.md`` into ``out_dir``; returns their paths."""
    from evaluation.evaluation_report import write_json

    os.makedirs(out_dir, exist_ok=True)
    paths = {"json": os.path.join(out_dir, "safety.json"), "markdown": os.path.join(out_dir, "safety.md")}
    write_json(paths["json"], report)
    with open(paths["markdown"], "w", encoding="utf-8") as fh:
        fh.write(markdown(report))
    return paths


# ------------------------------------------------------------------------------------ CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m evaluation.safety_report",
        description="Pre-hardware safety report of a policy on C MuJoCo with domain "
        "randomisation on (exit status 0 PASS, 1 FAIL, 2 bad input).",
    )
    p.add_argument("--policy", required=True, help="run directory, export directory or a file in it")
    p.add_argument("--episodes", type=int, default=8, help="episodes per world and controller (default 8)")
    p.add_argument("--duration", type=float, default=20.0, help="episode length [s] (default 20)")
    p.add_argument("--worlds", nargs="+", choices=WORLDS, default=list(WORLDS), help="worlds (default flat rough)")
    p.add_argument("--seed", type=int, default=0, help="seed of the episodes' reset keys (default 0)")
    p.add_argument(
        "--command",
        nargs=3,
        type=float,
        default=None,
        metavar=("VX", "VY", "YAW"),
        help="fixed command (m/s, m/s, rad/s); default: the env's draw per episode",
    )
    p.add_argument("--thresholds", default=None, help="thresholds YAML (default configs/safety.yaml)")
    p.add_argument("--action-scale", type=float, default=1.0, help="multiplies the policy's action (default 1)")
    p.add_argument("--no-nominal", action="store_true", help="skip the nominal-gait reference")
    p.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--out", default=None, help="output directory (default EXPORT_DIR/safety)")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line; returns the exit status: 0 PASS, 1 FAIL, 2 bad input (an unwritable ``--out``
    included) or the report could not be written (the message names the episode records file)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse: 2 on bad arguments, 0 on --help
        return int(e.code or 0)
    command_line = "python -m evaluation.safety_report " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv)
    )
    records: Optional[EpisodeRecords] = None
    try:
        thresholds_path = os.fspath(args.thresholds or DEFAULT_THRESHOLDS)
        thresholds = load_criteria(args.thresholds)
        if not os.path.exists(args.policy):
            raise ExportError(f"policy path not found: {args.policy}")
        with output_dir(args.out or os.path.join(resolve_export_dir(args.policy), "safety"), "--out") as out:
            policy = load_policy(args.policy)
            records = EpisodeRecords(records_path(out, "safety"))
            report = run_safety(
                policy,
                thresholds,
                episodes=args.episodes,
                duration=args.duration,
                worlds=args.worlds,
                seed=args.seed,
                command=args.command,
                action_scale=args.action_scale,
                include_nominal=not args.no_nominal,
                processes=args.processes,
                progress=print,
                on_episodes=records.append,
            )
            report["settings"]["command_line"] = command_line
            report["thresholds_file"] = (
                os.path.relpath(thresholds_path, REPO_ROOT) if os.path.isabs(thresholds_path) else thresholds_path
            )
            paths = write_report(report, out)
    except (ExportError, ConfigError, ValueError, OSError) as e:
        print(f"error: {with_records(str(e), records)}", file=sys.stderr)
        return 2
    except BaseException:  # a crash or Ctrl-C after some episodes: say where their numbers are
        if records is not None and records.where():
            print(f"note: {records.where()}", file=sys.stderr)
        raise
    for w in args.worlds:
        for ctrl, per in report["results"].items():
            failed = [r["name"] for r in per[w]["criteria"] if not r["passed"]]
            print(f"{w:5s} {ctrl:7s} {'PASS' if not failed else 'FAIL: ' + ', '.join(failed)}")
    print(
        f"safety: {'PASS' if report['passed'] else 'FAIL'} (policy, all worlds); wrote {paths['markdown']}, "
        f"{paths['json']} ({report['wall_time_s']:.0f} s)"
    )
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the safety report measures in each episode, and over a world's episodes.

The safety episodes run with every domain-randomisation switch on (:func:`with_domain_randomization`).
After the reset and after every control step the physics state is read (:class:`StepRecorder`:
on the single env through ``run_episode``'s ``on_step``, or from a batched world's
:class:`evaluation.runner.StepStates`); :func:`episode_safety` turns one episode into its numbers
and pooled per-step samples, :func:`aggregate_safety` a world's episodes into the values the
criteria (:mod:`evaluation.safety_criteria`) judge.

Units: rad, rad/s, N·m, m/s, fractions; joints in actuator order.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from evaluation.episode import roll_pitch_array
from evaluation.episode_metrics import NUM_LEGS, NUM_SERVOS, summarize_episode
from evaluation.runner import StepStates
from mjx_envs.policy_env import EnvConfigs
from model import robot_constants as rc


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

    @classmethod
    def from_states(cls, env, states: StepStates) -> "StepRecorder":
        """The recorder :func:`episode_safety` reads, filled from one batched world's recorded
        :class:`evaluation.runner.StepStates` (``env``: an env of the same world, for the
        addresses; the torques are the ``actuatorfrc`` sensors, bit for bit ``data.actuator_force``)."""
        rec = cls(env)
        sd = states.sensordata
        tau_cols = [env.model.sensor_adr[env.model.sensor(name).id] for name in rc.ACTUATOR_FORCE_SENSORS]
        rec.force_limit = states.force_limit
        rec.q, rec.qd = states.qpos[:, rec.qadr], states.qvel[:, rec.dadr]
        rec.tau, rec.force = sd[:, tau_cols], sd[:, rec.touch]
        rec.vel = np.stack([sd[:, s] for s in rec.foot_vel], axis=1)
        return rec

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

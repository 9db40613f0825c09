"""Per-episode and aggregate evaluation numbers from :class:`evaluation.episode.EpisodeRecord`.

Pure functions of the recorded arrays. Definitions (also in ``docs/playback.md``):

* ``fell``: the env terminated the episode because the trunk was lower than
  ``min_base_height`` above the terrain, tilted beyond ``max_roll``/``max_pitch``, or the
  physics diverged (NaN / MuJoCo's bad-state warnings). Leaving the heightfield is *not* a fall:
  the env truncates the episode (``terminated=False, truncated=True``, ``info["off_map"]``); it is
  counted as ``out_of_bounds`` / ``off_map`` ("off terrain"). ``success`` = not ``fell`` (an
  off-map episode is a success unless it fell first).
* suite world: ``terrain_level`` / ``terrain_type`` name the spawn tile; ``end_terrain_level`` /
  ``end_terrain_type`` the tile under the trunk at the end (-1 / None on the border or off the
  map) and ``on_tile_fraction`` the fraction of recorded states on the spawn tile.
* ``distance`` [m]: path integral of the trunk's horizontal displacement along its *current*
  heading, Σ_k Δxy_k · (cos ψ_k, sin ψ_k) (so turning episodes are not penalised);
  ``env_distance`` [m]: the env's own ``info["distance"]``, along the *initial* heading.
* ``mean_forward_speed`` [m/s] = distance / episode time.
* ``stalled``: did not fall but walked less than ``STALL_FRACTION`` (25 %) of the commanded
  forward distance vx_cmd x episode time (only when that is >= 0.5 m): stuck, e.g. in a
  stepping-stone pit. Still a success (``success`` is only about falls).
* ``vel_tracking_error`` [m/s]: mean over steps of ‖v_xy,cmd − v_xy‖ (body frame, the env metric).
* ``energy`` [J] = Σ_k P_k · dt with P_k = Σ_j |τ_j q̇_j| at the end of control step k (W).
* ``cost_of_transport`` [-] = energy / (m g distance); m = total robot mass [kg], g [m/s²];
  None when the distance is below ``MIN_COT_DISTANCE``.
* ``joint_limit_violations``: joint-steps with a joint more than 0.01 rad beyond its range.
* ``actuator_saturation_rate``: fraction of servo-steps at ≥ 99 % of the torque limit;
  ``ik_saturation_rate``: fraction of leg-steps whose foot target the IK had to clip.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from evaluation.episode import EpisodeRecord
from evaluation.nominal import trunk_yaw
from model import terrain

MIN_COT_DISTANCE = 0.1
"""Cost of transport is reported only for episodes that walked at least this far [m]."""

STALL_FRACTION = 0.25
"""An episode that did not fall but covered less than this fraction of vx_cmd * time is ``stalled``."""

NUM_SERVOS = 12
NUM_LEGS = 4


def robot_mass(env) -> float:
    """Total mass [kg] of the env's MuJoCo model (subtree of the world body: the whole robot)."""
    return float(env.model.body_subtreemass[0])


def gravity(env) -> float:
    """|g| [m/s^2] of the env's MuJoCo model."""
    return float(np.linalg.norm(env.model.opt.gravity))


def forward_distance(trunk_pos: np.ndarray, trunk_quat: np.ndarray) -> float:
    """Σ_k Δxy_k · heading_k [m] over (N + 1, 3) world positions and (N + 1, 4) quaternions (w, x, y, z)."""
    if trunk_pos.shape[0] < 2:
        return 0.0
    yaw = trunk_yaw(trunk_quat[:-1])
    delta = np.diff(trunk_pos[:, :2], axis=0)
    return float(np.sum(delta[:, 0] * np.cos(yaw) + delta[:, 1] * np.sin(yaw)))


def cost_of_transport(energy_j: float, mass_kg: float, gravity: float, distance_m: float) -> Optional[float]:
    """energy / (m g d) [-]; None when ``distance_m`` < :data:`MIN_COT_DISTANCE` or not finite."""
    if not math.isfinite(distance_m) or distance_m < MIN_COT_DISTANCE or not math.isfinite(energy_j):
        return None
    return float(energy_j / (mass_kg * gravity * distance_m))


def summarize_episode(rec: EpisodeRecord, mass_kg: float, gravity: float) -> Dict[str, Any]:
    """Numbers of one episode (see the module docstring for definitions and units)."""
    n = rec.steps
    t = n * rec.dt
    nan = bool(rec.physics_diverged or np.any(rec.metric("nan_physics") > 0))
    fell_flags = (rec.metric("fell") > 0) | (rec.metric("nan_physics") > 0)
    fell = bool(rec.terminated and (nan or (n > 0 and fell_flags[-1])))
    # leaving the map is a truncation (rec.off_map); older records ended it as a termination with
    # the out_of_bounds metric set. Either way: off terrain, not a fall.
    left = n > 0 and (rec.metric("off_map")[-1] > 0 or rec.metric("out_of_bounds")[-1] > 0)
    oob = bool(not fell and (rec.off_map or left))
    rows = rec.steps if nan else rec.steps + 1  # the diverged step's state is meaningless: drop it
    pos, quat = rec.trunk_pos[:rows], rec.trunk_quat[:rows]
    dist = forward_distance(pos, quat)
    energy = float(np.sum(rec.metric("power")) * rec.dt)
    mean = lambda v: float(np.mean(v)) if n > 0 else float("nan")
    # commanded forward distance: the per-step commands when the env re-draws them, else vx * t
    cmd_forward = (
        float(np.sum(rec.metrics["command/vx"]) * rec.dt) if "command/vx" in rec.metrics else float(rec.command[0]) * t
    )
    stalled = bool(not fell and cmd_forward >= 0.5 and dist < STALL_FRACTION * cmd_forward)
    suite = rec.world == "suite"
    out = {
        "terrain_level": int(rec.terrain_level) if rec.world in ("rough", "suite") else None,
        "terrain_type": terrain.TERRAIN_TYPES[int(rec.terrain_type)]
        if suite and rec.terrain_type is not None
        else None,
        "command": [float(c) for c in rec.command],
        "steps": n,
        "time_s": t,
        "fell": fell,
        "fall_time_s": t if fell else None,
        "nan_physics": nan,
        "out_of_bounds": oob,
        "off_map": oob,
        "stalled": stalled,
        "distance_m": dist,
        "env_distance_m": float(rec.env_distance),
        "displacement_m": float(np.linalg.norm(pos[-1, :2] - pos[0, :2])),
        "mean_forward_speed_mps": dist / t if t > 0 else float("nan"),
        "vel_tracking_error_mps": mean(rec.metric("vel_tracking_error")),
        "yaw_rate_error_radps": mean(rec.metric("yaw_rate_error")),
        "energy_j": energy,
        "cost_of_transport": cost_of_transport(energy, mass_kg, gravity, dist),
        "joint_limit_violations": int(round(float(np.sum(rec.metric("joint_limit_violations"))))),
        "actuator_saturation_rate": mean(rec.metric("actuator_saturated")) / NUM_SERVOS,
        "ik_saturation_rate": mean(rec.metric("ik_saturated")) / NUM_LEGS,
        "min_trunk_height_m": float(np.min(pos[:, 2] - rec.trunk_ground[:rows])),
        "return": float(np.sum(rec.reward)),
    }
    if suite:
        levels, types = terrain.suite_tile_of(pos[:, 0], pos[:, 1], terrain.default_suite_spec())
        on_tile = (levels == rec.terrain_level) & (types == (rec.terrain_type if rec.terrain_type is not None else -1))
        out.update(
            end_terrain_level=int(levels[-1]),
            end_terrain_type=terrain.TERRAIN_TYPES[int(types[-1])] if types[-1] >= 0 else None,
            on_tile_fraction=float(np.mean(on_tile)),
        )
    return out


def _finite(values: Sequence[Optional[float]]) -> List[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _mean(values: Sequence[Optional[float]]) -> Optional[float]:
    v = _finite(values)
    return float(np.mean(v)) if v else None


def _std(values: Sequence[Optional[float]]) -> Optional[float]:
    v = _finite(values)
    return float(np.std(v)) if v else None


def aggregate(episodes: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Means/rates over episode summaries (:func:`summarize_episode`).

    Per-episode means (distance, speed, tracking error, cost of transport, return) average over
    episodes, skipping undefined values (NaN physics, CoT below the distance threshold);
    saturation rates are weighted by episode length (fraction of all servo-/leg-steps).
    """
    n = len(episodes)
    steps = sum(e["steps"] for e in episodes)
    falls = sum(bool(e["fell"]) for e in episodes)

    def weighted(key):
        return float(sum(e[key] * e["steps"] for e in episodes if e["steps"] > 0) / steps) if steps else None

    return {
        "episodes": n,
        "success_rate": (n - falls) / n if n else None,
        "falls": falls,
        "nan_physics": sum(bool(e["nan_physics"]) for e in episodes),
        "out_of_bounds": sum(bool(e["out_of_bounds"]) for e in episodes),
        "off_map": sum(bool(e["out_of_bounds"]) for e in episodes),
        "stalled": sum(bool(e.get("stalled", False)) for e in episodes),
        "distance_m_mean": _mean([e["distance_m"] for e in episodes]),
        "distance_m_std": _std([e["distance_m"] for e in episodes]),
        "mean_forward_speed_mps": _mean([e["mean_forward_speed_mps"] for e in episodes]),
        "vel_tracking_error_mps": _mean([e["vel_tracking_error_mps"] for e in episodes]),
        "yaw_rate_error_radps": _mean([e["yaw_rate_error_radps"] for e in episodes]),
        "cost_of_transport": _mean([e["cost_of_transport"] for e in episodes]),
        "energy_j_mean": _mean([e["energy_j"] for e in episodes]),
        "joint_limit_violations": int(sum(e["joint_limit_violations"] for e in episodes)),
        "actuator_saturation_rate": weighted("actuator_saturation_rate"),
        "ik_saturation_rate": weighted("ik_saturation_rate"),
        "time_s_mean": _mean([e["time_s"] for e in episodes]),
        "return_mean": _mean([e["return"] for e in episodes]),
    }

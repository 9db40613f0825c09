"""The residual-walking environment's logic, shared verbatim by the MJX env and the C-MuJoCo envs.

A control step is ``pre_physics`` (action -> servo targets, pushes) -> physics substeps (back-end
specific) -> ``post_physics``, a composition of named steps: ``sanitise`` (diverged physics) ->
``score`` (reward terms) -> ``terminate`` (every end-of-episode rule, :mod:`mjx_envs.termination`)
-> ``advance`` (counters, gait clock, commanded path, command schedule) -> ``observe`` ->
``step_metrics`` (:mod:`mjx_envs.step_metrics`; its keys are :data:`METRIC_NAMES`).
``pre_physics`` maps the action to servo targets (:mod:`mjx_envs.action_mapping`) and draws the
pushes. Resets are ``sample_episode`` (everything random about an episode, from one PRNG key,
domain draws from :mod:`mjx_envs.domain_randomization`) followed by ``initial_observation``. All
functions are pure JAX over the constants in :class:`~mjx_envs.env_context.EnvContext`
(:mod:`mjx_envs.env_context`, re-exported here with ``make_context``); the batched C-MuJoCo logic
(``mjx_envs.batched_logic``) jits and vmaps the very same ones.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import jax
import jax.numpy as jnp

from gait.bezier_gait import GaitState, stepping_target
from gait.planar import yaw_rotate
from mjx_envs import observation as obs_lib
from mjx_envs import safety_limits as safety
from mjx_envs import terrain_footholds as footholds
from mjx_envs.action_mapping import action_to_ctrl, modulation_scales
from mjx_envs.domain_randomization import DR_FIELDS, DR_NAMES, draw_domain, randomized_model_fields  # noqa: F401
from mjx_envs.env_context import EnvContext, make_context  # noqa: F401  (the env's constants, public here too)
from mjx_envs.episode_commands import (  # noqa: F401  (the episode's command schedule and curriculum)
    _uniform,
    curriculum_outcome,
    draw_command,
    draw_start_level,
    heading_command,
    next_level,
    track_command,
    update_command,
)
from mjx_envs.height_scan import draw_scan_offset, height_scan
from mjx_envs.measurements import Measurements, gravity_in_body, yaw_of
from mjx_envs.rewards import RewardInputs, compute_reward
from mjx_envs.step_metrics import MetricInputs, metric_names, step_metrics
from mjx_envs.termination import (  # noqa: F401  (the termination rules, public here too)
    NAN_QVEL_LIMIT,
    Termination,
    fall_condition,
    off_map,
    sanitise,
    terminate,
    terrain_height,
)
from model import terrain

# ---------------------------------------------------------------------------------------- reset


def _given_or_drawn(value: Optional[jax.Array], drawn: jax.Array) -> jax.Array:
    """``value`` as int32, or ``drawn`` where it is None or negative (batched resets pass -1)."""
    if value is None:
        return drawn.astype(jnp.int32)
    value = jnp.asarray(value, jnp.int32)
    return jnp.where(value < 0, drawn, value).astype(jnp.int32)


def info_template(ctx: EnvContext) -> Dict[str, Any]:
    """The structure of an episode's ``info`` (ShapeDtypeStructs, nothing computed): the layout
    the C-MuJoCo back ends pack it in (``mjx_envs.packing.Packer``)."""
    return jax.eval_shape(lambda k: sample_episode(ctx, k, 0, 0), jax.random.PRNGKey(0))[2]


def sample_episode(
    ctx: EnvContext, rng: jax.Array, level: Optional[jax.Array] = None, terrain_type: Optional[jax.Array] = None
) -> Tuple[jax.Array, jax.Array, Dict[str, Any]]:
    """Everything random about one episode, from one key: (qpos (19,), qvel (18,), info).

    ``level`` is the terrain-curriculum level (rough world: the difficulty band of the spawn;
    suite: the difficulty row); None (or a negative value) draws it (:func:`draw_start_level`).
    ``terrain_type`` (suite only: index into ``model.terrain.TERRAIN_TYPES``) is drawn uniformly
    from the key when None (or negative), so every episode of a training env lands on a fresh type.
    Deterministic in ``rng``.
    """
    cfg, r = ctx.env, ctx.env.randomization
    keys = jax.random.split(rng, 13)
    level = _given_or_drawn(level, draw_start_level(cfg.curriculum, keys[3]))
    level = jnp.clip(level, 0, ctx.num_levels - 1)
    ux, uy = jax.random.uniform(keys[4], (2,))
    # a key of its own: the other draws stay what they were before the suite
    drawn_type = jax.random.randint(jax.random.fold_in(rng, _TYPE_SALT), (), 0, ctx.num_types)
    terrain_type = jnp.clip(_given_or_drawn(terrain_type, drawn_type), 0, ctx.num_types - 1)
    if ctx.suite is not None:
        x, y = terrain.suite_spawn_xy(level, terrain_type, ux, uy, ctx.suite)
        ground = terrain.footprint_max_height(jnp.asarray(ctx.heights), x, y, ctx.suite)
    elif ctx.rough:
        x, y = terrain.band_spawn_xy(level, ux, uy, ctx.rough_terrain)
        ground = terrain.footprint_max_height(jnp.asarray(ctx.heights), x, y, ctx.rough_terrain)
    else:
        x, y, ground = ux - 0.5, uy - 0.5, jnp.zeros(())
    yaw = _uniform(keys[5], (-r.heading_noise, r.heading_noise))
    command, heading_mode, target_heading = draw_command(ctx, keys[0], yaw)
    command = heading_command(ctx, command, heading_mode, target_heading, yaw)
    quat = jnp.stack([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])
    joints = jnp.asarray(ctx.home_joints) + _uniform(keys[6], (-r.joint_noise, r.joint_noise), (12,))
    joints = jnp.clip(joints, ctx.joint_lower, ctx.joint_upper)
    qpos = jnp.zeros(19).at[0:7].set(jnp.concatenate([jnp.stack([x, y, ground + ctx.home_trunk_height + 0.01]), quat]))
    qpos = qpos.at[jnp.asarray(ctx.qpos_adr)].set(joints)
    qvel = jnp.zeros(18)
    phase = jax.random.uniform(keys[7]) if r.random_gait_phase else jnp.zeros(())
    dr = draw_domain(ctx, keys[8])
    scan_offset = draw_scan_offset(ctx, jax.random.fold_in(rng, _SCAN_SALT))
    c = cfg.command
    command_time = _uniform(keys[1], c.resample_interval) if c.resample else jnp.full((), jnp.inf)
    push_time = _uniform(keys[12], cfg.pushes.interval) if cfg.pushes.enabled else jnp.full((), jnp.inf)
    info = dict(
        rng=keys[11],
        command=command.astype(jnp.float32),
        gait=GaitState.create(phase, stepping_target(command, ctx.gait, ctx.controller.geometry)),
        # the command schedule: next re-draw time (s since reset), heading-hold mode and its target
        command_time=jnp.asarray(command_time, jnp.float32),
        heading_mode=heading_mode.astype(jnp.float32),
        target_heading=jnp.asarray(target_heading, jnp.float32),
        last_action=jnp.zeros(ctx.action_size),
        pending_action=jnp.zeros(ctx.action_size),
        residual=jnp.zeros((4, 3)),
        modulation=jnp.zeros((3,)),
        pushed=jnp.zeros(()),
        step=jnp.zeros((), jnp.int32),
        terrain_level=level,
        terrain_type=terrain_type,
        start_xy=jnp.stack([x, y]).astype(jnp.float32),
        last_xy=jnp.stack([x, y]).astype(jnp.float32),
        heading=yaw.astype(jnp.float32),
        distance=jnp.zeros(()),
        # curriculum bookkeeping (track_command / curriculum_outcome): the commanded pose
        # integrated from the start pose, the commanded path length and the trunk's progress
        # along the commanded path; how the episode ended.
        cmd_xy=jnp.stack([x, y]).astype(jnp.float32),
        cmd_yaw=yaw.astype(jnp.float32),
        cmd_path=jnp.zeros(()),
        progress=jnp.zeros(()),
        fell=jnp.zeros(()),
        off_map=jnp.zeros(()),
        truncation=jnp.zeros(()),
        push_time=jnp.asarray(push_time, jnp.float32),
        dr={k: jnp.asarray(v, jnp.float32) for k, v in dr.items()},
        # the height scan's map offset this episode (x, y, z, m; zeros unless randomised)
        scan_offset=scan_offset,
    )
    if footholds.enabled(ctx):
        info["footholds"] = footholds.reset_footholds(ctx, jnp.stack([x, y]), yaw, scan_offset)
    return qpos.astype(jnp.float32), qvel.astype(jnp.float32), info


_NOISE_SALT = 0x0B5E  # folded into info["rng"] for the observation noise
_TYPE_SALT = 0x7E44  # folded into the reset key for the suite's terrain type
_SCAN_SALT = 0x5CA7  # folded into the reset key for the height scan's map offset


def stand_ctrl(ctx: EnvContext, qpos: jax.Array) -> jax.Array:
    """Servo targets at reset: the joint angles the episode starts in (stack order)."""
    return qpos[..., jnp.asarray(ctx.qpos_adr)]


# ------------------------------------------------------------------------------------ one step


def apply_push(ctx: EnvContext, info: Dict[str, Any]) -> Tuple[jax.Array, Dict[str, Any]]:
    """The horizontal trunk velocity kick of this control step (``EnvConfig.pushes``): (kick (2,)
    [m/s, world frame], info). When the push timer fires the kick has magnitude ``U(velocity)``
    m/s and a direction uniform in [0, 2 pi), and the next push comes ``U(interval)`` s later;
    otherwise it is zero. The back end adds it to ``qvel[0:2]`` in its own precision (float64 in
    C MuJoCo). ``info["pushed"]`` = 1 on a kick step."""
    p = ctx.env.pushes
    if not p.enabled:
        return jnp.zeros((2,), jnp.float32), {**info, "pushed": jnp.zeros(())}
    t = info["step"].astype(jnp.float32) * ctx.sim.control_dt
    fire = t >= info["push_time"]
    k1, k2, k3, k4 = jax.random.split(info["rng"], 4)
    size = _uniform(k1, p.velocity)
    angle = jax.random.uniform(k4, (), minval=0.0, maxval=2 * jnp.pi)
    kick = size * jnp.stack([jnp.cos(angle), jnp.sin(angle)])
    kick = jnp.where(fire, kick, 0.0).astype(jnp.float32)
    next_time = jnp.where(fire, t + _uniform(k2, p.interval), info["push_time"])
    return kick, {**info, "rng": k3, "push_time": next_time.astype(jnp.float32), "pushed": fire.astype(jnp.float32)}


def pre_physics(ctx: EnvContext, action: jax.Array, info: Dict[str, Any]):
    """Before the substeps: (ctrl (12,), kick (2,), info, aux). The back end sets ``ctrl``, adds
    ``kick`` to the trunk's world-frame velocity ``qvel[0:2]`` and steps; ``aux`` feeds
    ``post_physics``."""
    ctrl, action, info, ik_sat = action_to_ctrl(ctx, action, info)
    kick, info = apply_push(ctx, info)
    return ctrl, kick, info, dict(action=action, ik_saturated=ik_sat)


def body_contact_zones(ctx: EnvContext, meas: Measurements) -> jax.Array:
    """(9,) bool: which zones (trunk, 4 thighs, 4 calves; ``rc.BODY_CONTACT_SENSORS``) touch the ground.

    A zone touches when its touch sensor reads more than ``env.contact_force_threshold`` (N) or,
    under ``simulation.collision: feet`` (where those spheres no longer collide), when one of its
    probe spheres reaches below the terrain: centre height - radius < ground height at the centre
    (:func:`terrain_height`, m)."""
    touched = meas.body_contact_force > ctx.env.contact_force_threshold
    if not ctx.idx.body_probe:
        return touched
    p = meas.body_probe_pos
    ground = terrain_height(ctx, p[:, 0], p[:, 1])
    below = (p[:, 2] - jnp.asarray(ctx.idx.body_probe_radius, p.dtype) < ground).astype(jnp.float32)
    hit = jnp.zeros(touched.shape, jnp.float32).at[jnp.asarray(ctx.idx.body_probe_zone)].max(below)
    return touched | (hit > 0)


def terrain_sample_points(meas: Measurements) -> jax.Array:
    """World (x, y) of the terrain samples, (4 feet, 5 offsets, 2): ``TERRAIN_OFFSETS`` around each
    foot, rotated by the trunk's yaw (body-yaw frame: sample 1, +0.1 m in x, is ahead of the foot
    whichever way the robot faces)."""
    world = yaw_rotate(jnp.asarray(obs_lib.TERRAIN_OFFSETS), yaw_of(meas.trunk_quat))  # (5, 2) offsets
    return meas.foot_pos[:, None, :2] + world[None]


def _terrain_samples(ctx: EnvContext, meas: Measurements) -> Optional[jax.Array]:
    if not ctx.env.terrain_observation:
        return None
    pts = terrain_sample_points(meas)
    h = terrain_height(ctx, pts[..., 0], pts[..., 1])
    return (h - meas.foot_pos[:, None, 2]).reshape(-1)


def observe(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> jax.Array:
    """The observation (``mjx_envs/observation.py``), with the sensor noise of
    ``EnvConfig.observation_noise`` when it is on (uniform, drawn from ``info["rng"]``)."""
    contact = meas.foot_force > ctx.env.contact_force_threshold
    obs = obs_lib.build_observation(
        meas,
        jnp.asarray(ctx.home_joints),
        info["gait"].phase,
        contact,
        info["command"],
        info["last_action"],
        _terrain_samples(ctx, meas),
        height_scan(ctx, meas, info),
    )
    noise = ctx.env.observation_noise
    if not noise.enabled:
        return obs
    half = jnp.asarray(obs_lib.noise_half_widths(noise, **obs_lib.observation_spec(ctx.env)))
    u = jax.random.uniform(jax.random.fold_in(info["rng"], _NOISE_SALT), obs.shape, minval=-1.0, maxval=1.0)
    return jnp.clip(obs + u * half, -obs_lib.CLIP, obs_lib.CLIP)


def initial_observation(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> jax.Array:
    return observe(ctx, meas, info)


def zero_metrics(ctx: EnvContext) -> Dict[str, jax.Array]:
    """Metrics dict with every key ``post_physics`` produces, all zero (for reset states)."""
    names = ["reward/" + n for n in dataclasses.asdict(ctx.env.reward_weights)] + list(METRIC_NAMES)
    return {n: jnp.zeros(()) for n in names}


METRIC_NAMES = metric_names(DR_NAMES)
"""Env metrics besides the ``reward/<term>`` ones (per control step; docs/residual_learning.md): the
keys of :func:`mjx_envs.step_metrics.step_metrics`, read off the function itself."""


# ------------------------------------------------------------------ post_physics, step by step


def score(
    ctx: EnvContext, meas: Measurements, info: Dict[str, Any], aux: Dict[str, jax.Array]
) -> Tuple[jax.Array, Dict[str, jax.Array], Dict[str, jax.Array]]:
    """Reward of the step (:func:`mjx_envs.rewards.compute_reward`) on sanitised measurements:
    (reward, its terms by name, safety counts). The counts (joints beyond their range, actuators
    at their torque limit, body zones touching the ground; per step) feed the metrics too."""
    cfg = ctx.env
    contact = meas.foot_force > cfg.contact_force_threshold
    joints_near = safety.joints_near_limit(meas.joint_pos, ctx.joint_lower, ctx.joint_upper)
    torque_limit = ctx.force_limit * info["dr"]["motor_strength"]
    counts = dict(
        joint_limit_violations=safety.joint_limit_violations(meas.joint_pos, ctx.joint_lower, ctx.joint_upper),
        actuator_saturated=safety.actuator_saturations(meas.actuator_force, torque_limit),
        body_contacts=jnp.sum(body_contact_zones(ctx, meas)).astype(jnp.float32),
    )
    rin = RewardInputs(
        lin_vel=meas.lin_vel,
        ang_vel=meas.ang_vel,
        command=info["command"],
        gravity=gravity_in_body(meas.trunk_quat),
        joint_vel=meas.joint_vel,
        actuator_force=meas.actuator_force,
        foot_contact=contact,
        foot_vel=meas.foot_vel,
        body_contacts=counts["body_contacts"],
        joints_near_limit=joints_near,
        actuators_saturated=counts["actuator_saturated"],
        ik_saturated=aux["ik_saturated"],
        action=aux["action"],
        last_action=info["last_action"],
        torque_excess=safety.torque_excess(meas.actuator_force, torque_limit, cfg.torque_soft_fraction),
    )
    reward, terms = compute_reward(rin, cfg.reward_weights)
    return reward, terms, counts


def advance(
    ctx: EnvContext, meas: Measurements, info: Dict[str, Any], aux: Dict[str, jax.Array], ends: Termination
) -> Tuple[Dict[str, Any], jax.Array]:
    """The episode state after this step: (info, distance walked this step [m]).

    Step counter + 1; trunk position (the last good one when the physics diverged) and distance
    along the spawn heading; the commanded path and the progress along it (:func:`track_command`);
    the gait clock (``controller.advance`` under this step's command and modulation) and, with
    ``gait.footholds`` on, the footholds of the legs it lifts (:mod:`mjx_envs.terrain_footholds`); the
    applied action; how the episode ends here (``fell``, ``off_map``, ``truncation``: 1 or 0, see
    :class:`~mjx_envs.termination.Termination`); then the next step's command
    (:func:`update_command`, from the trunk's yaw)."""
    xy = jnp.where(ends.diverged, info["last_xy"], meas.trunk_pos[:2])
    heading = jnp.stack([jnp.cos(info["heading"]), jnp.sin(info["heading"])])
    dist_step = jnp.dot(xy - info["last_xy"], heading)
    info = track_command(ctx, info, xy)
    freq, _, _ = modulation_scales(ctx, info["modulation"])
    truncated = ends.truncated.astype(jnp.float32)
    yaw = yaw_of(meas.trunk_quat)
    gait = ctx.controller.advance(info["gait"], ctx.sim.control_dt, info["gait"].command, freq)
    if footholds.enabled(ctx):
        info = {**info, "footholds": footholds.update_footholds(ctx, info, gait, freq, xy, yaw)}
    info = {
        **info,
        "gait": gait,
        "last_action": aux["action"],
        "step": info["step"] + 1,
        "last_xy": xy,
        "distance": info["distance"] + dist_step,
        "fell": ends.terminated.astype(jnp.float32),
        "off_map": truncated,
        "truncation": truncated,
    }
    return update_command(ctx, info, yaw), dist_step


def metric_inputs(
    ctx: EnvContext,
    meas: Measurements,
    command: jax.Array,
    info: Dict[str, Any],
    aux: Dict[str, jax.Array],
    ends: Termination,
    counts: Dict[str, jax.Array],
    dist_step: jax.Array,
) -> MetricInputs:
    """What :func:`~mjx_envs.step_metrics.step_metrics` reads, from the step's sanitised
    measurements, the ``command`` it was taken under and the advanced ``info`` (:func:`advance`).
    The curriculum's verdict (:func:`curriculum_outcome`) counts on the episode's last step: a
    termination, truncation, or the env's own time limit (``episode_steps``)."""
    last = ends.done | (info["step"] >= ctx.episode_steps)
    promote, demote = curriculum_outcome(ctx, info)
    return MetricInputs(
        command=command,
        lin_vel=meas.lin_vel,
        ang_vel=meas.ang_vel,
        joint_vel=meas.joint_vel,
        actuator_force=meas.actuator_force,
        distance_step=dist_step,
        ends=ends,
        ik_saturated=aux["ik_saturated"],
        **counts,
        terrain_level=info["terrain_level"],
        terrain_type=info["terrain_type"],
        curriculum_promoted=last & promote,
        curriculum_demoted=last & demote,
        heading_mode=info["heading_mode"],
        pushed=info["pushed"],
        gait_activity=info["gait"].activity,
        gait_scales=modulation_scales(ctx, info["modulation"]),
        dr=info["dr"],
    )


def post_physics(ctx: EnvContext, meas: Measurements, info: Dict[str, Any], aux: Dict[str, jax.Array]):
    """After the substeps: (obs, reward, done, metrics, info).

    ``done`` = 1 when the episode ends here: terminated (a fall or diverged physics) or truncated
    by leaving the map (:func:`~mjx_envs.termination.terminate`). A truncation sets
    ``info["truncation"]`` = 1 together with ``done`` = 1 (brax's convention; the training wrapper
    adds its time-limit truncations, the Gymnasium twin reports ``terminated=False,
    truncated=True``). ``info["fell"]`` / ``info["off_map"]`` record how the episode ended for the
    curriculum; ``metrics["fell"]`` / ``metrics["off_map"]`` are the same flags. On diverged
    physics the reward and its terms are 0 and nothing non-finite leaves this function.
    """
    meas, diverged = sanitise(meas)
    command = info["command"]  # the command this step was taken under (rewarded, tracked)
    reward, terms, counts = score(ctx, meas, info, aux)
    ends = terminate(ctx, meas, diverged)
    info, dist_step = advance(ctx, meas, info, aux, ends)
    obs = observe(ctx, meas, info)
    metrics = {"reward/" + k: jnp.asarray(jnp.where(diverged, 0.0, v), jnp.float32) for k, v in terms.items()}
    metrics.update(step_metrics(metric_inputs(ctx, meas, command, info, aux, ends, counts, dist_step)))
    reward = jnp.where(diverged, 0.0, reward)
    return obs, reward.astype(jnp.float32), ends.done.astype(jnp.float32), metrics, info

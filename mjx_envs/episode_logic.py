"""The residual-walking environment's logic, shared verbatim by the MJX env and the Gymnasium twin.

A control step is ``pre_physics`` (action -> servo targets, pushes) -> physics substeps (back-end
specific) -> ``post_physics`` (measurements -> observation, reward terms, termination, metrics).
Resets are ``sample_episode`` (everything random about an episode, from one PRNG key) followed by
``initial_observation``. All functions are pure JAX over the constants in :class:`EnvContext`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import jax
import jax.numpy as jnp
import mujoco
import numpy as np

from gait.bezier_gait import GaitState
from gait.controller import BezierController
from gait.gait_config import GaitConfig
from mjx_envs import observation as obs_lib
from mjx_envs import safety
from mjx_envs.env_config import EnvConfig
from mjx_envs.measurements import Measurements, SensorIndex, gravity_in_body, roll_pitch, sensor_index, yaw_of
from mjx_envs.rewards import RewardInputs, compute_reward
from model import loading, robot_constants as rc, terrain
from model.simulation_config import SimulationConfig

NAN_QVEL_LIMIT = 1e3  # |qvel| beyond this is treated as diverged physics


@dataclasses.dataclass(frozen=True, eq=False)
class EnvContext:
    """Constants of one environment instance (model-derived arrays, configs, controller)."""

    sim: SimulationConfig
    env: EnvConfig
    gait: GaitConfig
    controller: BezierController
    mj_model: Any
    idx: SensorIndex
    home_joints: np.ndarray
    joint_lower: np.ndarray
    joint_upper: np.ndarray
    force_limit: np.ndarray
    heights: Optional[np.ndarray]  # (nrow, ncol) terrain heights in m, None on the flat world
    trunk_body: int
    episode_steps: int
    suite: Optional[terrain.SuiteSpec] = None  # the terrain-suite grid (world "suite"), else None

    @property
    def action_size(self) -> int:
        return 12

    @property
    def observation_size(self) -> int:
        return obs_lib.observation_size(self.action_size, self.env.terrain_observation)

    @property
    def rough(self) -> bool:
        return self.heights is not None

    @property
    def num_levels(self) -> int:
        """Number of curriculum levels: ``terrain_level`` is an integer in [0, num_levels)
        (suite: the grid's difficulty rows; rough: the difficulty bands)."""
        return self.suite.num_levels if self.suite is not None else terrain.DEFAULT_TERRAIN.num_bands

    @property
    def num_types(self) -> int:
        """Number of terrain types: ``terrain_type`` is in [0, num_types) (suite:
        ``model.terrain.TERRAIN_TYPES``; rough and flat: 1, the random relief)."""
        return self.suite.num_types if self.suite is not None else 1

    @property
    def terrain_spec(self):
        """The grid geometry of ``heights``: the suite's SuiteSpec or the rough world's TerrainSpec."""
        return self.suite if self.suite is not None else terrain.DEFAULT_TERRAIN


def make_context(sim: SimulationConfig, env: EnvConfig, gait: GaitConfig,
                 mj_model: Optional[mujoco.MjModel] = None) -> EnvContext:
    m = mj_model if mj_model is not None else loading.load_mj_model(sim)
    jid = m.actuator_trnid[:, 0]
    return EnvContext(
        sim=sim, env=env, gait=gait, controller=BezierController(config=gait), mj_model=m,
        idx=sensor_index(m), home_joints=np.asarray(rc.HOME_JOINTS, np.float32),
        joint_lower=m.jnt_range[jid, 0].astype(np.float32), joint_upper=m.jnt_range[jid, 1].astype(np.float32),
        force_limit=np.abs(m.actuator_forcerange[:, 1]).astype(np.float32),
        heights=loading.terrain_heights(m), trunk_body=m.body(rc.TRUNK_BODY).id,
        episode_steps=int(round(env.episode_length_s / sim.control_dt)),
        suite=terrain.default_suite_spec() if sim.world == "suite" else None,
    )


def terrain_height(ctx: EnvContext, x, y):
    """Ground height (m) at world (x, y); 0 on the flat world."""
    if ctx.heights is None:
        return jnp.zeros_like(jnp.asarray(x, jnp.float32))
    return terrain.height_at(jnp.asarray(ctx.heights), x, y, ctx.terrain_spec)


def _uniform(key, lo_hi, shape=()):
    lo, hi = lo_hi
    return jax.random.uniform(key, shape, minval=lo, maxval=hi)


# ---------------------------------------------------------------------------------------- reset

def sample_episode(ctx: EnvContext, rng: jax.Array, level: Optional[jax.Array] = None,
                   terrain_type: Optional[jax.Array] = None) -> Tuple[jax.Array, jax.Array, Dict[str, Any]]:
    """Everything random about one episode, from one key: (qpos (19,), qvel (18,), info).

    ``level`` is the terrain-curriculum level (rough world: the difficulty band of the spawn;
    suite: the difficulty row); None draws it uniformly from [0, curriculum.initial_max_level].
    ``terrain_type`` (suite only: index into ``model.terrain.TERRAIN_TYPES``) is drawn uniformly
    from the key when None, so every episode of a training env lands on a fresh type.
    Deterministic in ``rng``.
    """
    cfg, r = ctx.env, ctx.env.randomization
    keys = jax.random.split(rng, 13)
    command = jnp.stack([_uniform(keys[0], cfg.command.vx), _uniform(keys[1], cfg.command.vy),
                         _uniform(keys[2], cfg.command.yaw_rate)])
    if level is None:
        level = jax.random.randint(keys[3], (), 0, cfg.curriculum.initial_max_level + 1)
    level = jnp.clip(jnp.asarray(level, jnp.int32), 0, ctx.num_levels - 1)
    ux, uy = jax.random.uniform(keys[4], (2,))
    if terrain_type is None:  # a key of its own: the other draws stay what they were before the suite
        terrain_type = jax.random.randint(jax.random.fold_in(rng, _TYPE_SALT), (), 0, ctx.num_types)
    terrain_type = jnp.clip(jnp.asarray(terrain_type, jnp.int32), 0, ctx.num_types - 1)
    if ctx.suite is not None:
        x, y = terrain.suite_spawn_xy(level, terrain_type, ux, uy, ctx.suite)
        ground = terrain.footprint_max_height(jnp.asarray(ctx.heights), x, y, ctx.suite)
    elif ctx.rough:
        x, y = terrain.band_spawn_xy(level, ux, uy)
        ground = terrain.footprint_max_height(jnp.asarray(ctx.heights), x, y)
    else:
        x, y, ground = ux - 0.5, uy - 0.5, jnp.zeros(())
    yaw = _uniform(keys[5], (-r.heading_noise, r.heading_noise))
    quat = jnp.stack([jnp.cos(yaw / 2), 0.0, 0.0, jnp.sin(yaw / 2)])
    joints = jnp.asarray(ctx.home_joints) + _uniform(keys[6], (-r.joint_noise, r.joint_noise), (12,))
    joints = jnp.clip(joints, ctx.joint_lower, ctx.joint_upper)
    qpos = jnp.concatenate([jnp.stack([x, y, ground + rc.HOME_TRUNK_HEIGHT + 0.01]), quat, joints])
    qvel = jnp.zeros(18)
    phase = jax.random.uniform(keys[7]) if r.random_gait_phase else jnp.zeros(())
    if r.domain_randomization:
        dr = dict(friction_scale=_uniform(keys[8], r.friction_scale),
                  trunk_mass_delta=_uniform(keys[9], r.trunk_mass_delta),
                  motor_strength=_uniform(keys[10], r.motor_strength))
    else:
        dr = dict(friction_scale=jnp.ones(()), trunk_mass_delta=jnp.zeros(()), motor_strength=jnp.ones(()))
    info = dict(
        rng=keys[11], command=command.astype(jnp.float32), gait=GaitState.create(phase),
        last_action=jnp.zeros(ctx.action_size), residual=jnp.zeros((4, 3)),
        step=jnp.zeros((), jnp.int32), terrain_level=level, terrain_type=terrain_type,
        start_xy=jnp.stack([x, y]).astype(jnp.float32), last_xy=jnp.stack([x, y]).astype(jnp.float32),
        heading=yaw.astype(jnp.float32), distance=jnp.zeros(()),
        # curriculum bookkeeping (track_command / curriculum_outcome): the commanded pose
        # integrated from the start pose, the commanded path length and the trunk's progress
        # along the commanded path; how the episode ended.
        cmd_xy=jnp.stack([x, y]).astype(jnp.float32), cmd_yaw=yaw.astype(jnp.float32),
        cmd_path=jnp.zeros(()), progress=jnp.zeros(()),
        fell=jnp.zeros(()), off_map=jnp.zeros(()), truncation=jnp.zeros(()),
        push_time=_uniform(keys[12], r.push_interval) if r.push_velocity > 0 else jnp.full((), jnp.inf),
        dr={k: jnp.asarray(v, jnp.float32) for k, v in dr.items()},
    )
    return qpos.astype(jnp.float32), qvel.astype(jnp.float32), info


def track_command(ctx: EnvContext, info: Dict[str, Any], xy: jax.Array) -> Dict[str, Any]:
    """Advance the commanded path by one control step; credit the trunk's progress along it.

    The body-frame command (vx, vy, yaw rate) is integrated in the world frame from the start
    pose (``start_xy``, ``heading``): yaw += w dt, xy += R(yaw + w dt / 2) (vx, vy) dt (midpoint
    rule: exact to O(dt^3) per step on the arc of a turning command). ``cmd_path`` sums |v| dt;
    ``progress`` sums the trunk's displacement this step (``xy - last_xy``) projected on the
    commanded direction of travel, i.e. how far the trunk advanced *along* the commanded path
    (side-sway and walking the wrong way do not count). Pure; the command may change per step.
    """
    dt = ctx.sim.control_dt
    v, w = info["command"][:2], info["command"][2]
    yaw_mid = info["cmd_yaw"] + 0.5 * w * dt
    c, s = jnp.cos(yaw_mid), jnp.sin(yaw_mid)
    v_world = jnp.stack([c * v[0] - s * v[1], s * v[0] + c * v[1]])
    speed = jnp.sqrt(jnp.sum(jnp.square(v)))
    tangent = v_world / jnp.maximum(speed, 1e-6)
    return {**info, "cmd_xy": info["cmd_xy"] + v_world * dt, "cmd_yaw": info["cmd_yaw"] + w * dt,
            "cmd_path": info["cmd_path"] + speed * dt,
            "progress": info["progress"] + jnp.where(speed > 1e-6, jnp.dot(xy - info["last_xy"], tangent), 0.0)}


def curriculum_outcome(ctx: EnvContext, info: Dict[str, Any]) -> Tuple[jax.Array, jax.Array]:
    """(promote, demote) booleans for an episode that ended with ``info`` (the rule of
    :class:`mjx_envs.env_config.Curriculum`; both False when the curriculum is off / flat world).

    Compares where the trunk is (``last_xy``) and how far it progressed along the commanded path
    (``progress``) with the commanded end point (``cmd_xy``) and path length (``cmd_path``):
    promote: not fell, |end - commanded end| <= end_tolerance_fraction * L and progress >=
    promote_distance_fraction * L; demote: fell, or (not off the map and progress <
    demote_distance_fraction * L); L < min_command_path: neutral unless it fell.
    """
    cur = ctx.env.curriculum
    if not (cur.enabled and ctx.rough):
        return jnp.zeros((), bool), jnp.zeros((), bool)
    length = info["cmd_path"]
    fell = info["fell"] > 0
    left_map = info["off_map"] > 0
    moving = length >= cur.min_command_path
    end_err = jnp.sqrt(jnp.sum(jnp.square(info["last_xy"] - info["cmd_xy"])))
    promote = (moving & ~fell & (end_err <= cur.end_tolerance_fraction * length)
               & (info["progress"] >= cur.promote_distance_fraction * length))
    demote = fell | (moving & ~left_map & (info["progress"] < cur.demote_distance_fraction * length))
    return promote & ~demote, demote


def next_level(ctx: EnvContext, info: Dict[str, Any]) -> jax.Array:
    """Curriculum: ``terrain_level`` for the next episode from the finished one's info.

    level + 1 on promotion (:func:`curriculum_outcome`); a robot promoted from the top level goes
    to a uniformly random level (as legged_gym does, so that the top level does not absorb every
    env); level - 1 (floor 0) on demotion; unchanged otherwise or when the curriculum is off /
    on the flat world. Deterministic in ``info`` (the random level comes from ``info["rng"]``).
    """
    level = jnp.asarray(info["terrain_level"], jnp.int32)
    if not (ctx.env.curriculum.enabled and ctx.rough):
        return level
    promote, demote = curriculum_outcome(ctx, info)
    top = ctx.num_levels - 1
    key = jax.random.fold_in(info["rng"], _CURRICULUM_SALT)
    random_level = jax.random.randint(key, (), 0, ctx.num_levels)
    up = jnp.where(level >= top, random_level, level + 1)
    new = jnp.where(promote, up, jnp.where(demote, level - 1, level))
    return jnp.clip(new, 0, top).astype(jnp.int32)


_CURRICULUM_SALT = 0xC0B1  # folded into info["rng"] for the random level after the top one
_TYPE_SALT = 0x7E44  # folded into the reset key for the suite's terrain type


def stand_ctrl(ctx: EnvContext, qpos: jax.Array) -> jax.Array:
    """Servo targets at reset: the joint angles the episode starts in."""
    return qpos[7:19]


# ------------------------------------------------------------------------------------ one step

def action_to_ctrl(ctx: EnvContext, action: jax.Array, info: Dict[str, Any]
                   ) -> Tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """Map a policy action in [-1, 1]^12 to servo targets.

    residual mode: per-foot xyz residual ``action * residual_max`` (m, hip frame), low-pass
    filtered, added to the Bézier targets, then IK. direct mode: home pose + ``action *
    direct_scale`` (rad), no gait. Returns (ctrl (12,), clipped action, filtered residual (4,3),
    number of IK-saturated legs).
    """
    action = jnp.clip(jnp.nan_to_num(action, nan=0.0), -1.0, 1.0)
    cfg = ctx.env
    if cfg.action_mode == "direct":
        ctrl = jnp.clip(jnp.asarray(ctx.home_joints) + cfg.direct_scale * action, ctx.joint_lower, ctx.joint_upper)
        return ctrl, action, info["residual"], jnp.zeros(())
    target = jnp.reshape(action, (4, 3)) * cfg.residual_max
    residual = cfg.action_filter * target + (1.0 - cfg.action_filter) * info["residual"]
    out = ctx.controller.joint_targets(info["gait"], info["command"], None, residual)
    return out.joint_targets, action, residual, jnp.sum(out.saturated).astype(jnp.float32)


def apply_push(ctx: EnvContext, qvel: jax.Array, info: Dict[str, Any]) -> Tuple[jax.Array, Dict[str, Any]]:
    """Add a random horizontal velocity kick (m/s) to the trunk when the push timer fires."""
    r = ctx.env.randomization
    if r.push_velocity <= 0:
        return qvel, info
    t = info["step"] * ctx.sim.control_dt
    fire = t >= info["push_time"]
    k1, k2, k3 = jax.random.split(info["rng"], 3)
    kick = jax.random.uniform(k1, (2,), minval=-r.push_velocity, maxval=r.push_velocity)
    qvel = qvel.at[:2].add(jnp.where(fire, kick, 0.0))
    next_time = jnp.where(fire, t + _uniform(k2, r.push_interval), info["push_time"])
    return qvel, {**info, "rng": k3, "push_time": next_time}


def pre_physics(ctx: EnvContext, action: jax.Array, info: Dict[str, Any], qvel: jax.Array):
    """Before the substeps: (ctrl, qvel with push, info, aux) — aux feeds ``post_physics``."""
    ctrl, action, residual, ik_sat = action_to_ctrl(ctx, action, info)
    qvel, info = apply_push(ctx, qvel, info)
    info = {**info, "residual": residual}
    return ctrl, qvel, info, dict(action=action, ik_saturated=ik_sat)


def _physics_bad(meas: Measurements) -> jax.Array:
    bad = ~(jnp.all(jnp.isfinite(meas.qpos)) & jnp.all(jnp.isfinite(meas.qvel)))
    return bad | jnp.any(jnp.abs(meas.qvel) > NAN_QVEL_LIMIT)


def terrain_sample_points(meas: Measurements) -> jax.Array:
    """World (x, y) of the terrain samples, (4 feet, 5 offsets, 2): ``TERRAIN_OFFSETS`` around each
    foot, rotated by the trunk's yaw (body-yaw frame: sample 1, +0.1 m in x, is ahead of the foot
    whichever way the robot faces)."""
    offs = jnp.asarray(obs_lib.TERRAIN_OFFSETS)  # (5, 2), body-yaw frame
    yaw = yaw_of(meas.trunk_quat)
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    world = jnp.stack([c * offs[:, 0] - s * offs[:, 1], s * offs[:, 0] + c * offs[:, 1]], axis=-1)
    return meas.foot_pos[:, None, :2] + world[None]


def _terrain_samples(ctx: EnvContext, meas: Measurements) -> Optional[jax.Array]:
    if not ctx.env.terrain_observation:
        return None
    pts = terrain_sample_points(meas)
    h = terrain_height(ctx, pts[..., 0], pts[..., 1])
    return (h - meas.foot_pos[:, None, 2]).reshape(-1)


def observe(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> jax.Array:
    contact = meas.foot_force > ctx.env.contact_force_threshold
    return obs_lib.build_observation(meas, jnp.asarray(ctx.home_joints), info["gait"].phase, contact,
                                     info["command"], info["last_action"], _terrain_samples(ctx, meas))


def initial_observation(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> jax.Array:
    return observe(ctx, meas, info)


def zero_metrics(ctx: EnvContext) -> Dict[str, jax.Array]:
    """Metrics dict with every key ``post_physics`` produces, all zero (for reset states)."""
    names = ["reward/" + n for n in dataclasses.asdict(ctx.env.reward_weights)] + list(METRIC_NAMES)
    return {n: jnp.zeros(()) for n in names}


METRIC_NAMES = ("forward_velocity", "vel_tracking_error", "yaw_rate_error", "distance_step", "fell",
                 "nan_physics", "off_map", "out_of_bounds", "joint_limit_violations", "actuator_saturated",
                 "ik_saturated", "body_contacts", "terrain_level", "terrain_type", "curriculum_promoted",
                 "curriculum_demoted", "power")
"""Env metrics besides the ``reward/<term>`` ones (per control step; docs/residual_learning.md)."""


def off_map(ctx: EnvContext, trunk_pos: jax.Array) -> jax.Array:
    """True when the trunk is beyond the heightfield's x/y extent (rough world; margins 0.3 m in
    x, 0.2 m in y). There is no floor outside, so the episode must end there: as a truncation."""
    if not ctx.rough:
        return jnp.zeros((), bool)
    if ctx.suite is not None:  # the suite has a flat border inside the heightfield: leave 0.3 m before its edge
        return terrain.suite_off_map(trunk_pos[0], trunk_pos[1], ctx.suite, margin=0.3)
    spec = terrain.DEFAULT_TERRAIN
    return (jnp.abs(trunk_pos[0]) > spec.size_x - 0.3) | (jnp.abs(trunk_pos[1]) > spec.size_y - 0.2)


def post_physics(ctx: EnvContext, meas: Measurements, info: Dict[str, Any], aux: Dict[str, jax.Array]):
    """After the substeps: (obs, reward, done, metrics, info).

    ``done`` = 1 when the episode ends here: terminated (fall, NaN physics) or truncated by
    leaving the map. A truncation sets ``info["truncation"]`` = 1 together with ``done`` = 1
    (brax's convention; the training wrapper adds its time-limit truncations, the Gymnasium twin
    reports ``terminated=False, truncated=True``). ``info["fell"]`` / ``info["off_map"]`` record
    how the episode ended for the curriculum.
    """
    cfg = ctx.env
    bad = _physics_bad(meas)
    # sanitise so that NaN never leaves this function (the episode ends; auto-reset replaces data)
    meas = jax.tree.map(lambda v: jnp.where(bad, jnp.zeros_like(v), jnp.nan_to_num(v)), meas)
    meas = meas.replace(trunk_quat=jnp.where(bad, jnp.array([1.0, 0, 0, 0]), meas.trunk_quat))
    contact = meas.foot_force > cfg.contact_force_threshold
    gravity = gravity_in_body(meas.trunk_quat)
    joints_near = safety.joints_near_limit(meas.joint_pos, ctx.joint_lower, ctx.joint_upper)
    violations = safety.joint_limit_violations(meas.joint_pos, ctx.joint_lower, ctx.joint_upper)
    act_sat = safety.actuator_saturations(meas.actuator_force, ctx.force_limit * info["dr"]["motor_strength"])
    body_contacts = jnp.sum(meas.body_contact_force > cfg.contact_force_threshold).astype(jnp.float32)
    rin = RewardInputs(lin_vel=meas.lin_vel, ang_vel=meas.ang_vel, command=info["command"], gravity=gravity,
                       joint_vel=meas.joint_vel, actuator_force=meas.actuator_force, foot_contact=contact,
                       foot_vel=meas.foot_vel, body_contacts=body_contacts, joints_near_limit=joints_near,
                       actuators_saturated=act_sat, ik_saturated=aux["ik_saturated"], action=aux["action"],
                       last_action=info["last_action"])
    reward, terms = compute_reward(rin, cfg.reward_weights)

    # termination
    roll, pitch = roll_pitch(meas.trunk_quat)
    ground = terrain_height(ctx, meas.trunk_pos[0], meas.trunk_pos[1])
    low = meas.trunk_pos[2] - ground < cfg.min_base_height
    tilted = (jnp.abs(roll) > cfg.max_roll) | (jnp.abs(pitch) > cfg.max_pitch)
    fell = low | tilted
    terminated = fell | bad
    truncated = off_map(ctx, meas.trunk_pos) & ~terminated  # left the map: not a failure
    done = terminated | truncated

    # bookkeeping
    xy = jnp.where(bad, info["last_xy"], meas.trunk_pos[:2])
    heading = jnp.stack([jnp.cos(info["heading"]), jnp.sin(info["heading"])])
    dist_step = jnp.dot(xy - info["last_xy"], heading)
    info = track_command(ctx, info, xy)
    info = {**info, "gait": ctx.controller.advance(info["gait"], ctx.sim.control_dt),
            "last_action": aux["action"], "step": info["step"] + 1,
            "last_xy": xy, "distance": info["distance"] + dist_step,
            "fell": terminated.astype(jnp.float32), "off_map": truncated.astype(jnp.float32),
            "truncation": truncated.astype(jnp.float32)}
    # what the curriculum will do if the episode ends here (logged at the episode's last step;
    # the time limit counted as the env's own episode_steps)
    last = done | (info["step"] >= ctx.episode_steps)
    promote, demote = curriculum_outcome(ctx, info)
    obs = observe(ctx, meas, info)
    reward = jnp.where(bad, 0.0, reward)
    metrics = {"reward/" + k: jnp.where(bad, 0.0, v) for k, v in terms.items()}
    metrics.update(
        forward_velocity=meas.lin_vel[0],
        vel_tracking_error=jnp.linalg.norm(info["command"][:2] - meas.lin_vel[:2]),
        yaw_rate_error=jnp.abs(info["command"][2] - meas.ang_vel[2]),
        distance_step=dist_step, fell=fell.astype(jnp.float32), nan_physics=bad.astype(jnp.float32),
        off_map=truncated.astype(jnp.float32), out_of_bounds=truncated.astype(jnp.float32),
        joint_limit_violations=violations,
        actuator_saturated=act_sat, ik_saturated=aux["ik_saturated"], body_contacts=body_contacts,
        terrain_level=info["terrain_level"].astype(jnp.float32),
        terrain_type=info["terrain_type"].astype(jnp.float32),
        curriculum_promoted=(last & promote).astype(jnp.float32),
        curriculum_demoted=(last & demote).astype(jnp.float32),
        power=jnp.sum(jnp.abs(meas.actuator_force * meas.joint_vel)),
    )
    metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
    return obs, reward.astype(jnp.float32), done.astype(jnp.float32), metrics, info


# ------------------------------------------------------------------------ domain randomisation

def randomized_model_fields(ctx: EnvContext, base: Dict[str, Any], dr: Dict[str, jax.Array]) -> Dict[str, Any]:
    """Model arrays for this episode's friction/mass/strength draw (base = nominal arrays)."""
    s = dr["motor_strength"]
    base = {k: jnp.asarray(v) for k, v in base.items()}
    friction = base["geom_friction"].at[:, 0].multiply(dr["friction_scale"])
    mass = base["body_mass"].at[ctx.trunk_body].add(dr["trunk_mass_delta"])
    gain = base["actuator_gainprm"].at[:, 0].multiply(s)
    bias = base["actuator_biasprm"].at[:, 1].multiply(s)
    frange = base["actuator_forcerange"] * s
    return dict(geom_friction=friction, body_mass=mass, actuator_gainprm=gain, actuator_biasprm=bias,
                actuator_forcerange=frange)


DR_FIELDS = ("geom_friction", "body_mass", "actuator_gainprm", "actuator_biasprm", "actuator_forcerange")

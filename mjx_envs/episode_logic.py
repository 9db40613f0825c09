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

from gait.bezier_gait import GaitState, stepping_target
from gait.command_limits import check_command_ranges
from gait.controller import BezierController
from gait.gait_config import GaitConfig
from ik.leg_geometry import LegGeometry
from mjx_envs import observation as obs_lib
from mjx_envs import safety
from mjx_envs.env_config import EnvConfig
from mjx_envs.episode_commands import (  # noqa: F401  (the episode's command schedule and curriculum)
    _uniform,
    curriculum_outcome,
    draw_command,
    heading_command,
    next_level,
    track_command,
    update_command,
)
from mjx_envs.measurements import Measurements, SensorIndex, gravity_in_body, roll_pitch, sensor_index, yaw_of
from mjx_envs.rewards import RewardInputs, compute_reward
from model import loading, terrain
from model import robot_constants as rc
from model.robot_spec import robot_spec, trunk_body
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
    home_trunk_height: float = rc.HOME_TRUNK_HEIGHT  # m above the ground at spawn (the model's home keyframe)
    rough_terrain: terrain.TerrainSpec = terrain.DEFAULT_TERRAIN  # the rough world's grid, from its hfield
    qpos_adr: Tuple[int, ...] = tuple(range(7, 19))  # the 12 joints' qpos addresses, stack order

    @property
    def action_size(self) -> int:
        """12 (foot residuals or joint targets) + 3 gait-modulation actions in ``modulated`` mode."""
        return self.env.action_size

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
        return self.suite.num_levels if self.suite is not None else self.rough_terrain.num_bands

    @property
    def num_types(self) -> int:
        """Number of terrain types: ``terrain_type`` is in [0, num_types) (suite:
        ``model.terrain.TERRAIN_TYPES``; rough and flat: 1, the random relief)."""
        return self.suite.num_types if self.suite is not None else 1

    @property
    def terrain_spec(self):
        """The grid geometry of ``heights``: the suite's SuiteSpec or the rough world's TerrainSpec."""
        return self.suite if self.suite is not None else self.rough_terrain


def make_context(sim: SimulationConfig, env: EnvConfig, gait: GaitConfig,
                 mj_model: Optional[mujoco.MjModel] = None) -> EnvContext:
    m = mj_model if mj_model is not None else loading.load_mj_model(sim)
    jid = m.actuator_trnid[:, 0]
    spec = robot_spec(m, sim.robot_file)  # the leg geometry and home pose come from the model
    geometry = LegGeometry.from_robot_spec(spec)
    gait = gait.for_robot(geometry)  # gait sizes left 'auto' follow the robot's leg length
    c = env.command
    check_command_ranges(c.vx, c.vy, c.yaw_rate, gait, geometry)  # with this robot's hip positions
    return EnvContext(
        sim=sim, env=env, gait=gait, mj_model=m,
        controller=BezierController(config=gait, geometry=geometry),
        idx=sensor_index(m), home_joints=np.asarray(spec.home_joints, np.float32),
        joint_lower=m.jnt_range[jid, 0].astype(np.float32), joint_upper=m.jnt_range[jid, 1].astype(np.float32),
        force_limit=np.abs(m.actuator_forcerange[:, 1]).astype(np.float32),
        heights=loading.terrain_heights(m), trunk_body=trunk_body(m),
        episode_steps=int(round(env.episode_length_s / sim.control_dt)),
        suite=terrain.default_suite_spec() if sim.world == "suite" else None,
        home_trunk_height=spec.home_trunk_height,
        rough_terrain=terrain.spec_of_model(m) if (m.nhfield and sim.world != "suite") else terrain.DEFAULT_TERRAIN,
        qpos_adr=spec.qpos_adr,
    )


def terrain_height(ctx: EnvContext, x, y):
    """Ground height (m) at world (x, y); 0 on the flat world."""
    if ctx.heights is None:
        return jnp.zeros_like(jnp.asarray(x, jnp.float32))
    return terrain.height_at(jnp.asarray(ctx.heights), x, y, ctx.terrain_spec)


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


def sample_episode(ctx: EnvContext, rng: jax.Array, level: Optional[jax.Array] = None,
                   terrain_type: Optional[jax.Array] = None) -> Tuple[jax.Array, jax.Array, Dict[str, Any]]:
    """Everything random about one episode, from one key: (qpos (19,), qvel (18,), info).

    ``level`` is the terrain-curriculum level (rough world: the difficulty band of the spawn;
    suite: the difficulty row); None (or a negative value) draws it uniformly from [0,
    curriculum.initial_max_level]. ``terrain_type`` (suite only: index into
    ``model.terrain.TERRAIN_TYPES``) is drawn uniformly from the key when None (or negative),
    so every episode of a training env lands on a fresh type.
    Deterministic in ``rng``.
    """
    cfg, r = ctx.env, ctx.env.randomization
    keys = jax.random.split(rng, 13)
    level = _given_or_drawn(level, jax.random.randint(keys[3], (), 0, cfg.curriculum.initial_max_level + 1))
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
    c = cfg.command
    command_time = _uniform(keys[1], c.resample_interval) if c.resample else jnp.full((), jnp.inf)
    push_time = _uniform(keys[12], cfg.pushes.interval) if cfg.pushes.enabled else jnp.full((), jnp.inf)
    info = dict(
        rng=keys[11], command=command.astype(jnp.float32), gait=GaitState.create(phase, stepping_target(
            command, ctx.gait, ctx.controller.geometry)),
        # the command schedule: next re-draw time (s since reset), heading-hold mode and its target
        command_time=jnp.asarray(command_time, jnp.float32), heading_mode=heading_mode.astype(jnp.float32),
        target_heading=jnp.asarray(target_heading, jnp.float32),
        last_action=jnp.zeros(ctx.action_size), pending_action=jnp.zeros(ctx.action_size),
        residual=jnp.zeros((4, 3)), modulation=jnp.zeros((3,)), pushed=jnp.zeros(()),
        step=jnp.zeros((), jnp.int32), terrain_level=level, terrain_type=terrain_type,
        start_xy=jnp.stack([x, y]).astype(jnp.float32), last_xy=jnp.stack([x, y]).astype(jnp.float32),
        heading=yaw.astype(jnp.float32), distance=jnp.zeros(()),
        # curriculum bookkeeping (track_command / curriculum_outcome): the commanded pose
        # integrated from the start pose, the commanded path length and the trunk's progress
        # along the commanded path; how the episode ended.
        cmd_xy=jnp.stack([x, y]).astype(jnp.float32), cmd_yaw=yaw.astype(jnp.float32),
        cmd_path=jnp.zeros(()), progress=jnp.zeros(()),
        fell=jnp.zeros(()), off_map=jnp.zeros(()), truncation=jnp.zeros(()),
        push_time=jnp.asarray(push_time, jnp.float32),
        dr={k: jnp.asarray(v, jnp.float32) for k, v in dr.items()},
    )
    return qpos.astype(jnp.float32), qvel.astype(jnp.float32), info


# ------------------------------------------------------------------------- domain randomisation

DR_NAMES = ("friction", "trunk_mass", "com_offset", "link_mass", "motor_strength", "kp", "kv")


def _dr_shapes(ctx: EnvContext) -> Dict[str, Tuple[int, ...]]:
    nu = ctx.mj_model.nu
    return dict(friction=(), trunk_mass=(), com_offset=(2,), link_mass=(ctx.mj_model.nbody,),
                motor_strength=(nu,), kp=(nu,), kv=(nu,))


def draw_domain(ctx: EnvContext, key: jax.Array) -> Dict[str, jax.Array]:
    """This episode's model-parameter draws (``EnvConfig.domain_randomization``), deterministic in
    ``key``: every name of :data:`DR_NAMES` is present; a switched-off one holds its neutral value
    (1 for a scale, 0 for an offset), which leaves the model exactly as it is."""
    d = ctx.env.domain_randomization
    shapes = _dr_shapes(ctx)
    out = {}
    for i, name in enumerate(DR_NAMES):
        sw = getattr(d, name)
        neutral = 0.0 if name in ("trunk_mass", "com_offset") else 1.0
        if sw.enabled:
            out[name] = _uniform(jax.random.fold_in(key, i), sw.range, shapes[name])
        else:
            out[name] = jnp.full(shapes[name], neutral)
    # world body and trunk keep their masses (the trunk has its own switch)
    out["link_mass"] = out["link_mass"].at[0].set(1.0).at[ctx.trunk_body].set(1.0)
    return {k: jnp.asarray(v, jnp.float32) for k, v in out.items()}


_NOISE_SALT = 0x0B5E  # folded into info["rng"] for the observation noise
_TYPE_SALT = 0x7E44  # folded into the reset key for the suite's terrain type


def stand_ctrl(ctx: EnvContext, qpos: jax.Array) -> jax.Array:
    """Servo targets at reset: the joint angles the episode starts in (stack order)."""
    return qpos[..., jnp.asarray(ctx.qpos_adr)]


# ------------------------------------------------------------------------------------ one step

def modulation_scales(ctx: EnvContext, modulation: jax.Array) -> Tuple[jax.Array, jax.Array, jax.Array]:
    """(frequency scale [-], swing-height scale [-], body height [m]) of the filtered modulation
    state (3,) (``EnvConfig.modulation``); zeros give (1, 1, gait.body_height): the nominal gait."""
    return 1.0 + modulation[0], 1.0 + modulation[1], ctx.gait.body_height + modulation[2]


def action_to_ctrl(ctx: EnvContext, action: jax.Array, info: Dict[str, Any]
                   ) -> Tuple[jax.Array, jax.Array, Dict[str, Any], jax.Array]:
    """Map a policy action in [-1, 1]^action_size to servo targets.

    residual mode: per-foot xyz residual ``action * residual_max`` (m, hip frame), low-pass
    filtered, added to the Bézier targets, then IK. modulated mode: the same for actions 0..11,
    and actions 12..14 modulate the gait (step frequency, swing height, body height within
    ``EnvConfig.modulation``'s bounds, low-pass filtered). direct mode: home pose + ``action *
    direct_scale`` (rad), no gait. With ``action_latency`` the previous step's action drives the
    servos and this one waits a step. Returns (ctrl (12,), clipped action, info with the new
    filter states, number of IK-saturated legs).
    """
    action = jnp.clip(jnp.nan_to_num(action, nan=0.0), -1.0, 1.0)
    cfg = ctx.env
    applied = info["pending_action"] if cfg.action_latency else action
    info = {**info, "pending_action": action}
    if cfg.action_mode == "direct":
        ctrl = jnp.clip(jnp.asarray(ctx.home_joints) + cfg.direct_scale * applied, ctx.joint_lower, ctx.joint_upper)
        return ctrl, action, info, jnp.zeros(())
    target = jnp.reshape(applied[:12], (4, 3)) * cfg.residual_max
    residual = cfg.action_filter * target + (1.0 - cfg.action_filter) * info["residual"]
    modulation = info["modulation"]
    if cfg.action_mode == "modulated":
        m = cfg.modulation
        new = applied[12:15] * jnp.asarray([m.frequency, m.swing_height, m.body_height])
        modulation = m.filter * new + (1.0 - m.filter) * modulation
    freq, swing, height = modulation_scales(ctx, modulation)
    out = ctx.controller.joint_targets(info["gait"], info["command"], height, residual, swing, freq)
    info = {**info, "residual": residual, "modulation": modulation}
    return out.joint_targets, action, info, jnp.sum(out.saturated).astype(jnp.float32)


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
    return kick, {**info, "rng": k3, "push_time": next_time.astype(jnp.float32),
                  "pushed": fire.astype(jnp.float32)}


def pre_physics(ctx: EnvContext, action: jax.Array, info: Dict[str, Any]):
    """Before the substeps: (ctrl (12,), kick (2,), info, aux). The back end sets ``ctrl``, adds
    ``kick`` to the trunk's world-frame velocity ``qvel[0:2]`` and steps; ``aux`` feeds
    ``post_physics``."""
    ctrl, action, info, ik_sat = action_to_ctrl(ctx, action, info)
    kick, info = apply_push(ctx, info)
    return ctrl, kick, info, dict(action=action, ik_saturated=ik_sat)


def _physics_bad(meas: Measurements) -> jax.Array:
    bad = ~(jnp.all(jnp.isfinite(meas.qpos)) & jnp.all(jnp.isfinite(meas.qvel)))
    return bad | jnp.any(jnp.abs(meas.qvel) > NAN_QVEL_LIMIT)


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
    """The observation (``mjx_envs/observation.py``), with the sensor noise of
    ``EnvConfig.observation_noise`` when it is on (uniform, drawn from ``info["rng"]``)."""
    contact = meas.foot_force > ctx.env.contact_force_threshold
    obs = obs_lib.build_observation(meas, jnp.asarray(ctx.home_joints), info["gait"].phase, contact,
                                    info["command"], info["last_action"], _terrain_samples(ctx, meas))
    noise = ctx.env.observation_noise
    if not noise.enabled:
        return obs
    half = jnp.asarray(obs_lib.noise_half_widths(noise, ctx.action_size, ctx.env.terrain_observation))
    u = jax.random.uniform(jax.random.fold_in(info["rng"], _NOISE_SALT), obs.shape, minval=-1.0, maxval=1.0)
    return jnp.clip(obs + u * half, -obs_lib.CLIP, obs_lib.CLIP)


def initial_observation(ctx: EnvContext, meas: Measurements, info: Dict[str, Any]) -> jax.Array:
    return observe(ctx, meas, info)


def zero_metrics(ctx: EnvContext) -> Dict[str, jax.Array]:
    """Metrics dict with every key ``post_physics`` produces, all zero (for reset states)."""
    names = ["reward/" + n for n in dataclasses.asdict(ctx.env.reward_weights)] + list(METRIC_NAMES)
    return {n: jnp.zeros(()) for n in names}


METRIC_NAMES = ("forward_velocity", "vel_tracking_error", "yaw_rate_error", "distance_step", "fell",
                 "nan_physics", "off_map", "out_of_bounds", "joint_limit_violations", "actuator_saturated",
                 "ik_saturated", "body_contacts", "terrain_level", "terrain_type", "curriculum_promoted",
                 "curriculum_demoted", "power",
                 "command/vx", "command/vy", "command/yaw_rate", "command/zero", "command/heading_mode",
                 "push/kicks", "gait/activity", "gait/frequency_scale", "gait/swing_scale", "gait/body_height",
                 *("dr/" + n for n in DR_NAMES))
"""Env metrics besides the ``reward/<term>`` ones (per control step; docs/residual_learning.md)."""


def fall_condition(height, roll, pitch, env: EnvConfig):
    """The one fall rule (it ends an episode as a failure; ``playback.nominal`` applies it too):
    trunk origin lower than ``env.min_base_height`` above the ground below it [m], or
    |roll| > ``env.max_roll`` or |pitch| > ``env.max_pitch`` [rad]. Works on JAX and numpy values."""
    return (height < env.min_base_height) | (abs(roll) > env.max_roll) | (abs(pitch) > env.max_pitch)


def off_map(ctx: EnvContext, trunk_pos: jax.Array) -> jax.Array:
    """True when the trunk is beyond the heightfield's x/y extent (rough world; margins 0.3 m in
    x, 0.2 m in y). There is no floor outside, so the episode must end there: as a truncation."""
    if not ctx.rough:
        return jnp.zeros((), bool)
    if ctx.suite is not None:  # the suite has a flat border inside the heightfield: leave 0.3 m before its edge
        return terrain.suite_off_map(trunk_pos[0], trunk_pos[1], ctx.suite, margin=0.3)
    spec = ctx.rough_terrain  # the compiled heightfield's extent
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
    applied_command = info["command"]  # the command this step was taken under (rewarded, tracked)
    body_contacts = jnp.sum(body_contact_zones(ctx, meas)).astype(jnp.float32)
    rin = RewardInputs(lin_vel=meas.lin_vel, ang_vel=meas.ang_vel, command=info["command"], gravity=gravity,
                       joint_vel=meas.joint_vel, actuator_force=meas.actuator_force, foot_contact=contact,
                       foot_vel=meas.foot_vel, body_contacts=body_contacts, joints_near_limit=joints_near,
                       actuators_saturated=act_sat, ik_saturated=aux["ik_saturated"], action=aux["action"],
                       last_action=info["last_action"])
    reward, terms = compute_reward(rin, cfg.reward_weights)

    # termination
    roll, pitch = roll_pitch(meas.trunk_quat)
    ground = terrain_height(ctx, meas.trunk_pos[0], meas.trunk_pos[1])
    fell = fall_condition(meas.trunk_pos[2] - ground, roll, pitch, cfg)
    terminated = fell | bad
    truncated = off_map(ctx, meas.trunk_pos) & ~terminated  # left the map: not a failure
    done = terminated | truncated

    # bookkeeping
    xy = jnp.where(bad, info["last_xy"], meas.trunk_pos[:2])
    heading = jnp.stack([jnp.cos(info["heading"]), jnp.sin(info["heading"])])
    dist_step = jnp.dot(xy - info["last_xy"], heading)
    info = track_command(ctx, info, xy)
    freq, swing, height = modulation_scales(ctx, info["modulation"])
    info = {**info, "gait": ctx.controller.advance(info["gait"], ctx.sim.control_dt, info["command"], freq),
            "last_action": aux["action"], "step": info["step"] + 1,
            "last_xy": xy, "distance": info["distance"] + dist_step,
            "fell": terminated.astype(jnp.float32), "off_map": truncated.astype(jnp.float32),
            "truncation": truncated.astype(jnp.float32)}
    # what the curriculum will do if the episode ends here (logged at the episode's last step;
    # the time limit counted as the env's own episode_steps)
    last = done | (info["step"] >= ctx.episode_steps)
    promote, demote = curriculum_outcome(ctx, info)
    info = update_command(ctx, info, yaw_of(meas.trunk_quat))  # the next step's command, observed now
    obs = observe(ctx, meas, info)
    reward = jnp.where(bad, 0.0, reward)
    metrics = {"reward/" + k: jnp.where(bad, 0.0, v) for k, v in terms.items()}
    metrics.update(
        forward_velocity=meas.lin_vel[0],
        vel_tracking_error=jnp.linalg.norm(applied_command[:2] - meas.lin_vel[:2]),
        yaw_rate_error=jnp.abs(applied_command[2] - meas.ang_vel[2]),
        distance_step=dist_step, fell=fell.astype(jnp.float32), nan_physics=bad.astype(jnp.float32),
        off_map=truncated.astype(jnp.float32), out_of_bounds=truncated.astype(jnp.float32),
        joint_limit_violations=violations,
        actuator_saturated=act_sat, ik_saturated=aux["ik_saturated"], body_contacts=body_contacts,
        terrain_level=info["terrain_level"].astype(jnp.float32),
        terrain_type=info["terrain_type"].astype(jnp.float32),
        curriculum_promoted=(last & promote).astype(jnp.float32),
        curriculum_demoted=(last & demote).astype(jnp.float32),
        power=jnp.sum(jnp.abs(meas.actuator_force * meas.joint_vel)),
        **{"command/vx": applied_command[0], "command/vy": applied_command[1],
           "command/yaw_rate": applied_command[2],
           "command/zero": jnp.all(applied_command == 0).astype(jnp.float32),
           "command/heading_mode": info["heading_mode"], "push/kicks": info["pushed"],
           "gait/activity": info["gait"].activity, "gait/frequency_scale": freq,
           "gait/swing_scale": swing, "gait/body_height": height},
        **{"dr/" + k: jnp.mean(v) if k != "link_mass" else jnp.mean(v[1:]) for k, v in info["dr"].items()},
    )
    metrics = {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}
    return obs, reward.astype(jnp.float32), done.astype(jnp.float32), metrics, info


# ------------------------------------------------------------------------ domain randomisation

def randomized_model_fields(ctx: EnvContext, base: Dict[str, Any], dr: Dict[str, Any], xp=jnp) -> Dict[str, Any]:
    """Model arrays for this episode's draws (:func:`draw_domain`; ``base`` = nominal arrays).

    friction -> ``geom_friction[:, 0]``; trunk_mass -> ``body_mass[trunk]``; com_offset ->
    ``body_ipos[trunk, :2]``; link_mass -> ``body_mass``, ``body_inertia`` of the other bodies;
    motor_strength -> ``actuator_forcerange``; kp -> ``actuator_gainprm[:, 0]`` and
    ``-actuator_biasprm[:, 1]``; kv -> ``-actuator_biasprm[:, 2]``. Written with broadcasting only,
    so ``xp`` = ``jax.numpy`` (MJX, float32) or ``numpy`` (the C-MuJoCo twin, in float64: its
    float64 model arrays are not rounded); neutral draws return the base arrays bit for bit.
    """
    dt = xp.asarray(base["body_mass"]).dtype
    d = {k: xp.asarray(v, dt) for k, v in dr.items()}
    b = {k: xp.asarray(v) for k, v in base.items()}
    nbody = b["body_mass"].shape[0]
    trunk = xp.asarray(np.arange(nbody) == ctx.trunk_body, dt)  # (nbody,) one-hot
    col = lambda n, i: xp.asarray(np.arange(n) == i, dt)  # noqa: E731  one-hot column selector
    one = xp.ones((), dt)
    friction = b["geom_friction"] * xp.stack([d["friction"], one, one])
    mass = b["body_mass"] * d["link_mass"] + trunk * d["trunk_mass"]
    inertia = b["body_inertia"] * d["link_mass"][:, None]
    ipos = b["body_ipos"] + trunk[:, None] * xp.concatenate([d["com_offset"], xp.zeros((1,), dt)])[None, :]
    ng, nb = b["actuator_gainprm"].shape[1], b["actuator_biasprm"].shape[1]
    gain = b["actuator_gainprm"] * (1.0 + (d["kp"] - 1.0)[:, None] * col(ng, 0))
    bias = b["actuator_biasprm"] * (1.0 + (d["kp"] - 1.0)[:, None] * col(nb, 1) + (d["kv"] - 1.0)[:, None] * col(nb, 2))
    frange = b["actuator_forcerange"] * d["motor_strength"][:, None]
    return dict(geom_friction=friction, body_mass=mass, body_inertia=inertia, body_ipos=ipos,
                actuator_gainprm=gain, actuator_biasprm=bias, actuator_forcerange=frange)


DR_FIELDS = ("geom_friction", "body_mass", "body_inertia", "body_ipos", "actuator_gainprm", "actuator_biasprm",
             "actuator_forcerange")

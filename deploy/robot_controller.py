"""What a robot runs every control step: gait clock, Bézier feet, residual, IK, observation, policy.

NumPy and the standard library only (no JAX, no MuJoCo, nothing else of this repository but two
modules of deploy/), so a robot program imports it, or copies this file with
``deploy/bezier_curves.py`` (the swing curves) and ``deploy/robot_footholds.py`` (the footholds).
:class:`Controller` is the loop: ``observe`` the sensors, ``act`` (servo targets), let the servos
track them for one control step, then ``after_physics`` (next observation). :class:`Robot` reads
the sensor addresses from an MjModel-like object (``sensor_adr``, ``sensor(name)``, ``body(name)``:
the export's adapted MJCF compiled by MuJoCo, or the same layout from the robot's own driver).
:mod:`deploy.robot_loop` runs this loop in MuJoCo simulation (``python -m deploy.robot_loop
EXPORT_DIR``).
It re-implements, in float64 numpy, what the training env (``mjx_envs/episode_logic.py``,
``gait/bezier_gait.py``, ``ik/leg_ik.py``, ``mjx_envs/observation.py``) computes in JAX;
``tests/test_robot_loop.py`` checks that both agree step by step.

Robot-side contract
===================

Inputs, all from the export directory:
  ``meta.json``  ``config.gait`` (trot clock and foot curve), ``config.env`` (``action_mode`` must
                 be ``residual``; ``residual_max``, ``action_filter``, ``action_latency``,
                 ``contact_force_threshold``), ``config.simulation`` (``control_dt``, ``physics_dt``,
                 ``flat_xml``, ``kp``/``kv``), ``observation_layout`` (channel order, sizes, scales).
  ``policy.onnx`` input ``obs`` [batch, obs_size] float32 (the raw observation below; the graph
                 normalises it), output ``action`` [batch, 12] in [-1, 1].
  ``robot/``     the robot model the policy was trained on (MJCF and every file it names, and
                 ``adapted_robot.xml``: the robot as the stack compiles it, with the stack's sensors and
                 actuator order whatever the original's conventions; SHA-256 of each in ``meta["robot"]``;
                 a changed file is refused by name). ``meta["robot"]["kinematics"]``: the trunk, hip
                 offsets, leg chains (p1, p2, p3, axis signs, reference angles, limits), foot radius and
                 home pose. Exports without them use ``model/robot.xml`` and its body names.

Timing: the policy runs at 1 / control_dt (50 Hz); the 12 joint position servos (kp, kv in the
MJCF) track the targets between control steps (in simulation: ``control_dt / physics_dt`` physics
steps). One control step, in this order:

  1. action = clip(policy(obs), -1, 1)                         (the previous step's one if
     ``action_latency``)
  2. residual = f * action.reshape(4, 3) * residual_max * gate + (1 - f) * residual   (m, hip
     frames; f = ``action_filter``; gate = s + (1 - s) * activity, s = ``residual_stand_scale``,
     1 by default; starts at 0)
  3. gait_command moves towards command by at most max_acceleration control_dt (vx, vy) and
     max_yaw_acceleration control_dt (yaw rate), at once where the limit is 0; starts at 0
     feet = bezier_feet(phase, activity, gait_command) + residual; q = leg_ik(feet)  -> ctrl (12,)
  4. servos track ctrl for control_dt
  5. phase = (phase + control_dt / period) mod 1;  activity moves towards stepping_target(gait_command)
     by at most control_dt / stand_transition;  last_action = action
  6. obs = observation(sensors, phase, command, last_action)   -> next policy call

Terrain input (:class:`TerrainInput`; only an export with ``gait.footholds.enabled`` needs it, and
is refused without it): the robot's height map ``height(x, y) -> z`` [m], elementwise over arrays,
and ``pose() -> (x, y, yaw)``, the trunk's position [m] and heading [rad] now, both in the robot's
own map frame (odometry / elevation map: fixed to the ground, z up; any origin). In simulation
(:func:`deploy.robot_loop.sim_terrain`): the world's heightfield and the trunk sensors.
Footholds (``gait.footholds``, :mod:`deploy.robot_footholds`, a mirror of ``gait/footholds.py``):
  at construction  the ground under each nominal foot at ``pose()``; shifts, steering 0.
  step 3           feet = bezier_feet(phase, activity, gait_command + (steer_x, steer_y, 0))
                   + foothold_offsets(leg phases) + residual: each foot's shift (xy) and ground -
                   mean ground (z), swing-blended by smoothstep, and the extra swing apex (z); not
                   scaled by activity.
  step 5           after the clock advance: legs whose leg phase entered swing (before < duty <=
                   after) while activity >= 1/2 get a new foothold, planned from ``pose()`` (read
                   after the physics) with the steered command, the
                   swing time left and half steps x activity: the cheapest cell of the
                   ``window_x`` x ``window_y`` grid around the predicted touchdown, its ground
                   height, the apex over the swing path; with ``steer_window`` > 0, a new
                   sideways steering velocity whenever a leg lifts off.

Gait clock and Bézier feet (legs FR, FL, RR, RL; side s = -1 right, +1 left; hip frame = origin at
the abduction joint, axes of the trunk: x forward, y left, z up; foot point = foot-sphere centre):
  leg phase  phi_i = (phase + offset_i) mod 1, trot offsets (0, .5, .5, 0); stance if phi_i < duty.
  nominal    p0_i = (foot_x_offset, L1_i + s foot_y_offset, -(body_height + hip_z_i - foot_radius)).
  foot speed v_i = (vx - wz r_iy, vy + wz r_ix), r_i = hip_offset_i + p0_i (x, y) in the body frame.
  half step  L_i = v_i duty period / 2, norm capped at max_step_length / 2.
  stance     u = phi/duty:  p = p0 + act ((1 - 2u) L, -penetration_depth sin(pi u)).
  swing      u = (phi-duty)/(1-duty): p = p0 + act (Bx(u) L, swing_height Bz(u)), 12-point Béziers
             X = (-1,-1.4,-1.5,-1.5,-1.5,0,0,0,1.5,1.5,1.4,1), Z = (0,0,.9,.9,.9,.9,.9,1.1,1.1,1.1,0,0)
             divided by the peak of its curve (so the peak is exactly swing_height).
  activity   1 walking, 0 standing (feet held at p0); target 0 when ``stand_still`` and every
             |v_i| < stand_speed, else 1.
Leg IK (closed form, per leg chain p1, p2, p3 at the reference pose, ``meta.robot.kinematics``;
  L1 = p1y + p2y + p3y, l1 = |L1|, w = z + i x for sagittal vectors): a target inside the hip
  cylinder |(y, z)| < l1 is pushed onto it; z' = -sqrt(y^2 + z^2 - l1^2); q0 = atan2(L1 z - z' y, L1 y + z' z);
  W = (z' - p1z) + i (x - p1x), D = |W| clamped to the reach the knee limits allow;
  cos(t2 + b) = (D^2 - |w2|^2 - |w3|^2) / (2 |w2| |w3|), b = arg w3 - arg w2, t2 = sigma acos(.) - b;
  t1 = arg W - arg(w2 + e^{i t2} w3); q = ref + sign * (t0, t1, t2), clipped to the joint limits.
  ctrl = q per leg, legs FR, FL, RR, RL (the actuator order).
Observation (float32; each channel times its scale, then clipped to +-10):
  channel       size  unit    scale  source
  gravity       3     -       1.0    (0, 0, -1) rotated into the trunk frame (IMU quaternion)
  lin_vel       3     m/s     2.0    trunk linear velocity, trunk frame (velocimeter / estimator)
  ang_vel       3     rad/s   0.25   gyro, trunk frame
  joint_pos     12    rad     1.0    joint encoders minus the home pose, actuator order
  joint_vel     12    rad/s   0.05   joint velocities, actuator order
  gait_phase    2     -       1.0    sin, cos of 2 pi phase (after this step's advance)
  foot_contact  4     -       1.0    1 where the foot's normal force > contact_force_threshold N
  command       3     m/s,m/s,rad/s 2.0  (vx, vy, yaw rate), trunk frame
  last_action   12    -       1.0    the action applied this step (clipped)
The layout is read from ``meta.json`` and checked against this list (a mismatch is refused).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np

from deploy.bezier_curves import SWING_X, SWING_Z, SWING_Z_RAW, bezier  # noqa: F401  (importable from here)
from deploy.robot_footholds import Footholds

LEGS = ("FR", "FL", "RR", "RL")
SIDES = np.array([-1.0, 1.0, -1.0, 1.0])
TROT_OFFSETS = {"trot": (0.0, 0.5, 0.5, 0.0), "pace": (0.0, 0.5, 0.0, 0.5), "bound": (0.0, 0.0, 0.5, 0.5)}
OBS_CLIP = 10.0
OBS_CHANNELS = (
    "gravity",
    "lin_vel",
    "ang_vel",
    "joint_pos",
    "joint_vel",
    "gait_phase",
    "foot_contact",
    "command",
    "last_action",
)
# GaitConfig defaults of fields that older exports' meta.json lacks (gait/gait_config.py)
GAIT_DEFAULTS = {
    "stand_still": True,
    "stand_speed": 0.05,
    "stand_transition": 0.2,
    "gait": "trot",
    "max_acceleration": 0.0,
    "max_yaw_acceleration": 0.0,
}


class Chain:
    """One leg at its reference pose (hip frame, trunk axes; ``model/leg_chain.py``): vectors
    abduction->hip joint ``p1``, hip->knee ``p2``, knee->foot centre ``p3`` [m], axis ``signs``
    (+-x, +-y, +-y), reference angles ``refs`` and limits ``lower``/``upper`` [rad]."""

    def __init__(self, p1, p2, p3, signs, refs, lower, upper):
        self.p1, self.p2, self.p3 = (np.asarray(v, float) for v in (p1, p2, p3))
        self.signs, self.refs = np.asarray(signs, float), np.asarray(refs, float)
        self.lower, self.upper = np.asarray(lower, float), np.asarray(upper, float)
        self.lateral = float(self.p1[1] + self.p2[1] + self.p3[1])  # signed, + left
        self.l2, self.l3 = math.hypot(self.p2[0], self.p2[2]), math.hypot(self.p3[0], self.p3[2])
        b = math.atan2(self.p3[0], self.p3[2]) - math.atan2(self.p2[0], self.p2[2])
        self.beta = b - 2.0 * math.pi * round(b / (2.0 * math.pi))  # knee fold offset
        lo, hi = sorted(self.signs[2] * (np.array([self.lower[2], self.upper[2]]) - self.refs[2]))
        self.sigma = -1.0 if hi + self.beta < 0.0 else 1.0  # side the knee folds to
        ends = [math.cos(v + self.beta) for v in (lo, hi)]
        self.cos_range = (min(ends), max(ends))
        reach = [math.sqrt(max(self.l2**2 + self.l3**2 + 2 * self.l2 * self.l3 * c, 0.0)) for c in ends]
        self.reach = (min(reach), max(reach))


def _has_body(m: Any, name: str) -> bool:
    try:
        m.body(name)
    except KeyError:
        return False
    return True


class Robot:
    """Leg chains, joint limits, home pose and sensor addresses of the export's robot: from
    ``meta["robot"]["kinematics"]`` when the export has it (any robot the stack trained, its adapted
    MJCF), else from the body names of the project's own robot files."""

    def __init__(self, m: Any, kinematics: Optional[Dict] = None):
        if kinematics is not None:
            self.hip = np.array(kinematics["hip_offsets"], float)  # (4, 3) trunk frame
            self.chains = [Chain(**c) for c in kinematics["chains"]]
            self.foot_radius = float(kinematics["foot_radius"])
            self.home = np.array(kinematics["home_joints"], float)
        elif not all(_has_body(m, f"{leg}_{p}") for leg in LEGS for p in ("hip", "thigh", "calf", "foot")):
            raise SystemExit(
                "robot_loop: this export has no meta.robot.kinematics and its robot is not built like "
                "model/robot.xml (bodies <leg>_hip/_thigh/_calf/_foot): re-export the run with this "
                "code (python -m train.export RUN)"
            )
        else:
            self.hip = np.array([m.body(f"{leg}_hip").pos for leg in LEGS], float)
            l1 = abs(float(m.body("FR_thigh").pos[1]))
            l2, l3 = -float(m.body("FR_calf").pos[2]), -float(m.body("FR_foot").pos[2])
            self.foot_radius = float(m.geom("FR_foot").size[0])
            jid = [m.joint(f"FR_{j}").id for j in ("abduction", "hip", "knee")]
            lower, upper = m.jnt_range[jid, 0], m.jnt_range[jid, 1]
            self.chains = [
                Chain((0, s * l1, 0), (0, 0, -l2), (0, 0, -l3), (1, 1, 1), (0, 0, 0), lower, upper) for s in SIDES
            ]
            self.home = np.array(m.key("home").qpos[7:19], float)
        self.lower = np.concatenate([c.lower for c in self.chains])
        self.upper = np.concatenate([c.upper for c in self.chains])
        adr = lambda name: int(m.sensor_adr[m.sensor(name).id])
        self.s_pos = adr("trunk_pos")
        self.s_quat, self.s_gyro, self.s_linvel = adr("trunk_quat"), adr("trunk_gyro"), adr("trunk_linvel")
        self.s_jpos = adr("FR_abduction_pos")  # 12 contiguous, actuator order
        self.s_jvel = adr("FR_abduction_vel")
        self.s_touch = [adr(f"{leg}_touch") for leg in LEGS]


class Gait:
    """The Bézier trot of ``meta["config"]["gait"]`` (gait/bezier_gait.py) for ``robot``."""

    def __init__(self, cfg: Dict, robot: Robot):
        self.cfg = {**GAIT_DEFAULTS, **cfg}
        self.robot = robot
        self.offsets = np.array(TROT_OFFSETS[self.cfg["gait"]])
        c = self.cfg
        lateral = np.array([ch.lateral for ch in robot.chains])
        self.nominal = np.stack(
            [
                np.full(4, c["foot_x_offset"]),
                lateral + SIDES * c["foot_y_offset"],
                -(c["body_height"] + robot.hip[:, 2] - robot.foot_radius),
            ],
            axis=-1,
        )  # (4, 3)

    def feet_in_body(self) -> np.ndarray:
        """(4, 2) nominal foot points in the body frame [m]: hip offset + nominal stance point (x, y)."""
        return self.robot.hip[:, :2] + self.nominal[:, :2]

    def leg_phases(self, phase: float) -> np.ndarray:
        """(4,) each leg's phase in [0, 1) at gait ``phase``."""
        return (phase + self.offsets) % 1.0

    def leg_velocities(self, command: np.ndarray) -> np.ndarray:
        r = self.feet_in_body()
        vx, vy, wz = command
        return np.stack([vx - wz * r[:, 1], vy + wz * r[:, 0]], axis=-1)

    def stepping_target(self, command: np.ndarray) -> float:
        if not self.cfg["stand_still"]:
            return 1.0
        return 1.0 if np.max(np.linalg.norm(self.leg_velocities(command), axis=-1)) >= self.cfg["stand_speed"] else 0.0

    def ramp_command(self, gait_command: np.ndarray, command: np.ndarray, dt: float) -> np.ndarray:
        """(3,) the command the gait steps to after ``dt`` seconds: ``gait_command`` moved towards
        ``command`` by at most max_acceleration dt (vx, vy) and max_yaw_acceleration dt (yaw rate);
        a limit of 0 takes that part at once."""
        c = self.cfg
        limits = np.array([c["max_acceleration"], c["max_acceleration"], c["max_yaw_acceleration"]], float)
        command = np.asarray(command, float)
        ramped = gait_command + np.clip(command - gait_command, -limits * dt, limits * dt)
        return np.where(limits > 0.0, ramped, command)

    def advance(self, phase: float, activity: float, command: np.ndarray, dt: float):
        """The gait clock after ``dt`` seconds: (phase, activity)."""
        phase = (phase + dt / self.cfg["period"]) % 1.0
        rate = dt / max(self.cfg["stand_transition"], 1e-6)
        activity = activity + float(np.clip(self.stepping_target(command) - activity, -rate, rate))
        return phase, activity

    def half_steps(self, command: np.ndarray) -> np.ndarray:
        """(4, 2) half step vectors L_i = v_i duty period / 2 [m], norm capped at max_step_length / 2."""
        c = self.cfg
        half = self.leg_velocities(command) * (0.5 * c["duty_factor"] * c["period"])
        cap = 0.5 * c["max_step_length"]
        for i in range(4):
            n = np.linalg.norm(half[i])
            if n > cap:
                half[i] *= cap / n
        return half

    def foot_targets(self, phase: float, activity: float, command: np.ndarray) -> np.ndarray:
        """(4, 3) foot-centre targets [m], each in its hip frame."""
        c = self.cfg
        duty = c["duty_factor"]
        half = self.half_steps(command)
        out = self.nominal.copy()
        for i, ph in enumerate(self.leg_phases(phase)):
            if ph < duty:
                u = ph / duty
                off = np.r_[(1.0 - 2.0 * u) * half[i], -c["penetration_depth"] * math.sin(math.pi * u)]
            else:
                u = min(max((ph - duty) / (1.0 - duty), 0.0), 1.0)
                off = np.r_[bezier(SWING_X, u) * half[i], c["swing_height"] * bezier(SWING_Z, u)]
            out[i] += activity * off
        return out


def leg_ik(target: np.ndarray, chain: Chain) -> np.ndarray:
    """(3,) joint angles (abduction, hip, knee) [rad] for a foot-centre target in the hip frame,
    with the saturation rule of ik/leg_ik.py (projection onto the workspace, then joint limits)."""
    x, y, z = np.clip(target, -1e3, 1e3)
    lat = chain.lateral
    l1, side = abs(lat), math.copysign(1.0, lat)
    r = math.hypot(y, z)
    if r < l1:  # inside the hip cylinder: push radially onto it (on the axis: zero abduction)
        y, z = (l1 * y / r, l1 * z / r) if r * r > 1e-12 else (side * l1, 0.0)
        zs = 0.0
    else:
        zs = -math.sqrt(max(y * y + z * z - l1 * l1, 0.0))
    q0 = math.atan2(lat * z - zs * y, lat * y + zs * z)
    x, zs = x - chain.p1[0], zs - chain.p1[2]  # sagittal plane, from the hip joint
    d = math.hypot(x, zs)
    d_min, d_max = chain.reach
    if d < d_min or d > d_max:  # clamp the sagittal distance to what the knee can reach
        dc = min(max(d, d_min), d_max)
        x, zs = (dc * x / d, dc * zs / d) if d * d > 1e-12 else (0.0, -dc)
    l2, l3 = chain.l2, chain.l3
    c2 = (x * x + zs * zs - l2 * l2 - l3 * l3) / (2.0 * l2 * l3)
    q2 = chain.sigma * math.acos(min(max(c2, chain.cos_range[0]), chain.cos_range[1])) - chain.beta
    p2, p3 = chain.p2, chain.p3
    kx = p2[0] + math.cos(q2) * p3[0] + math.sin(q2) * p3[2]
    kz = p2[2] - math.sin(q2) * p3[0] + math.cos(q2) * p3[2]
    q1 = math.atan2(x, zs) - math.atan2(kx, kz)
    q = chain.refs + chain.signs * np.array([q0, q1, q2])  # canonical -> model angles
    mid = 0.5 * (chain.lower + chain.upper)
    q -= 2.0 * math.pi * np.round((q - mid) / (2.0 * math.pi))
    return np.clip(q, chain.lower, chain.upper)


def joint_targets(feet: np.ndarray, robot: Robot) -> np.ndarray:
    """(12,) servo targets [rad] in actuator order from (4, 3) hip-frame foot targets."""
    return np.concatenate([leg_ik(feet[i], robot.chains[i]) for i in range(4)])


def observation(
    robot: Robot,
    sensordata: np.ndarray,
    phase: float,
    command: np.ndarray,
    last_action: np.ndarray,
    scales: Dict[str, float],
    contact_threshold: float,
) -> np.ndarray:
    """The policy input (float32, obs_size) from the sensors and the loop's state."""
    sd = np.asarray(sensordata, float)
    w, xyz = sd[robot.s_quat], sd[robot.s_quat + 1 : robot.s_quat + 4]
    g = np.array([0.0, 0.0, -1.0])  # world gravity direction into the trunk frame
    t = 2.0 * np.cross(xyz, g)
    parts = {
        "gravity": g - w * t + np.cross(xyz, t),
        "lin_vel": sd[robot.s_linvel : robot.s_linvel + 3],
        "ang_vel": sd[robot.s_gyro : robot.s_gyro + 3],
        "joint_pos": sd[robot.s_jpos : robot.s_jpos + 12] - robot.home,
        "joint_vel": sd[robot.s_jvel : robot.s_jvel + 12],
        "gait_phase": np.array([math.sin(2 * math.pi * phase), math.cos(2 * math.pi * phase)]),
        "foot_contact": (sd[robot.s_touch] > contact_threshold).astype(float),
        "command": np.asarray(command, float),
        "last_action": np.asarray(last_action, float),
    }
    obs = np.concatenate([parts[n] * scales[n] for n in OBS_CHANNELS]).astype(np.float32)
    return np.clip(np.nan_to_num(obs, nan=0.0, posinf=OBS_CLIP, neginf=-OBS_CLIP), -OBS_CLIP, OBS_CLIP)


class TerrainInput:
    """What the robot knows of the ground, in its own *map* frame (the odometry / elevation-map frame:
    fixed to the ground, z up; any origin and heading). Read by the gait's footholds
    (``gait.footholds``) and, later, by terrain-observing policies.

    ``height(x, y) -> z``: ground height [m, map z] at map (x, y) [m], elementwise over numpy
    arrays of any (equal) shape; unmapped cells should return a finite guess (e.g. the nearest
    mapped height). ``pose() -> (x, y, yaw)``: where the trunk is *now*: its origin's map x, y [m]
    and heading [rad] (angle of the trunk's x axis in the map's xy plane; roll and pitch ignored).
    The controller calls ``pose()`` when it is built (the robot standing where it starts) and once
    per control step after the physics (in :meth:`Controller.after_physics`)."""

    def __init__(self, height: Callable[[np.ndarray, np.ndarray], np.ndarray], pose: Callable[[], Sequence[float]]):
        self.height, self.pose = height, pose


class Controller:
    """The per-step state machine: :meth:`observe` the sensors, :meth:`act` (servo targets), then
    :meth:`after_physics` once the servos have tracked them for ``control_dt``.

    State: gait ``phase`` [0, 1), ``activity`` [0, 1], ``gait_command`` (3,) (the command the gait
    steps to, ramped towards ``command``; zero at the start: the robot stands), filtered
    ``residual`` (4, 3) [m], ``last_action`` (12,), ``pending`` (the delayed action with ``action_latency``), ``obs``;
    ``footholds`` (:class:`deploy.robot_footholds.Footholds`, None unless ``gait.footholds.enabled``:
    then ``terrain``, a :class:`TerrainInput`, is required).
    """

    def __init__(
        self,
        meta: Dict,
        robot: Robot,
        policy: Callable[[np.ndarray], np.ndarray],
        command: Sequence[float],
        phase: float = 0.0,
        activity: Optional[float] = None,
        terrain: Optional[TerrainInput] = None,
        gait_command: Optional[Sequence[float]] = None,
    ):
        env, sim = meta["config"]["env"], meta["config"]["simulation"]
        if env.get("action_mode", "residual") != "residual":
            raise SystemExit(
                f"robot_loop: action_mode {env['action_mode']!r} is not supported here "
                "(only 'residual'); see mjx_envs/episode_logic.py action_to_ctrl"
            )
        if env.get("terrain_observation") or (env.get("height_scan") or {}).get("enabled"):
            raise SystemExit("robot_loop: this export observes terrain heights; the robot loop has no height map")
        footholds = meta["config"]["gait"].get("footholds") or {}
        if footholds.get("enabled") and terrain is None:
            raise SystemExit(
                "robot_loop: this export's gait places its footholds on a height map (gait.footholds.enabled): "
                "pass Controller(..., terrain=TerrainInput(height, pose)), the robot's height map and "
                "trunk pose in its map frame (deploy/robot_controller.py, docs/robot_loop.md)"
            )
        layout = [(c["name"], int(c["size"])) for c in meta["observation_layout"]]
        expected = [(n, s) for n, s in zip(OBS_CHANNELS, (3, 3, 3, 12, 12, 2, 4, 3, 12))]
        if layout != expected:
            raise SystemExit(
                f"robot_loop: observation layout {layout} differs from the one this loop builds {expected}"
            )
        self.scales = {c["name"]: float(c["scale"]) for c in meta["observation_layout"]}
        self.robot, self.policy = robot, policy
        self.gait = Gait(meta["config"]["gait"], robot)
        self.dt = float(sim["control_dt"])
        self.residual_max = float(env["residual_max"])
        self.stand_scale = float(env.get("residual_stand_scale", 1.0))
        self.filter = float(env.get("action_filter", 1.0))
        self.latency = bool(env.get("action_latency", False))
        self.contact_threshold = float(env["contact_force_threshold"])
        self.limits = (float(env["min_base_height"]), float(env["max_roll"]), float(env["max_pitch"]))
        self.command = np.asarray(command, float)
        self.phase = float(phase) % 1.0
        self.activity = self.gait.stepping_target(self.command) if activity is None else float(activity)
        self.gait_command = np.zeros(3) if gait_command is None else np.asarray(gait_command, float)
        self.residual = np.zeros((4, 3))
        self.last_action = np.zeros(12)
        self.pending = np.zeros(12)
        self.obs: Optional[np.ndarray] = None
        self.terrain, self.footholds = terrain, None
        if footholds.get("enabled"):
            self.footholds = Footholds(footholds, self.gait, terrain.height, tuple(terrain.pose()))

    def observe(self, sensordata: np.ndarray) -> np.ndarray:
        self.obs = observation(
            self.robot, sensordata, self.phase, self.command, self.last_action, self.scales, self.contact_threshold
        )
        return self.obs

    def act(self) -> np.ndarray:
        """Steps 1-3: policy on the current obs -> (12,) servo targets [rad] (actuator order)."""
        action = np.clip(np.nan_to_num(np.asarray(self.policy(self.obs), float).reshape(12)), -1.0, 1.0)
        applied, self.pending = (self.pending, action) if self.latency else (action, action)
        gate = self.stand_scale + (1.0 - self.stand_scale) * self.activity  # EnvConfig.residual_stand_scale
        target = applied.reshape(4, 3) * (self.residual_max * gate)
        self.residual = self.filter * target + (1 - self.filter) * self.residual
        self.gait_command = self.gait.ramp_command(self.gait_command, self.command, self.dt)
        if self.footholds is None:
            feet = self.gait.foot_targets(self.phase, self.activity, self.gait_command)
        else:  # steered command; the footholds' shift, ground and apex (not scaled by activity)
            feet = self.gait.foot_targets(self.phase, self.activity, self.footholds.command(self.gait_command))
            feet = feet + self.footholds.offsets(self.phase)
        feet = feet + self.residual
        self._action = action
        return joint_targets(feet, self.robot)

    def after_physics(self, sensordata: np.ndarray) -> np.ndarray:
        """Steps 5-6: advance the clock (and plan the footholds of the legs it lifts), remember the
        action, build the next observation."""
        before = self.phase
        self.phase, self.activity = self.gait.advance(self.phase, self.activity, self.gait_command, self.dt)
        if self.footholds is not None:
            self.footholds.after_step(before, self.phase, self.activity, self.gait_command, tuple(self.terrain.pose()))
        self.last_action = self._action
        return self.observe(sensordata)

"""Read what the environment needs from the physics state, identically for MJX and C MuJoCo.

Both back ends hand the same four arrays to :func:`measure` — ``qpos``, ``qvel``,
``sensordata`` and ``actuator_force`` — so everything downstream (observation, reward,
termination) is one set of pure JAX functions. Sensor slices come from the model once
(:class:`SensorIndex`, static and hashable).
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

import jax
import jax.numpy as jnp
import mujoco
from flax import struct

from model import robot_constants as rc
from model.loading import sensor_slices_of


@dataclasses.dataclass(frozen=True)
class SensorIndex:
    """Start indices into ``sensordata`` (static; from :func:`sensor_index`)."""

    trunk_quat: int
    gyro: int
    linvel: int
    trunk_pos: int
    global_linvel: int
    joint_pos: int
    joint_vel: int
    foot_touch: Tuple[int, ...]
    foot_pos: Tuple[int, ...]
    foot_vel: Tuple[int, ...]
    body_contact: Tuple[int, ...]
    actuator_force: int  # 12 actuatorfrc sensors, actuator order (== data.actuator_force)
    body_probe: Tuple[int, ...] = ()  # framepos of each probe sphere (``collision: feet``; else empty)
    body_probe_radius: Tuple[float, ...] = ()  # m, one per probe
    body_probe_zone: Tuple[int, ...] = ()  # index into ``body_contact`` (the zone on the probe's body)


def sensor_index(m: mujoco.MjModel) -> SensorIndex:
    s = sensor_slices_of(m)
    jp = [s[n].start for n in rc.JOINT_POS_SENSORS]
    jv = [s[n].start for n in rc.JOINT_VEL_SENSORS]
    af = [s[n].start for n in rc.ACTUATOR_FORCE_SENSORS]
    if any(v != list(range(v[0], v[0] + 12)) for v in (jp, jv, af)):
        raise ValueError("joint and actuatorfrc sensors must be contiguous and in actuator order in robot.xml")
    probes, radii, zones = _body_probes(m)
    return SensorIndex(
        trunk_quat=s[rc.SENSOR_TRUNK_QUAT].start,
        gyro=s[rc.SENSOR_GYRO].start,
        linvel=s[rc.SENSOR_LINVEL].start,
        trunk_pos=s[rc.SENSOR_TRUNK_POS].start,
        global_linvel=s[rc.SENSOR_GLOBAL_LINVEL].start,
        joint_pos=jp[0],
        joint_vel=jv[0],
        foot_touch=tuple(s[n].start for n in rc.FOOT_TOUCH_SENSORS),
        foot_pos=tuple(s[n].start for n in rc.FOOT_POS_SENSORS),
        foot_vel=tuple(s[n].start for n in rc.FOOT_VEL_SENSORS),
        body_contact=tuple(s[n].start for n in rc.BODY_CONTACT_SENSORS),
        actuator_force=af[0],
        body_probe=tuple(int(m.sensor_adr[i]) for i in probes),
        body_probe_radius=radii,
        body_probe_zone=zones,
    )


def _body_probes(m: mujoco.MjModel):
    """The ``probe_*`` framepos sensors that ``model.loading.feet_only`` added: sensor ids, sphere
    radii (m) and the body-contact zone (index into ``rc.BODY_CONTACT_SENSORS``) of each, the zone
    being the touch sensor whose site is on the probe's body or, failing that, on its nearest
    ancestor (a hip-motor geom counts on the trunk)."""
    zone_of_body = {}
    for z, name in enumerate(rc.BODY_CONTACT_SENSORS):
        site = m.sensor_objid[m.sensor(name).id]
        zone_of_body[int(m.site_bodyid[site])] = z
    ids, radii, zones = [], [], []
    for i in range(m.nsensor):
        if not m.sensor(i).name.startswith(rc.BODY_PROBE_PREFIX):
            continue
        obj = int(m.sensor_objid[i])
        if m.sensor_type[i] != mujoco.mjtSensor.mjSENS_FRAMEPOS or int(m.sensor_objtype[i]) not in (
            int(mujoco.mjtObj.mjOBJ_GEOM),
            int(mujoco.mjtObj.mjOBJ_SITE),
        ):
            raise ValueError(f"sensor {m.sensor(i).name}: a body probe must be a framepos sensor of a geom or site")
        if m.sensor_objtype[i] == mujoco.mjtObj.mjOBJ_GEOM:
            body, radius = int(m.geom_bodyid[obj]), float(m.geom_size[obj, 0])
        else:
            body, radius = int(m.site_bodyid[obj]), float(m.site_size[obj, 0])
        b = body
        while b not in zone_of_body and b != 0:
            b = int(m.body_parentid[b])
        if b not in zone_of_body:
            raise ValueError(
                f"body probe {m.sensor(i).name}: body {m.body(body).name} has no body-contact "
                f"touch sensor ({', '.join(rc.BODY_CONTACT_SENSORS)}) on it or above it to count it in"
            )
        ids.append(i)
        radii.append(radius)
        zones.append(zone_of_body[b])
    return ids, tuple(radii), tuple(zones)


@struct.dataclass
class Measurements:
    """Physical quantities after a control step. Frames/units in the field comments."""

    qpos: jax.Array  # (19,) generalized positions
    qvel: jax.Array  # (18,) generalized velocities
    trunk_pos: jax.Array  # (3,) world frame, m
    trunk_quat: jax.Array  # (4,) w,x,y,z, world <- body
    lin_vel: jax.Array  # (3,) body frame, m/s
    ang_vel: jax.Array  # (3,) body frame, rad/s
    global_lin_vel: jax.Array  # (3,) world frame, m/s
    joint_pos: jax.Array  # (12,) rad
    joint_vel: jax.Array  # (12,) rad/s
    foot_force: jax.Array  # (4,) N, normal contact force per foot
    foot_pos: jax.Array  # (4, 3) world frame, m
    foot_vel: jax.Array  # (4, 3) world frame, m/s
    body_contact_force: jax.Array  # (9,) N on trunk, thighs, calves
    actuator_force: jax.Array  # (12,) N*m
    body_probe_pos: jax.Array  # (P, 3) world frame, m: centres of the probe spheres (P = 0 unless collision: feet)


def _take(x, starts, n):
    return jnp.stack([x[s : s + n] for s in starts])


def measure(idx: SensorIndex, qpos, qvel, sensordata, actuator_force=None) -> Measurements:
    """Build :class:`Measurements` from raw physics arrays (NumPy or JAX). ``actuator_force``
    defaults to the model's ``actuatorfrc`` sensors (bit for bit ``data.actuator_force``)."""
    sd = jnp.asarray(sensordata)
    if actuator_force is None:
        actuator_force = sd[idx.actuator_force : idx.actuator_force + 12]
    return Measurements(
        qpos=jnp.asarray(qpos),
        qvel=jnp.asarray(qvel),
        trunk_pos=sd[idx.trunk_pos : idx.trunk_pos + 3],
        trunk_quat=sd[idx.trunk_quat : idx.trunk_quat + 4],
        lin_vel=sd[idx.linvel : idx.linvel + 3],
        ang_vel=sd[idx.gyro : idx.gyro + 3],
        global_lin_vel=sd[idx.global_linvel : idx.global_linvel + 3],
        joint_pos=sd[idx.joint_pos : idx.joint_pos + 12],
        joint_vel=sd[idx.joint_vel : idx.joint_vel + 12],
        foot_force=jnp.stack([sd[i] for i in idx.foot_touch]),
        foot_pos=_take(sd, idx.foot_pos, 3),
        foot_vel=_take(sd, idx.foot_vel, 3),
        body_contact_force=jnp.stack([sd[i] for i in idx.body_contact]),
        actuator_force=jnp.asarray(actuator_force),
        body_probe_pos=_take(sd, idx.body_probe, 3) if idx.body_probe else jnp.zeros((0, 3), sd.dtype),
    )


def rotate_inverse(quat: jax.Array, v: jax.Array) -> jax.Array:
    """Express world-frame vector ``v`` in the body frame of unit quaternion ``quat`` (w,x,y,z)."""
    w, xyz = quat[0], quat[1:]
    t = 2.0 * jnp.cross(xyz, v)
    return v - w * t + jnp.cross(xyz, t)


def gravity_in_body(quat: jax.Array) -> jax.Array:
    """Unit gravity direction (0, 0, -1) expressed in the body frame."""
    return rotate_inverse(quat, jnp.array([0.0, 0.0, -1.0], dtype=quat.dtype))


def roll_pitch(quat: jax.Array) -> Tuple[jax.Array, jax.Array]:
    """Roll and pitch (rad) of the trunk from the body-frame gravity direction."""
    g = gravity_in_body(quat)
    roll = jnp.arctan2(-g[1], -g[2])
    pitch = jnp.arcsin(jnp.clip(g[0], -1.0, 1.0))
    return roll, pitch


def yaw_of(quat: jax.Array) -> jax.Array:
    """Heading (rad) of the trunk's x axis in the world xy plane."""
    w, x, y, z = quat
    return jnp.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))

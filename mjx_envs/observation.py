"""Observation vector of the residual-walking environment and its exported layout.

Layout (names, slices, units, scales) is data — :func:`observation_layout` — so that playback,
exports and tests read it instead of hard-coding indices. Every channel is multiplied by its
scale and the whole vector is clipped to [-CLIP, CLIP].
"""

from __future__ import annotations

from typing import List, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from mjx_envs.measurements import Measurements, gravity_in_body

CLIP = 10.0
# per-foot terrain samples (m, body-aligned offsets around each foot): centre, +-x, +-y
TERRAIN_OFFSETS = ((0.0, 0.0), (0.1, 0.0), (-0.1, 0.0), (0.0, 0.1), (0.0, -0.1))


class Channel(NamedTuple):
    """One observation channel: its name, width, physical unit, the scale it is multiplied by
    in the observation, and a description (the exported ``observation_layout``)."""

    name: str
    size: int
    unit: str
    scale: float
    description: str


def channels(action_size: int = 12, terrain: bool = False, scan_points: int = 0) -> List[Channel]:
    """The observation's channels in order: the proprioceptive ones, then the per-foot terrain
    samples (``terrain``) and the height scan (``scan_points`` > 0), each only when observed."""
    ch = [
        Channel("gravity", 3, "-", 1.0, "unit gravity direction in the body frame"),
        Channel("lin_vel", 3, "m/s", 2.0, "trunk linear velocity, body frame"),
        Channel("ang_vel", 3, "rad/s", 0.25, "trunk angular velocity, body frame"),
        Channel("joint_pos", 12, "rad", 1.0, "joint angles minus the home pose, actuator order"),
        Channel("joint_vel", 12, "rad/s", 0.05, "joint velocities, actuator order"),
        Channel("gait_phase", 2, "-", 1.0, "sin, cos of 2*pi*gait phase"),
        Channel("foot_contact", 4, "-", 1.0, "1 if the foot touch force > threshold (FR, FL, RR, RL)"),
        Channel("command", 3, "m/s, m/s, rad/s", 2.0, "velocity command (vx, vy, yaw rate)"),
        Channel("last_action", action_size, "-", 1.0, "previous policy action in [-1, 1]"),
    ]
    if terrain:
        ch.append(
            Channel(
                "terrain_height",
                4 * len(TERRAIN_OFFSETS),
                "m",
                5.0,
                "terrain height under/around each foot relative to the foot centre",
            )
        )
    if scan_points:
        ch.append(
            Channel(
                "height_scan",
                scan_points,
                "m",
                5.0,
                "terrain height on the scan grid (body-yaw frame, x-major) minus the ground under the trunk",
            )
        )
    return ch


def observation_spec(env) -> dict:
    """The keyword arguments of :func:`channels` (and of :func:`observation_layout`,
    :func:`observation_size`, :func:`noise_half_widths`) for an ``EnvConfig``."""
    scan = env.height_scan
    return dict(action_size=env.action_size, terrain=env.terrain_observation, scan_points=scan.points * scan.enabled)


def observation_layout(action_size: int = 12, terrain: bool = False, scan_points: int = 0) -> List[dict]:
    """[{name, start, stop, size, unit, scale, description}] in observation order."""
    out, start = [], 0
    for c in channels(action_size, terrain, scan_points):
        out.append(
            dict(
                name=c.name,
                start=start,
                stop=start + c.size,
                size=c.size,
                unit=c.unit,
                scale=c.scale,
                description=c.description,
            )
        )
        start += c.size
    return out


NOISY_CHANNELS = ("gravity", "lin_vel", "ang_vel", "joint_pos", "joint_vel", "height_scan")
"""Sensor channels that ``EnvConfig.observation_noise`` perturbs (its fields of the same names)."""


def noise_half_widths(noise, action_size: int = 12, terrain: bool = False, scan_points: int = 0) -> np.ndarray:
    """(observation_size,) float32 half-width of the uniform sensor noise per observation entry,
    in observation units (the physical value of ``noise.<channel>`` times the channel's scale;
    0 for the channels that are not sensors: gait phase, contacts, command, last action, the
    per-foot terrain samples)."""
    out = []
    for c in channels(action_size, terrain, scan_points):
        value = float(getattr(noise, c.name)) if c.name in NOISY_CHANNELS else 0.0
        out.append(np.full(c.size, value * c.scale, np.float32))
    return np.concatenate(out)


def observation_size(action_size: int = 12, terrain: bool = False, scan_points: int = 0) -> int:
    return sum(c.size for c in channels(action_size, terrain, scan_points))


def build_observation(
    meas: Measurements,
    home_joints: jax.Array,
    phase: jax.Array,
    contact: jax.Array,
    command: jax.Array,
    last_action: jax.Array,
    terrain_heights: jax.Array | None = None,
    height_scan: jax.Array | None = None,
) -> jax.Array:
    """Scaled, clipped observation vector; ``terrain_heights`` (20,) and ``height_scan`` (points,)
    [m] only when observed."""
    parts = {
        "gravity": gravity_in_body(meas.trunk_quat),
        "lin_vel": meas.lin_vel,
        "ang_vel": meas.ang_vel,
        "joint_pos": meas.joint_pos - home_joints,
        "joint_vel": meas.joint_vel,
        "gait_phase": jnp.stack([jnp.sin(2 * jnp.pi * phase), jnp.cos(2 * jnp.pi * phase)]),
        "foot_contact": contact.astype(jnp.float32),
        "command": command,
        "last_action": last_action,
    }
    if terrain_heights is not None:
        parts["terrain_height"] = terrain_heights
    if height_scan is not None:
        parts["height_scan"] = height_scan
    scan_points = 0 if height_scan is None else height_scan.shape[-1]
    vec = [
        parts[c.name].astype(jnp.float32) * c.scale
        for c in channels(last_action.shape[-1], terrain_heights is not None, scan_points)
    ]
    obs = jnp.concatenate(vec)
    return jnp.clip(jnp.nan_to_num(obs, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)

"""Named reward terms. reward = sum_k weight_k * term_k (weights: ``EnvConfig.reward_weights``).

Each term is a small pure function returning one scalar per control step, in the units stated;
penalties are positive quantities with negative weights. Every term is logged under
``metrics['reward/<name>']`` (weighted) by the environment.
"""

from __future__ import annotations

import dataclasses
from typing import Dict

import jax
import jax.numpy as jnp
from flax import struct

from mjx_envs.env_config import RewardWeights

# Linear-velocity tracking kernel: exp(-|v_cmd - v|^2 / w^2) with a width w proportional to the
# commanded speed, w = TRACKING_LIN_REL_WIDTH * max(|v_cmd,xy|, TRACKING_LIN_MIN_SPEED). Standing
# still under any command of |v_cmd| >= TRACKING_LIN_MIN_SPEED therefore earns exp(-1/0.5^2) =
# exp(-4) = 1.8 % of the term, whatever the speed; 10 % / 25 % / 50 % speed error earns 96 % /
# 78 % / 37 %. (A fixed sigma = 0.25 (m/s)^2, the previous kernel, paid 85 % for standing still
# under a 0.2 m/s command.) The floor keeps the kernel finite for zero / tiny commands (width
# 0.1 m/s there).
TRACKING_LIN_REL_WIDTH = 0.5
TRACKING_LIN_MIN_SPEED = 0.2  # m/s
# Yaw-rate kernel: exp(-(w_cmd - w_z)^2 / sigma), fixed sigma (legged_gym's 0.25 (rad/s)^2):
# ignoring a 0.5 rad/s command keeps exp(-1) = 37 % of the term, 1 rad/s: exp(-4) = 1.8 %.
TRACKING_YAW_SIGMA = 0.25  # (rad/s)^2


@struct.dataclass
class RewardInputs:
    """What the reward terms read, per env and control step (units and frames per field)."""

    lin_vel: jax.Array  # (3,) body frame, m/s
    ang_vel: jax.Array  # (3,) body frame, rad/s
    command: jax.Array  # (3,) vx, vy, yaw rate
    gravity: jax.Array  # (3,) unit gravity in body frame
    joint_vel: jax.Array  # (12,) rad/s
    actuator_force: jax.Array  # (12,) N*m
    foot_contact: jax.Array  # (4,) bool
    foot_vel: jax.Array  # (4, 3) world frame, m/s
    body_contacts: jax.Array  # () number of trunk/thigh/calf zones touching the ground
    joints_near_limit: jax.Array  # () count
    actuators_saturated: jax.Array  # () count
    ik_saturated: jax.Array  # () number of legs whose IK target was projected/clipped
    action: jax.Array  # (A,)
    last_action: jax.Array  # (A,)
    torque_excess: jax.Array  # (12,) (|torque| / limit - soft) / (1 - soft), >= 0 (EnvConfig.torque_soft_fraction)


def tracking_lin_width(command: jax.Array) -> jax.Array:
    """Width (m/s) of the linear-velocity tracking kernel for ``command`` (vx, vy, yaw rate)."""
    speed = jnp.sqrt(jnp.sum(jnp.square(command[:2])))
    return TRACKING_LIN_REL_WIDTH * jnp.maximum(speed, TRACKING_LIN_MIN_SPEED)


def reward_tracking_lin_vel(x: RewardInputs) -> jax.Array:
    """exp(-|v_xy_cmd - v_xy|^2 / w^2), w = 0.5 * max(|v_xy_cmd|, 0.2 m/s); in [0, 1], body frame."""
    err = jnp.sum(jnp.square(x.command[:2] - x.lin_vel[:2]))
    return jnp.exp(-err / jnp.square(tracking_lin_width(x.command)))


def reward_tracking_yaw_rate(x: RewardInputs) -> jax.Array:
    """exp(-(yaw_rate_cmd - w_z)^2 / 0.25), in [0, 1]."""
    return jnp.exp(-jnp.square(x.command[2] - x.ang_vel[2]) / TRACKING_YAW_SIGMA)


def reward_energy(x: RewardInputs) -> jax.Array:
    """Mechanical power sum |tau * qdot| (W)."""
    return jnp.sum(jnp.abs(x.actuator_force * x.joint_vel))


def reward_foot_slip(x: RewardInputs) -> jax.Array:
    """Sum over feet in contact of the squared horizontal foot speed ((m/s)^2)."""
    return jnp.sum(x.foot_contact * jnp.sum(jnp.square(x.foot_vel[:, :2]), axis=-1))


def reward_attitude(x: RewardInputs) -> jax.Array:
    """Squared horizontal component of body-frame gravity (~ roll^2 + pitch^2, rad^2)."""
    return jnp.sum(jnp.square(x.gravity[:2]))


def reward_alive(x: RewardInputs) -> jax.Array:
    """1 per step survived."""
    return jnp.ones((), jnp.float32)


def reward_body_collision(x: RewardInputs) -> jax.Array:
    """Number of trunk/thigh/calf zones in contact with the ground."""
    return x.body_contacts


def reward_joint_limit(x: RewardInputs) -> jax.Array:
    """Number of joints within 0.05 rad of (or beyond) a limit."""
    return x.joints_near_limit


def reward_actuator_saturation(x: RewardInputs) -> jax.Array:
    """Number of servos at their torque limit."""
    return x.actuators_saturated


def reward_ik_saturation(x: RewardInputs) -> jax.Array:
    """Number of legs whose foot target had to be projected into the workspace / clipped."""
    return x.ik_saturated


def reward_action_rate(x: RewardInputs) -> jax.Array:
    """Squared change of the action since the last step."""
    return jnp.sum(jnp.square(x.action - x.last_action))


def reward_torque_headroom(x: RewardInputs) -> jax.Array:
    """Sum over servos of the squared torque beyond the soft fraction of the episode's (randomised)
    limit, in units of the band above it: 0 below the soft fraction, 1 per servo at its limit."""
    return jnp.sum(jnp.square(x.torque_excess))


REWARD_TERMS = {f.name: globals()[f"reward_{f.name}"] for f in dataclasses.fields(RewardWeights)}


def compute_reward(x: RewardInputs, weights: RewardWeights) -> tuple[jax.Array, Dict[str, jax.Array]]:
    """Total reward and the dict of weighted terms (terms with weight 0 are still logged)."""
    terms = {name: getattr(weights, name) * fn(x).astype(jnp.float32) for name, fn in REWARD_TERMS.items()}
    total = sum(terms.values())
    return total, terms

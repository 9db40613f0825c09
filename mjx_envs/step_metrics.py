"""The environment's per-control-step metrics: one pure function, whose keys are the metric names.

:func:`step_metrics` maps a :class:`MetricInputs` (what ``episode_logic.post_physics`` measured
and decided this step) to a dict of float32 scalars; :func:`metric_names` reads the names off that
function (``jax.eval_shape``: nothing is computed), so the dict is the only list of them.
``episode_logic.METRIC_NAMES`` is that list; the ``reward/<term>`` metrics (one per reward
weight, ``mjx_envs.rewards``) come on top. The meaning of each metric: docs/residual_learning.md.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Sequence, Tuple

import jax
import jax.numpy as jnp

from mjx_envs.termination import Termination

F32 = jnp.float32


class MetricInputs(NamedTuple):
    """Everything the metrics read (scalars unless a shape is given; a pytree)."""

    command: jax.Array  # (3,) the command this step was taken under: vx, vy [m/s, body frame], yaw rate [rad/s]
    lin_vel: jax.Array  # (3,) trunk velocity, body frame, m/s
    ang_vel: jax.Array  # (3,) trunk angular velocity, body frame, rad/s
    joint_vel: jax.Array  # (12,) rad/s
    actuator_force: jax.Array  # (12,) N*m
    distance_step: jax.Array  # m walked this step along the spawn heading (world frame)
    ends: Termination  # why the episode ends here, if it does
    joint_limit_violations: jax.Array  # joints beyond their range (count)
    actuator_saturated: jax.Array  # actuators at their torque limit (count)
    ik_saturated: jax.Array  # legs whose IK target was out of reach (count)
    body_contacts: jax.Array  # trunk / thigh / calf zones touching the ground (count)
    terrain_level: jax.Array  # int: curriculum level of the episode
    terrain_type: jax.Array  # int: suite terrain type of the episode (0 elsewhere)
    curriculum_promoted: jax.Array  # bool: the episode ends here and the curriculum promotes it
    curriculum_demoted: jax.Array  # bool: the episode ends here and the curriculum demotes it
    heading_mode: jax.Array  # 1 while the (next step's) command holds a heading
    pushed: jax.Array  # 1 on a step with a push kick
    gait_activity: jax.Array  # stepping amplitude in [0, 1] after this step
    gait_scales: Tuple[jax.Array, jax.Array, jax.Array]  # frequency scale [-], swing scale [-], body height [m]
    dr: Dict[str, jax.Array]  # this episode's domain-randomisation draws, by name


def step_metrics(x: MetricInputs) -> Dict[str, jax.Array]:
    """The env metrics of one control step (float32 scalars; ``reward/<term>`` not included).

    Rates and counts are per step (a training logger sums them over an episode). ``fell`` = the
    episode failed here (the fall rule or diverged physics, as ``info["fell"]``); ``nan_physics``
    = the diverged part of it; ``off_map`` = the episode was truncated here for leaving the map
    (as ``info["off_map"]``). ``dr/<name>`` is the draw's mean over its entries (``link_mass``:
    over the bodies after the world body)."""
    cmd = x.command
    freq, swing, height = x.gait_scales
    metrics = {
        "forward_velocity": x.lin_vel[0],
        "vel_tracking_error": jnp.linalg.norm(cmd[:2] - x.lin_vel[:2]),
        "yaw_rate_error": jnp.abs(cmd[2] - x.ang_vel[2]),
        "distance_step": x.distance_step,
        "fell": x.ends.fell,
        "nan_physics": x.ends.diverged,
        "off_map": x.ends.truncated,
        "joint_limit_violations": x.joint_limit_violations,
        "actuator_saturated": x.actuator_saturated,
        "ik_saturated": x.ik_saturated,
        "body_contacts": x.body_contacts,
        "terrain_level": x.terrain_level,
        "terrain_type": x.terrain_type,
        "curriculum_promoted": x.curriculum_promoted,
        "curriculum_demoted": x.curriculum_demoted,
        "power": jnp.sum(jnp.abs(x.actuator_force * x.joint_vel)),
        "command/vx": cmd[0],
        "command/vy": cmd[1],
        "command/yaw_rate": cmd[2],
        "command/zero": jnp.all(cmd == 0),
        "command/heading_mode": x.heading_mode,
        "push/kicks": x.pushed,
        "gait/activity": x.gait_activity,
        "gait/frequency_scale": freq,
        "gait/swing_scale": swing,
        "gait/body_height": height,
        **{"dr/" + k: jnp.mean(v) if k != "link_mass" else jnp.mean(v[1:]) for k, v in x.dr.items()},
    }
    return {k: jnp.asarray(v).astype(F32) for k, v in metrics.items()}


def metric_names(dr_names: Sequence[str]) -> Tuple[str, ...]:
    """The keys of :func:`step_metrics` (sorted, as JAX orders a dict), for an episode whose domain
    draws are named ``dr_names``. Traced abstractly: no computation, no device."""
    s = lambda *shape: jax.ShapeDtypeStruct(shape, F32)  # noqa: E731
    b = jax.ShapeDtypeStruct((), jnp.bool_)
    i = jax.ShapeDtypeStruct((), jnp.int32)
    example = MetricInputs(
        command=s(3),
        lin_vel=s(3),
        ang_vel=s(3),
        joint_vel=s(12),
        actuator_force=s(12),
        distance_step=s(),
        ends=Termination(b, b, b),
        joint_limit_violations=s(),
        actuator_saturated=s(),
        ik_saturated=s(),
        body_contacts=s(),
        terrain_level=i,
        terrain_type=i,
        curriculum_promoted=b,
        curriculum_demoted=b,
        heading_mode=s(),
        pushed=s(),
        gait_activity=s(),
        gait_scales=(s(), s(), s()),
        dr={k: s(2) for k in dr_names},
    )
    return tuple(jax.eval_shape(step_metrics, example))

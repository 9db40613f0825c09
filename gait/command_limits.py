"""What velocity commands the nominal gait can produce, derived from the gait parameters.

A stance foot sweeps one full step (at most ``max_step_length``) backwards in one stance phase
(``duty_factor * period`` seconds), so no foot can move over the ground faster than
``GaitConfig.max_foot_speed = max_step_length / (duty_factor * period)`` [m/s]. Under a body
command ``(vx, vy, wz)`` foot i must move at ``v_i = (vx - wz r_iy, vy + wz r_ix)``
(:func:`gait.bezier_gait.leg_velocities`, ``r_i`` its nominal point in the body frame); beyond
the limit the gait silently caps the step and walks slower than commanded.

The per-foot speed is a convex function of the command, so over a box of commands (the
``env.command`` ranges) it is largest at one of the box's 8 corners: :func:`check_command_ranges`
checks those and refuses a box the gait cannot cover, naming the corner, the foot speed it needs
and the gait parameters that would allow it.
"""

from __future__ import annotations

import itertools
from typing import Sequence, Tuple

import numpy as np

from gait.bezier_gait import leg_velocities
from gait.gait_config import GaitConfig
from ik.leg_geometry import DEFAULT_GEOMETRY, LegGeometry
from model.yaml_config import ConfigError


def command_foot_speed(command: Sequence[float], config: GaitConfig, geometry: LegGeometry = DEFAULT_GEOMETRY) -> float:
    """Largest per-foot planar speed [m/s] that ``command`` = (vx [m/s], vy [m/s], wz [rad/s]) needs."""
    v = np.asarray(leg_velocities(np.asarray(command, np.float64), config, geometry), np.float64)
    return float(np.max(np.linalg.norm(v, axis=-1)))


def worst_corner(
    vx: Tuple[float, float],
    vy: Tuple[float, float],
    yaw_rate: Tuple[float, float],
    config: GaitConfig,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
) -> Tuple[Tuple[float, float, float], float]:
    """(corner command, its foot speed [m/s]) of the command box that needs the fastest foot."""
    corners = list(itertools.product(vx, vy, yaw_rate))
    speeds = [command_foot_speed(c, config, geometry) for c in corners]
    k = int(np.argmax(speeds))
    return tuple(float(c) for c in corners[k]), float(speeds[k])


def check_command_ranges(
    vx: Tuple[float, float],
    vy: Tuple[float, float],
    yaw_rate: Tuple[float, float],
    config: GaitConfig,
    geometry: LegGeometry = DEFAULT_GEOMETRY,
    where: str = "env.command",
) -> float:
    """Raise ConfigError if some command in the box vx x vy x yaw_rate needs a foot faster than
    the gait's ``max_foot_speed``; return the box's largest foot speed [m/s] otherwise. Gait sizes
    left ``auto`` are derived from ``geometry`` first (:meth:`GaitConfig.for_robot`)."""
    config = config.for_robot(geometry)
    corner, speed = worst_corner(vx, vy, yaw_rate, config, geometry)
    limit = config.max_foot_speed
    if speed > limit * (1.0 + 1e-9):
        need_step = speed * config.duty_factor * config.period
        raise ConfigError(
            f"{where}: the command (vx={corner[0]:g} m/s, vy={corner[1]:g} m/s, yaw_rate={corner[2]:g} rad/s) "
            f"needs a foot speed of {speed:.3f} m/s, beyond what the gait can produce: max_step_length / "
            f"(duty_factor * period) = {config.max_step_length:g} / ({config.duty_factor:g} * {config.period:g}) "
            f"= {limit:.3f} m/s. Narrow the command ranges or raise gait.max_step_length to >= {need_step:.3f} m "
            f"(or shorten gait.period / gait.duty_factor)"
        )
    return speed

"""The gait's footholds (``gait.footholds``, :mod:`gait.footholds`) in the environments: the episode's
height map, the footholds at reset, and their update after each control step. Pure JAX, shared by
every back end (MJX, C MuJoCo, the Gymnasium twin) through ``mjx_envs.episode_logic``.

The planner reads the terrain's heightfield (:func:`mjx_envs.termination.terrain_height`) through
the episode's map offset when the height scan randomises it (``height_scan.offset_randomization``):
the gait then plans on the same shifted map the policy observes, as a robot plans on its own
elevation map. Units: m, rad; world frame unless stated.
"""

from __future__ import annotations

from typing import Any, Dict

import jax

from gait.bezier_gait import GaitState, half_steps_from_command, leg_phases
from gait.footholds import FootholdState, HeightFn, initial_footholds, lifting_legs, plan_footholds, steered_command
from mjx_envs.env_context import EnvContext
from mjx_envs.termination import terrain_height


def enabled(ctx: EnvContext) -> bool:
    """Whether this environment's gait places its footholds (``gait.footholds.enabled``)."""
    return bool(ctx.gait.footholds.enabled)


def map_height_fn(ctx: EnvContext, scan_offset: jax.Array) -> HeightFn:
    """Ground height [m] at world (x, y) as the episode's map gives it: the heightfield read at the
    point moved by the map offset ``scan_offset`` (3,) (x, y, z) [m] (zeros without randomisation)."""

    def height(x, y):
        return terrain_height(ctx, x + scan_offset[0], y + scan_offset[1]) + scan_offset[2]

    return height


def reset_footholds(ctx: EnvContext, trunk_xy: jax.Array, yaw: jax.Array, scan_offset: jax.Array) -> FootholdState:
    """The footholds at reset: the ground under each nominal stance point, no shift."""
    return initial_footholds(trunk_xy, yaw, ctx.gait, ctx.controller.geometry, map_height_fn(ctx, scan_offset))


def update_footholds(
    ctx: EnvContext,
    info: Dict[str, Any],
    gait_after: GaitState,
    frequency_scale: jax.Array,
    trunk_xy: jax.Array,
    yaw: jax.Array,
) -> FootholdState:
    """``info["footholds"]`` after a control step: new footholds for the legs that the advanced
    clock ``gait_after`` puts into swing (planned from the trunk's pose ``trunk_xy`` (2,), ``yaw``
    and the command the gait stepped to, ``info["gait"].command``, plus the current steering), the
    others unchanged; a new steering velocity when any leg lifts off. A leg lifting off while the
    gait's activity is below 1/2 (standing, or ramping) keeps its foothold: its swing is too low
    to carry it elsewhere."""
    gait, geometry = ctx.gait, ctx.controller.geometry
    after = leg_phases(gait_after, gait)
    lifting = lifting_legs(leg_phases(info["gait"], gait), after, gait.duty_factor)
    stepping = gait_after.activity >= 0.5
    swing_duration = gait.swing_duration / frequency_scale
    swing_u = (after - gait.duty_factor) / (1.0 - gait.duty_factor)
    command = steered_command(info["gait"].command, info["footholds"])
    half = half_steps_from_command(command, gait, geometry, frequency_scale) * gait_after.activity
    return plan_footholds(
        info["footholds"],
        lifting & stepping,
        (1.0 - swing_u) * swing_duration,
        trunk_xy,
        yaw,
        half,
        command,
        gait,
        geometry,
        map_height_fn(ctx, info["scan_offset"]),
    )

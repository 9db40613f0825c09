"""Bézier foot-trajectory gait generator and the nominal (open-loop) trot controller."""

from gait.bezier_gait import (
    SWING_X_POINTS,
    SWING_Z_POINTS,
    GaitState,
    advance_gait,
    bezier_curve,
    bezier_swing,
    foot_offset,
    half_steps_from_command,
    leg_phases,
    leg_velocities,
    nominal_foot_targets,
    nominal_stance_points,
    ramp_command,
    stance_mask,
    stance_penetration,
    stance_profile,
    swing_profile,
)
from gait.controller import BezierController, ControllerOutput
from gait.gait_config import GAIT_PHASE_OFFSETS, GaitConfig, gait_config_from_dict, load_gait_config

__all__ = [
    "GAIT_PHASE_OFFSETS",
    "SWING_X_POINTS",
    "SWING_Z_POINTS",
    "BezierController",
    "ControllerOutput",
    "GaitConfig",
    "GaitState",
    "advance_gait",
    "bezier_curve",
    "bezier_swing",
    "foot_offset",
    "gait_config_from_dict",
    "half_steps_from_command",
    "leg_phases",
    "leg_velocities",
    "load_gait_config",
    "nominal_foot_targets",
    "nominal_stance_points",
    "ramp_command",
    "stance_mask",
    "stance_penetration",
    "stance_profile",
    "swing_profile",
]

"""Closed-form leg kinematics of the quadruped (pure JAX)."""

from ik.leg_geometry import DEFAULT_GEOMETRY, LEG_NAMES, SIDE_SIGNS, LegGeometry
from ik.leg_ik import (
    all_legs_forward_kinematics,
    body_to_hip,
    foot_positions_in_body,
    hip_to_body,
    leg_forward_kinematics,
    solve_all_legs_ik,
    solve_leg_ik_3dof,
)

__all__ = [
    "DEFAULT_GEOMETRY",
    "LEG_NAMES",
    "SIDE_SIGNS",
    "LegGeometry",
    "all_legs_forward_kinematics",
    "body_to_hip",
    "foot_positions_in_body",
    "hip_to_body",
    "leg_forward_kinematics",
    "solve_all_legs_ik",
    "solve_leg_ik_3dof",
]

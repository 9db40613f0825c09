"""Nominal Bézier-gait controller: gait clock + command (+ residual) -> joint position targets.

This is the function the environments call every control step.  Every method is pure (the
controller is a frozen, hashable dataclass; all changing state is the :class:`GaitState` pytree
passed in and returned), so it jits and vmaps::

    ctrl = BezierController()
    state = ctrl.init_state()
    out = jax.jit(ctrl.joint_targets)(state, command)            # ControllerOutput
    state = ctrl.advance(state, 0.02)

Frames: foot targets are foot-sphere centres in each leg's hip frame (x forward, y left, z up)
[m]; joint targets are in actuator order FR_abduction, FR_hip, FR_knee, FL_..., RR_..., RL_...
[rad].
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax
import jax.numpy as jnp
from flax import struct

from gait.bezier_gait import (
    GaitState,
    advance_gait,
    leg_phases,
    nominal_foot_targets,
    nominal_stance_points,
    ramp_command,
    stance_mask,
)
from gait.footholds import FootholdState, foothold_offsets, steered_command
from gait.gait_config import GaitConfig
from gait.planar import smoothstep
from ik.leg_geometry import DEFAULT_GEOMETRY, LegGeometry
from ik.leg_ik import all_legs_forward_kinematics, solve_all_legs_ik


@struct.dataclass
class ControllerOutput:
    """What one controller evaluation produces.

    Attributes:
      joint_targets: (12,) joint position targets [rad] in actuator order.
      foot_targets: (4, 3) nominal foot targets in the hip frames [m] (before the residual).
      saturated: (4,) bool, True where the IK had to project the (nominal + residual) target onto
        the reachable workspace or clip a joint to its limit.
      stance: (4,) bool, True for legs the gait schedules in stance (desired contact).
    """

    joint_targets: jax.Array
    foot_targets: jax.Array
    saturated: jax.Array
    stance: jax.Array


@dataclasses.dataclass(frozen=True)
class BezierController:
    """Open-loop trot controller: Bézier foot trajectories + closed-form leg IK.

    Attributes:
      config: gait parameters.
      geometry: leg geometry of the robot.
    """

    config: GaitConfig = GaitConfig()
    geometry: LegGeometry = DEFAULT_GEOMETRY

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", self.config.for_robot(self.geometry))  # 'auto' sizes from the legs

    @classmethod
    def for_model(cls, mj_model, config: GaitConfig = GaitConfig(), source: str = "robot model") -> "BezierController":
        """The controller of a compiled robot model: its leg geometry is derived from the MJCF
        (:func:`model.robot_spec.robot_spec`), so link lengths and hip offsets follow the model."""
        from model.robot_spec import robot_spec

        return cls(config=config, geometry=LegGeometry.from_robot_spec(robot_spec(mj_model, source)))

    def init_state(self, phase: float | jax.Array = 0.0) -> GaitState:
        """Gait clock at ``phase`` in [0, 1) (0: FR and RL start their stance in a trot)."""
        return GaitState.create(phase)

    def advance(
        self,
        gait_state: GaitState,
        dt: float | jax.Array,
        command: Optional[jax.Array] = None,
        frequency_scale: float | jax.Array = 1.0,
    ) -> GaitState:
        """Advance the gait clock by ``dt`` seconds (one control step is ``control_dt``); with
        ``command``, also ramp the stepping amplitude towards standing / stepping (see
        :func:`gait.bezier_gait.advance_gait`); ``frequency_scale`` multiplies the step frequency."""
        return advance_gait(gait_state, dt, self.config, command, frequency_scale, self.geometry)

    def ramp_command(self, gait_state: GaitState, command: jax.Array, dt: float | jax.Array) -> GaitState:
        """``gait_state`` stepping to ``command`` (3,) within the gait's acceleration limits after
        ``dt`` seconds (see :func:`gait.bezier_gait.ramp_command`)."""
        return ramp_command(gait_state, command, dt, self.config)

    def foot_targets(
        self,
        gait_state: GaitState,
        command: jax.Array,
        body_height: Optional[jax.Array | float] = None,
        swing_scale: float | jax.Array = 1.0,
        frequency_scale: float | jax.Array = 1.0,
        footholds: Optional[FootholdState] = None,
    ) -> jax.Array:
        """(4, 3) nominal foot targets in the hip frames [m]; see :func:`gait.bezier_gait.nominal_foot_targets`.
        With ``footholds`` (:mod:`gait.footholds`), the gait steps to the command plus the
        footholds' sideways steering velocity, and each foot's shift, ground height and extra
        swing clearance are added (not scaled by the gait's activity: a standing foot stays on
        its foothold)."""
        if footholds is not None:
            command = steered_command(command, footholds)
        targets = nominal_foot_targets(
            gait_state, command, self.config, self.geometry, body_height, swing_scale, frequency_scale
        )
        if footholds is None:
            return targets
        offsets = foothold_offsets(footholds, leg_phases(gait_state, self.config), self.config.duty_factor)
        return targets + offsets.astype(targets.dtype)

    def joint_targets(
        self,
        gait_state: GaitState,
        command: jax.Array,
        body_height: Optional[jax.Array | float] = None,
        residual: Optional[jax.Array] = None,
        swing_scale: float | jax.Array = 1.0,
        frequency_scale: float | jax.Array = 1.0,
        footholds: Optional[FootholdState] = None,
    ) -> ControllerOutput:
        """Joint position targets for the current gait phase.

        Args:
          gait_state: gait clock.
          command: (3,) ``(vx [m/s], vy [m/s], yaw rate [rad/s])`` in the body frame.
          body_height: optional trunk height above ground [m] (default ``config.body_height``).
          residual: optional (4, 3) foot-position residual [m] in the hip frames, added to the
            nominal targets before the IK (any finite value; the IK saturates it).
          swing_scale, frequency_scale: gait modulation (multiply the swing height and the step
            frequency; 1 = the nominal gait).
          footholds: optional :class:`gait.footholds.FootholdState` (terrain-aware touchdowns).

        Returns:
          :class:`ControllerOutput` with (12,) joint targets, (4, 3) nominal foot targets,
          (4,) saturation flags and (4,) scheduled-stance flags.
        """
        nominal = self.foot_targets(gait_state, command, body_height, swing_scale, frequency_scale, footholds)
        target = nominal if residual is None else nominal + jnp.reshape(residual, (4, 3)).astype(nominal.dtype)
        angles, saturated = solve_all_legs_ik(target, self.geometry)
        return ControllerOutput(
            joint_targets=jnp.reshape(angles, (12,)),
            foot_targets=nominal,
            saturated=saturated,
            stance=stance_mask(gait_state, self.config),
        )

    def stand_targets(self, body_height: Optional[jax.Array | float] = None) -> jax.Array:
        """(12,) joint targets of the standing pose (all feet at the nominal stance points) [rad]."""
        angles, _ = solve_all_legs_ik(nominal_stance_points(self.config, self.geometry, body_height), self.geometry)
        return jnp.reshape(angles, (12,))

    def stand_up_targets(
        self,
        start_joint_angles: jax.Array,
        elapsed: jax.Array | float,
        body_height: Optional[jax.Array | float] = None,
    ) -> jax.Array:
        """Joint targets that move the feet smoothly from a start pose to the standing pose.

        The feet travel on straight lines (in each hip frame) from where ``start_joint_angles``
        puts them to the nominal stance points for ``body_height``, with a smoothstep time law
        over ``config.stand_up_duration`` seconds; after that the standing pose is held.

        Args:
          start_joint_angles: (12,) joint angles [rad] (actuator order) when standing up began.
          elapsed: time since standing up began [s].
          body_height: commanded trunk height above ground [m] (default ``config.body_height``).

        Returns:
          (12,) joint position targets [rad] in actuator order.
        """
        start = all_legs_forward_kinematics(jnp.reshape(start_joint_angles, (4, 3)), self.geometry)
        goal = nominal_stance_points(self.config, self.geometry, body_height).astype(start.dtype)
        alpha = smoothstep(jnp.asarray(elapsed, dtype=start.dtype) / self.config.stand_up_duration)
        angles, _ = solve_all_legs_ik(start + alpha * (goal - start), self.geometry)
        return jnp.reshape(angles, (12,))

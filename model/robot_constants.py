"""Per-robot constants of the quad12 quadruped (names, orders, home pose), next to its MJCF.

Frames: body (trunk) frame x forward, y left, z up. Units: metres, radians.
Leg order everywhere: FR, FL, RR, RL. Joint/actuator order: for each leg (abduction, hip, knee).
"""

from __future__ import annotations

import numpy as np

LEG_NAMES = ("FR", "FL", "RR", "RL")
LEG_JOINTS = ("abduction", "hip", "knee")
JOINT_NAMES = tuple(f"{leg}_{j}" for leg in LEG_NAMES for j in LEG_JOINTS)
ACTUATOR_NAMES = JOINT_NAMES  # one position servo per joint, same name and order
SIDE_SIGN = np.array([-1.0, 1.0, -1.0, 1.0])  # -1 right, +1 left

FOOT_SITES = tuple(f"{leg}_foot" for leg in LEG_NAMES)
FOOT_GEOMS = FOOT_SITES
FOOT_RADIUS = 0.02
TRUNK_BODY = "trunk"
IMU_SITE = "imu"

# Geometry (metres), matches model/robot.xml (tests/test_model.py checks it).
HIP_OFFSETS = np.array([[0.19, -0.05, 0.0], [0.19, 0.05, 0.0], [-0.19, -0.05, 0.0], [-0.19, 0.05, 0.0]])
THIGH_LENGTH = 0.21
CALF_LENGTH = 0.21

HOME_LEG = np.array([0.0, 0.9, -1.8])
HOME_JOINTS = np.tile(HOME_LEG, 4)  # (12,) rad, actuator order
HOME_TRUNK_HEIGHT = 0.28  # m above flat ground in the home keyframe

# Sensor names in model/robot.xml (see docs/model.md for sizes and sensordata indices).
SENSOR_TRUNK_QUAT = "trunk_quat"
SENSOR_GYRO = "trunk_gyro"
SENSOR_ACC = "trunk_acc"
SENSOR_LINVEL = "trunk_linvel"  # body frame
SENSOR_TRUNK_POS = "trunk_pos"
SENSOR_GLOBAL_LINVEL = "trunk_global_linvel"  # world frame
JOINT_POS_SENSORS = tuple(f"{j}_pos" for j in JOINT_NAMES)
JOINT_VEL_SENSORS = tuple(f"{j}_vel" for j in JOINT_NAMES)
FOOT_TOUCH_SENSORS = tuple(f"{leg}_touch" for leg in LEG_NAMES)
FOOT_POS_SENSORS = tuple(f"{leg}_foot_pos" for leg in LEG_NAMES)
FOOT_VEL_SENSORS = tuple(f"{leg}_foot_vel" for leg in LEG_NAMES)
BODY_CONTACT_SENSORS = (
    ("trunk_contact",)
    + tuple(f"{leg}_thigh_contact" for leg in LEG_NAMES)
    + tuple(f"{leg}_calf_contact" for leg in LEG_NAMES)
)
BODY_PROBE_PREFIX = "probe_"
"""``simulation.collision: feet`` adds a ``framepos`` sensor ``probe_<geom>`` for each non-foot collision
sphere it switches off (model.loading.feet_only); the envs sense body contacts from them."""
ACTUATOR_FORCE_SENSORS = tuple(f"{j}_frc" for j in JOINT_NAMES)  # actuatorfrc, actuator order (N*m)
REQUIRED_SENSORS = (
    SENSOR_TRUNK_QUAT,
    SENSOR_GYRO,
    SENSOR_ACC,
    SENSOR_LINVEL,
    SENSOR_TRUNK_POS,
    SENSOR_GLOBAL_LINVEL,
    *JOINT_POS_SENSORS,
    *JOINT_VEL_SENSORS,
    *FOOT_TOUCH_SENSORS,
    *FOOT_POS_SENSORS,
    *FOOT_VEL_SENSORS,
    *BODY_CONTACT_SENSORS,
    *ACTUATOR_FORCE_SENSORS,
)
"""Every sensor the envs read (model.robot_spec checks a model has them; docs/model.md lists them)."""
CONTIGUOUS_SENSORS = (JOINT_POS_SENSORS, JOINT_VEL_SENSORS, ACTUATOR_FORCE_SENSORS)
"""Sensor groups that must sit next to each other in ``sensordata``, in actuator order."""

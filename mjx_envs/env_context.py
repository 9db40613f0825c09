"""The constants of one environment instance: :class:`EnvContext` and :func:`make_context`.

Every function of the episode logic (:mod:`mjx_envs.episode_logic` and the steps it calls) is a
pure JAX function of an ``EnvContext``: the MuJoCo model and the arrays derived from it (sensor
addresses, home pose, joint ranges [rad], actuator force limits [N·m], terrain heights [m]), the
simulation / env / gait configs and the gait controller. Built once per env by
:func:`make_context`; never changed afterwards.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Optional, Tuple

import mujoco
import numpy as np

from gait.command_limits import check_command_ranges
from gait.controller import BezierController
from gait.gait_config import GaitConfig
from ik.leg_geometry import LegGeometry
from mjx_envs import observation as obs_lib
from mjx_envs.env_config import EnvConfig
from mjx_envs.measurements import SensorIndex, sensor_index
from model import loading, terrain
from model import robot_constants as rc
from model.robot_spec import robot_spec, trunk_body
from model.simulation_config import SimulationConfig


@dataclasses.dataclass(frozen=True, eq=False)
class EnvContext:
    """Constants of one environment instance (model-derived arrays, configs, controller)."""

    sim: SimulationConfig
    env: EnvConfig
    gait: GaitConfig
    controller: BezierController
    mj_model: Any
    idx: SensorIndex
    home_joints: np.ndarray
    joint_lower: np.ndarray
    joint_upper: np.ndarray
    force_limit: np.ndarray
    heights: Optional[np.ndarray]  # (nrow, ncol) terrain heights in m, None on the flat world
    trunk_body: int
    episode_steps: int
    suite: Optional[terrain.SuiteSpec] = None  # the terrain-suite grid (world "suite"), else None
    home_trunk_height: float = rc.HOME_TRUNK_HEIGHT  # m above the ground at spawn (the model's home keyframe)
    rough_terrain: terrain.TerrainSpec = terrain.DEFAULT_TERRAIN  # the rough world's grid, from its hfield
    qpos_adr: Tuple[int, ...] = tuple(range(7, 19))  # the 12 joints' qpos addresses, stack order

    @property
    def action_size(self) -> int:
        """12 (foot residuals or joint targets) + 3 gait-modulation actions in ``modulated`` mode."""
        return self.env.action_size

    @property
    def observation_size(self) -> int:
        return obs_lib.observation_size(**obs_lib.observation_spec(self.env))

    @property
    def rough(self) -> bool:
        return self.heights is not None

    @property
    def num_levels(self) -> int:
        """Number of curriculum levels: ``terrain_level`` is an integer in [0, num_levels)
        (suite: the grid's difficulty rows; rough: the difficulty bands)."""
        return self.suite.num_levels if self.suite is not None else self.rough_terrain.num_bands

    @property
    def num_types(self) -> int:
        """Number of terrain types: ``terrain_type`` is in [0, num_types) (suite:
        ``model.terrain.TERRAIN_TYPES``; rough and flat: 1, the random relief)."""
        return self.suite.num_types if self.suite is not None else 1

    @property
    def terrain_spec(self):
        """The grid geometry of ``heights``: the suite's SuiteSpec or the rough world's TerrainSpec."""
        return self.suite if self.suite is not None else self.rough_terrain


def driven_model(m: mujoco.MjModel, env: EnvConfig) -> mujoco.MjModel:
    """``m`` as the env drives it: ``m`` itself, or in ``action_mode: torque`` a copy whose servos
    are torque motors (:func:`model.loading.as_torque_motors`)."""
    if env.action_mode != "torque":
        return m
    m = copy.copy(m)
    loading.as_torque_motors(m)
    return m


def env_model(sim: SimulationConfig, env: EnvConfig, textures: bool = True) -> mujoco.MjModel:
    """The model an env of ``sim`` and ``env`` steps, compiled afresh (what the batched back end's
    worlds copy, ``cmujoco_physics.pool_source``): :func:`driven_model` of
    :func:`model.loading.load_mj_model`, as :func:`make_context` builds it."""
    return driven_model(loading.load_mj_model(sim, textures=textures), env)


def make_context(
    sim: SimulationConfig, env: EnvConfig, gait: GaitConfig, mj_model: Optional[mujoco.MjModel] = None
) -> EnvContext:
    """The env's constants for ``sim``, ``env`` and ``gait``; ``mj_model``: the compiled world to
    use instead of :func:`model.loading.load_mj_model`'s. The robot's geometry is read from its
    servos, then the env drives :func:`driven_model` of it."""
    world = mj_model if mj_model is not None else loading.load_mj_model(sim)
    spec = robot_spec(world, sim.robot_file)  # the leg geometry and home pose come from the model
    m = driven_model(world, env)
    jid = m.actuator_trnid[:, 0]
    geometry = LegGeometry.from_robot_spec(spec)
    gait = gait.for_robot(geometry)  # gait sizes left 'auto' follow the robot's leg length
    c = env.command
    check_command_ranges(c.vx, c.vy, c.yaw_rate, gait, geometry)  # with this robot's hip positions
    return EnvContext(
        sim=sim,
        env=env,
        gait=gait,
        mj_model=m,
        controller=BezierController(config=gait, geometry=geometry),
        idx=sensor_index(m),
        home_joints=np.asarray(spec.home_joints, np.float32),
        joint_lower=m.jnt_range[jid, 0].astype(np.float32),
        joint_upper=m.jnt_range[jid, 1].astype(np.float32),
        force_limit=np.abs(m.actuator_forcerange[:, 1]).astype(np.float32),
        heights=loading.terrain_heights(m),
        trunk_body=trunk_body(m),
        episode_steps=int(round(env.episode_length_s / sim.control_dt)),
        suite=terrain.default_suite_spec() if sim.world == "suite" else None,
        home_trunk_height=spec.home_trunk_height,
        rough_terrain=terrain.spec_of_model(m) if (m.nhfield and sim.world != "suite") else terrain.DEFAULT_TERRAIN,
        qpos_adr=spec.qpos_adr,
    )

"""Load the quad12 worlds into C MuJoCo and MJX, applying ``SimulationConfig``."""

from __future__ import annotations

import functools

import mujoco
import numpy as np

from model import terrain
from model.simulation_config import SimulationConfig
from model.yaml_config import ConfigError


def load_mj_model(cfg: SimulationConfig) -> mujoco.MjModel:
    """C MuJoCo model of ``cfg.world`` with ``physics_dt``, terrain seed and servo gains applied."""
    try:
        m = mujoco.MjModel.from_xml_path(cfg.world_xml)
    except ValueError as e:
        raise ConfigError(f"could not load MJCF {cfg.world_xml}: {e}") from None
    m.opt.timestep = cfg.physics_dt
    if m.nhfield > 0 and cfg.terrain_seed != 0:
        spec = terrain.DEFAULT_TERRAIN
        if (m.hfield_nrow[0], m.hfield_ncol[0]) != (spec.nrow, spec.ncol):
            raise ConfigError(f"{cfg.world_xml}: hfield grid differs from TerrainSpec; regenerate it")
        m.hfield_data[:] = terrain.hfield_data(cfg.terrain_seed, spec)
    if cfg.kp is not None:
        m.actuator_gainprm[:, 0] = cfg.kp
        m.actuator_biasprm[:, 1] = -cfg.kp
    if cfg.kv is not None:
        m.actuator_biasprm[:, 2] = -cfg.kv
    return m


def load_mjx_model(cfg: SimulationConfig, mj_model: mujoco.MjModel | None = None):
    """MJX (JAX) model of the same world; ``mj_model`` is reused if given."""
    from mujoco import mjx

    return mjx.put_model(mj_model if mj_model is not None else load_mj_model(cfg))


def terrain_heights(m: mujoco.MjModel) -> np.ndarray | None:
    """Heights (m) of the model's hfield as an (nrow, ncol) array, or None for the flat world."""
    if m.nhfield == 0:
        return None
    nrow, ncol = int(m.hfield_nrow[0]), int(m.hfield_ncol[0])
    return (np.asarray(m.hfield_data[: nrow * ncol]).reshape(nrow, ncol) * m.hfield_size[0, 2]).astype(np.float32)


@functools.lru_cache(maxsize=None)
def sensor_slices(xml_path: str) -> dict:
    """Map sensor name -> slice into ``sensordata`` for the model at ``xml_path``."""
    m = mujoco.MjModel.from_xml_path(xml_path)
    return sensor_slices_of(m)


def sensor_slices_of(m: mujoco.MjModel) -> dict:
    """Map sensor name -> slice into ``sensordata`` of model ``m``."""
    return {m.sensor(i).name: slice(int(m.sensor_adr[i]), int(m.sensor_adr[i] + m.sensor_dim[i]))
            for i in range(m.nsensor)}

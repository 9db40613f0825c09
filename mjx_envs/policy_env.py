"""The C-MuJoCo environment an exported policy was trained for, and the check that they match.

An export's ``meta.json`` (``train/export.py``) stores the run's configs as plain dicts under
``meta["config"]`` (``simulation``, ``gait``, ``env``, ``ppo``) and the observation it expects
(``observation_size``, ``observation_layout``). Here we rebuild the configs with the same
validating loader the YAML files use, build the Gymnasium twin ``ResidualWalkEnv`` from them and
refuse to run a policy whose observation does not match the env's, naming what differs. An export
that carries its robot (``robot/``, ``meta["robot"]``) is built from that copy, checked file by
file (:func:`train.export.export_robot_path`).

Without a policy (``--no-residual``) the env comes from the repository's ``configs/*.yaml``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

from deploy.export_format import META_FILE, ROBOT_SUBDIR, ExportError, export_robot_path
from gait.gait_config import GaitConfig, load_gait_config
from mjx_envs.env_config import EnvConfig, load_env_config
from mjx_envs.gym_env import ResidualWalkEnv
from model.simulation_config import SimulationConfig, load_simulation_config
from model.yaml_config import ConfigError, from_dict


class PolicyEnvMismatch(ExportError):
    """The export's observation/action does not match the environment built for it."""


class EnvConfigs(NamedTuple):
    """The three config objects ``ResidualWalkEnv`` is built from."""

    simulation: SimulationConfig
    env: EnvConfig
    gait: GaitConfig


def configs_from_meta(meta: Mapping[str, Any], where: str = META_FILE) -> EnvConfigs:
    """Rebuild (and validate) the simulation/env/gait configs stored in an export's ``meta.json``.

    Args:
      meta: the export's meta dict; ``meta["config"]`` holds ``simulation``, ``gait``, ``env`` as
        plain dicts (``model.yaml_config.to_dict`` of the training configs).
      where: the meta file's path (``meta_path(policy)``), for error messages and, when
        ``meta["robot"]`` exists, to find the bundled robot in ``dirname(where)/robot/``:
        ``simulation.robot_xml`` becomes that copy's absolute path. Without ``meta["robot"]``
        (older exports) the stored ``robot_xml`` is kept.

    Raises:
      ExportError: ``config`` or one of its sections is missing, a section does not load with
        this code (unknown key, wrong type, out of range: the message names the key), or a
        bundled robot file is missing or was changed after export (named).
    """
    cfg = meta.get("config")
    if not isinstance(cfg, Mapping):
        raise ExportError(
            f"{where} has no 'config' section (simulation/gait/env), so the environment the "
            "policy was trained in cannot be rebuilt; re-export the run with this code"
        )
    sections = {"simulation": SimulationConfig, "env": EnvConfig, "gait": GaitConfig}
    out = {}
    for name, cls in sections.items():
        data = cfg.get(name)
        if not isinstance(data, Mapping):
            raise ExportError(f"{where}: key 'config.{name}' is missing or not a mapping")
        if name == "simulation" and "collision" not in data:
            # exported before the key existed: trained with every collision sphere colliding
            data = {**data, "collision": "all"}
        if name == "gait" and "max_acceleration" not in data:
            # exported before the key existed: the gait took every new command at once
            data = {"max_acceleration": 0.0, "max_yaw_acceleration": 0.0, **data}
        if name == "simulation" and "robot" in meta:
            data = {**data, "robot_xml": _bundled_robot(meta, where)}
        try:
            out[name] = from_dict(cls, data, where=f"{where} [config.{name}]")
        except ConfigError as e:
            raise ExportError(f"the export's config does not load with this code: {e}") from None
    return EnvConfigs(**out)


def _bundled_robot(meta: Mapping[str, Any], where: str) -> str:
    """The checked robot copy of an export whose meta file is ``where``."""
    export_dir = os.path.dirname(os.path.abspath(where))
    if not os.path.dirname(where) and not os.path.isdir(os.path.join(export_dir, ROBOT_SUBDIR)):
        raise ExportError(
            f"{where}: this export carries its robot (meta['robot']), found beside its meta file; "
            f"pass the meta file's path: configs_from_meta(policy.meta, meta_path(policy))"
        )
    return export_robot_path(export_dir, meta)


def default_configs(world: str = "flat") -> EnvConfigs:
    """Configs from the repository's ``configs/simulation.yaml``, ``env.yaml``, ``gait.yaml``."""
    return EnvConfigs(load_simulation_config(world=world), load_env_config(), load_gait_config())


def with_world(configs: EnvConfigs, world: Optional[str] = None, terrain_seed: Optional[int] = None) -> EnvConfigs:
    """Copy of ``configs`` with the world (``flat``/``rough``/``suite``) and/or terrain seed replaced (validated)."""
    changes: Dict[str, Any] = {}
    if world is not None:
        changes["world"] = world
    if terrain_seed is not None:
        changes["terrain_seed"] = int(terrain_seed)
    if not changes:
        return configs
    return configs._replace(simulation=configs.simulation.replace(**changes))


def make_env(
    configs: EnvConfigs, render_mode: Optional[str] = None, width: int = 640, height: int = 480
) -> ResidualWalkEnv:
    """The Gymnasium twin ``ResidualWalkEnv`` (C MuJoCo) for ``configs``.

    ``render_mode``: None, ``"rgb_array"`` (offscreen frames of ``width`` x ``height`` pixels) or
    ``"human"`` (MuJoCo passive viewer).
    """
    return ResidualWalkEnv(
        sim=configs.simulation,
        env=configs.env,
        gait=configs.gait,
        render_mode=render_mode,
        width=width,
        height=height,
        metrics=True,
    )


_ENVS: Dict[Any, Any] = {}  # per-process env cache: building an env jit-compiles its step functions


def cached_env(configs: EnvConfigs) -> ResidualWalkEnv:
    """The env for ``configs`` (no rendering), built once per process (at most 4 kept; the
    evaluation tools call this for every episode)."""
    if configs not in _ENVS:
        if len(_ENVS) >= 4:
            for e in _ENVS.values():
                e.close()
            _ENVS.clear()
        _ENVS[configs] = make_env(configs)
    return _ENVS[configs]


def _channels(layout: Sequence[Mapping[str, Any]]) -> List[tuple]:
    return [
        (str(c["name"]), int(c.get("size", int(c.get("stop", 0)) - int(c.get("start", 0)))), c.get("scale"))
        for c in layout
    ]


def observation_mismatch(
    export_size: int,
    export_layout: Optional[Sequence[Mapping[str, Any]]],
    env_size: int,
    env_layout: Sequence[Mapping[str, Any]],
) -> Optional[str]:
    """What differs between the observation an export expects and the one an env produces.

    Pure. Layouts are lists of ``{name, size (or start/stop), scale?}`` in observation order
    (``mjx_envs.observation.observation_layout``). Returns None when they match, else one
    sentence per difference, e.g. ``"export has terrain_height (20) but the env has none"``.
    An export without a layout is compared by size only.
    """
    problems: List[str] = []
    if export_layout:
        exp = _channels(export_layout)
        env = _channels(env_layout)
        exp_by, env_by = {n: (s, sc) for n, s, sc in exp}, {n: (s, sc) for n, s, sc in env}
        for name, size, _ in exp:
            if name not in env_by:
                problems.append(f"export has {name} ({size}) but the env has none")
        for name, size, _ in env:
            if name not in exp_by:
                problems.append(f"the env has {name} ({size}) but the export has none")
        for name, size, scale in exp:
            if name in env_by:
                env_size_ch, env_scale = env_by[name]
                if size != env_size_ch:
                    problems.append(f"{name} has {size} numbers in the export but {env_size_ch} in the env")
                elif scale is not None and env_scale is not None and abs(float(scale) - float(env_scale)) > 1e-9:
                    problems.append(f"{name} is scaled by {scale} in the export but by {env_scale} in the env")
        common_exp = [n for n, _, _ in exp if n in env_by]
        common_env = [n for n, _, _ in env if n in exp_by]
        if not problems and common_exp != common_env:
            problems.append(f"channel order differs: export {common_exp}, env {common_env}")
    if int(export_size) != int(env_size) and not problems:
        problems.append(f"export expects {int(export_size)} numbers, the env gives {int(env_size)}")
    if not problems:
        return None
    sizes = f" (export: {int(export_size)} numbers, env: {int(env_size)})"
    return "; ".join(problems) + sizes


def check_policy_matches_env(meta: Mapping[str, Any], env: ResidualWalkEnv, where: str = META_FILE) -> None:
    """Raise :class:`PolicyEnvMismatch` unless the export's observation and action fit ``env``.

    Compares ``meta["observation_size"]`` / ``meta["observation_layout"]`` with the env's
    ``observation_space`` / ``observation_layout()``, ``meta["action_size"]`` with the action
    space, and ``meta["action"]["mode"]`` with the env's ``action_mode``.
    """
    env_size = int(env.observation_space.shape[0])
    diff = observation_mismatch(
        int(meta["observation_size"]), meta.get("observation_layout"), env_size, env.observation_layout()
    )
    if diff is not None:
        raise PolicyEnvMismatch(f"observation layout mismatch: {diff} [{where}]")
    act = int(env.action_space.shape[0])
    if int(meta["action_size"]) != act:
        raise PolicyEnvMismatch(
            f"action size mismatch: the export outputs {meta['action_size']} numbers, the env takes {act} [{where}]"
        )
    mode = (meta.get("action") or {}).get("mode")
    if mode is not None and mode != env.ctx.env.action_mode:
        raise PolicyEnvMismatch(
            f"action mode mismatch: the export was trained with action_mode {mode!r}, "
            f"the env uses {env.ctx.env.action_mode!r} [{where}]"
        )


def meta_path(policy: Any) -> str:
    """Path of a loaded export's ``meta.json`` (for messages)."""
    return os.path.join(getattr(policy, "export_dir", "."), META_FILE)


_VECTOR_ENVS: Dict[Any, Any] = {}


def cached_vector_env(configs: EnvConfigs, num_envs: int, nthread: Optional[int] = None):
    """``ResidualWalkVectorEnv`` (``metrics=True``) of ``num_envs`` worlds for ``configs`` on
    ``nthread`` physics threads, built once per process (at most 4 kept: each compiles its batched
    episode logic, and with domain randomisation holds one model per world)."""
    from mjx_envs.vector_env import ResidualWalkVectorEnv

    key = (configs, int(num_envs), nthread)
    if key not in _VECTOR_ENVS:
        if len(_VECTOR_ENVS) >= 4:
            for e in _VECTOR_ENVS.values():
                e.close()
            _VECTOR_ENVS.clear()
        _VECTOR_ENVS[key] = ResidualWalkVectorEnv(
            int(num_envs), sim=configs.simulation, env=configs.env, gait=configs.gait, nthread=nthread, metrics=True
        )
    return _VECTOR_ENVS[key]

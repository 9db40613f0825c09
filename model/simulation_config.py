"""``SimulationConfig``: model paths, physics/control timing and terrain — the one place for them.

Every script, environment and test takes its timing from here (physics step 0.004 s, control
step 0.02 s = 5 physics substeps by default); ``model.loading`` writes ``physics_dt`` into the
loaded ``MjModel`` so the XML's own ``timestep`` is never what silently decides.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Optional

from model.yaml_config import ConfigError, from_dict, read_yaml, yaml_dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SIMULATION_YAML = os.path.join(REPO_ROOT, "configs", "simulation.yaml")


@yaml_dataclass(DEFAULT_SIMULATION_YAML)
class SimulationConfig:
    """Simulation settings; defaults: ``configs/simulation.yaml``.

    Attributes:
      world: ``"flat"`` (``flat_xml``), ``"rough"`` (``rough_xml``) or ``"suite"`` (``suite_xml``:
        the terrain-suite grid of ``configs/terrain.yaml``, generated at load time).
      flat_xml / rough_xml / suite_xml: MJCF paths; relative paths are relative to the repository root.
      robot_xml: bring your own robot: the MJCF of a 12-DoF quadruped with our leg structure
        (``python -m model.check PATH`` says whether it qualifies) that every world includes in
        place of ``model/robot.xml``; ``None`` (default) keeps ``model/robot.xml``. Relative to the
        repository root, like the world paths (docs/model.md, "Bring your own robot").
      physics_dt: MuJoCo timestep (s).
      control_dt: controller period (s); must be an integer multiple of ``physics_dt``.
      terrain_seed: seed of the rough-world heightfield (0 = the committed terrain_seed0.bin) and
        of the suite world's tiles (every seed, 0 included, is generated at load time).
      backend: physics of the training env (``python -m train``): ``"mjx"`` (MJX, batched in
        JAX: the GPU path), ``"cmujoco"`` (C MuJoCo, ``mujoco.rollout`` over all worlds behind a
        JAX callback: the fast CPU path) or ``"auto"`` (``cmujoco`` when JAX's default backend is
        the CPU, else ``mjx``; :func:`mjx_envs.backends.resolve_backend`).
      threads: C-MuJoCo physics threads (``cmujoco`` back end, vector env); 0 = every core.
      impl: the MJX implementation (``backend: mjx``): ``"jax"`` (default; every device) or
        ``"warp"`` (MuJoCo Warp kernels, NVIDIA GPUs only; needs the ``warp-lang`` package that
        ``mujoco-mjx[warp]`` pins). ``mjx_envs.backends.check_impl`` refuses ``warp`` with the
        reason where it cannot run (docs/benchmarks.md, "MuJoCo Warp").
      solver_iterations, ls_iterations: optional overrides of the constraint solver's iterations
        and line-search iterations (``None`` keeps robot.xml's 4 and 8); the physics-economy sweep
        (``benchmarks/physics_economy.py``, docs/benchmarks.md) measures what they cost and change.
      collision: ``"feet"`` (default: only the 4 foot spheres collide, like MuJoCo Playground's Go1;
        the 12 knee/shin/trunk spheres become probes, ``framepos`` sensors ``probe_<geom>`` added by
        ``model.loading.feet_only``, and a body zone counts as touching when one of its probe spheres
        reaches below the terrain height; 2.7x the MJX steps/s on rough ground on a CPU with parity
        and walking kept: docs/benchmarks.md "Physics economy") or ``"all"`` (robot.xml's 16
        collision spheres: 4 feet, 4 knees, 4 shins, 4 on the trunk; body contacts from the touch
        sensors). Exports made before this key existed load with ``"all"``, what they trained on.
      kp, kv: optional overrides of every position servo's stiffness (N*m/rad) and damping
        (N*m*s/rad); ``None`` keeps robot.xml's values.
    """

    world: str = dataclasses.field(metadata={"choices": ("flat", "rough", "suite")})
    flat_xml: str
    rough_xml: str
    suite_xml: str
    robot_xml: Optional[str]
    physics_dt: float = dataclasses.field(metadata={"range": (1e-4, 0.01)})
    control_dt: float = dataclasses.field(metadata={"range": (1e-4, 0.1)})
    terrain_seed: int = dataclasses.field(metadata={"range": (0, 2**31 - 1)})
    backend: str = dataclasses.field(metadata={"choices": ("auto", "mjx", "cmujoco")})
    threads: int = dataclasses.field(metadata={"range": (0, 1024)})
    impl: str = dataclasses.field(metadata={"choices": ("jax", "warp")})
    solver_iterations: Optional[int] = dataclasses.field(metadata={"range": (1, 100)})
    ls_iterations: Optional[int] = dataclasses.field(metadata={"range": (1, 100)})
    collision: str = dataclasses.field(metadata={"choices": ("all", "feet")})
    kp: Optional[float] = dataclasses.field(metadata={"range": (1.0, 1000.0)})
    kv: Optional[float] = dataclasses.field(metadata={"range": (0.0, 100.0)})

    def validate(self) -> None:
        ratio = self.control_dt / self.physics_dt
        if abs(ratio - round(ratio)) > 1e-6 or round(ratio) < 1:
            raise ConfigError(
                f"key 'control_dt' = {self.control_dt} must be an integer multiple of 'physics_dt' = {self.physics_dt}"
            )
        for key in ("flat_xml", "rough_xml", "suite_xml", "robot_xml"):
            if getattr(self, key) is None:
                continue
            path = self.resolve(getattr(self, key))
            if not os.path.isfile(path):
                raise ConfigError(f"key '{key}': model file not found: {path}")

    @staticmethod
    def resolve(path: str) -> str:
        return path if os.path.isabs(path) else os.path.join(REPO_ROOT, path)

    @property
    def world_xml(self) -> str:
        """Absolute path of the MJCF of the selected world."""
        key = {"flat": "flat_xml", "rough": "rough_xml", "suite": "suite_xml"}[self.world]
        return self.resolve(getattr(self, key))

    @property
    def robot_path(self) -> Optional[str]:
        """Absolute path of ``robot_xml`` (None: the worlds' own ``model/robot.xml``)."""
        return None if self.robot_xml is None else self.resolve(self.robot_xml)

    @property
    def robot_file(self) -> str:
        """The robot MJCF the worlds are built with: ``robot_path``, else the ``robot.xml`` next to
        the world file (which the world includes)."""
        return self.robot_path or os.path.join(os.path.dirname(self.world_xml), "robot.xml")

    @property
    def n_substeps(self) -> int:
        """Physics steps per control step."""
        return int(round(self.control_dt / self.physics_dt))

    def replace(self, **changes) -> "SimulationConfig":
        """Copy with ``changes`` applied and validated (ranges included)."""
        return from_dict(SimulationConfig, {**dataclasses.asdict(self), **changes}, where="SimulationConfig.replace")


def load_simulation_config(path: Optional[str] = None, section: Optional[str] = None, **overrides) -> SimulationConfig:
    """Load and validate a SimulationConfig from YAML (default ``configs/simulation.yaml``).

    ``section`` selects a top-level key of the file (e.g. ``simulation`` in a training config).
    Keyword ``overrides`` replace file values. Errors name the key and the file.
    """
    path = path or DEFAULT_SIMULATION_YAML
    data = read_yaml(path)
    where = path
    if section is not None:
        data = data.get(section) or {}
        where = f"{path} [{section}]"
    data = {**data, **overrides}
    return from_dict(SimulationConfig, data, where=where)

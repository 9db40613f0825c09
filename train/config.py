"""Typed training configuration: ``TrainConfig`` = simulation + gait + env + ppo + run (+ sb3).

One YAML file (default ``configs/ppo_residual.yaml``) holds every section plus ``presets:``, named
sets of overrides (``cpu_small``, ``gpu``, ``ci_tiny``) merged over the base values::

    cfg = load_train_config(preset="cpu_small", overrides=["ppo.learning_rate=1e-4"])

Order of application: file base values, then the preset, then ``key=value`` overrides. Everything
is validated on load (types, ranges, cross-field rules) and every error is a
:class:`model.yaml_config.ConfigError` naming the key and the file (plus preset/overrides when
they were involved). Defaults come from YAML, not Python: ``PPOConfig``, ``RunConfig`` and
``SB3Config`` take theirs from the base sections of ``configs/ppo_residual.yaml``; the
simulation, gait and env sections lay their keys over ``configs/simulation.yaml``,
``configs/gait.yaml`` and ``configs/env.yaml``. ``cfg.to_dict()`` gives the resolved mapping written to a run's
``config.yaml``; :func:`load_resolved_config` reads it back for ``--resume``.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import typing
from dataclasses import field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from gait.command_limits import check_command_ranges
from gait.gait_config import GaitConfig
from ik.leg_geometry import LegGeometry
from mjx_envs.env_config import EnvConfig
from model.robot_spec import load_robot_spec
from model.simulation_config import REPO_ROOT, SimulationConfig
from model.yaml_config import (
    ConfigError,
    apply_overrides,
    from_dict,
    read_yaml,
    short_repr,
    to_dict,
    yaml_dataclass,
)
from train.tasks import task_sections

DEFAULT_TRAIN_YAML = os.path.join(REPO_ROOT, "configs", "ppo_residual.yaml")

ACTIVATIONS = ("relu", "tanh", "swish", "elu")
"""Hidden-layer activations supported end to end (Brax, SB3 and the numpy export loader)."""


@yaml_dataclass(DEFAULT_TRAIN_YAML, "ppo")
class PPOConfig:
    """Brax PPO hyper-parameters (names follow ``brax.training.agents.ppo.train``).

    One *training step* collects ``batch_size * num_minibatches`` unrolls of ``unroll_length``
    control steps (``num_envs`` envs in parallel, so ``batch_size * num_minibatches / num_envs``
    unrolls per env) and then runs ``num_updates_per_batch`` epochs of SGD over
    ``num_minibatches`` minibatches. Episode length is ``env.episode_length_s`` (not repeated here).
    Defaults: the ``ppo`` section of ``configs/ppo_residual.yaml``.

    Attributes:
      num_timesteps: total environment (control) steps to train for.
      num_envs: parallel MJX environments.
      num_evals: evaluations over the run, the first at step 0 (the run is cut into
        ``num_evals - 1`` equal epochs; checkpoints and early stopping act at epoch ends).
      num_eval_envs: episodes per evaluation (run in parallel, flat world by default).
      deterministic_eval: evaluate the policy mean (True) or sample actions.
      learning_rate: Adam learning rate.
      entropy_cost: entropy bonus coefficient.
      discounting: discount factor gamma.
      gae_lambda: GAE lambda.
      unroll_length: control steps per unroll.
      batch_size: unrolls per minibatch.
      num_minibatches: minibatches per SGD epoch.
      num_updates_per_batch: SGD epochs over each collected batch.
      clipping_epsilon: PPO ratio clip.
      reward_scaling: multiplies the reward inside the PPO loss (Brax only).
      max_grad_norm: global gradient-norm clip (null: none).
      normalize_observations: running mean/std observation normalisation (exported).
      normalize_advantage: normalise advantages per minibatch.
      policy_hidden_layer_sizes / value_hidden_layer_sizes: MLP widths.
      activation: hidden activation, one of ``ACTIVATIONS``.
      distribution: ``normal`` (Gaussian, mean = action, clipped to [-1, 1] by the env) or
        ``tanh_normal`` (tanh-squashed Gaussian, brax's default).
      init_noise_std: initial action noise std (``normal`` only; learned per action, log-param).
      mean_init_scale: ``normal`` only: variance-scaling factor of the output (mean) layer's
        initial weights; small values start the policy near the zero residual (the nominal gait).
      action_repeat: env steps per policy step.
      seed: PRNG seed (networks, env draws).
    """

    num_timesteps: int = field(metadata={"range": (1, None)})
    num_envs: int = field(metadata={"range": (1, None)})
    num_evals: int = field(metadata={"range": (1, 10_000)})
    num_eval_envs: int = field(metadata={"range": (1, None)})
    deterministic_eval: bool
    learning_rate: float = field(metadata={"range": (1e-7, 1.0)})
    entropy_cost: float = field(metadata={"range": (0.0, 1.0)})
    discounting: float = field(metadata={"range": (0.0, 1.0)})
    gae_lambda: float = field(metadata={"range": (0.0, 1.0)})
    unroll_length: int = field(metadata={"range": (1, None)})
    batch_size: int = field(metadata={"range": (1, None)})
    num_minibatches: int = field(metadata={"range": (1, None)})
    num_updates_per_batch: int = field(metadata={"range": (1, None)})
    clipping_epsilon: float = field(metadata={"range": (0.0, 10.0)})
    reward_scaling: float = field(metadata={"range": (1e-6, 1e6)})
    max_grad_norm: Optional[float] = field(metadata={"range": (1e-6, None)})
    normalize_observations: bool
    normalize_advantage: bool
    policy_hidden_layer_sizes: Tuple[int, ...]
    value_hidden_layer_sizes: Tuple[int, ...]
    activation: str = field(metadata={"choices": ACTIVATIONS})
    distribution: str = field(metadata={"choices": ("normal", "tanh_normal")})
    init_noise_std: float = field(metadata={"range": (1e-3, 10.0)})
    mean_init_scale: float = field(metadata={"range": (0.0, 10.0)})
    action_repeat: int = field(metadata={"range": (1, 100)})
    seed: int = field(metadata={"range": (0, 2**31 - 1)})

    def validate(self) -> None:
        if (self.batch_size * self.num_minibatches) % self.num_envs != 0:
            raise ConfigError(
                f"keys 'batch_size' * 'num_minibatches' = {self.batch_size * self.num_minibatches} "
                f"must be a multiple of 'num_envs' = {self.num_envs}"
            )
        for key in ("policy_hidden_layer_sizes", "value_hidden_layer_sizes"):
            sizes = getattr(self, key)
            if not sizes or any(s < 1 for s in sizes):
                raise ConfigError(f"key '{key}' must be a non-empty list of positive widths, got {list(sizes)}")

    @property
    def env_steps_per_training_step(self) -> int:
        """Env steps one brax training step consumes (all envs together)."""
        return self.batch_size * self.unroll_length * self.num_minibatches * self.action_repeat

    @property
    def num_epochs(self) -> int:
        """Training epochs (= evaluation/checkpoint intervals) of a fresh run."""
        return max(self.num_evals - 1, 1)

    @property
    def epoch_env_steps(self) -> int:
        """Env steps per epoch, as brax rounds them: a whole number of training steps."""
        s = self.env_steps_per_training_step
        return -(-self.num_timesteps // (self.num_epochs * s)) * s

    @property
    def total_env_steps(self) -> int:
        """Env steps a fresh run actually performs (>= ``num_timesteps``)."""
        return self.num_epochs * self.epoch_env_steps


@yaml_dataclass(DEFAULT_TRAIN_YAML, "run.early_stopping")
class EarlyStoppingConfig:
    """Stop when the evaluation reward has not improved by more than ``min_delta`` (episode
    return units) for ``patience`` consecutive evaluations, after at least ``min_evals``.
    Defaults: ``run.early_stopping`` of ``configs/ppo_residual.yaml``."""

    enabled: bool
    patience: int = field(metadata={"range": (1, None)})
    min_delta: float = field(metadata={"range": (0.0, None)})
    min_evals: int = field(metadata={"range": (0, None)})


@yaml_dataclass(DEFAULT_TRAIN_YAML, "run")
class RunConfig:
    """Where and how a training run records itself (defaults: the ``run`` section of
    ``configs/ppo_residual.yaml``).

    Attributes:
      output_dir: parent of run directories (relative paths: to the current directory).
      name: optional suffix of the run directory name ``YYYYMMDD_HHMM[_name]``.
      eval_world: world of the evaluation rollouts (``flat``: ``model/world.xml``; ``rough``;
        ``suite``: the terrain suite, episodes spread over every level and type). Evaluation,
        early stopping and ``best/`` use it.
      eval_terrain_seed: terrain seed of the evaluation world (rough/suite): a seed training
        never uses (``simulation.terrain_seed`` is the training one; they must differ), so the
        export is picked on terrain the policy has not seen. null: the training seed.
      checkpoint_every_evals: save a checkpoint every N evaluations (the last one always).
      keep_checkpoints: how many of the newest checkpoints to keep (0 keeps all).
      log_training_metrics: also log training-episode metrics (brax ``episode/*``), which gives
        the terrain-curriculum level distribution of the training envs.
      training_metrics_steps: env steps between training-metric logs (null: every training step).
      jax_cache_dir: persistent JAX compilation cache (null: off); relative to the repo root.
      jax_cache_min_compile_s: computations that compiled faster than this [s] are not cached
        (0 caches all; JAX's own default is 1 s, but a CPU run compiles ~100 small programs of
        ~0.4 s each, which then compile again in every process: benchmarks/results/compile_time_*.md).
      export_policy: which parameters ``export/`` gets: ``best`` (the best evaluation of the run,
        kept in ``RUN_DIR/best/``) or ``final`` (the last ones).
      early_stopping: see :class:`EarlyStoppingConfig`.
      max_wall_clock_s: training wall-clock budget (s, across resumed processes; null: none). The
        run stops at the first evaluation after it and then checkpoints and exports as after an
        early stop: "train for as long as you can afford" without killing the process.
    """

    output_dir: str
    name: str
    eval_world: str = field(metadata={"choices": ("flat", "rough", "suite")})
    eval_terrain_seed: Optional[int] = field(metadata={"range": (0, None)})
    checkpoint_every_evals: int = field(metadata={"range": (1, None)})
    keep_checkpoints: int = field(metadata={"range": (0, None)})
    log_training_metrics: bool
    training_metrics_steps: Optional[int] = field(metadata={"range": (1, None)})
    jax_cache_dir: Optional[str]
    jax_cache_min_compile_s: float = field(metadata={"range": (0.0, None)})
    export_policy: str = field(metadata={"choices": ("best", "final")})
    early_stopping: EarlyStoppingConfig
    max_wall_clock_s: Optional[float] = field(metadata={"range": (1.0, None)})

    def validate(self) -> None:
        if self.name and (os.sep in self.name or self.name.strip() != self.name):
            raise ConfigError(f"key 'name' = {self.name!r} must be a plain name (no '/', no surrounding spaces)")


@yaml_dataclass(DEFAULT_TRAIN_YAML, "sb3")
class SB3Config:
    """Stable-Baselines3 PPO on the Gymnasium twin (``python -m train.sb3``); defaults: the ``sb3``
    section of ``configs/ppo_residual.yaml``.

    The shared PPO settings come from the ``ppo`` section (learning_rate, discounting,
    gae_lambda, clipping_epsilon, entropy_cost, num_updates_per_batch -> n_epochs,
    max_grad_norm, network sizes, activation, normalize_observations, seed).

    Attributes:
      output_dir: parent of SB3 run directories.
      n_envs: worlds stepped together on the batched C-MuJoCo back end
        (``train.sb3_vec_env.BatchedSB3VecEnv`` over ``ResidualWalkVectorEnv``).
      total_timesteps: env steps (null: ``ppo.num_timesteps``).
      n_steps: steps per env per rollout.
      batch_size: SGD minibatch size.
      normalize_reward: VecNormalize reward normalisation.
      checkpoint_every_steps: CheckpointCallback interval in total env steps.
      device: torch device.
      threads: physics threads (``mujoco.rollout`` over the worlds); 0 = every core.
      torch_threads: torch CPU threads (policy forward pass and PPO update); 0 = every core.
        1 suits a CPU: physics and torch take turns in the one training process, and torch's
        worker threads left spinning after each small forward pass slow the physics threads
        down (measured on 2 cores: 2 torch threads made training 7x slower than 1).
    """

    output_dir: str
    n_envs: int = field(metadata={"range": (1, 4096)})
    total_timesteps: Optional[int] = field(metadata={"range": (1, None)})
    n_steps: int = field(metadata={"range": (2, None)})
    batch_size: int = field(metadata={"range": (2, None)})
    normalize_reward: bool
    checkpoint_every_steps: int = field(metadata={"range": (1, None)})
    device: str
    threads: int = field(metadata={"range": (0, 1024)})
    torch_threads: int = field(metadata={"range": (0, 1024)})


SECTIONS = {
    "simulation": SimulationConfig,
    "gait": GaitConfig,
    "env": EnvConfig,
    "ppo": PPOConfig,
    "run": RunConfig,
    "sb3": SB3Config,
}
"""Top-level YAML sections and the dataclass each one loads into."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything one training run needs. ``source`` records where it came from (for messages)."""

    simulation: SimulationConfig = SimulationConfig()
    gait: GaitConfig = GaitConfig()
    env: EnvConfig = EnvConfig()
    ppo: PPOConfig = PPOConfig()
    run: RunConfig = RunConfig()
    sb3: SB3Config = SB3Config()
    source: str = field(default="<defaults>", compare=False)
    preset: Optional[str] = field(default=None, compare=False)

    @property
    def episode_length(self) -> int:
        """Episode length in env (control) steps: ``env.episode_length_s / simulation.control_dt``."""
        return int(round(self.env.episode_length_s / self.simulation.control_dt))

    def to_dict(self) -> Dict[str, Any]:
        """Resolved mapping of every section (what a run writes to ``config.yaml``)."""
        return {name: to_dict(getattr(self, name)) for name in SECTIONS}

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def _deep_merge(base: Dict[str, Any], over: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _leaf_keys(d: Dict[str, Any], prefix: str = "") -> Dict[str, Any]:
    """``{"ppo.num_envs": 4096, ...}``: the dotted keys of a nested mapping's leaves."""
    out: Dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_leaf_keys(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _check_preset_clash(path: str, names: List[str], bodies: List[Dict[str, Any]]) -> None:
    """Refuse presets combined with commas that set the same key to different values: the last
    one would silently win (``ci_tiny,gpu`` would train 4,096 envs)."""
    seen: Dict[str, Tuple[str, Any]] = {}
    clashes = []
    for name, body in zip(names, bodies):
        for key, value in _leaf_keys(body).items():
            if key in seen and seen[key][1] != value:
                clashes.append(f"{key} ({seen[key][0]}: {short_repr(seen[key][1])}, {name}: {short_repr(value)})")
            seen[key] = (name, value)
    if clashes:
        shown = "; ".join(clashes[:6]) + (f"; and {len(clashes) - 6} more" if len(clashes) > 6 else "")
        raise ConfigError(
            f"presets {', '.join(repr(n) for n in names)} of {path} set the same keys to different "
            f"values: {shown}. Combine presets that set different keys (e.g. cpu_small,direct), or "
            f"take one preset and set the keys you want from the other with key=value overrides"
        )


def list_presets(path: Optional[str] = None) -> List[str]:
    """Names of the presets defined in a training YAML."""
    data = read_yaml(path or DEFAULT_TRAIN_YAML)
    presets = data.get("presets") or {}
    return sorted(presets) if isinstance(presets, dict) else []


def _check_override_key(parts: List[str], text: str) -> None:
    """Refuse overrides of keys that do not exist (named after the override, not a file)."""
    section = parts[0]
    if section not in SECTIONS:
        raise ConfigError(f"override {text!r}: unknown section '{section}' (valid sections: {', '.join(SECTIONS)})")
    if len(parts) == 1:
        raise ConfigError(
            f"override {text!r}: '{section}' is a section; override one of its keys, e.g. {section}.<key>=value"
        )
    cls: Any = SECTIONS[section]
    for i, p in enumerate(parts[1:], start=1):
        if not dataclasses.is_dataclass(cls):
            raise ConfigError(f"override {text!r}: '{'.'.join(parts[:i])}' is not a section")
        names = {f.name: f for f in dataclasses.fields(cls) if f.init}
        if p not in names:
            raise ConfigError(
                f"override {text!r}: unknown key '{'.'.join(parts[: i + 1])}' "
                f"(valid keys of '{'.'.join(parts[:i])}': {', '.join(sorted(names))})"
            )
        cls = typing.get_type_hints(cls)[p]


def _build(data: Dict[str, Any], path: str, suffix: str, preset: Optional[str]) -> TrainConfig:
    where = path + suffix
    unknown = sorted(set(data) - set(SECTIONS) - {"presets"})
    if unknown:
        raise ConfigError(f"unknown top-level key '{unknown[0]}' in {where} (valid: {', '.join(SECTIONS)}, presets)")
    sections = {}
    for name, cls in SECTIONS.items():
        sec = data.get(name)
        if sec is None:
            sec = {}
        if not isinstance(sec, dict):
            raise ConfigError(f"key '{name}' in {where} must be a mapping (a section), got {short_repr(sec)}")
        sections[name] = from_dict(cls, sec, where=f"{path} [{name}]{suffix}")
    run, sim = sections["run"], sections["simulation"]
    if run.eval_world != "flat" and run.eval_terrain_seed == sim.terrain_seed:
        raise ConfigError(
            f"key 'run.eval_terrain_seed' = {run.eval_terrain_seed} in {where} equals "
            f"simulation.terrain_seed: evaluate on a terrain seed training never uses"
        )
    cmd = sections["env"].command
    geometry = LegGeometry.from_robot_spec(load_robot_spec(sim.robot_file))  # the hips of the robot trained
    sections["gait"] = sections["gait"].for_robot(geometry)  # 'auto' gait sizes: from the robot's legs
    check_command_ranges(cmd.vx, cmd.vy, cmd.yaw_rate, sections["gait"], geometry, where=f"env.command in {where}")
    return TrainConfig(**sections, source=where, preset=preset)


def load_train_config(
    path: Optional[str] = None, preset: Optional[str] = None, overrides: Sequence[str] = (), task: Optional[str] = None
) -> TrainConfig:
    """Load, merge and validate a training config.

    Args:
      path: training YAML (default ``configs/ppo_residual.yaml``).
      preset: name of an entry of the file's ``presets:`` (None: base values only); several
        names separated by commas are merged left to right (``cpu_small,direct``).
      overrides: ``section.key=value`` strings (values parsed as YAML), applied last.
      task: a registered task (``train/tasks.py``: ``flat``, ``rough``, ``suite``, ``direct``,
        ``modulated``), applied after the preset and before the overrides.

    Raises:
      ConfigError: missing file, unknown preset (the message lists the valid ones), malformed or
        unknown override, unknown key, wrong type, out-of-range value.
    """
    path = os.fspath(path or DEFAULT_TRAIN_YAML)
    data = read_yaml(path)
    presets = data.pop("presets", None) or {}
    if not isinstance(presets, dict):
        raise ConfigError(f"key 'presets' in {path} must be a mapping of preset name -> overrides")
    notes = []
    if preset is not None:
        names = [n.strip() for n in str(preset).split(",")]
        bodies = []
        for name in names:
            if name not in presets:
                valid = ", ".join(sorted(presets)) or "(none defined)"
                raise ConfigError(
                    f"unknown preset {name!r} in {path}; valid presets: {valid} "
                    f"(combine several with commas, e.g. cpu_small,direct)"
                )
            body = presets[name] or {}
            if not isinstance(body, dict):
                raise ConfigError(f"preset '{name}' in {path} must be a mapping of sections")
            bad = sorted(set(body) - set(SECTIONS))
            if bad:
                raise ConfigError(
                    f"unknown section '{bad[0]}' in preset '{name}' of {path} (valid: {', '.join(SECTIONS)})"
                )
            bodies.append(body)
        _check_preset_clash(path, names, bodies)
        for body in bodies:
            data = _deep_merge(data, body)
        notes.append(f"preset {preset}")
    if task is not None:
        data = _deep_merge(data, task_sections(task))
        notes.append(f"task {task}")
    return _apply_and_build(data, path, notes, preset, overrides)


def _apply_and_build(
    data: Dict[str, Any], path: str, notes: List[str], preset: Optional[str], overrides: Sequence[str]
) -> TrainConfig:
    overrides = list(overrides)
    data = apply_overrides(data, overrides, check_key=_check_override_key)
    if overrides:
        notes.append(
            "overrides " + " ".join(o if len(o) <= 100 else f"{o[:80]}...({len(o):,d} characters)" for o in overrides)
        )
    suffix = f" ({'; '.join(notes)})" if notes else ""
    return _build(data, path, suffix, preset)


def task_config(name: str, preset: Optional[str] = None, overrides: Sequence[str] = (), path: Optional[str] = None):
    """The validated :class:`TrainConfig` of task ``name`` (:mod:`train.tasks`) at the size of ``preset``."""
    return load_train_config(path, preset=preset, overrides=overrides, task=name)


def load_resolved_config(path: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a run's resolved ``config.yaml`` (no presets), applying ``overrides``."""
    data = read_yaml(path)
    return _apply_and_build(data, os.fspath(path), [], None, overrides)


def save_resolved_config(cfg: TrainConfig, path: str, header: str = "") -> None:
    """Write ``cfg.to_dict()`` as YAML (with an optional comment header), atomically (temp + rename)."""
    import yaml

    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False, default_flow_style=None, width=100)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        if header:
            fh.write("".join(f"# {line}\n" for line in header.splitlines()))
        fh.write(text)
    os.replace(tmp, path)

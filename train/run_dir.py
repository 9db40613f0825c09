"""Run directories shared by the Brax and SB3 entry points: ``<output_dir>/YYYYMMDD_HHMM[_name]``.

A run directory is made absolute once, where it is created (:func:`make_run_dir`) or resumed
(:func:`resolve_run_dir`); every path of the run (checkpoints, ``best/``, ``export/``,
TensorBoard, progress, evaluation) is derived from that absolute path, so relative
``--output-dir``/``--resume`` arguments work from any working directory and a later ``chdir``
cannot move them. :func:`record_config` keeps the resolved config of every training segment;
:func:`resume_config` reads it back, with overrides, to resume.
"""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Any, List, Optional, Sequence

from model.yaml_config import ConfigError

if TYPE_CHECKING:
    from train.config import TrainConfig

CONFIG_FILE = "config.yaml"
"""``RUN_DIR/config.yaml``: the resolved config of the run's latest segment (resume reads it)."""
CHECKPOINT_SUBDIR = "checkpoints"
"""``RUN_DIR/checkpoints/``: the Brax (``<step>/``) and SB3 (``ppo_<steps>_steps.zip``) checkpoints."""
CONFIG_HISTORY_SUBDIR = "config_history"
"""``RUN_DIR/config_history/<NNN>_step<step>.yaml``: the config of each segment (first run, each resume)."""


def make_run_dir(output_dir: str, name: str = "", now: Optional[datetime.datetime] = None) -> str:
    """Create and return a fresh run directory, as an absolute path; a clash (same minute and name)
    gets ``-2``, ``-3``, ... ``output_dir`` may be relative (to the current working directory)."""
    stamp = (now or datetime.datetime.now()).strftime("%Y%m%d_%H%M")
    base = os.path.join(os.path.abspath(output_dir), f"{stamp}_{name}" if name else stamp)
    path, n = base, 1
    while True:
        try:
            os.makedirs(path, exist_ok=False)
            return path
        except FileExistsError:
            n += 1
            path = f"{base}-{n}"


def setup_jax_cache(cache_dir: Optional[str], min_compile_s: float = 0.0) -> Optional[str]:
    """Point JAX's persistent compilation cache at ``cache_dir`` (relative: to the repo root);
    computations compiled in less than ``min_compile_s`` seconds are not written to it.

    ``JAX_COMPILATION_CACHE_DIR`` in the environment wins. Returns the directory used (None: off).
    """
    import jax

    from model.simulation_config import REPO_ROOT

    env = os.environ.get("JAX_COMPILATION_CACHE_DIR")
    path = env or (
        None if not cache_dir else (cache_dir if os.path.isabs(cache_dir) else os.path.join(REPO_ROOT, cache_dir))
    )
    if path:
        jax.config.update("jax_compilation_cache_dir", os.path.abspath(path))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_s))
    return path


def resolve_run_dir(path: str) -> str:
    """The absolute path of an existing run directory (``--resume RUN``, ``train.export RUN``)."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


def resume_config(cfg_path: str, overrides: Sequence[str] = ()) -> Any:
    """The resolved config ``cfg_path`` of a run being resumed, with the ``key=value`` ``overrides``
    applied (the ``TrainConfig`` both entry points resume with).

    Raises:
      ConfigError: an override changes a key a resume keeps fixed (:data:`RESUME_FIXED_KEYS`:
        the network's shape and normalisation, the observation layout, the action mode), naming it.
    """
    from train.config import load_resolved_config

    cfg = load_resolved_config(cfg_path, overrides)
    check_resume_compatible(load_resolved_config(cfg_path), cfg)
    return cfg


def config_history(run_dir: str) -> List[str]:
    """Paths of ``RUN_DIR/config_history/*.yaml``, oldest segment first."""
    root = os.path.join(run_dir, CONFIG_HISTORY_SUBDIR)
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, n) for n in sorted(os.listdir(root)) if n.endswith(".yaml")]


def record_config(run_dir: str, cfg: Any, start_step: int, header: str = "") -> str:
    """Write the resolved config of a training segment starting at env step ``start_step``.

    ``RUN_DIR/config.yaml`` becomes ``cfg`` (so the next ``--resume`` keeps this segment's
    overrides) and ``RUN_DIR/config_history/<NNN>_step<start_step>.yaml`` records it for good.
    Returns the history file's path.
    """
    from train.config import save_resolved_config

    root = os.path.join(run_dir, CONFIG_HISTORY_SUBDIR)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, f"{len(config_history(run_dir)):03d}_step{int(start_step):012d}.yaml")
    save_resolved_config(cfg, path, header=header)
    save_resolved_config(cfg, os.path.join(run_dir, CONFIG_FILE), header=header)
    return path


RESUME_FIXED_KEYS = (
    # the saved network parameters have these shapes / meanings
    "ppo.policy_hidden_layer_sizes",
    "ppo.value_hidden_layer_sizes",
    "ppo.activation",
    "ppo.distribution",
    "ppo.normalize_observations",
    # the observation layout and the action's meaning the parameters were trained on
    "env.terrain_observation",
    "env.height_scan.enabled",
    "env.height_scan.x",
    "env.height_scan.y",
    "env.height_scan.resolution",
    "env.action_mode",
)
"""Keys a resumed run cannot change: the checkpoint's parameters would not fit (or mean) the new value."""


def _get_key(cfg, dotted: str) -> Any:
    node: Any = cfg
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def check_resume_compatible(saved: TrainConfig, resumed: TrainConfig) -> None:
    """Refuse a resume whose overrides change a key of :data:`RESUME_FIXED_KEYS`.

    Raises:
      ConfigError: naming the key, the saved and the requested value.
    """
    for key in RESUME_FIXED_KEYS:
        old, new = _get_key(saved, key), _get_key(resumed, key)

        def plain(v):
            return list(v) if isinstance(v, (list, tuple)) else v

        if plain(old) != plain(new):
            raise ConfigError(
                f"cannot resume with {key}={new!r}: the checkpoints of {saved.source} were trained with "
                f"{key}={old!r} (network sizes, the observation layout and the action mode are fixed by the "
                f"saved parameters; start a new run to change it)"
            )

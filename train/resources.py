"""Memory a training run will need, estimated from its config before anything is allocated.

``python -m train`` calls :func:`check_memory` after the config is resolved and before the run
directory, the environments or any JAX array exist. The estimate adds named parts, each from the
config and the compiled MuJoCo model (no environment is built):

* ``process``: the Python process with JAX, MuJoCo and brax imported and the training step
  compiled (:data:`PROCESS_BYTES`, measured);
* ``world copies``: the C-MuJoCo back end with domain randomisation keeps one model per world
  (``ppo.num_envs`` training + ``ppo.num_eval_envs`` evaluation worlds), each the size of the
  model compiled without textures (:func:`mjx_envs.cmujoco_physics.pool_source`);
* ``env states``: ``ppo.num_envs`` (+ evaluation) environment states, :data:`STATE_COPIES` copies
  alive in a training step (brax's auto-reset keeps the first state, the scan carries one in and
  one out); an MJX state is ``mjx.Data`` (its exact size from ``jax.eval_shape``) plus the
  observation and bookkeeping, a C-MuJoCo state the packed physics state in float64;
* ``rollout``: the training batch, ``batch_size * num_minibatches * unroll_length`` transitions
  (observation and next observation, action, raw action, log-probability, reward, discount,
  truncation), :data:`ROLLOUT_COPIES` copies (collected and shuffled into minibatches);
* ``networks``: parameters, gradients and Adam's two moments of both networks (float32).

On a CPU every part is host memory; on a GPU the env states, rollout and networks are device
memory (split over the local devices) and the rest host memory. Available memory: the host's
``MemAvailable`` (or a cgroup limit, whichever is lower) and each GPU's ``bytes_limit``. A config
that does not fit is refused with the numbers and the keys to change (``--no-memory-check``
skips the refusal).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Dict, List, Optional

from model.yaml_config import ConfigError

GB = 1e9
PROCESS_BYTES = {"cmujoco": 1.6e9, "mjx": 2.4e9}
"""Peak resident memory of a small training process by back end (measured on a 2-core CPU, ci_tiny:
1.50-1.58 GB on C MuJoCo; 2.41 GB with 256 MJX envs, whose step compiles into a larger program)."""
STATE_COPIES = 4
"""Environment states alive per world in a training step (state, brax's first state, scan in/out)."""
MJX_STATE_FACTOR = 3
"""An MJX state with its step temporaries (collision, constraint rows, solver) as a multiple of
``mjx.Data`` (fitted: 256 -> 2,048 MJX envs on a CPU added 0.38 GB, 212 kB an env)."""
ROLLOUT_COPIES = 3
"""Copies of the training batch (collected, reshaped, shuffled into minibatches)."""
STATE_EXTRA_BYTES = 2048
"""Bookkeeping per environment state besides physics and observation (info, metrics, draws)."""


class ResourceError(ConfigError):
    """The run would not fit in memory; the message gives the estimate and the keys to change."""


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part, and what the machine has.

    Attributes:
      host: named parts of host memory [bytes].
      device: named parts of device memory [bytes] (empty on a CPU: there the device is the host).
      host_available: host memory available [bytes] (None: unknown).
      device_available: memory of one device [bytes] (None: unknown or a CPU).
      num_devices: local devices the device parts are split over.
      per_env_host / per_env_device: bytes one more training environment adds to the host and
        to the device parts (before the split over devices).
    """

    host: Dict[str, float]
    device: Dict[str, float]
    host_available: Optional[float]
    device_available: Optional[float]
    num_devices: int
    per_env_host: float
    per_env_device: float

    @property
    def host_total(self) -> float:
        return float(sum(self.host.values()))

    @property
    def device_total(self) -> float:
        """Device bytes per device."""
        return float(sum(self.device.values())) / max(self.num_devices, 1)

    @property
    def fits_host(self) -> bool:
        return self.host_available is None or self.host_total <= self.host_available

    @property
    def fits_device(self) -> bool:
        return not self.device or self.device_available is None or self.device_total <= self.device_available

    def summary(self) -> str:
        """``memory estimate: 2.1 GB host of 22.3 GB available (process 1.6, rollout 0.3, ...)``."""

        def parts(d):
            return ", ".join(f"{k} {v / GB:.2f}" for k, v in d.items() if v >= 0.005 * GB)

        def avail(v):
            return f" of {v / GB:.1f} GB available" if v is not None else " (available memory unknown)"

        line = f"memory estimate: {self.host_total / GB:.1f} GB host{avail(self.host_available)} ({parts(self.host)})"
        if self.device:
            line += (
                f"; {self.device_total / GB:.1f} GB per device{avail(self.device_available)} "
                f"({parts(self.device)}; {self.num_devices} device(s))"
            )
        return line


def available_host_bytes() -> Optional[float]:
    """Host memory a new allocation can get: ``MemAvailable`` of /proc/meminfo, lowered to the
    cgroup's limit minus its usage when one is set; the free pages elsewhere; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = float(line.split()[1]) * 1024
    except OSError:
        try:
            avail = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError, AttributeError):
            avail = None
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file, encoding="ascii") as fh:
                raw = fh.read().strip()
            if raw == "max":
                continue
            with open(usage_file, encoding="ascii") as fh:
                free = float(raw) - float(fh.read().strip())
            if float(raw) < 1e18:  # cgroup v1 writes ~2^63 for "no limit"
                avail = free if avail is None else min(avail, free)
        except (OSError, ValueError):
            continue
    return avail


def device_memory() -> tuple:
    """``(platform, bytes of one local device or None, local device count)``."""
    import jax

    devs = jax.local_devices()
    limit = None
    if devs[0].platform != "cpu":
        try:
            stats = devs[0].memory_stats() or {}
            limit = float(stats.get("bytes_limit")) if stats.get("bytes_limit") else None
        except Exception:  # some plugins do not report memory
            limit = None
    return devs[0].platform, limit, len(devs)


def _world_bytes(sim) -> float:
    from model.loading import load_mj_model

    return float(load_mj_model(sim, textures=False).nbuffer)


def _state_bytes(cfg, backend: str, obs_size: int) -> float:
    """Bytes of one environment state (see module docstring)."""
    import mujoco

    from model.loading import load_mj_model

    m = load_mj_model(cfg.simulation, textures=False)
    own = 4 * 2 * obs_size + STATE_EXTRA_BYTES  # observation (+ the noisy copy / privileged one)
    if backend == "mjx":
        import jax
        import numpy as np
        from mujoco import mjx

        shapes = jax.eval_shape(lambda: mjx.make_data(m))
        data = sum(int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree_util.tree_leaves(shapes))
        return own + MJX_STATE_FACTOR * data
    nstate = mujoco.mj_stateSize(m, mujoco.mjtState.mjSTATE_FULLPHYSICS) + m.nv
    return own + 8 * (nstate + m.nsensordata)


def estimate_memory(
    cfg,
    backend: Optional[str] = None,
    platform: Optional[str] = None,
    device_bytes: Optional[float] = None,
    num_devices: int = 1,
    host_available: Optional[float] = None,
) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of training ``cfg`` (a :class:`train.config.TrainConfig`).

    ``backend`` (``mjx``/``cmujoco``), ``platform``, ``device_bytes``, ``num_devices`` and
    ``host_available`` default to this machine's; tests pass them to ask about another machine.
    """
    from mjx_envs.backends import resolve_backend
    from mjx_envs.observation import observation_size, observation_spec

    if platform is None:
        platform, device_bytes, num_devices = device_memory()
    if host_available is None:
        host_available = available_host_bytes()
    backend = backend or resolve_backend(cfg.simulation)
    p = cfg.ppo
    obs = observation_size(**observation_spec(cfg.env))
    act = cfg.env.action_size
    n_eval = p.num_eval_envs
    state = _state_bytes(cfg, backend, obs)
    states = STATE_COPIES * state * (p.num_envs + n_eval)
    transitions = p.batch_size * p.num_minibatches * p.unroll_length
    rollout = ROLLOUT_COPIES * transitions * 4 * (2 * obs + 3 * act + 8)

    def mlp(sizes, n_in, n_out):
        dims = [n_in, *sizes, n_out]
        return sum(a * b + b for a, b in zip(dims[:-1], dims[1:]))

    params = mlp(p.policy_hidden_layer_sizes, obs, 2 * act) + mlp(p.value_hidden_layer_sizes, obs, 1)
    networks = 4 * 4 * params * 2  # params, grads, Adam mu and nu; twice for the update's temporaries
    host: Dict[str, float] = {"process": PROCESS_BYTES[backend]}
    per_host, per_device = 0.0, STATE_COPIES * state
    if backend == "cmujoco" and cfg.env.domain_randomization.any_enabled:
        eval_sim = cfg.simulation.replace(world=cfg.run.eval_world)
        train_world = _world_bytes(cfg.simulation)
        eval_world = train_world if eval_sim.world == cfg.simulation.world else _world_bytes(eval_sim)
        host["world copies"] = p.num_envs * train_world + n_eval * eval_world
        per_host = train_world
    device: Dict[str, float] = {}
    on_device = {"env states": states, "rollout": rollout, "networks": networks}
    if platform == "cpu":  # the device is the host
        host.update(on_device)
        per_host, per_device = per_host + per_device, 0.0
    else:
        device.update(on_device)
        if backend == "cmujoco":  # the physics state also lives in numpy on the host
            host["physics states"] = 2 * state * (p.num_envs + n_eval)
            per_host += 2 * state
    return MemoryEstimate(
        host=host,
        device=device,
        host_available=host_available,
        device_available=device_bytes,
        num_devices=max(int(num_devices), 1),
        per_env_host=per_host,
        per_env_device=per_device,
    )


def _advice(est: MemoryEstimate, cfg, where: str) -> List[str]:
    p = cfg.ppo
    parts = est.host if where == "host" else est.device
    total = est.host_total if where == "host" else est.device_total
    avail = est.host_available if where == "host" else est.device_available
    split = 1 if where == "host" else est.num_devices
    per_env = (est.per_env_host if where == "host" else est.per_env_device) / split
    out = []
    if per_env > 0 and avail is not None:
        fit = int((avail - (total - per_env * p.num_envs)) // per_env)
        out.append(
            f"ppo.num_envs={p.num_envs} "
            + (
                f"(about {fit:,d} fit; keep batch_size * num_minibatches a multiple of it)"
                if fit >= 1
                else "(even one environment does not fit beside the rest)"
            )
        )
    if parts.get("world copies", 0) > 0.2 * total:
        out.append(
            "env.domain_randomization.*.enabled=false (one model copy per world on the C-MuJoCo back end), "
            "or simulation.backend=mjx on a GPU"
        )
    if parts.get("rollout", 0) > 0.1 * total:
        out.append(
            f"ppo.batch_size={p.batch_size} / ppo.num_minibatches={p.num_minibatches} / "
            f"ppo.unroll_length={p.unroll_length} (the training batch)"
        )
    if p.num_eval_envs > p.num_envs:
        out.append(f"ppo.num_eval_envs={p.num_eval_envs}")
    if not out:
        biggest = max(parts, key=parts.get)
        out.append(f"the largest part, {biggest} ({parts[biggest] / GB:.2f} GB), or run on a machine with more memory")
    return out


def check_memory(cfg, console=print, skip: bool = False, **machine) -> MemoryEstimate:
    """Estimate ``cfg``'s memory, print the one-line summary and refuse a run that does not fit.

    Raises:
      ResourceError: the estimate exceeds the host's or a device's available memory (unless
        ``skip``), with the numbers and the config keys that would make it fit.
    """
    est = estimate_memory(cfg, **machine)
    console(est.summary())
    for where, fits in (("host", est.fits_host), ("device", est.fits_device)):
        if fits:
            continue
        need = est.host_total if where == "host" else est.device_total
        have = est.host_available if where == "host" else est.device_available
        parts = est.host if where == "host" else est.device
        msg = (
            f"this run needs about {need / GB:.1f} GB of {where} memory"
            + (" per device" if where == "device" else "")
            + f" and {have / GB:.1f} GB are available "
            f"(GB: {', '.join(f'{k} {v / GB:.2f}' for k, v in parts.items())}); lower "
            + "; or ".join(_advice(est, cfg, where))
            + " (train.resources explains the estimate; --no-memory-check runs anyway)"
        )
        if skip:
            console(f"warning: {msg}")
        else:
            raise ResourceError(msg)
    return est

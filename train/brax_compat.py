"""Compatibility shim that lets brax 0.14.x training run on jax >= 0.10.

brax 0.14.2 still calls ``jax.device_put_replicated`` (``ppo/train.py``, ``sac``, ``apg``,
``brax/training/pmap.py``), which jax 0.10 removed together with ``jax.device_put_sharded``
(brax issue #671). Rather than pinning an old jax, :func:`apply` re-installs both names on the
``jax`` module, implemented with public jax APIs only:

* the leaves are stacked along a new leading axis (one slice per device) and placed with
  ``jax.device_put(stacked, NamedSharding(Mesh(devices, ("i",)), PartitionSpec("i")))``:
  leading axis = device axis, slice ``i`` on ``devices[i]``, the layout the removed functions
  produced and the one the shard_map-based ``jax.pmap`` (default since jax 0.8) consumes.
* the mesh axis is named ``"i"``, brax's ``_PMAP_AXIS_NAME`` in ppo/sac/apg. The new ``pmap``
  jit-compiles per input sharding, and its outputs carry ``Mesh("i")``; an initial training
  state placed on any other mesh (jax's own removed implementation used
  ``"_device_put_replicated"``) makes brax compile the whole training epoch twice (first call,
  then again for its own outputs). With ``"i"`` it compiles once. (brax's ``Evaluator`` still
  compiles twice: its first donated eval state comes from a plain ``jit``; not ours to fix.)

brax looks the functions up as ``jax.device_put_replicated`` at call time, so patching the
``jax`` module attribute works whatever the import order. :func:`apply` is idempotent and a
no-op for every name jax still provides itself.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

# Mesh axis name of the device axis; equals brax's _PMAP_AXIS_NAME (see module docstring).
PMAP_AXIS_NAME = "i"

# Marker set on the functions this module installs, so apply() can recognise its own patch.
_SHIM_ATTR = "__brax_compat_shim__"


def _stacked_sharding(devices: Sequence[Any]) -> NamedSharding:
    """Sharding that splits the leading (device) axis over ``devices``, one slice each."""
    mesh = Mesh(np.asarray(list(devices)), (PMAP_AXIS_NAME,))
    return NamedSharding(mesh, PartitionSpec(PMAP_AXIS_NAME))


def _check_devices(devices: Sequence[Any], fn_name: str) -> None:
    if not isinstance(devices, Sequence) or len(devices) == 0:
        raise ValueError(f"`devices` argument to {fn_name} must be a non-empty sequence.")


def device_put_replicated(x: Any, devices: Sequence[Any]) -> Any:
    """Replicate a pytree onto ``devices`` along a new leading device axis.

    Same semantics as the removed ``jax.device_put_replicated``.

    Args:
      x: array, scalar or pytree thereof (PRNG key arrays included).
      devices: non-empty sequence of ``jax.Device``.

    Returns:
      A pytree with the structure of ``x`` whose leaves have shape ``(len(devices), *leaf.shape)``;
      slice ``i`` equals the input leaf and lives on ``devices[i]``.
    """
    _check_devices(devices, "device_put_replicated")

    sharding = _stacked_sharding(devices)

    def put(leaf: Any) -> jax.Array:
        leaf = jnp.asarray(leaf)
        return jax.device_put(jnp.broadcast_to(leaf[None], (len(devices),) + leaf.shape), sharding)

    return jax.tree_util.tree_map(put, x)


def device_put_sharded(shards: Sequence[Any], devices: Sequence[Any]) -> Any:
    """Stack per-device pytrees into one pytree with a leading device axis.

    Same semantics as the removed ``jax.device_put_sharded``.

    Args:
      shards: sequence of pytrees of identical structure, shapes and dtypes, one per device.
      devices: sequence of ``jax.Device``, same length as ``shards``.

    Returns:
      A pytree whose leaves have shape ``(len(devices), *leaf.shape)``; slice ``i`` equals
      ``shards[i]`` and lives on ``devices[i]``.
    """
    if not isinstance(shards, Sequence):
        raise TypeError(f"device_put_sharded `shards` input must be a sequence; got {type(shards)}")
    _check_devices(devices, "device_put_sharded")
    if len(shards) != len(devices):
        raise ValueError(f"len(shards) = {len(shards)} must equal len(devices) = {len(devices)}.")

    sharding = _stacked_sharding(devices)

    def put(*leaves: Any) -> jax.Array:
        slices = [jnp.asarray(leaf) for leaf in leaves]
        first = slices[0]
        for s in slices[1:]:
            if s.shape != first.shape or s.dtype != first.dtype:
                raise ValueError(
                    "the shards passed to device_put_sharded must have consistent shape and "
                    f"dtype, but got {first.shape}/{first.dtype} and {s.shape}/{s.dtype}."
                )
        return jax.device_put(jnp.stack(slices), sharding)

    return jax.tree_util.tree_map(put, *shards)


setattr(device_put_replicated, _SHIM_ATTR, True)
setattr(device_put_sharded, _SHIM_ATTR, True)

_SHIMS: Dict[str, Any] = {
    "device_put_replicated": device_put_replicated,
    "device_put_sharded": device_put_sharded,
}


def _jax_has_native(name: str) -> bool:
    """True when jax itself (not this shim) still provides ``jax.<name>``."""
    try:
        with warnings.catch_warnings():  # jax 0.8/0.9 warn on access to the deprecated names
            warnings.simplefilter("ignore", DeprecationWarning)
            fn = getattr(jax, name)
    except AttributeError:  # removed: jax's module __getattr__ raises for deleted names
        return False
    return not getattr(fn, _SHIM_ATTR, False)


def missing_apis() -> tuple[str, ...]:
    """Names brax needs that the running jax no longer provides (before or without the shim)."""
    return tuple(name for name in _SHIMS if not _jax_has_native(name))


def apply() -> tuple[str, ...]:
    """Install the shims on the ``jax`` module where jax lacks the functions. Idempotent.

    Call it once before ``brax.training.agents.*.train`` runs (importing brax first is fine).

    Returns:
      The names served by this module after the call (empty on a jax that still has them).
    """
    served = []
    for name, fn in _SHIMS.items():
        if _jax_has_native(name):
            continue
        if getattr(jax, name, None) is not fn:
            setattr(jax, name, fn)
        served.append(name)
    return tuple(served)

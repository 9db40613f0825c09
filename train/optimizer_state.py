"""Save and restore Adam's state across ``--resume`` without forking brax's PPO loop.

``brax.training.agents.ppo.train`` keeps its optimizer state inside its ``TrainingState`` and
never hands it out (``policy_params_fn`` gets parameters only; brax issue #655), so a resumed
run used to restart Adam's moment estimates from zero. brax builds its training epoch as
``training_epoch = jax.pmap(training_epoch, ...)`` inside ``train``, looking ``jax.pmap`` up at
call time. :class:`OptimizerStateHook` wraps exactly that one function for the duration of one
``ppo.train`` call (a context manager that restores ``jax.pmap`` on exit):

* after every training epoch it copies the epoch's output ``optimizer_state`` to the host
  (numpy; the device buffers are donated to the next epoch), so the checkpoint written after
  that epoch's evaluation can store it (:meth:`OptimizerStateHook.to_bytes`);
* on the first epoch of a resumed run it replaces the freshly initialised optimizer state with
  the saved one (same tree structure and leaf shapes, placed with the original leaves'
  sharding, so nothing recompiles).

The file format is ``flax.serialization.msgpack_serialize(to_state_dict(opt_state))`` (Adam's
``count``, ``mu``, ``nu`` per parameter, with brax's leading device axis). A saved state that does
not fit the new optimizer (e.g. ``ppo.max_grad_norm`` switched between null and a number, another
device count) is not applied: :attr:`OptimizerStateHook.restore_error` says why and the run
continues with a fresh Adam, as before.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

OPTIMIZER_FILE = "optimizer_state.msgpack"
"""File name of the optimizer state inside a checkpoint directory."""

_BRAX_PPO_MODULE = "brax.training.agents.ppo.train"


class OptimizerStateHook:
    """Context manager around one ``ppo.train`` call: captures (and optionally restores) the
    optimizer state of brax's training epoch. See the module docstring.

    Args:
      restore: bytes of a saved state (:meth:`to_bytes`) to apply on the first epoch, or None.
    """

    def __init__(self, restore: Optional[bytes] = None):
        self._restore_bytes = restore
        self.latest: Any = None  # host copy of the newest optimizer state (numpy pytree)
        self.restored = False  # the saved state was applied
        self.restore_error: Optional[str] = None
        self.epochs = 0
        self._orig_pmap = None

    # -------------------------------------------------------------------- context manager
    def __enter__(self) -> "OptimizerStateHook":
        import jax

        self._orig_pmap = orig = jax.pmap
        hook = self

        def pmap(fun=None, *args, **kwargs):
            if fun is None:  # decorator form jax.pmap(axis_name=...)(f)
                return lambda f: pmap(f, *args, **kwargs)
            mapped = orig(fun, *args, **kwargs)
            if getattr(fun, "__name__", "") == "training_epoch" and getattr(fun, "__module__", "") == _BRAX_PPO_MODULE:
                return hook._wrap(mapped)
            return mapped

        jax.pmap = pmap
        return self

    def __exit__(self, *exc) -> None:
        import jax

        jax.pmap = self._orig_pmap

    # -------------------------------------------------------------------------- internals
    def _wrap(self, mapped):
        def training_epoch(training_state, env_state, key):
            if self._restore_bytes is not None and self.epochs == 0:
                training_state = self._apply_restore(training_state)
            out = mapped(training_state, env_state, key)
            self.epochs += 1
            import jax

            self.latest = jax.device_get(out[0].optimizer_state)
            return out

        return training_epoch

    def _apply_restore(self, training_state):
        import jax
        from flax import serialization

        template = training_state.optimizer_state
        try:
            saved = serialization.msgpack_restore(self._restore_bytes)
            restored = serialization.from_state_dict(template, saved)
            t_leaves, t_def = jax.tree_util.tree_flatten(template)
            r_leaves, r_def = jax.tree_util.tree_flatten(restored)
            if t_def != r_def or len(t_leaves) != len(r_leaves):
                raise ValueError("tree structure differs")
            for t, r in zip(t_leaves, r_leaves):
                if np.shape(t) != np.shape(r):
                    raise ValueError(f"leaf shape {np.shape(r)} != {np.shape(t)}")
        except Exception as e:  # structure/shape mismatch or a damaged file
            self.restore_error = f"{type(e).__name__}: {str(e)[:200]}"
            return training_state
        # the template's leaves are the device arrays brax placed: same dtype, same sharding
        placed = jax.tree_util.tree_map(
            lambda t, r: jax.device_put(np.asarray(r, t.dtype), t.sharding), template, restored
        )
        self.restored = True
        return training_state.replace(optimizer_state=placed)

    # ----------------------------------------------------------------------------- I/O
    def to_bytes(self) -> Optional[bytes]:
        """The newest captured optimizer state, serialised (None before the first epoch)."""
        if self.latest is None:
            return None
        from flax import serialization

        return serialization.msgpack_serialize(serialization.to_state_dict(self.latest))


def adam_count(state_bytes: bytes) -> int:
    """Adam's step count stored in a serialised optimizer state (the largest ``count`` leaf)."""
    from flax import serialization

    tree = serialization.msgpack_restore(state_bytes)
    counts = []

    def walk(node, key=""):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
        elif key == "count":
            counts.append(int(np.max(np.asarray(node))))

    walk(tree)
    if not counts:
        raise ValueError("no Adam 'count' in the optimizer state")
    return max(counts)

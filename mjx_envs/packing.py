"""Pack a pytree (the env's ``info`` dict) into one flat array per dtype, and back.

A jitted call on the CPU costs a few microseconds per argument and per result leaf; the
episode ``info`` has ~40 leaves and the metrics ~60. The C-MuJoCo back ends hand the logic one
float32, one int32 and one uint32 buffer instead (``Packer.pack`` / ``unpack`` run inside the
jitted functions, where they cost nothing), and read single entries on the host with
``Packer.read`` (a numpy slice, no device round trip). Packing is exact: every leaf keeps its
dtype (PRNG keys stay uint32 bit for bit).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Tuple

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True, eq=False)
class Packer:
    """Layout of one pytree: its treedef, and for each leaf (dtype name, offset, shape).

    ``pack(tree)`` -> ``{dtype name: (..., size) array}`` (leading batch dimensions kept);
    ``unpack(buffers)`` -> the tree. Built from an unbatched template by :meth:`of`."""

    treedef: Any
    slots: Tuple[Tuple[str, int, Tuple[int, ...]], ...]  # per leaf: (dtype, offset, shape)
    sizes: Dict[str, int]
    paths: Tuple[str, ...]  # "a/b" path of every leaf, for read()

    @classmethod
    def of(cls, template: Any) -> "Packer":
        """Layout of the *unbatched* pytree ``template`` (arrays or ShapeDtypeStructs)."""
        path_leaves, treedef = jax.tree_util.tree_flatten_with_path(template)
        sizes: Dict[str, int] = {}
        slots, paths = [], []
        for path, leaf in path_leaves:
            dt = np.dtype(leaf.dtype).name
            shape = tuple(int(s) for s in np.shape(leaf))
            off = sizes.get(dt, 0)
            slots.append((dt, off, shape))
            sizes[dt] = off + int(np.prod(shape, dtype=np.int64))
            paths.append("/".join(_key_name(k) for k in path))
        return cls(treedef=treedef, slots=tuple(slots), sizes=dict(sizes), paths=tuple(paths))

    def pack(self, tree: Any) -> Dict[str, jax.Array]:
        """Flat buffers of ``tree`` (leading batch dimensions, if any, are kept)."""
        leaves = self.treedef.flatten_up_to(tree)
        parts: Dict[str, list] = {dt: [] for dt in self.sizes}
        for (dt, _, shape), leaf in zip(self.slots, leaves):
            leaf = jnp.asarray(leaf)
            if leaf.dtype != np.dtype(dt):
                raise TypeError(f"Packer: leaf has dtype {leaf.dtype}, layout says {dt}")
            batch = leaf.shape[: leaf.ndim - len(shape)]
            parts[dt].append(jnp.reshape(leaf, batch + (-1,)))
        return {dt: jnp.concatenate(p, axis=-1) for dt, p in parts.items()}

    def unpack(self, buffers: Dict[str, Any]) -> Any:
        """Inverse of :meth:`pack` (works on numpy or JAX buffers)."""
        leaves = []
        for dt, off, shape in self.slots:
            buf = buffers[dt]
            n = int(np.prod(shape, dtype=np.int64))
            leaves.append(buf[..., off : off + n].reshape(buf.shape[:-1] + shape))
        return self.treedef.unflatten(leaves)

    def read(self, buffers: Dict[str, np.ndarray], path: str) -> np.ndarray:
        """One leaf, by its ``"/"``-joined path (e.g. ``"terrain_level"``, ``"gait/phase"``),
        from numpy buffers (batched or not): a view, no copy."""
        try:
            i = self.paths.index(path)
        except ValueError:
            raise KeyError(f"Packer: no leaf {path!r}; leaves: {', '.join(self.paths)}") from None
        dt, off, shape = self.slots[i]
        buf = buffers[dt]
        n = int(np.prod(shape, dtype=np.int64))
        return buf[..., off : off + n].reshape(buf.shape[:-1] + shape)


def _key_name(k) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(k, attr):
            return str(getattr(k, attr))
    return str(k)

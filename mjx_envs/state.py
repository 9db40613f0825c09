"""The environment state pytree shared by the MJX environment and the training wrappers."""

from __future__ import annotations

from typing import Any, Dict

import jax
from flax import struct


@struct.dataclass
class State:
    """Immutable per-environment state (MuJoCo Playground style).

    Attributes:
      data: the physics state (``mjx.Data`` for the MJX env).
      obs: observation vector, shape (obs_size,).
      reward: scalar reward of the last control step.
      done: scalar float, 1.0 when the episode terminated at the last step.
      metrics: dict of scalar diagnostics (each reward term, saturation counts, ...).
      info: dict of everything else that changes per episode (rng, command, gait phase, ...).
    """

    data: Any
    obs: jax.Array
    reward: jax.Array
    done: jax.Array
    metrics: Dict[str, jax.Array] = struct.field(default_factory=dict)
    info: Dict[str, Any] = struct.field(default_factory=dict)

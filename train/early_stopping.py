"""When a training run stops before its target: :class:`EarlyStopping`, the plateau rule on the
evaluation reward, and :class:`EarlyStop`, the exception that carries the decision out of brax's
progress callback (``train.runner.TrainingRun.check_early_stop`` applies both, with the wall-clock
budget ``run.max_wall_clock_s``)."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional


class EarlyStop(Exception):
    """Raised from brax's progress callback to end training early (caught by ``TrainingRun.train``)."""


class EarlyStopping:
    """Plateau detector on the evaluation reward.

    ``update(reward)`` returns True once ``patience`` consecutive evaluations did not beat the best
    so far by more than ``min_delta``, provided at least ``min_evals`` evaluations were seen.
    """

    def __init__(self, enabled: bool, patience: int, min_delta: float, min_evals: int = 0):
        self.enabled, self.patience, self.min_delta, self.min_evals = enabled, patience, min_delta, min_evals
        self.best = -math.inf
        self.best_step: Optional[int] = None
        self.since_best = 0
        self.count = 0

    def update(self, reward: float, step: Optional[int] = None) -> bool:
        self.count += 1
        if reward > self.best + self.min_delta or self.best_step is None:
            self.best, self.best_step, self.since_best = float(reward), step, 0
        else:
            self.since_best += 1
        return bool(self.enabled and self.count >= self.min_evals and self.since_best >= self.patience)

    def state(self) -> Dict[str, Any]:
        return {"best": self.best, "best_step": self.best_step, "since_best": self.since_best, "count": self.count}

    def load(self, s: Dict[str, Any]) -> None:
        self.best = float(s.get("best", -math.inf)) if s.get("best") is not None else -math.inf
        self.best_step = s.get("best_step")
        self.since_best = int(s.get("since_best", 0))
        self.count = int(s.get("count", 0))

"""The safety report's pass/fail criteria, as data: ``configs/safety.yaml`` (docs/safety.md).

Each criterion names one measured quantity of a world's episodes (a key of
:func:`evaluation.safety_report.aggregate_safety`'s result, listed in :data:`MEASURES`) and a bound::

    criteria:
      joint_velocity:
        measure: max_joint_velocity_radps   # what is judged
        at_most: 21.0                       # pass if value <= 21.0 (or at_least: pass if >=)
        unit: rad/s
        label: max |joint velocity|
        definition: largest |qdot| of any actuated joint over all steps

A file given with ``--thresholds`` is laid over the defaults: a criterion it names replaces those
fields of the default criterion of that name (``criteria: {joint_velocity: {at_most: 30}}`` is a
complete file); a new name must give every field. ``near_limit_margin_rad`` is a measurement
parameter (how close to a joint limit counts as "near"), not a criterion.

Units: rad, rad/s, m/s, fractions in [0, 1], episodes (whole numbers).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Tuple

from evaluation.runner import POLICY
from model.simulation_config import REPO_ROOT
from model.yaml_config import ConfigError, read_yaml, short_repr

DEFAULT_THRESHOLDS = os.path.join(REPO_ROOT, "configs", "safety.yaml")

MEASURES = (
    "joint_limit_margin_min_rad",
    "near_limit_fraction",
    "max_joint_velocity_radps",
    "max_torque_fraction",
    "actuator_saturation_rate",
    "ik_saturation_rate",
    "foot_slip_mean_mps",
    "foot_slip_p95_mps",
    "max_abs_roll_rad",
    "max_abs_pitch_rad",
    "falls",
    "nan_physics",
)
"""The quantities a criterion may judge (per world, over its episodes; units in the names)."""

BOUNDS = ("at_most", "at_least")
_FIELDS = ("measure", "unit", "label", "definition")


@dataclasses.dataclass(frozen=True)
class Criterion:
    """One judged quantity: the world's ``measure`` must be ``op`` (``<=`` / ``>=``) ``threshold``."""

    name: str
    measure: str
    op: str
    threshold: float
    unit: str
    label: str
    definition: str

    @property
    def bound(self) -> str:
        """The YAML key that holds the threshold (``at_most`` or ``at_least``)."""
        return "at_most" if self.op == "<=" else "at_least"


@dataclasses.dataclass(frozen=True)
class SafetyCriteria:
    """Every criterion in report order, and the measurement parameter ``near_limit_margin_rad`` [rad]."""

    criteria: Tuple[Criterion, ...]
    near_limit_margin_rad: float

    def thresholds(self) -> Dict[str, float]:
        """``{criterion name: threshold}``, as the report's JSON records them."""
        return {c.name: c.threshold for c in self.criteria}


def _number(value: Any, where: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number, got {short_repr(value)}")
    if unit == "fraction" and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{where} is a fraction and must lie in [0, 1], got {value}")
    if unit == "episodes" and (value < 0 or float(value) != int(value)):
        raise ConfigError(f"{where} counts episodes and must be a whole number >= 0, got {value}")
    return int(value) if unit == "episodes" else float(value)


def _criterion(name: str, entry: Mapping[str, Any], where: str) -> Criterion:
    here = f"{where}: criteria.{name}"
    missing = [k for k in _FIELDS if k not in entry]
    bounds = [k for k in BOUNDS if k in entry]
    if missing:
        raise ConfigError(f"{here} lacks {', '.join(missing)} (a new criterion gives {', '.join(_FIELDS)} and a bound)")
    if len(bounds) != 1:
        raise ConfigError(f"{here} needs exactly one of at_most / at_least, got {bounds or 'neither'}")
    if entry["measure"] not in MEASURES:
        raise ConfigError(f"{here}.measure {short_repr(entry['measure'])} is not measured; choose one of {MEASURES}")
    for k in ("unit", "label", "definition"):
        if not isinstance(entry[k], str) or not entry[k].strip():
            raise ConfigError(f"{here}.{k} must be a non-empty string, got {short_repr(entry[k])}")
    op = "<=" if bounds[0] == "at_most" else ">="
    threshold = _number(entry[bounds[0]], f"{here}.{bounds[0]}", entry["unit"])
    return Criterion(name, entry["measure"], op, threshold, entry["unit"], entry["label"], entry["definition"])


def _raw(path: str) -> Dict[str, Any]:
    data = read_yaml(path)
    if not isinstance(data, dict):
        got = short_repr(data)
        raise ConfigError(f"{path}: expected a mapping with 'criteria' (see configs/safety.yaml), got {got}")
    unknown = sorted(set(data) - {"criteria", "near_limit_margin_rad"})
    if unknown:
        hint = "; thresholds sit under criteria.<name>.at_most / at_least (see configs/safety.yaml)"
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}{hint}")
    crit = data.get("criteria", {})
    if not isinstance(crit, dict) or not all(isinstance(v, dict) for v in crit.values()):
        raise ConfigError(f"{path}: 'criteria' must map each criterion name to its fields")
    for name, entry in crit.items():
        extra = sorted(set(entry) - set(_FIELDS) - set(BOUNDS))
        if extra:
            raise ConfigError(f"{path}: criteria.{name}: unknown key {extra[0]!r} (fields: {_FIELDS + BOUNDS})")
    return data


def load_criteria(path: Optional[str] = None) -> SafetyCriteria:
    """Load the criteria: ``configs/safety.yaml``, with ``path`` (if given) laid over it.

    Raises:
      ConfigError: a missing file, an unknown key, a measure that is not measured, a missing or
        doubled bound, a threshold out of its unit's range (the message names the file and key).
    """
    base = _raw(DEFAULT_THRESHOLDS)
    merged: Dict[str, Dict[str, Any]] = {k: dict(v) for k, v in base["criteria"].items()}
    margin = base.get("near_limit_margin_rad")
    where = DEFAULT_THRESHOLDS
    if path is not None and os.path.abspath(os.fspath(path)) != os.path.abspath(DEFAULT_THRESHOLDS):
        where = os.fspath(path)
        over = _raw(where)
        for name, entry in over.get("criteria", {}).items():
            old = merged.get(name, {})
            if any(b in entry for b in BOUNDS):
                old = {k: v for k, v in old.items() if k not in BOUNDS}
            merged[name] = {**old, **entry}
        margin = over.get("near_limit_margin_rad", margin)
    criteria = tuple(_criterion(name, entry, where) for name, entry in merged.items())
    if not criteria:
        raise ConfigError(f"{where}: no criteria to judge")
    margin = _number(margin, f"{where}: near_limit_margin_rad", "rad")
    if not 0.0 <= margin <= 1.0:
        raise ConfigError(f"{where}: near_limit_margin_rad must lie in [0, 1] rad, got {margin}")
    return SafetyCriteria(criteria, margin)


def check_criteria(values: Mapping[str, Any], criteria: SafetyCriteria) -> List[Dict[str, Any]]:
    """Judge a world's measured ``values`` (keys: :data:`MEASURES`) against ``criteria``. Pure.

    Returns one row per criterion, in order: ``{name, label, unit, value, op, threshold,
    threshold_key, passed}``. A missing or non-finite value fails (it cannot be shown to be safe);
    a value equal to the threshold passes.
    """
    rows = []
    for c in criteria.criteria:
        v = values.get(c.measure)
        ok = v is not None and math.isfinite(float(v))
        if ok:
            ok = float(v) <= c.threshold if c.op == "<=" else float(v) >= c.threshold
        rows.append(
            {
                "name": c.name,
                "label": c.label,
                "unit": c.unit,
                "value": v,
                "op": c.op,
                "threshold": c.threshold,
                "threshold_key": f"criteria.{c.name}.{c.bound}",
                "passed": bool(ok),
            }
        )
    return rows


def verdict(judged: Mapping[str, Mapping[str, List[Dict[str, Any]]]], controller: str = POLICY) -> bool:
    """True when ``controller`` passes every criterion in every world (and was judged at all)."""
    worlds = judged.get(controller, {})
    return bool(worlds) and all(r["passed"] for rows in worlds.values() for r in rows)


def definitions(criteria: SafetyCriteria) -> Dict[str, Dict[str, Any]]:
    """``{name: {measure, label, unit, op, threshold, definition}}``, in report order, for the report's JSON."""
    return {
        c.name: {
            "measure": c.measure,
            "label": c.label,
            "unit": c.unit,
            "op": c.op,
            "threshold": c.threshold,
            "definition": c.definition,
        }
        for c in criteria.criteria
    }

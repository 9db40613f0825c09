"""The terrain suite's tiles and per-tile tables of ``python -m evaluation.evaluate --worlds suite``.

A tile is one (difficulty level, terrain type) cell of the suite grid (``configs/terrain.yaml``);
evaluation episode i runs on ``suite_tiles(levels, types)[i % number of tiles]``. The tables
aggregate the per-episode numbers of :mod:`evaluation.episode_metrics` per tile and list the
tiles where the nominal gait fails or stalls. Pure functions; success rates are fractions.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence, Tuple

from evaluation.episode_metrics import aggregate
from model import terrain

ALL_TYPES = tuple(terrain.TERRAIN_TYPES)
GAIT_FAILS_BELOW = 0.5
"""A suite tile is listed under "where the gait fails" when the nominal gait's success rate is below this."""


def suite_levels() -> Tuple[int, ...]:
    """All difficulty levels of the suite (``configs/terrain.yaml``: 0..7)."""
    return tuple(range(terrain.default_suite_spec().num_levels))


def suite_tiles(levels: Sequence[int], types: Sequence[str]) -> List[Tuple[int, int]]:
    """(level, type index) of every evaluated suite tile, level-major: episode i runs on ``tiles[i % len]``."""
    return [(int(lv), ALL_TYPES.index(t)) for lv in levels for t in types]


def tile_table(episodes: Sequence[Dict[str, Any]], levels: Sequence[int], types: Sequence[str]) -> List[Dict[str, Any]]:
    """One row per suite tile (level-major): ``terrain_level``, ``terrain_type``, the
    :func:`~evaluation.episode_metrics.aggregate` of its episodes (``success_rate``,
    ``distance_m_mean``, ``vel_tracking_error_mps``, ``falls``, ``off_map``, ...) and
    ``left_tile``: episodes that ended on another tile (or the border / off the map)."""
    rows = []
    for lv in levels:
        for t in types:
            eps = [e for e in episodes if e["terrain_level"] == lv and e["terrain_type"] == t]
            row = {"terrain_level": int(lv), "terrain_type": t, **aggregate(eps)}
            row["left_tile"] = sum(1 for e in eps if (e.get("end_terrain_level"), e.get("end_terrain_type")) != (lv, t))
            rows.append(row)
    return rows


def gait_stalls(tiles: Sequence[Dict[str, Any]], at_least: float = GAIT_FAILS_BELOW) -> List[Dict[str, Any]]:
    """Tiles where at least ``at_least`` of the episodes *stalled* (no fall, < 25 % of the commanded
    forward distance; ``episode_metrics.summarize_episode``): ``[{terrain_type, terrain_level,
    stalled, episodes}]``, sorted by type then level. Complements :func:`gait_failures`."""
    bad = [
        {k: r[k] for k in ("terrain_type", "terrain_level", "stalled", "episodes")}
        for r in tiles
        if r["episodes"] and r["stalled"] / r["episodes"] >= at_least
    ]
    return sorted(bad, key=lambda r: (ALL_TYPES.index(r["terrain_type"]), r["terrain_level"]))


def gait_failures(tiles: Sequence[Dict[str, Any]], below: float = GAIT_FAILS_BELOW) -> List[Dict[str, Any]]:
    """Tiles (rows of :func:`tile_table`) whose success rate is below ``below``: ``[{terrain_type,
    terrain_level, success_rate, falls, episodes}]``, sorted by type then level."""
    bad = [
        {k: r[k] for k in ("terrain_type", "terrain_level", "success_rate", "falls", "episodes")}
        for r in tiles
        if r["success_rate"] is not None and r["success_rate"] < below
    ]
    return sorted(bad, key=lambda r: (ALL_TYPES.index(r["terrain_type"]), r["terrain_level"]))

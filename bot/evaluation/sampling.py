"""The quarterly sample (pure): at least ``share`` of the households of every building, none
asked in the recent campaigns, the same sample for the same seed and households."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field


@dataclass
class Sample:
    """The chosen units, and per building how many were wanted but could not be had (every
    eligible unit was asked recently)."""

    units: list[str] = field(default_factory=list)
    wanted: dict[str, int] = field(default_factory=dict)
    shortfall: dict[str, int] = field(default_factory=dict)


def sample(
    households: Mapping[str, str], recent: Collection[str], share: float, seed: int
) -> Sample:
    """Stratified by building: ``ceil(share x households)`` per building, so the whole is at
    least ``share`` too, drawn from units not in ``recent`` (topped up from other buildings
    when one has too few left). ``households`` maps unit key ->
    building. Reproducible: sorted inputs and a generator per building seeded with ``seed``."""
    buildings: dict[str, list[str]] = defaultdict(list)
    for unit, building in households.items():
        buildings[building].append(unit)
    excluded = set(recent)
    result = Sample()
    for building in sorted(buildings):
        units = sorted(buildings[building])
        wanted = math.ceil(share * len(units) - 1e-9)
        eligible = [u for u in units if u not in excluded]
        take = min(wanted, len(eligible))
        rng = random.Random(f"{seed}:{building}")
        result.units.extend(sorted(rng.sample(eligible, take)))
        result.wanted[building] = wanted
        if take < wanted:
            result.shortfall[building] = wanted - take
    # A building too small to skip a year (fewer than 4 x its share) falls short: the whole
    # still gets its share, topped up from the other buildings' eligible households.
    missing = math.ceil(share * len(households) - 1e-9) - len(result.units)
    if missing > 0:
        chosen = set(result.units)
        rest = sorted(u for u in households if u not in excluded and u not in chosen)
        extra = random.Random(f"{seed}:top-up").sample(rest, min(missing, len(rest)))
        result.units = sorted(chosen | set(extra))
    return result

"""Random faults at configurable rates per kind, reproducible with a seed.

Each request draws once for the phase it belongs to; a phase offers only the kinds that make
sense there, and each kind fires with its own rate (the rates of one phase add up to at most 1):

    submit    429, 500, 503, reset          (before the operation exists)
    poll      429, 500, 503, reset
    download  500, 503, reset, slow, truncate
    operation error, rai                    (drawn once when an operation is created)
"""

from __future__ import annotations

import random
from collections import Counter

KINDS = ("429", "500", "503", "reset", "slow", "truncate", "error", "rai")
PHASES = {
    "submit": ("429", "500", "503", "reset"),
    "poll": ("429", "500", "503", "reset"),
    "download": ("500", "503", "reset", "slow", "truncate"),
    "operation": ("error", "rai"),
}


def parse_faults(spec: str) -> dict[str, float]:
    """`429=0.1,500=0.05,reset=0.05` -> {"429": 0.1, ...}; unknown kinds and bad rates raise."""
    rates: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        kind, sep, value = item.partition("=")
        kind = kind.strip()
        if not sep or kind not in KINDS:
            raise ValueError(f"unknown fault {item!r}; kinds are {', '.join(KINDS)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"fault {kind}: {value!r} is not a number") from None
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault {kind}: the rate must be between 0 and 1")
        rates[kind] = rate
    for phase, kinds in PHASES.items():
        if sum(rates.get(kind, 0.0) for kind in kinds) > 1.0:
            raise ValueError(f"the {phase} fault rates add up to more than 1")
    return rates


class FaultInjector:
    def __init__(self, rates: dict[str, float], seed: int | None = None):
        self.rates = dict(rates)  # replaceable at run time, e.g. by a test
        self._random = random.Random(seed)
        self.counts: Counter[str] = Counter()

    def draw(self, phase: str) -> str | None:
        """The fault this request gets, if any (counted), for one of the PHASES."""
        kinds = PHASES[phase]
        if not any(self.rates.get(kind) for kind in kinds):
            return None
        point = self._random.random()
        for kind in kinds:
            point -= self.rates.get(kind, 0.0)
            if point < 0:
                self.counts[kind] += 1
                return kind
        return None

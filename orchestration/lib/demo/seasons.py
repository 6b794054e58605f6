"""The shopping calendar: weekly rhythm, festivals (6.18, 11.11, 12.12), Spring Festival.

Everything here is a pure function of the date, so the factories' planners can read the
same calendar ahead of time (they know when 11.11 is) while the actual sales stay random.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

WEEKDAY_LEVEL = (0.92, 0.90, 0.93, 0.97, 1.05, 1.22, 1.18)  # Monday first; weekends sell more

# Demand boost by days from the festival's peak day (negative: the run-up).
DOUBLE_ELEVEN = {
    **{d: 1.25 for d in range(-22, -11)},  # 10-20..10-30: warm-up, deposits for presale
    -11: 2.6,  # 10-31 20:00: presale opens
    -10: 2.2,
    -9: 1.6,
    -8: 1.4,
    **{d: 1.35 for d in range(-7, -1)},
    -1: 2.0,
    0: 7.0,
    1: 1.8,
    2: 1.3,
    3: 1.15,
}
MID_YEAR_618 = {
    **{d: 1.2 for d in range(-21, -17)},  # 05-28..05-31
    -17: 2.2,  # 06-01: the first wave
    **{d: 1.3 for d in range(-16, -2)},
    -2: 1.6,
    -1: 2.2,
    0: 5.0,
    1: 1.5,
    2: 1.15,
}
DOUBLE_TWELVE = {-2: 1.3, -1: 1.6, 0: 2.8, 1: 1.3}
WOMENS_DAY = {-1: 1.3, 0: 1.8}
FESTIVALS = (((11, 11), DOUBLE_ELEVEN), ((6, 18), MID_YEAR_618), ((12, 12), DOUBLE_TWELVE), ((3, 8), WOMENS_DAY))
PRESALE_OPENINGS = ((10, 31), (6, 1))  # days the presale opens at 20:00

SPRING_FESTIVAL = {2025: date(2025, 1, 29), 2026: date(2026, 2, 17), 2027: date(2027, 2, 6)}
SPRING_FESTIVAL_DEMAND = {
    **{d: 1.2 for d in range(-10, -3)},  # new-year shopping
    **{d: 0.45 for d in range(-3, 7)},  # couriers and shops close
    **{d: 0.8 for d in range(7, 11)},
}
FACTORY_HOLIDAY = range(-3, 8)  # factories close around the Spring Festival

# Share of a normal day's orders placed in each hour: quiet nights, evening peak.
HOURLY = np.array(
    [
        0.6,
        0.3,
        0.15,
        0.1,
        0.1,
        0.2,
        0.5,
        1.2,
        2.0,
        3.0,
        3.5,
        3.8,
        3.6,
        3.3,
        3.4,
        3.6,
        3.7,
        3.6,
        3.8,
        4.5,
        5.2,
        5.5,
        4.5,
        2.5,
    ]
)
GROWTH_PER_YEAR = 0.3
GROWTH_EPOCH = date(2025, 1, 1)


@dataclass(frozen=True)
class Outlook:
    """What kind of trading day a date is."""

    day: date
    level: float  # relative demand: weekday x festival x growth; 1.0 is a plain weekday
    boost: float  # the festival part alone (1.0 on ordinary days)
    peak: bool  # the festival's main day (11.11, 6.18, 12.12)
    hours: np.ndarray  # probability of an order in each local hour
    factory_open: bool

    @property
    def live_share(self) -> float:
        """Share of the day's order lines sold in live-stream sessions."""
        return min(0.35, 0.12 * self.boost**0.5)

    @property
    def discount_chance(self) -> float:
        return 0.12 + 0.45 * min(1.0, (self.boost - 1.0) / 2.0) if self.boost > 1 else 0.12

    @property
    def price_factor(self) -> float:
        """Festival prices sit a little under list price."""
        return 1.0 - 0.05 * min(1.0, max(0.0, self.boost - 1.0) / 3.0)


def _festival_boost(day: date) -> tuple[float, bool]:
    boost, peak = 1.0, False
    for (month, dom), curve in FESTIVALS:
        for year in (day.year - 1, day.year, day.year + 1):
            offset = (day - date(year, month, dom)).days
            if offset in curve:
                boost *= curve[offset]
                peak = peak or (offset == 0 and curve[0] >= 2.5)
    spring = _spring_offset(day)
    if spring is not None and spring in SPRING_FESTIVAL_DEMAND:
        boost *= SPRING_FESTIVAL_DEMAND[spring]
    return boost, peak


def _spring_offset(day: date) -> int | None:
    offsets = [(day - d).days for d in SPRING_FESTIVAL.values() if abs((day - d).days) <= 30]
    return offsets[0] if offsets else None


def _hours(day: date, peak: bool) -> np.ndarray:
    weights = HOURLY.copy()
    if peak:  # the midnight rush when the festival opens, and a second evening peak
        weights[0:2] += (0.35 * weights.sum(), 0.06 * weights.sum())
        weights[20:22] *= (1.8, 1.5)
    if (day.month, day.day) in PRESALE_OPENINGS:
        weights[20] *= 4.0
    return weights / weights.sum()


@lru_cache(maxsize=2048)
def outlook(day: date) -> Outlook:
    """The calendar's view of one day."""
    boost, peak = _festival_boost(day)
    growth = 1.0 + GROWTH_PER_YEAR * (day - GROWTH_EPOCH).days / 365.0
    spring = _spring_offset(day)
    return Outlook(
        day=day,
        level=WEEKDAY_LEVEL[day.weekday()] * boost * growth,
        boost=boost,
        peak=peak,
        hours=_hours(day, peak),
        factory_open=not (spring is not None and spring in FACTORY_HOLIDAY),
    )


def levels(start: date, days: int) -> np.ndarray:
    """Relative demand of ``days`` consecutive days from ``start``."""
    return np.array([outlook(start + timedelta(days=i)).level for i in range(days)])

"""Demo worlds whose demand is not the shape the forecast assumes (level x weekday x festival).

    generate(store, preset="small", variant="promotions")

The baseline world draws each SKU's expected order lines as popularity x season x weekday x
festival x growth. A variant bends that per SKU and day, on top of the baseline, so the same
business trades in every variant and only the demand differs:

- ``promotions``       a few days of price cuts per SKU lift its demand (price elasticity), and
                       some SKUs change their list price for good, shifting demand for good; the
                       order lines carry the prices paid, so a forecast can see both
- ``trend_breaks``     most SKUs' demand steps up or down at one or two random dates in the
                       second half of the history, and stays there
- ``new_skus``         two in five SKUs launch in the last ten weeks, with little history
- ``intermittent``     a long tail: the less popular 60% of SKUs sell sporadically, most days
                       nothing at all
- ``moving_festival``  the platform's own sales event (brand day), on a date that moves from
                       year to year (BRAND_DAYS); the platform tells the forecast its dates
                       through configuration: SUPPLYLOOP_FESTIVALS (see :func:`festival_setting`)
- ``additive_noise``   noise added to demand whose size does not follow the day's level: a quiet
                       Monday and a festival day get the same spread

Each variant is a function of the seed alone (its own random stream), so the same preset, seed
and variant always give the same files. The variant keeps the preset's order-line total: it
moves demand between SKUs and days, it does not make the business bigger.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from orchestration.lib.demo.fields import rng_for
from orchestration.lib.demo.seasons import outlook

VARIANTS = ("baseline", "promotions", "trend_breaks", "new_skus", "intermittent", "moving_festival", "additive_noise")
LOOK_AHEAD_DAYS = 120  # planners look a few weeks past the last day; the variant covers them too

# The platform's brand day: its own sales event, moved every year; multiplier by days from the peak
BRAND_DAYS = {2025: date(2025, 12, 20), 2026: date(2026, 11, 18), 2027: date(2027, 11, 20)}
BRAND_DAY_CURVE = {-2: 1.4, -1: 1.8, 0: 3.5, 1: 1.4}
BRAND_DAY_SIZE = 0.6  # its extra demand relative to 6.18, as the platform would configure it


def variant_named(name: str | None) -> Variant | None:
    """The variant of that name, or None for the baseline (the world exactly as it always was)."""
    if name in (None, "", "baseline"):
        return None
    if name not in VARIANTS:
        raise ValueError(f"unknown demo variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return Variant(name)


def festival_setting() -> str:
    """SUPPLYLOOP_FESTIVALS for the moving_festival variant: the brand day's dates and size."""
    return ",".join(f"brand_day:{d.isoformat()}:{BRAND_DAY_SIZE}" for d in BRAND_DAYS.values())


class Variant:
    """Per SKU and day: a demand factor, added order lines, and a price factor on the base."""

    def __init__(self, name: str):
        self.name = name
        self.factor: np.ndarray | None = None  # (days, skus) multiplier of the baseline's lines
        self.added: np.ndarray | None = None  # (days, skus) order lines added (additive noise)
        self.price: np.ndarray | None = None  # (days, skus) multiplier of the list price
        self._lines: dict[date, np.ndarray] = {}

    # -- what the world asks ---------------------------------------------------------------
    def lines(self, world, day: date) -> np.ndarray:
        """Expected order lines of each SKU that day."""
        cached = self._lines.get(day)
        if cached is not None:
            return cached
        i = self._row(world, day)
        lines = world.lines_per_level * outlook(day).level * world.base_share(day)
        if self.factor is not None:
            lines = lines * self.factor[i]
        if self.added is not None:
            lines = np.maximum(lines + self.added[i], 0.0)
        if len(self._lines) >= 256:
            del self._lines[next(iter(self._lines))]
        self._lines[day] = lines
        return lines

    def price_factor(self, world, day: date) -> np.ndarray | None:
        """Each SKU's price that day relative to its list price; None when prices do not move."""
        return None if self.price is None else self.price[self._row(world, day)]

    def _row(self, world, day: date) -> int:
        rows = len(world.days) + LOOK_AHEAD_DAYS
        return int(min(max((day - world.preset.start).days, 0), rows - 1))

    # -- shaping the world -----------------------------------------------------------------
    def shape(self, world) -> None:
        """Bend the world's demand (and, for some variants, its catalogue); keep its volume."""
        rng = rng_for(world.seed, f"variant {self.name}")
        days, skus = len(world.days), len(world.sku_ids)
        rows = days + LOOK_AHEAD_DAYS
        getattr(self, f"_{self.name}")(world, rng, days, rows, skus)
        world.forget_shares()
        self._lines.clear()
        base = sum(world.lines_per_level * outlook(d).level * world.base_share(d).sum() for d in world.days)
        bent = sum(self.lines(world, d).sum() for d in world.days)
        ratio = bent / base
        world.lines_per_level /= ratio
        if self.added is not None:
            self.added /= ratio
        world.forget_shares()
        self._lines.clear()

    def _promotions(self, world, rng, days: int, rows: int, skus: int) -> None:
        self.factor, self.price = np.ones((rows, skus)), np.ones((rows, skus))
        elasticity = rng.uniform(2.5, 4.0, skus)  # demand ~ price^-elasticity during a promotion
        for k in range(skus):
            for _ in range(int(rng.poisson(rows / 40))):
                start, length = int(rng.integers(0, rows - 2)), int(rng.integers(2, 6))
                cut = rng.uniform(0.15, 0.4)
                self.price[start : start + length, k] *= 1 - cut
                self.factor[start : start + length, k] *= (1 - cut) ** -elasticity[k]
        changed = np.flatnonzero(rng.random(skus) < 0.4)  # list prices changed for good
        for k in changed:
            when = int(rng.integers(days // 4, days - 5))
            new_price = rng.uniform(0.8, 0.9) if rng.random() < 0.5 else rng.uniform(1.1, 1.25)
            self.price[when:, k] *= new_price
            self.factor[when:, k] *= new_price**-1.5

    def _trend_breaks(self, world, rng, days: int, rows: int, skus: int) -> None:
        self.factor = np.ones((rows, skus))
        for k in np.flatnonzero(rng.random(skus) < 0.6):
            for _ in range(int(rng.integers(1, 3))):
                when = int(rng.integers(days // 2, days - 3))
                step = rng.uniform(0.4, 1.0) * (1 if rng.random() < 0.5 else -1)
                self.factor[when:, k] *= np.exp(step)

    def _new_skus(self, world, rng, days: int, rows: int, skus: int) -> None:
        new = np.flatnonzero(rng.random(skus) < 0.4)
        world.launch[new] = rng.integers(max(days - 70, 0), max(days - 10, 1), len(new))
        world.fading[new] = 0.0

    def _intermittent(self, world, rng, days: int, rows: int, skus: int) -> None:
        tail = np.argsort(-world.popularity)[int(np.ceil(0.4 * skus)) :]
        world.popularity[tail] *= rng.uniform(0.01, 0.08, len(tail))

    def _moving_festival(self, world, rng, days: int, rows: int, skus: int) -> None:
        boost = np.ones(rows)
        for i in range(rows):
            day = world.preset.start + timedelta(days=i)
            peak = BRAND_DAYS.get(day.year)
            offset = (day - peak).days if peak else None
            boost[i] = BRAND_DAY_CURVE.get(offset, 1.0)
        self.factor = np.repeat(boost[:, None], skus, axis=1)

    def _additive_noise(self, world, rng, days: int, rows: int, skus: int) -> None:
        mean = np.mean([world.lines_per_level * outlook(d).level * world.base_share(d) for d in world.days], axis=0)
        self.added = rng.normal(0.0, 1.0, (rows, skus)) * 0.6 * mean[None, :]

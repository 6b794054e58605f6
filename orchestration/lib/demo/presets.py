"""The sizes of demo world on offer: tiny for tests, small for `make run`, large for benchmarks,
xl (the large business over three years, ten times its order lines) for the long benchmark."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import date, timedelta


@dataclass(frozen=True)
class Preset:
    """How big the demo business is and which days it trades."""

    name: str
    start: date
    end: date
    suppliers: int
    factories: int
    skus: int
    partners: int
    warehouses: int
    order_lines: int
    lines_per_factory: tuple[int, int] = (2, 4)  # smallest and largest number of production lines

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def with_order_lines(self, order_lines: int | None) -> Preset:
        """The same business selling a different total number of order lines."""
        if order_lines is None:
            return self
        if order_lines < 1:
            raise ValueError(f"order_lines must be at least 1, got {order_lines}")
        return replace(self, order_lines=int(order_lines))

    def with_suppliers(self, suppliers: int | None) -> Preset:
        """The same kind of business with ``suppliers`` suppliers: factories, SKUs and partners
        grow in proportion (never below the preset's), the days and order-line total stay."""
        if suppliers is None:
            return self
        if suppliers < 1:
            raise ValueError(f"suppliers must be at least 1, got {suppliers}")
        scale = suppliers / self.suppliers

        def grown(count: int) -> int:
            return max(count, math.ceil(count * scale))

        return replace(
            self,
            suppliers=int(suppliers),
            factories=max(int(suppliers), grown(self.factories)),
            skus=grown(self.skus),
            partners=grown(self.partners),
        )


PRESETS: dict[str, Preset] = {
    "tiny": Preset(
        name="tiny",
        start=date(2026, 10, 28),
        end=date(2026, 11, 14),
        suppliers=3,
        factories=4,
        skus=15,
        partners=40,
        warehouses=3,
        order_lines=5_000,
        lines_per_factory=(2, 3),
    ),
    "small": Preset(
        name="small",
        start=date(2026, 5, 1),
        end=date(2026, 11, 21),
        suppliers=8,
        factories=12,
        skus=120,
        partners=600,
        warehouses=5,
        order_lines=300_000,
    ),
    "large": Preset(
        name="large",
        start=date(2025, 11, 1),
        end=date(2026, 11, 21),
        suppliers=30,
        factories=45,
        skus=800,
        partners=5_000,
        warehouses=8,
        order_lines=10_000_000,
    ),
}


# the large business over three years, with ten times its order lines (the long benchmark)
PRESETS["xl"] = replace(PRESETS["large"], name="xl", start=date(2023, 11, 22), order_lines=100_000_000)


def preset_named(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown demo preset {name!r}; choose one of {', '.join(PRESETS)}") from None

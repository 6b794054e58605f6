"""What the suppliers do at each weekly review: the same world under three policies.

- ``feed``     they produce what the platform's published replenishment feed suggests (the
               real pipeline computes it: :mod:`.pipeline`);
- ``min_max``  what a factory does without the platform: a static reorder point and
               order-up-to level per SKU from its own sales history (the baseline);
- ``oracle``   they know every future order: the bound no forecast can beat.

Every policy sees the same stock position (stock at and on the way to the warehouses, less
what customers wait for, plus open work orders) and rounds up to whole minimum orders.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Protocol

import numpy as np
import pyarrow as pa

from orchestration.lib.demo.world import EXPECTED_AVAILABILITY, SHIFT_HOURS, World
from orchestration.lib.simulation.engine import Loop

REVIEW_DAYS = 7  # suppliers review once a week
SERVICE_Z = 1.65  # the min/max rule's safety factor: about 95% service, as the feed's safety stock
HISTORY_WINDOW = 56  # days of sales history the min/max levels are set from
PREBUILD_WEEKS = 6  # how far the oracle looks for weeks its lines cannot make in time


class Policy(Protocol):
    name: str
    label: str

    def order(self, day: date, loop: Loop) -> np.ndarray:
        """Units per SKU to release at this review."""

    def observe(self, day: date, tables: dict[str, pa.Table]) -> None:
        """The day's files, as the sources deliver them (only the feed policy reads them)."""


def whole_orders(need: np.ndarray, min_order_qty: np.ndarray) -> np.ndarray:
    """A positive need rounded up to whole multiples of the minimum order; nothing otherwise."""
    moq = np.maximum(min_order_qty, 1)
    return (np.ceil(np.maximum(need, 0) / moq) * moq).astype(np.int64)


class MinMax:
    """A static (s, S) rule per SKU from the served sales of the last weeks of history: reorder
    when the position falls under the demand over the lead time plus safety stock, and order up
    to the demand over the lead time and one review period plus safety stock."""

    name = "min_max"
    label = "min/max (no platform)"

    def __init__(self, world: World, served: np.ndarray, scale: float = 1.0):
        recent = served[-HISTORY_WINDOW:].astype(np.float64)
        mean = recent.mean(axis=0)
        sd = recent.std(axis=0, ddof=1) if len(recent) > 1 else np.zeros_like(mean)
        lead = world.lead_time.astype(np.float64)
        self.world = world
        self.scale = scale
        self.reorder_point = scale * (mean * lead + SERVICE_Z * sd * np.sqrt(lead))
        self.order_up_to = scale * (mean * (lead + REVIEW_DAYS) + SERVICE_Z * sd * np.sqrt(lead + REVIEW_DAYS))
        if scale != 1.0:  # the same rule with both levels raised: a factory that holds more stock
            self.name = "min_max_equal_stock"
            self.label = f"min/max, levels x{scale:.2f}"

    def order(self, day: date, loop: Loop) -> np.ndarray:
        position = loop.position()
        need = np.where(position < self.reorder_point, self.order_up_to - position, 0.0)
        return whole_orders(need, self.world.min_order_qty)

    def observe(self, day: date, tables: dict[str, pa.Table]) -> None:
        pass


class Oracle:
    """Perfect knowledge of demand: order exactly the orders that will come over the lead time
    and the review period, and build ahead of any later week the line cannot make in time."""

    name = "oracle"
    label = "oracle (knows demand)"

    def __init__(self, world: World, demand_on: Callable[[date], np.ndarray]):
        self.world = world
        self.demand_on = demand_on  # per SKU, the units consumers will ask for that day

    def order(self, day: date, loop: Loop) -> np.ndarray:
        w = self.world
        lead = w.lead_time.astype(np.int64)
        horizon = int(lead.max()) + REVIEW_DAYS * (PREBUILD_WEEKS + 1)
        ahead = np.cumsum([self.demand_on(day + timedelta(days=i)) for i in range(horizon)], axis=0)
        sku = np.arange(len(w.sku_ids))
        covered = ahead[lead + REVIEW_DAYS - 1, sku]
        need = covered - loop.position() + prebuild(w, ahead, lead)
        return whole_orders(need, w.min_order_qty)

    def observe(self, day: date, tables: dict[str, pa.Table]) -> None:
        pass


def line_capacity_per_week(world: World) -> np.ndarray:
    """Good units each line can make in a week of two shifts, at the availability it plans on."""
    return world.line_rate * SHIFT_HOURS * EXPECTED_AVAILABILITY * 0.9 * REVIEW_DAYS


def prebuild(world: World, ahead: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Units per SKU to make now for later weeks whose demand exceeds what the line can make
    in them: from the last week back, whatever a week cannot make moves to the week before."""
    sku = np.arange(len(world.sku_ids))
    start = lead + REVIEW_DAYS - 1
    weekly = np.stack(
        [
            ahead[np.minimum(start + REVIEW_DAYS * (j + 1), len(ahead) - 1), sku]
            - ahead[np.minimum(start + REVIEW_DAYS * j, len(ahead) - 1), sku]
            for j in range(PREBUILD_WEEKS)
        ]
    )  # (weeks, skus): the demand each later review will order for
    lines = len(world.line_ids)
    load = np.stack([np.bincount(world.sku_line, weights=week, minlength=lines) for week in weekly])
    capacity = line_capacity_per_week(world)
    carry = np.zeros(lines)
    for j in range(PREBUILD_WEEKS - 1, -1, -1):
        carry = np.maximum(load[j] + carry - capacity, 0.0)
    if not carry.any():
        return np.zeros(len(sku))
    # a line's carry goes to its SKUs by their share of the line's load over those weeks
    total = weekly.sum(axis=0)
    line_total = np.bincount(world.sku_line, weights=total, minlength=lines)
    share = np.divide(total, line_total[world.sku_line], out=np.zeros(len(sku)), where=line_total[world.sku_line] > 0)
    return carry[world.sku_line] * share

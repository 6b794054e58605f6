"""One policy's world, one day at a time: suppliers release work orders, lines make them,
consumers buy, warehouses ship what they hold and lose what they cannot serve.

The world is the demo business (:mod:`orchestration.lib.demo`): its lines, their capacity
and changeovers, its warehouses and their allocation of new stock. Two rules differ from
the demo's own history, because the loop is about them:

- a work order released on day ``d`` waits for its materials: it joins its line's queue on
  day ``d + lead_time - 1``, so with a free line its goods are on the shelves on
  ``d + lead_time``; a busy line makes it later;
- a sale that cannot be served is lost: the consumer saw "sold out" and bought nothing, so
  the order lines the platform records are the served ones only (demand is censored).

Every policy faces the same consumers: a day's orders are drawn once, before any policy
acts, and each policy's warehouses serve them from their own stock.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.demo.factory import Factories, WorkOrder, work_order_table
from orchestration.lib.demo.fields import rng_for
from orchestration.lib.demo.inventory import Warehouses
from orchestration.lib.demo.sales import DaySales
from orchestration.lib.demo.world import World

RELEASE_SECOND = 9 * 3600  # work orders of a weekly review go out at 09:00


@dataclass
class DayOutcome:
    """What one day meant for one policy, per warehouse and SKU."""

    day: date
    demand: np.ndarray  # units consumers asked for (orders not cancelled)
    lost: np.ndarray  # units no wave could ship: the sale is lost
    on_hand: np.ndarray  # stock at the end of the day
    released: np.ndarray  # per SKU: units of work orders released today
    made: np.ndarray  # per SKU: good units made today


@dataclass
class Loop:
    """A policy's factories and warehouses, carried from day to day."""

    world: World
    factories: Factories
    warehouses: Warehouses
    pending: list[tuple[date, WorkOrder]] = field(default_factory=list)

    def fork(self) -> Loop:
        """An independent copy of this state, for another policy to carry on from."""
        return Loop(self.world, copy.deepcopy(self.factories), copy.deepcopy(self.warehouses), list(self.pending))

    def position(self) -> np.ndarray:
        """Per SKU: stock in and on the way to the warehouses, less what customers wait for,
        plus every unit of work orders not made yet (queued or waiting for materials)."""
        return self.warehouses.stock_position() + self.factories.open_qty

    def release(self, day: date, qty: np.ndarray) -> list[WorkOrder]:
        """Work orders for ``qty`` units per SKU, each joining its line once its lead time allows."""
        w = self.world
        orders = []
        for sku in np.flatnonzero(qty > 0):
            order = WorkOrder(int(sku), int(w.sku_line[sku]), int(qty[sku]), RELEASE_SECOND)
            self.factories.open_qty[sku] += order.qty
            self.pending.append((day + timedelta(days=max(int(w.lead_time[sku]) - 1, 0)), order))
            orders.append(order)
        return orders

    def step(self, day: date, sales: DaySales, released: list[WorkOrder]) -> tuple[DayOutcome, dict[str, pa.Table]]:
        """Run one day; returns its outcome and the day's files as the sources would deliver them."""
        w = self.world
        ready = [order for start, order in self.pending if start <= day]
        self.pending = [(start, order) for start, order in self.pending if start > day]
        for order in sorted(ready, key=lambda o: (o.line, o.sku)):
            order.released = 0  # its materials are in: the line may start it from the first shift
            self.factories.queues[order.line].append(order)
        factory = self.factories.run(day, [], rng_for(w.seed, "factory", day))
        stock = self.warehouses.run(day, sales, factory.made, rng_for(w.seed, "warehouse", day))
        outcome = DayOutcome(
            day=day,
            demand=sales.to_ship.sum(axis=2),
            lost=stock.unserved,
            on_hand=self.warehouses.on_hand.copy(),
            released=np.bincount(
                np.array([o.sku for o in released], np.int64),
                np.array([o.qty for o in released], np.float64),
                len(w.sku_ids),
            ).astype(np.int64),
            made=factory.made,
        )
        tables = {
            "order_lines": served_lines(w, sales.order_lines, stock.unserved),
            "live_sessions": sales.live_sessions,
            "production_output": factory.production_output,
            "machine_events": factory.machine_events,
            "work_orders": work_order_table(w, day, released),
            "stock_movements": stock.stock_movements,
            "stock_snapshots": stock.stock_snapshots,
        }
        return outcome, tables


def served_lines(world: World, lines: pa.Table, lost: np.ndarray) -> pa.Table:
    """The day's order lines less what could not be served: per warehouse and SKU, the latest
    lines go first (the shelf empties as the day goes on), the one that straddles the cut
    keeps the units that shipped. Cancelled lines never asked for stock and stay."""
    if not lost.any() or not lines.num_rows:
        return lines
    k = len(world.sku_ids)
    partner = pc.index_in(lines["partner_id"], value_set=world.partner_array).to_numpy(zero_copy_only=False)
    sku = pc.index_in(lines["sku"], value_set=world.sku_array).to_numpy(zero_copy_only=False)
    cell = world.partner_warehouse[partner] * k + sku
    ships = pc.not_equal(lines["status"], "cancelled").to_numpy(zero_copy_only=False)
    qty = lines["qty"].to_numpy().astype(np.int64)
    rows = np.flatnonzero(ships)
    rows = rows[np.lexsort((-rows, cell[rows]))]  # per cell, the latest line first
    cells, qtys = cell[rows], qty[rows]
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    before = np.cumsum(qtys) - qtys
    before -= np.repeat(before[starts], np.diff(np.r_[starts, len(rows)]))  # units of later lines in the cell
    unserved = lost.ravel()[cells]
    kept = np.clip(qtys - np.maximum(unserved - before, 0), 0, None)
    new_qty = qty.copy()
    new_qty[rows] = kept
    keep = new_qty > 0
    keep[~ships] = True
    served = lines.set_column(lines.schema.get_field_index("qty"), "qty", pa.array(new_qty, pa.int64()))
    return served.filter(pa.array(keep))

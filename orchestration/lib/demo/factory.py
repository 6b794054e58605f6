"""The factories: work orders released against projected stock, hourly production, line states.

Each SKU is made on one line of one factory of its supplier. A planner releases a work
order when a SKU's projected stock (warehouses plus goods on the road plus open work
orders) falls under its reorder point; lines work their queue first-in first-out in two
shifts (08:00-24:00), switch SKUs with a changeover hour, break down now and then, and
report every change of state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from orchestration.lib.demo.fields import day_ids, local_datetimes, local_times
from orchestration.lib.demo.seasons import outlook
from orchestration.lib.demo.world import World

FIRST_HOUR, LAST_HOUR = 8, 23  # shifts run 08:00-24:00
SAFETY_DAYS, CYCLE_DAYS = 4, 10  # reorder at lead time + safety; order up to a further cycle
FESTIVAL_AWARENESS = 0.75  # planners expect festivals, but underrate the peaks (boost ** 0.75)
CANCEL_CHANCE = 0.02
BREAKDOWN_CHANCE, MAINTENANCE_CHANCE, SHORTAGE_CHANCE = 0.06, 1 / 30, 0.03
BREAKDOWN_REASONS = (("breakdown", "quality_issue", "power_outage"), (0.6, 0.25, 0.15))
SHIFT_END = ("idle", "shift_end")
HOLIDAY = ("idle", "holiday")


@dataclass
class WorkOrder:
    """A production order for one SKU on its line."""

    sku: int
    line: int
    qty: int
    released: int  # seconds since local midnight of the release day
    remaining: int = 0
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.remaining = self.qty

    @property
    def status(self) -> str:
        """The order's state at the end of its release day, when the day's export runs."""
        if self.cancelled:
            return "cancelled"
        if self.remaining == 0:
            return "completed"
        return "in_progress" if self.remaining < self.qty else "released"


@dataclass
class FactoryDay:
    """A day of the factories as files, plus the good units made per SKU."""

    production_output: pa.Table
    machine_events: pa.Table
    work_orders: pa.Table
    made: np.ndarray  # good units per SKU, shipped to the warehouses tonight
    lots: list[str | None]  # per SKU, the lot its units of today belong to (None: none made)


@dataclass
class _Log:
    """Rows gathered while the lines run, turned into columns at the end of the day."""

    output: list[tuple] = field(default_factory=list)  # line, sku, hour, good, scrap
    events: list[tuple] = field(default_factory=list)  # line, second, state, reason


class Factories:
    """Every production line's queue and state, carried from one day to the next."""

    def __init__(self, world: World):
        self.world = world
        lines = len(world.line_ids)
        self.queues: list[deque[WorkOrder]] = [deque() for _ in range(lines)]
        self.current_sku = np.full(lines, -1)
        self.state: list[tuple[str, str | None]] = [SHIFT_END] * lines
        self.open_qty = np.zeros(len(world.sku_ids), np.int64)

    # -- planning ------------------------------------------------------------------------
    def plan(self, day: date, stock: np.ndarray, rng: np.random.Generator) -> list[WorkOrder]:
        """Release work orders for SKUs whose projected stock is under the reorder point."""
        if not outlook(day).factory_open:
            return []
        w = self.world
        horizon = int(w.lead_time.max()) + SAFETY_DAYS + CYCLE_DAYS
        ahead = np.cumsum(
            [w.expected_units(day + timedelta(days=i), FESTIVAL_AWARENESS) for i in range(horizon)], axis=0
        )
        k = np.arange(len(w.sku_ids))
        reorder_point = ahead[w.lead_time + SAFETY_DAYS - 1, k]
        order_up_to = ahead[w.lead_time + SAFETY_DAYS + CYCLE_DAYS - 1, k]
        position = stock + self.open_qty
        short = np.flatnonzero(position < reorder_point)
        qty = np.ceil(np.maximum(order_up_to[short] - position[short], 1) / w.min_order_qty[short])
        released = np.sort(rng.integers(8 * 3600, 12 * 3600, len(short)))
        cancelled = rng.random(len(short)) < CANCEL_CHANCE
        orders = []
        for i, sku in enumerate(short):
            order = WorkOrder(
                int(sku),
                int(w.sku_line[sku]),
                int(qty[i] * w.min_order_qty[sku]),
                int(released[i]),
                cancelled=bool(cancelled[i]),
            )
            if not order.cancelled:
                self.queues[order.line].append(order)
                self.open_qty[sku] += order.qty
            orders.append(order)
        return orders

    # -- the shop floor --------------------------------------------------------------------
    def run(self, day: date, released: list[WorkOrder], rng: np.random.Generator) -> FactoryDay:
        """Run every line through the day's shifts."""
        w = self.world
        lines = len(w.line_ids)
        log = _Log()
        stops = _stoppages(lines, rng)
        pace = rng.uniform(0.82, 1.0, (lines, 24)) * w.line_rate[:, None]
        scrap_rate = rng.uniform(0.01, 0.05, lines)
        jitter = rng.random((lines, 24))
        is_open = outlook(day).factory_open
        serviced = int(rng.integers(lines))  # over the holidays a crew services one line a day
        for line in range(lines):
            if self.state[line] != HOLIDAY:  # yesterday's shift ended at midnight
                self._change(log, line, 0, SHIFT_END)
            if not is_open:
                self._holiday(log, line, line == serviced)
                continue
            for hour in range(FIRST_HOUR, LAST_HOUR + 1):
                state = stops.get((line, hour)) or self._work(
                    log, line, hour, pace[line, hour], scrap_rate[line], jitter[line, hour]
                )
                self._change(log, line, hour * 3600, state)
        return self._day(day, log, released)

    def _holiday(self, log: _Log, line: int, serviced: bool) -> None:
        if serviced:
            self._change(log, line, 9 * 3600, ("down", "planned_maintenance"))
            self._change(log, line, 12 * 3600, HOLIDAY)
        else:
            self._change(log, line, FIRST_HOUR * 3600, HOLIDAY)

    def _work(self, log: _Log, line: int, hour: int, pace: float, scrap_rate: float, jitter: float) -> tuple:
        queue = self.queues[line]
        if not queue or queue[0].released >= hour * 3600:
            return ("idle", "no_work_order")
        order = queue[0]
        if self.current_sku[line] not in (-1, order.sku):
            self.current_sku[line] = order.sku
            return ("changeover", "sku_change")
        self.current_sku[line] = order.sku
        good = min(order.remaining, max(1, int(round(pace))))
        scrap = int(good * scrap_rate + jitter)
        order.remaining -= good
        self.open_qty[order.sku] -= good
        if order.remaining == 0:
            queue.popleft()
        log.output.append((line, order.sku, hour, good, scrap))
        return ("running", None)

    def _change(self, log: _Log, line: int, second: int, state: tuple) -> None:
        if state != self.state[line]:
            log.events.append((line, second, *state))
            self.state[line] = state

    # -- the day's files ---------------------------------------------------------------------
    def _day(self, day: date, log: _Log, released: list[WorkOrder]) -> FactoryDay:
        w = self.world
        line_ids = pa.array(w.line_ids)
        factory_of_line = pa.array([w.factory_ids[f] for f in w.line_factory])
        out = np.array(log.output, np.int64).reshape(-1, 5)
        out = out[np.lexsort((out[:, 0], out[:, 2]))]  # by hour, then line, as the MES exports
        events = sorted(log.events, key=lambda e: (e[1], e[0]))
        ev_line = np.array([e[0] for e in events], np.int64)
        ev_second = np.array([e[1] for e in events], np.int64)
        lot_of_row, lots = _lots(w, day, out)
        production = pa.table(
            {
                "factory_id": factory_of_line.take(pa.array(out[:, 0])),
                "line_id": line_ids.take(pa.array(out[:, 0])),
                "sku": w.sku_array.take(pa.array(out[:, 1])),
                "produced_at": local_times(day, out[:, 2] * 3600, "slashes"),
                "qty_good": pa.array(out[:, 3]),
                "qty_scrap": pa.array(out[:, 4]),
                "lot_id": pa.array(lot_of_row, pa.string()),
            }
        )
        machine = pa.table(
            {
                "factory_id": factory_of_line.take(pa.array(ev_line)),
                "line_id": line_ids.take(pa.array(ev_line)),
                "event_at": local_times(day, ev_second, "iso_offset"),
                "state": pa.array([e[2] for e in events], pa.string()),
                "reason": pa.array([e[3] for e in events], pa.string()),
            }
        )
        made = np.bincount(out[:, 1], weights=out[:, 3], minlength=len(w.sku_ids)).astype(np.int64)
        return FactoryDay(production, machine, work_order_table(w, day, released), made, lots)


def _lots(world: World, day: date, out: np.ndarray) -> tuple[list[str], list[str | None]]:
    """The lot of each output row, and of each SKU made today.

    A lot is what one line made of one SKU in one day: ``<line>-<yyyymmdd>-<seq>``, numbered
    on each line in the order its SKUs first ran that day. Each SKU is made on one line, so a
    SKU's day of output is one lot, and the warehouses receive it as one.
    """
    lots: list[str | None] = [None] * len(world.sku_ids)
    seq: dict[int, int] = {}
    for line, sku in out[np.lexsort((out[:, 2], out[:, 0]))][:, :2]:
        if lots[sku] is None:
            seq[line] = seq.get(line, 0) + 1
            lots[sku] = f"{world.line_ids[line]}-{day:%Y%m%d}-{seq[line]:02d}"
    return [lots[sku] for sku in out[:, 1]], lots


def _stoppages(lines: int, rng: np.random.Generator) -> dict[tuple[int, int], tuple[str, str]]:
    """Hours a line cannot run today: breakdowns, planned maintenance, missing material."""
    stops: dict[tuple[int, int], tuple[str, str]] = {}
    broken = rng.random(lines) < BREAKDOWN_CHANCE
    start = rng.integers(FIRST_HOUR, LAST_HOUR + 1, lines)
    length = rng.integers(1, 4, lines)
    reason = rng.choice(BREAKDOWN_REASONS[0], lines, p=BREAKDOWN_REASONS[1])
    maintained = rng.random(lines) < MAINTENANCE_CHANCE
    short = rng.random(lines) < SHORTAGE_CHANCE
    short_start = rng.integers(FIRST_HOUR, LAST_HOUR, lines)
    for line in np.flatnonzero(short):
        for hour in range(short_start[line], short_start[line] + 2):
            stops[(line, hour)] = ("idle", "material_shortage")
    for line in np.flatnonzero(maintained):
        for hour in range(FIRST_HOUR, FIRST_HOUR + 4):
            stops[(line, hour)] = ("down", "planned_maintenance")
    for line in np.flatnonzero(broken):
        for hour in range(start[line], min(start[line] + length[line], LAST_HOUR + 1)):
            stops[(line, hour)] = ("down", str(reason[line]))
    return stops


def work_order_table(world: World, day: date, orders: list[WorkOrder]) -> pa.Table:
    """The day's released work orders with their state at the end of the day."""
    sku = np.array([o.sku for o in orders], np.int64)
    return pa.table(
        {
            "work_order_id": day_ids("WO", day, np.arange(1, len(orders) + 1), 4),
            "factory_id": pa.array([world.factory_ids[world.line_factory[o.line]] for o in orders], pa.string()),
            "sku": world.sku_array.take(pa.array(sku)),
            "released_at": local_datetimes(day, np.array([o.released for o in orders], np.int64)),
            "qty_planned": pa.array([o.qty for o in orders], pa.int64()),
            "due_date": pa.array([day + timedelta(days=int(world.lead_time[s])) for s in sku], pa.date32()),
            "status": pa.array([o.status for o in orders], pa.string()),
        }
    )

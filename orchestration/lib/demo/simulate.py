"""The daily simulation: plan, produce, sell, ship; one day at a time, in constant memory.

Each day the planners look at projected stock and release work orders, the lines produce,
the partners sell, and the warehouses receive yesterday's output and ship today's orders.
Every part draws from its own random stream per day, so the same seed always tells the
same story.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from orchestration.lib.demo.factory import Factories
from orchestration.lib.demo.fields import rng_for
from orchestration.lib.demo.inventory import Warehouses, opening_stock
from orchestration.lib.demo.sales import sell
from orchestration.lib.demo.world import World


@dataclass
class Day:
    """One simulated day: a table per daily source, and a few facts for the truth file."""

    day: date
    tables: dict[str, pa.Table]
    orders: int
    stockout_units: int


def simulate(world: World) -> Iterator[Day]:
    """The preset's days in order; each day's tables are ready to write and then forget."""
    factories = Factories(world)
    warehouses = Warehouses(world, opening_stock(world, rng_for(world.seed, "opening stock")))
    for day in world.days:
        released = factories.plan(day, warehouses.stock_position(), rng_for(world.seed, "planning", day))
        factory = factories.run(day, released, rng_for(world.seed, "factory", day))
        sales = sell(world, day, rng_for(world.seed, "sales", day))
        stock = warehouses.run(day, sales, factory.made, rng_for(world.seed, "warehouse", day), factory.lots)
        yield Day(
            day=day,
            tables={
                "order_lines": sales.order_lines,
                "live_sessions": sales.live_sessions,
                "production_output": factory.production_output,
                "machine_events": factory.machine_events,
                "work_orders": factory.work_orders,
                "stock_movements": stock.stock_movements,
                "stock_snapshots": stock.stock_snapshots,
            },
            orders=sales.orders,
            stockout_units=stock.stockout_units,
        )

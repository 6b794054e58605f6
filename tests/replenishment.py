"""Tiny replenishment marts and lakes for the feed tests: rows as the mart has them, per supplier."""

from datetime import date, timedelta

import pyarrow as pa

from expectations import supplier_replenishment
from orchestration.lib.feeds import MART, ORDER_LINES, SUPPLIERS
from orchestration.lib.lake import LakeStore

DAY = date(2026, 11, 21)


def mart_rows(supplier: str = "SUP001", skus: int = 3, first_sku: int = 1, **columns) -> pa.Table:
    """A supplier's rows as the replenishment mart has them; ``columns`` replace columns (a list, or one value for all)."""
    n = skus
    data = {
        "supplier_id": [supplier] * n,
        "sku": [f"SKU{i:04d}" for i in range(first_sku, first_sku + n)],
        "product_name": ["衣架 便携装"] * n,
        "as_of_day": [DAY] * n,
        "recent_demand_28d": [280] * n,
        "forecast_demand": [300.5] * n,
        "on_hand": [120] * n,
        "available": [100] * n,
        "in_transit": [0] * n,
        "open_production": [0] * n,
        "safety_stock": [30] * n,
        "prebuild_qty": [0] * n,
        "lead_time_days": [7] * n,
        "min_order_qty": [100] * n,
        "days_of_cover": [9.3] * n,
        "suggested_qty": [200] * n,
        "order_by_day": [DAY + timedelta(days=2)] * n,
        "priority": ["high"] * n,
    }
    data.update({name: value if isinstance(value, list) else [value] * n for name, value in columns.items()})
    schema = supplier_replenishment.SCHEMA
    return pa.table(
        {
            name: pa.array(values, schema.field(name).type if name in schema.names else None)
            for name, values in data.items()
        }
    )


def mart_table(config: dict[str, int], **columns) -> pa.Table:
    """The whole mart for ``{supplier_id: number of SKUs}``, SKUs numbered across suppliers; ``columns``
    set one value for every row."""
    parts, first = [], 1
    for supplier, skus in config.items():
        parts.append(mart_rows(supplier, skus, first_sku=first, **columns))
        first += skus
    return pa.concat_tables(parts)


def write_mart(store: LakeStore, table: pa.Table) -> None:
    store.write_parquet(MART, table)


def write_feed_lake(store: LakeStore, config: dict[str, int], day: date = DAY, days: int = 3) -> pa.Table:
    """Master data, the replenishment mart, and a few days of bronze order lines ending on ``day``."""
    store.write_parquet(
        f"{SUPPLIERS}/part-0.parquet",
        pa.table(
            {"supplier_id": list(config), "name": [f"工厂 {s}" for s in config], "region": ["east"] * len(config)}
        ),
    )
    mart = mart_table(config)
    write_mart(store, mart)
    for back in range(days):
        d = (day - timedelta(days=back)).isoformat()
        store.write_parquet(
            f"{ORDER_LINES}/day={d}/part-0.parquet",
            pa.table(
                {
                    "order_id": [f"O-{d}-{i}" for i in range(10)],
                    "line_no": pa.array([1] * 10, pa.int64()),
                    "ordered_at": pa.array([f"{d}T02:00:00Z"] * 10).cast(pa.timestamp("us", "UTC")),
                    "partner_id": ["P00001"] * 10,
                    "sku": ["SKU0001"] * 10,
                    "qty": pa.array([2] * 10, pa.int64()),
                    "status": ["paid"] * 10,
                }
            ),
        )
    return mart


def write_lake_with_a_broken_newest_day(store: LakeStore, config: dict[str, int], rows: int = 12) -> pa.Table:
    """A feed lake whose newest day (``DAY``) was delivered as an order file holding only the day
    before's rows: ingested for real, so its bronze partition is empty and every row is in
    quarantine as ``wrong_day``. The mart is as of the day before, as dbt builds it from bronze."""
    from orchestration.lib.ingest import ingest_day
    from orchestration.lib.sources import load_sources
    from tests.conftest import CSV_HEADER, write_master

    write_master(store)
    write_feed_lake(store, config, days=4)
    before = (DAY - timedelta(days=1)).isoformat()
    body = "".join(f"X{i},1,{before} 10:00:00,P00001,SKU0001,2,9.90,,east,,paid\n" for i in range(rows))
    store.write_bytes(f"landing/order_lines/order_lines_{DAY.isoformat()}.csv", (CSV_HEADER + body).encode())
    result = ingest_day(store, load_sources()["order_lines"], DAY)
    assert (result.accepted, result.reasons["wrong_day"]) == (0, rows)
    mart = mart_table(config, as_of_day=DAY - timedelta(days=1))
    write_mart(store, mart)
    return mart

"""Partner marts written straight into a test lake: the shapes of partner_benchmarks,
partner_assortment_gaps and partner_allocations, for as many partners as a test wants."""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from orchestration.lib.lake import LakeStore
from orchestration.lib.partner_feeds import mart_path

WEEK_END = date(2026, 11, 15)


def benchmarks(partners: dict[str, dict], week_end: date = WEEK_END) -> pa.Table:
    ids = list(partners)
    n = len(ids)
    sell = [partners[p].get("sell_through", 0.8) for p in ids]
    return pa.table(
        {
            "partner_id": pa.array(ids, pa.string()),
            "partner_type": pa.array([partners[p].get("type", "store") for p in ids], pa.string()),
            "region": pa.array([partners[p].get("region", "east") for p in ids], pa.string()),
            "week_start_day": pa.array([week_end - timedelta(days=6)] * n, pa.date32()),
            "week_end_day": pa.array([week_end] * n, pa.date32()),
            "units_ordered": pa.array([10] * n, pa.int64()),
            "units_sold": pa.array([8] * n, pa.int64()),
            "units_refunded": pa.array([1] * n, pa.int64()),
            "orders": pa.array([3] * n, pa.int64()),
            "live_sessions": pa.array([1] * n, pa.int64()),
            "live_peak_viewers": pa.array([1000] * n, pa.int64()),
            "live_orders": pa.array([2] * n, pa.int64()),
            "peers": pa.array([n] * n, pa.int64()),
            "sell_through": pa.array(sell, pa.float64()),
            "sell_through_peer_p25": pa.array([0.5] * n, pa.float64()),
            "sell_through_peer_median": pa.array([0.7] * n, pa.float64()),
            "sell_through_peer_p75": pa.array([0.9] * n, pa.float64()),
            "refund_rate": pa.array([0.1] * n, pa.float64()),
            "refund_rate_peer_p25": pa.array([0.0] * n, pa.float64()),
            "refund_rate_peer_median": pa.array([0.1] * n, pa.float64()),
            "refund_rate_peer_p75": pa.array([0.2] * n, pa.float64()),
            "live_conversion": pa.array([2.0] * n, pa.float64()),
            "live_conversion_peer_p25": pa.array([1.0] * n, pa.float64()),
            "live_conversion_peer_median": pa.array([2.0] * n, pa.float64()),
            "live_conversion_peer_p75": pa.array([3.0] * n, pa.float64()),
        }
    )


def gaps(partners: dict[str, dict], week_end: date = WEEK_END) -> pa.Table:
    rows = [(p, f"SKU{i:04d}", i + 1) for p, spec in partners.items() for i in range(spec.get("gaps", 2))]
    return pa.table(
        {
            "partner_id": pa.array([r[0] for r in rows], pa.string()),
            "partner_type": pa.array([partners[r[0]].get("type", "store") for r in rows], pa.string()),
            "region": pa.array([partners[r[0]].get("region", "east") for r in rows], pa.string()),
            "week_end_day": pa.array([week_end] * len(rows), pa.date32()),
            "sku": pa.array([r[1] for r in rows], pa.string()),
            "product_name": pa.array([f"name of {r[1]}" for r in rows], pa.string()),
            "category": pa.array(["snacks"] * len(rows), pa.string()),
            "regional_rank": pa.array([r[2] for r in rows], pa.int32()),
            "regional_units_28d": pa.array([100 - r[2] for r in rows], pa.int64()),
            "regional_partners_28d": pa.array([3] * len(rows), pa.int64()),
        }
    )


def allocations(partners: dict[str, dict], week_end: date = WEEK_END) -> pa.Table:
    rows = [(p, f"SKU{i:04d}") for p, spec in partners.items() for i in range(spec.get("allocations", 1))]
    n = len(rows)
    return pa.table(
        {
            "partner_id": pa.array([r[0] for r in rows], pa.string()),
            "partner_type": pa.array([partners[r[0]].get("type", "store") for r in rows], pa.string()),
            "region": pa.array([partners[r[0]].get("region", "east") for r in rows], pa.string()),
            "sku": pa.array([r[1] for r in rows], pa.string()),
            "product_name": pa.array([f"name of {r[1]}" for r in rows], pa.string()),
            "supplier_id": pa.array(["SUP001"] * n, pa.string()),
            "as_of_day": pa.array([week_end + timedelta(days=3)] * n, pa.date32()),
            "forecast_week_start_day": pa.array([week_end + timedelta(days=4)] * n, pa.date32()),
            "forecast_week_end_day": pa.array([week_end + timedelta(days=10)] * n, pa.date32()),
            "sku_forecast_units": pa.array([120.0] * n, pa.float64()),
            "sku_deliverable_units": pa.array([100] * n, pa.int64()),
            "sku_allocatable_units": pa.array([50] * n, pa.int64()),
            "partner_units_28d": pa.array([partners[r[0]].get("units", 5) for r in rows], pa.int64()),
            "sku_units_28d": pa.array([50] * n, pa.int64()),
            "fair_share": pa.array([partners[r[0]].get("units", 5) / 50 for r in rows], pa.float64()),
            "allocated_units": pa.array([partners[r[0]].get("allocated", 5) for r in rows], pa.int64()),
        }
    )


def write_partner_marts(store: LakeStore, partners: dict[str, dict], week_end: date = WEEK_END) -> dict[str, pa.Table]:
    """The three partner marts for ``partners`` (id -> overrides), written where the marts build puts them."""
    tables = {
        "benchmarks": benchmarks(partners, week_end),
        "assortment_gaps": gaps(partners, week_end),
        "allocations": allocations(partners, week_end),
    }
    for section, table in tables.items():
        store.write_parquet(mart_path(section), table)
    return tables

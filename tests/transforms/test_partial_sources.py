"""Platforms that deliver only some sources, built for real: tiny demo data, Dagster, dbt, the feeds.

Two subsets, each one whole run: sales and master data only, whose missing sources are
declared by the built-in configuration but never delivered (their landing folders are
removed); and the foreign platform of issue 16 (no stock movements, machine events, work
orders or live sessions), whose own sources file does not list them.
"""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import pyarrow.compute as pc
import pytest

from orchestration.cli import _summary, materialize_all
from orchestration.lib import partner_feeds
from orchestration.lib.demo import generate
from orchestration.lib.feeds import latest_manifest, published_suppliers, supplier_ids
from orchestration.lib.lake import LakeStore
from orchestration.lib.partner_feeds import published_partners

pytestmark = pytest.mark.slow

SALES_AND_MASTER = ("order_lines", "products", "suppliers", "partners", "warehouses")
NOT_IN_SALES_AND_MASTER = (
    "factories",
    "live_sessions",
    "machine_events",
    "production_output",
    "stock_movements",
    "stock_snapshots",
    "work_orders",
)
FOREIGN_ABSENT = ("live_sessions", "machine_events", "stock_movements", "work_orders")


def _events(results, kind: str) -> list:
    return [e for r in results for e in r.all_events if e.event_type_value == kind]


def _materializations(results) -> dict[str, dict]:
    return {
        e.asset_key.path[-1]: e.event_specific_data.materialization.metadata
        for e in _events(results, "ASSET_MATERIALIZATION")
        if e.asset_key.path[0] == "marts"
    }


def _observations(results) -> dict[str, dict]:
    return {
        e.asset_key.path[-1]: e.event_specific_data.asset_observation.metadata
        for e in _events(results, "ASSET_OBSERVATION")
        if e.asset_key.path[0] == "marts"
    }


def _run(store: LakeStore, absent: tuple[str, ...]) -> list:
    generate(store, preset="tiny", seed=11)
    for name in absent:
        store.delete_dir(f"landing/{name}")
    return materialize_all(store, instance=dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def sales_and_master(tmp_path_factory):
    store = LakeStore(str(tmp_path_factory.mktemp("sales_and_master") / "lake"))
    return store, _run(store, NOT_IN_SALES_AND_MASTER)


@pytest.fixture(scope="module")
def foreign_platform(tmp_path_factory):
    import orchestration.definitions  # noqa: F401  (the code location loads before the platform's file is set)

    folder = tmp_path_factory.mktemp("foreign")
    delivered = sorted(set(SALES_AND_MASTER + NOT_IN_SALES_AND_MASTER) - set(FOREIGN_ABSENT))
    platform = folder / "sources.yaml"
    platform.write_text(json.dumps({"platform": "foreign", "sources": {name: {} for name in delivered}}))
    store = LakeStore(str(folder / "lake"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPPLYLOOP_SOURCES", str(platform))
        results = _run(store, FOREIGN_ABSENT)
        yield store, results


def test_sales_and_master_data_alone_build_every_mart_they_can_and_publish_every_feed(sales_and_master):
    store, results = sales_and_master
    assert all(r.success for r in results)
    built = {"daily_demand", "demand_forecast", "forecast_backtest", "partner_performance"}
    built |= {"supplier_replenishment", "supply_demand_balance", "partner_benchmarks", "partner_assortment_gaps"}
    built |= {"supplier_scorecard"}  # empty: no delivered source names the factory that sent it
    assert set(store.list_dirs("marts")) == built
    assert store.read_table("marts/supplier_scorecard").num_rows == 0
    with duckdb.connect(store.fs_path("warehouse.duckdb"), read_only=True) as con:
        tables = {
            r[0]  # the published warehouse is a catalog of views over the marts' Parquet
            for r in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts'").fetchall()
        }
    assert tables == built
    suppliers, _ = supplier_ids(store)
    assert suppliers and published_suppliers(store) == suppliers
    partners = sorted(store.read_table("bronze/partners", columns=["partner_id"]).column(0).to_pylist())
    assert published_partners(store) == partners  # without the allocations, which need stock
    assert set(partner_feeds.latest_manifest(store, partners[0])["rows"]) == {"benchmarks", "assortment_gaps"}


def test_the_marts_that_need_a_missing_source_are_skipped_with_their_reason(sales_and_master, capsys):
    store, results = sales_and_master
    assert {mart: str(m["skipped"].value) for mart, m in _observations(results).items()} == {
        "daily_supply": "daily_supply needs factories and production_output, which this platform does not deliver",
        "factory_oee": "factory_oee needs factories, machine_events and production_output, "
        "which this platform does not deliver",
        "inventory_flow_breaks": "inventory_flow_breaks needs stock_movements and stock_snapshots, "
        "which this platform does not deliver",
        "inventory_position": "inventory_position needs stock_snapshots, which this platform does not deliver",
        "lots": "lots needs production_output, which this platform does not deliver",
        "stock_lot_allocations": "stock_lot_allocations needs stock_movements, which this platform does not deliver",
        "lot_recipients": "lot_recipients needs stock_movements, which this platform does not deliver",
        "partner_allocations": "partner_allocations needs stock_snapshots, which this platform does not deliver",
    }
    _summary(store)
    printed = capsys.readouterr().out
    assert "sources not delivered: " + ", ".join(NOT_IN_SALES_AND_MASTER) in printed
    assert "skipped: inventory_position needs stock_snapshots, which this platform does not deliver" in printed
    assert "supplier_replenishment built without stock_snapshots (on_hand, available, in_transit," in printed


def test_the_replenishment_counts_missing_stock_and_production_as_zero_and_says_so(sales_and_master):
    store, results = sales_and_master
    mart = store.read_table("marts/supplier_replenishment")
    products = store.read_table("bronze/products")
    assert mart.num_rows == products.num_rows
    for column in ("on_hand", "available", "in_transit", "open_production", "prebuild_qty"):
        assert set(mart.column(column).to_pylist()) == {0}, column
    assert pc.sum(mart.column("suggested_qty")).as_py() > 0
    metadata = _materializations(results)["supplier_replenishment"]
    assert str(metadata["sources_not_delivered"].value) == ", ".join(NOT_IN_SALES_AND_MASTER)
    assert (
        "| open_production | work_orders, factories, production_output |"
        in metadata["columns_without_their_sources"].value
    )
    assert (
        "| prebuild_qty | factories, production_output, machine_events |"
        in metadata["columns_without_their_sources"].value
    )
    manifest = latest_manifest(store, published_suppliers(store)[0])
    assert manifest["partial_sources"]["sources_not_delivered"] == list(NOT_IN_SALES_AND_MASTER)
    assert manifest["partial_sources"]["columns_affected"]["on_hand"] == ["stock_snapshots"]


def test_daily_demand_still_reconciles_with_the_order_lines(sales_and_master):
    store, _ = sales_and_master
    demand = store.read_table("marts/daily_demand")
    lines = store.read_table("bronze/order_lines")
    assert pc.sum(demand.column("units_ordered")).as_py() == pc.sum(lines.column("qty")).as_py()
    partners = store.read_table("marts/partner_performance")
    assert set(partners.column("live_sessions").to_pylist()) == {0}


def test_a_platform_without_movements_machines_work_orders_or_sessions_builds_stock_and_supply(foreign_platform):
    store, results = foreign_platform
    assert all(r.success for r in results)
    without_movements = {"factory_oee", "inventory_flow_breaks", "stock_lot_allocations", "lot_recipients"}
    assert set(_observations(results)) == without_movements
    built = set(store.list_dirs("marts"))
    assert {"daily_supply", "inventory_position", "supplier_replenishment", "supply_demand_balance", "lots"} <= built
    assert not built & without_movements
    position = store.read_table("marts/inventory_position")
    assert position.num_rows > 0 and set(position.column("net_movement").to_pylist()) == {0}
    metadata = _materializations(results)["inventory_position"]
    assert str(metadata["sources_not_delivered"].value) == ", ".join(FOREIGN_ABSENT)
    replenishment = store.read_table("marts/supplier_replenishment")
    assert pc.sum(replenishment.column("on_hand")).as_py() > 0
    assert set(replenishment.column("open_production").to_pylist()) == {0}
    suppliers, _ = supplier_ids(store)
    assert published_suppliers(store) == suppliers
    manifest = latest_manifest(store, suppliers[0])
    assert manifest["partial_sources"]["columns_affected"] == {
        "open_production": ["work_orders"],
        "prebuild_qty": ["machine_events"],  # no line capacity without machine states
        "suggested_qty": ["work_orders", "machine_events"],
        "priority": ["work_orders", "machine_events"],
    }
    assert set(replenishment.column("prebuild_qty").to_pylist()) == {0}

"""Partial sources: what a platform's deliveries can build, from the dbt project's own declarations."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from orchestration.lib.coverage import absent_sources, plan_coverage, read_project
from orchestration.lib.sources import canonical_sources, load_sources

CANONICAL = tuple(canonical_sources())
LEDGERS = ("deliveries", "feed_outcomes")  # the pipeline's own tables beside bronze, read like a source
MARTS = {
    "daily_demand",
    "daily_supply",
    "demand_forecast",
    "factory_oee",
    "forecast_backtest",
    "inventory_flow_breaks",
    "inventory_position",
    "partner_performance",
    "supplier_replenishment",
    "supplier_scorecard",
    "supply_demand_balance",
    "lots",
    "stock_lot_allocations",
    "lot_recipients",
    "partner_benchmarks",
    "partner_assortment_gaps",
    "partner_allocations",
}
LOT_MARTS = {"lots", "stock_lot_allocations", "lot_recipients"}
PARTNER_MARTS = {"partner_benchmarks", "partner_assortment_gaps", "partner_allocations"}


@pytest.fixture(scope="module")
def project():
    from orchestration.defs.transform.project import ensure_manifest

    return read_project(ensure_manifest())


def _delivering(*names: str) -> list[str]:
    return [n for n in CANONICAL if n not in names]


def test_with_every_source_nothing_is_skipped_and_the_build_is_as_before(project):
    coverage = plan_coverage(project, [])
    assert coverage.complete and not coverage.skipped and not coverage.lines()
    assert set(coverage.marts) == MARTS
    assert coverage.dbt_args() == []
    assert coverage.dbt_env() == {"SUPPLYLOOP_ABSENT_SOURCES": "", "SUPPLYLOOP_SKIPPED_MODELS": ""}
    assert coverage.fingerprint("abc123") == "abc123"
    assert coverage.feed_note() == {}


@pytest.mark.parametrize(
    ("delivered", "skipped"),
    [
        # sales and master data only
        (
            ("order_lines", "products", "suppliers", "partners", "warehouses"),
            {"daily_supply", "factory_oee", "inventory_flow_breaks", "inventory_position", "partner_allocations"}
            | LOT_MARTS,
        ),
        # the least a supplier feed needs
        (
            ("order_lines", "products"),
            {"daily_supply", "factory_oee", "inventory_flow_breaks", "inventory_position", "partner_performance"}
            | LOT_MARTS
            | PARTNER_MARTS,
        ),
        # no MES at all, everything else
        (
            _delivering("production_output", "machine_events", "work_orders"),
            {"daily_supply", "factory_oee", "lots"},  # lot_recipients built, without the lots' lines
        ),
        # the foreign platform: no movements, machine events, work orders or sessions
        (
            _delivering("stock_movements", "machine_events", "work_orders", "live_sessions"),
            {"factory_oee", "inventory_flow_breaks", "stock_lot_allocations", "lot_recipients"},
        ),
        # factories and stock without sales: no demand, no forecast, no feed
        (
            _delivering("order_lines", "live_sessions"),
            {"daily_demand", "demand_forecast", "forecast_backtest", "partner_performance"}
            | {"supplier_replenishment", "supply_demand_balance", "lot_recipients"}
            | PARTNER_MARTS,
        ),
    ],
)
def test_a_subset_of_sources_skips_exactly_the_marts_that_need_a_missing_one(project, delivered, skipped):
    coverage = plan_coverage(project, [n for n in CANONICAL if n not in delivered])
    assert set(coverage.skipped_marts) == skipped
    assert set(coverage.built_marts) == MARTS - skipped
    excluded = coverage.dbt_args()[1].split()
    assert set(coverage.skipped) <= set(excluded)
    assert {"order_lines", "products"} <= set(delivered) or "supplier_replenishment" in skipped


def test_the_reason_names_the_mart_and_the_sources_it_lacks(project):
    coverage = plan_coverage(project, ["stock_movements"])
    assert coverage.skipped_marts == {
        name: f"{name} needs stock_movements, which this platform does not deliver"
        for name in ("inventory_flow_breaks", "lot_recipients", "stock_lot_allocations")
    }
    assert coverage.lines() == [
        "sources not delivered: stock_movements",
        "  skipped: inventory_flow_breaks needs stock_movements, which this platform does not deliver",
        "  skipped: lot_recipients needs stock_movements, which this platform does not deliver",
        "  skipped: stock_lot_allocations needs stock_movements, which this platform does not deliver",
        "  inventory_position built without stock_movements (receipts, shipments, returns, adjustments, "
        "transfers_in, transfers_out, net_movement)",
    ]


def test_a_model_that_tolerates_a_skipped_upstream_is_built_and_reads_it_as_empty(project):
    coverage = plan_coverage(project, ["stock_snapshots"])
    assert "inventory_position" in coverage.skipped
    assert "int_stock_positions_latest" not in coverage.skipped  # ref_unless_skipped('inventory_position')
    assert coverage.dbt_env()["SUPPLYLOOP_SKIPPED_MODELS"].split(",") == sorted(coverage.skipped)
    assert coverage.empty_columns("supplier_replenishment")["on_hand"] == ["stock_snapshots"]


def test_the_data_tests_of_skipped_models_and_of_absent_sources_staging_are_excluded(project):
    coverage = plan_coverage(project, ["stock_movements", "live_sessions", "suppliers"])
    excluded = set(coverage.excluded_tests)
    assert "supply_inventory_flow_holds" in excluded  # a reconciliation on a skipped model
    assert "unique_across_days_stg_inventory__stock_movements_movement_id__movement_day" in excluded
    assert "not_null_stg_sales__live_sessions_live_session_id" in excluded
    # a relationship to master data that is not delivered cannot hold
    assert "relationships_stg_master__products_supplier_id__supplier_id__ref_stg_master__suppliers_" in excluded
    # tests of what is built from delivered sources still run
    assert "demand_reconciles_with_order_lines" not in excluded
    assert "unique_supplier_replenishment_sku" not in excluded
    assert set(coverage.dbt_args()[1].split()) == set(coverage.skipped) | excluded


def test_another_set_of_absent_sources_changes_the_build_records_fingerprint(project):
    assert plan_coverage(project, ["live_sessions"]).fingerprint("abc") != "abc"
    assert plan_coverage(project, ["live_sessions"]).fingerprint("abc") != plan_coverage(
        project, ["work_orders"]
    ).fingerprint("abc")


def test_every_declared_source_is_canonical_and_every_emptied_column_is_the_marts(project):
    for model in project.models.values():
        assert set(model.needs) <= set(CANONICAL), model.name
        assert set(model.affected_by) <= set(CANONICAL), model.name
        assert not set(model.needs) & set(model.affected_by), model.name
    from orchestration.defs.transform.project import ensure_manifest

    nodes = json.loads(ensure_manifest().read_text())["nodes"]
    for name in MARTS:
        columns = set(nodes[f"model.supplyloop.{name}"]["columns"])
        for source, emptied in project.models[name].affected_by.items():
            assert set(emptied) <= columns, (name, source, set(emptied) - columns)


def test_every_staging_view_reads_its_source_through_bronze_source(project):
    """An absent source's view must stand in with an empty relation, so no model reads bronze directly."""
    from orchestration.lib.paths import TRANSFORMS_DIR

    staging = [m for m in project.models.values() if m.sources]
    assert {s for m in staging for s in m.sources} == set(CANONICAL) | set(LEDGERS)
    for model in staging:
        sql = (TRANSFORMS_DIR / "models" / "staging" / f"{model.name}.sql").read_text()
        assert "bronze_source(" in sql and "source(" not in sql.replace("bronze_source(", ""), model.name


def _write(lake, source, rel: str, rows: int) -> None:
    """``rows`` rows of nulls (as the lake sees it, only their count matters here), or none."""
    schema = pa.schema([f.with_nullable(True) for f in source.schema])
    lake.write_parquet(rel, pa.Table.from_pylist([{}] * rows, schema) if rows else schema.empty_table())


def test_a_source_is_absent_when_undeclared_without_bronze_or_with_only_empty_days(lake):
    sources = load_sources()
    _write(lake, sources["order_lines"], "bronze/order_lines/day=2026-11-01/part-0.parquet", 0)
    _write(lake, sources["order_lines"], "bronze/order_lines/day=2026-11-02/part-0.parquet", 3)
    _write(lake, sources["live_sessions"], "bronze/live_sessions/day=2026-11-01/part-0.parquet", 0)
    _write(lake, sources["live_sessions"], "bronze/live_sessions/day=2026-11-02/part-0.parquet", 0)
    _write(lake, sources["products"], "bronze/products/part-0.parquet", 2)
    _write(lake, sources["suppliers"], "bronze/suppliers/part-0.parquet", 2)
    declared = {n: s for n, s in sources.items() if n != "suppliers"}  # suppliers: not in the platform's file
    absent = absent_sources(lake, declared, CANONICAL)
    assert "order_lines" not in absent and "products" not in absent
    assert {"live_sessions", "suppliers", "stock_movements"} <= set(absent)
    assert set(absent) == set(CANONICAL) - {"order_lines", "products"}

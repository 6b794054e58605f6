"""What the Dagster UI reads from the instance after `make run` on the tiny demo: each mart's
metadata (rows, preview, the forecast's WAPE, the week-by-week balance), named runs, and the
checks on the data's day."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pyarrow.parquet as pq
import pytest

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """`make run` on the tiny demo, recorded in a real (temporary) instance the test reads back."""
    store = LakeStore(str(tmp_path_factory.mktemp("ui") / "lake"))
    truth = generate(store, preset="tiny", seed=5).truth
    with dg.DagsterInstance.ephemeral() as instance:
        results = materialize_all(store, instance=instance)
        assert all(r.success for r in results)
        yield store, truth, instance


def _metadata(instance: dg.DagsterInstance, *key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(list(key)))
    assert event is not None, f"{'/'.join(key)} was never materialized"
    return {name: getattr(value, "value", value) for name, value in event.asset_materialization.metadata.items()}


def _parquet_rows(store: LakeStore, mart: str) -> int:
    files = store.list_files(f"marts/{mart}", "*.parquet", recursive=True)
    return sum(pq.read_metadata(store.fs_path(f.path), filesystem=store.fs).num_rows for f in files)


@pytest.mark.parametrize("mart", ["daily_demand", "demand_forecast", "supply_demand_balance", "factory_oee"])
def test_each_mart_shows_its_rows_where_it_is_and_a_preview(demo, mart):
    store, _, instance = demo
    metadata = _metadata(instance, "marts", mart)
    assert metadata["dagster/row_count"] == _parquet_rows(store, mart) > 0
    assert metadata["parquet"] == store.uri(f"marts/{mart}/")
    assert metadata["warehouse"].endswith("warehouse.duckdb")
    header, rule, first, *_ = metadata["preview"].splitlines()
    assert header.startswith("| ") and rule.startswith("|---") and first.startswith("| ")


def test_the_forecast_shows_its_backtest_error_against_seasonal_naive(demo):
    _, _, instance = demo
    for mart in ("demand_forecast", "forecast_backtest"):
        metadata = _metadata(instance, "marts", mart)
        assert 0 <= metadata["wape_overall"] < 2 and 0 <= metadata["naive_wape_overall"] < 2, mart
        beating, of, total = metadata["skus_beating_naive"].split()
        assert of == "of" and 0 <= int(beating) <= int(total) == 15  # the tiny demo sells 15 SKUs


def test_the_balance_shows_its_top_skus_week_by_week(demo):
    _, _, instance = demo
    picture = _metadata(instance, "marts", "supply_demand_balance")["top_skus_by_week"]
    header = picture.splitlines()[0]
    assert header == "| sku | week | demand | stock | production | gap | stockout |"
    assert len(picture.splitlines()) > 10


def test_the_scorecard_shows_each_suppliers_deliveries_and_the_on_time_check_runs(demo):
    store, _, instance = demo
    picture = _metadata(instance, "marts", "supplier_scorecard")["deliveries_by_supplier"]
    header, _, *rows = picture.splitlines()
    assert header.startswith("| supplier_id | source | on_time | late | missing | rejected |")
    suppliers = {row.split("|")[1].strip() for row in rows}
    assert suppliers == set(store.read_table("bronze/suppliers").column("supplier_id").to_pylist())
    checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(dg.AssetKey(["bronze", "factory", "production_output"]), "deliveries_on_time")]
    )
    assert checks, "deliveries_on_time never ran"


def test_every_run_has_a_job_name_and_the_range_run_names_its_days(demo):
    _, truth, instance = demo
    runs = instance.get_runs()
    assert {r.job_name for r in runs} == {"daily_ingest", "marts", "supplier_feeds", "partner_feeds"}
    (facts,) = [r for r in runs if "days" in r.tags]
    start, end = date.fromisoformat(truth["start"]), date.fromisoformat(truth["end"])
    assert facts.tags["days"] == f"{start} .. {end} ({(end - start).days + 1} days)"
    assert facts.job_name == "daily_ingest"
    (feeds,) = [r for r in runs if r.job_name == "supplier_feeds"]  # one run for every supplier
    assert "dagster/partition" not in feeds.tags


def test_the_supplier_feeds_show_each_suppliers_outcome_and_the_gate_that_decided(demo):
    store, _, instance = demo
    metadata = _metadata(instance, "feeds", "supplier_replenishment")
    suppliers = store.read_table("bronze/suppliers").column("supplier_id").to_pylist()
    assert metadata["suppliers"] == metadata["published"] + metadata["unchanged"] + metadata["held"] == len(suppliers)
    assert metadata["gate_result"].startswith(store.uri("gates/supplier_replenishment/"))
    assert all(f"| {s} | published |" in metadata["outcomes"] for s in suppliers)
    assert store.exists(metadata["outcomes_file"].removeprefix(store.uri("")).lstrip("/"))
    key = dg.AssetCheckKey(dg.AssetKey(["feeds", "supplier_replenishment"]), "supplier_replenishment_gate")
    assert instance.get_latest_asset_check_evaluation_record(key) is not None


def test_the_partner_feeds_show_what_was_published_held_and_the_gate_that_decided(demo):
    store, _, instance = demo
    metadata = _metadata(instance, "feeds", "partner_feeds")
    partners = store.read_table("bronze/partners", columns=["partner_id"]).num_rows
    assert metadata["partners"] == metadata["published"] + metadata["unchanged"] + metadata["held"] == partners
    assert metadata["gate_result"].startswith(store.uri("gates/partner_feed/"))
    assert "| partner_id |" in metadata["preview"]
    key = dg.AssetCheckKey(dg.AssetKey(["feeds", "partner_feeds"]), "partner_feed_gate")
    assert instance.get_latest_asset_check_evaluation_record(key) is not None


def test_every_ingestion_judges_freshness_on_the_newest_day_with_rows(demo):
    _, truth, instance = demo
    key = dg.AssetCheckKey(dg.AssetKey(["bronze", "sales", "order_lines"]), "data_fresh")
    record = instance.get_latest_asset_check_evaluation_record(key)
    assert record is not None, "the ingestion run did not evaluate data_fresh"
    evaluation = record.event.dagster_event.asset_check_evaluation_data
    metadata = {name: value.value for name, value in evaluation.metadata.items()}
    assert metadata["newest_day"] == truth["end"]
    behind = (date.fromisoformat(metadata["expected_day"]) - date.fromisoformat(truth["end"])).days
    assert evaluation.passed == (behind <= 0) and metadata["days_behind"] == max(0, behind)
    assert metadata["deadline"] == "09:00 Asia/Shanghai"

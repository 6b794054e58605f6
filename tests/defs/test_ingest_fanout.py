"""Ingestion fans out: the landing sensor and the nightly schedule request one run per source and day."""

from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
import yaml

from orchestration.cli import definitions_on
from orchestration.definitions import defs
from orchestration.defs.ingest.schedules import SOURCE_TAG, daily_ingest_schedule, run_units
from orchestration.defs.ingest.sensors import landing_files
from orchestration.defs.resources import Lake
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sources import daily_sources, load_sources
from tests.conftest import CSV_HEADER, write_master

MOVEMENTS_HEADER = "movement_id,moved_at,warehouse_id,sku,qty,movement_type,lot_id\n"


def _deliver(lake, name: str, day: str, body: str = "") -> None:
    header = CSV_HEADER if name == "order_lines" else MOVEMENTS_HEADER
    lake.write_bytes(f"landing/{name}/{name}_{day}.csv", (header + body).encode())


def _units(requests) -> list[tuple[str, str | None]]:
    return sorted((r.tags[SOURCE_TAG], r.partition_key) for r in requests if isinstance(r, dg.RunRequest))


def _sense(lake, cursor: str | None = None) -> tuple[list, str]:
    with dg.build_sensor_context(cursor=cursor, resources={"lake": Lake(root=lake.root)}) as context:
        requests = list(landing_files(context))
        return requests, context.cursor


@pytest.fixture
def delivered(lake):
    """Master data in bronze; two days of order lines and one of stock movements in landing."""
    write_master(lake)
    for day in ("2026-11-10", "2026-11-11"):
        _deliver(lake, "order_lines", day)
    _deliver(lake, "stock_movements", "2026-11-11")
    return lake


def test_the_landing_sensor_requests_a_run_per_source_and_day_tagged_with_both(delivered):
    requests, _ = _sense(delivered)
    assert _units(requests) == [
        ("order_lines", "2026-11-10"),
        ("order_lines", "2026-11-11"),
        ("stock_movements", "2026-11-11"),
    ]
    for request in requests:
        source = request.tags[SOURCE_TAG]
        (key,) = request.asset_selection
        assert key.path[-1] == source
        assert request.run_key.startswith(f"{source}:{request.partition_key}:")
        assert request.tags["trigger"] == "landing_files"


def test_a_second_look_requests_nothing_and_a_replaced_file_only_its_source_and_day(delivered):
    first, cursor = _sense(delivered)
    again, cursor = _sense(delivered, cursor)
    assert [type(r) for r in again] == [dg.SkipReason]
    _deliver(delivered, "order_lines", "2026-11-11", "O1,1,2026-11-11 10:00:00,P00001,SKU0001,1,9.9,0,east,,paid\n")
    (replaced,), _ = _sense(delivered, cursor)
    assert _units([replaced]) == [("order_lines", "2026-11-11")]
    before = {(r.tags[SOURCE_TAG], r.partition_key): r.run_key for r in first}
    assert replaced.run_key != before[("order_lines", "2026-11-11")]


def test_the_run_keys_are_the_same_whoever_looks_again_from_scratch(delivered):
    assert [r.run_key for r in _sense(delivered)[0]] == [r.run_key for r in _sense(delivered)[0]]


def test_master_snapshots_run_one_per_source_and_with_the_master_data_they_refer_to(lake):
    for name in ("suppliers", "partners", "warehouses"):
        lake.write_bytes(f"landing/{name}/{name}_2026-11-01.csv", b"x\n")
    lake.write_bytes("landing/products/products_2026-11-01.xlsx", b"x")
    lake.write_bytes("landing/warehouses/warehouses_2026-11-01.jsonl", b"{}\n")
    requests, _ = _sense(lake)
    assert _units(requests) == [("partners", None), ("products+suppliers", None), ("warehouses", None)]
    (both,) = [r for r in requests if r.tags[SOURCE_TAG] == "products+suppliers"]
    assert {k.path[-1] for k in both.asset_selection} == {"products", "suppliers"}
    assert both.run_key.startswith("products+suppliers:snapshot:")


@pytest.mark.parametrize(
    ("changed", "units"),
    [
        ({"partners"}, [("partners",)]),
        ({"suppliers", "partners"}, [("partners",), ("suppliers",)]),
        ({"products", "factories", "suppliers"}, [("factories", "products", "suppliers")]),
        ({"products", "factories"}, [("factories",), ("products",)]),
    ],
)
def test_run_units_join_a_snapshot_to_the_changed_master_data_it_refers_to(changed, units):
    assert run_units(changed, load_sources()) == units


def _nightly(lake, at: datetime) -> list:
    context = dg.build_schedule_context(
        scheduled_execution_time=at, resources={"lake": Lake(root=lake.root)}, repository_def=defs.get_repository_def()
    )
    return list(daily_ingest_schedule.evaluate_tick(context).run_requests or [])


def test_the_nightly_schedule_requests_yesterday_once_per_daily_source_delivered_or_not(delivered):
    at = datetime(2026, 11, 12, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    requests = _nightly(delivered, at)
    assert _units(requests) == sorted((s.name, "2026-11-11") for s in daily_sources())
    keys = {r.tags[SOURCE_TAG]: r.run_key for r in requests}
    assert keys["live_sessions"] == "live_sessions:2026-11-11:none"  # nothing came: ingested empty, checked
    assert keys["order_lines"].startswith("order_lines:2026-11-11:") and not keys["order_lines"].endswith(":none")
    assert [r.run_key for r in _nightly(delivered, at)] == [r.run_key for r in requests]


def test_the_nightly_schedule_ingests_a_master_snapshot_only_when_one_came_since_its_last_run(delivered):
    at = datetime(2026, 11, 12, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert all(len(r.asset_selection) == 1 for r in _nightly(delivered, at))  # the master data in bronze is current
    delivered.write_bytes("landing/partners/partners_2026-11-11.csv", b"partner_id,partner_type,region\n")
    requests = _nightly(delivered, at)
    (joined,) = [r for r in requests if len(r.asset_selection) > 1]
    # the daily sources that name partners go in the run of the new snapshot: it is ingested first
    assert (joined.tags[SOURCE_TAG], joined.partition_key) == ("live_sessions+order_lines+partners", "2026-11-11")
    assert {k.path[-1] for k in joined.asset_selection} == {"live_sessions", "order_lines", "partners"}
    alone = {s.name for s in daily_sources()} - {"live_sessions", "order_lines"}
    assert _units([r for r in requests if r is not joined]) == sorted((name, "2026-11-11") for name in alone)


def test_a_new_partner_and_its_first_orders_delivered_the_same_night_ingest_in_order(delivered):
    """The nightly run that joins a new snapshot and the facts naming it, materialized for real."""
    delivered.write_bytes(
        "landing/partners/partners_2026-11-11.csv",
        b"partner_id,partner_type,region\nP00001,store,east\nP00009,store,west\n",
    )
    _deliver(delivered, "order_lines", "2026-11-11", "O9,1,2026-11-11 10:00:00,P00009,SKU0001,2,9.9,0,west,,paid\n")
    at = datetime(2026, 11, 12, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    (joined,) = [r for r in _nightly(delivered, at) if "order_lines" in r.tags[SOURCE_TAG]]
    result = (
        definitions_on(delivered)
        .resolve_job_def("daily_ingest")
        .execute_in_process(
            asset_selection=list(joined.asset_selection),
            partition_key=joined.partition_key,
            tags=joined.tags,
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
        )
    )
    assert result.success
    rows = delivered.read_table("bronze/order_lines/day=2026-11-11")
    assert rows.column("partner_id").to_pylist() == ["P00009"]
    assert not delivered.exists("quarantine/order_lines/day=2026-11-11/part-0.parquet")


def test_the_nightly_schedule_keeps_its_name_time_and_job():
    assert daily_ingest_schedule.name == "daily_ingest_schedule"
    assert (daily_ingest_schedule.cron_schedule, daily_ingest_schedule.execution_timezone) == (
        "0 2 * * *",
        "Asia/Shanghai",
    )
    assert daily_ingest_schedule.job_name == "daily_ingest"


def test_the_cloud_caps_ingestion_runs_below_all_runs_and_shows_each_runs_source_and_day_on_its_task():
    config = yaml.safe_load((PROJECT_ROOT / "infra" / "dagster.yaml").read_text())
    runs = config["concurrency"]["runs"]
    (cap,) = [limit for limit in runs["tag_concurrency_limits"] if limit["key"] == SOURCE_TAG]
    assert "value" not in cap  # every ingestion run counts, whatever its source
    assert 1 <= cap["limit"] < runs["max_concurrent_runs"]  # room beside them for the marts and the feeds
    assert config["concurrency"]["pools"]["default_limit"] == 1  # the warehouse pool: one marts build at a time
    assert {SOURCE_TAG, "dagster/partition", "trigger"} <= set(
        config["run_launcher"]["config"]["propagate_tags"]["allow_list"]
    )

"""The code location loads and tells the story: keys, groups, partitions, checks, automation."""

import json

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.ingest.sensors import landing_files
from orchestration.defs.resources import Lake
from orchestration.lib.paths import TRANSFORMS_DIR
from orchestration.lib.sources import load_sources
from tests.conftest import CSV_HEADER


def test_every_source_is_a_bronze_asset_named_for_where_it_lives():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for source in load_sources().values():
        key = f"bronze/{source.domain}/{source.name}"
        assert key in keys
        node = graph.get(dg.AssetKey(key.split("/")))
        assert node.group_name == source.domain
        assert node.owners == ["team:data-platform"]
        assert (node.partitions_def is not None) == source.is_daily
        assert node.description


def test_facts_depend_on_the_master_data_they_refer_to():
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey(["bronze", "sales", "order_lines"])).parent_keys}
    assert parents == {"bronze/master/partners", "bronze/master/products"}


def test_each_bronze_asset_has_its_quality_checks():
    check_keys = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    assert ("bronze/sales/order_lines", "files_readable") in check_keys
    assert ("bronze/sales/order_lines", "quarantine_ratio") in check_keys

    daily = {f"bronze/{s.domain}/{s.name}" for s in load_sources().values() if s.is_daily}
    assert daily and {key for key, name in check_keys if name == "data_fresh"} == daily


def test_freshness_is_judged_on_the_data_by_its_own_job_each_morning():
    (schedule,) = [s for s in defs.schedules if s.name == "data_freshness_schedule"]
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 9 * * *", "Asia/Shanghai")
    assert schedule.job_name == "data_freshness"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING


def test_schedule_sensor_and_job_are_there():
    assert {s.name for s in defs.schedules} == {"daily_ingest_schedule", "data_freshness_schedule"}
    assert {s.name for s in defs.sensors} == {"landing_files", "replenishment_feeds"}
    assert defs.resolve_job_def("daily_ingest").partitions_def is not None


def test_ingest_marts_and_feeds_are_named_jobs_that_the_sensors_launch():
    graph = defs.resolve_asset_graph()
    marts = defs.resolve_job_def("marts")
    assert dg.AssetKey(["marts", "supply_demand_balance"]) in marts.asset_layer.selected_asset_keys
    assert not any(k.path[0] == "bronze" for k in marts.asset_layer.selected_asset_keys)
    feeds = defs.resolve_job_def("supplier_feeds")
    assert feeds.asset_layer.selected_asset_keys == {dg.AssetKey(["feeds", "supplier_replenishment"])}
    assert graph.get(dg.AssetKey(["feeds", "supplier_replenishment"])).partitions_def is None  # one run for all
    assert feeds.partitions_def is None
    sensors = {s.name: s for s in defs.sensors}
    assert sensors["landing_files"].job_name == "daily_ingest"
    assert sensors["replenishment_feeds"].job_name == "supplier_feeds"


def test_the_landing_sensor_asks_once_per_new_or_changed_file_version(lake):
    lake.write_bytes("landing/order_lines/order_lines_2026-11-11.csv", CSV_HEADER.encode())
    resource = Lake(root=lake.root)
    with dg.build_sensor_context(resources={"lake": resource}) as context:
        requests = list(landing_files(context))
        cursor = context.cursor
    assert [(r.partition_key, [k.to_user_string() for k in r.asset_selection]) for r in requests] == [
        ("2026-11-11", ["bronze/sales/order_lines"])
    ]
    assert json.loads(cursor)["order_lines"]
    with dg.build_sensor_context(cursor=cursor, resources={"lake": resource}) as context:
        assert [type(r) for r in landing_files(context)] == [dg.SkipReason]
    lake.write_bytes("landing/order_lines/order_lines_2026-11-09.csv", CSV_HEADER.encode())
    with dg.build_sensor_context(cursor=cursor, resources={"lake": resource}) as context:
        (late,) = list(landing_files(context))
    assert late.partition_key == "2026-11-09" and late.run_key != requests[0].run_key


def test_the_landing_sensor_waits_for_days_that_are_no_partition_yet(lake):
    from datetime import date, timedelta

    later = (date.today() + timedelta(days=2)).isoformat()
    for day in ("2025-10-31", later):  # before the first partition (conftest), and not over yet
        lake.write_bytes(f"landing/order_lines/order_lines_{day}.csv", CSV_HEADER.encode())
    with dg.build_sensor_context(resources={"lake": Lake(root=lake.root)}) as context:
        (skipped,) = list(landing_files(context))
        cursor = json.loads(context.cursor)
    assert cursor["order_lines"] == {}  # asked for again on a later tick
    assert f"files for 2025-10-31, {later} wait: no daily partition offers those days (2025-11-01 .. " in (
        skipped.skip_message
    )


def test_the_marts_continue_the_lineage_from_bronze_with_dbt_tests_as_checks():
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for mart in ("daily_demand", "demand_forecast", "supply_demand_balance", "supplier_replenishment", "factory_oee"):
        assert f"marts/{mart}" in keys
    assert graph.get(dg.AssetKey(["staging", "stg_sales__order_lines"])).parent_keys == {
        dg.AssetKey(["bronze", "sales", "order_lines"])
    }
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert any(key == "marts/supplier_replenishment" for key, _ in checks)
    # every singular test is a check too, those reading several models on the model they test
    singular = {p.stem for p in (TRANSFORMS_DIR / "tests").glob("*.sql")}
    assert singular <= {name for _, name in checks}
    assert ("marts/daily_demand", "demand_reconciles_with_order_lines") in checks
    node = graph.get(dg.AssetKey(["marts", "daily_demand"]))
    assert node.group_name == "marts" and node.automation_condition is not None


def test_runs_that_write_the_warehouse_share_one_concurrency_pool():
    from orchestration.defs.transform.assets import supply_demand_marts

    assert supply_demand_marts.op.pool == "warehouse"

"""The feeds in Dagster, on a tiny lake whose replenishment mart the tests write themselves."""

import logging

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from orchestration.cli import main
from orchestration.definitions import defs
from orchestration.defs.feeds.assets import FEED_KEY, GATE_CHECK, MART_KEY, supplier_replenishment_feed
from orchestration.defs.feeds.checks import ORDER_LINES_KEY, order_lines_gate
from orchestration.defs.feeds.partitions import register_suppliers, suppliers
from orchestration.defs.feeds.sensors import replenishment_feeds
from orchestration.defs.resources import Lake
from orchestration.lib import feeds
from orchestration.lib.feeds import latest_manifest, published_versions, read_feed, verify_feed
from orchestration.lib.lake import LakeStore
from tests.replenishment import DAY, mart_table, write_feed_lake, write_lake_with_a_broken_newest_day, write_mart

SUPPLIERS = {"SUP001": 3, "SUP002": 2, "SUP003": 1}


def run_feeds(store: LakeStore, instance: dg.DagsterInstance) -> dict[str, dg.ExecuteInProcessResult]:
    """What `make run` does last: register the suppliers, then one feed run per supplier."""
    names = register_suppliers(instance, store)
    return {
        name: dg.materialize(
            [supplier_replenishment_feed],
            instance=instance,
            resources={"lake": Lake(root=store.root)},
            partition_key=name,
            raise_on_error=False,
        )
        for name in names
    }


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error, messages = failure.step_failure_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)


def gate_checks(result: dg.ExecuteInProcessResult) -> list:
    return [e.asset_check_evaluation_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]


def snapshot(store: LakeStore, prefix: str) -> dict[str, bytes]:
    return {f.path: store.read_bytes(f.path) for f in store.list_files(prefix, recursive=True)}


@pytest.fixture
def instance():
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance


def test_every_supplier_in_master_data_gets_its_gated_feed_published(lake, instance):
    mart = write_feed_lake(lake, SUPPLIERS)
    results = run_feeds(lake, instance)
    assert set(results) == set(SUPPLIERS) and all(r.success for r in results.values())
    assert set(instance.get_dynamic_partitions(suppliers.name)) == set(SUPPLIERS)
    union = []
    for name, result in results.items():
        (check,) = gate_checks(result)
        assert (check.check_name, check.partition, check.passed) == (GATE_CHECK, name, True)  # per supplier in the UI
        (materialization,) = result.asset_materializations_for_node(supplier_replenishment_feed.op.name)
        assert materialization.partition == name
        metadata = materialization.metadata
        assert metadata["dagster/row_count"].value == SUPPLIERS[name]
        assert metadata["manifest"].path == lake.uri(f"feeds/{name}/{metadata['version'].value}/manifest.json")
        assert metadata["gate_result"].path.startswith(lake.uri(f"gates/supplier_replenishment/{name}/"))
        assert metadata["data_docs"].path.endswith(".html") and "preview" in metadata
        assert verify_feed(lake, name) == []
        assert latest_manifest(lake, name)["validation"]["outcome"] == "passed"
        union.append(read_feed(lake, name))
    assert pa.concat_tables(union).sort_by("sku").equals(mart.sort_by("sku"))


def _negative_quantity(lake, monkeypatch, mart):
    quantities = mart.column("suggested_qty").to_pylist()
    quantities[3] = -100  # SUP002's first SKU
    write_mart(
        lake, mart.set_column(mart.schema.get_field_index("suggested_qty"), "suggested_qty", pa.array(quantities))
    )
    return "quantities: expect_column_values_to_be_between(suggested_qty): 1 unexpected row(s)"


def _another_suppliers_row(lake, monkeypatch, mart):
    import orchestration.defs.feeds.assets as assets

    real = assets.feed_rows

    def leaky(store, supplier):  # a filter bug that lets one of SUP001's rows through
        rows = real(store, supplier)
        return pa.concat_tables([rows, real(store, "SUP001").slice(0, 1)]) if supplier == "SUP002" else rows

    monkeypatch.setattr(assets, "feed_rows", leaky)
    return "scoping: expect_column_values_to_be_in_set(supplier_id): 1 unexpected row(s), e.g. 'SUP001'"


def _stale_day(lake, monkeypatch, mart):
    days = [DAY.replace(day=20) if s == "SUP002" else DAY for s in mart.column("supplier_id").to_pylist()]
    write_mart(lake, mart.set_column(mart.schema.get_field_index("as_of_day"), "as_of_day", pa.array(days)))
    return "freshness: expect_column_values_to_be_between(as_of_day): 2 unexpected row(s)"


@pytest.mark.parametrize("inject", [_negative_quantity, _another_suppliers_row, _stale_day])
def test_a_bad_feed_is_not_published_the_previous_stays_and_the_others_publish(
    lake, instance, monkeypatch, caplog, inject
):
    write_feed_lake(lake, SUPPLIERS)
    assert all(r.success for r in run_feeds(lake, instance).values())
    before = snapshot(lake, "feeds/SUP002")
    previous = latest_manifest(lake, "SUP002")["version"]
    mart = mart_table(SUPPLIERS, suggested_qty=300)  # new data for everyone
    write_mart(lake, mart)
    expected = inject(lake, monkeypatch, mart)
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        results = run_feeds(lake, instance)
    assert not results["SUP002"].success
    assert snapshot(lake, "feeds/SUP002") == before  # byte for byte
    message = failure_message(results["SUP002"])
    assert "supplier SUP002 NOT published" in message and expected in message, message
    assert f"previous feed {previous} stays published" in message
    assert "ALERT" in caplog.text and "SUP002" in caplog.text  # a person is told
    (check,) = gate_checks(results["SUP002"])
    assert (check.passed, check.severity, check.partition) == (False, dg.AssetCheckSeverity.ERROR, "SUP002")
    for name in ("SUP001", "SUP003"):
        assert results[name].success and verify_feed(lake, name) == []
        assert read_feed(lake, name).column("suggested_qty").to_pylist() == [300] * SUPPLIERS[name]
    assert not lake.list_files("feeds/_staging", recursive=True)


def test_a_crash_between_write_and_publish_shows_no_partial_feed_and_the_next_run_completes(
    lake, instance, monkeypatch
):
    two = {"SUP001": 3, "SUP002": 2}
    write_feed_lake(lake, two)
    run_feeds(lake, instance)
    before = snapshot(lake, "feeds")
    write_mart(lake, mart_table(two, suggested_qty=300))

    def crash(*args):
        raise RuntimeError("simulated crash: the files are copied, the manifest is not written")

    monkeypatch.setattr(feeds, "write_manifest", crash)
    crashed = run_feeds(lake, instance)
    assert not any(r.success for r in crashed.values())
    assert "simulated crash" in failure_message(crashed["SUP001"])
    assert snapshot(lake, "feeds") == before  # readers see the previous feeds, whole; no half version anywhere
    monkeypatch.undo()
    again = run_feeds(lake, instance)
    assert all(r.success for r in again.values())
    for name, skus in two.items():
        assert len(published_versions(lake, name)) == 2 and verify_feed(lake, name) == []
        assert read_feed(lake, name).column("suggested_qty").to_pylist() == [300] * skus


def test_a_failing_input_gate_on_order_lines_blocks_every_feed(lake, instance):
    write_feed_lake(lake, SUPPLIERS, days=3)
    lake.delete_dir(f"bronze/order_lines/day={DAY.replace(day=20).isoformat()}")  # a day missing in the window
    checked = dg.materialize(
        [*defs.assets, order_lines_gate],
        selection=dg.AssetSelection.checks(order_lines_gate),
        instance=instance,
        resources={**defs.resources, "lake": Lake(root=lake.root)},
        raise_on_error=False,
    )
    (check,) = gate_checks(checked)
    assert check.asset_key == ORDER_LINES_KEY and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR and "completeness" in check.description
    results = run_feeds(lake, instance)
    assert not any(r.success for r in results.values())
    assert "the input gate order_lines for 2026-11-21 failed" in failure_message(results["SUP003"])
    assert not lake.exists("feeds")


def test_the_feeds_run_on_an_s3_lake_too(s3_lake, instance):
    mart = write_feed_lake(s3_lake, {"SUP001": 2, "SUP002": 1})
    results = run_feeds(s3_lake, instance)
    assert all(r.success for r in results.values())
    manifest = latest_manifest(s3_lake, "SUP001")
    assert verify_feed(s3_lake, "SUP001") == [] and manifest["rows"] == 2
    assert manifest["validation"]["docs"].startswith(s3_lake.uri("gates/docs/validations/"))
    for supplier in ("SUP001", "SUP002"):  # every gate's page stays in the bucket
        docs = latest_manifest(s3_lake, supplier)["validation"]["docs"]
        assert s3_lake.exists(docs.removeprefix(s3_lake.uri("")).lstrip("/"))
    ours = read_feed(s3_lake, "SUP002")
    assert ours.equals(mart.filter(pc.equal(mart.column("supplier_id"), "SUP002")))


def test_the_sensor_adds_new_suppliers_and_asks_for_every_feed_once_per_mart_change(lake, instance):
    write_feed_lake(lake, SUPPLIERS)
    instance.add_dynamic_partitions(suppliers.name, ["SUP001"])
    resource = Lake(root=lake.root)
    with dg.build_sensor_context(instance=instance, resources={"lake": resource}) as context:
        assert isinstance(replenishment_feeds(context), dg.SkipReason)  # the mart never materialized
    instance.report_runless_asset_event(dg.AssetMaterialization(MART_KEY))
    with dg.build_sensor_context(instance=instance, resources={"lake": resource}) as context:
        result = replenishment_feeds(context)
    assert sorted(r.partition_key for r in result.run_requests) == sorted(SUPPLIERS)
    assert all(r.asset_selection == [FEED_KEY] for r in result.run_requests)
    (added,) = result.dynamic_partitions_requests
    assert sorted(added.partition_keys) == ["SUP002", "SUP003"]
    with dg.build_sensor_context(instance=instance, cursor=result.cursor, resources={"lake": resource}) as context:
        assert isinstance(replenishment_feeds(context), dg.SkipReason)


def test_the_feed_asset_tells_its_story_in_the_code_location():
    graph = defs.resolve_asset_graph()
    node = graph.get(FEED_KEY)
    assert node.parent_keys == {MART_KEY} and node.group_name == "feeds"
    assert node.partitions_def == suppliers and node.owners == ["team:data-platform"]
    assert {"parquet", "csv", "great_expectations"} <= set(node.kinds) and node.description
    checks = {k.name: k for k in graph.asset_check_keys if k.asset_key in (FEED_KEY, ORDER_LINES_KEY)}
    assert {"supplier_replenishment_gate", "order_lines_gate"} <= set(checks)
    specs = [s for c in defs.asset_checks or [] for s in c.check_specs] + list(supplier_replenishment_feed.check_specs)
    assert all(s.blocking for s in specs if s.name.endswith("_gate"))
    assert replenishment_feeds.default_status == dg.DefaultSensorStatus.STOPPED


BROKEN_DAY_REASON = (
    "order_lines has no accepted rows for 2026-11-21 (landing file order_lines_2026-11-21.csv: 12 rows "
    "quarantined as wrong_day); re-deliver that day's file and materialize bronze/sales/order_lines for 2026-11-21"
)


def check_order_lines(lake, instance) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*defs.assets, order_lines_gate],
        selection=dg.AssetSelection.checks(order_lines_gate),
        instance=instance,
        resources={**defs.resources, "lake": Lake(root=lake.root)},
        raise_on_error=False,
    )


@pytest.mark.slow
def test_a_broken_newest_day_holds_every_feed_at_the_day_before_and_says_so(lake, instance, caplog, capsys):
    mart = write_lake_with_a_broken_newest_day(lake, SUPPLIERS)
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        (check,) = gate_checks(check_order_lines(lake, instance))
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)  # reported, not blocking
    assert BROKEN_DAY_REASON in check.description
    alerts = [r.getMessage() for r in caplog.records if r.name == "supplyloop.alerts"]
    assert len(alerts) == 1 and BROKEN_DAY_REASON in alerts[0]  # one alert, not one per supplier
    assert "the feeds are published as of 2026-11-20" in alerts[0]
    results = run_feeds(lake, instance)
    assert all(r.success for r in results.values())
    for name, result in results.items():
        manifest = latest_manifest(lake, name)
        assert manifest["as_of_day"] == "2026-11-20" and verify_feed(lake, name) == []
        assert [(d["day"], d["reason"]) for d in manifest["incomplete_days"]] == [("2026-11-21", BROKEN_DAY_REASON)]
        (materialization,) = result.asset_materializations_for_node(supplier_replenishment_feed.op.name)
        assert materialization.metadata["incomplete_days"].value[0]["day"] == "2026-11-21"
    union = pa.concat_tables([read_feed(lake, name) for name in SUPPLIERS])
    assert union.sort_by("sku").equals(mart.sort_by("sku"))
    capsys.readouterr()
    assert main(["--lake", lake.root, "summary"]) == 0  # the run summary says it too
    assert f"! feeds published as of 2026-11-20, not 2026-11-21: {BROKEN_DAY_REASON}" in capsys.readouterr().out


@pytest.mark.slow
def test_a_strict_input_gate_publishes_nothing_and_names_the_day_and_the_fix(lake, instance, monkeypatch):
    write_lake_with_a_broken_newest_day(lake, SUPPLIERS)
    monkeypatch.setenv("SUPPLYLOOP_INPUT_GATE", "strict")
    results = run_feeds(lake, instance)  # before the gate ran: the feeds find the broken day themselves
    assert not any(r.success for r in results.values())
    message = failure_message(results["SUP001"])
    assert "supplier SUP001 NOT published: the input is incomplete: " + BROKEN_DAY_REASON in message, message
    assert "SUPPLYLOOP_INPUT_GATE=strict" in message
    (check,) = gate_checks(check_order_lines(lake, instance))
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert f"completeness: {BROKEN_DAY_REASON}" in check.description
    results = run_feeds(lake, instance)
    message = failure_message(results["SUP002"])
    assert "the input gate order_lines for 2026-11-21 failed" in message and BROKEN_DAY_REASON in message
    assert not lake.exists("feeds")

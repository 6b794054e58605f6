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
from orchestration.defs.feeds.sensors import replenishment_feeds
from orchestration.defs.resources import Lake
from orchestration.lib import feeds
from orchestration.lib.feeds import latest_manifest, published_versions, read_feed, verify_feed
from orchestration.lib.lake import LakeStore
from tests.replenishment import DAY, mart_table, write_feed_lake, write_lake_with_a_broken_newest_day, write_mart

SUPPLIERS = {"SUP001": 3, "SUP002": 2, "SUP003": 1}


def run_feeds(store: LakeStore, instance: dg.DagsterInstance, suppliers: list[str] | None = None):
    """What `make run` does last: one run publishing every supplier's feed (or those named)."""
    return dg.materialize(
        [supplier_replenishment_feed],
        instance=instance,
        resources={"lake": Lake(root=store.root)},
        run_config={"ops": {supplier_replenishment_feed.op.name: {"config": {"suppliers": suppliers or []}}}},
        raise_on_error=False,
    )


def materialization(result: dg.ExecuteInProcessResult):
    (event,) = result.asset_materializations_for_node(supplier_replenishment_feed.op.name)
    return event


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


def test_every_supplier_in_master_data_gets_its_gated_feed_published_in_one_run(lake, instance):
    mart = write_feed_lake(lake, SUPPLIERS)
    result = run_feeds(lake, instance)
    assert result.success
    (check,) = gate_checks(result)
    assert (check.check_name, check.passed) == (GATE_CHECK, True)
    metadata = materialization(result).metadata
    assert (metadata["suppliers"].value, metadata["published"].value, metadata["held"].value) == (3, 3, 0)
    assert metadata["dagster/row_count"].value == sum(SUPPLIERS.values())
    assert metadata["gate_result"].path.startswith(lake.uri(f"gates/supplier_replenishment/{DAY.isoformat()}/"))
    assert metadata["data_docs"].path.endswith(".html") and "preview" in metadata
    assert all(f"| {name} | published |" in metadata["outcomes"].value for name in SUPPLIERS)  # each one in the UI
    union = []
    for name in SUPPLIERS:
        assert verify_feed(lake, name) == []
        manifest = latest_manifest(lake, name)
        assert manifest["validation"]["outcome"] == "passed"
        assert manifest["validation"]["result_uri"] == metadata["gate_result"].path
        union.append(read_feed(lake, name))
    assert pa.concat_tables(union).sort_by("sku").equals(mart.sort_by("sku"))
    outcomes = lake.read_table(feeds.outcomes_path(DAY))
    assert dict(
        zip(outcomes["supplier_id"].to_pylist(), outcomes["outcome"].to_pylist(), strict=True)
    ) == dict.fromkeys(SUPPLIERS, "published")


def _negative_quantity(lake, monkeypatch, mart):
    quantities = mart.column("suggested_qty").to_pylist()
    quantities[3] = -100  # SUP002's first SKU
    write_mart(
        lake, mart.set_column(mart.schema.get_field_index("suggested_qty"), "suggested_qty", pa.array(quantities))
    )
    return "rows: quantities (expect_column_values_to_be_between, suggested_qty)"


def _another_suppliers_row(lake, monkeypatch, mart):
    from orchestration.lib.supplier_feeds import FeedTables

    real = FeedTables.rows_of

    def leaky(self, supplier):  # a split bug that lets one of SUP001's rows through
        rows = real(self, supplier)
        return pa.concat_tables([rows, real(self, "SUP001").slice(0, 1)]) if supplier == "SUP002" else rows

    monkeypatch.setattr(FeedTables, "rows_of", leaky)
    return "rows: scoping (expect_column_pair_values_to_be_equal, supplier_id, file_supplier_id)"


def _stale_day(lake, monkeypatch, mart):
    days = [DAY.replace(day=20) if s == "SUP002" else DAY for s in mart.column("supplier_id").to_pylist()]
    write_mart(lake, mart.set_column(mart.schema.get_field_index("as_of_day"), "as_of_day", pa.array(days)))
    return "rows: freshness (expect_column_values_to_be_between, as_of_day)"


@pytest.mark.parametrize("inject", [_negative_quantity, _another_suppliers_row, _stale_day])
def test_a_bad_feed_is_held_alone_its_previous_stays_and_the_others_publish(
    lake, instance, monkeypatch, caplog, inject
):
    write_feed_lake(lake, SUPPLIERS)
    assert run_feeds(lake, instance).success
    before = snapshot(lake, "feeds/SUP002")
    previous = latest_manifest(lake, "SUP002")["version"]
    mart = mart_table(SUPPLIERS, suggested_qty=300)  # new data for everyone
    write_mart(lake, mart)
    expected = inject(lake, monkeypatch, mart)
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        result = run_feeds(lake, instance)
    assert result.success  # a held supplier fails alone
    assert snapshot(lake, "feeds/SUP002") == before  # byte for byte
    alerts = [r.getMessage() for r in caplog.records if r.name == "supplyloop.alerts"]
    (alert,) = alerts  # one alert, for the held supplier alone
    assert "supplier SUP002 NOT published" in alert and expected in alert, alert
    assert f"previous feed {previous} stays published" in alert
    (check,) = gate_checks(result)
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    metadata = materialization(result).metadata
    assert (metadata["published"].value, metadata["held"].value) == (2, 1)
    assert "| SUP002 | held |" in metadata["outcomes"].value and expected in metadata["outcomes"].value
    for name in ("SUP001", "SUP003"):
        assert verify_feed(lake, name) == []
        assert read_feed(lake, name).column("suggested_qty").to_pylist() == [300] * SUPPLIERS[name]
    (held,) = [r for r in lake.read_table(feeds.outcomes_path(DAY)).to_pylist() if r["outcome"] == "held"]
    assert held["supplier_id"] == "SUP002" and expected in held["reason"]
    assert lake.list_dirs("feeds/SUP002") == [previous]  # no unpublished version left behind


def test_a_crash_between_write_and_publish_shows_no_partial_feed_and_the_next_run_completes(
    lake, instance, monkeypatch
):
    two = {"SUP001": 3, "SUP002": 2}
    write_feed_lake(lake, two)
    run_feeds(lake, instance)
    before = snapshot(lake, "feeds")
    write_mart(lake, mart_table(two, suggested_qty=300))

    def crash(*args):
        raise RuntimeError("simulated crash: the files are staged, the manifest is not written")

    monkeypatch.setattr(feeds, "write_manifest", crash)
    crashed = run_feeds(lake, instance)
    assert not crashed.success  # no supplier published: the run fails
    assert "simulated crash" in failure_message(crashed)
    assert snapshot(lake, "feeds") == before  # readers see the previous feeds, whole; no half version anywhere
    monkeypatch.undo()
    assert run_feeds(lake, instance).success
    for name, skus in two.items():
        assert len(published_versions(lake, name)) == 2 and verify_feed(lake, name) == []
        assert read_feed(lake, name).column("suggested_qty").to_pylist() == [300] * skus


def test_a_failing_input_gate_on_order_lines_blocks_every_feed(lake, instance, caplog):
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
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        result = run_feeds(lake, instance)
    assert not result.success
    assert "the input gate order_lines for 2026-11-21 failed" in failure_message(result)
    alerts = [r.getMessage() for r in caplog.records if r.name == "supplyloop.alerts"]
    assert len(alerts) == 1 and "any of 3 suppliers" in alerts[0]  # one alert for one cause, not one per supplier
    assert not lake.exists("feeds")
    assert {r["outcome"] for r in lake.read_table(feeds.outcomes_path(DAY)).to_pylist()} == {"held"}


def test_the_feeds_run_on_an_s3_lake_too(s3_lake, instance):
    mart = write_feed_lake(s3_lake, {"SUP001": 2, "SUP002": 1})
    assert run_feeds(s3_lake, instance).success
    manifest = latest_manifest(s3_lake, "SUP001")
    assert verify_feed(s3_lake, "SUP001") == [] and manifest["rows"] == 2
    docs = manifest["validation"]["docs"]
    assert docs.startswith(s3_lake.uri("gates/docs/validations/"))
    assert s3_lake.exists(docs.removeprefix(s3_lake.uri("")).lstrip("/"))  # the gate's page stays in the bucket
    ours = read_feed(s3_lake, "SUP002")
    assert ours.equals(mart.filter(pc.equal(mart.column("supplier_id"), "SUP002")))


def test_a_run_can_publish_the_suppliers_it_is_given_and_refuses_unknown_ones(lake, instance):
    write_feed_lake(lake, SUPPLIERS)
    result = run_feeds(lake, instance, ["SUP002"])
    assert result.success and materialization(result).metadata["suppliers"].value == 1
    assert [name for name in SUPPLIERS if latest_manifest(lake, name)] == ["SUP002"]
    refused = run_feeds(lake, instance, ["SUP999"])
    assert not refused.success and "no supplier 'SUP999' in the suppliers master data" in failure_message(refused)


def test_the_sensor_asks_for_one_run_of_every_feed_once_per_mart_change(lake, instance):
    write_feed_lake(lake, SUPPLIERS)
    with dg.build_sensor_context(instance=instance) as context:
        assert isinstance(replenishment_feeds(context), dg.SkipReason)  # the mart never materialized
    instance.report_runless_asset_event(dg.AssetMaterialization(MART_KEY))
    with dg.build_sensor_context(instance=instance) as context:
        result = replenishment_feeds(context)
    (request,) = result.run_requests
    assert request.asset_selection == [FEED_KEY] and request.partition_key is None
    with dg.build_sensor_context(instance=instance, cursor=result.cursor) as context:
        assert isinstance(replenishment_feeds(context), dg.SkipReason)


def test_the_feed_asset_tells_its_story_in_the_code_location():
    graph = defs.resolve_asset_graph()
    node = graph.get(FEED_KEY)
    assert node.parent_keys == {MART_KEY} and node.group_name == "feeds"
    assert node.partitions_def is None and node.owners == ["team:data-platform"]  # one run for every supplier
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
    result = run_feeds(lake, instance)
    assert result.success
    for name in SUPPLIERS:
        manifest = latest_manifest(lake, name)
        assert manifest["as_of_day"] == "2026-11-20" and verify_feed(lake, name) == []
        assert [(d["day"], d["reason"]) for d in manifest["incomplete_days"]] == [("2026-11-21", BROKEN_DAY_REASON)]
    assert materialization(result).metadata["incomplete_days"].value[0]["day"] == "2026-11-21"
    union = pa.concat_tables([read_feed(lake, name) for name in SUPPLIERS])
    assert union.sort_by("sku").equals(mart.sort_by("sku"))
    capsys.readouterr()
    assert main(["--lake", lake.root, "summary"]) == 0  # the run summary says it too
    assert f"! feeds published as of 2026-11-20, not 2026-11-21: {BROKEN_DAY_REASON}" in capsys.readouterr().out


@pytest.mark.slow
def test_a_strict_input_gate_publishes_nothing_and_names_the_day_and_the_fix(lake, instance, monkeypatch):
    write_lake_with_a_broken_newest_day(lake, SUPPLIERS)
    monkeypatch.setenv("SUPPLYLOOP_INPUT_GATE", "strict")
    result = run_feeds(lake, instance)  # before the gate ran: the feeds find the broken day themselves
    assert not result.success
    message = failure_message(result)
    assert "3 held (SUP001, SUP002, SUP003): the input is incomplete: " + BROKEN_DAY_REASON in message, message
    assert "SUPPLYLOOP_INPUT_GATE=strict" in message
    (check,) = gate_checks(check_order_lines(lake, instance))
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.ERROR)
    assert f"completeness: {BROKEN_DAY_REASON}" in check.description
    message = failure_message(run_feeds(lake, instance))
    assert "the input gate order_lines for 2026-11-21 failed" in message and BROKEN_DAY_REASON in message
    assert not lake.exists("feeds")

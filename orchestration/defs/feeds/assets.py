"""Supplier feeds: each supplier's replenishment rows, published only when their gate passes."""

import warnings
from collections.abc import Iterator
from datetime import date

import dagster as dg

from expectations import supplier_replenishment
from expectations.gate import GateResult
from orchestration.defs.feeds.checks import docs_links, gate_check_result
from orchestration.defs.feeds.partitions import suppliers
from orchestration.defs.ingest.assets import OWNERS
from orchestration.defs.resources import Lake
from orchestration.lib.alerts import alert
from orchestration.lib.feeds import (
    CSV_FILE,
    PARQUET_FILE,
    InvalidSupplierId,
    PublishedFeed,
    blocking_input_gate,
    discard_staged,
    feed_rows,
    gate_feed,
    input_days,
    latest_manifest,
    publish_feed,
    read_staged,
    record_outcome,
    scorecard_rows,
    stage_feed,
    validate_supplier_id,
)
from orchestration.lib.lake import LakeStore
from orchestration.lib.report import markdown_table

MART_KEY = dg.AssetKey(["marts", supplier_replenishment.NAME])
FEED_KEY = dg.AssetKey(["feeds", supplier_replenishment.NAME])
GATE_CHECK = f"{supplier_replenishment.NAME}_gate"
PREVIEW_COLUMNS = ["sku", "product_name", "as_of_day", "suggested_qty", "order_by_day", "priority"]

with warnings.catch_warnings():
    # a check partitioned like its asset shows the gate's result per supplier (a preview feature in 1.13)
    warnings.simplefilter("ignore", dg.PreviewWarning)
    GATE_SPEC = dg.AssetCheckSpec(
        GATE_CHECK,
        asset=FEED_KEY,
        blocking=True,
        partitions_def=suppliers,
        description=(
            "The supplier's feed passed its gate (expectations/supplier_replenishment.py): schema, keys, "
            "only its own rows, accepted values, plausible quantities, row count, freshness."
        ),
    )


def _refuse(supplier: str, reason: str, store: LakeStore, as_of_day: date | None = None, **fields) -> dg.Failure:
    """Alert a person and fail this supplier's partition, saying that the previous feed stays;
    the supplier's scorecard keeps the reason."""
    record_outcome(store, supplier, as_of_day, "held", reason, gate_result=fields.get("result"))
    previous = latest_manifest(store, supplier)
    kept = f"its previous feed {previous['version']} stays published" if previous else "it has no feed yet"
    message = f"feed {supplier_replenishment.NAME} for supplier {supplier} NOT published: {reason}; {kept}"
    alert(message, supplier_id=supplier, feed=supplier_replenishment.NAME, **fields)
    return dg.Failure(description=message, metadata={"supplier_id": supplier, **{k: str(v) for k, v in fields.items()}})


def _gate_failure(supplier: str, gate: GateResult, store: LakeStore, as_of_day: date) -> dg.Failure:
    failed = "; ".join(f.describe() for f in gate.errors)
    return _refuse(
        supplier,
        f"{len(gate.errors)} expectation(s) failed: {failed}",
        store,
        as_of_day,
        result=gate.uri,
        data_docs=gate.docs,
        failed=[f.describe() for f in gate.errors],
    )


def _metadata(published: PublishedFeed, gate: GateResult, rows, store: LakeStore) -> dict:
    manifest = published.manifest
    return {
        "dagster/row_count": published.rows,
        "dagster/uri": published.uri,
        "version": published.version,
        "changed": published.changed,
        "as_of_day": str(manifest.get("as_of_day")),
        "files": dg.MetadataValue.json(manifest["files"]),
        "manifest": dg.MetadataValue.path(published.manifest_uri),
        "parquet": dg.MetadataValue.path(f"{published.uri}/{PARQUET_FILE}"),
        "csv": dg.MetadataValue.path(f"{published.uri}/{CSV_FILE}"),
        "gate_outcome": gate.outcome,
        "gate_result": dg.MetadataValue.path(gate.uri),
        **({"data_docs": dg.MetadataValue.path(gate.docs), **docs_links(store, gate.docs)} if gate.docs else {}),
        "code_version": str(manifest.get("code_version")),
        **(
            {"incomplete_days": dg.MetadataValue.json(manifest["incomplete_days"])}
            if manifest.get("incomplete_days")
            else {}
        ),
        "preview": dg.MetadataValue.md(
            markdown_table(rows.select([c for c in PREVIEW_COLUMNS if c in rows.column_names]).slice(0, 10))
        ),
    }


@dg.asset(
    key=FEED_KEY,
    deps=[MART_KEY],
    partitions_def=suppliers,
    group_name="feeds",
    description=(
        "Each supplier's own replenishment rows (Parquet and Excel-ready CSV with a manifest) under "
        "feeds/<supplier_id>/, published only when the feed's gate passes; a failing feed keeps the last good one."
    ),
    kinds={"parquet", "csv", "great_expectations"},
    owners=OWNERS,
    check_specs=[GATE_SPEC],
    metadata={"layout": "feeds/<supplier_id>/<version>/{replenishment.parquet,replenishment.csv,manifest.json}"},
    tags={"domain": "feeds", "layer": "feeds"},
)
def supplier_replenishment_feed(context: dg.AssetExecutionContext, lake: Lake) -> Iterator:
    """Write the supplier's feed aside, validate it, publish it atomically, or fail and alert."""
    store = lake.store()
    try:
        supplier = validate_supplier_id(context.partition_key)
    except InvalidSupplierId as exc:
        raise dg.Failure(description=str(exc)) from exc
    days = input_days(store)
    if days is None:
        raise _refuse(supplier, "there are no order lines in bronze, so the day the feed must reach is unknown", store)
    as_of_day = days.as_of_day
    blocked = blocking_input_gate(store, as_of_day) if as_of_day else None
    if blocked is not None:
        raise _refuse(supplier, f"the input {blocked.summary()}", store, as_of_day, result=blocked.uri)
    if as_of_day is None or (days.strict and days.incomplete):  # also when the input gate has not run yet
        raise _refuse(supplier, f"the input is incomplete: {days.describe()}", store, as_of_day)
    if days.held_back:
        context.log.warning(f"{supplier}: {days.describe()}")
    staged = stage_feed(store, supplier, feed_rows(store, supplier), scorecard_rows(store, supplier))
    try:
        gate = gate_feed(store, staged, as_of_day)
        check = gate_check_result(gate, GATE_CHECK, store)
        context.log.info(gate.summary())
        if not gate.success:
            yield check
            raise _gate_failure(supplier, gate, store, as_of_day)
        published = publish_feed(store, staged, gate.path, days.held_back)
        rows = read_staged(store, staged)
    finally:
        discard_staged(store, staged)
    outcome = "published" if published.changed else "unchanged"
    record_outcome(store, supplier, as_of_day, outcome, version=published.version, gate_result=gate.uri)
    context.log.info(f"{supplier}: {outcome} {published.version} ({published.rows} rows) at {published.uri}")
    yield dg.MaterializeResult(metadata=_metadata(published, gate, rows, store), check_results=[check])

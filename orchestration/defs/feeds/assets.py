"""Supplier feeds: every supplier's replenishment rows in one run, each published only when its gate passes."""

import dagster as dg
import pyarrow as pa

from expectations import supplier_replenishment
from orchestration.defs.feeds.checks import docs_links, gate_check_result
from orchestration.defs.ingest.assets import OWNERS
from orchestration.defs.resources import Lake
from orchestration.lib.feeds import CSV_FILE, PARQUET_FILE, feed_store, read_feed
from orchestration.lib.lake import LakeStore
from orchestration.lib.report import markdown_table
from orchestration.lib.supplier_feeds import SupplierFeedsRun, outcomes_uri, publish_supplier_feeds

MART_KEY = dg.AssetKey(["marts", supplier_replenishment.NAME])
FEED_KEY = dg.AssetKey(["feeds", supplier_replenishment.NAME])
GATE_CHECK = f"{supplier_replenishment.NAME}_gate"
PREVIEW_COLUMNS = ["sku", "product_name", "as_of_day", "suggested_qty", "order_by_day", "priority"]
SHOWN = 50  # suppliers listed in the UI's tables: the rest are in the day's outcomes file


class SupplierFeedsConfig(dg.Config):
    """Which suppliers a run publishes: all of master data unless some are named."""

    suppliers: list[str] = []


def outcomes_table(run: SupplierFeedsRun, limit: int = SHOWN) -> str:
    """The held suppliers and why, then the published ones, as Markdown (the first ``limit``)."""
    rows = {"supplier_id": [], "outcome": [], "version or why": []}
    for sid, why in sorted(run.held.items()):
        rows["supplier_id"].append(sid)
        rows["outcome"].append("held")
        rows["version or why"].append(why)
    for sid in sorted(run.feeds):
        rows["supplier_id"].append(sid)
        rows["outcome"].append("published" if sid in run.published else "unchanged")
        rows["version or why"].append(run.feeds[sid].version)
    shown = pa.table(rows).slice(0, limit)
    more = f"\n\n... and {run.suppliers - limit:,} more in the day's outcomes file" if run.suppliers > limit else ""
    return markdown_table(shown) + more


def _metadata(run: SupplierFeedsRun, store: LakeStore) -> dict:
    gate = run.gate.result
    feeds = feed_store(store)
    sample = next(iter(sorted(run.feeds)), None)
    metadata = {
        "as_of_day": str(run.as_of_day),
        "suppliers": run.suppliers,
        "published": len(run.published),
        "unchanged": len(run.unchanged),
        "held": len(run.held),
        "rejected_ids": len(run.rejected),
        "dagster/row_count": sum(f.rows for f in run.feeds.values()),
        "dagster/uri": feeds.uri(),
        "gate_outcome": "passed" if not run.held else f"{len(run.held)} supplier(s) held",
        "gate_result": dg.MetadataValue.path(gate.uri),
        "outcomes": dg.MetadataValue.md(outcomes_table(run)),
        "outcomes_file": dg.MetadataValue.path(outcomes_uri(store, run.as_of_day)),
        "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in run.seconds.items()}),
        **({"data_docs": dg.MetadataValue.path(gate.docs), **docs_links(store, gate.docs)} if gate.docs else {}),
    }
    if run.days is not None and run.days.held_back:
        metadata["incomplete_days"] = dg.MetadataValue.json([d.record() for d in run.days.held_back])
    if run.rejected:
        metadata["rejected"] = dg.MetadataValue.json(run.rejected[:SHOWN])
    if sample is not None:
        feed = run.feeds[sample]
        rows = read_feed(store, sample)
        metadata["preview"] = dg.MetadataValue.md(
            f"feed of {sample} ({feed.version}, [parquet]({feed.uri}/{PARQUET_FILE}), [csv]({feed.uri}/{CSV_FILE})):"
            "\n\n" + markdown_table(rows.select([c for c in PREVIEW_COLUMNS if c in rows.column_names]).slice(0, 10))
        )
    return metadata


@dg.asset(
    key=FEED_KEY,
    deps=[MART_KEY],
    group_name="feeds",
    description=(
        "Every supplier's own replenishment rows (Parquet and Excel-ready CSV with a manifest) under "
        "feeds/<supplier_id>/, gated at once for all suppliers and published supplier by supplier; "
        "a held supplier keeps its last good feed and holds back nobody else."
    ),
    kinds={"parquet", "csv", "great_expectations"},
    owners=OWNERS,
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset=FEED_KEY,
            blocking=True,
            description=(
                "Every supplier's feed passed its gate (expectations/supplier_replenishment.py): schema, keys, "
                "only its own rows, accepted values, plausible quantities, row count, freshness. Held suppliers "
                "make it warn; a failure that holds every supplier (the schema, the input) makes it an error."
            ),
        )
    ],
    metadata={"layout": "feeds/<supplier_id>/<version>/{replenishment.parquet,replenishment.csv,manifest.json}"},
    tags={"domain": "feeds", "layer": "feeds"},
)
def supplier_replenishment_feed(context: dg.AssetExecutionContext, config: SupplierFeedsConfig, lake: Lake):
    """Stage every supplier's feed, validate them all at once, publish those that pass."""
    store = lake.store()
    run = publish_supplier_feeds(store, only=config.suppliers or None, say=context.log.info)
    if run.gate is None:
        yield dg.AssetCheckResult(
            check_name=GATE_CHECK, passed=False, severity=dg.AssetCheckSeverity.ERROR, description=run.summary()
        )
        raise dg.Failure(description=run.summary() + "; every supplier's previous feed stays published")
    check = gate_check_result(run.gate.result, GATE_CHECK, store)
    if not run.gate.blocking and run.feeds:  # held suppliers fail alone: the others are published
        check = dg.AssetCheckResult(
            check_name=GATE_CHECK,
            passed=not run.held and check.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{run.summary()}; {check.description}",
            metadata=check.metadata,
        )
    if not run.feeds:
        yield check
        why = "; ".join(f"{sid}: {reason}" for sid, reason in sorted(run.held.items())[:5])
        raise dg.Failure(description=f"{run.summary()}; {why}; every supplier's previous feed stays published")
    yield dg.MaterializeResult(metadata=_metadata(run, store), check_results=[check])

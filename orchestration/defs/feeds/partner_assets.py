"""Channel-partner feeds: every partner's weekly feed gated and published in one run."""

import dagster as dg
import pyarrow as pa

from expectations import partner_feed
from orchestration.defs.feeds.checks import docs_links, gate_check_result
from orchestration.defs.ingest.assets import OWNERS
from orchestration.defs.resources import Lake
from orchestration.lib.partner_feeds import (
    PARTNER_FEEDS_DIR,
    PartnerFeedsRun,
    partner_feed_store,
    publish_partner_feeds,
    read_partner_feed,
)
from orchestration.lib.report import markdown_table

PARTNER_FEEDS_KEY = dg.AssetKey(["feeds", "partner_feeds"])
PARTNER_GATE_CHECK = f"{partner_feed.NAME}_gate"
MART_KEYS = [dg.AssetKey(["marts", mart]) for mart in partner_feed.MARTS.values()]
HELD_SHOWN = 50
PREVIEW_COLUMNS = ["partner_id", "partner_type", "region", "sell_through", "sell_through_peer_median", "refund_rate"]


def held_table(run: PartnerFeedsRun, limit: int = HELD_SHOWN) -> str:
    """The held partners and why, as Markdown (the first ``limit``)."""
    rows = {"partner_id": [], "why": [], "failing rows": []}
    for partner, record in sorted(run.held.items())[:limit]:
        rows["partner_id"].append(partner)
        rows["why"].append("; ".join(f"{f['gate']} ({f['expectation']}, {f['column']})" for f in record["failed"]))
        rows["failing rows"].append(sum(len(f["rows"]) for f in record["failed"]))
    more = f"\n\n... and {len(run.held) - limit} more" if len(run.held) > limit else ""
    return markdown_table(pa.table(rows)) + more


@dg.asset(
    key=PARTNER_FEEDS_KEY,
    deps=MART_KEYS,
    group_name="feeds",
    description=(
        "Every channel partner's weekly feed (its figures against its peers, the regional best sellers it does "
        "not carry, its share of constrained stock) under partner_feeds/<partner_id>/, gated once for all "
        "partners; a held partner keeps its last good feed and does not hold back the others."
    ),
    kinds={"parquet", "csv", "great_expectations"},
    owners=OWNERS,
    check_specs=[
        dg.AssetCheckSpec(
            PARTNER_GATE_CHECK,
            asset=PARTNER_FEEDS_KEY,
            blocking=True,
            description=(
                "Every partner's feed passed its gate (expectations/partner_feed.py): schema, only its own rows, "
                "one benchmark row, unique SKUs, plausible rates and allocations, the expected week."
            ),
        )
    ],
    metadata={
        "layout": f"{PARTNER_FEEDS_DIR}/<partner_id>/<version>/{{<section>.parquet,<section>.csv,manifest.json}}"
    },
    tags={"domain": "feeds", "layer": "feeds"},
)
def partner_feeds(context: dg.AssetExecutionContext, lake: Lake):
    """Stage every partner's feed, validate them all at once, publish those that pass."""
    store = lake.store()
    run = publish_partner_feeds(store, say=context.log.info)
    gate = run.gate
    if gate is None:
        raise dg.Failure(description=run.summary() + ": the partner marts hold no partner rows to publish")
    check = gate_check_result(gate.result, PARTNER_GATE_CHECK, store)
    if not gate.blocking:  # held partners fail alone: the others are published, nothing else is blocked
        check = dg.AssetCheckResult(
            check_name=PARTNER_GATE_CHECK,
            passed=check.passed,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{run.summary()}; {check.description}",
            metadata=check.metadata,
        )
    if gate.blocking:
        yield check
        raise dg.Failure(description=f"{run.summary()}: {gate.result.summary()}")
    feeds = partner_feed_store(store)
    sample = (run.published or run.unchanged or [None])[0]
    preview = read_partner_feed(store, sample, partner_feed.BENCHMARKS) if sample else None
    metadata = {
        "week_end_day": str(run.week_end_day),
        "partners": run.partners,
        "published": len(run.published),
        "unchanged": len(run.unchanged),
        "held": len(run.held),
        "rejected_ids": len(run.rejected),
        "gate_outcome": "passed" if not run.held else f"{len(run.held)} partner(s) held",
        "gate_result": dg.MetadataValue.path(gate.result.uri),
        "dagster/uri": feeds.uri(),
        "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in run.seconds.items()}),
        **(
            {"data_docs": dg.MetadataValue.path(gate.result.docs), **docs_links(store, gate.result.docs)}
            if gate.result.docs
            else {}
        ),
    }
    if run.held:
        metadata["held_partners"] = dg.MetadataValue.md(held_table(run))
    if run.rejected:
        metadata["rejected"] = dg.MetadataValue.json(run.rejected[:HELD_SHOWN])
    if preview is not None:
        shown = preview.select([c for c in PREVIEW_COLUMNS if c in preview.column_names])
        metadata["preview"] = dg.MetadataValue.md(f"benchmarks of {sample}:\n\n" + markdown_table(shown))
    yield dg.MaterializeResult(metadata=metadata, check_results=[check])

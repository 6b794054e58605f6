"""Gates as asset checks: each gate's result in the Dagster UI (one for all suppliers' feeds, with each one's outcome).

A failed error-severity expectation makes the check fail with severity ERROR (blocking:
nothing downstream runs in that run); failed warnings only make it fail with WARN.
"""

from urllib.parse import quote

import dagster as dg

from expectations import order_lines
from expectations.gate import DOCS_DIR, GateResult
from orchestration.defs.ingest.assets import bronze_key
from orchestration.defs.resources import Lake
from orchestration.lib.alerts import alert
from orchestration.lib.feeds import gate_order_lines
from orchestration.lib.lake import LakeStore
from orchestration.lib.report import markdown_table
from orchestration.lib.settings import docs_url
from orchestration.lib.sources import canonical_sources

ORDER_LINES_KEY = bronze_key(canonical_sources()["order_lines"])


def docs_links(store: LakeStore, page: str | None) -> dict:
    """Links to the gates' Data Docs, served where :func:`~orchestration.lib.settings.docs_url`
    says: the site's index and, when there is one, the gate's own page."""
    base = docs_url(store.is_s3)
    if base is None:
        return {}
    links = {"data_docs_index": dg.MetadataValue.url(base + "index.html")}
    site = store.uri(DOCS_DIR) + "/"
    if page and page.startswith(site):
        links["data_docs_page"] = dg.MetadataValue.url(base + quote(page[len(site) :]))
    return links


def gate_check_result(
    result: GateResult, check_name: str | None = None, store: LakeStore | None = None
) -> dg.AssetCheckResult:
    """A gate's result as a Dagster check result, with links to its JSON and Data Docs."""
    metadata = {
        "outcome": result.outcome,
        "partition": result.partition,
        "evaluated": result.evaluated,
        "errors": len(result.errors),
        "warnings": len(result.warnings),
        "result": dg.MetadataValue.path(result.uri),
    }
    if result.docs:
        metadata["data_docs"] = dg.MetadataValue.path(result.docs)
        metadata.update(docs_links(store, result.docs) if store is not None else {})
    if result.failed:
        metadata["failed"] = dg.MetadataValue.md(_failed_table(result))
    return dg.AssetCheckResult(
        check_name=check_name,
        passed=not result.failed,
        severity=dg.AssetCheckSeverity.ERROR if result.errors else dg.AssetCheckSeverity.WARN,
        description=result.summary(),
        metadata=metadata,
    )


def _failed_table(result: GateResult) -> str:
    import pyarrow as pa

    return markdown_table(
        pa.table(
            {
                "gate": [f.gate for f in result.failed],
                "expectation": [f.expectation for f in result.failed],
                "column": [f.column or "" for f in result.failed],
                "unexpected": [f.unexpected_count for f in result.failed],
                "observed": [str(f.observed) if f.unexpected_count is None else "" for f in result.failed],
                "severity": [f.severity for f in result.failed],
            }
        )
    )


@dg.asset_check(
    asset=ORDER_LINES_KEY,
    name=f"{order_lines.NAME}_gate",
    blocking=True,
    description=(
        "Input gate of the supplier feeds: the last 28 days of order lines are complete (every day there, "
        "keys and quantities present), unique and valid (errors block the feeds); odd quantities or a thin "
        "last day are warnings. A newest day without accepted rows ends the window the day before (a warning, "
        "and an alert: the feeds publish as of the last complete day), or fails it when SUPPLYLOOP_INPUT_GATE=strict."
    ),
)
def order_lines_gate(context: dg.AssetCheckExecutionContext, lake: Lake) -> dg.AssetCheckResult:
    result = gate_order_lines(lake.store())
    if result is None:
        return dg.AssetCheckResult(
            passed=True, severity=dg.AssetCheckSeverity.WARN, description="no order lines in bronze yet"
        )
    context.log.info(result.summary())
    held_back = result.subject.get("held_back") or []
    if held_back:
        alert(
            result.subject.get("note") or " | ".join(d["reason"] for d in held_back),
            gate=order_lines.NAME,
            incomplete_days=[d["day"] for d in held_back],
            as_of_day=result.partition,
            result=result.uri,
            data_docs=result.docs,
        )
    return gate_check_result(result, store=lake.store())

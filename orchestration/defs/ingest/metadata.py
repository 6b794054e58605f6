"""What an ingestion run tells the Dagster UI: counts, schema, preview, rejected files."""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pyarrow as pa

from orchestration.lib.deliveries import Unmatched, not_read_report
from orchestration.lib.ingest import IngestResult
from orchestration.lib.report import markdown_table
from orchestration.lib.sources import Source

MAX_LISTED = 20


def column_schema(source: Source) -> dg.TableSchema:
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=f.name,
                type=str(f.type),
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in source.schema
        ]
    )


def _days_table(results: list[IngestResult]) -> str:
    """The days that quarantined most (all of them for a short range), as a table."""
    shown = sorted(sorted(results, key=lambda r: (-r.quarantined, str(r.day)))[:MAX_LISTED], key=lambda r: str(r.day))
    table = pa.table(
        {
            "day": [str(r.day or "snapshot") for r in shown],
            "files": [len(r.files) for r in shown],
            "rows in": [r.rows_in for r in shown],
            "accepted": [r.accepted for r in shown],
            "quarantined": [r.quarantined for r in shown],
        }
    )
    more = len(results) - len(shown)
    return markdown_table(table) + (f"\n\n{more} more days with fewer quarantined rows." if more > 0 else "")


def materialization_metadata(source: Source, results: list[IngestResult], uri: str) -> dict:
    accepted = sum(r.accepted for r in results)
    quarantined = sum(r.quarantined for r in results)
    reasons: Counter = sum((r.reasons for r in results), Counter())
    preview = next((r.preview for r in results if r.preview is not None), None)
    metadata = {
        "dagster/row_count": accepted,
        "rows_in": sum(r.rows_in for r in results),
        # rows the files held, where known: a file rejected whole counts each of its rows; one that
        # cannot be split into rows (undecodable, does not open, a link not followed) is one row
        "rows_delivered": sum(f.delivered or 0 for r in results for f in r.files),
        "files_rows_unknown": sum(f.delivered is None for r in results for f in r.files),
        "accepted": accepted,
        "quarantined": quarantined,
        "files_read": sum(len(r.files) for r in results),
        "files_rejected": sum(len(r.rejected_files) for r in results),
        "bytes_read": sum(r.bytes_read for r in results),
        "quarantine_reasons": dg.MetadataValue.json(dict(reasons.most_common())),
        "dagster/column_schema": column_schema(source),
        "dagster/uri": uri,
        "partitions": dg.MetadataValue.md(_days_table(results)),
    }
    if preview is not None:
        metadata["preview"] = dg.MetadataValue.md(markdown_table(preview))
    return metadata


def rejected_files_check(results: list[IngestResult]) -> dg.AssetCheckResult:
    rejected = [(r.day, f) for r in results for f in r.rejected_files]
    text = (
        "\n".join(f"- {day or 'snapshot'}: {f.error}" for day, f in rejected[:MAX_LISTED]) or "every file was readable"
    )
    return dg.AssetCheckResult(
        check_name="files_readable",
        passed=not rejected,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"rejected_files": len(rejected), "details": dg.MetadataValue.md(text)},
    )


def files_matched_check(source: Source, not_read: list[Unmatched]) -> dg.AssetCheckResult:
    """Fails when a file under the source's folder is read by no source (or by two), naming each."""
    return dg.AssetCheckResult(
        check_name="files_matched",
        passed=not not_read,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "files_not_read": len(not_read),
            "details": dg.MetadataValue.md(not_read_report(source, not_read)),
        },
    )


def quarantine_ratio_check(source: Source, results: list[IngestResult]) -> dg.AssetCheckResult:
    rows = sum(r.rows_in for r in results)
    quarantined = sum(r.quarantined for r in results)
    ratio = quarantined / rows if rows else 0.0
    worst = max(results, key=lambda r: r.quarantined / r.rows_in if r.rows_in else 0, default=None)
    return dg.AssetCheckResult(
        check_name="quarantine_ratio",
        passed=ratio <= source.max_quarantine_ratio,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ratio": ratio,
            "threshold": source.max_quarantine_ratio,
            "quarantined": quarantined,
            "worst_partition": str(worst.day or "snapshot") if worst else "",
        },
    )

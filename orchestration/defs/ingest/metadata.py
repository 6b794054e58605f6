"""What an ingestion run tells the Dagster UI: counts, schema, preview, rejected files."""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import NamedTuple

import dagster as dg
import pyarrow as pa

from orchestration.lib.alerts import alert
from orchestration.lib.arrivals import lapses
from orchestration.lib.deliveries import Unmatched, not_read_report
from orchestration.lib.ingest import IngestResult
from orchestration.lib.lake import LakeStore
from orchestration.lib.quarantine import quarantined_days
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


def _text(value: str, chars: int = 300) -> str:
    """A reason text as a Markdown table cell: one line, no column bar, bounded."""
    one_line = " ".join(str(value).split()).replace("|", "\\|")
    return one_line if len(one_line) <= chars else one_line[: chars - 1] + "…"


def _more(total: int, shown: int, what: str) -> str:
    return f"\n\n{total - shown} more {what}." if total > shown else ""


def rejected_files_check(store: LakeStore, source: Source, results: list[IngestResult]) -> dg.AssetCheckResult:
    """Files rejected whole. A daily source is judged on every day in the lake (the quarantine's
    footers), not only the days of this run: a bad day stays failed until it is ingested clean."""
    if source.is_daily:
        days = quarantined_days(store, source)
        rejected = [(d.day.isoformat(), name, why) for d in days for name, why in d.rejected_files]
    else:
        rejected = [(str(r.day or "snapshot"), f.file, f.error or "") for r in results for f in r.rejected_files]
    failing = sorted({day for day, _, _ in rejected})
    shown = rejected[:MAX_LISTED]
    table = "| day | file | why |\n|---|---|---|\n" + "\n".join(
        f"| {day} | {_text(name, 120)} | {_text(why)} |" for day, name, why in shown
    )
    named = ", ".join(failing[:5]) + (" ..." if len(failing) > 5 else "")
    # the first few reasons in the check's description, which the UI shows without a click
    reasons = "".join(f"\n- {day}: {_text(why, 400)}" for day, _, why in rejected[:3])
    return dg.AssetCheckResult(
        check_name="files_readable",
        passed=not rejected,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{len(rejected)} file(s) rejected whole on {len(failing)} day(s): {named}; "
            f"deliver them again, then ingest those days{reasons}"
            if rejected
            else "every delivered file of every day in the lake was readable"
        ),
        metadata={
            "rejected_files": len(rejected),
            "days_failing": len(failing),
            "failing_days": ", ".join(failing[: MAX_LISTED * 5]) or "none",
            "details": dg.MetadataValue.md(
                table + _more(len(rejected), len(shown), "rejected files") if rejected else "every file was readable"
            ),
        },
    )


DELIVERIES_ON_TIME = "deliveries_on_time"
ALERTS_PER_CHECK = 20  # lapses alerted one by one; more are counted in one alert


def deliveries_on_time_check(store: LakeStore, source: Source, day: date) -> dg.AssetCheckResult:
    """Warns, and alerts a person, when a deliverer's files for ``day`` came late or not at all."""
    found = lapses(store, source, day)
    for lapse in found[:ALERTS_PER_CHECK]:
        alert(
            lapse.describe(),
            source=source.name,
            day=day.isoformat(),
            supplier_id=lapse.supplier_id,
            factory_id=lapse.factory_id,
            lapse=lapse.kind,
            expected_file=lapse.expected_file,
        )
    if len(found) > ALERTS_PER_CHECK:
        alert(
            f"{source.name} for {day}: {len(found) - ALERTS_PER_CHECK} more late or missing deliveries; "
            "see marts/supplier_scorecard",
            source=source.name,
            day=day.isoformat(),
        )
    late = [x for x in found if x.kind == "late"]
    missing = [x for x in found if x.kind == "missing"]
    return dg.AssetCheckResult(
        check_name=DELIVERIES_ON_TIME,
        passed=not found,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{source.name} for {day}: every delivery on time"
            if not found
            else f"{source.name} for {day}: {len(late)} late, {len(missing)} missing"
        ),
        metadata={
            "day": day.isoformat(),
            "late": len(late),
            "missing": len(missing),
            "deadline": f"{source.deliver_by} {source.timezone}, the next day",
            "details": dg.MetadataValue.md("\n".join(f"- {x.describe()}" for x in found[:50]) or "none"),
        },
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


class _Share(NamedTuple):
    """A day's (or the snapshot's) quarantined share of its rows, and why."""

    day: str
    rows: int
    quarantined: int
    reasons: list[str]

    @property
    def ratio(self) -> float:
        return self.quarantined / self.rows if self.rows else 0.0


def _shares(store: LakeStore, source: Source, results: list[IngestResult]) -> list[_Share]:
    if source.is_daily:  # every day in the lake
        return [
            _Share(d.day.isoformat(), d.accepted + d.quarantined, d.quarantined, d.reason_texts())
            for d in quarantined_days(store, source)
        ]
    return [
        _Share(str(r.day or "snapshot"), r.rows_in, r.quarantined, [t for ts in r.examples.values() for t in ts][:3])
        for r in results
    ]


def quarantine_ratio_check(store: LakeStore, source: Source, results: list[IngestResult]) -> dg.AssetCheckResult:
    """The share of quarantined rows, day by day, stays under the source's threshold. A daily
    source is judged on every day in the lake; the worst days are listed with their reasons."""
    threshold = source.max_quarantine_ratio
    shares = _shares(store, source, results)
    over = sorted((s for s in shares if s.ratio > threshold), key=lambda s: (-s.ratio, s.day))
    worst = over[0] if over else max(shares, key=lambda s: s.ratio, default=None)
    shown = sorted(over[:MAX_LISTED])
    table = "| day | rows in | quarantined | ratio | reasons |\n|---|---|---|---|---|\n" + "\n".join(
        f"| {s.day} | {s.rows:,} | {s.quarantined:,} | {s.ratio:.1%} | {'<br>'.join(_text(t, 200) for t in s.reasons)} |"
        for s in shown
    )
    metadata = {
        "threshold": threshold,
        "days_over_threshold": len(over),
        "quarantined": sum(s.quarantined for s in shares),
        "worst_partition": worst.day if worst else "",
        "worst_ratio": worst.ratio if worst else 0.0,
    }
    if over:
        metadata["days"] = dg.MetadataValue.md(table + _more(len(over), len(shown), "days over the threshold"))
    return dg.AssetCheckResult(
        check_name="quarantine_ratio",
        passed=not over,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(over)} day(s) quarantined more than {threshold:.0%} of their rows, the worst {worst.day} "
            f"({worst.ratio:.1%}): " + " | ".join(_text(t, 300) for t in worst.reasons[:2])
            if over
            else f"every day quarantined at most {threshold:.0%} of its rows"
        ),
        metadata=metadata,
    )

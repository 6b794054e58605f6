"""The bronze checks judge every day in the lake: a bad day stays failed until it is ingested clean."""

from datetime import date

import dagster as dg
import pytest

from orchestration.defs.ingest.assets import bronze_asset
from orchestration.defs.resources import Lake
from orchestration.lib.ingest import ingest_day, quarantine_path
from orchestration.lib.quarantine import quarantined_days
from orchestration.lib.sources import load_sources
from tests.conftest import CSV_HEADER, write_master

ORDER_LINES = load_sources()["order_lines"]


def _rows(day: str, n: int = 5) -> str:
    return "".join(f"O{day[-2:]}{i},1,{day} 10:00:00,P00001,SKU0001,{i},9.90,,east,,paid\n" for i in range(1, n + 1))


def _deliver(lake, day: str, body: bytes) -> None:
    lake.write_bytes(f"landing/order_lines/order_lines_{day}.csv", body)


def _ingest(lake, *days: str) -> dict[str, dg.AssetCheckEvaluation]:
    """A real materialization of bronze/sales/order_lines for ``days`` (one run); its check results."""
    tags = {"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]}
    result = dg.materialize(
        [bronze_asset(ORDER_LINES)],
        resources={"lake": Lake(root=lake.root)},
        partition_key=days[0] if len(days) == 1 else None,
        tags=tags if len(days) > 1 else None,
    )
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


@pytest.fixture
def order_lines_lake(lake):
    write_master(lake)
    return lake


def test_a_day_with_an_unreadable_file_stays_failed_when_a_later_clean_day_is_ingested(order_lines_lake):
    lake = order_lines_lake
    _deliver(lake, "2026-11-12", b"\xff\xfe\x00garbage that is no UTF-8 \xc3\x28\n")
    first = _ingest(lake, "2026-11-12")["files_readable"]
    assert not first.passed and first.severity == dg.AssetCheckSeverity.ERROR

    _deliver(lake, "2026-11-13", (CSV_HEADER + _rows("2026-11-13")).encode())
    later = _ingest(lake, "2026-11-13")["files_readable"]
    assert not later.passed, "a clean later day must not turn the bad day green"
    assert later.metadata["failing_days"].value == "2026-11-12"
    details = later.metadata["details"].value
    assert "| 2026-11-12 | order_lines_2026-11-12.csv | undecodable:" in details  # the reason text, not a count
    assert "- 2026-11-12: undecodable:" in later.description  # the UI shows it without a click

    _deliver(lake, "2026-11-12", (CSV_HEADER + _rows("2026-11-12")).encode())  # delivered again, fixed
    fixed = _ingest(lake, "2026-11-12")["files_readable"]
    assert fixed.passed and fixed.metadata["rejected_files"].value == 0


def test_the_quarantine_ratio_lists_every_day_over_the_threshold_with_its_reason_texts(order_lines_lake):
    lake = order_lines_lake
    bad = "O99,1,2026-11-10 10:00:00,P00001,SKU9999,1,9.90,,east,,paid\n"
    _deliver(lake, "2026-11-10", (CSV_HEADER + _rows("2026-11-10", 4) + bad).encode())
    _deliver(lake, "2026-11-11", (CSV_HEADER + _rows("2026-11-11", 40)).encode())
    checks = _ingest(lake, "2026-11-10", "2026-11-11")
    assert checks["files_readable"].passed
    ratio = checks["quarantine_ratio"]
    assert not ratio.passed and ratio.severity == dg.AssetCheckSeverity.WARN
    assert ratio.metadata["days_over_threshold"].value == 1
    assert (ratio.metadata["worst_partition"].value, ratio.metadata["worst_ratio"].value) == ("2026-11-10", 0.2)
    table = ratio.metadata["days"].value
    assert "| 2026-11-10 | 5 | 1 | 20.0% | unknown_reference:" in table and "SKU9999" in table
    assert "the worst 2026-11-10 (20.0%): unknown_reference:" in ratio.description
    # a run of the clean day alone still reports the day before
    assert not _ingest(lake, "2026-11-11")["quarantine_ratio"].passed


def test_each_days_quarantine_is_summed_up_in_its_footer_and_older_files_are_read_from_their_rows(order_lines_lake):
    lake = order_lines_lake
    day = date(2026, 11, 11)
    bad = "O98,1,2026-11-11 10:00:00,P00001,SKU0001,-3,9.90,,east,,paid\n"
    _deliver(lake, day.isoformat(), (CSV_HEADER + _rows(day.isoformat(), 3) + bad).encode())
    lake.write_bytes("landing/order_lines/order_lines_2026-11-11_b.csv", b"")  # rejected whole: empty
    ingest_day(lake, ORDER_LINES, day)
    (summed,) = quarantined_days(lake, ORDER_LINES)
    assert (summed.day, summed.accepted, summed.quarantined) == (day, 3, 2)
    assert summed.rejected_files == (("order_lines_2026-11-11_b.csv", summed.rejected_files[0][1]),)
    assert summed.rejected_files[0][1].startswith("empty_file:")
    assert summed.reasons == {"below_minimum": 1, "empty_file": 1}
    assert any("-3" in text or "below" in text for text in summed.reason_texts())

    # the same quarantine written without the footer's summary (by an older version) reads the same
    path = quarantine_path(ORDER_LINES, day)
    table = lake.read_table(path)
    lake.write_parquet(path, table.replace_schema_metadata(None), schema=table.schema.remove_metadata())
    (from_rows,) = quarantined_days(lake, ORDER_LINES)
    assert from_rows == summed


def test_a_lake_without_quarantine_has_no_days_to_report(lake):
    assert quarantined_days(lake, ORDER_LINES) == []

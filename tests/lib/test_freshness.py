"""Freshness is judged on the data's day: the newest day in bronze with rows, against the day due."""

from dataclasses import replace
from datetime import UTC, date, datetime

import dagster as dg
import pytest
import yaml

from orchestration.cli import definitions_on
from orchestration.lib.freshness import expected_day, judge_freshness, newest_day_with_rows
from orchestration.lib.ingest import ingest_day
from orchestration.lib.paths import SOURCES_FILE
from orchestration.lib.sources import SourceConfigError, load_sources, parse_sources
from tests.conftest import CSV_HEADER, write_master

ORDER_LINES = load_sources()["order_lines"]


@pytest.mark.parametrize(
    "now_utc, fresh_by, due",
    [
        ("2026-12-03T00:59:00", "09:00", "2026-12-01"),  # 08:59 in Shanghai: the day before yesterday is enough
        ("2026-12-03T01:00:00", "09:00", "2026-12-02"),  # 09:00 in Shanghai: yesterday is due
        ("2026-12-02T16:30:00", "09:00", "2026-12-01"),  # 00:30 on the 3rd in Shanghai, still the 2nd in UTC
        ("2026-12-03T03:00:00", "12:30", "2026-12-01"),
        ("2026-12-03T05:00:00", "12:30", "2026-12-02"),
    ],
)
def test_yesterday_is_due_by_the_deadline_in_the_sources_time_zone(now_utc, fresh_by, due):
    now = datetime.fromisoformat(now_utc).replace(tzinfo=UTC)
    assert expected_day(replace(ORDER_LINES, fresh_by=fresh_by), now).isoformat() == due


def _deliver(lake, day: str, rows: int) -> None:
    body = "".join(f"O{day[-2:]}{i},1,{day} 10:00:00,P00001,SKU0001,1,9.90,,east,,paid\n" for i in range(rows))
    lake.write_bytes(f"landing/order_lines/order_lines_{day}.csv", (CSV_HEADER + body).encode())
    ingest_day(lake, ORDER_LINES, date.fromisoformat(day))


def test_the_newest_day_counts_only_when_it_holds_rows(lake):
    write_master(lake)
    assert newest_day_with_rows(lake, ORDER_LINES) is None
    _deliver(lake, "2026-11-20", 3)
    _deliver(lake, "2026-11-21", 0)  # ingested, but nothing came: no fresh data
    assert newest_day_with_rows(lake, ORDER_LINES) == date(2026, 11, 20)

    found = judge_freshness(lake, ORDER_LINES, now=datetime(2026, 12, 3, 2, tzinfo=UTC))
    assert (found.newest, found.expected, found.days_behind, found.fresh) == (
        date(2026, 11, 20),
        date(2026, 12, 2),
        12,
        False,
    )
    assert found.describe().startswith("order_lines: newest day 2026-11-20, 12 days behind; 2026-12-02 is due by 09:00")
    assert judge_freshness(lake, ORDER_LINES, now=datetime(2026, 11, 21, 2, tzinfo=UTC)).fresh


def test_the_data_freshness_job_runs_the_check_on_every_daily_source(lake):
    write_master(lake)
    _deliver(lake, "2026-11-20", 3)
    with dg.DagsterInstance.ephemeral() as instance:
        result = definitions_on(lake).resolve_job_def("data_freshness").execute_in_process(instance=instance)
    checks = {c.asset_key.path[-1]: c for c in result.get_asset_check_evaluations()}
    daily = {s.name for s in load_sources().values() if s.is_daily}
    assert set(checks) == daily and {c.check_name for c in checks.values()} == {"data_fresh"}
    fresh = checks["order_lines"]
    assert not fresh.passed and fresh.severity == dg.AssetCheckSeverity.WARN  # 2026-11-20 is long past
    assert fresh.metadata["newest_day"].value == "2026-11-20" and fresh.metadata["days_behind"].value > 0
    assert checks["production_output"].metadata["newest_day"].value == "none"


@pytest.mark.parametrize("value, kept", [("'07:30'", "07:30"), ("7:30", "07:30"), ("'23:59'", "23:59")])
def test_the_deadline_is_set_per_platform_as_a_time_of_day(value, kept):
    doc = {"defaults": {"fresh_by": yaml.safe_load(f"v: {value}")["v"]}, "sources": {"order_lines": _canonical()}}
    assert parse_sources(doc)["order_lines"].fresh_by == kept


def test_a_deadline_that_is_no_time_of_day_is_refused_with_the_fix():
    doc = {"defaults": {"fresh_by": "9am"}, "sources": {"order_lines": _canonical()}}
    with pytest.raises(SourceConfigError, match="fresh_by '9am'; write the time of day .* as HH:MM"):
        parse_sources(doc)


def _canonical() -> dict:
    return yaml.safe_load(SOURCES_FILE.read_text())["sources"]["order_lines"]

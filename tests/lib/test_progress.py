"""Progress lines: steady and bounded for long day ranges, with exact totals; dbt told compactly."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from orchestration.lib.progress import DayProgress, DbtProgress, TextLog, count


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def days(n: int) -> list[date]:
    return [date(2026, 1, 1) + timedelta(days=i) for i in range(n)]


def run(n: int, seconds_a_day: float, **options) -> list[str]:
    lines, clock = [], Clock()
    progress = DayProgress("sales/order_lines", days(n), say=lines.append, clock=clock, **options)
    for i in range(n):
        clock.now += seconds_a_day
        progress.day(accepted=1000 + i, quarantined=i % 3, rejected_files=1 if i == 7 else 0)
    progress.finish()
    return lines


@pytest.mark.parametrize("n", [1, 9, 335, 5000])
@pytest.mark.parametrize("seconds_a_day", [0.0, 0.5, 30.0])
def test_a_long_range_gets_a_bounded_number_of_lines_and_the_exact_totals(n, seconds_a_day):
    lines = run(n, seconds_a_day, every=10.0, at_most=10)
    assert len(lines) <= 2 + 10
    assert len(lines) <= 2 + n * seconds_a_day / 10.0  # never more often than every 10 s
    assert lines[0] == f"ingesting sales/order_lines: days 2026-01-01..{days(n)[-1]} ({n} day{'s' if n > 1 else ''})"
    accepted = sum(1000 + i for i in range(n))
    quarantined = sum(i % 3 for i in range(n))
    rejected = ", 1 file rejected" if n > 7 else ""
    took = n * seconds_a_day
    assert lines[-1] == (
        f"  sales/order_lines: {n} day{'s' if n > 1 else ''}, {accepted:,} rows accepted, "
        f"{quarantined:,} quarantined{rejected} in {took:.0f} s"
    )


def test_a_slow_range_says_where_it_is_at_a_steady_rate():
    lines = run(335, 1.0, every=10.0, at_most=10)
    middle = lines[1:-1]
    assert len(middle) == 9  # every 34 days (a tenth), each 34 s apart
    assert middle[0] == "  sales/order_lines: 34/335 days, 34.6K rows, 34 s"
    assert middle[-1].startswith("  sales/order_lines: 306/335 days, ")


def test_a_quick_range_says_only_where_it_starts_and_what_it_did():
    assert len(run(1000, 0.001)) == 2


@pytest.mark.parametrize("n, shown", [(0, "0"), (987, "987"), (9_999, "9,999"), (45_678, "45.7K"), (1_234_567, "1.2M")])
def test_counts_in_progress_lines_are_short(n, shown):
    assert count(n) == shown


def _model(index: int, name: str, schema: str, seconds: float, level: str = "info") -> dict:
    node = {"node_name": name, "node_relation": {"schema": schema}, "materialized": "view", "resource_type": "model"}
    return {
        "info": {"name": "LogModelResult", "level": level, "msg": f"{index} of 9 OK created sql view model"},
        "data": {"status": "error" if level == "error" else "OK", "execution_time": seconds, "node_info": node},
    }


def _test(name: str, status: str, failures: int = 0) -> dict:
    level = "error" if status == "fail" else "info"
    return {
        "info": {"name": "LogTestResult", "level": level, "msg": f"{status.upper()} {name}"},
        "data": {"name": name, "status": status, "num_failures": failures, "node_info": {"node_name": name}},
    }


def test_a_dbt_build_is_a_line_per_model_a_line_per_failed_test_and_a_summary(tmp_path):
    lines, clock = [], Clock()
    log = tmp_path / "logs" / "dbt-build.log"
    rows = {"daily_demand": "45,678 rows"}
    progress = DbtProgress(3, log, say=lines.append, detail=lambda schema, name: rows.get(name), clock=clock)
    progress.event(_model(1, "stg_sales__order_lines", "staging", 0.05))
    progress.event(_test("not_null_stg_sales__order_lines_sku", "pass"))
    progress.event(_test("unique_daily_demand_key", "fail", failures=3))
    progress.event(_model(2, "daily_demand", "marts", 1.23))
    progress.event(_model(3, "daily_supply", "marts", 0.4, level="error"))
    error = "Runtime Error in model daily_supply (models/marts/daily_supply.sql)\n  Binder Error: no column qty"
    progress.event({"info": {"name": "RunResultError", "level": "error", "msg": error}, "data": {}})
    progress.event({"info": {"name": "RunResultFailure", "level": "error", "msg": "Failure in test"}, "data": {}})
    clock.now = 6.25
    progress.summary()
    assert lines == [
        "   [1/3] staging.stg_sales__order_lines                       OK      0.1 s  view",
        "  ! test unique_daily_demand_key: FAIL (3 rows)",
        "   [2/3] marts.daily_demand                                   OK      1.2 s  45,678 rows",
        "   [3/3] marts.daily_supply                                   ERROR   0.4 s  view",
        "  ! Runtime Error in model daily_supply (models/marts/daily_supply.sql)\n  !   Binder Error: no column qty",
        f"dbt build: 2 of 3 models OK (1 ERROR), 1 of 2 data tests passed (1 FAIL) in 6.2 s; dbt's full log: {log}",
    ]


def test_the_text_log_keeps_dbts_lines_with_their_time_and_without_colours(tmp_path):
    path = tmp_path / "logs" / "dbt.log"
    with TextLog(path) as log:
        log.write("1 of 2 OK created \x1b[32mOK\x1b[0m in 0.05s\nDone. PASS=")
        log.write("2 WARN=0\n")
        log.write("no newline at the end")
    text = path.read_text().splitlines()
    assert [line[10:] for line in text] == [
        "1 of 2 OK created OK in 0.05s",
        "Done. PASS=2 WARN=0",
        "no newline at the end",
    ]
    assert all(line[2] == ":" and line[5] == ":" for line in text)

"""The input gate on bronze order lines, on a lake whose newest day holds no accepted rows (real GX runs)."""

from datetime import timedelta

from orchestration.lib import feeds
from tests.replenishment import DAY, write_feed_lake, write_lake_with_a_broken_newest_day

REASON = (
    "order_lines has no accepted rows for 2026-11-21 (landing file order_lines_2026-11-21.csv: 12 rows "
    "quarantined as wrong_day); re-deliver that day's file and materialize bronze/sales/order_lines for 2026-11-21"
)


def test_by_default_the_gate_passes_up_to_the_last_complete_day_and_warns_about_the_broken_one(lake):
    write_lake_with_a_broken_newest_day(lake, {"SUP001": 2})
    result = feeds.gate_order_lines(lake, docs=False)
    assert result.success and result.partition == (DAY - timedelta(days=1)).isoformat()
    (warning,) = [f for f in result.warnings if f.gate == "incomplete day"]
    assert warning.describe().startswith(
        f"incomplete day: {REASON}; until then the feeds are published as of 2026-11-20"
    )
    assert result.subject["mode"] == "last-complete-day" and result.subject["note"].startswith(REASON)
    assert [d["day"] for d in result.subject["held_back"]] == ["2026-11-21"]
    assert "observed None" not in result.summary()


def test_a_strict_gate_fails_naming_the_day_and_the_fix(lake, monkeypatch):
    write_lake_with_a_broken_newest_day(lake, {"SUP001": 2})
    monkeypatch.setenv("SUPPLYLOOP_INPUT_GATE", "strict")
    result = feeds.gate_order_lines(lake, docs=False)
    assert not result.success and result.partition == DAY.isoformat()
    (error,) = result.errors
    assert error.describe() == f"completeness: {REASON} [expect_column_distinct_values_to_contain_set(day), error]"
    assert result.subject["held_back"] == [] and REASON in result.summary()


def test_a_complete_window_has_no_incomplete_day_to_report(lake):
    write_feed_lake(lake, {"SUP001": 1}, days=3)
    result = feeds.gate_order_lines(lake, docs=False)
    assert result.success and not result.failed and result.subject["held_back"] == []
    assert "note" not in result.subject

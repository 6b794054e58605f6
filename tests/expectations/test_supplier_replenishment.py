"""The feed's gate, on tiny tables, with real Great Expectations: what passes, what blocks, what only warns."""

from datetime import date, timedelta

import pyarrow as pa
import pytest

from expectations import order_lines, supplier_replenishment
from expectations.gate import GateError, latest_result, load_result, run_gate
from tests.replenishment import DAY, mart_rows


def gate(lake, rows: pa.Table, previous: dict | None = None, supplier: str = "SUP001", docs: bool = False):
    context = supplier_replenishment.context_for(supplier, DAY, rows, previous)
    return run_gate(lake, supplier_replenishment.build_suite(context), rows.to_pandas(), supplier, docs=docs)


def test_a_clean_feed_passes_every_expectation(lake):
    result = gate(lake, mart_rows())
    assert result.success and not result.failed and result.outcome == "passed"
    assert result.evaluated >= 30


BAD_FEEDS = [
    (
        "negative quantity",
        dict(suggested_qty=[200, -100, 200]),
        "quantities",
        "expect_column_values_to_be_between",
        "suggested_qty",
        1,
    ),
    (
        "another supplier's row",
        dict(supplier_id=["SUP001", "SUP002", "SUP001"]),
        "scoping",
        "expect_column_values_to_be_in_set",
        "supplier_id",
        1,
    ),
    (
        "stale day",
        dict(as_of_day=[DAY - timedelta(days=1)] * 3),
        "freshness",
        "expect_column_values_to_be_between",
        "as_of_day",
        3,
    ),
    (
        "duplicate key",
        dict(sku=["SKU0001", "SKU0001", "SKU0002"]),
        "keys",
        "expect_compound_columns_to_be_unique",
        "supplier_id, sku, as_of_day",
        2,
    ),
    ("missing sku", dict(sku=["SKU0001", None, "SKU0003"]), "keys", "expect_column_values_to_not_be_null", "sku", 1),
    (
        "unknown priority",
        dict(priority=["high", "asap", "none"]),
        "accepted values",
        "expect_column_values_to_be_in_set",
        "priority",
        1,
    ),
    (
        "implausible quantity",
        dict(suggested_qty=[200, 10_000_000, 200]),
        "plausibility",
        "expect_column_values_to_be_between",
        "suggested_qty",
        1,
    ),
    (
        "order-by before as-of",
        dict(order_by_day=[DAY - timedelta(days=3)] + [DAY] * 2),
        "consistency",
        "expect_column_pair_values_a_to_be_greater_than_b",
        "order_by_day, as_of_day",
        1,
    ),
]


@pytest.mark.parametrize(
    ("case", "columns", "gate_name", "expectation", "column", "count"), BAD_FEEDS, ids=[c[0] for c in BAD_FEEDS]
)
def test_a_bad_feed_fails_with_the_expectation_column_and_count(
    lake, case, columns, gate_name, expectation, column, count
):
    result = gate(lake, mart_rows(**columns))
    assert not result.success
    failed = [(f.gate, f.expectation, f.column, f.unexpected_count) for f in result.errors]
    assert (gate_name, expectation, column, count) in failed, result.summary()
    assert expectation in result.summary() and "SUP001" in result.summary()


def test_the_schema_holds_the_columns_in_order_with_their_types(lake):
    missing = mart_rows().drop_columns(["priority"])
    retyped = mart_rows().set_column(3, "as_of_day", pa.array([DAY.isoformat()] * 3))
    for rows, column in ((missing, None), (retyped, "as_of_day")):
        result = gate(lake, rows)
        assert not result.success
        assert any(f.gate == "schema" and (column is None or f.column == column) for f in result.errors), (
            result.summary()
        )


def test_the_row_count_must_stay_in_line_with_the_previous_feed(lake):
    previous = {"rows": 40, "as_of_day": DAY.isoformat()}
    result = gate(lake, mart_rows(skus=3), previous)
    (failure,) = [f for f in result.errors if f.gate == "row count"]
    assert failure.observed == 3
    assert gate(lake, mart_rows(skus=25), previous).success
    assert not gate(lake, mart_rows(skus=0)).success  # an empty feed is never published


def test_a_feed_older_than_the_last_published_one_fails_freshness(lake):
    previous = {"rows": 3, "as_of_day": (DAY + timedelta(days=1)).isoformat()}
    result = gate(lake, mart_rows(), previous)
    assert [f.expectation for f in result.errors if f.gate == "freshness"] == ["expect_column_min_to_be_between"]


def test_recent_demand_beyond_a_multiple_of_the_last_feed_is_implausible(lake):
    previous = {"rows": 3, "as_of_day": DAY.isoformat(), "quantities": {"recent_demand_28d": {"max": 100}}}
    result = gate(lake, mart_rows(recent_demand_28d=[280, 280, 5000]), previous)
    assert [(f.gate, f.column, f.unexpected_count) for f in result.errors] == [("plausibility", "recent_demand_28d", 1)]


def test_warnings_are_reported_but_do_not_block(lake):
    result = gate(lake, mart_rows(product_name=["cup", None, "lid"], available=[100, -5, 100]))
    assert result.success and result.outcome == "passed with warnings"
    assert {(f.gate, f.column) for f in result.warnings} == {("completeness", "product_name"), ("stock", "available")}
    assert not result.errors


def test_the_result_is_kept_as_json_with_its_subject_and_a_data_docs_page(lake):
    rows = mart_rows(suggested_qty=[200, -100, 200])
    context = supplier_replenishment.context_for("SUP001", DAY, rows)
    subject = {"version": "v1", "files": {"replenishment.parquet": "abc"}}
    result = run_gate(lake, supplier_replenishment.build_suite(context), rows.to_pandas(), "SUP001", subject=subject)
    assert result.path == f"gates/supplier_replenishment/SUP001/{result.result_id}.json"
    assert load_result(lake, result.path) == result
    assert latest_result(lake, "supplier_replenishment", "SUP001") == result
    assert result.docs.startswith(lake.uri("gates/docs/validations/supplier_replenishment/")) and result.docs.endswith(
        ".html"
    )
    assert "suggested_qty" in open(result.docs, encoding="utf-8").read()


@pytest.mark.parametrize("partition", ["../x", "a/b", "", "x" * 200, "SUP1\n"])
def test_a_gate_refuses_a_partition_that_cannot_name_a_folder(lake, partition):
    with pytest.raises(GateError, match="cannot name a folder"):
        run_gate(
            lake,
            supplier_replenishment.build_suite(supplier_replenishment.FeedContext("x", DAY)),
            mart_rows().to_pandas(),
            partition,
        )


def order_lines_window(days: list[str], per_day: int = 20, **columns) -> pa.Table:
    rows = [
        {
            "order_id": f"O-{day}-{i}",
            "line_no": 1,
            "ordered_at": None,
            "partner_id": "P00001",
            "sku": "SKU0001",
            "qty": 2,
            "status": "paid",
            "day": day,
        }
        for day in days
        for i in range(per_day if day != days[-1] else columns.pop("last_day_orders", per_day))
    ]
    table = pa.Table.from_pylist(rows)
    return table.set_column(
        2, "ordered_at", pa.array([f"{r['day']}T10:00:00Z" for r in rows]).cast(pa.timestamp("us", "UTC"))
    )


def order_lines_gate(lake, rows: pa.Table, first: date, last: date, typical: float | None = 20):
    window = order_lines.OrderLinesWindow(first, last, typical)
    return run_gate(lake, order_lines.build_suite(window), rows.to_pandas(), last.isoformat(), docs=False)


def test_order_lines_with_every_day_of_the_window_pass_their_input_gate(lake):
    days = ["2026-11-19", "2026-11-20", "2026-11-21"]
    result = order_lines_gate(lake, order_lines_window(days), date(2026, 11, 19), DAY)
    assert result.success and not result.failed


def test_a_day_missing_from_the_order_lines_window_is_an_error(lake):
    rows = order_lines_window(["2026-11-19", "2026-11-21"])
    result = order_lines_gate(lake, rows, date(2026, 11, 19), DAY)
    (failure,) = result.errors
    assert failure.gate == "completeness" and failure.column == "day"


def test_a_thin_last_day_of_order_lines_is_only_a_warning(lake):
    rows = order_lines_window(["2026-11-19", "2026-11-20", "2026-11-21"], last_day_orders=3)
    result = order_lines_gate(lake, rows, date(2026, 11, 19), DAY)
    assert result.success and [f.gate for f in result.warnings] == ["last day volume"]


def test_each_gate_adds_its_data_docs_page_and_keeps_the_earlier_ones(lake):
    from expectations import data_docs

    rows = mart_rows()
    suite = supplier_replenishment.build_suite(supplier_replenishment.context_for("SUP001", DAY, rows))
    first = run_gate(lake, suite, rows.to_pandas(), "SUP001")
    compiled = dict(data_docs.TEMPLATES.code)
    assert compiled
    second = run_gate(lake, suite, rows.to_pandas(), "SUP002")
    assert data_docs.TEMPLATES.code == compiled  # the second gate compiled no template again
    pages = [open(r.docs, encoding="utf-8").read() for r in (first, second)]
    assert first.docs != second.docs
    assert all("suggested_qty" in page and "</html>" in page for page in pages)

"""The feed's gate, on tiny tables, with real Great Expectations: what passes, what blocks, what only warns."""

from datetime import date, timedelta

import pyarrow as pa
import pytest

from expectations import order_lines, supplier_replenishment
from expectations.gate import GateError, KeyedGateResult, latest_result, load_result, run_gate, run_keyed_gate
from tests.replenishment import DAY, mart_rows


def keyed_gate(
    lake, feeds: dict[str, tuple[pa.Table, dict | None]], docs: bool = False, partition: str = DAY.isoformat()
) -> KeyedGateResult:
    """The suppliers' gate over ``{supplier: (rows in its folder, its last manifest)}``, as the feeds run it."""
    return run_keyed_gate(
        lake,
        supplier_replenishment.NAME,
        supplier_replenishment.batches([(s, rows, previous) for s, (rows, previous) in feeds.items()], DAY),
        key=supplier_replenishment.FILE_SUPPLIER,
        partition=partition,
        docs=docs,
    )


def gate(lake, rows: pa.Table, previous: dict | None = None, supplier: str = "SUP001", docs: bool = False):
    """One supplier's feed through the gate: the stored result, with the section before each gate's name."""
    keyed = keyed_gate(lake, {supplier: (rows, previous)}, docs=docs)
    assert keyed.passed(supplier) == keyed.result.success
    return keyed.result


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
        "expect_column_pair_values_to_be_equal",
        "supplier_id, file_supplier_id",
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
        "file_supplier_id, supplier_id, sku, as_of_day",
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
        "expect_column_pair_values_a_to_be_greater_than_b",
        "quantity_ceiling, suggested_qty",
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
    keyed = keyed_gate(lake, {"SUP001": (mart_rows(**columns), None), "SUP009": (mart_rows("SUP009"), None)})
    result = keyed.result
    assert not result.success
    failed = [(f.gate, f.expectation, f.column, f.unexpected_count) for f in result.errors]
    assert (f"rows: {gate_name}", expectation, column, count) in failed, result.summary()
    assert expectation in result.summary()
    assert not keyed.passed("SUP001") and keyed.passed("SUP009")  # the other supplier's feed is not held back
    (held,) = [f for f in keyed.outcome("SUP001")["failed"] if f["gate"] == f"rows: {gate_name}"]
    assert held["rows"] and all(r["file_supplier_id"] == "SUP001" for r in held["rows"])


def test_the_schema_holds_the_columns_in_order_with_their_types(lake):
    missing = mart_rows().drop_columns(["priority"])
    retyped = mart_rows().set_column(3, "as_of_day", pa.array([DAY.isoformat()] * 3))
    for rows, column in ((missing, None), (retyped, "as_of_day")):
        result = gate(lake, rows)
        assert not result.success
        assert any(f.gate == "rows: schema" and (column is None or f.column == column) for f in result.errors), (
            result.summary()
        )


def test_the_row_count_must_stay_in_line_with_the_previous_feed(lake):
    previous = {"rows": 40, "as_of_day": DAY.isoformat()}
    keyed = keyed_gate(lake, {"SUP001": (mart_rows(skus=3), previous), "SUP002": (mart_rows("SUP002", 30), previous)})
    (failure,) = [f for f in keyed.result.errors if f.gate == "suppliers: row count"]
    assert failure.unexpected_count == 1
    (held,) = keyed.outcome("SUP001")["failed"]
    assert held["rows"] == [{"file_supplier_id": "SUP001", "rows": "3", "min_rows": "20"}]  # as GX reports them
    assert keyed.passed("SUP002")
    assert gate(lake, mart_rows(skus=25), previous).success
    assert not gate(lake, mart_rows(skus=0)).success  # an empty feed is never published


def test_a_feed_older_than_the_last_published_one_fails_freshness(lake):
    previous = {"rows": 3, "as_of_day": (DAY + timedelta(days=1)).isoformat()}
    result = gate(lake, mart_rows(), previous)
    assert [(f.expectation, f.column) for f in result.errors if f.gate == "rows: freshness"] == [
        ("expect_column_pair_values_a_to_be_greater_than_b", "as_of_day, previous_as_of_day")
    ]


def test_recent_demand_beyond_a_multiple_of_the_last_feed_is_implausible(lake):
    previous = {"rows": 3, "as_of_day": DAY.isoformat(), "quantities": {"recent_demand_28d": {"max": 100}}}
    result = gate(lake, mart_rows(recent_demand_28d=[280, 280, 5000]), previous)
    assert [(f.gate, f.column, f.unexpected_count) for f in result.errors] == [
        ("rows: plausibility", "recent_demand_ceiling, recent_demand_28d", 1)
    ]


def test_warnings_are_reported_but_do_not_block(lake):
    result = gate(lake, mart_rows(product_name=["cup", None, "lid"], available=[100, -5, 100]))
    assert result.success and result.outcome == "passed with warnings"
    assert {(f.gate, f.column) for f in result.warnings} == {
        ("rows: completeness", "product_name"),
        ("rows: stock", "available"),
    }
    assert not result.errors


def test_the_result_is_kept_as_json_with_each_suppliers_outcome_and_a_data_docs_page(lake):
    keyed = keyed_gate(
        lake, {"SUP001": (mart_rows(suggested_qty=[200, -100, 200]), None), "SUP002": (mart_rows("SUP002"), None)}
    )
    result = keyed.result
    assert result.path == f"gates/supplier_replenishment/{DAY.isoformat()}/{result.result_id}.json"
    assert load_result(lake, result.path) == result
    assert latest_result(lake, "supplier_replenishment", DAY.isoformat()) == result
    assert result.subject["outcomes"] == {
        "SUP001": {"outcome": "held", "failed": 1},
        "SUP002": {"outcome": "passed", "failed": 0},
    }
    docs = keyed_gate(lake, {"SUP001": (mart_rows(), None)}, docs=True).result.docs
    assert docs.startswith(lake.uri("gates/docs/validations/supplier_replenishment")) and docs.endswith(".html")
    assert "suggested_qty" in open(docs, encoding="utf-8").read()


@pytest.mark.parametrize("partition", ["../x", "a/b", "", "x" * 200, "SUP1\n"])
def test_a_gate_refuses_a_partition_that_cannot_name_a_folder(lake, partition):
    with pytest.raises(GateError, match="cannot name a folder"):
        keyed_gate(lake, {"SUP001": (mart_rows(), None)}, partition=partition)


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

    first = keyed_gate(lake, {"SUP001": (mart_rows(), None)}, docs=True).result
    compiled = dict(data_docs.TEMPLATES.code)
    assert compiled
    second = keyed_gate(lake, {"SUP002": (mart_rows("SUP002"), None)}, docs=True).result
    assert data_docs.TEMPLATES.code == compiled  # the second gate compiled no template again
    pages = [open(r.docs, encoding="utf-8").read() for r in (first, second)]
    assert first.docs != second.docs
    assert all("suggested_qty" in page and "</html>" in page for page in pages)

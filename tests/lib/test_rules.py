from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from orchestration.lib.rules import apply_rules, connect
from orchestration.lib.sources import load_sources

ORDER_LINES = load_sources()["order_lines"]
GOOD = {
    "order_id": "O1",
    "line_no": "1",
    "ordered_at": "2026-11-11 20:00:00",
    "partner_id": "P1",
    "sku": "SKU0001",
    "qty": "2",
    "unit_price": "9.90",
    "discount": "",
    "region": "east",
    "live_session_id": "",
    "status": "paid",
}
REFS = {("partners", "partner_id"): pa.array(["P1"]), ("products", "sku"): pa.array(["SKU0001"])}


def _run(rows: list[dict], day=date(2026, 11, 11)) -> list[dict]:
    raw = pa.Table.from_pylist(
        [
            {**r, "_source_row": i + 1, "_source_file": "f.csv", "_file_order": 0, "_file_reason": None}
            for i, r in enumerate(rows)
        ]
    )
    raw = raw.cast(
        pa.schema(
            [
                pa.field(n, pa.string()) if n not in ("_source_row", "_file_order") else raw.schema.field(n)
                for n in raw.column_names
            ]
        )
    )
    con = connect(ORDER_LINES)
    return apply_rules(con, ORDER_LINES, raw, REFS, day).read_all().to_pylist()


@pytest.mark.parametrize(
    "change, code",
    [
        ({}, None),
        ({"order_id": ""}, "missing_required"),
        ({"order_id": "   "}, "missing_required"),
        ({"qty": "-3"}, "below_minimum"),
        ({"qty": "0"}, "below_minimum"),
        ({"qty": "1.5"}, "invalid_value"),
        ({"qty": "abc"}, "invalid_value"),
        ({"unit_price": "9,90"}, "invalid_value"),
        ({"ordered_at": "2026-13-45 25:00:00"}, "invalid_value"),
        ({"status": "shipped"}, "not_accepted"),
        ({"sku": "SKU9999"}, "unknown_reference"),
        ({"partner_id": "P404"}, "unknown_reference"),
        ({"ordered_at": "2026-11-10 23:59:59"}, "wrong_day"),
        ({"ordered_at": "2026/11/11 08:00"}, None),
        ({"ordered_at": "2026-11-11T08:00:00+08:00"}, None),
        ({"discount": "1.50", "live_session_id": "LS1"}, None),
    ],
)
def test_each_rule_gives_its_reason_code(change, code):
    (row,) = _run([{**GOOD, **change}])
    found = row["_reason"].split(":", 1)[0] if row["_reason"] else None
    assert found == code, row["_reason"]


def test_a_rejected_row_gives_every_reason_with_its_original_text():
    (row,) = _run([{**GOOD, "qty": "1.5", "status": "weird"}])
    assert "qty '1.5' is not a whole number" in row["_reason"] and "status 'weird'" in row["_reason"]


def test_local_times_become_utc_instants():
    (row,) = _run([{**GOOD, "ordered_at": "2026-11-11 20:00:00"}])
    assert row["ordered_at"] == datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def test_a_repeated_key_keeps_the_first_delivery_and_names_it():
    rows = _run([GOOD, {**GOOD, "qty": "5"}])
    assert rows[0]["_reason"] is None
    assert rows[1]["_reason"].startswith(
        "duplicate_key: order_id=O1, line_no=1 was already delivered in row 1 of f.csv"
    )


def test_a_bad_row_does_not_claim_the_key_of_a_good_one():
    rows = _run([{**GOOD, "qty": "-1"}, GOOD])
    assert rows[0]["_reason"].startswith("below_minimum") and rows[1]["_reason"] is None

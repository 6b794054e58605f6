import re
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
    "warehouse_id": "",  # optional: a file without the column reads it as empty
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


REASON_FORM = re.compile(r"(?P<code>[a-z_]+): (?P<what>[^;|]+); (?P<advice>[^|]+)")
LONG = "x" * 500


@pytest.mark.parametrize(
    "rows, code, advice",
    [
        ([{**GOOD, "order_id": ""}], "missing_required", "fill in the row's order_id in the export"),
        ([{**GOOD, "qty": "1.5"}], "invalid_value", "correct the value in the export (digits only"),
        ([{**GOOD, "ordered_at": "11.11.2026"}], "invalid_value", "as 2026-11-11 20:00:00"),
        ([{**GOOD, "qty": "0"}], "below_minimum", "correct the value in the export and deliver the file again"),
        ([{**GOOD, "status": "shipped"}], "not_accepted", "correct the value in the export (the marts know"),
        ([{**GOOD, "sku": "SKU9999"}], "unknown_reference", "add it to the products master data"),
        ([{**GOOD, "ordered_at": "2026-11-10 23:59:59"}], "wrong_day", "deliver the row in the file of its own day"),
        ([GOOD, GOOD], "duplicate_key", "remove the repeated row from the export"),
    ],
)
def test_every_row_reason_says_what_is_wrong_and_what_to_do(rows, code, advice):
    reason = _run(rows)[-1]["_reason"]
    form = REASON_FORM.fullmatch(reason)
    assert form and form["code"] == code, reason
    assert advice in form["advice"], reason


def test_a_wrong_day_names_the_time_zone_the_times_were_read_in():
    (row,) = _run([{**GOOD, "ordered_at": "2026-11-10 23:59:59"}])
    assert row["_reason"].endswith("check the `timezone` of order_lines (now Asia/Shanghai) in the sources file")


def test_a_row_breaking_several_rules_gives_each_reason_in_the_same_form():
    (row,) = _run([{**GOOD, "qty": "0", "status": "shipped"}])
    reasons = row["_reason"].split(" | ")
    assert [r.split(":", 1)[0] for r in reasons] == ["below_minimum", "not_accepted"]
    assert all(REASON_FORM.fullmatch(r) for r in reasons), reasons


@pytest.mark.parametrize(
    "change", [{"qty": LONG}, {"status": LONG}, {"sku": LONG}, {"ordered_at": LONG}, {"qty": "-" + "9" * 300}]
)
def test_a_long_delivered_value_is_cut_in_its_reason(change):
    (row,) = _run([{**GOOD, **change}])
    assert "x" * 78 not in row["_reason"] and "9" * 78 not in row["_reason"], row["_reason"]
    assert "..." in row["_reason"] and len(row["_reason"]) < 400


def test_long_keys_are_cut_in_a_duplicate_reason():
    rows = _run([{**GOOD, "order_id": LONG}, {**GOOD, "order_id": LONG}])
    assert rows[1]["_reason"].startswith("duplicate_key: order_id=" + "x" * 77 + "..., line_no=1 ")


def test_a_platforms_own_source_is_told_which_rule_to_relax():
    from dataclasses import replace

    from orchestration.lib.rules import build_query

    own = replace(ORDER_LINES, name="orders_extra")
    sql, params = build_query(own, None)
    texts = " ".join(str(v) for v in params.values())
    assert "lower `min` of orders_extra.qty in the sources file" in texts
    assert "add it to `accepted` of orders_extra.status" in texts

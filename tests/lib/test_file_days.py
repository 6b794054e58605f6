"""How a delivered file's business day is found: in its name (any pattern), else in its rows."""

from dataclasses import replace
from datetime import date

import pytest

from orchestration.lib.ingest import ingest_day, ingest_days, landing_index, quarantine_path
from orchestration.lib.sources import SourceConfigError, canonical_sources
from tests.conftest import CSV_HEADER, write_master

ORDER_LINES = canonical_sources()["order_lines"]


def _line(order: str, at: str, qty: int = 1) -> str:
    return f"{order},1,{at},P00001,SKU0001,{qty},9.90,,east,,paid\n"


@pytest.mark.parametrize(
    "day_in_name, name, day",
    [
        ("%Y-%m-%d", "order_lines_2026-11-11.csv", date(2026, 11, 11)),
        ("%Y%m%d", "销售订单_20261111.csv", date(2026, 11, 11)),
        ("%Y%m%d", "销售订单_20261111_重发.csv", date(2026, 11, 11)),
        ("%Y%m%d", "orders 20261111093000.csv", date(2026, 11, 11)),
        ("%Y%m%d", "batch_99999999_20261111.csv", date(2026, 11, 11)),
        ("%Y_%m_%d", "orders_2026_11_11.csv", date(2026, 11, 11)),
        (r"(?P<day>\d\d)\.(?P<month>\d\d)\.(?P<year>\d{4})", "orders 11.11.2026.csv", date(2026, 11, 11)),
        ("%Y%m%d", "orders_2026-11-11.csv", None),
        ("%Y-%m-%d", "orders_week_46.csv", None),
        (None, "orders_20261111.csv", None),
    ],
)
def test_the_day_is_read_from_the_name_as_the_source_declares_it(day_in_name, name, day):
    assert replace(ORDER_LINES, day_in_name=day_in_name).day_of(name) == day


@pytest.mark.parametrize("spec", ["%Y%m", "%d%d%Y%m", "(?P<year>\\d{4})", "(?P<year>[)"])
def test_a_day_pattern_that_cannot_name_a_day_is_refused_with_the_fix(spec):
    from orchestration.lib.sources import day_pattern

    with pytest.raises(SourceConfigError, match="year|%Y"):
        day_pattern(spec)


@pytest.fixture
def undated_lake(lake):
    """A weekly export with no day in its name: rows of three days, one without a time."""
    write_master(lake)
    body = (
        _line("A1", "2026-11-10 09:00:00", 2)
        + _line("A2", "2026-11-11 23:30:00", 3)
        + _line("A3", "2026-11-11T16:30:00Z", 4)  # 00:30 on the 12th in Shanghai
        + _line("A4", "", 5)
        + _line("A5", "2026-11-12 08:00:00", 6)
    )
    lake.write_bytes("landing/order_lines/orders_week_46.csv", (CSV_HEADER + body).encode())
    return lake


def test_a_file_without_a_day_in_its_name_is_split_by_its_rows_business_day(undated_lake):
    source = replace(ORDER_LINES, files="orders_*.csv")
    index = landing_index(undated_lake, source)
    assert sorted(index) == [date(2026, 11, 10), date(2026, 11, 11), date(2026, 11, 12)]
    results = {r.day: r for r in ingest_days(undated_lake, source, sorted(index))}
    qty = {
        day: sorted(undated_lake.read_table(f"bronze/order_lines/day={day}").column("qty").to_pylist())
        for day in results
    }
    assert qty == {date(2026, 11, 10): [2], date(2026, 11, 11): [3], date(2026, 11, 12): [4, 6]}
    # the row without a time is kept on the file's first day, with the reason, never lost
    home = undated_lake.read_table(quarantine_path(source, date(2026, 11, 10)))
    assert home.column("order_id").to_pylist() == ["A4"]
    assert home.column("_reason_code").to_pylist() == ["missing_required"]
    assert sum(r.rows_in for r in results.values()) == 5
    assert all(not r.reasons.get("wrong_day") for r in results.values())


def test_a_day_built_from_an_undated_file_is_the_same_on_every_run(undated_lake):
    source = replace(ORDER_LINES, files="orders_*.csv")
    ingest_day(undated_lake, source, date(2026, 11, 12))
    first = undated_lake.read_bytes("bronze/order_lines/day=2026-11-12/part-0.parquet")
    ingest_day(undated_lake, source, date(2026, 11, 12))
    assert undated_lake.read_bytes("bronze/order_lines/day=2026-11-12/part-0.parquet") == first


def test_an_unreadable_undated_file_is_quarantined_once_on_the_day_it_landed(lake):
    write_master(lake)
    source = replace(ORDER_LINES, files="orders_*.csv")
    lake.write_bytes("landing/order_lines/orders_export.csv", b"")
    index = landing_index(lake, source)
    assert len(index) == 1
    (day,) = index
    result = ingest_day(lake, source, day)
    assert result.reasons == {"empty_file": 1}


@pytest.mark.parametrize("on_s3", [False, True], ids=["local", "s3"])
def test_chinese_names_with_spaces_and_several_files_a_day_all_land(on_s3, request):
    lake = request.getfixturevalue("s3_lake" if on_s3 else "lake")
    write_master(lake)
    source = replace(ORDER_LINES, files="销售订单*.csv", day_in_name="%Y%m%d", encoding="gb18030")
    header = CSV_HEADER.replace("order_id", "订单号").replace("qty", "数量")
    lake.write_bytes(
        "landing/order_lines/销售订单 20261111 上午.csv",
        (header + _line("B1", "2026-11-11 09:00:00", 2)).encode("gb18030"),
    )
    lake.write_bytes(
        "landing/order_lines/销售订单 20261111 下午.csv",
        (header + _line("B2", "2026-11-11 15:00:00", 3)).encode("gb18030"),
    )
    index = landing_index(lake, source)
    assert list(index) == [date(2026, 11, 11)] and len(index[date(2026, 11, 11)]) == 2
    result = ingest_day(lake, source, date(2026, 11, 11))
    assert (result.accepted, result.quarantined) == (2, 0)
    bronze = lake.read_table("bronze/order_lines/day=2026-11-11")
    assert sorted(bronze.column("_source_file").to_pylist()) == [
        "销售订单 20261111 上午.csv",
        "销售订单 20261111 下午.csv",
    ]


def test_the_landing_sensor_sees_every_day_an_undated_file_covers(undated_lake):
    from orchestration.lib.landing import changes, look

    source = replace(ORDER_LINES, files="orders_*.csv")
    found = changes({}, look(undated_lake, [source]))
    assert [c.partition for c in found] == ["2026-11-10", "2026-11-11", "2026-11-12"]

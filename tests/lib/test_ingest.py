from datetime import date

import pytest

from orchestration.lib.ingest import MasterDataMissing, ingest_day, ingest_days, quarantine_path
from orchestration.lib.landing import bronze_stamps, changes, look
from orchestration.lib.sources import load_sources
from tests.conftest import CSV_HEADER, write_master

ORDER_LINES = load_sources()["order_lines"]
DAY = date(2026, 11, 11)
GOOD_ROWS = "".join(f"O{i},1,2026-11-11 1{i % 10}:00:00,P00001,SKU0001,{i},9.90,,east,,paid\n" for i in range(1, 6))
BAD_ROWS = "O90,1,2026-11-11 10:00:00,P00001,SKU9999,1,9.90,,east,,paid\nO91,1,2026-11-11 10:00:00,P00001,SKU0001,-4,9.90,,east,,paid\n"


def _deliver(lake, name, body):
    lake.write_bytes(f"landing/order_lines/{name}", (CSV_HEADER + body).encode())


@pytest.fixture
def day_lake(lake):
    write_master(lake)
    _deliver(lake, "order_lines_2026-11-11.csv", GOOD_ROWS + BAD_ROWS)
    return lake


def test_every_delivered_row_is_accepted_or_quarantined_with_a_reason(day_lake):
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert (result.accepted, result.quarantined) == (5, 2)
    quarantined = day_lake.read_table(quarantine_path(ORDER_LINES, DAY))
    assert sorted(quarantined.column("_reason_code").to_pylist()) == ["below_minimum", "unknown_reference"]
    assert quarantined.column("sku").to_pylist() == ["SKU9999", "SKU0001"]  # original values kept
    assert day_lake.read_table("bronze/order_lines").column("qty").to_pylist() == [1, 2, 3, 4, 5]


def test_running_a_day_again_gives_byte_identical_partitions(day_lake):
    ingest_day(day_lake, ORDER_LINES, DAY)
    first = day_lake.read_bytes("bronze/order_lines/day=2026-11-11/part-0.parquet")
    ingest_day(day_lake, ORDER_LINES, DAY)
    assert day_lake.read_bytes("bronze/order_lines/day=2026-11-11/part-0.parquet") == first


def test_the_same_file_delivered_twice_does_not_double_the_data(day_lake):
    _deliver(day_lake, "order_lines_2026-11-11_resend.csv", GOOD_ROWS + BAD_ROWS)
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert result.accepted == 5 and result.quarantined == 2 + 7
    assert result.reasons["duplicate_file"] == 7
    assert [f.status for f in result.files] == ["loaded", "duplicate"]


def test_a_corrected_redelivery_of_the_same_keys_keeps_the_first(day_lake):
    _deliver(day_lake, "order_lines_2026-11-11_part2.csv", GOOD_ROWS.replace(",9.90,", ",8.80,"))
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert result.accepted == 5 and result.reasons["duplicate_key"] == 5


def test_a_file_with_a_renamed_column_is_rejected_row_by_row_and_the_others_still_load(day_lake):
    day_lake.write_bytes(
        "landing/order_lines/order_lines_2026-11-11_erp2.csv",
        (CSV_HEADER.replace("qty", "quantity_pcs") + GOOD_ROWS).encode(),
    )
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert result.accepted == 5
    (rejected,) = result.rejected_files
    assert rejected.file == "order_lines_2026-11-11_erp2.csv" and "quantity_pcs" in rejected.error
    assert (rejected.delivered, rejected.accepted, rejected.quarantined) == (5, 0, 5)
    rows = day_lake.read_table(quarantine_path(ORDER_LINES, DAY)).to_pylist()
    mine = [r for r in rows if r["_reason_code"] == "missing_column"]
    assert [r["_source_row"] for r in mine] == [1, 2, 3, 4, 5]
    assert [r["_raw_text"] for r in mine] == GOOD_ROWS.splitlines()
    assert all("add the new header to `aliases` of order_lines.qty" in r["_reason"] for r in mine)


def test_a_clean_rerun_removes_the_old_quarantine(day_lake):
    ingest_day(day_lake, ORDER_LINES, DAY)
    _deliver(day_lake, "order_lines_2026-11-11.csv", GOOD_ROWS)
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert result.quarantined == 0 and not day_lake.exists(quarantine_path(ORDER_LINES, DAY))


def test_facts_before_master_data_fail_with_what_to_run(lake):
    _deliver(lake, "order_lines_2026-11-11.csv", GOOD_ROWS)
    with pytest.raises(MasterDataMissing, match="materialize the master-data asset bronze/master/partners"):
        ingest_day(lake, ORDER_LINES, DAY)


def test_many_days_run_together_and_a_day_without_files_is_empty(day_lake):
    results = ingest_days(day_lake, ORDER_LINES, [DAY, date(2026, 11, 12)], workers=2)
    assert [(r.day, r.accepted) for r in results] == [(DAY, 5), (date(2026, 11, 12), 0)]


def test_a_late_file_for_a_past_day_is_a_change_for_that_day_only(day_lake):
    sources = [ORDER_LINES, load_sources()["products"]]
    seen = look(day_lake, sources).versions
    assert changes(seen, look(day_lake, sources)) == []
    _deliver(day_lake, "order_lines_2026-11-02.csv", GOOD_ROWS.replace("2026-11-11", "2026-11-02"))
    (change,) = changes(seen, look(day_lake, sources))
    assert (change.partition, change.sources) == ("2026-11-02", ("order_lines",))
    assert {c.partition for c in changes({}, look(day_lake, sources))} == {"2026-11-02", "2026-11-11", "snapshot"}


def test_a_first_look_skips_partitions_already_ingested_after_their_last_delivery(day_lake):
    sources = [ORDER_LINES, load_sources()["products"]]
    ingest_day(day_lake, ORDER_LINES, DAY)
    pending = changes({}, look(day_lake, sources), bronze_stamps(day_lake, sources))
    assert [c.partition for c in pending] == []  # products' snapshot was ingested by write_master too
    _deliver(day_lake, "order_lines_2026-11-11_late.csv", "")
    later = look(day_lake, sources)
    later.newest["order_lines"]["2026-11-11"] += 3600  # delivered after the ingestion
    assert [c.partition for c in changes({}, later, bronze_stamps(day_lake, sources))] == ["2026-11-11"]


def test_rows_missing_required_values_go_to_quarantine_beside_good_rows(day_lake):
    _deliver(
        day_lake, "order_lines_2026-11-11.csv", GOOD_ROWS + ",1,2026-11-11 10:00:00,P00001,SKU0001,1,9.90,,east,,paid\n"
    )
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert (result.accepted, result.quarantined, dict(result.reasons)) == (5, 1, {"missing_required": 1})

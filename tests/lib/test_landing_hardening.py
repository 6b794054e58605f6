"""Hostile landing zones: links out of the lake, names no pattern matches, files rejected whole,
overlong lines and headers, and the temporary files of killed writers."""

import io
import json
import logging
import os
import time
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib import lake as lake_module
from orchestration.lib.deliveries import audit_landing, files_not_read, not_read_report
from orchestration.lib.ingest import ingest_day, ingest_snapshot, quarantine_path
from orchestration.lib.lake import LakeStore
from orchestration.lib.readers import MAX_LINE_MB_ENV, RAW_CHARS, SHOWN_CHARS
from orchestration.lib.sources import load_sources
from tests.conftest import CSV_HEADER, write_master, xlsx_bytes

SOURCES = load_sources()
ORDER_LINES = SOURCES["order_lines"]
DAY = date(2026, 11, 11)
SECRET = "PRIVATE-7f3a9c"
ROWS = "".join(f"O{i},1,2026-11-11 1{i}:00:00,P00001,SKU0001,{i},9.90,,east,,paid\n" for i in range(1, 4))


@pytest.fixture
def day_lake(lake):
    write_master(lake)
    lake.write_bytes("landing/order_lines/order_lines_2026-11-11.csv", (CSV_HEADER + ROWS).encode())
    return lake


def _everything_written(lake: LakeStore) -> str:
    """Every byte of bronze and quarantine, as text (Parquet stores short strings plainly),
    and every quarantined value read back."""
    text = []
    for layer in ("bronze", "quarantine"):
        for f in lake.list_files(layer, "*.parquet", recursive=True):
            text.append(lake.read_bytes(f.path).decode("latin-1"))
            text.append(json.dumps(lake.read_table(f.path).to_pylist(), default=str))
    return "\n".join(text)


def _private_file(tmp_path) -> str:
    """A file outside the lake that looks like a delivery: its rows would load if followed."""
    private = tmp_path / "private"
    private.mkdir()
    rows = ROWS.replace("O1,", f"{SECRET}-1,").replace("O2,", f"{SECRET}-2,")
    (private / "secrets.csv").write_text(f"{SECRET},{CSV_HEADER}" + rows)  # its first line names the secret
    (private / "orders.csv").write_text(CSV_HEADER + rows)
    return str(private)


# -- 3. nothing outside the landing zone is read ------------------------------------------


@pytest.mark.parametrize("target", ["secrets.csv", "orders.csv"])
def test_a_link_to_a_file_outside_the_lake_is_quarantined_unread_and_nothing_of_it_appears_anywhere(
    day_lake, tmp_path, caplog, target
):
    private = _private_file(tmp_path)
    link = "order_lines_2026-11-11_extra.csv"
    os.symlink(os.path.join(private, target), day_lake.fs_path(f"landing/order_lines/{link}"))
    with caplog.at_level(logging.DEBUG):
        result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert (result.accepted, result.quarantined) == (3, 1)
    (refused,) = result.rejected_files
    assert refused.file == link and refused.error.startswith("outside_landing:") and refused.delivered is None
    (row,) = day_lake.read_table(quarantine_path(ORDER_LINES, DAY)).to_pylist()
    assert row["_source_file"] == link and row["_source_row"] is None and row["_raw_text"] is None
    assert f"landing/order_lines/{link} is a link that leads outside the landing zone" in row["_reason"]
    assert "put the file itself there in place of the link" in row["_reason"]
    seen = _everything_written(day_lake) + caplog.text + result.summary()
    assert SECRET not in seen and private not in seen


def test_a_source_folder_that_is_a_link_out_of_the_zone_and_a_dangling_link_are_refused(lake, tmp_path):
    private = _private_file(tmp_path)
    os.makedirs(lake.fs_path("landing"))
    os.symlink(private, lake.fs_path("landing/order_lines"))
    os.symlink(str(tmp_path / "gone.csv"), lake.fs_path("landing/suppliers_2026-11-11.csv"))
    os.makedirs(lake.fs_path("landing/suppliers"))
    os.symlink(str(tmp_path / "gone.csv"), lake.fs_path("landing/suppliers/suppliers_2026-11-11.csv"))
    listed = lake.list_files("landing/order_lines")
    assert [f.refused for f in listed] == ["a link that leads outside the landing zone"] * 2
    (dangling,) = lake.list_files("landing/suppliers")
    assert dangling.refused == "a link to nothing (its target does not exist)"
    result = ingest_snapshot(lake, SOURCES["suppliers"])
    assert [f.error.split(":")[0] for f in result.rejected_files] == ["outside_landing"]
    audit = audit_landing(lake, SOURCES)
    assert "suppliers_2026-11-11.csv: it is a link to nothing" in audit.unmatched_report()


def test_a_link_within_the_landing_zone_is_read_as_the_file_it_names(day_lake):
    os.makedirs(day_lake.fs_path("landing/archive"))
    os.replace(
        day_lake.fs_path("landing/order_lines/order_lines_2026-11-11.csv"),
        day_lake.fs_path("landing/archive/orders.csv"),
    )
    os.symlink("../archive/orders.csv", day_lake.fs_path("landing/order_lines/order_lines_2026-11-11.csv"))
    assert ingest_day(day_lake, ORDER_LINES, DAY).accepted == 3


def test_a_lake_path_that_climbs_out_of_its_folder_is_refused(lake):
    with pytest.raises(ValueError, match="climbs out of its folder"):
        lake.open_input("landing/order_lines/../../../etc/passwd")


def test_delivered_text_in_raw_text_reasons_and_logs_is_bounded(day_lake, caplog):
    huge = "x" * 50_000
    day_lake.write_bytes(
        "landing/order_lines/order_lines_2026-11-11_b.csv",
        (CSV_HEADER + f"O9,1,2026-11-11 10:00:00,P00001,SKU0001,1,9.90,,east,,paid,{huge}\n").encode(),
    )
    day_lake.write_bytes("landing/order_lines/order_lines_2026-11-11_c.csv", f"{huge},a\n1,2\n".encode())
    with caplog.at_level(logging.DEBUG):
        ingest_day(day_lake, ORDER_LINES, DAY)
    rows = day_lake.read_table(quarantine_path(ORDER_LINES, DAY)).to_pylist()
    assert {r["_reason_code"] for r in rows} == {"malformed_row", "missing_column"}
    assert all(len(r["_raw_text"]) <= RAW_CHARS and len(r["_reason"]) < 1000 for r in rows)
    assert max(len(line) for line in caplog.text.splitlines()) < 1000
    assert "x" * (SHOWN_CHARS + 1) not in caplog.text


# -- 4. every file under a source's folder is read or reported ---------------------------


def test_upper_case_names_are_read_and_names_no_pattern_matches_are_reported_with_the_fix(day_lake):
    folder = "landing/order_lines"
    day_lake.write_bytes(f"{folder}/ORDER_LINES_2026-11-11_B.CSV", (CSV_HEADER + ROWS.replace("O", "Q")).encode())
    day_lake.write_bytes(f"{folder}/-order_lines_2026-11-11.csv", (CSV_HEADER + ROWS).encode())
    day_lake.write_bytes(f"{folder}/.order_lines_2026-11-11.csv", (CSV_HEADER + ROWS).encode())
    day_lake.write_bytes(f"{folder}/old/order_lines_2026-11-10.csv", (CSV_HEADER + ROWS).encode())
    assert ingest_day(day_lake, ORDER_LINES, DAY).accepted == 6
    not_read = files_not_read(day_lake, SOURCES, ORDER_LINES)
    assert [u.file.name for u in not_read] == [
        "-order_lines_2026-11-11.csv",
        ".order_lines_2026-11-11.csv",
        "order_lines_2026-11-10.csv",
    ]
    report = not_read_report(ORDER_LINES, not_read)
    assert "order_lines/-order_lines_2026-11-11.csv: its name matches no `files` pattern" in report
    assert "order_lines/.order_lines_2026-11-11.csv: its name starts with '.'" in report
    assert "fix: rename each to match `files` of order_lines ('order_lines_*.csv', any letter case)" in report
    assert files_not_read(day_lake, SOURCES, SOURCES["products"]) == []


def test_the_files_matched_check_fails_naming_the_files_no_pattern_matches(lake):
    import dagster as dg

    from orchestration.defs.ingest.assets import bronze_asset
    from orchestration.defs.resources import Lake

    lake.write_bytes("landing/suppliers/suppliers_2026-11-01.csv", b"supplier_id,name,region\nSUP001,Acme,east\n")
    lake.write_bytes("landing/suppliers/-suppliers_2026-11-02.csv", b"supplier_id,name,region\nSUP002,Bolt,west\n")
    result = dg.materialize([bronze_asset(SOURCES["suppliers"])], resources={"lake": Lake(root=lake.root)})
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["files_readable"].passed and not checks["files_matched"].passed
    assert checks["files_matched"].severity == dg.AssetCheckSeverity.ERROR
    details = checks["files_matched"].metadata["details"].value
    assert "suppliers/-suppliers_2026-11-02.csv: its name matches no `files` pattern" in details
    metadata = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0].metadata
    assert (metadata["rows_delivered"].value, metadata["files_rows_unknown"].value) == (1, 0)


# -- 5. a file rejected whole is counted row by row --------------------------------------


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    "source, name, data, numbers, first_text",
    [
        (
            "suppliers",
            "suppliers_2026-11-21.csv",
            b"supplier_id,label,region\nSUP1,A,east\n\nSUP2,B,west\nSUP3,C,north\n",
            [1, 2, 3],
            "SUP1,A,east",
        ),
        (
            "warehouses",
            "warehouses_2026-11-21.jsonl",
            b'{"wh": "WH01", "region": "east"}\n\n{"wh": "WH02", "region": "west"}\n',
            [1, 3],  # JSON Lines are numbered by line, as their reader numbers them
            '{"wh": "WH01", "region": "east"}',
        ),
        (
            "suppliers",
            "suppliers_2026-11-21.parquet",
            _parquet(pa.table({"supplier": ["SUP1", "SUP2"], "region": ["east", "west"]})),
            [1, 2],
            '{"supplier": "SUP1", "region": "east"}',
        ),
    ],
)
def test_a_file_without_a_required_column_keeps_each_of_its_rows_in_quarantine(
    lake, source, name, data, numbers, first_text
):
    delivered = len(numbers)
    spec = SOURCES[source]
    if name.endswith(".parquet"):
        from dataclasses import replace

        spec = replace(spec, format="parquet", files="suppliers_*.parquet")
    lake.write_bytes(f"landing/{source}/{name}", data)
    result = ingest_snapshot(lake, spec)
    (outcome,) = result.files
    assert (outcome.status, outcome.delivered, outcome.quarantined, outcome.accepted) == (
        "rejected",
        delivered,
        delivered,
        0,
    )
    rows = lake.read_table(quarantine_path(spec, date(2026, 11, 21))).to_pylist()
    assert [r["_source_row"] for r in rows] == numbers
    assert rows[0]["_raw_text"] == first_text and {r["_reason_code"] for r in rows} == {"missing_column"}


def test_a_workbook_without_a_required_column_keeps_each_of_its_rows_in_quarantine(lake):
    data = xlsx_bytes([["sku", "title"], ["SKU1", "cup"], [None, None], ["SKU2", "pot"]])
    lake.write_bytes("landing/suppliers/suppliers_2026-11-01.csv", b"supplier_id,name,region\nSUP001,Acme,east\n")
    ingest_snapshot(lake, SOURCES["suppliers"])
    lake.write_bytes("landing/products/products_2026-11-21.xlsx", data)
    result = ingest_snapshot(lake, SOURCES["products"])
    assert (result.files[0].delivered, result.quarantined) == (2, 2)
    rows = lake.read_table(quarantine_path(SOURCES["products"], date(2026, 11, 21))).to_pylist()
    assert [(r["_source_row"], r["_raw_text"]) for r in rows] == [(1, "SKU1,cup"), (3, "SKU2,pot")]


@pytest.mark.parametrize(
    "data, code, delivered",
    [(b"", "empty_file", 0), (b"supplier_id,name,region\nSUP1,\xff\xfe,east\n", "undecodable", None)],
)
def test_a_file_that_cannot_be_split_into_rows_is_one_row_and_says_what_it_delivered(lake, data, code, delivered):
    lake.write_bytes("landing/suppliers/suppliers_2026-11-21.csv", data)
    result = ingest_snapshot(lake, SOURCES["suppliers"])
    (outcome,) = result.files
    assert (outcome.delivered, result.quarantined, dict(result.reasons)) == (delivered, 1, {code: 1})


# -- 6. one overlong line is quarantined, the rest loads ----------------------------------


def test_a_line_over_the_limit_is_quarantined_with_what_is_wrong_and_the_rest_loads(day_lake):
    long_row = "O8,1,2026-11-11 10:00:00,P00001,SKU0001,1,9.90,,east," + "z" * (9 << 20) + ",paid\n"
    day_lake.write_bytes(
        "landing/order_lines/order_lines_2026-11-11.csv",
        (CSV_HEADER + ROWS + long_row + ROWS[:-1].rsplit("\n", 1)[1].replace("O3", "O9") + "\n").encode(),
    )
    result = ingest_day(day_lake, ORDER_LINES, DAY)
    assert (result.accepted, result.quarantined, dict(result.reasons)) == (4, 1, {"malformed_row": 1})
    rows = day_lake.read_table(quarantine_path(ORDER_LINES, DAY)).to_pylist()
    (long,) = [r for r in rows if r["_reason_code"] == "malformed_row"]
    assert long["_source_row"] == 4 and long["_raw_text"].startswith("O8,1,") and len(long["_raw_text"]) <= RAW_CHARS
    assert "row 4 of order_lines_2026-11-11.csv: the line is 9 MB, over the limit of 8 MB" in long["_reason"]
    assert f"raise {MAX_LINE_MB_ENV}" in long["_reason"] and "straddl" not in long["_reason"]
    bronze = day_lake.read_table("bronze/order_lines")
    assert bronze.column("_source_row").to_pylist() == [1, 2, 3, 5]


def test_the_line_limit_is_configurable_and_holds_for_json_lines(lake, monkeypatch):
    monkeypatch.setenv(MAX_LINE_MB_ENV, "0.01")
    long = json.dumps({"warehouse_id": "WH02", "region": "y" * 20_000})
    lake.write_bytes(
        "landing/warehouses/warehouses_2026-11-21.jsonl",
        f'{{"warehouse_id": "WH01", "region": "east"}}\n{long}\n'.encode(),
    )
    result = ingest_snapshot(lake, SOURCES["warehouses"])
    assert (result.accepted, dict(result.reasons)) == (1, {"malformed_row": 1})
    (row,) = lake.read_table(quarantine_path(SOURCES["warehouses"], date(2026, 11, 21))).to_pylist()
    assert row["_source_row"] == 2 and "the line is 19.6 KB, over the limit of 10.2 KB" in row["_reason"]


def test_the_header_is_read_whole_however_many_columns_it_has(lake):
    many = [f"extra_{i}" for i in range(20_000)]  # about 230 KB of header
    header = "supplier_id,name,region," + ",".join(many)
    row = "SUP1,A,east" + "," * len(many)
    lake.write_bytes("landing/suppliers/suppliers_2026-11-21.csv", f"{header}\n{row}\n".encode())
    assert ingest_snapshot(lake, SOURCES["suppliers"]).accepted == 1
    lake.write_bytes("landing/suppliers/suppliers_2026-11-21.csv", f"{header},name\n{row},\n".encode())
    result = ingest_snapshot(lake, SOURCES["suppliers"])
    (outcome,) = result.rejected_files
    assert "the header repeats the column name(s) 'name' (of 20004 columns)" in outcome.error
    lake.write_bytes("landing/suppliers/suppliers_2026-11-21.csv", f"{header.replace('region', 'area')}\n".encode())
    (outcome,) = ingest_snapshot(lake, SOURCES["suppliers"]).rejected_files
    assert outcome.error.startswith("missing_column: suppliers_2026-11-21.csv has no column 'region'")


# -- 8. temporary files of killed writers are swept, live ones never -----------------------


def test_stale_temporaries_of_killed_writes_are_swept_when_the_partition_is_ingested_and_fresh_ones_kept(day_lake):
    folder = "bronze/order_lines/day=2026-11-11"
    stale, fresh = f"{folder}/.part-0.parquet.tmp-0123456789ab", f"{folder}/.part-0.parquet.tmp-ba9876543210"
    q_stale = "quarantine/order_lines/day=2026-11-11/.part-0.parquet.tmp-00000000aaaa"
    for path in (stale, fresh, q_stale):
        day_lake.write_bytes(path, b"half a partition")
    two_hours_ago = time.time() - 7200
    for path in (stale, q_stale):
        os.utime(day_lake.fs_path(path), (two_hours_ago, two_hours_ago))
    ingest_day(day_lake, ORDER_LINES, DAY)
    assert not day_lake.exists(stale) and not day_lake.exists(q_stale)
    assert day_lake.exists(fresh)
    assert [f.name for f in day_lake.list_files(folder)] == ["part-0.parquet"]


def test_stale_temporaries_are_swept_on_s3_too(s3_lake, monkeypatch):
    s3_lake.write_bytes("landing/suppliers/suppliers_2026-11-01.csv", b"supplier_id,name,region\nSUP001,Acme,east\n")
    leftover = "bronze/suppliers/.part-0.parquet.tmp-0123456789ab"
    s3_lake.write_bytes(leftover, b"half a snapshot")
    ingest_snapshot(s3_lake, SOURCES["suppliers"])
    assert s3_lake.exists(leftover)  # written a moment ago: maybe a live writer's
    monkeypatch.setattr(lake_module, "STALE_AFTER_S", -5)
    ingest_snapshot(s3_lake, SOURCES["suppliers"])
    assert not s3_lake.exists(leftover) and s3_lake.exists("bronze/suppliers/part-0.parquet")

import io
import re
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib.ingest import ingest_day, ingest_snapshot
from orchestration.lib.readers import FileRejected, read_landing_file
from orchestration.lib.sources import load_sources
from tests.conftest import write_master, xlsx_bytes

SOURCES = load_sources()


def _read(lake, source, name, data):
    path = f"landing/{source}/{name}"
    lake.write_bytes(path, data)
    (file,) = lake.list_files(f"landing/{source}", name)
    return read_landing_file(lake, SOURCES[source], file)


def test_gbk_csv_with_chinese_headers_lands_with_canonical_names(lake):
    text = "工厂编号,产线编号,商品编码,生产时间,良品数量,废品数量\nF001,F001-L1,SKU0001,2026/11/11 08:00:00,120,3\n"
    raw = _read(lake, "production_output", "production_output_2026-11-11.csv", text.encode("gb18030"))
    row = raw.table.to_pylist()[0]
    assert row == {
        "factory_id": "F001",
        "line_id": "F001-L1",
        "sku": "SKU0001",
        "produced_at": "2026/11/11 08:00:00",
        "qty_good": "120",
        "qty_scrap": "3",
        "lot_id": None,  # optional, not delivered: read as empty
        "_source_row": 1,
    }
    assert raw.renamed["良品数量"] == "qty_good"


def test_xlsx_with_chinese_headers_lands_with_canonical_names(lake):
    chinese = [c.aliases[0] for c in SOURCES["products"].columns]
    data = xlsx_bytes(
        [
            chinese,
            ["SKU0001", "保温杯", "home", "SUP001", 12.5, 39.9, 7, 200, 720],
        ]
    )
    raw = _read(lake, "products", "products_2026-11-21.xlsx", data)
    row = raw.table.to_pylist()[0]
    assert row["sku"] == "SKU0001" and row["name"] == "保温杯" and row["unit_cost"] == "12.5"
    assert row["min_order_qty"] == "200" and row["_source_row"] == 1


def test_utf8_bom_is_not_part_of_the_first_header(lake):
    raw = _read(
        lake, "partners", "partners_2026-11-21.csv", "\ufeffpartner_id,partner_type,region\nP1,store,east\n".encode()
    )
    assert raw.table.column("partner_id").to_pylist() == ["P1"]


def test_a_row_with_too_few_fields_is_kept_as_malformed_with_its_number(lake):
    data = b"supplier_id,name,region\nSUP1,A,east\nSUP2,B\nSUP3,C,west\n"
    raw = _read(lake, "suppliers", "suppliers_2026-11-21.csv", data)
    assert raw.table.column("_source_row").to_pylist() == [1, 3]
    assert [(m.row, m.text) for m in raw.malformed] == [(2, "SUP2,B")]
    assert raw.rows_delivered == 3


def test_jsonl_keeps_numbers_as_text_and_numbers_lines(lake):
    data = b'{"warehouse_id": "WH01", "region": "east"}\nnot json\n{"warehouse_id": 7, "region": "west"}\n'
    raw = _read(lake, "warehouses", "warehouses_2026-11-21.jsonl", data)
    assert raw.table.column("warehouse_id").to_pylist() == ["WH01", "7"]
    assert raw.table.column("_source_row").to_pylist() == [1, 3]
    assert raw.malformed[0].row == 2


def test_parquet_with_native_types_is_read_as_text(lake):
    import datetime as dt

    table = pa.table(
        {
            "snapshot_date": [dt.date(2026, 11, 11)],
            "warehouse_id": ["WH01"],
            "sku": ["SKU0001"],
            "on_hand": [5],
            "reserved": [1],
            "in_transit": [0],
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    raw = _read(lake, "stock_snapshots", "stock_snapshots_2026-11-11.parquet", buffer.getvalue())
    assert raw.table.to_pylist()[0]["snapshot_date"] == "2026-11-11"
    assert raw.table.to_pylist()[0]["on_hand"] == "5"


@pytest.mark.parametrize(
    "source, name, data, code, hint",
    [
        ("suppliers", "suppliers_2026-11-21.csv", b"", "empty_file", "deliver the file again"),
        (
            "production_output",
            "production_output_2026-11-11.csv",
            "工厂编号,产线编号,商品编码,生产时间,良品数量,废品数量\nF1,L1,S1,2026/11/11 08:00:00,1,".encode("gb18030")
            + b"\xff\xfe\xff\n",
            "undecodable",
            "gb18030",
        ),
        (
            "suppliers",
            "suppliers_2026-11-21.csv",
            b"supplier_id,name,region\nS1,\xff\xfe,east\n",
            "undecodable",
            "utf-8",
        ),
        (
            "stock_snapshots",
            "stock_snapshots_2026-11-11.parquet",
            b"PAR1\x00\x00garbage",
            "unreadable_file",
            "deliver the file again",
        ),
        ("products", "products_2026-11-21.xlsx", b"PK\x03\x04 not a zip", "unreadable_file", ".xlsx"),
        (
            "suppliers",
            "suppliers_2026-11-21.csv",
            b"supplier_id,supplier_name,region\nS1,A,east\n",
            "missing_column",
            "add the new header to `aliases` of suppliers.name",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_rejected_whole_with_the_fix(lake, source, name, data, code, hint):
    with pytest.raises(FileRejected) as err:
        _read(lake, source, name, data)
    assert err.value.code == code
    assert name in err.value.message and hint in err.value.message


REASON_FORM = re.compile(r"(?P<code>[a-z_]+): (?P<what>[^;]+); (?P<advice>.+)")
FILE_LEVEL = {
    "empty_file": ("suppliers", "suppliers_2026-11-21.csv", b"", "deliver the file again"),
    "undecodable": (
        "suppliers",
        "suppliers_2026-11-21.csv",
        b"supplier_id,name,region\nS1,\xff\xfe,east\n",
        "set `encoding` of this source in the sources file",
    ),
    "unreadable_file": (
        "stock_snapshots",
        "stock_snapshots_2026-11-11.parquet",
        b"PAR1\x00\x00garbage",
        "deliver the file again",
    ),
    "missing_column": (
        "suppliers",
        "suppliers_2026-11-21.csv",
        b"supplier_id,supplier_name,region\nS1,A,east\n",
        "add the new header to `aliases` of suppliers.name in the sources file",
    ),
}


@pytest.mark.parametrize("code", list(FILE_LEVEL))
def test_every_file_reason_says_what_is_wrong_and_what_to_do(lake, code):
    source, name, data, advice = FILE_LEVEL[code]
    with pytest.raises(FileRejected) as err:
        _read(lake, source, name, data)
    form = REASON_FORM.fullmatch(str(err.value))
    assert form and form["code"] == code == err.value.code, str(err.value)
    assert advice in form["advice"], str(err.value)


def test_a_very_long_header_is_cut_in_the_reason(lake):
    header = ",".join(f"column_{i}_{'x' * 40}" for i in range(20))
    with pytest.raises(FileRejected, match="missing_column") as err:
        _read(lake, "suppliers", "suppliers_2026-11-21.csv", f"{header}\n{','.join('v' * 20)}\n".encode())
    assert len(str(err.value)) < 400 and "..." in str(err.value)


ORDER_HEADER = "order_id,line_no,ordered_at,partner_id,sku,qty,unit_price,discount,region,live_session_id,status\n"
ORDER_ROW = "O1,1,2026-11-11 10:00:00,P00001,SKU0001,2,9.90,,east,,paid\n"


@pytest.mark.parametrize(
    "source, files, code, advice",
    [
        (
            "order_lines",
            {"order_lines_2026-11-11.csv": ORDER_HEADER + ORDER_ROW + "O2,1,2026-11-11\n"},
            "malformed_row",
            "quote the fields that hold the delimiter",
        ),
        (
            "warehouses",
            {"warehouses_2026-11-21.jsonl": '{"warehouse_id": "WH01", "region": "east"}\n{"warehouse_id": "WH02",\n'},
            "malformed_row",
            "write the line as one JSON object",
        ),
        (
            "order_lines",
            {
                "order_lines_2026-11-11.csv": ORDER_HEADER + ORDER_ROW,
                "order_lines_2026-11-11_resent.csv": ORDER_HEADER + ORDER_ROW,
            },
            "duplicate_file",
            "remove the repeated delivery from the landing zone",
        ),
    ],
)
def test_rows_refused_while_reading_say_what_to_do(lake, source, files, code, advice):
    write_master(lake)
    for name, text in files.items():
        lake.write_bytes(f"landing/{source}/{name}", text.encode())
    spec = SOURCES[source]
    if spec.is_daily:
        ingest_day(lake, spec, date(2026, 11, 11))
    else:
        ingest_snapshot(lake, spec)
    quarantined = [lake.read_table(f.path) for f in lake.list_files(spec.quarantine_dir, "*.parquet", recursive=True)]
    reasons = [r for t in quarantined for r in t.column("_reason").to_pylist() if r.startswith(code)]
    assert reasons
    for reason in reasons:
        form = REASON_FORM.fullmatch(reason)
        assert form and form["code"] == code and advice in form["advice"], reason

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from orchestration.lib.readers import FileRejected, read_landing_file
from orchestration.lib.sources import load_sources
from tests.conftest import xlsx_bytes

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
        ("suppliers", "suppliers_2026-11-21.csv", b"", "empty_file", "deliver it again"),
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
            "deliver it again",
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

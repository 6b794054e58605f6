"""The onboarding assistant's detectors on tiny inputs, and its proposal on small folders."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from orchestration.lib.onboard import detect, mapping, naming
from orchestration.lib.onboard.command import Refused, check_out
from orchestration.lib.onboard.proposal import canonical, propose, render
from orchestration.lib.sources import load_sources
from tests.conftest import xlsx_bytes

SOURCES = canonical()
ORDER_HEADER_ZH = "订单号,行号,下单时间,分销商编号,商品编码,数量,单价,折扣,区域,直播场次,状态"
ORDER_ROW = "O1,1,2026-11-11 20:00:00,P00001,SKU0001,2,9.90,0.00,east,,paid"


# -- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ((ORDER_HEADER_ZH + "\n").encode("gb18030"), "gb18030"),
        ((ORDER_HEADER_ZH + "\n").encode("gbk"), "gb18030"),
        (b"\xef\xbb\xbf" + (ORDER_HEADER_ZH + "\n").encode("utf-8"), "utf-8-sig"),
        ((ORDER_HEADER_ZH + "\n").encode("utf-8"), "utf-8"),
        (b"order_id,qty\nO1,2\n", "utf-8"),
    ],
    ids=["gb18030", "gbk", "utf-8-bom", "utf-8", "ascii"],
)
def test_encoding_is_the_one_that_decodes_the_bytes(data, expected):
    assert detect.detect_encoding(data).value == expected


def test_a_sample_cut_inside_a_chinese_character_still_reads_as_utf8():
    data = ("订单号,数量\n" * 10).encode("utf-8")
    assert detect.detect_encoding(data[:-5], complete=False).value == "utf-8"


def test_plain_ascii_is_utf8_with_less_confidence_than_chinese_text():
    ascii_guess = detect.detect_encoding(b"a,b\n1,2\n")
    chinese_guess = detect.detect_encoding("订单号\n".encode())
    assert ascii_guess.confidence < chinese_guess.confidence


# -- delimiters and header rows ----------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_delimiter_is_the_one_that_splits_every_line_alike(delimiter):
    lines = [delimiter.join(["sku", "name", "qty"]), delimiter.join(["SKU1", "cup, blue", "3"])]
    if delimiter == ",":
        lines[1] = 'SKU1,"cup, blue",3'
    assert detect.detect_delimiter(lines).value == delimiter


def test_a_semicolon_file_with_decimal_commas_is_semicolon_separated():
    lines = ["sku;price;qty", "SKU1;9,90;3", "SKU2;12,50;1"]
    assert detect.detect_delimiter(lines).value == ";"


@pytest.mark.parametrize(
    ("lines", "skip"),
    [
        (["order_id,qty,sku", "O1,2,SKU1", "O2,3,SKU2"], 0),
        (["销售订单导出", "导出时间 2026-11-12", "订单号,数量,商品编码", "O1,2,SKU1", "O2,3,SKU2"], 2),
        (["", "订单号,数量,商品编码", "O1,2,SKU1"], 1),
    ],
    ids=["header-first", "two-title-lines", "blank-line-first"],
)
def test_header_row_is_the_first_line_of_names_as_wide_as_the_rows(lines, skip):
    assert detect.detect_header_row(lines, ",").value == skip


# -- formats -------------------------------------------------------------------------------------


def _parquet_bytes() -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"sku": ["SKU1"]}), sink)
    return sink.getvalue().to_pybytes()


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("orders.csv", b"a,b\n1,2\n", "csv"),
        ("orders.txt", b"a\tb\n1\t2\n", "csv"),
        ("stock.jsonl", b'{"a": 1}\n{"a": 2}\n', "jsonl"),
        ("stock.json", b'{"a": 1}\n', "jsonl"),
        ("stock.parquet", _parquet_bytes(), "parquet"),
        ("stock.bin", _parquet_bytes(), "parquet"),
        ("products.xlsx", xlsx_bytes([["sku"], ["SKU1"]]), "xlsx"),
    ],
)
def test_format_comes_from_the_bytes_then_the_extension(name, data, expected):
    assert detect.detect_format(name, data).value == expected


# -- names: days, stems, groups, globs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "pattern", "day"),
    [
        ("销售订单_20261111.csv", "%Y%m%d", date(2026, 11, 11)),
        ("销售订单_20261111_重发.csv", "%Y%m%d", date(2026, 11, 11)),
        ("order_lines_2026-11-11.csv", "%Y-%m-%d", date(2026, 11, 11)),
        ("stock_2026_11_11.jsonl", "%Y_%m_%d", date(2026, 11, 11)),
        ("sales.2026.11.11.csv", "%Y.%m.%d", date(2026, 11, 11)),
        ("销售订单_20261111093000.csv", "%Y%m%d", date(2026, 11, 11)),
        ("商品主数据.csv", None, None),
        ("export_12345678.csv", None, None),  # eight digits that are no date
    ],
)
def test_the_day_in_a_name_and_its_pattern(name, pattern, day):
    found = naming.find_day(name)
    assert (found.pattern if found else None) == pattern
    assert (found.day if found else None) == day


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("销售订单_20261111.csv", "销售订单"),
        ("销售订单_20261111_重发.csv", "销售订单"),
        ("order_lines_2026-11-11.csv", "order_lines"),
        ("stock-2026_11_11-resend.jsonl", "stock"),
        ("商品主数据.csv", "商品主数据"),
        ("商品主数据 (1).csv", "商品主数据"),
        ("sales_20261111_east.csv", "sales_*_east"),
        ("销售订单_20261111093000.csv", "销售订单"),
    ],
)
def test_stem_drops_the_day_and_resend_suffixes(name, stem):
    assert naming.stem(name) == stem


def test_files_group_by_stem_and_extension_and_each_glob_matches_only_its_group(tmp_path):
    names = [
        "销售订单_20261110.csv",
        "销售订单_20261111.csv",
        "销售订单_20261111_重发.csv",
        "销售订单明细_20261111.csv",
        "库存快照_20261111.jsonl",
        "库存快照_20261111.csv",
        "商品主数据.csv",
    ]
    files = [tmp_path / n for n in names]
    groups = {g.label: g for g in naming.group_files(files)}
    assert set(groups) == {"销售订单.csv", "销售订单明细.csv", "库存快照.jsonl", "库存快照.csv", "商品主数据.csv"}
    assert len(groups["销售订单.csv"].files) == 3
    assert groups["销售订单.csv"].day_in_name == "%Y%m%d"
    assert groups["商品主数据.csv"].day_in_name is None
    every = list(groups.values())
    for group in every:
        glob, problems = naming.glob_for(group, every)
        assert problems == [], (group.label, glob, problems)
    assert naming.glob_for(groups["销售订单.csv"], every)[0] == "销售订单_*.csv"
    assert naming.glob_for(groups["商品主数据.csv"], every)[0] == "商品主数据.csv"


@pytest.mark.parametrize(
    "names",
    [
        ["订单[导出]_20261111.csv", "订单[导出]_20261112.csv"],
        ["sales report 2026-11-11.csv", "sales report 2026-11-12 (1).csv"],
        ["stock?_2026_11_11.jsonl"],
    ],
    ids=["brackets", "spaces", "question-mark"],
)
def test_globs_match_names_with_spaces_and_glob_characters_literally(tmp_path, names):
    import fnmatch

    groups = naming.group_files([tmp_path / n for n in names])
    assert len(groups) == 1
    glob, problems = naming.glob_for(groups[0], groups)
    assert problems == [] and all(fnmatch.fnmatch(n, glob) for n in names)
    assert not fnmatch.fnmatch("other_20261111.csv", glob)


def test_a_proposed_day_pattern_finds_the_same_day_as_the_ingestion_will():
    from orchestration.lib.sources import day_pattern

    names = [
        "销售订单_20261111_重发.csv",
        "销售订单_20261111093000.csv",
        "stock_2026_11_11.jsonl",
        "orders-2026-11-11.csv",
    ]
    for name in names:
        found = naming.find_day(name)
        match = day_pattern(found.pattern).search(name)
        assert date(int(match["year"]), int(match["month"]), int(match["day"])) == found.day


def test_hidden_files_are_not_deliveries(tmp_path):
    (tmp_path / ".DS_Store").write_bytes(b"x")
    (tmp_path / "~$orders.xlsx").write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "orders.csv").write_text("a\n")
    assert [p.name for p in naming.scan(tmp_path)] == ["orders.csv"]


# -- headers to columns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "values", "source", "column"),
    [
        ("订单号", ["O1", "O2"], "order_lines", "order_id"),
        ("order_id", ["O1"], "order_lines", "order_id"),
        ("Order ID", ["O1"], "order_lines", "order_id"),
        ("下单时间", ["2026-11-11 20:00:00"], "order_lines", "ordered_at"),
        ("order_time", ["2026/11/11 20:00"], "order_lines", "ordered_at"),
        ("数量", ["2", "3"], "order_lines", "qty"),
        ("quantity", ["2", "3"], "order_lines", "qty"),
        ("日期", ["2026-11-11"], "stock_snapshots", "snapshot_date"),
        ("在库数量", ["12"], "stock_snapshots", "on_hand"),
        ("warehouse_code", ["WH01"], "stock_snapshots", "warehouse_id"),
        ("产线", ["F1-L1"], "production_output", "line_id"),
        ("渠道类型", ["store"], "partners", "partner_type"),
    ],
)
def test_chinese_and_english_headers_map_to_their_canonical_column(header, values, source, column):
    match = mapping.match_source(SOURCES[source], [header], {header: values})
    mapped = {c.header: c.column for c in match.mapped}
    assert mapped == {header: column}


def test_a_known_alias_is_surer_than_a_dictionary_synonym_and_both_surer_than_a_resemblance():
    col = SOURCES["order_lines"].column("order_id")
    alias = mapping.match_column("订单号", ["O1"], col)
    synonym = mapping.match_column("订单编号", ["O1"], col)
    resembles = mapping.match_column("原始订单号码", ["O1"], col)
    assert alias.known and not synonym.known
    assert alias.confidence > synonym.confidence > resembles.confidence


def test_values_of_the_wrong_type_lower_the_confidence():
    col = SOURCES["order_lines"].column("qty")
    numbers = mapping.match_column("数量", ["2", "3"], col)
    words = mapping.match_column("数量", ["很多", "一些"], col)
    assert numbers.confidence > words.confidence


def test_values_found_in_master_data_map_a_header_nobody_knows():
    keys = {("products", "sku"): {"SKU0001", "SKU0002"}}
    col = SOURCES["order_lines"].column("sku")
    match = mapping.match_column("货品", ["SKU0001", "SKU0002"], col, keys)
    assert match is not None and "known products.sku" in match.evidence


def test_the_source_is_the_one_whose_columns_explain_the_headers():
    headers = ["工厂编号", "产线", "商品编码", "报工时间", "良品数量", "废品数量"]
    values = {h: [] for h in headers}
    ranking = mapping.rank_sources(SOURCES, headers, values, "生产报工")
    assert ranking[0].source == "production_output"
    assert ranking[0].missing_required == []


def test_missing_required_columns_and_unmapped_headers_are_listed():
    headers = ["订单号", "商品编码", "数量", "备注"]
    match = mapping.match_source(SOURCES["order_lines"], headers, {h: [] for h in headers})
    assert "ordered_at" in match.missing_required and "partner_id" in match.missing_required
    assert match.unmapped == ["备注"]


# -- the proposal on small folders -------------------------------------------------------------------


def _small_platform(folder: Path) -> None:
    folder.mkdir()
    rows = [ORDER_HEADER_ZH, ORDER_ROW, ORDER_ROW.replace("O1", "O2")]
    for day in ("20261111", "20261112"):
        (folder / f"销售订单_{day}.csv").write_bytes(("\n".join(rows) + "\n").encode("gb18030"))
    (folder / "销售订单_20261112_重发.csv").write_bytes(("\n".join(rows) + "\n").encode("gb18030"))
    stock = [
        {"日期": "2026-11-11", "仓库编号": "WH01", "商品编码": "SKU0001", "在库数量": 5, "预占数量": 0, "在途数量": 0}
    ]
    (folder / "库存快照_2026_11_11.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in stock), encoding="utf-8"
    )
    (folder / "商品主数据.csv").write_bytes(
        "\ufeffsku;name;category;supplier_id;unit_cost;unit_price;lead_time_days;min_order_qty\n"
        "SKU0001;cup;home;SUP001;1.00;2.00;7;10\n".encode()
    )
    (folder / "partners.csv").write_text("partner_id,partner_type,region\nP00001,store,east\n")


def test_a_small_platform_gets_one_entry_per_source_with_its_format_encoding_and_day_pattern(tmp_path):
    folder = tmp_path / "acme"
    _small_platform(folder)
    proposal = propose(folder)
    by_source = {g.source: g for g in proposal.chosen}
    assert set(by_source) == {"order_lines", "stock_snapshots", "products", "partners"}
    orders = by_source["order_lines"]
    assert (orders.format.value, orders.encoding.value, orders.day_in_name.value) == ("csv", "gb18030", "%Y%m%d")
    assert orders.files.value == "销售订单_*.csv" and len(orders.group.files) == 3
    stock = by_source["stock_snapshots"]
    assert (stock.format.value, stock.day_in_name.value) == ("jsonl", "%Y_%m_%d")
    products = by_source["products"]
    assert (products.encoding.value, products.delimiter.value, products.day_in_name.value) == (
        "utf-8-sig",
        ";",
        None,
    )
    assert "stock_movements" in proposal.absent


def test_the_rendered_proposal_is_a_sources_file_the_platform_loads(tmp_path):
    folder = tmp_path / "acme"
    _small_platform(folder)
    out = tmp_path / "sources.proposed.yaml"
    out.write_text(render(propose(folder)), encoding="utf-8")
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["sources"]["stock_snapshots"]["columns"]["on_hand"] == {"aliases": ["在库数量"]}
    sources = load_sources(out)
    assert set(sources) == {"order_lines", "stock_snapshots", "products", "partners"}
    assert sources["order_lines"].day_of("销售订单_20261112_重发.csv") == date(2026, 11, 12)
    assert sources["products"].delimiter == ";" and sources["products"].day_in_name is None
    assert "在库数量" in sources["stock_snapshots"].column("on_hand").aliases


def test_proposing_writes_nothing_into_the_delivered_folder(tmp_path):
    folder = tmp_path / "acme"
    _small_platform(folder)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    propose(folder)
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


@pytest.mark.parametrize(
    "where",
    ["inside the folder", "the built-in sources file", "the live sources file", "a file not proposed"],
)
def test_the_proposal_is_never_written_over_the_users_files_or_a_live_config(tmp_path, where):
    from orchestration.lib.paths import SOURCES_FILE

    folder = tmp_path / "acme"
    folder.mkdir()
    live = tmp_path / "live.yaml"
    live.write_text("sources: {}\n")
    other = tmp_path / "notes.yaml"
    other.write_text("my notes\n")
    out = {
        "inside the folder": folder / "proposal.yaml",
        "the built-in sources file": SOURCES_FILE,
        "the live sources file": live,
        "a file not proposed": other,
    }[where]
    with pytest.raises(Refused):
        check_out(out, folder, str(live))


# -- the CLI ---------------------------------------------------------------------------------------


def test_the_foreign_demo_is_the_same_bytes_for_the_same_seed(tmp_path):
    from orchestration.lib.demo.foreign import write_foreign

    first, second = write_foreign(tmp_path / "a", days=2), write_foreign(tmp_path / "b", days=2)
    assert first == second
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)


def test_the_foreign_demo_is_written_only_into_an_empty_folder(tmp_path, capsys):
    from orchestration.cli import main

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "orders.csv").write_text("mine\n")
    assert main(["demo", "--shape", "foreign", "--out", str(folder)]) == 2
    assert "already holds files" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["orders.csv"]


def test_onboard_writes_the_proposal_where_asked_and_refuses_the_delivered_folder(tmp_path, capsys):
    from orchestration.cli import main

    folder = tmp_path / "acme"
    _small_platform(folder)
    assert main(["onboard", str(folder), "--out", str(folder / "p.yaml"), "--no-dry-run"]) == 2
    assert "inside" in capsys.readouterr().err
    out = tmp_path / "p.yaml"
    assert main(["onboard", str(folder), "--out", str(out), "--no-dry-run"]) == 0
    assert set(load_sources(out)) == {"order_lines", "stock_snapshots", "products", "partners"}
    assert "p.yaml" not in [p.name for p in folder.iterdir()]

import pytest

from orchestration.lib.sources import SourceConfigError, load_sources, parse_sources


def _doc(**column):
    return {
        "sources": {
            "things": {
                "domain": "sales",
                "format": "csv",
                "key": ["id"],
                "columns": {"id": {"type": "string"}, **column},
            }
        }
    }


def test_every_declared_source_loads_with_a_bronze_schema():
    sources = load_sources()
    assert {"suppliers", "products", "order_lines", "production_output", "stock_snapshots"} <= set(sources)
    for source in sources.values():
        assert source.schema.names[-2:] == ["_source_file", "_source_row"]
        assert set(source.key) <= set(source.schema.names)


@pytest.mark.parametrize(
    "doc, message",
    [
        (_doc(qty={"type": "integer"}), "use one of"),
        (_doc(sku={"references": "products"}), "<entity>.<column>"),
        (_doc(sku={"references": "nowhere.sku"}), "unknown source 'nowhere'"),
        (_doc(**{"Bad Name": {"type": "string"}}), "lower_snake_case"),
        (_doc(qty={"type": "int64", "maximum": 3}), "unknown settings"),
        ({"sources": {"things": {"domain": "sales", "format": "xml", "columns": {}}}}, "format 'xml'"),
    ],
)
def test_a_mistake_in_sources_yaml_is_named_with_the_fix(doc, message):
    with pytest.raises(SourceConfigError, match=message):
        parse_sources(doc)


@pytest.mark.parametrize(
    "name, day",
    [
        ("order_lines_2026-11-11.csv", "2026-11-11"),
        ("order_lines_2026-11-11_resend.csv", "2026-11-11"),
        ("order_lines_latest.csv", None),
        ("order_lines_2026-13-45.csv", None),
    ],
)
def test_the_business_day_of_a_file_comes_from_its_name(name, day):
    found = load_sources()["order_lines"].day_of(name)
    assert (found.isoformat() if found else None) == day


def _platform(tmp_path, text: str):
    path = tmp_path / "platform.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_platform_file_lists_only_what_it_delivers_and_keeps_the_canonical_rules(tmp_path):
    from orchestration.lib.sources import absent_sources, canonical_sources

    path = _platform(
        tmp_path,
        """
platform: acme
defaults: {history_start: 2026-09-01}
sources:
  order_lines:
    encoding: gb18030
    files: "销售订单_*.csv"
    day_in_name: "%Y%m%d"
    columns:
      order_id: {aliases: [单号]}
  products: {format: csv, encoding: utf-8-sig, files: "商品*.csv", day_in_name: null, delimiter: ";"}
  suppliers: {}
""",
    )
    sources = load_sources(path)
    assert list(sources) == ["order_lines", "products", "suppliers"]
    orders, canonical = sources["order_lines"], canonical_sources()["order_lines"]
    assert orders.column("order_id").aliases == ("单号", "订单号")
    assert (orders.encoding, orders.files, orders.day_in_name) == ("gb18030", "销售订单_*.csv", "%Y%m%d")
    assert orders.key == canonical.key and orders.column("qty").min == 1  # the rules stay canonical
    assert orders.column("partner_id").references is None  # no partners delivered: nothing to check against
    assert sources["products"].column("supplier_id").references == ("suppliers", "supplier_id")
    assert sources["products"].delimiter == ";" and sources["products"].day_in_name is None
    assert "stock_movements" in absent_sources(path) and "order_lines" not in absent_sources(path)
    from orchestration.lib.sources import history_start

    assert history_start(path).isoformat() == "2026-09-01"


@pytest.mark.parametrize(
    "entry, message",
    [
        ("order_lines: {key: [order_id]}", "may set folder, format"),
        ("order_lines: {columns: {qty: {min: 0}}}", "add `aliases`"),
        ("order_lines: {columns: {quantity: {aliases: [数量]}}}", "no canonical column 'quantity'"),
        ("order_lines: {day_in_name: '%Y%m'}", "%Y, %m and %d once each"),
        ("order_lines: {encoding: gb2312x}", "Python does not know"),
        ("order_lines: {delimiter: ';;'}", "one character"),
    ],
)
def test_a_platform_file_that_asks_the_impossible_is_refused_with_the_fix(tmp_path, entry, message):
    path = _platform(tmp_path, f"sources:\n  {entry}\n")
    with pytest.raises(SourceConfigError, match=message) as err:
        load_sources(path)
    assert str(path) in str(err.value)


def test_a_missing_platform_file_says_how_to_get_one(tmp_path):
    with pytest.raises(SourceConfigError, match="onboard"):
        load_sources(tmp_path / "nowhere.yaml")


def test_a_platform_file_in_the_lakes_bucket_is_read_from_s3(s3_lake, monkeypatch):
    from orchestration.lib.settings import SOURCES_ENV

    s3_lake.write_bytes("config/sources.yaml", "sources:\n  order_lines: {files: '订单_*.csv'}\n".encode())
    monkeypatch.setenv(SOURCES_ENV, s3_lake.uri("config/sources.yaml"))
    assert {name: s.files for name, s in load_sources().items()} == {"order_lines": "订单_*.csv"}

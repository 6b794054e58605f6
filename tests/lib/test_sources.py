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

import pyarrow as pa

from orchestration.lib.report import markdown_table


def test_a_small_table_renders_as_markdown_with_readable_numbers():
    table = pa.table({"sku": ["A", None], "units": [1200.0, 0.0], "share": [0.12345, None]})
    assert markdown_table(table).splitlines() == [
        "| sku | units | share |",
        "|---|---|---|",
        "| A | 1,200 | 0.123 |",
        "|  | 0 |  |",
    ]

"""The gates' Data Docs read offline: every file a page loads is in the site, and an index links them."""

import re
from pathlib import Path

import pytest

from expectations import supplier_replenishment
from expectations.data_docs import VENDOR, offline_html
from expectations.gate import DOCS_INDEX, run_keyed_gate
from tests.replenishment import DAY, mart_rows

LOADS = re.compile(r'<script[^>]*\bsrc="([^"]+)"|<link[^>]*\bhref="([^"]+)"|url\(\'([^\']+)\'\)')


def _gate(lake, supplier: str, **columns):
    """The suppliers' gate over one supplier's rows, its result filed under the supplier's name."""
    rows = mart_rows(supplier, **columns)
    batches = supplier_replenishment.batches([(supplier, rows, None)], DAY)
    return run_keyed_gate(
        lake, supplier_replenishment.NAME, batches, supplier_replenishment.FILE_SUPPLIER, supplier
    ).result


def _loads(page: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in LOADS.finditer(page)]


def test_a_page_loads_only_files_of_its_own_site(lake):
    result = _gate(lake, "SUP001")
    page = Path(result.docs)
    loads = _loads(page.read_text(encoding="utf-8"))
    assert loads and not [u for u in loads if "://" in u or u.startswith("//")], loads
    for rel in loads:
        assert (page.parent / rel).resolve().is_file(), rel
    assert any(f"{VENDOR}/bootstrap/bootstrap.min.css" in u for u in loads)
    assert any(f"{VENDOR}/jquery/jquery.min.js" in u for u in loads)
    site = Path(lake.fs_path("gates/docs"))
    assert list((site / VENDOR / "fontawesome/webfonts").glob("fa-solid-900.woff2"))


def test_the_index_shows_each_gates_latest_result_per_partition_and_links_its_page(lake):
    _gate(lake, "SUP001")
    latest = _gate(lake, "SUP001")
    failed = _gate(lake, "SUP002", suggested_qty=-5)
    index = Path(lake.fs_path(DOCS_INDEX))
    text = index.read_text(encoding="utf-8")
    rows = {
        m[0]: m
        for m in re.findall(
            r"<tr><td>(SUP\d+)</td><td><span[^>]*>([^<]+)</span>.*?href=\"([^\"]+)\".*?<td>(\d*)</td></tr>", text
        )
    }
    assert rows["SUP001"][1] == "passed" and rows["SUP002"][1] == "failed"
    assert rows["SUP001"][3] == "1"  # one earlier result
    for supplier, result in (("SUP001", latest), ("SUP002", failed)):
        assert (index.parent / rows[supplier][2]).resolve() == Path(result.docs).resolve()
    assert all((index.parent / u).is_file() for u in _loads(text) if not u.endswith(".ico"))


def test_the_site_and_its_index_are_uploaded_to_an_s3_lake(s3_lake):
    result = _gate(s3_lake, "SUP001")
    assert result.docs.startswith("s3://")
    assert s3_lake.exists(f"gates/docs/{VENDOR}/bootstrap/bootstrap.min.css")
    assert "SUP001" in s3_lake.read_bytes(DOCS_INDEX).decode()
    page = s3_lake.read_bytes(result.docs.split("/lake/", 1)[1]).decode()
    assert not [u for u in _loads(page) if "://" in u]


@pytest.mark.parametrize(
    "tag, kept",
    [
        ('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>', '<script src="../static/vendor/jquery'),
        ('<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">', ""),
        ('<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>', ""),
    ],
)
def test_cdn_files_are_taken_from_the_site_or_left_out(tag, kept):
    rewritten = offline_html(f"<head>{tag}</head>", "../")
    assert rewritten.startswith(f"<head>{kept}") and "https://" not in rewritten


def test_the_ui_links_the_index_and_the_page_where_make_ui_serves_them(lake, monkeypatch):
    from orchestration.defs.feeds.checks import docs_links

    result = _gate(lake, "SUP001")
    links = {name: value.value for name, value in docs_links(lake, result.docs).items()}
    assert links["data_docs_index"] == "http://127.0.0.1:3001/index.html"
    page = links["data_docs_page"]
    assert page.startswith("http://127.0.0.1:3001/validations/supplier_replenishment/rows/SUP001-rows-")
    assert Path(lake.fs_path("gates/docs/" + page.removeprefix("http://127.0.0.1:3001/"))).is_file()
    monkeypatch.setenv("SUPPLYLOOP_DOCS_URL", "https://docs.example/gates")
    assert docs_links(lake, result.docs)["data_docs_index"].value == "https://docs.example/gates/index.html"


def test_an_s3_lake_gets_links_only_where_its_docs_are_served(s3_lake, monkeypatch):
    from orchestration.defs.feeds.checks import docs_links

    assert docs_links(s3_lake, "s3://x/lake/gates/docs/validations/a.html") == {}
    monkeypatch.setenv("SUPPLYLOOP_DOCS_URL", "https://docs.example/")
    links = docs_links(s3_lake, s3_lake.uri("gates/docs/validations/a.html"))
    assert links["data_docs_page"].value == "https://docs.example/validations/a.html"


def test_runs_at_once_write_the_docs_index_in_turn_so_none_leaves_out_anothers_result(lake):
    """Ingestion runs of several days at once each rewrite the index: a writer waits for the
    one before it (a lake lock), then lists what that one stored."""
    import threading
    import time

    from expectations.gate import store_result, write_docs_index
    from orchestration.lib.locks import lake_lock

    held, released = threading.Event(), []

    def other_run():
        with lake_lock(lake, "gates-docs-index", "the index", say=lambda _line: None):
            held.set()
            time.sleep(1.5)
            store_result(lake, "order_lines", "2026-11-02", failed=[], evaluated=1)  # stored while it holds the turn
            released.append(time.monotonic())

    store_result(lake, "order_lines", "2026-11-01", failed=[], evaluated=1)
    thread = threading.Thread(target=other_run)
    thread.start()
    held.wait(10)
    write_docs_index(lake)
    done = time.monotonic()
    thread.join()
    assert released and done >= released[0]  # it waited its turn
    page = lake.read_bytes("gates/docs/index.html").decode()
    assert "2026-11-01" in page and "2026-11-02" in page  # and listed after the other stored its result

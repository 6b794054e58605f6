"""The CLI never writes where a platform's data is: no demo over somebody's files, no silent pass-over."""

import pytest

from orchestration.cli import main
from orchestration.lib.lake import LakeStore

FOREIGN = {
    "landing/销售订单_20261111.csv": "订单号,数量\nA1,2\n".encode("gb18030"),
    "landing/orders/export 2026-11-11.CSV": b"order_id,qty\nA1,2\n",
}


def _everything(store: LakeStore) -> dict[str, bytes]:
    return {f.path: store.read_bytes(f.path) for f in store.list_files("", recursive=True)}


@pytest.fixture(params=["local", "s3"])
def any_lake(request) -> LakeStore:
    return request.getfixturevalue("lake" if request.param == "local" else "s3_lake")


def _refused(store: LakeStore, capsys, *args: str) -> str:
    before = _everything(store)
    assert main(["--lake", store.root, *args]) == 2
    assert _everything(store) == before, "a refused command wrote or deleted something"
    return capsys.readouterr().err


def test_files_that_match_no_source_are_listed_with_the_fix_and_nothing_is_written(any_lake, capsys):
    for path, data in FOREIGN.items():
        any_lake.write_bytes(path, data)
    err = _refused(any_lake, capsys, "run")
    assert "销售订单_20261111.csv" in err and "orders/export 2026-11-11.CSV" in err
    assert "no source's" in err and "SUPPLYLOOP_SOURCES" in err and "onboard" in err


@pytest.mark.parametrize("command", [["run", "--demo"], ["demo"], ["run", "--fresh"]])
def test_the_demo_is_never_written_over_a_platforms_files(any_lake, capsys, command):
    any_lake.write_bytes("landing/order_lines/订单 20261111.csv", FOREIGN["landing/销售订单_20261111.csv"])
    err = _refused(any_lake, capsys, *command)
    assert "not the demo's" in err and "订单 20261111.csv" in err


def test_an_empty_landing_zone_on_s3_gets_no_demo_unasked(s3_lake, capsys):
    err = _refused(s3_lake, capsys, "run")
    assert "the lake is on S3" in err and "--demo" in err


def test_an_empty_landing_root_gets_no_demo_unasked(lake, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANDING_ROOT", str(tmp_path / "deliveries"))
    store = LakeStore(lake.root)
    err = _refused(store, capsys, "run")
    assert "LANDING_ROOT is set" in err
    assert not (tmp_path / "deliveries").exists()


def test_a_file_beside_the_read_ones_is_reported_not_passed_over(lake):
    from orchestration.lib.deliveries import audit_landing
    from orchestration.lib.sources import load_sources

    lake.write_bytes("landing/order_lines/order_lines_2026-11-11.csv", b"x")
    lake.write_bytes("landing/order_lines/-order_lines_2026-11-12.txt", b"x")
    lake.write_bytes("landing/order_lines/old/order_lines_2026-11-10.csv", b"x")
    audit = audit_landing(lake, load_sources())
    assert [f.name for f in audit.matched["order_lines"]] == ["order_lines_2026-11-11.csv"]
    report = audit.unmatched_report()
    assert "order_lines/-order_lines_2026-11-12.txt: its name matches no `files` pattern" in report
    assert "order_lines/old/order_lines_2026-11-10.csv: it lies in a subfolder" in report


def test_sources_that_share_one_folder_are_told_apart_by_their_patterns(lake):
    from dataclasses import replace

    from orchestration.lib.deliveries import audit_landing
    from orchestration.lib.sources import canonical_sources

    canonical = canonical_sources()
    sources = {
        "order_lines": replace(canonical["order_lines"], folder="", files="销售订单_*.csv"),
        "products": replace(canonical["products"], folder="", files="商品*.csv"),
        "suppliers": replace(canonical["suppliers"], folder="", files="*.csv"),
    }
    for name in ("销售订单_20261111.csv", "商品主数据.csv", "readme.txt"):
        lake.write_bytes(f"landing/{name}", b"x")
    audit = audit_landing(lake, sources)
    assert [u.file.name for u in audit.unmatched] == ["readme.txt"]
    assert sorted(u.file.name for u in audit.ambiguous) == ["商品主数据.csv", "销售订单_20261111.csv"]
    assert "make their `files` patterns tell them apart" in audit.ambiguous_report()
    sources["suppliers"] = replace(sources["suppliers"], files="供应商*.csv")
    audit = audit_landing(lake, sources)
    assert not audit.ambiguous and [f.name for f in audit.matched["order_lines"]] == ["销售订单_20261111.csv"]


def test_a_demo_lake_does_not_vouch_for_a_landing_root_elsewhere(lake, tmp_path, monkeypatch, capsys):
    """A lake that once held the demo, now pointed at a platform's deliveries: nothing is replaced."""
    lake.write_bytes("_demo/truth.json", b"{}")
    deliveries = tmp_path / "deliveries"
    (deliveries / "order_lines").mkdir(parents=True)
    (deliveries / "order_lines" / "order_lines_2026-11-11.csv").write_bytes(b"order_id\nA1\n")
    monkeypatch.setenv("LANDING_ROOT", str(deliveries))
    store = LakeStore(lake.root)
    for command in (["run", "--fresh"], ["run", "--demo"], ["demo"]):
        assert main(["--lake", store.root, *command]) == 2
        assert "not the demo's" in capsys.readouterr().err
    assert [p.name for p in deliveries.rglob("*")] == ["order_lines", "order_lines_2026-11-11.csv"]

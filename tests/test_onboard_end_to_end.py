"""A foreign-shaped platform onboarded with the assistant's proposal alone: accepted totals match its truth.

The fixture is the demo world exported as another platform would (Chinese names with the day
as YYYYMMDD, a re-sent file, GB18030 orders, JSON Lines stock with Chinese keys, UTF-8-BOM
products and production, plain master data without a day, a subset of the sources, a few
bad rows). The assistant proposes a sources file from the files alone; the real ingestion,
configured by nothing but that file, reads the delivered folder as its landing zone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from orchestration.lib.demo.foreign import write_foreign
from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
from orchestration.lib.lake import LakeStore
from orchestration.lib.onboard.dry_run import dry_run
from orchestration.lib.onboard.proposal import propose, render
from orchestration.lib.settings import SOURCES_ENV
from orchestration.lib.sources import absent_sources, load_sources

pytestmark = pytest.mark.slow
MASTER_ORDER = ("suppliers", "factories", "partners", "products", "warehouses")


def _state(folder: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    """The fixture, the assistant's proposal for it, and the truth."""
    root = tmp_path_factory.mktemp("acme")
    exports = root / "exports"
    truth = write_foreign(exports, seed=7, days=5)
    before = _state(exports)
    proposal = propose(exports)
    out = root / "sources.proposed.yaml"
    out.write_text(render(proposal), encoding="utf-8")
    return exports, out, proposal, truth, before


def test_the_proposal_names_every_delivered_source_and_no_other(onboarded):
    exports, out, proposal, truth, _ = onboarded
    assert {g.source for g in proposal.chosen} == set(truth["delivered_sources"])
    assert proposal.left_out == []
    assert sorted(absent_sources(out)) == sorted(truth["absent_sources"])
    by_source = {g.source: g for g in proposal.chosen}
    assert by_source["order_lines"].encoding.value == "gb18030"
    assert by_source["order_lines"].day_in_name.value == "%Y%m%d"
    assert by_source["stock_snapshots"].format.value == "jsonl"
    assert by_source["products"].encoding.value == "utf-8-sig"
    assert by_source["production_output"].encoding.value == "utf-8-sig"
    for name in ("suppliers", "partners", "warehouses", "factories", "products"):
        assert by_source[name].day_in_name.value is None


def test_ingesting_with_the_proposal_alone_accepts_exactly_the_truth(onboarded, tmp_path, monkeypatch):
    exports, out, _, truth, before = onboarded
    monkeypatch.setenv(SOURCES_ENV, str(out))
    # the delivered folder is the landing zone as it is: the proposal says where each source's files lie
    store = LakeStore(str(tmp_path / "lake"), landing=str(exports))
    sources = load_sources()
    assert set(sources) == set(truth["delivered_sources"])

    for name in MASTER_ORDER:
        result = ingest_snapshot(store, sources[name])
        expected = truth["sources"][name]
        assert (result.rows_in, result.accepted, result.quarantined) == (
            expected["delivered"],
            expected["accepted"],
            expected["quarantined"],
        ), name

    for name in sorted(set(truth["delivered_sources"]) - set(MASTER_ORDER)):
        source = sources[name]
        expected = truth["sources"][name]
        days = sorted(d for d in landing_index(store, source) if d is not None)
        assert [d.isoformat() for d in days] == truth["days"], name
        results = ingest_days(store, source, days, workers=1)
        reasons = {}
        for r in results:
            for code, n in r.reasons.items():
                reasons[code] = reasons.get(code, 0) + n
            per_day = expected["by_day"][r.day.isoformat()]
            assert (r.rows_in, r.accepted, r.quarantined) == (
                per_day["delivered"],
                per_day["accepted"],
                per_day["quarantined"],
            ), (name, r.day)
        assert reasons == expected["reasons"], name
        bronze = pq.read_table(store.uri(source.bronze_dir), partitioning="hive")
        assert bronze.num_rows == expected["accepted"], name
        assert pc.sum(bronze.column(expected["qty_column"])).as_py() == expected["qty"], name

    assert _state(exports) == before, "the delivered folder must not change"


def test_the_dry_run_reports_the_truth_and_leaves_nothing_behind(onboarded, tmp_path, monkeypatch):
    exports, out, proposal, truth, before = onboarded
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.delenv(SOURCES_ENV, raising=False)
    result = dry_run(out, proposal.sources_by_group())
    assert result.errors == {}
    for name, expected in truth["sources"].items():
        assert result.totals(name) == (expected["delivered"], expected["accepted"], expected["quarantined"]), name
    order_days = {p.day.isoformat(): p for p in result.by_source()["order_lines"]}
    assert order_days["2026-11-11"].reasons == {"duplicate_file": order_days["2026-11-11"].quarantined}
    assert "SKU9999" in order_days["2026-11-10"].examples["unknown_reference"]
    assert sorted(result.absent) == sorted(truth["absent_sources"])
    assert list(scratch.iterdir()) == [], "the temporary lake must be deleted"
    assert _state(exports) == before
    assert SOURCES_ENV not in __import__("os").environ

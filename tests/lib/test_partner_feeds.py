"""Channel-partner feeds on a lake whose partner marts the tests write: one gate for every
partner, each partner's own outcome, isolation, atomic and idempotent publishing."""

from __future__ import annotations

import json
import logging

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.lib import feeds, partner_feeds
from orchestration.lib.lake import LakeStore
from orchestration.lib.partner_feeds import (
    HELD,
    InvalidPartnerId,
    latest_manifest,
    partner_feed_store,
    publish_partner_feeds,
    read_partner_feed,
    validate_partner_id,
)
from tests.partner_marts import write_partner_marts

SECTIONS = ("benchmarks", "assortment_gaps", "allocations")
PARTNERS = {"P00001": {"gaps": 3}, "P00002": {"gaps": 0, "allocations": 2}, "P00003": {"allocations": 0}}


def quiet(_line: str) -> None:
    pass


def publish(store: LakeStore, **kwargs):
    return publish_partner_feeds(store, docs=False, say=quiet, **kwargs)


def own_rows(tables, section: str, partner: str):
    table = tables[section]
    return table.filter(pc.equal(table.column("partner_id"), partner))


def feed_files(store: LakeStore) -> dict[str, tuple[bytes, float]]:
    feeds = partner_feed_store(store)
    return {
        f.path: (feeds.store.read_bytes(f.path), f.mtime) for f in feeds.store.list_files(feeds.prefix, recursive=True)
    }


@pytest.mark.parametrize(
    "value",
    ["../P1", "P1/../../x", "", "P 1", "P1\n", "-P1", ".hidden", "a" * 65, None, 7, "P1;rm", "分销商"],
)
def test_a_hostile_partner_id_is_refused_with_what_to_fix(value):
    with pytest.raises(InvalidPartnerId, match="partners master data"):
        validate_partner_id(value)


def test_every_partner_is_gated_in_one_validation_and_published_with_its_manifest(lake):
    tables = write_partner_marts(lake, PARTNERS)
    run = publish(lake)
    assert sorted(run.published) == sorted(PARTNERS) and not run.held and not run.unchanged
    results = lake.list_files("gates/partner_feed", "*.json", recursive=True)
    assert len(results) == 1  # one stored result for every partner
    for partner in PARTNERS:
        manifest = latest_manifest(lake, partner)
        assert manifest["partner_id"] == partner and manifest["week_end_day"] == "2026-11-15"
        assert manifest["validation"]["outcome"] == "passed" and manifest["validation"]["result"] == results[0].path
        assert set(manifest["files"]) == {f"{s}.{ext}" for s in SECTIONS for ext in ("parquet", "csv")}
        for section in SECTIONS:
            assert read_partner_feed(lake, partner, section).equals(own_rows(tables, section, partner))
        assert lake.list_dirs(f"partner_feeds/{partner}") == [manifest["version"]]  # staged in place, no copy
    assert lake.list_dirs("partner_feeds") == sorted(PARTNERS)


def test_the_same_data_twice_is_the_same_version_and_nothing_is_rewritten(lake):
    write_partner_marts(lake, PARTNERS)
    publish(lake)
    before = feed_files(lake)
    again = publish(lake)
    assert sorted(again.unchanged) == sorted(PARTNERS) and not again.published
    assert feed_files(lake) == before  # same bytes, same modification times


def test_one_failing_partner_is_held_with_its_rows_and_the_others_publish(lake, caplog):
    write_partner_marts(lake, PARTNERS)
    first = publish(lake)
    kept = latest_manifest(lake, "P00002")["version"]
    tables = write_partner_marts(lake, {**PARTNERS, "P00001": {"gaps": 2}, "P00002": {"sell_through": 1.5}})
    with caplog.at_level(logging.ERROR):
        run = publish(lake)
    assert list(run.held) == ["P00002"] and run.published == ["P00001"] and run.unchanged == ["P00003"]
    assert first.published and latest_manifest(lake, "P00002")["version"] == kept
    assert run.gate.outcome("P00002")["outcome"] == "held" and run.gate.outcome("P00001")["outcome"] == "passed"
    held = json.loads(partner_feed_store(lake).store.read_bytes(f"partner_feeds/P00002/{HELD}"))
    (failure,) = held["failed"]
    assert failure["column"] == "sell_through" and failure["rows"] == [
        {"file_partner_id": "P00002", "sell_through": 1.5}
    ]
    assert held["published_version"] == kept
    assert lake.list_dirs("partner_feeds/P00002") == [kept]  # its held version's folder is gone
    assert read_partner_feed(lake, "P00001", "assortment_gaps").equals(own_rows(tables, "assortment_gaps", "P00001"))
    assert "1 partner feed(s) held by the gate" in caplog.text and "P00002" in caplog.text
    fixed = write_partner_marts(lake, PARTNERS)
    publish(lake)  # once fixed, it publishes and its held.json goes
    assert not lake.exists(f"partner_feeds/P00002/{HELD}")
    assert read_partner_feed(lake, "P00002", "benchmarks").equals(own_rows(fixed, "benchmarks", "P00002"))


def test_a_partner_with_a_second_benchmark_row_is_held_alone(lake):
    tables = write_partner_marts(lake, PARTNERS)
    benchmarks = tables["benchmarks"]
    doubled = pa.concat_tables([benchmarks, benchmarks.filter(pc.equal(benchmarks.column("partner_id"), "P00003"))])
    lake.write_parquet(partner_feeds.mart_path("benchmarks"), doubled)
    run = publish(lake)
    assert list(run.held) == ["P00003"] and sorted(run.published) == ["P00001", "P00002"]
    gates = {f["gate"] for f in run.held["P00003"]["failed"]}
    assert gates == {"partners: row count"}


def test_a_stray_row_in_a_partners_files_holds_the_feed_it_would_leak_into(lake, monkeypatch):
    tables = write_partner_marts(lake, PARTNERS)
    rows_of = partner_feeds.PartnerRows.rows_of

    def leaky(self, partner_id):
        rows = rows_of(self, partner_id)
        if partner_id == "P00001":  # P00002's benchmark row staged in P00001's folder
            rows["benchmarks"] = pa.concat_tables([rows["benchmarks"], own_rows(tables, "benchmarks", "P00002")])
        return rows

    monkeypatch.setattr(partner_feeds.PartnerRows, "rows_of", leaky)
    run = publish(lake)
    assert list(run.held) == ["P00001"] and sorted(run.published) == ["P00002", "P00003"]
    gates = {f["gate"] for f in run.held["P00001"]["failed"]}
    assert {"benchmarks: scoping", "partners: scoping", "partners: row count"} <= gates
    assert latest_manifest(lake, "P00001") is None


def test_hostile_ids_in_the_marts_are_alerted_and_never_become_paths(lake, caplog):
    hostile = ["../escape", "a/b", "x\n"]
    write_partner_marts(lake, {**PARTNERS, **{h: {} for h in hostile}})
    with caplog.at_level(logging.ERROR):
        run = publish(lake)
    assert sorted(run.published) == sorted(PARTNERS) and len(run.rejected) == 3
    assert "3 partner id(s) cannot name a feed folder" in caplog.text
    names = {f.path for f in lake.list_files("", recursive=True)}
    assert not any("escape" in n or "a/b" in n for n in names)


@pytest.mark.parametrize("step", ["write_manifest", "point_latest"])
def test_a_crash_while_publishing_leaves_the_previous_feed_whole(lake, monkeypatch, step):
    first = write_partner_marts(lake, PARTNERS)
    publish(lake)
    before = {p: latest_manifest(lake, p)["version"] for p in PARTNERS}

    def crash(*args, **kwargs):
        raise OSError("killed")

    write_partner_marts(lake, {p: {**spec, "gaps": 1} for p, spec in PARTNERS.items()})
    monkeypatch.setattr(feeds, step, crash)
    with pytest.raises(OSError, match="killed"):
        publish(lake)
    for partner in PARTNERS:
        assert latest_manifest(lake, partner)["version"] == before[partner]
        for section in SECTIONS:
            assert read_partner_feed(lake, partner, section).equals(own_rows(first, section, partner))
    monkeypatch.undo()
    run = publish(lake)  # the next run completes the publication
    assert sorted(run.published) == sorted(PARTNERS)


partner_configs = st.dictionaries(
    keys=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True),
    values=st.fixed_dictionaries(
        {"gaps": st.integers(0, 4), "allocations": st.integers(0, 3), "region": st.sampled_from(["east", "west"])}
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(partners=partner_configs)
def test_each_partner_published_feed_holds_only_its_own_rows(tmp_path_factory, partners):
    store = LakeStore(str(tmp_path_factory.mktemp("lake")))
    tables = write_partner_marts(store, partners)
    run = publish(store)
    assert sorted(run.published) == sorted(partners)
    for partner in partners:
        for section in SECTIONS:
            feed = read_partner_feed(store, partner, section)
            assert set(feed.column("partner_id").to_pylist()) <= {partner}
            assert feed.equals(own_rows(tables, section, partner))


def test_a_platform_without_stock_publishes_the_feeds_without_their_allocations(lake):
    tables = write_partner_marts(lake, PARTNERS)
    lake.delete_dir("marts/partner_allocations")  # skipped: no stock_snapshots delivered to this lake
    run = publish(lake)
    assert sorted(run.published) == sorted(PARTNERS)
    manifest = latest_manifest(lake, "P00001")
    assert set(manifest["rows"]) == {"benchmarks", "assortment_gaps"}
    assert read_partner_feed(lake, "P00001", "assortment_gaps").equals(own_rows(tables, "assortment_gaps", "P00001"))


def test_a_missing_benchmarks_mart_says_to_build_the_marts(lake):
    write_partner_marts(lake, PARTNERS)
    lake.delete_dir("marts/partner_benchmarks")
    with pytest.raises(FileNotFoundError, match="partner_benchmarks mart .* build the marts first"):
        publish(lake)

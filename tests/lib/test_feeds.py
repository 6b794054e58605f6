"""Supplier feeds without Dagster: ids, isolation, staging, the gated publish, crashes, history."""

import csv
import io
import json
import os
import tempfile
import time
from datetime import timedelta

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expectations.gate import FailedExpectation, KeyedGateResult, store_result
from orchestration.lib import feeds
from orchestration.lib.feeds import (
    BOM,
    FEED,
    InvalidSupplierId,
    PublishRefused,
    feed_rows,
    latest_manifest,
    publish_feed,
    published_versions,
    read_feed,
    stage_feed,
    validate_supplier_id,
    verify_feed,
)
from orchestration.lib.lake import LakeStore
from tests.replenishment import DAY, mart_table, write_feed_lake, write_lake_with_a_broken_newest_day, write_mart


def passed_gate(store: LakeStore, staged, supplier: str | None = None, failed=(), files=None) -> KeyedGateResult:
    """A stored gate result for ``staged``, standing in for a Great Expectations run (the real
    gate is run in tests/expectations and by :func:`publish_supplier_feeds` below)."""
    owner = supplier or staged.supplier_id
    result = store_result(
        store,
        FEED,
        DAY.isoformat(),
        failed=list(failed),
        evaluated=1,
        subject={
            "staged": {owner: {"version": staged.version, "files": files or staged.files, "rows": staged.rows}},
            "outcomes": {owner: {"outcome": "held" if failed else "passed", "failed": len(failed)}},
        },
    )
    held = {owner: [{"gate": f.gate, "expectation": f.expectation, "column": f.column, "rows": []} for f in failed]}
    return KeyedGateResult(result, (owner,), held if failed else {}, {})


def publish(store: LakeStore, supplier: str):
    staged = stage_feed(store, supplier, feed_rows(store, supplier))
    return publish_feed(store, staged, passed_gate(store, staged))


def snapshot(store: LakeStore, prefix: str) -> dict[str, bytes]:
    return {f.path: store.read_bytes(f.path) for f in store.list_files(prefix, recursive=True)}


@pytest.mark.parametrize("supplier", ["SUP001", "a", "A-1_b", "9", "x" * 64])
def test_supplier_ids_that_can_name_a_folder_are_accepted(supplier):
    assert validate_supplier_id(supplier) == supplier


@pytest.mark.parametrize(
    "supplier",
    ["../x", "a/b", "", "x" * 200, ".", "..", "_staging", "-x", "a b", "a\\b", "SUP\n1", "SUP1\n", "供应商", None, 7],
)
def test_supplier_ids_that_could_escape_or_break_a_path_are_rejected_with_a_clear_error(supplier):
    with pytest.raises(InvalidSupplierId, match="cannot name a feed folder: use 1 to 64 letters") as caught:
        validate_supplier_id(supplier)
    assert "correct it in the suppliers master data" in str(caught.value)
    assert len(str(caught.value)) < 300  # a very long id is cut, not repeated whole


NEAR_IDS = st.builds(
    lambda head, tail: head + tail,
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,66}", fullmatch=True),
    st.text(max_size=3),
)
SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@settings(max_examples=400, deadline=None)
@given(text=st.one_of(st.text(max_size=80), NEAR_IDS))
def test_any_text_is_either_a_safe_folder_name_or_rejected(text):
    try:
        validate_supplier_id(text)
    except InvalidSupplierId:
        return
    assert set(text) <= SAFE and text[0] not in "_-" and 0 < len(text) <= 64


def test_a_path_like_supplier_id_never_reaches_the_lake(lake):
    write_feed_lake(lake, {"SUP001": 2})
    with pytest.raises(InvalidSupplierId):
        feed_rows(lake, "../SUP001")
    with pytest.raises(InvalidSupplierId):
        stage_feed(lake, "a/b", mart_table({"SUP001": 1}))
    assert not lake.exists("feeds")


def test_master_data_ids_that_cannot_name_a_folder_are_set_apart(lake):
    lake.write_parquet(
        "bronze/suppliers/part-0.parquet", pa.table({"supplier_id": ["SUP002", "../x", "SUP001", "SUP001"]})
    )
    assert feeds.supplier_ids(lake) == (["SUP001", "SUP002"], ["../x"])


def test_a_feed_holds_only_its_suppliers_rows_in_the_promised_columns_by_sku(lake):
    mart = mart_table({"SUP001": 3, "SUP002": 2})
    shuffled = mart.take([4, 2, 0, 3, 1]).append_column("margin_internal", pa.array([0.3] * 5))
    write_mart(lake, shuffled)
    rows = feed_rows(lake, "SUP002")
    assert rows.column("supplier_id").to_pylist() == ["SUP002", "SUP002"]
    assert rows.column("sku").to_pylist() == ["SKU0004", "SKU0005"]
    assert rows.column_names == feeds.supplier_replenishment.SCHEMA.names  # nothing the feed does not promise
    assert feed_rows(lake, "SUP009").num_rows == 0


def test_the_csv_is_utf8_with_a_bom_so_excel_shows_chinese(lake):
    write_feed_lake(lake, {"SUP001": 2})
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    data = lake.read_bytes(staged.path(feeds.CSV_FILE))
    assert data.startswith(BOM)
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r["product_name"] for r in rows] == ["衣架 便携装"] * 2 and rows[0]["as_of_day"] == "2026-11-21"
    assert lake.read_table(staged.path(feeds.PARQUET_FILE)).equals(feed_rows(lake, "SUP001"))


def test_the_same_rows_stage_as_the_same_version_and_other_rows_as_another(lake):
    write_feed_lake(lake, {"SUP001": 2})
    rows = feed_rows(lake, "SUP001")
    first, again = stage_feed(lake, "SUP001", rows), stage_feed(lake, "SUP001", rows)
    assert first == again and first.version.startswith("2026-11-21_")
    changed = rows.set_column(14, "suggested_qty", pa.array([300, 300]))
    assert stage_feed(lake, "SUP001", changed).version != first.version


def test_a_published_feed_has_a_manifest_with_checksums_time_range_and_its_gate(lake):
    write_feed_lake(lake, {"SUP001": 2, "SUP002": 1})
    published = publish(lake, "SUP001")
    latest = json.loads(lake.read_bytes("feeds/SUP001/latest.json"))
    manifest_bytes = lake.read_bytes(published.manifest_path)
    manifest = json.loads(manifest_bytes)
    assert latest["version"] == published.version == manifest["version"]
    assert latest["manifest"] == f"{published.version}/manifest.json"
    assert latest["manifest_sha256"] == feeds.hashlib.sha256(manifest_bytes).hexdigest()
    assert manifest["supplier_id"] == "SUP001" and manifest["rows"] == 2
    assert set(manifest["files"]) == {"replenishment.parquet", "replenishment.csv"}
    for name, entry in manifest["files"].items():
        assert lake.sha256(f"{published.folder}/{name}") == entry["sha256"]
    assert manifest["time_range"] == {
        "demand_from": "2026-10-25",
        "demand_to": "2026-11-21",
        "order_by_from": "2026-11-23",
        "order_by_to": "2026-11-23",
    }
    assert manifest["validation"]["success"] and manifest["validation"]["outcome"] == "passed"
    assert lake.exists(manifest["validation"]["result"]) and manifest["code_version"]
    assert verify_feed(lake, "SUP001") == []
    assert lake.list_dirs("feeds/SUP001") == [published.version]  # staged in place: no copy anywhere else
    assert lake.list_dirs("feeds") == ["SUP001"]


GATE_PROBLEMS = {
    "the gate failed": dict(failed=[FailedExpectation("expect_x", "sku", 1, "error", "keys")]),
    "the gate was for another supplier": dict(supplier="SUP002"),
    "the gate saw other files": dict(files={"replenishment.parquet": "0" * 64, "replenishment.csv": "0" * 64}),
}


@pytest.mark.parametrize("problem", list(GATE_PROBLEMS))
def test_publishing_needs_a_gate_result_that_passed_for_these_very_files(lake, problem):
    write_feed_lake(lake, {"SUP001": 2, "SUP002": 1})
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    with pytest.raises(PublishRefused):
        publish_feed(lake, staged, passed_gate(lake, staged, **GATE_PROBLEMS[problem]))
    assert not lake.list_files("feeds/SUP001", recursive=True)  # the refused version is removed


def test_a_staged_file_changed_after_its_gate_passed_is_not_published(lake):
    write_feed_lake(lake, {"SUP001": 2})
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    gate = passed_gate(lake, staged)
    lake.write_bytes(staged.path(feeds.CSV_FILE), BOM + b"supplier_id\nSUP002\n")
    with pytest.raises(PublishRefused, match="changed after its gate passed"):
        publish_feed(lake, staged, gate)
    assert not lake.list_files("feeds/SUP001", recursive=True)


def test_publishing_the_same_data_again_changes_nothing(lake):
    write_feed_lake(lake, {"SUP001": 2})
    first = publish(lake, "SUP001")
    before = snapshot(lake, "feeds/SUP001")
    again = publish(lake, "SUP001")
    assert again.version == first.version and again.changed is False
    assert snapshot(lake, "feeds/SUP001") == before


def test_every_published_version_stays_as_history_and_latest_points_to_the_newest(lake):
    write_feed_lake(lake, {"SUP001": 2})
    first = publish(lake, "SUP001")
    write_mart(lake, mart_table({"SUP001": 2}, suggested_qty=300))
    second = publish(lake, "SUP001")
    assert sorted(published_versions(lake, "SUP001")) == sorted([first.version, second.version])
    assert latest_manifest(lake, "SUP001")["version"] == second.version
    assert read_feed(lake, "SUP001").column("suggested_qty").to_pylist() == [300, 300]
    assert verify_feed(lake, "SUP001") == []


def test_a_crash_while_publishing_leaves_the_previous_feed_whole_and_the_next_run_completes(lake, monkeypatch):
    write_feed_lake(lake, {"SUP001": 2})
    first = publish(lake, "SUP001")
    before = snapshot(lake, "feeds/SUP001")
    write_mart(lake, mart_table({"SUP001": 2}, suggested_qty=300))

    def crash(*args):
        raise RuntimeError("simulated crash between the files and the manifest")

    monkeypatch.setattr(feeds, "write_manifest", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        publish(lake, "SUP001")
    assert snapshot(lake, "feeds/SUP001") == before  # no partial version, the pointer unmoved
    assert published_versions(lake, "SUP001") == [first.version]
    monkeypatch.undo()
    second = publish(lake, "SUP001")
    assert second.version != first.version and latest_manifest(lake, "SUP001")["version"] == second.version
    assert verify_feed(lake, "SUP001") == []


def _age(lake: LakeStore, folder: str, hours: float) -> None:
    stamp = time.time() - hours * 3600
    for f in lake.list_files(folder, recursive=True):
        os.utime(lake.fs_path(f.path), (stamp, stamp))


def test_left_overs_of_killed_runs_are_swept_once_they_are_old(lake):
    write_feed_lake(lake, {"SUP001": 2})
    lake.write_bytes("feeds/SUP001/2026-11-20_deadbeef0000/replenishment.parquet", b"half")
    lake.write_bytes("feeds/SUP001/2026-11-20_cafe00000000/replenishment.parquet", b"another run, just now")
    _age(lake, "feeds/SUP001/2026-11-20_deadbeef0000", hours=2)
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    published = publish_supplier_feeds(lake, docs=False).feeds["SUP001"]
    assert lake.list_dirs("feeds/SUP001") == sorted([published.version, "2026-11-20_cafe00000000"])
    assert published_versions(lake, "SUP001") == [published.version]


def files_and_times(store: LakeStore, prefix: str) -> dict[str, tuple[bytes, int]]:
    """Every file under ``prefix``: its bytes and its modification time, to the nanosecond."""
    return {
        f.path: (store.read_bytes(f.path), os.stat(store.fs_path(f.path)).st_mtime_ns)
        for f in store.list_files(prefix, recursive=True)
    }


def test_a_version_published_before_is_not_staged_again_not_a_byte_nor_a_modification_time(lake):
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    write_feed_lake(lake, {"SUP001": 2, "SUP002": 1})
    first = publish_supplier_feeds(lake, docs=False)
    before = files_and_times(lake, "feeds")
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    assert staged.version == first.feeds["SUP001"].version and staged.written is False
    again = publish_supplier_feeds(lake, docs=False)
    assert sorted(again.unchanged) == ["SUP001", "SUP002"] and not again.published and not again.held
    assert files_and_times(lake, "feeds") == before  # the versions and latest.json, untouched


def test_a_published_version_whose_manifest_lists_other_files_is_never_written_over(lake, monkeypatch):
    from orchestration.lib import supplier_feeds
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    monkeypatch.setattr(supplier_feeds, "alert", lambda message, **fields: None)
    write_feed_lake(lake, {"SUP001": 2, "SUP002": 1})
    version = publish_supplier_feeds(lake, docs=False).feeds["SUP001"].version
    path = f"feeds/SUP001/{version}/manifest.json"
    manifest = json.loads(lake.read_bytes(path))
    manifest["files"]["replenishment.csv"]["sha256"] = "0" * 64  # the same Parquet, another CSV
    lake.write_bytes(path, json.dumps(manifest).encode())
    before = files_and_times(lake, "feeds/SUP001")
    with pytest.raises(PublishRefused, match="is published with other files than this run staged for SUP001"):
        stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    run = publish_supplier_feeds(lake, docs=False)
    assert list(run.held) == ["SUP001"] and run.unchanged == ["SUP002"]  # held alone
    assert files_and_times(lake, "feeds/SUP001") == before


def test_a_supplier_held_on_its_first_feed_leaves_no_folder_behind(lake, monkeypatch):
    from orchestration.lib import supplier_feeds
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    monkeypatch.setattr(supplier_feeds, "alert", lambda message, **fields: None)
    mart = write_feed_lake(lake, {"SUP001": 2, "SUP002": 3})
    bad = [-5 if s == "SUP002" else 7 for s in mart.column("supplier_id").to_pylist()]
    write_mart(lake, mart.set_column(mart.schema.get_field_index("suggested_qty"), "suggested_qty", pa.array(bad)))
    run = publish_supplier_feeds(lake, docs=False)
    assert run.published == ["SUP001"] and list(run.held) == ["SUP002"]
    assert not lake.list_files("feeds/SUP002", recursive=True) and latest_manifest(lake, "SUP002") is None


def test_a_run_killed_after_staging_leaves_the_previous_feeds_whole_and_the_next_run_publishes(lake):
    """What a kill between staging and the manifests leaves: every supplier's new version staged
    in its folder, without a manifest. Readers still get the previous feeds, whole."""
    from orchestration.lib.supplier_feeds import feed_tables, publish_supplier_feeds

    config = {"SUP001": 2, "SUP002": 1}
    write_feed_lake(lake, config)
    first = publish_supplier_feeds(lake, docs=False)
    write_mart(lake, mart_table(config, suggested_qty=300))
    tables = feed_tables(lake)
    killed = {s: stage_feed(lake, s, tables.rows_of(s), tables.scorecard_of(s)) for s in config}
    for supplier, staged in killed.items():
        previous = first.feeds[supplier].version
        assert staged.version != previous and lake.exists(staged.path(feeds.PARQUET_FILE))
        assert published_versions(lake, supplier) == [previous] and verify_feed(lake, supplier) == []
        assert latest_manifest(lake, supplier)["version"] == previous
        assert read_feed(lake, supplier).column("suggested_qty").to_pylist() == [200] * config[supplier]
    following = publish_supplier_feeds(lake, docs=False)
    assert sorted(following.published) == sorted(config) and not following.held
    for supplier, staged in killed.items():
        assert latest_manifest(lake, supplier)["version"] == staged.version and verify_feed(lake, supplier) == []
        assert read_feed(lake, supplier).column("suggested_qty").to_pylist() == [300] * config[supplier]
        assert sorted(published_versions(lake, supplier)) == sorted([first.feeds[supplier].version, staged.version])


def test_switching_back_to_an_older_version_checks_its_files_first(lake):
    write_feed_lake(lake, {"SUP001": 2})
    first = publish(lake, "SUP001")
    write_mart(lake, mart_table({"SUP001": 2}, suggested_qty=300))
    publish(lake, "SUP001")
    write_mart(lake, mart_table({"SUP001": 2}))  # the first data again: its version, published before
    lake.write_bytes(f"{first.folder}/{feeds.CSV_FILE}", BOM + b"tampered\n")
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    assert staged.version == first.version and not staged.written
    with pytest.raises(PublishRefused, match="changed after its gate passed"):
        publish_feed(lake, staged, passed_gate(lake, staged))
    second = latest_manifest(lake, "SUP001")["version"]
    assert second != first.version and sorted(published_versions(lake, "SUP001")) == sorted([first.version, second])
    lake.write_bytes(f"{first.folder}/{feeds.CSV_FILE}", feeds.csv_bytes(feed_rows(lake, "SUP001")))
    back = publish_feed(lake, staged, passed_gate(lake, staged))
    assert back.changed and latest_manifest(lake, "SUP001")["version"] == first.version
    assert verify_feed(lake, "SUP001") == []


def test_the_order_lines_window_covers_the_last_28_days_as_far_as_history_goes(lake):
    write_feed_lake(lake, {"SUP001": 1}, days=3)
    rows, window = feeds.order_lines_window(lake)
    assert (window.first_day, window.last_day, window.typical_daily_orders) == (DAY - timedelta(days=2), DAY, 10)
    assert rows.num_rows == 30 and set(rows.column("day").to_pylist()) == set(window.days)
    assert feeds.expected_as_of_day(lake) == DAY
    _, short = feeds.order_lines_window(lake, days=2)
    assert short.first_day == DAY - timedelta(days=1)


def test_the_code_version_can_be_set_by_the_build(monkeypatch):
    feeds.code_version.cache_clear()
    monkeypatch.setenv(feeds.CODE_VERSION_ENV, "image-2026.11.22")
    try:
        assert feeds.code_version() == "image-2026.11.22"
    finally:
        feeds.code_version.cache_clear()


def test_the_feed_cycle_runs_the_same_on_s3(s3_lake):
    write_feed_lake(s3_lake, {"SUP001": 2, "SUP002": 1})
    published = publish(s3_lake, "SUP002")
    assert published.manifest_path == f"feeds/SUP002/{published.version}/manifest.json"
    assert verify_feed(s3_lake, "SUP002") == []
    assert read_feed(s3_lake, "SUP002").column("supplier_id").to_pylist() == ["SUP002"]
    assert s3_lake.list_dirs("feeds") == ["SUP002"] and s3_lake.list_dirs("feeds/SUP002") == [published.version]


def test_feeds_can_be_published_under_a_root_of_their_own(lake, tmp_path, monkeypatch):
    """``$FEEDS_ROOT`` (e.g. the bucket suppliers read) holds the same layout; gates stay in the lake."""
    root = tmp_path / "supplier-feeds"
    monkeypatch.setenv("FEEDS_ROOT", str(root))
    write_feed_lake(lake, {"SUP001": 2, "SUP002": 1})
    published = publish(lake, "SUP001")
    assert published.uri == f"{root}/SUP001/{published.version}"
    assert sorted(p.name for p in (root / "SUP001").iterdir()) == [published.version, "latest.json"]
    assert not lake.exists("feeds") and lake.list_files(f"gates/supplier_replenishment/{DAY.isoformat()}")
    assert feeds.published_suppliers(lake) == ["SUP001"] and verify_feed(lake, "SUP001") == []
    assert read_feed(lake, "SUP001").num_rows == 2
    assert lake.exists(latest_manifest(lake, "SUP001")["validation"]["result"])


SUPPLIER_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,8}", fullmatch=True)
CONFIGS = st.dictionaries(SUPPLIER_IDS, st.integers(min_value=0, max_value=4), min_size=1, max_size=5).filter(
    lambda c: len({s.lower() for s in c}) == len(c)  # distinct on case-insensitive disks too
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=CONFIGS)
def test_each_supplier_receives_only_its_own_rows_whatever_the_suppliers(config):
    """Isolation, over random suppliers and SKU counts: a feed holds its supplier's rows and
    nothing about any other supplier, and the feeds together are the mart."""
    with tempfile.TemporaryDirectory() as folder:
        store = LakeStore(folder)
        mart = mart_table(config)
        write_mart(store, mart)
        for supplier in config:
            publish(store, supplier)
        union = []
        for supplier in config:
            others = set(config) - {supplier}
            rows = read_feed(store, supplier)
            assert set(rows.column("supplier_id").to_pylist()) <= {supplier}
            theirs = mart.filter(pc.equal(mart.column("supplier_id"), supplier))
            assert sorted(rows.column("sku").to_pylist()) == sorted(theirs.column("sku").to_pylist())
            folder_files = store.list_files(f"feeds/{supplier}", recursive=True)
            assert all(f.path.startswith(f"feeds/{supplier}/") for f in folder_files)
            manifest = latest_manifest(store, supplier)
            csv_rows = list(
                csv.DictReader(
                    io.StringIO(
                        store.read_bytes(f"feeds/{supplier}/{manifest['version']}/replenishment.csv").decode(
                            "utf-8-sig"
                        )
                    )
                )
            )
            assert {r["supplier_id"] for r in csv_rows} <= {supplier} and len(csv_rows) == theirs.num_rows
            assert not others & set(_strings(manifest)) and manifest["supplier_id"] == supplier
            union.append(rows)
        assert pa.concat_tables(union).sort_by([("sku", "ascending")]).equals(mart.sort_by([("sku", "ascending")]))


def _strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)] + list(value)
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


BROKEN_DAY_REASON = (
    "order_lines has no accepted rows for 2026-11-21 (landing file order_lines_2026-11-21.csv: 12 rows "
    "quarantined as wrong_day); re-deliver that day's file and materialize bronze/sales/order_lines for 2026-11-21"
)


def test_a_newest_day_without_accepted_rows_is_named_with_its_fix_and_the_feeds_reach_the_day_before(lake):
    write_lake_with_a_broken_newest_day(lake, {"SUP001": 2})
    days = feeds.input_days(lake)
    assert days.mode == "last-complete-day" and (days.newest, days.as_of_day) == (DAY, DAY - timedelta(days=1))
    (missing,) = days.held_back
    assert missing.quarantined == {"order_lines_2026-11-21.csv": {"wrong_day": 12}}
    assert missing.describe() == BROKEN_DAY_REASON
    assert (
        days.describe()
        == BROKEN_DAY_REASON + "; until then the feeds are published as of 2026-11-20, the last complete day"
    )
    assert feeds.expected_as_of_day(lake) == DAY - timedelta(days=1)
    _, window = feeds.order_lines_window(lake)
    assert window.last_day == DAY - timedelta(days=1) and window.held_back == ("2026-11-21",)


def test_a_strict_input_gate_keeps_the_newest_day_and_holds_nothing_back(lake, monkeypatch):
    write_lake_with_a_broken_newest_day(lake, {"SUP001": 2})
    monkeypatch.setenv("SUPPLYLOOP_INPUT_GATE", "strict")
    days = feeds.input_days(lake)
    assert days.strict and days.as_of_day == DAY and days.held_back == ()
    assert days.describe().startswith(BROKEN_DAY_REASON + "; the input gate is strict (SUPPLYLOOP_INPUT_GATE=strict)")
    _, window = feeds.order_lines_window(lake)
    assert window.last_day == DAY and window.missing_advice == BROKEN_DAY_REASON


def test_an_unknown_input_gate_mode_is_refused_with_the_modes_there_are(lake, monkeypatch):
    write_feed_lake(lake, {"SUP001": 1})
    monkeypatch.setenv("SUPPLYLOOP_INPUT_GATE", "lenient")
    with pytest.raises(ValueError, match="use one of \\('last-complete-day', 'strict'\\)"):
        feeds.input_days(lake)


def test_a_manifest_names_the_days_its_feed_was_published_without(lake):
    write_lake_with_a_broken_newest_day(lake, {"SUP001": 2})
    days = feeds.input_days(lake)
    staged = stage_feed(lake, "SUP001", feed_rows(lake, "SUP001"))
    published = publish_feed(lake, staged, passed_gate(lake, staged), days.held_back)
    manifest = latest_manifest(lake, "SUP001")
    assert published.manifest == manifest and manifest["as_of_day"] == "2026-11-20"
    assert manifest["incomplete_days"] == [
        {
            "day": "2026-11-21",
            "reason": BROKEN_DAY_REASON,
            "quarantined": {"order_lines_2026-11-21.csv": {"wrong_day": 12}},
        }
    ]
    note = feeds.held_back_note({"SUP001": manifest})
    assert note == f"feeds published as of 2026-11-20, not 2026-11-21: {BROKEN_DAY_REASON}"


def test_a_gap_inside_the_window_is_named_whatever_the_mode(lake):
    write_feed_lake(lake, {"SUP001": 1}, days=4)
    lake.write_parquet(
        "bronze/order_lines/day=2026-11-19/part-0.parquet",
        lake.read_table("bronze/order_lines/day=2026-11-20/part-0.parquet").slice(0, 0),
    )
    lake.delete_dir("bronze/order_lines/day=2026-11-20")
    _, window = feeds.order_lines_window(lake)
    assert window.last_day == DAY and window.held_back == ()
    assert window.missing_advice == (
        "order_lines has no accepted rows for 2026-11-19 (no rows were delivered for it) and 2026-11-20 "
        "(it was never ingested); deliver those days' files and materialize bronze/sales/order_lines for "
        "2026-11-19 and 2026-11-20"
    )


def test_a_feeds_outcome_is_kept_per_day_and_rewritten_only_when_it_says_something_new(lake):
    from datetime import date

    from orchestration.lib.feeds import Outcome, record_outcomes

    def record_outcome(store, supplier, day, outcome, **fields):
        return record_outcomes(store, day, [Outcome(supplier, outcome, **fields)])

    day = date(2026, 11, 14)
    path = record_outcome(lake, "SUP001", day, "published", version="v1", gate_result="gates/a.json")
    assert path == "bronze/_feed_outcomes/day=2026-11-14/supplier_replenishment.parquet"
    first = lake.read_bytes(path)
    assert record_outcome(lake, "SUP001", day, "unchanged", version="v1", gate_result="gates/b.json") == path
    assert lake.read_bytes(path) == first  # the same feed again: the record stays, bytes and all
    record_outcomes(
        lake, day, [Outcome("SUP002", "published", version="v2"), Outcome("SUP001", "unchanged", version="v1")]
    )
    record_outcome(lake, "SUP001", day, "held", reason="2 expectation(s) failed", gate_result="gates/c.json")
    rows = {r["supplier_id"]: r for r in lake.read_table(path).to_pylist()}  # one file for the day: every supplier
    assert (rows["SUP001"]["outcome"], rows["SUP001"]["reason"], rows["SUP001"]["as_of_day"]) == (
        "held",
        "2 expectation(s) failed",
        day,
    )
    assert (rows["SUP002"]["outcome"], rows["SUP002"]["version"]) == ("published", "v2")
    assert record_outcome(lake, "../x", day, "held") is None and record_outcome(lake, "SUP001", None, "held") is None


def test_one_run_gates_every_supplier_at_once_and_a_held_supplier_holds_back_nobody(lake, monkeypatch):
    """The run the feeds asset makes, with the real gate: a supplier with a bad row is held
    with its own alert and outcome, keeps its previous feed, and the others publish."""
    from orchestration.lib import supplier_feeds
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    alerts = []
    monkeypatch.setattr(supplier_feeds, "alert", lambda message, **fields: alerts.append((message, fields)))
    mart = write_feed_lake(lake, {"SUP001": 2, "SUP002": 3, "SUP003": 1})
    first = publish_supplier_feeds(lake, docs=False)
    assert sorted(first.published) == ["SUP001", "SUP002", "SUP003"] and not first.held and not alerts
    kept = latest_manifest(lake, "SUP002")["version"]
    bad = mart.set_column(
        mart.schema.get_field_index("suggested_qty"),
        "suggested_qty",
        pa.array([-5 if s == "SUP002" else 7 for s in mart.column("supplier_id").to_pylist()], pa.int64()),
    )
    write_mart(lake, bad)
    second = publish_supplier_feeds(lake, docs=False)
    assert sorted(second.published) == ["SUP001", "SUP003"] and list(second.held) == ["SUP002"]
    assert "quantities" in second.held["SUP002"]
    assert latest_manifest(lake, "SUP002")["version"] == kept  # the previous feed stays
    ((message, fields),) = alerts
    assert fields["supplier_id"] == "SUP002" and f"its previous feed {kept} stays published" in message
    outcomes = {r["supplier_id"]: r["outcome"] for r in lake.read_table(supplier_feeds.outcomes_path(DAY)).to_pylist()}
    assert outcomes == {"SUP001": "published", "SUP002": "held", "SUP003": "published"}
    for supplier in ("SUP001", "SUP003"):
        manifest = latest_manifest(lake, supplier)
        assert manifest["validation"]["result"] == second.gate.result.path and verify_feed(lake, supplier) == []
    assert lake.list_dirs("feeds/SUP002") == [kept]  # its staged version is gone with it
    only = publish_supplier_feeds(lake, only=["SUP003"], docs=False)  # one supplier, on demand
    assert only.unchanged == ["SUP003"] and only.suppliers == 1


def test_feed_runs_go_one_at_a_time_so_a_run_never_sweeps_another_runs_staged_folders(lake):
    """A run removes the unpublished version folders it finds: while another run holds the
    feeds (here: its folders staged, not yet published), a second run waits for it, then
    publishes on top of what the first one published."""
    import threading

    from orchestration.lib.locks import lake_lock
    from orchestration.lib.supplier_feeds import feed_tables, publish_supplier_feeds

    write_feed_lake(lake, {"SUP001": 2})
    tables = feed_tables(lake)
    staged, second = None, []
    with lake_lock(lake, "supplier_feeds", "the supplier feeds", say=lambda _: None):
        staged = stage_feed(lake, "SUP001", tables.rows_of("SUP001"), tables.scorecard_of("SUP001"))
        waiting = threading.Thread(target=lambda: second.append(publish_supplier_feeds(lake, docs=False, say=print)))
        waiting.start()
        waiting.join(8)  # far longer than a run for one supplier takes
        assert waiting.is_alive(), "a second feeds run went ahead while another held the feeds"
        assert latest_manifest(lake, "SUP001") is None and lake.exists(staged.path(feeds.PARQUET_FILE))
    waiting.join(60)
    assert second and second[0].published == ["SUP001"] and verify_feed(lake, "SUP001") == []

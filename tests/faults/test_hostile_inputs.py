"""Hostile inputs: supplier ids that would name a path, and landing files with hostile names.

Each is rejected or read with a reason, nothing is written outside the lake, and the other
suppliers' feeds and the other files' rows are unaffected.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pyarrow.compute as pc
import pytest

from orchestration.lib.deliveries import audit_landing
from orchestration.lib.feeds import (
    InvalidSupplierId,
    feed_rows,
    latest_manifest,
    published_versions,
    stage_feed,
    validate_supplier_id,
)
from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import load_sources
from tests.faults import harness, stage

HOSTILE_IDS = ["../x", "a/b", "", "S" * 300, "..", "/etc", "x\n", "SUP001/../../y"]


def _tree(root: Path, skip: Path) -> set[str]:
    """Every path under ``root`` but those under ``skip`` (the lake)."""
    found = set()
    for folder, dirs, files in os.walk(root):
        if Path(folder) == skip:
            dirs.clear()
            continue
        found.update(str(Path(folder, n).relative_to(root)) for n in dirs + files)
    return found


@pytest.mark.parametrize("supplier_id", HOSTILE_IDS, ids=repr)
def test_a_hostile_supplier_id_is_refused_with_the_fix_before_anything_is_read_or_written(supplier_id, lake, tmp_path):
    before = _tree(tmp_path, Path(lake.root))
    for call in (
        lambda: validate_supplier_id(supplier_id),
        lambda: feed_rows(lake, supplier_id),
        lambda: stage_feed(lake, supplier_id, None),
        lambda: latest_manifest(lake, supplier_id),
        lambda: published_versions(lake, supplier_id),
    ):
        with pytest.raises(InvalidSupplierId, match="correct it in the suppliers master data") as refused:
            call()
        assert len(str(refused.value)) < 400
    assert _tree(tmp_path, Path(lake.root)) == before
    assert not (Path(lake.root) / "feeds").exists()


@pytest.mark.slow
def test_hostile_supplier_ids_in_master_data_get_no_feed_and_the_other_suppliers_keep_theirs(
    reference, tmp_path, caplog
):
    lake = harness.copy_lake(reference.lake, tmp_path / "lake")
    store = LakeStore(str(lake))
    master = next((lake / "landing" / "suppliers").iterdir())
    hostile = ["../x", "a/b", "", "S" * 300]
    master.write_bytes(master.read_bytes() + "".join(f"{s},evil,east\n" for s in hostile).encode())
    ingest_snapshot(store, load_sources()["suppliers"])
    before = _tree(tmp_path, lake)
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        stage.feeds(store)
    assert _tree(tmp_path, lake) == before, "written outside the lake"
    alerts = "\n".join(r.getMessage() for r in caplog.records)
    for bad in hostile[:2] + [hostile[3][:40]]:
        assert bad in alerts, f"no alert names {bad!r}"
    quarantined = store.read_table("quarantine/suppliers")
    assert pc.equal(quarantined.column("_reason_code"), "missing_required").to_pylist() == [True], "the empty id"
    assert sorted(p.name for p in (lake / "feeds").iterdir() if not p.name.startswith("_")) == sorted(reference.feeds)
    assert harness.published_feeds(lake) == reference.feeds
    assert not harness.feed_problems(lake, {s: {v} for s, v in reference.feeds.items()})


DAY = "2026-11-01"
HOSTILE_NAMES = [
    f"..order_lines_{DAY}.csv",  # hidden: a file still being written, by convention
    f"order_lines_{DAY}..csv",
    f"order_lines_{DAY}_" + "x" * 200 + ".csv",  # near the file system's 255-byte limit
    f"order_lines_{DAY}\nsecond line.csv",
    f"-order_lines_{DAY}.csv",
    f"order_lines_{DAY}.CSV",
    f"order_lines_{DAY} '; DROP TABLE x; --.csv",
]


@pytest.mark.slow
def test_landing_files_with_hostile_names_are_read_or_reported_and_the_other_files_load_whole(ingest_base, tmp_path):
    lake = harness.copy_lake(ingest_base.finished, tmp_path / "lake")
    folder = lake / "landing" / "order_lines"
    header, first, second = (folder / f"order_lines_{DAY}.csv").read_text(encoding="utf-8").splitlines()[:3]
    written = []
    for n, name in enumerate(HOSTILE_NAMES):
        rows = [f"HOSTILE{n}-{i}," + line.split(",", 1)[1] for i, line in enumerate((first, second))]
        try:
            (folder / name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        except OSError:  # a name this file system does not take
            continue
        written.append(name)
    store = LakeStore(str(lake))
    source = load_sources()["order_lines"]
    before = _tree(tmp_path, lake)
    ingest_days(store, source, [d for d in landing_index(store, source) if d])
    assert _tree(tmp_path, lake) == before, "written outside the lake"
    bronze = store.read_table(f"bronze/order_lines/day={DAY}")
    quarantine = (
        store.read_table(f"quarantine/order_lines/day={DAY}")
        if (lake / "quarantine" / "order_lines" / f"day={DAY}" / "part-0.parquet").exists()
        else None
    )
    loaded = set(bronze.column("_source_file").to_pylist())
    if quarantine is not None:
        loaded |= set(quarantine.column("_source_file").to_pylist())
        assert max(len(r) for r in quarantine.column("_reason").to_pylist()) < 2000
    reported = {u.file.name for u in audit_landing(store, load_sources()).not_read}
    for name in written:
        assert name in loaded or name in reported, f"{name!r} is neither read nor reported"
        if name in loaded:
            rows = pc.sum(pc.equal(bronze.column("_source_file"), name)).as_py() or 0
            if quarantine is not None:
                rows += pc.sum(pc.equal(quarantine.column("_source_file"), name)).as_py() or 0
            assert rows == 2, f"{name!r}: {rows} of its 2 rows accepted or quarantined"
    clean = pc.equal(bronze.column("_source_file"), f"order_lines_{DAY}.csv")
    truth = json.loads((lake / "_demo" / "truth.json").read_text())
    assert pc.sum(clean).as_py() == truth["clean"]["order_lines"]["by_day"][DAY]

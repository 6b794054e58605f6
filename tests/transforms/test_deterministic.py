"""Identical data gives identical bytes: the marts rebuilt in full on an unchanged lake write
the same Parquet, and no supplier gets a new feed version.

Before, DuckDB's threads summed fractional numbers in whatever order they met them
(``1885.940000000002``, then ``1885.9400000000023``) and wrote a mart's rows in whatever
order they finished, so every rebuild changed some mart's bytes. Tiny demo data, through
Dagster, dbt and the feeds as ``make run`` does; DuckDB uses every core (at least two here).
``SUPPLYLOOP_REBUILDS`` sets how many full rebuilds follow the first build (default 1: the build twice).
"""

from __future__ import annotations

import hashlib
import json
import os

import dagster as dg
import duckdb
import pytest

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.feeds import LATEST, feed_store, published_suppliers
from orchestration.lib.lake import LakeStore
from orchestration.lib.warehouse import PUBLISHED, Warehouse

pytestmark = pytest.mark.slow

REBUILDS = int(os.environ.get("SUPPLYLOOP_REBUILDS", "1"))


def _published_bytes(store: LakeStore) -> dict[str, str]:
    """sha256 of every mart's Parquet and every published feed file, and each feed's versions."""
    digests = {}
    for info in store.list_files("marts", "*.parquet", recursive=True):
        digests[info.path] = hashlib.sha256(store.read_bytes(info.path)).hexdigest()
    feeds = feed_store(store)
    for supplier in published_suppliers(store):
        latest = json.loads(feeds.store.read_bytes(feeds.path(supplier, LATEST)))
        digests[f"feeds/{supplier}/{LATEST}"] = latest["version"]
        digests[f"feeds/{supplier}/versions"] = " ".join(sorted(feeds.store.list_dirs(feeds.path(supplier))))
        for info in feeds.store.list_files(feeds.path(supplier, latest["version"]), "replenishment.*"):
            digests[info.path] = hashlib.sha256(feeds.store.read_bytes(info.path)).hexdigest()
    return digests


def _rebuild_in_full(store: LakeStore) -> None:
    """Drop the build and the published warehouse, so the next build has no record to go on."""
    warehouse = Warehouse(store)
    warehouse.start_over()
    store.delete(PUBLISHED)


def test_rebuilding_the_marts_on_unchanged_data_writes_the_same_bytes_and_no_new_feed_version(tmp_path):
    store = LakeStore(str(tmp_path / "lake"))
    generate(store, preset="tiny", seed=11)
    instance = dg.DagsterInstance.ephemeral()
    assert all(r.success for r in materialize_all(store, instance=instance))
    first = _published_bytes(store)
    assert sum(k.startswith("marts/") for k in first) >= 10 and sum(k.endswith(LATEST) for k in first) >= 3

    threads = duckdb.connect().execute("select current_setting('threads')").fetchone()[0]
    for rebuild in range(1, REBUILDS + 1):
        _rebuild_in_full(store)
        assert all(r.success for r in materialize_all(store, instance=instance))
        again = _published_bytes(store)
        changed = sorted(k for k in first.keys() | again.keys() if first.get(k) != again.get(k))
        assert not changed, f"full rebuild {rebuild} of {REBUILDS} (DuckDB threads: {threads}) changed {changed}"

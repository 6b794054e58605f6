"""A foreign-shaped platform goes from a folder of exports to published supplier feeds by configuration alone.

The folder is written as another platform hands it over (Chinese names with the day as
YYYYMMDD, GB18030 orders, JSON Lines stock, master data without a day, no MES events, work
orders, stock movements or live sessions). The assistant proposes the sources file; the
CLI, as `make run` calls it, runs the whole loop with that file and the folder as the
landing zone, and nothing is written into the folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestration.lib.demo.foreign import write_foreign
from orchestration.lib.feeds import published_suppliers
from orchestration.lib.lake import LakeStore
from orchestration.lib.onboard.proposal import propose, render

pytestmark = pytest.mark.slow


def _state(folder) -> list[tuple[str, int, int]]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def test_a_foreign_platform_publishes_its_feeds_with_the_proposed_sources_file_alone(tmp_path):
    exports, lake_dir = tmp_path / "exports", tmp_path / "lake"
    truth = write_foreign(exports, seed=7, days=5)
    proposal = tmp_path / "sources.yaml"
    proposal.write_text(render(propose(exports)), encoding="utf-8")
    before = _state(exports)

    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "LANDING_ROOT": str(exports),
        "SUPPLYLOOP_STATE": str(tmp_path / "state"),
    }
    env.pop("LAKE_ROOT", None)
    (tmp_path / "dagster").mkdir()
    run = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "--lake", str(lake_dir), "--sources", str(proposal), "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert _state(exports) == before, "the run wrote into the delivered folder"
    assert "demo:" not in out  # no demo data anywhere

    store = LakeStore(str(lake_dir), landing=str(exports))
    # every delivered source landed as the truth says; the absent ones have no bronze at all
    for name in truth["delivered_sources"]:
        assert store.list_files(f"bronze/{name}", "*.parquet", recursive=True), name
    for name in truth["absent_sources"]:
        assert not store.list_files(f"bronze/{name}", recursive=True), name
    accepted = store.read_table("bronze/order_lines").num_rows
    assert accepted == truth["sources"]["order_lines"]["accepted"]

    # the marts that can be built are, the others are named with the reason
    assert store.list_files("marts/supplier_replenishment", "*.parquet", recursive=True)
    assert "factory_oee needs machine_events" in out

    # every supplier of the platform's master data has its own published feed
    suppliers = store.read_table("bronze/suppliers").column("supplier_id").to_pylist()
    assert published_suppliers(store) == sorted(suppliers)
    for supplier in suppliers:
        latest = json.loads(store.read_bytes(f"feeds/{supplier}/latest.json"))
        manifest = json.loads(store.read_bytes(f"feeds/{supplier}/{latest['version']}/manifest.json"))
        assert manifest["validation"]["success"] is True
        assert set(manifest["partial_sources"]["sources_not_delivered"]) == set(truth["absent_sources"])

"""Runs of different sources of one day, and of different days, ingest at once in separate
processes (as the cloud's Fargate tasks do) and leave bronze, quarantine and the deliveries
ledger exactly as the same runs one after another do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

from orchestration.definitions import defs
from orchestration.defs.resources import Lake
from orchestration.lib.arrivals import ledger_path
from orchestration.lib.demo import generate
from orchestration.lib.ingest import bronze_path, quarantine_path
from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sources import load_sources
from tests.faults.harness import FULL_ENV, full_tier

pytestmark = pytest.mark.slow

# the feeds' input gate on order lines judges a window of days, whichever are in bronze when it
# runs: it is no write of one source's day, and left out of both ways (tests/expectations test it)
GATE = "order_lines_gate"
# every process waits at the barrier until all are loaded, so that their ingestions overlap
ONE_UNIT = """
import sys, time
from datetime import date
from pathlib import Path
from tests.defs.test_ingest_runs_at_once import materialize_unit

root, source, day, barrier, count = sys.argv[1:6]
Path(barrier, f"{source}-{day}").touch()
deadline = time.monotonic() + 300
while len(list(Path(barrier).iterdir())) < int(count) and time.monotonic() < deadline:
    time.sleep(0.05)
started = time.time()
result = materialize_unit(root, source, day)
print(f"ran from {started} to {time.time()}", file=sys.stderr)
sys.exit(0 if result.success else 1)
"""


def materialize_unit(root: str, source: str, day: str) -> dg.ExecuteInProcessResult:
    """One ingestion run of one source and day, as the sensor and the schedule request it."""
    graph = defs.resolve_asset_graph()
    (key,) = [k for k in graph.get_all_asset_keys() if k.path[0] == "bronze" and k.path[-1] == source]
    gate = [check for check in graph.asset_check_keys if check.name == GATE]
    return dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.assets(key) - dg.AssetSelection.checks(*gate),
        partition_key=day,
        instance=dg.DagsterInstance.ephemeral(),
        resources={**defs.resources, "lake": Lake(root=root)},
        raise_on_error=False,
    )


# three sources of one day, and two days of one of them; on these days the demo (seed 3, faults)
# delivers duplicate order lines, an undecodable production file and an unknown SKU: quarantine
UNITS = [
    ("order_lines", "2026-11-05"),
    ("production_output", "2026-11-05"),
    ("stock_movements", "2026-11-05"),
    ("order_lines", "2026-11-13"),
]
WRITTEN = (
    "bronze/order_lines",
    "bronze/stock_movements",
    "bronze/production_output",
    "bronze/_deliveries",
    "quarantine",
)


def _master_data(store: LakeStore) -> None:
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.groups("master"),
        instance=dg.DagsterInstance.ephemeral(),
        resources={**defs.resources, "lake": Lake(root=store.root)},
    )
    assert result.success


def _at_once(store: LakeStore, barrier: Path) -> list[tuple[int, str]]:
    barrier.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", ONE_UNIT, store.root, source, day, str(barrier), str(len(UNITS)), GATE],
            cwd=PROJECT_ROOT,
            env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for source, day in UNITS
    ]
    return [(run.wait(600), run.stderr.read()) for run in runs]


def _one_after_another(store: LakeStore) -> None:
    """The same runs again, one by one, on what the lake held before them (same files, same
    arrival times): each unit's bronze, quarantine and ledger removed first."""
    sources = load_sources()
    for source, day in UNITS:
        when = date.fromisoformat(day)
        for path in (bronze_path(sources[source], when), ledger_path(sources[source], when)):
            store.delete(path)
        store.delete_dir(quarantine_path(sources[source], when).rsplit("/", 1)[0])
    for source, day in UNITS:
        assert materialize_unit(store.root, source, day).success, (source, day)


def _written(store: LakeStore) -> dict[str, object]:
    """Every Parquet file the units' sources hold, as its rows and footer; any other file there
    (a temporary left behind, say) as its bytes."""
    found = {}
    for top in WRITTEN:
        for f in store.list_files(top, recursive=True, hidden=True):
            found[f.path] = store.read_table(f.path) if f.name.endswith(".parquet") else store.read_bytes(f.path)
    return found


@pytest.mark.parametrize(
    "where",
    ["local", pytest.param("s3", marks=pytest.mark.skipif(not full_tier(), reason=f"the long tier, {FULL_ENV}=full"))],
)
def test_sources_and_days_ingested_at_once_in_separate_processes_equal_the_same_runs_one_by_one(
    where, request, tmp_path
):
    store = request.getfixturevalue("lake" if where == "local" else "s3_lake")
    generate(store, preset="tiny", seed=3, faults=True)
    _master_data(store)

    outcomes = _at_once(store, tmp_path / "barrier")
    for code, text in outcomes:
        assert code == 0, text[-3000:]
    windows = [[float(t) for t in re.findall(r"ran from ([\d.]+) to ([\d.]+)", text)[-1]] for _, text in outcomes]
    assert max(start for start, _ in windows) < min(end for _, end in windows)  # all four ran at once
    concurrent = _written(store)
    _one_after_another(store)
    sequential = _written(store)

    assert sorted(concurrent) == sorted(sequential)
    for rel, value in sequential.items():
        assert (
            concurrent[rel].equals(value, check_metadata=True)
            if hasattr(value, "equals")
            else (concurrent[rel] == value)
        ), rel
    ledger = [rel for rel in sequential if rel.startswith("bronze/_deliveries/")]
    assert sorted(ledger) == sorted(f"bronze/_deliveries/day={day}/{source}.parquet" for source, day in UNITS)
    quarantined = {
        rel.split("/")[1] + "@" + rel.split("/")[2][len("day=") :]
        for rel in sequential
        if "/day=2026-11-" in rel and rel.startswith("quarantine/")
    }
    assert quarantined == {"order_lines@2026-11-05", "production_output@2026-11-05", "order_lines@2026-11-13"}

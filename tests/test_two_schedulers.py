"""Two schedulers on one lake (finding 9 of issue 17): separate Dagster instances that build
the same lake's marts at once take turns through the lock in the lake, locally and on S3."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.warehouse import s3_secret_sql, sql_string

pytestmark = pytest.mark.slow

# the marts alone, in a Dagster instance of its own (as a second scheduler would run them)
BUILD = """
import sys
import dagster as dg
from orchestration.cli import QUIET
from orchestration.definitions import defs
from orchestration.defs.resources import Lake

result = dg.materialize(
    [*defs.assets, *defs.asset_checks],
    selection=dg.AssetSelection.groups("staging", "intermediate", "marts"),
    instance=dg.DagsterInstance.ephemeral(),
    resources={**defs.resources, "lake": Lake(root=sys.argv[1])},
    raise_on_error=False,
    run_config=QUIET,
)
print("built" if result.success else "FAILED", result.run_id, file=sys.stderr)
sys.exit(0 if result.success else 1)
"""


def _ingested(store: LakeStore) -> None:
    """The tiny demo's bronze, without the marts."""
    import dagster as dg

    from orchestration.cli import _landing_days
    from orchestration.definitions import defs
    from orchestration.defs.resources import Lake
    from orchestration.lib.demo import generate

    generate(store, preset="tiny", seed=3)
    days = _landing_days(store)
    every_day = {
        "dagster/asset_partition_range_start": days[0].isoformat(),
        "dagster/asset_partition_range_end": days[-1].isoformat(),
    }
    for groups, tags in ((("master",), None), (("factory", "inventory", "sales"), every_day)):
        result = dg.materialize(
            [*defs.assets, *defs.asset_checks],
            selection=dg.AssetSelection.groups(*groups),
            instance=dg.DagsterInstance.ephemeral(),
            resources={**defs.resources, "lake": Lake(root=store.root)},
            tags=tags,
        )
        assert result.success


def _two_builds_at_once(store: LakeStore, tmp_path: Path) -> list[tuple[int, str]]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    builds = []
    for name in ("one", "two"):
        state = tmp_path / f"state-{name}"  # on S3 each scheduler's machine has a build folder of its own
        builds.append(
            subprocess.Popen(
                [sys.executable, "-c", BUILD, store.root],
                cwd=PROJECT_ROOT,
                env={**env, "PYTHONPATH": str(PROJECT_ROOT), "SUPPLYLOOP_STATE": str(state)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    return [(p.wait(600), p.stderr.read()) for p in builds]


@pytest.mark.parametrize(
    "where",
    [
        "local",
        pytest.param(
            "s3",
            marks=pytest.mark.skipif(
                os.environ.get("SUPPLYLOOP_FAULTS", "").lower() != "full",
                reason="the long tier, SUPPLYLOOP_FAULTS=full (the lock itself is tested on S3 in tests/lib/test_locks.py)",
            ),
        ),
    ],
)
def test_two_dagster_instances_building_one_lakes_marts_at_once_take_turns(where, request, tmp_path):
    store = request.getfixturevalue("lake" if where == "local" else "s3_lake")
    _ingested(store)
    outcomes = _two_builds_at_once(store, tmp_path)
    for code, text in outcomes:
        assert code == 0, text[-3000:]
    waited = [text for _, text in outcomes if "is being built by run" in text]
    assert len(waited) == 1, [text[-1500:] for _, text in outcomes]
    assert f"the warehouse of {store.uri()} is being built by run " in waited[0]
    assert not store.exists(".locks/warehouse.json")
    with duckdb.connect() as con:  # the published catalog, read where it is, as a BI tool does
        if store.is_s3:
            con.execute(s3_secret_sql(store.endpoint))
        con.execute(f"ATTACH {sql_string(store.uri('warehouse.duckdb'))} AS warehouse (READ_ONLY)")
        assert con.execute("SELECT count(*) FROM warehouse.marts.daily_demand").fetchone()[0] > 0
    assert store.list_files("marts/supplier_replenishment", "*.parquet")

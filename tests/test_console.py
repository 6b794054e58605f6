"""What `supplyloop run` prints, run as a person runs it on the tiny demo: a few lines per
source with its totals, a compact line per dbt model and a summary naming dbt's full log, which
sits in the lake's build folder; the run's compute logs (the Dagster UI) show the same lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sources import load_sources

pytestmark = pytest.mark.slow

MODEL_LINE = re.compile(r"^ *\[(\d+)/(\d+)\] (staging|intermediate|marts)\.(\w+) +(\w+) +[\d.]+ s  (.*)$")
SUMMARY = re.compile(
    r"^dbt build: (\d+) of (\d+) models OK, (\d+) of (\d+) data tests passed in [\d.]+ s; dbt's full log: (.+)$"
)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """`supplyloop run --preset tiny` in its own process, on a lake and instance of its own."""
    root = tmp_path_factory.mktemp("console")
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LAKE_ROOT", "LANDING_ROOT", "FEEDS_ROOT", "PARTNER_FEEDS_ROOT")
    }
    env.update(DAGSTER_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "--lake", str(root / "lake"), "run", "--preset", "tiny"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return LakeStore(str(root / "lake")), home, done.stdout, done.stderr.splitlines()


def test_each_source_says_its_days_and_ends_with_its_exact_totals(tiny_run):
    store, _, _, lines = tiny_run
    for source in load_sources().values():
        label = f"{source.domain}/{source.name}"
        mine = [line for line in lines if label in line and not line.startswith("  warning: ")]
        bronze = store.read_table(source.bronze_dir).num_rows
        if not source.is_daily:
            assert mine == [f"ingested {label} snapshot: {bronze:,} rows accepted, 0 quarantined"]
            continue
        assert re.fullmatch(rf"ingesting {label}: days \d{{4}}-\d\d-\d\d\.\.\d{{4}}-\d\d-\d\d \(\d+ days\)", mine[0])
        days = int(re.search(r"\((\d+) days\)", mine[0]).group(1))
        assert 2 <= len(mine) <= 12  # a start, at most ten on the way, the totals
        assert re.fullmatch(rf"  {label}: {days} days, {bronze:,} rows accepted, 0 quarantined in \d+ s", mine[-1])


def test_dbt_is_a_compact_line_per_model_and_a_summary_naming_its_full_log(tiny_run):
    store, _, stdout, lines = tiny_run
    models = [m for m in map(MODEL_LINE.match, lines) if m]
    totals = {int(m.group(2)) for m in models}
    assert len(totals) == 1 and len(models) == totals.pop() >= 30
    assert [int(m.group(1)) for m in models] == list(range(1, len(models) + 1))
    assert {m.group(5) for m in models} == {"OK"}
    summary = [s for s in map(SUMMARY.match, lines) if s]
    assert len(summary) == 1
    ok, built, passed, tests, log = summary[0].groups()
    assert int(ok) == int(built) == len(models) and int(passed) == int(tests) > 50

    # each mart's line tells its rows, as published
    with duckdb.connect(store.fs_path("warehouse.duckdb"), read_only=True) as con:
        for m in models:
            if m.group(3) == "marts":
                rows = con.execute(f'select count(*) from marts."{m.group(4)}"').fetchone()[0]
                assert m.group(6) == f"{rows:,} rows", m.group(0)

    # dbt's own lines are in the log, not on the screen
    log = Path(log)
    assert log.parent == Path(store.fs_path(".build/logs")) and log.name.startswith("dbt-build-")
    text = log.read_text()
    assert "START sql view model staging.stg_sales__order_lines" in text and "Completed successfully" in text
    assert not any(" START sql " in line for line in [*lines, *stdout.splitlines()])
    assert not store.list_files("landing", "*.log", recursive=True)


def test_the_runs_compute_logs_show_the_same_lines_and_where_the_full_log_is(tiny_run):
    _, home, _, lines = tiny_run
    summary = next(line for line in lines if SUMMARY.match(line))
    captured = [p.read_text() for p in home.glob("storage/*/compute_logs/*.err")]
    assert any(summary in text and "marts.daily_demand" in text for text in captured)


def test_a_run_launched_from_elsewhere_keeps_dbts_full_output_on_stdout_for_its_compute_logs(tiny_run, capfd):
    import dagster as dg

    from orchestration.definitions import defs
    from orchestration.defs.resources import Lake

    store = tiny_run[0]
    capfd.readouterr()
    result = dg.materialize(
        [*defs.assets, *defs.asset_checks],
        selection=dg.AssetSelection.groups("staging", "intermediate", "marts"),
        instance=dg.DagsterInstance.ephemeral(),
        resources={**defs.resources, "lake": Lake(root=store.root)},
    )
    assert result.success
    out, err = capfd.readouterr()
    assert "START sql view model staging.stg_sales__order_lines" in out  # dbt's lines, as dbt prints them
    log = Path(next(s for s in map(SUMMARY.match, err.splitlines()) if s).group(5))
    assert "START sql view model staging.stg_sales__order_lines" in log.read_text()
    assert len(list(log.parent.glob("dbt-build-*.log"))) == 2  # one a build

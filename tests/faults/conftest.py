"""The fault-injection suite's lakes, built once per session, and its summary table.

``demo_lake``: a tiny demo's deliveries and truth, nothing ingested. ``reference``: the same
lake after one uninterrupted ``supplyloop run`` (its own Dagster instance), the bytes every
interrupted run must converge to. ``feeds_base``: the reference with an older version of
every supplier's feed published, so that a publication has something to replace.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.faults import harness


@dataclass(frozen=True)
class Reference:
    lake: Path
    bronze: dict[str, str]  # sha256 of every bronze and quarantine file
    warehouse: dict[str, int]
    feeds: dict[str, str]  # supplier -> published version
    feed_files: dict[str, str]  # sha256 of every file of the published versions
    marts_seconds: float


@dataclass(frozen=True)
class StageBase:
    lake: Path  # the lake a stage starts from
    work_seconds: float  # the stage's measured duration, imports left out
    digests: dict[str, str]  # what an uninterrupted stage leaves
    before: dict[str, str]  # feeds: each supplier's version before the stage
    finished: Path  # a copy of ``lake`` after the stage ran uninterrupted


def _cli(lake: Path, home: Path, *args: str, timeout: float = 300) -> harness.Run:
    done = harness.run(harness.cli_command(lake, *args), harness.environment(home), timeout=timeout)
    assert done.returncode == 0, done.output[-3000:]
    return done


def feed_digests(lake: Path, versions: dict[str, str], folder: str = "feeds") -> dict[str, str]:
    found = {}
    for supplier, version in versions.items():
        found.update(harness.digests(lake, (f"{folder}/{supplier}/{version}",)))
    return {k: v for k, v in found.items() if not k.endswith("manifest.json")}  # it says when it was published


@pytest.fixture(scope="session")
def demo_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults-demo")
    lake = root / "lake"
    _cli(lake, root / "dagster", "demo", "--preset", "tiny", timeout=120)
    return lake


@pytest.fixture(scope="session")
def reference(demo_lake, tmp_path_factory) -> Reference:
    root = tmp_path_factory.mktemp("faults-reference")
    lake = harness.copy_lake(demo_lake, root / "lake")
    done = _cli(lake, root / "dagster", "run", timeout=600)
    marts = re.search(re.escape(harness.MARTS_MARKER) + r".*?\bok in ([\d.]+)s", done.output, re.S)
    feeds = harness.published_feeds(lake)
    warehouse = harness.warehouse_rows(lake)
    assert isinstance(warehouse, dict), warehouse
    return Reference(
        lake=lake,
        bronze=harness.digests(lake),
        warehouse=warehouse,
        feeds=feeds,
        feed_files=feed_digests(lake, feeds),
        marts_seconds=float(marts.group(1)),
    )


def _measure(stage: str, lake: Path, scratch: Path) -> tuple[float, Path]:
    """Run a stage on a copy of ``lake`` uninterrupted: its duration after the imports."""
    copy = harness.copy_lake(lake, scratch)
    done = harness.run(harness.stage_command(stage, copy), harness.environment(), timeout=300)
    assert done.returncode == 0, done.output[-3000:]
    return done.seconds - (done.marker_at or 0.0), copy


@pytest.fixture(scope="session")
def ingest_base(demo_lake, tmp_path_factory) -> StageBase:
    root = tmp_path_factory.mktemp("faults-ingest")
    seconds, measured = _measure("ingest", demo_lake, root / "measured")
    return StageBase(demo_lake, seconds, harness.digests(measured), {}, measured)


@pytest.fixture(scope="session")
def feeds_base(reference, tmp_path_factory) -> StageBase:
    """The reference lake whose suppliers' published feeds are one version older: published
    from a replenishment mart that had one more unit on hand of every SKU."""
    root = tmp_path_factory.mktemp("faults-feeds")
    lake = harness.copy_lake(reference.lake, root / "lake")
    shutil.rmtree(lake / "feeds")
    mart = lake / "marts" / "supplier_replenishment" / "part-0.parquet"
    current = mart.read_bytes()
    table = pq.read_table(mart)
    for column in ("on_hand", "available"):
        table = table.set_column(table.schema.get_field_index(column), column, pc.add(table[column], 1))
    pq.write_table(table, mart)
    older = harness.run(harness.stage_command("feeds", lake), harness.environment(), timeout=300)
    assert older.returncode == 0, older.output[-3000:]
    mart.write_bytes(current)
    before = harness.published_feeds(lake)
    assert set(before) == set(reference.feeds) and not set(before.values()) & set(reference.feeds.values())
    seconds, measured = _measure("feeds", lake, root / "measured")
    assert harness.published_feeds(measured) == reference.feeds
    return StageBase(lake, seconds, feed_digests(measured, reference.feeds), before, measured)


@pytest.fixture(scope="session")
def partner_feeds_base(reference, tmp_path_factory) -> StageBase:
    """The reference lake whose partners' published feeds are one version older: published from a
    benchmarks mart with one more unit ordered by every partner."""
    root = tmp_path_factory.mktemp("faults-partner-feeds")
    lake = harness.copy_lake(reference.lake, root / "lake")
    newest = harness.published_feeds(lake, "partner_feeds")
    shutil.rmtree(lake / "partner_feeds")
    mart = lake / "marts" / "partner_benchmarks" / "part-0.parquet"
    current = mart.read_bytes()
    table = pq.read_table(mart)
    column = "units_ordered"
    table = table.set_column(table.schema.get_field_index(column), column, pc.add(table[column], 1))
    pq.write_table(table, mart)
    older = harness.run(harness.stage_command("partner_feeds", lake), harness.environment(), timeout=300)
    assert older.returncode == 0, older.output[-3000:]
    mart.write_bytes(current)
    before = harness.published_feeds(lake, "partner_feeds")
    assert set(before) == set(newest) and not set(before.values()) & set(newest.values())
    seconds, measured = _measure("partner_feeds", lake, root / "measured")
    assert harness.published_feeds(measured, "partner_feeds") == newest
    return StageBase(lake, seconds, feed_digests(measured, newest, "partner_feeds"), before, measured)


def pytest_terminal_summary(terminalreporter):
    """The table of every fault scenario run: attempts and invariant violations (must be 0)."""
    if not harness.RESULTS:
        return
    tier = "full (SUPPLYLOOP_FAULTS=full)" if harness.full_tier() else "default"
    write = terminalreporter.write_line
    terminalreporter.section(f"fault injection, {tier} tier")
    write(f"{'scenario':<52}{'attempts':>9}{'violations':>12}")
    for scenario, (attempts, violations) in sorted(harness.RESULTS.items()):
        write(f"{scenario:<52}{attempts:>9}{violations:>12}")
    total = sum(v for _, v in harness.RESULTS.values())
    write(f"{'total':<52}{sum(a for a, _ in harness.RESULTS.values()):>9}{total:>12}")

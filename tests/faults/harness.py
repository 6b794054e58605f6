"""Kill a stage at a random point, then check what the lake promises.

A stage runs in its own process group (as a task or a container does), and is killed with
SIGKILL, group and all, after a seeded random delay within the stage's measured duration.
The invariants are read through the lake's public layout and the library's readers only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from orchestration.lib.feeds import LATEST, MANIFEST, verify_feed
from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.sources import load_sources

PYTHON = sys.executable
INSTANCE_YAML = "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"
FULL_ENV = "SUPPLYLOOP_FAULTS"
DATA_LAYERS = ("bronze", "quarantine")
MARTS_MARKER = "materializing supply-demand marts"
RESULTS: dict[str, list[int]] = {}  # scenario -> [attempts, invariant violations], for the summary table
FEEDS_MARKER = "materializing feed of supplier"


def full_tier() -> bool:
    """The long tier (at least 20 kills per stage) runs when ``SUPPLYLOOP_FAULTS=full``."""
    return os.environ.get(FULL_ENV, "").strip().lower() == "full"


def seeds(default: int, full: int = 20) -> list[int]:
    return list(range(full if full_tier() else default))


# -- processes ------------------------------------------------------------------------------
@dataclass
class Run:
    """What a stage's process did: its exit code (None: killed or timed out) and its output."""

    returncode: int | None
    output: str
    seconds: float
    killed: bool = False
    timed_out: bool = False
    marker_at: float | None = None  # seconds from start when the marker line appeared


def stage_command(stage: str, lake: Path) -> list[str]:
    return [PYTHON, "-m", "tests.faults.stage", stage, str(lake)]


def cli_command(lake: Path, *args: str) -> list[str]:
    return [PYTHON, "-m", "orchestration.cli", "--lake", str(lake), *args]


def environment(dagster_home: Path | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LAKE_ROOT", "LANDING_ROOT", "FEEDS_ROOT", "PARTNER_FEEDS_ROOT")
    }
    env.update(extra)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    if dagster_home is not None:
        dagster_home.mkdir(parents=True, exist_ok=True)
        (dagster_home / "dagster.yaml").write_text(INSTANCE_YAML)
        env["DAGSTER_HOME"] = str(dagster_home)
    return env


def run(
    command: list[str],
    env: dict[str, str],
    timeout: float,
    marker: str = "ready",
    kill_after: float | None = None,
) -> Run:
    """Run ``command`` in a process group of its own; with ``kill_after``, SIGKILL the group that
    many seconds after ``marker`` appears in its output (or when it would time out).
    Never waits longer than ``timeout``.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        command,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    lines: list[str] = []
    seen = threading.Event()
    marker_at: list[float] = []

    def read() -> None:
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            if marker in line and not seen.is_set():
                marker_at.append(time.monotonic() - started)
                seen.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    killed = timed_out = False
    deadline = started + timeout
    if kill_after is not None:
        while not seen.is_set() and proc.poll() is None and time.monotonic() < deadline:
            seen.wait(0.05)
        if seen.is_set():
            kill_at = min(deadline, time.monotonic() + kill_after)
            while proc.poll() is None and time.monotonic() < kill_at:
                time.sleep(0.01)
        if proc.poll() is None:
            _kill_group(proc)
            killed = True
    else:
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if proc.poll() is None:
            timed_out = True
            _kill_group(proc)
    proc.wait()
    reader.join(5)
    return Run(
        None if killed or timed_out else proc.returncode,
        "".join(lines),
        time.monotonic() - started,
        killed=killed,
        timed_out=timed_out,
        marker_at=marker_at[0] if marker_at else None,
    )


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- lakes ----------------------------------------------------------------------------------
def copy_lake(source: Path, target: Path, layers: tuple[str, ...] | None = None) -> Path:
    """A copy of a lake (or of some of its top folders), metadata and timestamps kept."""
    target.mkdir(parents=True, exist_ok=True)
    for entry in source.iterdir():
        if layers is not None and entry.name not in layers:
            continue
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, target / entry.name)
    return target


def digests(lake: Path, layers: tuple[str, ...] = DATA_LAYERS) -> dict[str, str]:
    """sha256 of every data file of the layers (hidden files of unfinished writes left out)."""
    found = {}
    for layer in layers:
        for path in sorted((lake / layer).rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                found[str(path.relative_to(lake))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(lake: Path, layers: tuple[str, ...] = DATA_LAYERS) -> list[str]:
    """Hidden files that unfinished writes left behind (``.part-0.parquet.tmp-*``)."""
    return sorted(str(p.relative_to(lake)) for layer in layers for p in (lake / layer).rglob(".*") if p.is_file())


# -- invariants -----------------------------------------------------------------------------
@dataclass
class Check:
    """The invariant violations found in one attempt, each a sentence naming what broke."""

    scenario: str
    seed: int
    violations: list[str] = field(default_factory=list)

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.violations.append(what)

    def done(self) -> str:
        """Count this attempt in the summary table; the violations as one text (empty: none)."""
        entry = RESULTS.setdefault(self.scenario, [0, 0])
        entry[0] += 1
        entry[1] += len(self.violations)
        return f"{self.scenario}, seed {self.seed}:\n" + "\n".join(self.violations) if self.violations else ""


def unreadable_files(lake: Path, layers: tuple[str, ...] = DATA_LAYERS) -> list[str]:
    """Every visible Parquet file must read whole: a partial one would be visible as data."""
    bad = []
    for layer in layers:
        for path in sorted((lake / layer).rglob("*.parquet")):
            if path.name.startswith("."):
                continue
            try:
                pq.read_table(path)
            except Exception as err:  # noqa: BLE001 - any failure to read is the finding
                bad.append(f"{path.relative_to(lake)} does not read: {err}")
    return bad


def accounting(lake: Path, complete: bool) -> list[str]:
    """accepted + quarantined = delivered per delivered file, from the demo's truth file.

    The demo delivers one file per source and day, so a day's delivery is the truth's rows for
    that day. Each partition present must hold all of its file's rows (a partition is written
    whole or not at all); ``complete``: every delivered day must be there.
    """
    truth = json.loads((lake / "_demo" / "truth.json").read_text())
    store = LakeStore(str(lake))
    problems = []
    for name, source in load_sources().items():
        clean = truth["clean"].get(name)
        if clean is None:
            continue
        if not source.is_daily:
            path = f"{source.bronze_dir}/part-0.parquet"
            if store.exists(path):
                rows = pq.read_metadata(store.fs_path(path)).num_rows + _quarantined(store, source, None)
                if rows != clean["rows"]:
                    problems.append(f"{name}: {rows} accepted + quarantined, {clean['rows']} delivered")
            elif complete:
                problems.append(f"{name}: no snapshot in bronze")
            continue
        for day, delivered in clean["by_day"].items():
            path = f"{source.bronze_dir}/day={day}/part-0.parquet"
            if not store.exists(path):
                if complete:
                    problems.append(f"{name} {day}: no bronze partition, {delivered} rows delivered")
                continue
            table = pq.read_table(store.fs_path(path), columns=["_source_file"])
            per_file = dict(zip(*_counts(table), strict=True))
            got = sum(per_file.values()) + _quarantined(store, source, day)
            if got != delivered:
                problems.append(f"{name} {day}: {got} accepted + quarantined, {delivered} delivered ({per_file})")
    return problems


def _counts(table) -> tuple[list, list]:
    counts = pc.value_counts(table.column(0))
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def _quarantined(store: LakeStore, source, day: str | None) -> int:
    folder = f"{source.quarantine_dir}/day={day}" if day else source.quarantine_dir
    files = store.list_files(folder, "*.parquet", recursive=day is None)
    return sum(pq.read_metadata(store.fs_path(f.path)).num_rows for f in files)


def published_feeds(lake: Path, folder: str = "feeds") -> dict[str, str]:
    """Each supplier's (or, with ``partner_feeds``, partner's) published version, from its ``latest.json``."""
    feeds = lake / folder
    found = {}
    for pointer in sorted(feeds.glob(f"*/{LATEST}")):
        found[pointer.parent.name] = json.loads(pointer.read_text())["version"]
    return found


def feed_problems(lake: Path, allowed: dict[str, set[str]], folder: str = "feeds") -> list[str]:
    """Every ``latest.json`` reads, points at a whole version whose files match the manifest's
    checksums, and that version is one of ``allowed`` (the last good one, or the new one)."""
    from orchestration.lib.partner_feeds import verify_partner_feed

    store = LakeStore(str(lake))
    verify = verify_partner_feed if folder == "partner_feeds" else verify_feed
    problems = []
    for supplier, versions in allowed.items():
        try:
            problems += verify(store, supplier)
            version = json.loads((lake / folder / supplier / LATEST).read_text())["version"]
        except Exception as err:  # noqa: BLE001 - an unreadable pointer is the finding
            problems.append(f"the feed of {supplier} does not read: {err}")
            continue
        if version not in versions:
            problems.append(f"{supplier}'s latest.json points at {version}, not one of {sorted(versions)}")
    for manifest in (lake / folder).glob(f"*/*/{MANIFEST}"):
        if manifest.parent.parent.name.startswith("_"):
            continue
        entries = json.loads(manifest.read_text())["files"]
        for name, entry in entries.items():
            path = manifest.parent / name
            if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != entry["sha256"]:
                problems.append(f"{path.relative_to(lake)} is missing or does not match its manifest")
    return problems


def warehouse_rows(lake: Path) -> dict[str, int] | str:
    """Rows of each table of the published warehouse, opened read-only as a BI tool does;
    the error text when it does not open."""
    import duckdb

    try:
        con = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    except Exception as err:  # noqa: BLE001 - a warehouse that does not open is the finding
        return f"warehouse.duckdb does not open read-only: {err}"
    try:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' ORDER BY 1"
        ).fetchall()
        return {t: con.execute(f'SELECT count(*) FROM "marts"."{t}"').fetchone()[0] for (t,) in tables}
    finally:
        con.close()

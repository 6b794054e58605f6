"""What changed in the landing zone since last look: the days (and snapshots) to ingest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

from orchestration.lib.ingest import landing_index
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import Source

SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class LandingChange:
    """New or replaced deliveries for one partition: a day, or master data's snapshot."""

    partition: str  # YYYY-MM-DD, or "snapshot" for master data
    sources: tuple[str, ...]
    version: str  # fingerprint of every delivery behind it

    @property
    def run_key(self) -> str:
        return f"{self.partition}:{','.join(self.sources)}:{self.version}"


@dataclass
class LandingState:
    """What the landing zone holds: per source and partition, a version and the newest delivery."""

    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    newest: dict[str, dict[str, float]] = field(default_factory=dict)


def look(store: LakeStore, sources: list[Source]) -> LandingState:
    """Fingerprint every partition's deliveries (names, sizes, modification times)."""
    state = LandingState()
    for source in sources:
        versions, newest = {}, {}
        for day, files in landing_index(store, source).items():
            if source.is_daily and day is None:
                continue  # a daily file without a day in its name belongs to no partition
            partition = day.isoformat() if source.is_daily else SNAPSHOT
            digest = hashlib.sha1(versions.get(partition, "").encode())
            for f in sorted(files, key=lambda f: f.path):
                digest.update(f"{f.path}|{f.version}\n".encode())
            versions[partition] = digest.hexdigest()[:16]
            stamps = [f.mtime.timestamp() for f in files if f.mtime]
            newest[partition] = max([newest.get(partition, 0.0), *stamps])
        state.versions[source.name], state.newest[source.name] = versions, newest
    return state


def bronze_stamps(store: LakeStore, sources: list[Source]) -> dict[str, dict[str, float]]:
    """When each bronze partition was last written: {source: {partition: timestamp}}."""
    stamps: dict[str, dict[str, float]] = {}
    for source in sources:
        per_partition = {}
        for f in store.list_files(source.bronze_dir, "*.parquet", recursive=True):
            folder = f.path.rsplit("/", 2)[-2]
            partition = folder[len("day=") :] if folder.startswith("day=") else SNAPSHOT
            per_partition[partition] = f.mtime.timestamp() if f.mtime else 0.0
        stamps[source.name] = per_partition
    return stamps


def changes(
    previous: dict[str, dict[str, str]],
    current: LandingState,
    bronze: dict[str, dict[str, float]] | None = None,
) -> list[LandingChange]:
    """The partitions whose deliveries are new or differ from ``previous``, one per partition.

    A partition ``previous`` has never seen (a first look, or a reset cursor) counts as
    new only if bronze was not written after its newest delivery, so switching the
    sensor on over an ingested lake does not ingest it all again.
    """
    changed: dict[str, list[tuple[str, str]]] = {}
    for source, partitions in current.versions.items():
        before = previous.get(source, {})
        for partition, version in partitions.items():
            if before.get(partition) == version:
                continue
            ingested_at = (bronze or {}).get(source, {}).get(partition)
            if partition not in before and ingested_at is not None and ingested_at >= current.newest[source][partition]:
                continue
            changed.setdefault(partition, []).append((source, version))
    result = []
    for partition, items in sorted(changed.items()):
        items.sort()
        version = hashlib.sha1("|".join(v for _, v in items).encode()).hexdigest()[:16]
        result.append(LandingChange(partition, tuple(s for s, _ in items), version))
    return result


def first_delivered_day(store: LakeStore, sources: list[Source]) -> date | None:
    """The earliest business day the daily sources delivered: named in a landing file's name, or
    a day partition in bronze (landing files may be cleaned away once ingested). Listings only,
    no file is opened: a file whose name carries no day counts once it is ingested. None when
    nothing was delivered yet."""
    days: list[date] = []
    for source in sources:
        if not source.is_daily:
            continue
        days += [day for f in store.list_files(source.landing_dir, source.files) if (day := source.day_of(f.name))]
        days += bronze_days(store, source)
    return min(days, default=None)


def bronze_days(store: LakeStore, source: Source) -> list[date]:
    """The day partitions of a daily source's bronze, oldest first (one listing)."""
    days = []
    for name in store.list_dirs(source.bronze_dir):
        try:
            days += [date.fromisoformat(name[len("day=") :])] if name.startswith("day=") else []
        except ValueError:
            continue  # not a day partition the ingestion wrote
    return sorted(days)

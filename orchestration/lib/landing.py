"""What changed in the landing zone since last look: the days (and snapshots) to ingest."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


def fingerprints(store: LakeStore, sources: list[Source]) -> dict[str, dict[str, str]]:
    """{source: {partition: fingerprint of its files (names, sizes, modification times)}}."""
    seen: dict[str, dict[str, str]] = {}
    for source in sources:
        per_partition: dict[str, str] = {}
        for day, files in landing_index(store, source).items():
            if source.is_daily and day is None:
                continue  # a daily file without a day in its name belongs to no partition
            partition = day.isoformat() if source.is_daily else SNAPSHOT
            digest = hashlib.sha1()
            for f in sorted(files, key=lambda f: f.path):
                digest.update(f"{f.path}|{f.version}\n".encode())
            previous = per_partition.get(partition, "")
            per_partition[partition] = hashlib.sha1((previous + digest.hexdigest()).encode()).hexdigest()[:16]
        seen[source.name] = per_partition
    return seen


def changes(previous: dict[str, dict[str, str]], current: dict[str, dict[str, str]]) -> list[LandingChange]:
    """The partitions whose deliveries are new or differ from ``previous``, one per partition."""
    changed: dict[str, list[tuple[str, str]]] = {}
    for source, partitions in current.items():
        before = previous.get(source, {})
        for partition, version in partitions.items():
            if before.get(partition) != version:
                changed.setdefault(partition, []).append((source, version))
    result = []
    for partition, items in sorted(changed.items()):
        items.sort()
        version = hashlib.sha1("|".join(v for _, v in items).encode()).hexdigest()[:16]
        result.append(LandingChange(partition, tuple(s for s, _ in items), version))
    return result

"""What the quarantine holds, day by day, read from its files' footers: no rejected row is loaded.

Each day's ``quarantine/<entity>/day=YYYY-MM-DD/part-0.parquet`` carries a summary in its
footer (:func:`orchestration.lib.ingest.quarantine_summary`): the files rejected whole and
why, rows per reason, a few reason texts, and the day's accepted rows. A day ingested again
replaces its file (or removes it when nothing was quarantined), so the quarantine always
says what the latest ingestion of each day left behind: a bad day stays bad until it is
delivered again and ingested clean.
"""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date

from orchestration.lib.ingest import EXAMPLES_PER_REASON, SUMMARY_KEY, note_examples
from orchestration.lib.lake import LakeStore
from orchestration.lib.readers import FILE
from orchestration.lib.sources import Source

DAY_PREFIX = "day="
# the reason codes of files rejected whole (orchestration.lib.readers.FileRejected)
FILE_LEVEL_CODES = frozenset({"empty_file", "missing_column", "outside_landing", "undecodable", "unreadable_file"})


@dataclass(frozen=True)
class QuarantinedDay:
    """One day's quarantine of one source."""

    day: date
    quarantined: int
    accepted: int
    rejected_files: tuple[tuple[str, str], ...] = ()  # (file, why), files rejected whole
    reasons: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        rows = self.accepted + self.quarantined
        return self.quarantined / rows if rows else 0.0

    def reason_texts(self, limit: int = EXAMPLES_PER_REASON) -> list[str]:
        """A few reason texts, the most frequent reasons first."""
        texts = []
        for code, _ in Counter(self.reasons).most_common():
            texts += self.examples.get(code, [])[:limit]
        return texts[:limit]


def quarantined_days(store: LakeStore, source: Source, workers: int = 8) -> list[QuarantinedDay]:
    """Every day with a quarantine file, oldest first: one listing, then each file's footer
    (a few small reads each, several at a time on S3)."""
    folders: dict[date, list[str]] = {}
    for f in store.list_files(source.quarantine_dir, "*.parquet", recursive=True):
        folder = f.path.rsplit("/", 2)[-2]
        if folder.startswith(DAY_PREFIX):
            try:
                folders.setdefault(date.fromisoformat(folder[len(DAY_PREFIX) :]), []).append(f.path)
            except ValueError:
                continue  # not a day folder the ingestion wrote
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(folders)))) as pool:
        return list(pool.map(lambda item: _day(store, source, *item), sorted(folders.items())))


def _day(store: LakeStore, source: Source, day: date, paths: list[str]) -> QuarantinedDay:
    quarantined, accepted, files, reasons, examples = 0, 0, [], Counter(), {}
    for path in paths:
        meta = store.parquet_metadata(path)
        quarantined += meta.num_rows
        raw = (meta.metadata or {}).get(SUMMARY_KEY.encode())
        summary = json.loads(raw) if raw else _summary_from_rows(store, source, day, path)
        accepted += summary["accepted"]
        files += [(f["file"], f["error"]) for f in summary["rejected_files"]]
        reasons.update(summary["reasons"])
        for code, texts in summary["examples"].items():
            kept = examples.setdefault(code, [])
            kept += [t for t in texts if t not in kept][: EXAMPLES_PER_REASON - len(kept)]
    return QuarantinedDay(day, quarantined, accepted, tuple(files), dict(reasons), examples)


def _summary_from_rows(store: LakeStore, source: Source, day: date, path: str) -> dict:
    """The summary of a quarantine file written before files carried one: from its reason
    columns, and the day's bronze footers. A file rejected whole is told by its rows all
    sharing one reason of a file-level code."""
    table = store.read_table(path, columns=[FILE, "_reason_code", "_reason"])
    examples: dict[str, list[str]] = {}
    note_examples(examples, table, rows=table.num_rows)
    reasons_per_file: dict[str, set[str]] = {}
    for name, reason in zip(table.column(FILE).to_pylist(), table.column("_reason").to_pylist()):
        reasons_per_file.setdefault(name, set()).add(reason)
    whole = [
        {"file": name, "error": reason}
        for name, (reason, *others) in reasons_per_file.items()
        if not others and reason.split(":", 1)[0] in FILE_LEVEL_CODES
    ]
    reasons = Counter(table.column("_reason_code").to_pylist())
    bronze = store.list_files(f"{source.bronze_dir}/{DAY_PREFIX}{day.isoformat()}", "*.parquet")
    accepted = sum(store.parquet_metadata(f.path).num_rows for f in bronze)
    return {"accepted": accepted, "rejected_files": whole, "reasons": dict(reasons), "examples": examples}

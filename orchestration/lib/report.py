"""What is in the lake, per entity: for the end-of-run summary and for people's scripts."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa

from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import Source


@dataclass
class EntityCounts:
    entity: str
    domain: str
    accepted: int = 0
    quarantined: int = 0
    partitions: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def landed(self) -> int:
        return self.accepted + self.quarantined


def mart_counts(store: LakeStore) -> dict[str, int]:
    """Rows of each mart in ``marts/`` (from Parquet footers)."""
    return {name: _rows(store, f"marts/{name}")[0] for name in store.list_dirs("marts")}


def _rows(store: LakeStore, rel_dir: str) -> tuple[int, int]:
    files = store.list_files(rel_dir, "*.parquet", recursive=True)
    return sum(store.parquet_metadata(f.path).num_rows for f in files), len(files)


def entity_counts(store: LakeStore, source: Source) -> EntityCounts:
    """Rows in bronze and in quarantine (from Parquet footers: no data is read) and why."""
    accepted, partitions = _rows(store, source.bronze_dir)
    counts = EntityCounts(source.name, source.domain, accepted=accepted, partitions=partitions)
    q_files = store.list_files(source.quarantine_dir, "*.parquet", recursive=True)
    for f in q_files:
        codes = store.read_table(f.path, columns=["_reason_code"]).column("_reason_code")
        counts.quarantined += len(codes)
        counts.reasons.update(codes.to_pylist())
    return counts


def format_summary(rows: list[EntityCounts]) -> str:
    header = (
        f"{'entity':<20}{'domain':<11}{'partitions':>11}{'landed':>12}{'accepted':>12}{'quarantined':>13}  top reasons"
    )
    lines = [header, "-" * len(header)]
    for r in rows:
        reasons = ", ".join(f"{code} {n}" for code, n in r.reasons.most_common(3))
        lines.append(
            f"{r.entity:<20}{r.domain:<11}{r.partitions:>11}{r.landed:>12,}{r.accepted:>12,}{r.quarantined:>13,}  {reasons}"
        )
    return "\n".join(lines)


def markdown_table(table: pa.Table, digits: int = 3) -> str:
    """A small Arrow table as a Markdown table."""
    names = table.column_names
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    for row in table.to_pylist():
        cells = (_cell(row[n], digits) for n in names)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: object, digits: int) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:,.{digits}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value)

"""The deliveries ledger: when each day's files arrived, and what each deliverer's rows became.

Ingesting a day of a daily source also writes ``bronze/_deliveries/day=YYYY-MM-DD/<source>.parquet``:
one row per delivered file and deliverer (the factory or supplier its rows name, see
:attr:`Source.deliverer`; null for a source the platform's own systems deliver, or for rows
that name none), with the file's arrival (its time in the landing zone), when it was due
(``deliver_by`` in sources.yaml), and how many of the deliverer's rows were accepted and
quarantined, by reason. Like bronze it is a pure function of the day's landing files, so
ingesting the day again rewrites it whole. The supplier scorecard (marts/supplier_scorecard)
is built on it, and the ``deliveries_on_time`` check alerts from it.

A file's arrival is its modification time in the landing zone (``LastModified`` on S3): when
it was put there, as long as nobody touches it afterwards.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pyarrow as pa

from orchestration.lib.lake import LakeFile, LakeStore
from orchestration.lib.sources import Source

LEDGER_DIR = "bronze/_deliveries"
TOP_REASONS = 3
SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), False),
        pa.field("business_day", pa.date32(), False),
        pa.field("file", pa.string(), False),
        pa.field("deliverer_column", pa.string()),
        pa.field("deliverer", pa.string()),
        pa.field("arrived_at", pa.timestamp("us", tz="UTC")),
        pa.field("due_at", pa.timestamp("us", tz="UTC"), False),
        pa.field("file_bytes", pa.int64(), False),
        pa.field("file_status", pa.string(), False),
        pa.field("file_error", pa.string()),
        pa.field("accepted", pa.int64(), False),
        pa.field("quarantined", pa.int64(), False),
        pa.field("top_reasons", pa.string()),
    ]
)


def ledger_path(source: Source, day: date) -> str:
    return f"{LEDGER_DIR}/day={day.isoformat()}/{source.name}.parquet"


class DelivererCounts:
    """Rows per (file, deliverer), accepted and quarantined by reason, counted batch by batch."""

    def __init__(self, source: Source):
        self.column = source.deliverer
        self.accepted: Counter = Counter()
        self.quarantined: Counter = Counter()  # (file, deliverer, reason code) -> rows

    def _keys(self, table: pa.Table, file_column: str, extra: str | None = None) -> list[tuple]:
        columns = [file_column, *([self.column] if self.column else []), *([extra] if extra else [])]
        counts = table.group_by(columns, use_threads=False).aggregate([([], "count_all")]).to_pydict()
        files = counts[file_column]
        who = counts[self.column] if self.column else [None] * len(files)
        rest = counts[extra] if extra else [None] * len(files)
        return list(zip(files, who, rest, counts["count_all"]))

    def add_accepted(self, table: pa.Table, file_column: str) -> None:
        if table.num_rows:
            for name, who, _, n in self._keys(table, file_column):
                self.accepted[(name, who)] += n

    def add_quarantined(self, table: pa.Table, file_column: str) -> None:
        if table.num_rows:
            for name, who, code, n in self._keys(table, file_column, "_reason_code"):
                self.quarantined[(name, who or None, code)] += n


def ledger_rows(
    source: Source,
    day: date,
    files: list[LakeFile],
    outcomes: dict,
    counts: DelivererCounts,
) -> pa.Table:
    """The ledger's rows for one ingested day: a row per file and deliverer (one per file at least).
    Nothing in it comes from the clock: ingesting the same files again gives the same bytes."""
    due = source.due_at(day)
    reasons: dict[tuple, Counter] = {}
    for (name, who, code), n in counts.quarantined.items():
        reasons.setdefault((name, who), Counter())[code] += n
    rows = []
    for f in sorted(files, key=lambda f: f.name):
        outcome = outcomes.get(f.name)
        if outcome is None:  # an undated file with no rows on this day
            continue
        keys = sorted({k for k in (*counts.accepted, *reasons) if k[0] == f.name}, key=lambda k: (k[1] is None, k[1]))
        for _, who in keys or [(f.name, None)]:
            quarantined = reasons.get((f.name, who), Counter())
            rows.append(
                {
                    "source": source.name,
                    "business_day": day,
                    "file": f.name,
                    "deliverer_column": counts.column,
                    "deliverer": who,
                    "arrived_at": f.mtime,
                    "due_at": due,
                    "file_bytes": f.size,
                    "file_status": outcome.status,
                    "file_error": outcome.error,
                    "accepted": counts.accepted.get((f.name, who), 0),
                    "quarantined": sum(quarantined.values()),
                    "top_reasons": _top(quarantined),
                }
            )
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def _top(reasons: Counter) -> str | None:
    """``code:rows`` of the most frequent reasons, most first: ``missing_required:12, bad_number:3``."""
    if not reasons:
        return None
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return ", ".join(f"{code}:{n}" for code, n in top)


def write_ledger(store: LakeStore, source: Source, day: date, rows: pa.Table) -> str:
    """Replace the day's ledger of ``source`` (atomically, like bronze)."""
    path = ledger_path(source, day)
    store.write_parquet(path, rows, SCHEMA)
    return path


# -- late and missing deliveries ------------------------------------------------------------
LOOK_BACK_DAYS = 28  # a deliverer that delivered the source within these days is expected on the next
FACTORIES = "bronze/factories"


@dataclass(frozen=True)
class Lapse:
    """A deliverer's files for a day that came late, or not at all."""

    source: str
    day: date
    supplier_id: str | None
    factory_id: str | None
    kind: str  # late | missing
    expected_file: str
    due_at: datetime
    arrived_at: datetime | None = None

    def describe(self) -> str:
        who = f"supplier {self.supplier_id or 'unknown'}" + (f" (factory {self.factory_id})" if self.factory_id else "")
        due = self.due_at.strftime("%Y-%m-%d %H:%M UTC")
        if self.kind == "late":
            late = self.arrived_at - self.due_at
            hours, minutes = divmod(int(late.total_seconds() // 60), 60)
            return (
                f"{who}: {self.source} for {self.day} arrived {hours}h{minutes:02d}m late "
                f"(due {due}) in {self.expected_file}"
            )
        return (
            f"{who}: {self.source} for {self.day} is missing: expected its rows in {self.expected_file} by {due}; "
            "ask the supplier to deliver the day's export into the landing zone"
        )


def expected_file(source: Source, day: date) -> str:
    """The file a day's delivery is expected as: the source's pattern with the day in it."""
    stamp = day.strftime(source.day_in_name) if source.day_in_name else day.isoformat()
    return f"{source.landing_dir}/{source.files.replace('*', stamp, 1)}"


def _ledger(store: LakeStore, source: Source, days: list[date]) -> list[dict]:
    rows: list[dict] = []
    for day in days:
        path = ledger_path(source, day)
        if store.exists(path):
            rows += store.read_table(path).to_pylist()
    return rows


def _owners(store: LakeStore) -> dict[str, str]:
    if not store.list_files(FACTORIES, "*.parquet", recursive=True):
        return {}
    table = store.read_table(FACTORIES, columns=["factory_id", "supplier_id"])
    return dict(zip(table.column(0).to_pylist(), table.column(1).to_pylist()))


def _file_deliverers(rows: list[dict]) -> dict[tuple, set]:
    """Each file's deliverers (an empty set for a file that names none)."""
    per_file: dict[tuple, set] = {}
    for r in rows:
        who = per_file.setdefault((r["business_day"], r["file"]), set())
        if r["deliverer"] is not None:
            who.add(r["deliverer"])
    return per_file


def _shared_files(rows: list[dict]) -> list[set]:
    """The deliverers of each file that carried the rows of more than one."""
    return [who for who in _file_deliverers(rows).values() if len(who) > 1]


def lapses(store: LakeStore, source: Source, day: date) -> list[Lapse]:
    """The deliverers whose rows of ``day`` came after the deadline, or did not come although
    they delivered the source in the :data:`LOOK_BACK_DAYS` before: read from the ledger (one
    small file a day), never from bronze. Nothing for a source whose rows name no deliverer.

    A deliverer whose files are its own is missing when none came; one that shares an export
    with others (one file for every factory) only when no such shared file came: a shared file
    without its rows is no lapse (a line that did not run reports nothing)."""
    if source.deliverer is None:
        return []
    today = _ledger(store, source, [day])
    before = _ledger(store, source, [day - timedelta(days=n) for n in range(1, LOOK_BACK_DAYS + 1)])
    owners = _owners(store) if source.deliverer == "factory_id" else {}
    due = source.due_at(day)
    arrived: dict[str, datetime | None] = {}
    for row in today:
        if row["deliverer"] is not None and (row["accepted"] or row["quarantined"]):
            when = row["arrived_at"]
            previous = arrived.get(row["deliverer"])
            arrived[row["deliverer"]] = max(when, previous) if when and previous else when or previous
    regulars = {r["deliverer"] for r in before if r["deliverer"] is not None and r["accepted"]}
    shared = _shared_files(before)
    own = {who for who in regulars if not any(who in deliverers for deliverers in shared)}
    # a file came that is no own-file deliverer's own (an export shared by several, or naming none)
    shared_came = any(not (len(who) == 1 and who <= own) for who in _file_deliverers(today).values())
    found = []
    for who in sorted(set(arrived) | regulars):
        factory = who if source.deliverer == "factory_id" else None
        supplier = owners.get(who) if factory else who
        common = {"source": source.name, "day": day, "supplier_id": supplier, "factory_id": factory}
        if who not in arrived:
            if who in own or not shared_came:
                found.append(Lapse(**common, kind="missing", expected_file=expected_file(source, day), due_at=due))
        elif arrived[who] is not None and arrived[who] > due:
            files = sorted({r["file"] for r in today if r["deliverer"] == who})
            where = ", ".join(f"{source.landing_dir}/{f}" for f in files)
            found.append(Lapse(**common, kind="late", expected_file=where, due_at=due, arrived_at=arrived[who]))
    return found

"""Landing -> bronze: read a day's deliveries, type them, apply the rules, publish atomically.

A daily source's partition ``bronze/<entity>/day=YYYY-MM-DD/part-0.parquet`` is a pure
function of the landing files named for that day: running it again replaces it wholly
and gives the same rows. Every delivered row ends in bronze or in
``quarantine/<entity>/day=.../part-0.parquet`` with its reason (accepted + quarantined =
delivered); a file that cannot be read at all is quarantined as one row naming the file
and what to do.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.arrivals import DelivererCounts, ledger_path, ledger_rows, write_ledger
from orchestration.lib.lake import LakeFile, LakeStore
from orchestration.lib.readers import FILE, ROW, FileRejected, RawFile, malformed_fix, raw_text, read_landing_file
from orchestration.lib.rules import apply_rules, connect, event_days
from orchestration.lib.sources import Source, load_sources

log = logging.getLogger(__name__)
PART = "part-0.parquet"
PREVIEW_ROWS = 5
# a quarantine file's footer sums it up (:func:`quarantine_summary`): the checks judge every day from it
SUMMARY_KEY = "supplyloop.quarantine"
EXAMPLES_PER_REASON = 3  # distinct reason texts kept per reason code and day
EXAMPLE_CHARS = 300


class MasterDataMissing(RuntimeError):
    """A daily source refers to master data that has not been ingested yet."""


def quarantine_schema(source: Source) -> pa.Schema:
    """Rejected rows: every column as delivered (text), where it came from, and why."""
    return pa.schema(
        [pa.field(c.name, pa.string()) for c in source.columns]
        + [
            pa.field(FILE, pa.string(), False),
            pa.field(ROW, pa.int64()),
            pa.field("_reason_code", pa.string(), False),
            pa.field("_reason", pa.string(), False),
            pa.field("_raw_text", pa.string()),
        ]
    )


def bronze_path(source: Source, day: date | None) -> str:
    return f"{source.bronze_dir}/day={day.isoformat()}/{PART}" if day else f"{source.bronze_dir}/{PART}"


def quarantine_path(source: Source, day: date) -> str:
    return f"{source.quarantine_dir}/day={day.isoformat()}/{PART}"


@dataclass
class FileOutcome:
    """What became of one delivered file."""

    file: str
    rows: int = 0
    accepted: int = 0
    quarantined: int = 0
    status: str = "loaded"  # loaded | rejected | duplicate
    error: str | None = None
    renamed: dict[str, str] = field(default_factory=dict)
    # data rows the file delivered to this partition, when known: then accepted + quarantined
    # = delivered; unknown (None) for a file that cannot be split into rows (undecodable bytes,
    # a Parquet file or workbook that does not open, a link that is not followed), kept as one row
    delivered: int | None = None


@dataclass
class IngestResult:
    """The outcome of ingesting one partition (a day, or a master-data snapshot)."""

    source: str
    day: date | None
    files: list[FileOutcome] = field(default_factory=list)
    accepted: int = 0
    quarantined: int = 0
    bytes_read: int = 0
    reasons: Counter = field(default_factory=Counter)
    # per reason code, the first few distinct reason texts (what a person reads to fix it)
    examples: dict[str, list[str]] = field(default_factory=dict)
    preview: pa.Table | None = None
    bronze: str = ""
    quarantine: str | None = None

    @property
    def rows_in(self) -> int:
        return self.accepted + self.quarantined

    @property
    def rejected_files(self) -> list[FileOutcome]:
        return [f for f in self.files if f.status == "rejected"]

    def summary(self) -> str:
        where = self.day.isoformat() if self.day else "snapshot"
        text = f"{self.source} {where}: {len(self.files)} files, {self.rows_in} rows, {self.accepted} accepted, {self.quarantined} quarantined"
        return text + "".join(f"\n  ! {f.error}" for f in self.rejected_files)


# -- finding the deliveries -------------------------------------------------------------


def landing_index(store: LakeStore, source: Source) -> dict[date | None, list[LakeFile]]:
    """The source's landing files grouped by business day (one listing).

    A file's day is the one in its name (``day_in_name``). A daily file whose name has no
    day is listed under every day its rows fall on (it is read once to find them, see
    :func:`undated_file`); master data's files are all under None.
    """
    index: dict[date | None, list[LakeFile]] = defaultdict(list)
    for f in store.list_files(source.landing_dir, source.files):
        day = source.day_of(f.name)
        if day is None and source.is_daily:
            for covered in undated_days(store, source, f):
                index[covered].append(f)
        else:
            index[day].append(f)
    return dict(index)


def latest_snapshot(store: LakeStore, source: Source) -> LakeFile | None:
    """The master-data snapshot that wins: the newest day in its name, then the newest
    delivery, then the last name."""
    files = store.list_files(source.landing_dir, source.files)
    return max(
        files,
        key=lambda f: (source.day_of(f.name) or date.min, f.mtime.timestamp() if f.mtime else 0.0, f.name),
        default=None,
    )


@dataclass(frozen=True)
class UndatedFile:
    """A daily file whose name carries no day, read once and split by its rows' business day.

    Rows whose event time is empty or does not parse, and the file itself when it cannot be
    read at all, belong to its *home* day: the first day its rows fall on, else the day it
    was delivered (local time), so they are quarantined on one day, never lost.
    """

    raw: RawFile | None
    rejected: FileRejected | None
    row_days: pa.Array | None  # date32, one per row of raw.table; null where the time does not parse
    home: date
    days: tuple[date, ...]

    def rows_on(self, day: date) -> RawFile | None:
        """The file's rows for ``day`` (and, on its home day, the rows without a day)."""
        if self.raw is None:
            return None
        on_day = pc.fill_null(pc.equal(self.row_days, pa.scalar(day, pa.date32())), day == self.home)
        malformed = self.raw.malformed if day == self.home else []
        return RawFile(self.raw.file, self.raw.table.filter(on_day), malformed, self.raw.renamed)


_UNDATED: OrderedDict[tuple[str, str], UndatedFile] = OrderedDict()
_UNDATED_DAYS: dict[tuple[str, str], tuple[date, ...]] = {}  # small: a few days per file version
_UNDATED_LOCK = threading.Lock()
UNDATED_CACHED = 4  # files kept read between the days of a backfill


def undated_days(store: LakeStore, source: Source, file: LakeFile) -> tuple[date, ...]:
    """The business days a file without a day in its name covers; read once per version,
    so a sensor that lists the landing zone every minute does not read it again."""
    cache_key = (store.uri(file.path), file.version)
    with _UNDATED_LOCK:
        known = _UNDATED_DAYS.get(cache_key)
    if known is None:
        known = undated_file(store, source, file).days
        with _UNDATED_LOCK:
            _UNDATED_DAYS[cache_key] = known
    return known


def undated_file(store: LakeStore, source: Source, file: LakeFile) -> UndatedFile:
    """Read a daily file without a day in its name and find the days its rows fall on.

    The last few are kept in memory by version, so a backfill reads each once; a file is
    held whole while its days are ingested (split very large exports by day).
    """
    cache_key = (store.uri(file.path), file.version)
    with _UNDATED_LOCK:
        if cache_key in _UNDATED:
            _UNDATED.move_to_end(cache_key)
            return _UNDATED[cache_key]
    delivered = (file.mtime or datetime.now(UTC)).astimezone(ZoneInfo(source.timezone)).date()
    try:
        raw = read_landing_file(store, source, file)
    except FileRejected as err:
        undated = UndatedFile(None, err, None, delivered, (delivered,))
    else:
        row_days = event_days(source, raw.table)
        found = pc.unique(row_days.drop_null()).to_pylist()
        home = min(found, default=delivered)
        has_homeless = row_days.null_count > 0 or bool(raw.malformed) or not found
        days = tuple(sorted({*found, home} if has_homeless else found))
        undated = UndatedFile(raw, None, row_days, home, days)
    with _UNDATED_LOCK:
        _UNDATED[cache_key] = undated
        while len(_UNDATED) > UNDATED_CACHED:
            _UNDATED.popitem(last=False)
    return undated


def load_references(store: LakeStore, source: Source) -> dict[tuple[str, str], pa.Array]:
    """The known keys of every master entity this source refers to, from bronze."""
    sources = load_sources()
    refs: dict[tuple[str, str], pa.Array] = {}
    for col in source.columns:
        if not col.references:
            continue
        entity, key = col.references
        path = bronze_path(sources[entity], None)
        if not store.exists(path):
            raise MasterDataMissing(
                f"{source.name}.{col.name} refers to {entity}.{key}, but {store.uri(path)} does not exist yet: "
                f"materialize the master-data asset bronze/master/{entity} first"
            )
        refs[col.references] = pc.unique(store.read_table(path, columns=[key]).column(key)).drop_null()
    return refs


# -- the work ---------------------------------------------------------------------------


def _duplicates(store: LakeStore, files: list[LakeFile]) -> dict[str, str]:
    """Files byte-identical to an earlier file of the same delivery: {later: earlier}.

    Only files of equal size can be equal, so checksums are computed for those alone.
    """
    by_size: dict[int, list[LakeFile]] = defaultdict(list)
    for f in files:
        by_size[f.size].append(f)
    dupes: dict[str, str] = {}
    for size, same_size in by_size.items():
        same_size = [f for f in same_size if f.refused is None]
        if size == 0:
            continue
        if len(same_size) < 2:
            continue
        first_by_hash: dict[str, LakeFile] = {}
        for f in same_size:
            h = store.sha256(f.path)
            if h in first_by_hash:
                dupes[f.path] = f"{first_by_hash[h].name} (sha256 {h[:12]})"
            else:
                first_by_hash[h] = f
    return dupes


def _rejected_file_rows(source: Source, file: LakeFile, err: FileRejected) -> pa.Table:
    """A file rejected whole: each data row it holds as a quarantine row of its own (number and
    text as delivered, the file's reason), so its rows are counted as rows; one row naming the
    file when it cannot be split into rows, or holds none."""
    rows = err.rows or [(None, None)]
    n = len(rows)
    columns = {c.name: pa.nulls(n, pa.string()) for c in source.columns}
    columns.update(
        {
            FILE: pa.repeat(pa.scalar(file.name, pa.string()), n),
            ROW: pa.array([r for r, _ in rows], pa.int64()),
            "_reason_code": pa.repeat(pa.scalar(err.code, pa.string()), n),
            "_reason": pa.repeat(pa.scalar(f"{err.code}: {err.message}", pa.string()), n),
            "_raw_text": pa.array([t for _, t in rows], pa.string()),
        }
    )
    return pa.table(columns, schema=quarantine_schema(source))


def _malformed_rows(source: Source, raw: RawFile, file_reason: str | None) -> pa.Table:
    """Rows the parser could not split, kept with their text (as duplicates, if the file is one)."""
    n = len(raw.malformed)
    code = "duplicate_file" if file_reason else "malformed_row"
    columns = {c.name: pa.nulls(n, pa.string()) for c in source.columns}
    columns.update(
        {
            FILE: [raw.file.name] * n,
            ROW: [m.row for m in raw.malformed],
            "_reason_code": [code] * n,
            "_reason": [
                file_reason or f"malformed_row: row {m.row} of {raw.file.name}: {m.why}; {malformed_fix(source, m)}"
                for m in raw.malformed
            ],
            "_raw_text": [raw_text(m.text) for m in raw.malformed],
        }
    )
    return pa.table(columns, schema=quarantine_schema(source))


def _tagged(raw: RawFile, order: int, file_reason: str | None) -> pa.Table:
    n = raw.table.num_rows
    return (
        raw.table.append_column(FILE, pa.repeat(pa.scalar(raw.file.name, pa.string()), n))
        .append_column("_file_order", pa.repeat(pa.scalar(order, pa.int32()), n))
        .append_column("_file_reason", pa.repeat(pa.scalar(file_reason, pa.string()), n))
    )


@dataclass
class _Delivery:
    """A partition's files as read: one text table of every readable row, and what was refused."""

    raw: pa.Table | None
    refused: list[pa.Table]
    outcomes: dict[str, FileOutcome]
    bytes_read: int


def _read_file(store: LakeStore, source: Source, file: LakeFile, day: date | None) -> RawFile | None:
    """One delivered file's rows for this partition; None when it has none here."""
    if day is None or not source.is_daily or source.day_of(file.name) is not None:
        return read_landing_file(store, source, file)
    undated = undated_file(store, source, file)
    if undated.rejected is not None:
        if day != undated.home:
            return None
        raise undated.rejected
    return undated.rows_on(day)


def _read_delivery(store: LakeStore, source: Source, files: list[LakeFile], day: date | None) -> _Delivery:
    outcomes = {f.name: FileOutcome(f.name) for f in files}
    duplicates = _duplicates(store, files)
    tables, refused = [], []
    for order, f in enumerate(files):
        try:
            raw = _read_file(store, source, f, day)
            if raw is None:
                del outcomes[f.name]
                continue
        except FileRejected as err:
            outcome = outcomes[f.name]
            outcome.status, outcome.error, outcome.delivered = "rejected", f"{err.code}: {err.message}", err.delivered
            refused.append(_rejected_file_rows(source, f, err))
            log.warning("%s: %s", source.name, err)
            continue
        outcomes[f.name].renamed = raw.renamed
        outcomes[f.name].delivered = raw.rows_delivered
        file_reason = None
        if f.path in duplicates:
            outcomes[f.name].status = "duplicate"
            file_reason = (
                f"duplicate_file: {f.name} is byte-identical to {duplicates[f.path]}, so its rows are kept "
                "here and not loaded twice; remove the repeated delivery from the landing zone, or, if another "
                "export was meant, deliver that one in its place"
            )
        if raw.malformed:
            refused.append(_malformed_rows(source, raw, file_reason))
        tables.append(_tagged(raw, order, file_reason))
    raw = pa.concat_tables(tables) if tables else None
    return _Delivery(raw, refused, outcomes, sum(f.size for f in files))


def _split(source: Source, raw: pa.Table, typed: pa.RecordBatch) -> tuple[pa.Table, pa.Table | None]:
    """Accepted rows (typed, with lineage) and rejected rows (as delivered, with the reason).

    ``typed`` is the rules' output for exactly the rows of ``raw``, in the same order.
    """
    columns = [typed.column(c.name) for c in source.columns] + [raw.column(FILE), raw.column(ROW)]
    accepted = pa.Table.from_arrays(columns, names=source.schema.names)
    reason = typed.column("_reason")
    if reason.null_count == typed.num_rows:  # the usual case: every row good
        return accepted.cast(source.schema), None
    rejected_mask = pc.is_valid(reason)
    bad = raw.filter(rejected_mask)
    reasons = reason.filter(rejected_mask)
    quarantined = {c.name: bad.column(c.name) for c in source.columns}
    quarantined.update(
        {
            FILE: bad.column(FILE),
            ROW: bad.column(ROW),
            "_reason_code": pc.list_element(pc.split_pattern(reasons, ":", max_splits=1), 0),
            "_reason": reasons,
            "_raw_text": pa.nulls(bad.num_rows, pa.string()),
        }
    )
    accepted = accepted.filter(pc.invert(rejected_mask)).cast(source.schema)
    return accepted, pa.table(quarantined, schema=quarantine_schema(source))


def ingest_files(
    store: LakeStore,
    source: Source,
    files: list[LakeFile],
    day: date | None,
    references: dict[tuple[str, str], pa.Array],
    snapshot_day: date | None = None,
) -> IngestResult:
    """Ingest one partition's files: bronze and quarantine are replaced wholly, atomically."""
    files = sorted(files, key=lambda f: f.name)
    q_path = quarantine_path(source, day or snapshot_day or date.today())
    for path in (bronze_path(source, day), q_path, *([ledger_path(source, day)] if day and source.is_daily else [])):
        folder = path.rsplit("/", 1)[0]
        for name in store.sweep_temporaries(folder):
            log.warning("%s: removed %s/%s, left over by a write that was killed", source.name, folder, name)
    delivery = _read_delivery(store, source, files, day)
    result = IngestResult(
        source=source.name,
        day=day,
        files=list(delivery.outcomes.values()),
        bytes_read=delivery.bytes_read,
        bronze=store.uri(bronze_path(source, day)),
    )
    accepted_per_file, rejected_per_file = Counter(), Counter()
    per_deliverer = DelivererCounts(source)
    preview: list[pa.Table] = []

    def reject(table: pa.Table) -> None:
        quarantine.write(table)
        rejected_per_file.update(_value_counts(table.column(FILE)))
        per_deliverer.add_quarantined(table, FILE)
        result.reasons.update(_value_counts(table.column("_reason_code")))
        note_examples(result.examples, table)

    with (
        store.parquet_writer(bronze_path(source, day), source.schema) as bronze,
        store.parquet_writer(q_path, quarantine_schema(source)) as quarantine,
    ):
        for table in delivery.refused:
            reject(table)
        if delivery.raw is not None:
            con = connect(source, threads=int(os.environ.get("INGEST_DUCKDB_THREADS", "1")))
            try:
                offset = 0
                for batch in apply_rules(con, source, delivery.raw, references, day):
                    good, bad = _split(source, delivery.raw.slice(offset, batch.num_rows), batch)
                    offset += batch.num_rows
                    bronze.write(good)
                    accepted_per_file.update(_value_counts(good.column(FILE)))
                    per_deliverer.add_accepted(good, FILE)
                    if good.num_rows and sum(t.num_rows for t in preview) < PREVIEW_ROWS:
                        # a copy: a slice would keep the whole batch alive as long as the result
                        preview.append(pa.Table.from_pylist(good.slice(0, PREVIEW_ROWS).to_pylist(), good.schema))
                    if bad is not None:
                        reject(bad)
            finally:
                con.close()
        result.accepted, result.quarantined = bronze.rows, quarantine.rows
        keep_quarantine = quarantine.rows > 0
        if keep_quarantine:
            quarantine.add_metadata({SUMMARY_KEY: json.dumps(quarantine_summary(result), sort_keys=True)})
    if not keep_quarantine:
        store.delete(q_path)
    result.quarantine = store.uri(q_path) if keep_quarantine else None
    for name, outcome in delivery.outcomes.items():
        outcome.accepted = accepted_per_file.get(name, 0)
        outcome.quarantined = rejected_per_file.get(name, 0)
        outcome.rows = outcome.accepted + outcome.quarantined
    if preview:
        result.preview = pa.concat_tables(preview).slice(0, PREVIEW_ROWS)
    if day is not None and source.is_daily:  # written last: it describes what bronze and quarantine now hold
        write_ledger(store, source, day, ledger_rows(source, day, files, delivery.outcomes, per_deliverer))
    return result


def note_examples(examples: dict[str, list[str]], table: pa.Table, rows: int = 200) -> None:
    """Keep the first few distinct reason texts of each reason code (from the first ``rows`` rows)."""
    head = table.slice(0, rows)
    for code, reason in zip(head.column("_reason_code").to_pylist(), head.column("_reason").to_pylist()):
        kept = examples.setdefault(code, [])
        text = reason[:EXAMPLE_CHARS]
        if len(kept) < EXAMPLES_PER_REASON and text not in kept:
            kept.append(text)


def quarantine_summary(result: IngestResult) -> dict:
    """What a day's quarantine holds, in a few hundred bytes: rows, files rejected whole (with
    why), rows per reason code and a few reason texts each. Kept in the quarantine file's
    footer, so a check reads every day's without reading a row."""
    return {
        "quarantined": result.quarantined,
        "accepted": result.accepted,
        "rejected_files": [{"file": f.file, "error": f.error} for f in result.rejected_files],
        "reasons": dict(result.reasons),
        "examples": result.examples,
    }


def _value_counts(array: pa.Array | pa.ChunkedArray) -> dict:
    counts = pc.value_counts(array)
    return dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()))


def ingest_day(
    store: LakeStore,
    source: Source,
    day: date,
    files: list[LakeFile] | None = None,
    references: dict[tuple[str, str], pa.Array] | None = None,
) -> IngestResult:
    """Ingest one business day of a daily source."""
    if files is None:
        files = landing_index(store, source).get(day, [])
    if references is None:
        references = load_references(store, source)
    return ingest_files(store, source, files, day, references)


def ingest_snapshot(store: LakeStore, source: Source) -> IngestResult:
    """Ingest the newest master-data snapshot of a master source."""
    snapshot = latest_snapshot(store, source)
    files = [snapshot] if snapshot else []
    day = source.day_of(snapshot.name) if snapshot else None
    return ingest_files(store, source, files, None, load_references(store, source), snapshot_day=day)


def ingest_days(
    store: LakeStore,
    source: Source,
    days: Iterable[date],
    workers: int | None = None,
    on_day: Callable[[IngestResult], None] | None = None,
) -> list[IngestResult]:
    """Ingest many days of one source, a few at a time; one listing, one reference load.

    A day that fails (e.g. the lake is unreachable) does not stop the others; its error
    is raised after every other day is done.
    """
    days = sorted(set(days))
    index = landing_index(store, source)
    references = load_references(store, source)
    workers = workers or int(os.environ.get("INGEST_WORKERS", str(min(4, os.cpu_count() or 1))))
    results: list[IngestResult] = []
    failures: list[tuple[date, BaseException]] = []

    def one(day: date) -> IngestResult:
        return ingest_files(store, source, index.get(day, []), day, references)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {day: pool.submit(one, day) for day in days}
        for day, future in futures.items():
            try:
                res = future.result()
            except Exception as err:  # noqa: BLE001 - reported below, after the other days
                log.error("%s %s failed: %s", source.name, day, err)
                failures.append((day, err))
                continue
            results.append(res)
            if on_day:
                on_day(res)
    if failures:
        day, err = failures[0]
        raise IngestFailed(source.name, failures) from err
    return results


class IngestFailed(RuntimeError):
    """Some days of a source could not be written; the others were."""

    def __init__(self, source: str, failures: list[tuple[date, BaseException]]):
        days = ", ".join(d.isoformat() for d, _ in failures)
        super().__init__(f"{source}: {len(failures)} day(s) failed ({days}): {failures[0][1]}")
        self.failures = failures

"""Supplier feeds from the replenishment mart: write, audit, publish, one supplier at a time.

A supplier's feed is its own rows of ``marts/supplier_replenishment``, nothing else. It is
written straight into its version folder, which has no manifest yet, so no reader sees it;
validated there by its gate (``expectations.supplier_replenishment``); and only then
published, without copying a byte: its files are checked against the checksums the gate
vouched for, the manifest is written, and last of all ``latest.json`` is switched to it::

    <lake>/feeds/<supplier_id>/<version>/replenishment.parquet
    <lake>/feeds/<supplier_id>/<version>/replenishment.csv  UTF-8 with BOM (Excel shows Chinese)
    <lake>/feeds/<supplier_id>/<version>/manifest.json      rows, sha256 per file, time range,
                                                            code version, the gate's result;
                                                            written once the files are vouched for
    <lake>/feeds/<supplier_id>/latest.json                  the published version, written last

``$FEEDS_ROOT`` (e.g. ``s3://<feeds bucket>/feeds``, which suppliers are given read access
to, each to its own prefix) puts the same layout there instead of under ``<lake>/feeds``.

A reader follows ``latest.json`` (or lists only version folders that have a manifest), so it
never sees half a feed: until the pointer moves it gets the previous feed, whole. A version
folder without a manifest is a feed being staged, one its gate held (removed by its run), or
a crashed run's left-over (swept by a later publication once it is old). Versions stay as
history. A version is ``<as_of_day>_<hash of the Parquet bytes>``: the same data published
twice is the same version, and staging it again writes nothing (its manifest must list the
very same files).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import metadata

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from expectations import order_lines, supplier_replenishment
from expectations.gate import GateResult, KeyedGateResult, latest_result, load_result, run_gate, run_keyed_gate
from orchestration.lib.coverage import feed_coverage
from orchestration.lib.lake import PARQUET_OPTIONS, LakeStore
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.settings import INPUT_GATE_ENV, feeds_root, input_gate_mode

FEED = supplier_replenishment.NAME
FEEDS_DIR = "feeds"
MART = "marts/supplier_replenishment/part-0.parquet"
SCORECARD_MART = "marts/supplier_scorecard/part-0.parquet"
SUPPLIERS = "bronze/suppliers"
ORDER_LINES = "bronze/order_lines"
ORDER_LINES_QUARANTINE = "quarantine/order_lines"
ORDER_LINES_ASSET = "bronze/sales/order_lines"
STRICT = "strict"
PARQUET_FILE = "replenishment.parquet"
CSV_FILE = "replenishment.csv"
SCORECARD_FILE = "scorecard.csv"
MANIFEST = "manifest.json"
LATEST = "latest.json"
BOM = b"\xef\xbb\xbf"
SUPPLIER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # whole id: fullmatch (a "$" lets "x\n" through)
WORKERS = 8  # files written and read at once (object stores answer slowly, in parallel)
STALE = timedelta(hours=1)  # unpublished version folders older than this are left-overs
CODE_VERSION_ENV = "SUPPLYLOOP_CODE_VERSION"
QUANTITIES = (
    "recent_demand_28d",
    "forecast_demand",
    "on_hand",
    "available",
    "in_transit",
    "open_production",
    "safety_stock",
    "prebuild_qty",
    "suggested_qty",
)


class InvalidSupplierId(ValueError):
    """A supplier id that cannot safely name a folder of the lake."""


class PublishRefused(RuntimeError):
    """The staged feed is not what its gate passed, or the gate did not pass."""


def validate_supplier_id(value: object) -> str:
    """The id itself when it can name a feed folder; otherwise a clear error saying what to fix."""
    return validate_feed_id(value, "supplier", InvalidSupplierId)


def validate_feed_id(value: object, owner: str, error: type[ValueError]) -> str:
    """``value`` when it can name the feed folder of an ``owner`` (supplier, partner), else ``error``."""
    if isinstance(value, str) and SUPPLIER_ID.fullmatch(value):
        return value
    shown = repr(value) if not isinstance(value, str) or len(value) <= 40 else f"{value[:40]!r}... ({len(value)} chars)"
    raise error(
        f"{owner} id {shown} cannot name a feed folder: use 1 to 64 letters, digits, '_' or '-', "
        f"starting with a letter or digit; correct it in the {owner}s master data"
    )


@dataclass(frozen=True)
class FeedStore:
    """Where the feeds are: ``<lake>/feeds/``, or a root of their own (``$FEEDS_ROOT``)."""

    store: LakeStore
    prefix: str = FEEDS_DIR

    def path(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def uri(self, *parts: str) -> str:
        return self.store.uri(self.path(*parts))


def feed_store(lake: LakeStore) -> FeedStore:
    """The feeds of ``lake``: under it, unless ``$FEEDS_ROOT`` names another place."""
    root = feeds_root()
    if not root or root.rstrip("/") == lake.uri(FEEDS_DIR):
        return FeedStore(lake, FEEDS_DIR)
    return FeedStore(LakeStore(root, endpoint=lake.endpoint), "")


# -- inputs -----------------------------------------------------------------------
def supplier_ids(store: LakeStore) -> tuple[list[str], list[str]]:
    """The suppliers in master data: (ids that can have a feed, ids that cannot)."""
    if not store.list_files(SUPPLIERS, "*.parquet", recursive=True):
        return [], []
    ids = sorted({v for v in store.read_table(SUPPLIERS, columns=["supplier_id"]).column(0).to_pylist() if v})
    valid = [s for s in ids if SUPPLIER_ID.fullmatch(s)]
    return valid, [s for s in ids if not SUPPLIER_ID.fullmatch(s)]


def feed_rows(store: LakeStore, supplier_id: str) -> pa.Table:
    """One supplier's rows of the replenishment mart, in the feed's columns, by SKU.

    Only that supplier's rows are read (a filter on ``supplier_id``). Mart columns the
    feed does not promise are left out; a promised column that is missing is left for the
    gate to report.
    """
    validate_supplier_id(supplier_id)
    if not store.exists(MART):
        raise FileNotFoundError(f"no replenishment mart at {store.uri(MART)}: build the marts first")
    table = pq.read_table(store.fs_path(MART), filesystem=store.fs, filters=[("supplier_id", "==", supplier_id)])
    table = table.select([c for c in supplier_replenishment.SCHEMA.names if c in table.column_names])
    if "sku" in table.column_names:  # then every column: the same rows give the same bytes, ties or not
        keys = ["sku", *(c for c in table.column_names if c != "sku")]
        table = table.sort_by([(c, "ascending") for c in keys])
    return table.replace_schema_metadata(None)


@dataclass(frozen=True)
class MissingDay:
    """A business day of order lines with no accepted rows, and what its delivery became."""

    day: date
    quarantined: dict[str, dict[str, int]] = field(default_factory=dict)  # landing file -> reason code -> rows
    in_bronze: bool = True  # False: the day was never ingested

    def why(self) -> str:
        if self.quarantined:
            return ", ".join(_file_fate(name, codes) for name, codes in sorted(self.quarantined.items()))
        return "no rows were delivered for it" if self.in_bronze else "it was never ingested"

    def describe(self) -> str:
        return describe_missing([self])

    def record(self) -> dict:
        return {"day": self.day.isoformat(), "reason": self.describe(), "quarantined": self.quarantined}


def _file_fate(name: str, codes: dict[str, int]) -> str:
    (code, rows), *others = sorted(codes.items(), key=lambda c: (-c[1], c[0]))
    return f"landing file {name}: {rows:,} rows quarantined as {code}" + "".join(f", {n:,} as {c}" for c, n in others)


def describe_missing(days: list[MissingDay]) -> str:
    """What is missing and what to do, e.g. "order_lines has no accepted rows for 2026-11-21 (landing
    file X: 1,204 rows quarantined as wrong_day); re-deliver that day's file and materialize ..."."""
    one = len(days) == 1
    verb = "re-deliver" if any(d.quarantined for d in days) else "deliver"
    what = _and([f"{d.day.isoformat()} ({d.why()})" for d in days])
    return (
        f"order_lines has no accepted rows for {what}; {verb} {'that day' if one else 'those days'}'"
        f"{'s file' if one else ' files'} and materialize {ORDER_LINES_ASSET} for "
        + _and([d.day.isoformat() for d in days])
    )


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class InputDays:
    """The business days of bronze order lines, and the day the feeds are computed as of.

    ``incomplete`` are the newest days that have no accepted rows at all (e.g. a file that
    held only another day's rows, all quarantined as ``wrong_day``). A strict gate computes
    the feeds as of the newest day and fails on them; otherwise (the default) the feeds are
    computed as of the last complete day, and the incomplete days are reported.
    """

    landed: tuple[date, ...]
    last_complete: date | None
    incomplete: tuple[MissingDay, ...]
    mode: str

    @property
    def strict(self) -> bool:
        return self.mode == STRICT

    @property
    def newest(self) -> date:
        return self.landed[-1]

    @property
    def as_of_day(self) -> date | None:
        """The day a feed must reach: the newest day (strict), else the last complete day."""
        return self.newest if self.strict else self.last_complete

    @property
    def held_back(self) -> tuple[MissingDay, ...]:
        """The incomplete days the feeds are published without (none when strict)."""
        return () if self.strict else self.incomplete

    def describe(self) -> str | None:
        """The incomplete days, why, and the fix; None when every day has rows."""
        if not self.incomplete:
            return None
        text = describe_missing(list(self.incomplete))
        if self.strict:
            return f"{text}; the input gate is strict ({INPUT_GATE_ENV}={STRICT}), so no feed is published until then"
        if self.last_complete is None:
            return f"{text}; no day has accepted rows, so no feed can be computed"
        return f"{text}; until then the feeds are published as of {self.last_complete}, the last complete day"


def input_days(store: LakeStore, mode: str | None = None) -> InputDays | None:
    """The days of bronze order lines and which of the newest have no accepted rows; None before
    any landed. ``mode`` is the input gate's (default: :func:`~orchestration.lib.settings.input_gate_mode`)."""
    mode = mode or input_gate_mode()
    landed = _bronze_days(store)
    if not landed:
        return None
    incomplete, last_complete = [], None
    for day in reversed(landed):
        if _bronze_rows(store, day):
            last_complete = day
            break
        incomplete.append(missing_day(store, day))
    return InputDays(tuple(landed), last_complete, tuple(reversed(incomplete)), mode)


def missing_day(store: LakeStore, day: date) -> MissingDay:
    """What became of the delivery of a day without accepted rows: its quarantined rows per file and reason."""
    folder = f"{ORDER_LINES_QUARANTINE}/day={day.isoformat()}"
    quarantined: dict[str, dict[str, int]] = {}
    if store.list_files(folder, "*.parquet"):
        rows = store.read_table(folder, columns=["_source_file", "_reason_code"])
        counts = rows.group_by(["_source_file", "_reason_code"]).aggregate([([], "count_all")])
        for name, code, n in zip(*(counts.column(c).to_pylist() for c in counts.column_names), strict=True):
            quarantined.setdefault(name, {})[code] = n
    return MissingDay(day, quarantined, store.exists(f"{ORDER_LINES}/day={day.isoformat()}"))


def expected_as_of_day(store: LakeStore) -> date | None:
    """The day a feed must reach: the last business day of order lines in bronze (strict gate),
    or the last one with accepted rows (the default); see :class:`InputDays`."""
    days = input_days(store)
    return days.as_of_day if days else None


def _bronze_days(store: LakeStore) -> list[date]:
    return sorted(date.fromisoformat(d[4:]) for d in store.list_dirs(ORDER_LINES) if d.startswith("day="))


def _bronze_rows(store: LakeStore, day: date) -> int:
    """Rows in a day's bronze partition, from the Parquet footers alone."""
    files = store.list_files(f"{ORDER_LINES}/day={day.isoformat()}", "*.parquet")
    return sum(store.parquet_metadata(f.path).num_rows for f in files)


def order_lines_window(
    store: LakeStore, days: int = order_lines.WINDOW_DAYS, mode: str | None = None
) -> tuple[pa.Table, order_lines.OrderLinesWindow] | None:
    """The last ``days`` business days of bronze order lines (as far back as history goes), up to
    the day the feeds are computed as of (:class:`InputDays`), and the newer days held back."""
    found = input_days(store, mode)
    return None if found is None else _window(store, found, days)


def _window(
    store: LakeStore, found: InputDays, days: int = order_lines.WINDOW_DAYS
) -> tuple[pa.Table, order_lines.OrderLinesWindow]:
    last = found.as_of_day or found.newest
    first = max(found.landed[0], last - timedelta(days=days - 1))
    parts = []
    for day in (d for d in found.landed if d >= first):
        table = store.read_table(f"{ORDER_LINES}/day={day.isoformat()}", columns=list(order_lines.REQUIRED))
        parts.append(table.append_column("day", pa.array([day.isoformat()] * table.num_rows, pa.string())))
    rows = pa.concat_tables(parts, promote_options="permissive")  # days written apart may differ in nullability
    window_rows = rows.filter(pc.less_equal(rows.column("day"), last.isoformat()))
    before = window_rows.filter(pc.not_equal(window_rows.column("day"), last.isoformat()))
    typical = None
    if before.num_rows:
        per_day = before.group_by("day").aggregate([("order_id", "count_distinct")])
        typical = float(pc.approximate_median(per_day.column("order_id_count_distinct")).as_py())
    present = set(pc.unique(rows.column("day")).to_pylist())
    gaps = [d for d in order_lines.OrderLinesWindow(first, last).days if d not in present]
    held_back = found.held_back if found.last_complete is not None else ()
    return rows, order_lines.OrderLinesWindow(
        first,
        last,
        typical,
        held_back=tuple(d.day.isoformat() for d in held_back),
        missing_advice=describe_missing([missing_day(store, date.fromisoformat(d)) for d in gaps]) if gaps else None,
        held_back_advice=found.describe() if held_back else None,
    )


def latest_manifest(store: LakeStore, supplier_id: str) -> dict | None:
    """The manifest of the supplier's published feed, if it has one."""
    feeds = feed_store(store)
    pointer = feeds.path(validate_supplier_id(supplier_id), LATEST)
    if not feeds.store.exists(pointer):
        return None
    latest = json.loads(feeds.store.read_bytes(pointer))
    return json.loads(feeds.store.read_bytes(feeds.path(supplier_id, latest["manifest"])))


def published_suppliers(store: LakeStore) -> list[str]:
    """The suppliers that have a published feed."""
    feeds = feed_store(store)
    return [n for n in feeds.store.list_dirs(feeds.prefix) if feeds.store.exists(feeds.path(n, LATEST))]


# -- write --------------------------------------------------------------------------
@dataclass(frozen=True)
class StagedFeed:
    """A feed written into its version folder, not visible to its supplier until published."""

    supplier_id: str
    version: str
    rows: int
    files: dict[str, str]  # file name -> sha256
    sizes: dict[str, int]
    folder: str  # in the feed store
    written: bool = True  # False: the version was published before, and its files were left as they are

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}"


def parquet_bytes(rows: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        rows,
        sink,
        compression=PARQUET_OPTIONS["compression"],
        compression_level=PARQUET_OPTIONS["compression_level"],
    )
    return sink.getvalue()


def csv_bytes(rows: pa.Table) -> bytes:
    """CSV in UTF-8 with a byte-order mark, so Excel opens Chinese product names correctly."""
    sink = io.BytesIO()
    pacsv.write_csv(rows, sink)
    return BOM + sink.getvalue()


def version_of(rows: pa.Table, parquet: bytes, *more: bytes) -> str:
    """``<as_of_day>_<hash>``: the hash of the feed's Parquet (and of the other files whose
    content it does not determine, such as the scorecard)."""
    day = "undated"
    if "as_of_day" in rows.column_names and rows.num_rows:
        latest = pc.max(rows.column("as_of_day")).as_py()
        day = latest.isoformat() if latest else day
    digest = hashlib.sha256(parquet)
    for data in more:
        digest.update(hashlib.sha256(data).digest())
    return f"{day}_{digest.hexdigest()[:12]}"


def stage_feed(store: LakeStore, supplier_id: str, rows: pa.Table, scorecard: pa.Table | None = None) -> StagedFeed:
    """Write the feed's Parquet and CSV (and the supplier's scorecard, when there is one) into
    its unpublished version folder ``feeds/<supplier>/<version>/`` (:func:`stage_version`)."""
    validate_supplier_id(supplier_id)
    feeds = feed_store(store)
    contents = {PARQUET_FILE: parquet_bytes(rows), CSV_FILE: csv_bytes(rows)}
    if scorecard is not None:
        contents[SCORECARD_FILE] = csv_bytes(scorecard)
    version = version_of(rows, contents[PARQUET_FILE], *([contents[SCORECARD_FILE]] if scorecard is not None else []))
    files = {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()}
    return StagedFeed(
        supplier_id=supplier_id,
        version=version,
        rows=rows.num_rows,
        files=files,
        sizes={name: len(data) for name, data in contents.items()},
        folder=feeds.path(supplier_id, version),
        written=stage_version(feeds, supplier_id, version, contents, files),
    )


def stage_version(
    feeds: FeedStore, owner_id: str, version: str, contents: dict[str, bytes], files: dict[str, str]
) -> bool:
    """Write ``contents`` (name -> bytes, whose sha256 are ``files``) into the version folder
    ``<owner_id>/<version>/``, which readers do not see until it has a manifest; True when written.

    A version published before (it has a manifest) is not written again, not a byte: its
    manifest must list these very files (else :class:`PublishRefused`), and False says it is
    unchanged. A folder without a manifest (a crashed run's, or one staging the same data at
    the same moment: the same bytes) is written over.
    """
    store = feeds.store
    folder = feeds.path(owner_id, version)
    if store.exists(f"{folder}/{MANIFEST}"):
        published_manifest(store, folder, owner_id, files)
        return False
    for name, data in contents.items():
        store.write_bytes(f"{folder}/{name}", data)
    return True


def published_manifest(store: LakeStore, folder: str, owner_id: str, files: dict[str, str]) -> bytes:
    """The manifest of the version published in ``folder`` (its bytes), which must list these very
    ``files`` (name -> sha256); else :class:`PublishRefused`."""
    data = store.read_bytes(f"{folder}/{MANIFEST}")
    if {name: entry["sha256"] for name, entry in json.loads(data)["files"].items()} != files:
        raise PublishRefused(
            f"{store.uri(folder)} is published with other files than this run staged for {owner_id} (the same "
            "Parquet, another CSV or scorecard); a published version is never written over, so it stays as it is"
        )
    return data


def read_staged(store: LakeStore, staged: StagedFeed) -> pa.Table:
    """The staged rows as stored, which is what the gate must see."""
    return feed_store(store).store.read_table(staged.path(PARQUET_FILE))


def discard_unpublished(feeds: FeedStore, folder: str) -> None:
    """Remove a version folder that was staged and not published; never one with a manifest."""
    if not feeds.store.exists(f"{folder}/{MANIFEST}"):
        feeds.store.delete_dir(folder)


# -- audit ------------------------------------------------------------------------------
def gate_feeds(store: LakeStore, staged: list[StagedFeed], as_of_day: date, docs: bool = True) -> KeyedGateResult:
    """Validate every staged feed as stored, each against its supplier's last published feed, in
    one validation per batch (``expectations.supplier_replenishment``); one stored result, an
    outcome per supplier."""
    from concurrent.futures import ThreadPoolExecutor

    def read(feed: StagedFeed) -> tuple[str, pa.Table, dict | None]:
        return feed.supplier_id, read_staged(store, feed), latest_manifest(store, feed.supplier_id)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        read_back = list(pool.map(read, staged))
    return run_keyed_gate(
        store,
        FEED,
        supplier_replenishment.batches(read_back, as_of_day),
        key=supplier_replenishment.FILE_SUPPLIER,
        partition=as_of_day.isoformat(),
        subject={"staged": {f.supplier_id: {"version": f.version, "files": f.files, "rows": f.rows} for f in staged}},
        docs=docs,
    )


def gate_order_lines(store: LakeStore, docs: bool = True, mode: str | None = None) -> GateResult | None:
    """Validate the bronze order lines the feeds read (the last 28 days up to the day the feeds
    are computed as of, see :class:`InputDays`); None before any landed.

    The result's subject names the gate's mode and the newer days it held back, with why.
    """
    found = input_days(store, mode)
    if found is None:
        return None
    rows, window = _window(store, found)
    return run_gate(
        store,
        order_lines.build_suite(window),
        rows.to_pandas(),
        partition=window.last_day.isoformat(),
        subject={
            "first_day": window.first_day.isoformat(),
            "last_day": window.last_day.isoformat(),
            "mode": found.mode,
            "held_back": [d.record() for d in found.held_back] if window.held_back else [],
            **({"note": window.held_back_advice} if window.held_back else {}),
        },
        docs=docs,
    )


def blocking_input_gate(store: LakeStore, as_of_day: date) -> GateResult | None:
    """The order lines' gate result for ``as_of_day`` if it failed with errors (it blocks every feed)."""
    result = latest_result(store, order_lines.NAME, as_of_day.isoformat())
    return result if result is not None and not result.success else None


def held_back_note(manifests: dict[str, dict]) -> str | None:
    """One line for a run summary: the days the published feeds were held back from, and why."""
    held = {d["day"]: d["reason"] for m in manifests.values() for d in m.get("incomplete_days") or []}
    if not held:
        return None
    as_of = sorted({str(m.get("as_of_day")) for m in manifests.values() if m.get("incomplete_days")})
    return f"feeds published as of {', '.join(as_of)}, not {', '.join(sorted(held))}: " + " | ".join(
        held[d] for d in sorted(held)
    )


# -- publish --------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishedFeed:
    """A feed its supplier can read: where its manifest is, and whether this run changed it."""

    supplier_id: str
    version: str
    rows: int
    folder: str  # in the feed store
    manifest_path: str
    uri: str  # of the version folder
    manifest: dict = field(repr=False)
    changed: bool = True

    @property
    def manifest_uri(self) -> str:
        return f"{self.uri}/{MANIFEST}"


def publish_feed(
    store: LakeStore,
    staged: StagedFeed,
    gate: KeyedGateResult,
    held_back: tuple[MissingDay, ...] = (),
    stored: GateResult | None = None,
    coverage: dict | None = None,
    rows: pa.Table | None = None,
    scorecard: pa.Table | None = None,
) -> PublishedFeed:
    """Publish a staged feed, but only if the stored gate result passed it, for these bytes.

    The gate's result is read back from the lake (``stored``: a run publishing many suppliers
    reads it once) rather than trusted from the caller. Nothing is copied: the files staged in
    the version folder are checked against the checksums the gate vouched for, then the manifest
    is written, then ``latest.json`` (:func:`publish_version`): a crash at any point leaves the
    previous feed published and whole; the next run completes the publication. ``held_back``
    are newer days of order lines the feed is published without (:attr:`InputDays.held_back`);
    its manifest names them and why. ``coverage``: :func:`feed_coverage` of the lake, once per run;
    ``rows`` and ``scorecard``: the rows the staged Parquet and scorecard were written from, when
    the caller holds them (the files' checksums are checked first), so the manifest need not
    read them back.
    """
    stored = stored or load_result(store, gate.result.path)
    feeds = feed_store(store)
    sid, version = staged.supplier_id, staged.version
    manifest, folder, changed = publish_version(
        feeds,
        FEED,
        sid,
        version,
        staged.files,
        stored,
        lambda: build_manifest(store, staged, gate, stored, held_back, coverage, rows, scorecard),
    )
    if changed:  # a crashed publication's left-overs are looked for when a version is published, not daily
        sweep_unpublished(feeds.store, feeds.path(sid), keep=version)
    return PublishedFeed(
        sid, version, manifest["rows"], folder, f"{folder}/{MANIFEST}", feeds.store.uri(folder), manifest, changed
    )


def publish_version(
    feeds: FeedStore,
    feed: str,
    owner_id: str,
    version: str,
    files: dict[str, str],
    result: GateResult,
    build: Callable[[], dict],
    owner: str = "supplier_id",
) -> tuple[dict, str, bool]:
    """Publish the version folder ``<owner_id>/<version>/`` that staging filled with ``files``
    (name -> sha256, :func:`stage_version`) if the stored gate ``result`` of ``feed`` passed these
    very files: read each file once to check it still has the checksum the gate vouched for,
    write the manifest ``build()`` makes, then switch ``latest.json``. Nothing is copied.

    A version published before keeps its manifest and files; ``latest.json`` is switched back
    to it (its files checked first) unless it points there already. A version folder this
    fails to publish is removed; a crash at any point leaves the previous version published and
    whole. Returns the manifest, the version folder and whether ``latest.json`` moved.
    """
    store = feeds.store
    folder = feeds.path(owner_id, version)
    manifest_path = f"{folder}/{MANIFEST}"
    before = store.exists(manifest_path)  # this very content was published before: keep that publication
    try:
        check_vouched(result, feed, owner_id, version, files, owner)
        if before:
            data = published_manifest(store, folder, owner_id, files)
            if latest_version(feeds, owner_id) == version:
                return json.loads(data), folder, False
        for name, digest in files.items():  # one read each: what is published is what the gate read
            if store.sha256(f"{folder}/{name}") != digest:
                raise PublishRefused(f"staged {name} of {owner_id} {version} changed after its gate passed")
        if not before:
            data = write_manifest(store, manifest_path, build())
    except BaseException:
        if not before:
            discard_unpublished(feeds, folder)  # best effort: a kill that skips this leaves what the next run sweeps
        raise
    point_latest(feeds, owner_id, version, data, owner=owner)
    return json.loads(data), folder, True


def check_vouched(
    result: GateResult, feed: str, owner_id: str, version: str, files: dict[str, str], owner: str = "supplier_id"
) -> None:
    """Refuse (:class:`PublishRefused`) unless the stored gate ``result`` is ``feed``'s and passed
    the feed of ``owner_id`` for ``version`` and these very ``files`` (name -> sha256)."""
    where, who = f"gate result {result.uri}", f"{owner.removesuffix('_id')} {owner_id}"
    if result.suite != feed:
        raise PublishRefused(f"{where} is for {result.suite}, not {feed}; the feed of {who} is not published")
    if (result.subject.get("outcomes") or {}).get(owner_id, {}).get("outcome") != "passed":
        raise PublishRefused(f"{where} did not pass the feed of {who}, so it is not published")
    vouched = (result.subject.get("staged") or {}).get(owner_id) or {}
    if vouched.get("version") != version or vouched.get("files") != files:
        raise PublishRefused(f"{where} validated other files than the staged feed of {who} {version}")


def build_manifest(
    store: LakeStore,
    staged: StagedFeed,
    gate: KeyedGateResult,
    result: GateResult,
    held_back: tuple[MissingDay, ...] = (),
    coverage: dict | None = None,
    rows: pa.Table | None = None,
    scorecard: pa.Table | None = None,
) -> dict:
    """What a published feed is: its files and checksums, its time range, what let it through."""
    if SCORECARD_FILE in staged.files and scorecard is None:
        scorecard = feeds_table(store, staged, SCORECARD_FILE)
    rows = rows if rows is not None else read_staged(store, staged)
    as_of = _day_range(rows, "as_of_day")
    order_by = _day_range(rows, "order_by_day")
    demand_from = (date.fromisoformat(as_of[0]) - timedelta(days=27)).isoformat() if as_of[0] else None
    return {
        "feed": FEED,
        "supplier_id": staged.supplier_id,
        "version": staged.version,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": staged.rows,
        "as_of_day": as_of[1],
        "time_range": {
            "demand_from": demand_from,
            "demand_to": as_of[1],
            "order_by_from": order_by[0],
            "order_by_to": order_by[1],
        },
        "files": {
            name: {"sha256": digest, "bytes": staged.sizes[name], "format": name.rsplit(".", 1)[-1]}
            for name, digest in staged.files.items()
        },
        "columns": [{"name": f.name, "type": str(f.type)} for f in rows.schema],
        "quantities": {
            c: {"min": pc.min(rows[c]).as_py(), "max": pc.max(rows[c]).as_py(), "sum": pc.sum(rows[c]).as_py()}
            for c in QUANTITIES
            if c in rows.column_names
        },
        # the sources this platform does not deliver, and what they leave at zero
        **(coverage if coverage is not None else feed_coverage(store)),
        **({"scorecard": scorecard_summary(scorecard)} if SCORECARD_FILE in staged.files else {}),
        "incomplete_days": [d.record() for d in held_back],
        "code_version": code_version(),
        "validation": {
            "suite": result.suite,
            "result_id": result.result_id,
            "outcome": _own_outcome(gate, staged.supplier_id),
            "success": True,
            "result": result.path,
            "result_uri": result.uri,
            "docs": result.docs,
            "warnings": [
                f"{w['gate']}: {w['expectation']}({w['column']})" for w in gate.warned.get(staged.supplier_id, [])
            ],
        },
    }


def _own_outcome(gate: KeyedGateResult, supplier_id: str) -> str:
    outcome = gate.outcome(supplier_id)["outcome"]
    return "failed" if outcome == "held" else outcome


def feeds_table(store: LakeStore, staged: StagedFeed, name: str) -> pa.Table:
    """A staged CSV file of the feed, read back."""
    data = feed_store(store).store.read_bytes(staged.path(name))
    return pacsv.read_csv(io.BytesIO(data.removeprefix(BOM)))


def scorecard_summary(rows: pa.Table) -> dict:
    """The scorecard in a few lines for the manifest: per source, the days on time, late,
    rejected and missing, the average lateness of the late ones, the quarantine ratio and the
    top reasons, over the scorecard's days; and the feed's own outcomes."""
    per_source: dict[str, dict] = {}
    reasons: dict[str, dict[str, int]] = {}
    summed = ["source", "delivery_status", "minutes_late", "accepted_rows", "quarantined_rows", "top_reasons"]
    for row in rows.select(summed).to_pylist():  # not the other columns: their timestamps cost the most to convert
        entry = per_source.setdefault(
            row["source"],
            {
                "days": 0,
                "on_time": 0,
                "late": 0,
                "rejected": 0,
                "missing": 0,
                "minutes_late": 0,
                "rows": 0,
                "quarantined": 0,
            },
        )
        entry["days"] += 1
        entry[row["delivery_status"]] = entry.get(row["delivery_status"], 0) + 1
        entry["minutes_late"] += row["minutes_late"] or 0
        entry["rows"] += (row["accepted_rows"] or 0) + (row["quarantined_rows"] or 0)
        entry["quarantined"] += row["quarantined_rows"] or 0
        for part in (row["top_reasons"] or "").split(", "):
            code, _, n = part.rpartition(":")
            if code:
                reasons.setdefault(row["source"], {})[code] = reasons.get(row["source"], {}).get(code, 0) + int(n)
    for source, entry in per_source.items():
        late_minutes = entry.pop("minutes_late")
        entry["avg_minutes_late"] = round(late_minutes / entry["late"]) if entry["late"] else 0
        entry["quarantine_ratio"] = round(entry.pop("quarantined") / entry["rows"], 4) if entry["rows"] else None
        del entry["rows"]
        top = sorted(reasons.get(source, {}).items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        entry["top_reasons"] = [f"{code}: {n} rows" for code, n in top]
    days = [d for d in rows.column("business_day").to_pylist() if d] if rows.num_rows else []
    feeds = {}
    if "feed_outcome" in rows.column_names:
        for outcome in rows.column("feed_outcome").to_pylist():
            if outcome:
                feeds[outcome] = feeds.get(outcome, 0) + 1
    return {
        "file": SCORECARD_FILE,
        "days": [str(min(days)), str(max(days))] if days else None,
        "deliveries": per_source,
        "feed_outcomes": feeds,
    }


def _day_range(rows: pa.Table, column: str) -> tuple[str | None, str | None]:
    if column not in rows.column_names or not rows.num_rows:
        return None, None
    low, high = pc.min(rows[column]).as_py(), pc.max(rows[column]).as_py()
    return (low.isoformat() if low else None), (high.isoformat() if high else None)


def write_manifest(store: LakeStore, path: str, manifest: dict) -> bytes:
    """Write ``manifest`` as JSON; the bytes written."""
    data = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    store.write_bytes(path, data)
    return data


def latest_version(feeds: FeedStore, owner_id: str) -> str | None:
    """The version ``latest.json`` of ``owner_id`` points at; None before its first publication."""
    pointer = feeds.path(owner_id, LATEST)
    return json.loads(feeds.store.read_bytes(pointer)).get("version") if feeds.store.exists(pointer) else None


def point_latest(feeds: FeedStore, owner_id: str, version: str, manifest: bytes, owner: str = "supplier_id") -> None:
    """Switch ``latest.json`` of ``owner_id`` to ``version``, whose manifest is ``manifest`` (its bytes)."""
    latest = {
        owner: owner_id,
        "version": version,
        "manifest": f"{version}/{MANIFEST}",
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "rows": json.loads(manifest)["rows"],
        "switched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    feeds.store.write_bytes(feeds.path(owner_id, LATEST), json.dumps(latest, indent=2).encode("utf-8"))


RECENT_VERSIONS = timedelta(days=7)  # how far back a crashed publication's folder is looked for


def sweep_unpublished(store: LakeStore, parent: str, keep: str) -> None:
    """Remove the version folders under ``parent`` that a crashed run left without a manifest,
    once their files are old (a run staging one now is left alone). Only the versions of the
    week before ``keep``'s day are looked at: one listing of folder names, not a walk of the
    history (an owner publishes a version a day for years, and every run would otherwise list
    them all); a published one costs a look for its manifest, not a listing."""
    day = keep.split("_", 1)[0]
    try:
        since = (date.fromisoformat(day) - RECENT_VERSIONS).isoformat()
    except ValueError:  # an undated version: look at every folder
        since = ""
    for name in store.list_dirs(parent):
        if name == keep or name.split("_", 1)[0] < since or store.exists(f"{parent}/{name}/{MANIFEST}"):
            continue
        if _left_over(store.list_files(f"{parent}/{name}", recursive=True)):
            store.delete_dir(f"{parent}/{name}")


def _left_over(files: list) -> bool:
    """Files no run is writing any more: every one older than :data:`STALE`."""
    cutoff = datetime.now(UTC) - STALE
    return all(f.mtime is not None and f.mtime < cutoff for f in files)


# -- many owners in one run ---------------------------------------------------------------
def split_by(table: pa.Table, key: str) -> dict[str, pa.Table]:
    """A table sorted by ``key`` as one slice per value (zero-copy), found in one vectorized pass."""
    import numpy as np

    ids = table.column(key).to_numpy(zero_copy_only=False)
    if not len(ids):
        return {}
    starts = np.concatenate([[0], np.flatnonzero(ids[1:] != ids[:-1]) + 1, [len(ids)]])
    return {ids[a]: table.slice(a, b - a) for a, b in zip(starts[:-1], starts[1:], strict=True)}


def each(work: Callable, items: list, what: str, say: Callable[[str], None], lines: int = 10) -> list:
    """``work`` on every item, :data:`WORKERS` at once, in order; a progress line (``what``, e.g.
    "supplier feeds: staged") every tenth or so."""
    from concurrent.futures import ThreadPoolExecutor

    from orchestration.lib.progress import count

    step, done = max(1, -(-len(items) // lines)), []
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for i, result in enumerate(pool.map(work, items), 1):
            done.append(result)
            if i % step == 0 and i < len(items):
                say(f"  {what} {count(i)}/{count(len(items))}")
    return done


# -- outcomes ---------------------------------------------------------------------------
OUTCOMES_DIR = "bronze/_feed_outcomes"
OUTCOME_SCHEMA = pa.schema(
    [
        pa.field("feed", pa.string(), False),
        pa.field("supplier_id", pa.string(), False),
        pa.field("as_of_day", pa.date32()),
        pa.field("outcome", pa.string(), False),  # published | held
        pa.field("reason", pa.string()),
        pa.field("version", pa.string()),
        pa.field("gate_result", pa.string()),
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), False),
    ]
)


@dataclass(frozen=True)
class Outcome:
    """What became of one supplier's feed for a day: published or held, and why."""

    supplier_id: str
    outcome: str  # published | unchanged | held
    reason: str | None = None
    version: str | None = None
    gate_result: str | None = None


def outcomes_path(as_of_day: date) -> str:
    return f"{OUTCOMES_DIR}/day={as_of_day.isoformat()}/{FEED}.parquet"


def record_outcomes(store: LakeStore, as_of_day: date | None, outcomes: list[Outcome]) -> str | None:
    """Keep what became of each supplier's feed for ``as_of_day`` (the supplier scorecard shows
    it) in one file for the day, ``bronze/_feed_outcomes/day=<as_of_day>/supplier_replenishment.parquet``:
    each supplier's last word that day. A supplier whose word is unchanged keeps its row (and
    when it was first said); the file is rewritten only when some word is new, under a lake lock,
    so runs for some suppliers and runs for all never lose each other's words. Nothing is kept
    without a day (no order lines yet) or for an id that cannot name a feed."""
    from orchestration.lib.locks import lake_lock

    fresh = {o.supplier_id: o for o in outcomes if SUPPLIER_ID.fullmatch(o.supplier_id or "")}
    if as_of_day is None or not fresh:
        return None
    path = outcomes_path(as_of_day)
    with lake_lock(store, "feed_outcomes", "the feeds' outcomes", wait=600, say=lambda _line: None):
        kept = {r["supplier_id"]: r for r in store.read_table(path).to_pylist()} if store.exists(path) else {}
        now, changed = datetime.now(UTC), False
        for sid, o in fresh.items():
            word = "published" if o.outcome == "unchanged" else o.outcome  # what the day's feed is
            before = kept.get(sid)
            if before is not None and (before["outcome"], before["reason"], before["version"]) == (
                word,
                o.reason,
                o.version,
            ):
                continue  # the same word again: the record, and when it was first said, stay
            kept[sid] = {
                "feed": FEED,
                "supplier_id": sid,
                "as_of_day": as_of_day,
                "outcome": word,
                "reason": o.reason,
                "version": o.version,
                "gate_result": o.gate_result,
                "decided_at": now,
            }
            changed = True
        if changed:
            rows = [kept[sid] for sid in sorted(kept)]
            store.write_parquet(path, pa.Table.from_pylist(rows, schema=OUTCOME_SCHEMA))
    return path


# -- read -------------------------------------------------------------------------------
def published_versions(store: LakeStore, supplier_id: str) -> list[str]:
    """The supplier's published versions, oldest first (only folders with a manifest)."""
    feeds = feed_store(store)
    base = feeds.path(validate_supplier_id(supplier_id))
    return [v for v in feeds.store.list_dirs(base) if feeds.store.exists(f"{base}/{v}/{MANIFEST}")]


def read_feed(store: LakeStore, supplier_id: str) -> pa.Table | None:
    """The supplier's published feed as a reader gets it: through ``latest.json``."""
    manifest = latest_manifest(store, supplier_id)
    if manifest is None:
        return None
    feeds = feed_store(store)
    return feeds.store.read_table(feeds.path(supplier_id, manifest["version"], PARQUET_FILE))


def verify_feed(store: LakeStore, supplier_id: str) -> list[str]:
    """Problems with the published feed: a file missing or not matching its manifest checksum."""
    return verify_published(feed_store(store), supplier_id, latest_manifest(store, supplier_id))


def verify_published(feeds: FeedStore, owner_id: str, manifest: dict | None) -> list[str]:
    """Problems with the version ``manifest`` describes: a file missing or not matching its checksum."""
    if manifest is None:
        return [f"{owner_id} has no published feed"]
    folder = feeds.path(owner_id, manifest["version"])
    problems = []
    for name, entry in manifest["files"].items():
        if not feeds.store.exists(f"{folder}/{name}"):
            problems.append(f"{folder}/{name} is missing")
        elif feeds.store.sha256(f"{folder}/{name}") != entry["sha256"]:
            problems.append(f"{folder}/{name} does not match its sha256 in the manifest")
    return problems


@lru_cache(maxsize=1)
def code_version() -> str:
    """``$SUPPLYLOOP_CODE_VERSION`` (set by a build), else the package version and git commit."""
    if os.environ.get(CODE_VERSION_ENV):
        return os.environ[CODE_VERSION_ENV]
    try:
        version = metadata.version("supplyloop")
    except metadata.PackageNotFoundError:
        version = "unknown"
    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"{version}+g{commit}" if commit else version

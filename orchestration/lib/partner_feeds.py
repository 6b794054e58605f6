"""Channel-partner feeds: every partner's weekly feed staged, gated in one validation, and
published partner by partner.

A partner's feed is its own rows of the partner marts (``expectations.partner_feed.MARTS``):
how it sells against its peers, the regional best sellers it does not carry, its share of
constrained stock. One run stages every partner's files, validates all of them at once
(:func:`expectations.gate.run_keyed_gate`: one GX validation per section, failures named by
partner), stores that result once, and publishes each partner that passed the way a supplier
feed is published (``orchestration.lib.feeds``): the files are staged straight into their
version folder, which no reader sees before it has a manifest; publishing checks them against
the checksums the gate vouched for, writes the manifest and switches ``latest.json`` last,
copying nothing. A held partner's staged folder is removed: it keeps its previous feed and
gets a ``held.json`` saying why; the others are not held back by it::

    <lake>/partner_feeds/<partner_id>/<version>/benchmarks.parquet    (and .csv, UTF-8 with BOM)
    <lake>/partner_feeds/<partner_id>/<version>/assortment_gaps.parquet
    <lake>/partner_feeds/<partner_id>/<version>/allocations.parquet
    <lake>/partner_feeds/<partner_id>/<version>/manifest.json   rows, sha256 per file, the week,
                                                                the partner's own gate outcome
    <lake>/partner_feeds/<partner_id>/latest.json               the published version, written last
    <lake>/partner_feeds/<partner_id>/held.json                 while its newest feed is held: why

``$PARTNER_FEEDS_ROOT`` puts the same layout elsewhere (e.g. ``s3://<bucket>/partner_feeds``).
A version is ``<week_end_day>_<hash of the Parquet bytes>``: the same data is the same version,
and staging or publishing it again writes nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from expectations import partner_feed
from expectations.gate import GateResult, KeyedGateResult, load_result, run_keyed_gate
from orchestration.lib.alerts import alert
from orchestration.lib.feeds import (
    LATEST,
    WORKERS,
    FeedStore,
    code_version,
    csv_bytes,
    discard_unpublished,
    each,
    parquet_bytes,
    publish_version,
    split_by,
    stage_version,
    sweep_unpublished,
    validate_feed_id,
    verify_published,
    write_manifest,
)
from orchestration.lib.lake import LakeStore
from orchestration.lib.locks import lake_lock
from orchestration.lib.progress import count, stderr_line
from orchestration.lib.settings import partner_feeds_root

FEED = partner_feed.NAME
KEY = partner_feed.KEY
PARTNER_FEEDS_DIR = "partner_feeds"
HELD = "held.json"


class InvalidPartnerId(ValueError):
    """A partner id that cannot safely name a folder of the lake."""


def validate_partner_id(value: object) -> str:
    """The id itself when it can name a feed folder; otherwise a clear error saying what to fix."""
    return validate_feed_id(value, "partner", InvalidPartnerId)


def valid_partner_id(value: object) -> bool:
    try:
        validate_partner_id(value)
    except InvalidPartnerId:
        return False
    return True


def partner_feed_store(lake: LakeStore) -> FeedStore:
    """The partner feeds of ``lake``: under it, unless ``$PARTNER_FEEDS_ROOT`` names another place."""
    root = partner_feeds_root()
    if not root or root.rstrip("/") == lake.uri(PARTNER_FEEDS_DIR):
        return FeedStore(lake, PARTNER_FEEDS_DIR)
    return FeedStore(LakeStore(root, endpoint=lake.endpoint), "")


def mart_path(section: str) -> str:
    return f"marts/{partner_feed.MARTS[section]}/part-0.parquet"


# -- inputs -------------------------------------------------------------------------------
def read_sections(store: LakeStore) -> dict[str, pa.Table]:
    """The partner marts, each sorted by partner and then every column (same rows, same bytes).

    A mart this platform cannot build (a source it needs is not delivered, see
    ``orchestration.lib.coverage``) is left out of every feed; any other missing mart is an error.
    """
    sections, skipped = {}, None
    for section, mart in partner_feed.MARTS.items():
        if not store.exists(mart_path(section)):
            if skipped is None:
                from orchestration.lib.coverage import lake_coverage

                skipped = lake_coverage(store).skipped
            if mart in skipped and section != partner_feed.BENCHMARKS:
                continue
            raise FileNotFoundError(f"no {mart} mart at {store.uri(mart_path(section))}: build the marts first")
        table = store.read_table(mart_path(section)).replace_schema_metadata(None)
        keys = [partner_feed.KEY, *(c for c in table.column_names if c != partner_feed.KEY)]
        sections[section] = table.sort_by([(c, "ascending") for c in keys])
    return sections


@dataclass(frozen=True)
class PartnerRows:
    """Every partner's rows per section, the partners that can have a feed, and those that cannot."""

    sections: dict[str, dict[str, pa.Table]]  # section -> partner -> rows
    schemas: dict[str, pa.Schema]
    partners: tuple[str, ...]
    rejected: tuple[object, ...]
    week_end_day: date | None

    def rows_of(self, partner_id: str) -> dict[str, pa.Table]:
        return {s: self.sections[s].get(partner_id, self.schemas[s].empty_table()) for s in self.sections}


def partner_rows(sections: dict[str, pa.Table]) -> PartnerRows:
    """Split the marts by partner; ids that cannot name a folder are set aside, never used as paths."""
    split = {s: split_by(t, partner_feed.KEY) for s, t in sections.items()}
    ids = {p for parts in split.values() for p in parts}
    benchmarks = sections[partner_feed.BENCHMARKS]
    week = pc.max(benchmarks.column("week_end_day")).as_py() if benchmarks.num_rows else None
    return PartnerRows(
        sections=split,
        schemas={s: t.schema for s, t in sections.items()},
        partners=tuple(sorted(p for p in ids if valid_partner_id(p))),
        rejected=tuple(sorted((p for p in ids if not valid_partner_id(p)), key=repr)),
        week_end_day=week,
    )


# -- stage ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class StagedPartnerFeed:
    partner_id: str
    version: str
    rows: dict[str, int]
    files: dict[str, str]  # name -> sha256
    sizes: dict[str, int]
    folder: str  # in the feed store
    written: bool = True  # False: the version was published before, and its files were left as they are

    def path(self, name: str) -> str:
        return f"{self.folder}/{name}"


def stage_partner_feed(
    feeds: FeedStore, partner_id: str, rows: dict[str, pa.Table], week_end_day: date | None
) -> StagedPartnerFeed:
    """Write one partner's section files into its unpublished version folder ``<partner_id>/<version>/``
    (:func:`orchestration.lib.feeds.stage_version`: a version published before is not rewritten)."""
    validate_partner_id(partner_id)
    contents: dict[str, bytes] = {}
    for section, table in rows.items():
        contents[f"{section}.parquet"] = parquet_bytes(table)
        contents[f"{section}.csv"] = csv_bytes(table)
    digest = hashlib.sha256(b"".join(contents[f"{s}.parquet"] for s in rows)).hexdigest()[:12]
    version = f"{week_end_day.isoformat() if week_end_day else 'undated'}_{digest}"
    files = {n: hashlib.sha256(d).hexdigest() for n, d in contents.items()}
    return StagedPartnerFeed(
        partner_id=partner_id,
        version=version,
        rows={s: t.num_rows for s, t in rows.items()},
        files=files,
        sizes={n: len(d) for n, d in contents.items()},
        folder=feeds.path(partner_id, version),
        written=stage_version(feeds, partner_id, version, contents, files),
    )


# -- gate ----------------------------------------------------------------------------------
def gate_frames(feeds: FeedStore, staged: list[StagedPartnerFeed], schemas: dict[str, pa.Schema]) -> dict:
    """The gate's batches, read back from the staged files: each section's rows of every partner,
    with the partner whose folder held them, and one row per partner of its table checks."""

    def read(feed: StagedPartnerFeed) -> dict[str, pa.Table]:
        return {s: feeds.store.read_table(feed.path(f"{s}.parquet")) for s in schemas}

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        tables = list(pool.map(read, staged))
    frames = {}
    for section, schema in schemas.items():
        parts = []
        for feed, sections in zip(staged, tables, strict=True):
            table = sections[section]
            parts.append(
                table.append_column(
                    partner_feed.FILE_PARTNER, pa.array([feed.partner_id] * table.num_rows, pa.string())
                )
            )
        combined = pa.concat_tables(parts, promote_options="permissive") if parts else schema.empty_table()
        frames[section] = combined.to_pandas()
    counts = {
        partner_feed.FILE_PARTNER: [f.partner_id for f in staged],
        **{f"{s}_rows": [t[s].num_rows for t in tables] for s in schemas},
        "partners_in_files": [
            len({p for s in schemas for p in t[s].column(partner_feed.KEY).to_pylist()} | {f.partner_id})
            for f, t in zip(staged, tables, strict=True)
        ],
    }
    frames[partner_feed.PARTNERS] = pa.table(counts).to_pandas()
    return frames


def gate_partner_feeds(
    store: LakeStore,
    staged: list[StagedPartnerFeed],
    schemas: dict[str, pa.Schema],
    week_end_day: date,
    docs: bool = True,
) -> KeyedGateResult:
    """Validate every staged partner feed at once; one stored result, an outcome per partner."""
    feeds = partner_feed_store(store)
    frames = gate_frames(feeds, staged, schemas)
    suites = partner_feed.build_suites(
        partner_feed.PartnerFeedContext(week_end_day, {s: schema.names for s, schema in schemas.items()})
    )
    return run_keyed_gate(
        store,
        FEED,
        {name: (suites[name], frames[name]) for name in suites},
        key=partner_feed.FILE_PARTNER,
        partition=week_end_day.isoformat(),
        subject={"staged": {f.partner_id: {"version": f.version, "files": f.files} for f in staged}},
        docs=docs,
    )


# -- publish -------------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishedPartnerFeed:
    """A staged feed now published: where, its manifest, and whether this run moved ``latest.json``."""

    staged: StagedPartnerFeed
    uri: str  # of the version folder
    manifest: dict = field(repr=False)
    changed: bool = True

    @property
    def partner_id(self) -> str:
        return self.staged.partner_id


def publish_partner_feed(
    store: LakeStore, staged: StagedPartnerFeed, gate: KeyedGateResult, stored: GateResult | None = None
) -> PublishedPartnerFeed:
    """Publish one partner's staged feed if the stored gate result passed it, for these bytes:
    its files checked (not copied), the manifest, then ``latest.json``
    (:func:`orchestration.lib.feeds.publish_version`); a crash at any point leaves the previous
    feed whole.

    ``stored`` is the gate's result as read back from the lake (read here when not given; a run
    publishing many partners reads it once)."""
    feeds = partner_feed_store(store)
    files = feeds.store
    pid, version = staged.partner_id, staged.version
    stored = stored or load_result(store, gate.result.path)  # read back rather than trusted
    manifest, folder, changed = publish_version(
        feeds, FEED, pid, version, staged.files, stored, lambda: build_manifest(staged, gate, stored.uri), owner=KEY
    )
    if changed:
        sweep_unpublished(files, feeds.path(pid), keep=version)
    if files.exists(feeds.path(pid, HELD)):
        files.delete(feeds.path(pid, HELD))
    return PublishedPartnerFeed(staged, files.uri(folder), manifest, changed)


def build_manifest(staged: StagedPartnerFeed, gate: KeyedGateResult, result_uri: str) -> dict:
    week = staged.version.split("_", 1)[0]
    return {
        "feed": FEED,
        "partner_id": staged.partner_id,
        "version": staged.version,
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "week_end_day": None if week == "undated" else week,
        "rows": staged.rows,
        "files": {
            name: {"sha256": digest, "bytes": staged.sizes[name], "format": name.rsplit(".", 1)[-1]}
            for name, digest in staged.files.items()
        },
        "code_version": code_version(),
        "validation": {
            "suite": FEED,
            "result_id": gate.result.result_id,
            "result": gate.result.path,
            "result_uri": result_uri,
            "docs": gate.result.docs,
            **gate.outcome(staged.partner_id),
        },
    }


def hold_partner_feed(store: LakeStore, staged: StagedPartnerFeed, gate: KeyedGateResult) -> dict:
    """Record why a partner's newest feed is held (``held.json``); its published feed stays."""
    feeds = partner_feed_store(store)
    record = {
        "partner_id": staged.partner_id,
        "held_version": staged.version,
        "held_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "published_version": published_version(store, staged.partner_id),
        "result": gate.result.uri,
        "docs": gate.result.docs,
        **gate.outcome(staged.partner_id),
    }
    write_manifest(feeds.store, feeds.path(staged.partner_id, HELD), record)
    return record


# -- one run for every partner -------------------------------------------------------------
@dataclass
class PartnerFeedsRun:
    """What one run did: partners published, unchanged, held (and why), ids rejected."""

    week_end_day: date | None
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    held: dict[str, dict] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    gate: KeyedGateResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def partners(self) -> int:
        return len(self.published) + len(self.unchanged) + len(self.held)

    def summary(self) -> str:
        parts = [f"{len(self.published)} published", f"{len(self.unchanged)} unchanged", f"{len(self.held)} held"]
        if self.rejected:
            parts.append(f"{len(self.rejected)} id(s) rejected")
        return f"partner feeds for the week to {self.week_end_day}: " + ", ".join(parts)


def publish_partner_feeds(
    store: LakeStore, docs: bool = True, say: Callable[[str], None] = stderr_line
) -> PartnerFeedsRun:
    """Stage every partner's feed, gate them all at once, publish each that passed. Runs go
    one at a time (the lake lock ``partner_feeds``), as the supplier feeds' do."""
    with lake_lock(store, "partner_feeds", "the partner feeds", say=say):
        return _publish_partner_feeds(store, docs, say)


def _publish_partner_feeds(store: LakeStore, docs: bool, say: Callable[[str], None]) -> PartnerFeedsRun:
    clock = time.perf_counter()
    rows = partner_rows(read_sections(store))
    outcome = PartnerFeedsRun(rows.week_end_day, rejected=[repr(p) for p in rows.rejected])
    if rows.rejected:
        shown = ", ".join(outcome.rejected[:5]) + (" ..." if len(rows.rejected) > 5 else "")
        alert(
            f"partner feeds: {len(rows.rejected)} partner id(s) cannot name a feed folder and get no feed: {shown}; "
            "use 1 to 64 letters, digits, '_' or '-' in the partners master data",
            feed=FEED,
            rejected=outcome.rejected,
        )
    if rows.week_end_day is None or not rows.partners:
        say("partner feeds: no partner rows in the marts; nothing to publish")
        return outcome
    feeds = partner_feed_store(store)
    total = len(rows.partners)
    say(f"partner feeds: staging {count(total)} partners' feeds for the week to {rows.week_end_day}")
    staged = each(
        lambda p: stage_partner_feed(feeds, p, rows.rows_of(p), rows.week_end_day),
        rows.partners,
        "partner feeds: staged",
        say,
    )
    outcome.seconds["stage"] = time.perf_counter() - clock
    try:
        clock = time.perf_counter()
        say(f"partner feeds: gating {count(total)} partners at once")
        gate = outcome.gate = gate_partner_feeds(store, staged, rows.schemas, rows.week_end_day, docs=docs)
        outcome.seconds["gate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        stored = load_result(store, gate.result.path)
        passing = [f for f in staged if gate.passed(f.partner_id)]
        for feed in staged:
            if not gate.passed(feed.partner_id):
                outcome.held[feed.partner_id] = hold_partner_feed(store, feed, gate)
        for published in each(
            lambda f: publish_partner_feed(store, f, gate, stored), passing, "partner feeds: published", say
        ):
            (outcome.published if published.changed else outcome.unchanged).append(published.partner_id)
        outcome.seconds["publish"] = time.perf_counter() - clock
    finally:  # the versions this run staged and did not publish (held, or the run failed) go
        done = set(outcome.published) | set(outcome.unchanged)
        unpublished = [f for f in staged if f.written and f.partner_id not in done]
        each(lambda f: discard_unpublished(feeds, f.folder), unpublished, "partner feeds: discarded", lambda _: None)
    if outcome.held:
        shown = ", ".join(sorted(outcome.held)[:5]) + (" ..." if len(outcome.held) > 5 else "")
        alert(
            f"partner feeds: {len(outcome.held)} partner feed(s) held by the gate, their previous feeds stay: {shown}",
            feed=FEED,
            result=gate.result.uri,
            held=sorted(outcome.held),
        )
    say(outcome.summary())
    return outcome


# -- read ----------------------------------------------------------------------------------
def latest_pointer(store: LakeStore, partner_id: str) -> dict | None:
    feeds = partner_feed_store(store)
    pointer = feeds.path(validate_partner_id(partner_id), LATEST)
    return json.loads(feeds.store.read_bytes(pointer)) if feeds.store.exists(pointer) else None


def published_version(store: LakeStore, partner_id: str) -> str | None:
    latest = latest_pointer(store, partner_id)
    return latest["version"] if latest else None


def latest_manifest(store: LakeStore, partner_id: str) -> dict | None:
    """The manifest of the partner's published feed, if it has one."""
    latest = latest_pointer(store, partner_id)
    if latest is None:
        return None
    feeds = partner_feed_store(store)
    return json.loads(feeds.store.read_bytes(feeds.path(partner_id, latest["manifest"])))


def read_partner_feed(store: LakeStore, partner_id: str, section: str) -> pa.Table | None:
    """A section of the partner's published feed as the partner gets it: through ``latest.json``."""
    latest = latest_pointer(store, partner_id)
    if latest is None:
        return None
    feeds = partner_feed_store(store)
    return feeds.store.read_table(feeds.path(partner_id, latest["version"], f"{section}.parquet"))


def verify_partner_feed(store: LakeStore, partner_id: str) -> list[str]:
    """Problems with the partner's published feed: a file missing or not matching its manifest checksum."""
    return verify_published(partner_feed_store(store), partner_id, latest_manifest(store, partner_id))


def published_partners(store: LakeStore) -> list[str]:
    """The partners that have a published feed."""
    feeds = partner_feed_store(store)
    return [n for n in feeds.store.list_dirs(feeds.prefix) if feeds.store.exists(feeds.path(n, LATEST))]


def partner_feeds_line(store: LakeStore) -> str | None:
    """A run summary's lines on the partner feeds, from the newest stored gate result (no listing
    of the partners' folders, which could be tens of thousands); None before the first run."""
    from expectations.gate import GATES_DIR, latest_result

    weeks = store.list_dirs(f"{GATES_DIR}/{FEED}")
    if not weeks:
        return None
    result = latest_result(store, FEED, max(weeks))
    outcomes = result.subject.get("outcomes") or {}
    held = sorted(p for p, o in outcomes.items() if o.get("outcome") != "passed")
    feeds = partner_feed_store(store)
    text = (
        f"partner feeds: {len(outcomes) - len(held):,} of {len(outcomes):,} partners published for the week to "
        f"{max(weeks)}, {len(held):,} held"
        + (f" ({', '.join(held[:5])}{' ...' if len(held) > 5 else ''})" if held else "")
    )
    return f"{text}; gate result {result.uri}\npartner feeds: {feeds.uri('<partner_id>', LATEST)}   (then <version>/manifest.json)"

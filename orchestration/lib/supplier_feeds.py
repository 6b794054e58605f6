"""Every supplier's feed in one run: staged, gated in one validation, published supplier by supplier.

A platform has thousands of suppliers; a run (and a Dagster run, a cloud task) per supplier
would cost each its own start, imports and gate. One run reads the replenishment and
scorecard marts once, stages each supplier's files in its unpublished version folder
(``orchestration.lib.feeds``; a version published before is not written again), validates all
of them at once (:func:`orchestration.lib.feeds.gate_feeds`: one GX validation per batch,
failures named by supplier), stores that result once, and publishes each supplier that passed.
A held supplier's staged folder is removed: it keeps its previous feed, gets its own alert
naming what failed, and holds back nobody else. What became of each supplier's feed is kept
in one file for the day (:func:`orchestration.lib.feeds.record_outcomes`), which the supplier
scorecard shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from expectations import supplier_replenishment
from expectations.gate import KeyedGateResult, load_result
from orchestration.lib.alerts import alert
from orchestration.lib.coverage import feed_coverage
from orchestration.lib.feeds import (
    FEED,
    MART,
    SCORECARD_MART,
    InputDays,
    Outcome,
    PublishedFeed,
    PublishRefused,
    blocking_input_gate,
    discard_unpublished,
    each,
    feed_store,
    gate_feeds,
    input_days,
    latest_manifest,
    outcomes_path,
    publish_feed,
    record_outcomes,
    split_by,
    stage_feed,
    supplier_ids,
)
from orchestration.lib.lake import LakeStore
from orchestration.lib.locks import lake_lock
from orchestration.lib.progress import count, stderr_line

SHOWN = 5  # held suppliers named in a run's summary line


@dataclass
class SupplierFeedsRun:
    """What one run did: suppliers published, unchanged, held (and why), ids rejected."""

    as_of_day: date | None
    published: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    held: dict[str, str] = field(default_factory=dict)  # supplier -> why
    rejected: list[str] = field(default_factory=list)
    refused: str | None = None  # why no supplier could be gated (the input), if so
    gate: KeyedGateResult | None = None
    feeds: dict[str, PublishedFeed] = field(default_factory=dict, repr=False)
    seconds: dict[str, float] = field(default_factory=dict)
    days: InputDays | None = None

    @property
    def suppliers(self) -> int:
        return len(self.published) + len(self.unchanged) + len(self.held)

    def summary(self) -> str:
        parts = [f"{len(self.published)} published", f"{len(self.unchanged)} unchanged", f"{len(self.held)} held"]
        if self.rejected:
            parts.append(f"{len(self.rejected)} id(s) rejected")
        text = f"supplier feeds as of {self.as_of_day}: " + ", ".join(parts)
        if self.held:
            names = sorted(self.held)
            text += f" ({', '.join(names[:SHOWN])}{' ...' if len(names) > SHOWN else ''})"
        return text + (f": {self.refused}" if self.refused else "")


def read_mart(store: LakeStore, path: str, columns: list[str] | None, order: list[tuple[str, str]]) -> pa.Table:
    """A mart sorted by supplier and ``order``, the same rows giving the same bytes, split later by supplier."""
    table = pq.read_table(store.fs_path(path), filesystem=store.fs).replace_schema_metadata(None)
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    keys = [("supplier_id", "ascending"), *((c, d) for c, d in order if c in table.column_names)]
    return table.sort_by(keys)


@dataclass(frozen=True)
class FeedTables:
    """Each supplier's feed rows and scorecard rows, from one read of each mart."""

    rows: dict[str, pa.Table]
    schema: pa.Schema
    scorecards: dict[str, pa.Table] | None  # None: no scorecard mart
    scorecard_schema: pa.Schema | None

    def rows_of(self, supplier_id: str) -> pa.Table:
        return self.rows.get(supplier_id, self.schema.empty_table())

    def scorecard_of(self, supplier_id: str) -> pa.Table | None:
        if self.scorecards is None:
            return None
        return self.scorecards.get(supplier_id, self.scorecard_schema.empty_table())


def feed_tables(store: LakeStore) -> FeedTables:
    """Every supplier's rows of the replenishment and scorecard marts, each mart read once, each
    supplier's rows sorted as :func:`orchestration.lib.feeds.feed_rows` sorts one supplier's
    (the same rows, the same bytes); the scorecard newest day first."""
    if not store.exists(MART):
        raise FileNotFoundError(f"no replenishment mart at {store.uri(MART)}: build the marts first")
    names = supplier_replenishment.SCHEMA.names
    rows = read_mart(store, MART, names, [("sku", "ascending"), *((c, "ascending") for c in names if c != "sku")])
    if not store.exists(SCORECARD_MART):
        return FeedTables(split_by(rows, "supplier_id"), rows.schema, None, None)
    order = [("business_day", "descending"), ("source", "ascending"), ("factory_id", "ascending")]
    scorecards = read_mart(store, SCORECARD_MART, None, order)
    return FeedTables(
        split_by(rows, "supplier_id"), rows.schema, split_by(scorecards, "supplier_id"), scorecards.schema
    )


def suppliers_to_feed(store: LakeStore, only: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The master data's suppliers that can have a feed (or those of ``only`` among them), and the
    ids that cannot name a feed folder, each alerted once."""
    valid, invalid = supplier_ids(store)
    for bad in invalid:
        alert(
            f"supplier id {bad[:80]!r} in the suppliers master data cannot name a feed folder, so it gets no "
            "feed: correct it to 1-64 letters, digits, '_' or '-'",
            supplier_id=bad[:80],
        )
    if only:
        unknown = sorted(set(only) - set(valid))
        if unknown:
            raise ValueError(
                f"no supplier {', '.join(map(repr, unknown[:5]))} in the suppliers master data: "
                "name suppliers as bronze/suppliers has them, or leave the list empty for all"
            )
        valid = [s for s in valid if s in set(only)]
    return valid, [repr(b[:80]) for b in invalid]


def _input_refusal(store: LakeStore, days: InputDays | None) -> str | None:
    """Why no feed can be published today, whatever its rows: the input is missing, failed its
    gate, or (in strict mode) is incomplete; None when the feeds can be gated."""
    if days is None:
        return "there are no order lines in bronze, so the day the feed must reach is unknown"
    blocked = blocking_input_gate(store, days.as_of_day) if days.as_of_day else None
    if blocked is not None:
        return f"the input {blocked.summary()}"
    if days.as_of_day is None or (days.strict and days.incomplete):  # also when the input gate has not run yet
        return f"the input is incomplete: {days.describe()}"
    return None


def _hold(sid: str, reason: str, store: LakeStore, **fields) -> None:
    """Alert a person about one supplier's held feed, saying that its previous feed stays."""
    previous = latest_manifest(store, sid)
    kept = f"its previous feed {previous['version']} stays published" if previous else "it has no feed yet"
    alert(f"feed {FEED} for supplier {sid} NOT published: {reason}; {kept}", supplier_id=sid, feed=FEED, **fields)


def alone(work: Callable, errors: type[Exception] = Exception) -> Callable:
    """``work`` returning the ``errors`` it raises instead of raising them: one supplier's failure
    (an object store's error, a crash of its own) fails that supplier alone."""

    def guarded(item):
        try:
            return work(item)
        except errors as exc:
            return exc

    return guarded


def publish_supplier_feeds(
    store: LakeStore,
    only: list[str] | None = None,
    docs: bool = True,
    say: Callable[[str], None] = stderr_line,
) -> SupplierFeedsRun:
    """Stage every supplier's feed (or those of ``only``), gate them all at once, publish each
    that passed; hold and alert the others, each alone. Returns what became of each.

    Runs go one at a time (the lake lock ``supplier_feeds``): a run removes the unpublished
    version folders it finds, which must be its own or a dead run's, never a running one's."""
    with lake_lock(store, "supplier_feeds", "the supplier feeds", say=say):
        return _publish_supplier_feeds(store, only, docs, say)


def _publish_supplier_feeds(
    store: LakeStore, only: list[str] | None, docs: bool, say: Callable[[str], None]
) -> SupplierFeedsRun:
    clock = time.perf_counter()
    suppliers, rejected = suppliers_to_feed(store, only)
    days = input_days(store)
    outcome = SupplierFeedsRun(days.as_of_day if days else None, rejected=rejected, days=days)
    refusal = _input_refusal(store, days)
    if refusal is not None:  # one reason for every supplier: one alert, each supplier's word kept
        outcome.refused = refusal
        outcome.held = dict.fromkeys(suppliers, refusal)
        alert(
            f"feed {FEED} NOT published for any of {count(len(suppliers))} suppliers: {refusal}; "
            "their previous feeds stay published",
            feed=FEED,
        )
        record_outcomes(store, outcome.as_of_day, [Outcome(s, "held", refusal) for s in suppliers])
        say(outcome.summary())
        return outcome
    if days.held_back:
        say(f"supplier feeds: {days.describe()}")
    tables = feed_tables(store)
    feeds = feed_store(store)
    say(f"supplier feeds: staging {count(len(suppliers))} suppliers' feeds as of {days.as_of_day}")
    staged = []
    for sid, done in zip(
        suppliers,
        each(
            alone(lambda s: stage_feed(store, s, tables.rows_of(s), tables.scorecard_of(s)), PublishRefused),
            suppliers,
            "supplier feeds: staged",
            say,
        ),
        strict=True,
    ):
        if isinstance(done, PublishRefused):  # its version is published with other files: it alone is held
            outcome.held[sid] = str(done)
            _hold(sid, outcome.held[sid], store)
        else:
            staged.append(done)
    outcome.seconds["stage"] = time.perf_counter() - clock
    try:
        clock = time.perf_counter()
        say(f"supplier feeds: gating {count(len(staged))} suppliers at once")
        gate = outcome.gate = gate_feeds(store, staged, days.as_of_day, docs=docs)
        outcome.seconds["gate"] = time.perf_counter() - clock
        clock = time.perf_counter()
        stored = load_result(store, gate.result.path)  # what publishing trusts: the result as stored
        coverage = feed_coverage(store)
        passing = [f for f in staged if gate.passed(f.supplier_id)]
        publish = alone(
            lambda f: publish_feed(
                store,
                f,
                gate,
                days.held_back,
                stored,
                coverage,
                tables.rows_of(f.supplier_id),
                tables.scorecard_of(f.supplier_id),
            )
        )
        for feed, done in zip(passing, each(publish, passing, "supplier feeds: published", say), strict=True):
            if isinstance(done, Exception):
                why = f"its publication failed ({type(done).__name__}: {done}); the next run completes it"
                outcome.held[feed.supplier_id] = why
                _hold(feed.supplier_id, why, store, result=gate.result.uri)
                continue
            outcome.feeds[feed.supplier_id] = done
            (outcome.published if done.changed else outcome.unchanged).append(feed.supplier_id)
        for feed in staged:
            if not gate.passed(feed.supplier_id):
                failed = gate.outcome(feed.supplier_id)["failed"]
                why = "; ".join(f"{f['gate']} ({f['expectation']}, {f['column']})" for f in failed)
                outcome.held[feed.supplier_id] = f"{len(failed)} expectation(s) failed: {why}"
                _hold(
                    feed.supplier_id,
                    outcome.held[feed.supplier_id],
                    store,
                    result=gate.result.uri,
                    data_docs=gate.result.docs,
                )
        outcome.seconds["publish"] = time.perf_counter() - clock
    finally:  # the versions this run staged and did not publish (held, or the run failed) go
        unpublished = [f for f in staged if f.written and f.supplier_id not in outcome.feeds]
        each(lambda f: discard_unpublished(feeds, f.folder), unpublished, "supplier feeds: discarded", lambda _: None)
    clock = time.perf_counter()
    record_outcomes(
        store,
        days.as_of_day,
        [Outcome(s, "held", why, gate_result=gate.result.uri) for s, why in outcome.held.items()]
        + [
            Outcome(
                s,
                "published" if s in outcome.published else "unchanged",
                version=f.version,
                gate_result=gate.result.uri,
            )
            for s, f in outcome.feeds.items()
        ],
    )
    outcome.seconds["record"] = time.perf_counter() - clock
    say(outcome.summary())
    return outcome


def outcomes_uri(store: LakeStore, as_of_day: date) -> str:
    """Where the day's outcome of every supplier's feed is kept."""
    return store.uri(outcomes_path(as_of_day))

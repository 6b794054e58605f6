"""One stage of the loop, run in its own process so that a test can kill it.

    python -m tests.faults.stage ingest <lake>   every master snapshot, then every landed day
    python -m tests.faults.stage feeds <lake>    each supplier's feed: staged, gated, published
    python -m tests.faults.stage partner_feeds <lake>   every partner's feed: staged, gated at once, published

Each stage calls the same library functions as its Dagster asset. ``ready`` is printed on
stdout once the imports are done, so a killer's clock measures the work alone.
"""

from __future__ import annotations

import sys

from orchestration.lib.feeds import (
    discard_staged,
    feed_rows,
    gate_feed,
    input_days,
    publish_feed,
    scorecard_rows,
    stage_feed,
)
from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import load_sources


def ingest(store: LakeStore) -> None:
    sources = load_sources()
    for source in sources.values():
        if not source.is_daily:
            ingest_snapshot(store, source)
    for source in sources.values():
        if source.is_daily:
            ingest_days(store, source, [d for d in landing_index(store, source) if d])


def feeds(store: LakeStore) -> None:
    """What the feed asset does for every supplier of master data (the CLI's order)."""
    from orchestration.defs.feeds.partitions import suppliers_with_feeds

    days = input_days(store)
    for supplier in suppliers_with_feeds(store):
        staged = stage_feed(store, supplier, feed_rows(store, supplier), scorecard_rows(store, supplier))
        try:
            gate = gate_feed(store, staged, days.as_of_day, docs=False)
            if not gate.success:
                raise SystemExit(f"the gate of {supplier} did not pass: {gate.summary()}")
            publish_feed(store, staged, gate.path, days.held_back)
        finally:
            discard_staged(store, staged)


def partner_feeds(store: LakeStore) -> None:
    """What the partner feeds asset does: every partner at once."""
    from orchestration.lib.partner_feeds import publish_partner_feeds

    run = publish_partner_feeds(store, docs=False)
    if run.held or run.gate is None:
        raise SystemExit(f"partner feeds not all published: {run.summary()}")


STAGES = {"ingest": ingest, "feeds": feeds, "partner_feeds": partner_feeds}


if __name__ == "__main__":
    stage, root = sys.argv[1], sys.argv[2]
    if stage in ("feeds", "partner_feeds"):
        import great_expectations  # noqa: F401 - its 3 s import is not the stage's work

    print("ready", flush=True)
    STAGES[stage](LakeStore(root))
    print("done", flush=True)

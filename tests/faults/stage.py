"""One stage of the loop, run in its own process so that a test can kill it.

    python -m tests.faults.stage ingest <lake>   every master snapshot, then every landed day
    python -m tests.faults.stage feeds <lake>    every supplier's feed: staged, gated at once, published
    python -m tests.faults.stage partner_feeds <lake>   every partner's feed: staged, gated at once, published

Each stage calls the same library functions as its Dagster asset. ``ready`` is printed on
stdout once the imports are done, so a killer's clock measures the work alone.
"""

from __future__ import annotations

import sys

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
    """What the supplier feeds asset does: every supplier of master data at once."""
    from orchestration.lib.supplier_feeds import publish_supplier_feeds

    run = publish_supplier_feeds(store, docs=False)
    if run.held or run.gate is None:
        raise SystemExit(f"supplier feeds not all published: {run.summary()}")


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

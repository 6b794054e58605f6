"""The feed policy: suppliers produce what the platform's published feed says, and the feed
comes from the real pipeline, not from a copy of its logic.

The simulated world delivers its files into a lake of its own, as the demo's sources
declare them (landing files -> bronze -> dbt marts -> gate -> feed). At each weekly review
the days delivered since the last review are ingested (one run over those days), the marts
build incrementally, each supplier's feed is gated and published, and each supplier reads
its own feed through ``latest.json``, as a supplier would. A supplier whose feed was held
back this week (its gate failed, so the published feed is last week's) releases nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import redirect_stderr
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.demo.faults import CleanDelivery
from orchestration.lib.demo.world import World
from orchestration.lib.demo.writers import landing_path, render, write
from orchestration.lib.lake import LakeStore
from orchestration.lib.settings import (
    FEEDS_ROOT_ENV,
    FIRST_DAY_ENV,
    INPUT_GATE_ENV,
    LAKE_ROOT_ENV,
    LANDING_ROOT_ENV,
    SOURCES_ENV,
    override_environment,
)
from orchestration.lib.simulation.engine import Loop
from orchestration.lib.sources import canonical_sources

# the simulated world is the demo business: its own lake, the demo's sources, feeds under it
OUTSIDE_SETTINGS = (FEEDS_ROOT_ENV, LANDING_ROOT_ENV, SOURCES_ENV, FIRST_DAY_ENV, INPUT_GATE_ENV)
INSTANCE_YAML = "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"


def world_settings(store: LakeStore):
    """The process's settings pointed at the simulated world's lake while the pipeline runs on it."""
    return override_environment({LAKE_ROOT_ENV: store.root}, unset=OUTSIDE_SETTINGS)


class FeedLink:
    """The simulated world's deliveries and the pipeline run over them, week by week."""

    def __init__(self, store: LakeStore, instance_dir: Path, say: Callable[[str], None]):
        self.store = store
        self.sources = canonical_sources()
        self.delivery = CleanDelivery()
        self.instance_dir = instance_dir
        self.log_path = instance_dir / "pipeline.log"  # the runs' own lines, copied beside the summary
        self.say = say
        self.pending: list[date] = []  # days delivered and not run yet
        self.runs = 0
        self.failed_runs = 0
        self._instance = None

    def keep_log(self, folder: str, store: LakeStore) -> str | None:
        """Copy the pipeline runs' log beside the summary; its location."""
        if not self.log_path.exists():
            return None
        store.put_file(self.log_path, f"{folder}/pipeline.log")
        return store.uri(f"{folder}/pipeline.log")

    def deliver_master(self, world: World, day: date) -> None:
        for name, table in world.master_tables().items():
            write(self.store, landing_path(self.sources[name], day), render(self.sources[name], table, day))

    def deliver(self, day: date, tables: dict[str, pa.Table]) -> None:
        for name, table in tables.items():
            self.delivery.deliver(self.store, self.sources[name], day, table, render(self.sources[name], table, day))
        self.pending.append(day)

    def run(self) -> None:
        """Ingest the days delivered since the last run, build the marts, gate and publish the feeds."""
        if not self.pending:
            return
        from orchestration.cli import materialize_all

        days, self.pending = self.pending, []
        started = time.perf_counter()
        self.say(
            f"  pipeline: ingesting {days[0]} .. {days[-1]}, building the marts, gating and publishing the feeds ..."
        )
        instance = self.instance()
        with open(self.log_path, "a", encoding="utf-8") as log, redirect_stderr(log), world_settings(self.store):
            print(f"== pipeline: {days[0]} .. {days[-1]}", file=log, flush=True)
            results = materialize_all(self.store, instance, days=days, partners=False)  # suppliers act on their feeds
        self.runs += 1
        failed = sum(not r.success for r in results)
        self.failed_runs += failed
        self.say(
            f"  pipeline: {len(results)} runs, "
            + (f"{failed} FAILED" if failed else "all ok")
            + f" in {time.perf_counter() - started:.0f}s"
        )

    def instance(self):
        if self._instance is None:
            import dagster as dg

            self.instance_dir.mkdir(parents=True, exist_ok=True)
            (self.instance_dir / "dagster.yaml").write_text(INSTANCE_YAML)
            self._instance = dg.DagsterInstance.from_config(str(self.instance_dir))
        return self._instance

    def suggestions(self, world: World, as_of: date) -> tuple[np.ndarray, list[str]]:
        """Units per SKU the published feeds suggest as of ``as_of``, and the suppliers whose
        published feed is older (held back by its gate, or never published)."""
        from orchestration.lib.feeds import read_feed

        qty = np.zeros(len(world.sku_ids), np.int64)
        stale = []
        for supplier in world.supplier_ids:
            with world_settings(self.store):
                feed = read_feed(self.store, supplier)
            if feed is None or feed.num_rows == 0 or pc.max(feed["as_of_day"]).as_py() != as_of:
                stale.append(supplier)
                continue
            sku = pc.index_in(feed["sku"], value_set=world.sku_array)
            known = pc.is_valid(sku)
            np.add.at(qty, sku.filter(known).to_numpy(), feed["suggested_qty"].filter(known).to_numpy())
        return qty, stale


class Feed:
    """Suppliers act on their published feeds."""

    name = "feed"
    label = "platform feed"

    def __init__(self, world: World, link: FeedLink):
        self.world = world
        self.link = link
        self.held: dict[str, list[str]] = {}  # review day -> suppliers without this week's feed

    def order(self, day: date, loop: Loop) -> np.ndarray:
        self.link.run()
        qty, stale = self.link.suggestions(self.world, day - timedelta(days=1))
        if stale:
            self.held[day.isoformat()] = stale
            self.link.say(f"  no feed as of {day - timedelta(days=1)} for {', '.join(stale)}: they release nothing")
        return qty

    def observe(self, day: date, tables: dict[str, pa.Table]) -> None:
        self.link.deliver(day, tables)

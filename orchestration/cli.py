"""`supplyloop`: generate demo data, run the whole loop on the lake, show what is there.

supplyloop demo --preset small [--faults]    write demo deliveries into an empty <lake>/landing/
supplyloop demo --variant promotions         the same business with demand not of the forecast's shape
supplyloop run [--demo] [--fresh]            every asset on the lake's deliveries (the demo's on an
                                             empty local lake, or where --demo asks for it)
supplyloop summary                           what bronze and quarantine hold, per entity
supplyloop onboard <folder> [--out FILE]     propose a sources file for a platform's delivered files, dry-run it
supplyloop demo --shape foreign --out DIR    the demo delivered as another platform exports it (for onboarding)
supplyloop simulate [--weeks 8]              the closed loop: the feed against min/max and an oracle,
                                             written to <lake>/simulation/<run>/
supplyloop trace <mart or feed> <key>        where a number came from, down to the delivered files and rows
                                             (e.g. `trace supplier_replenishment SUP001/SKU0001`, `trace lots <lot_id>`)

--sources FILE (or SUPPLYLOOP_SOURCES) names the platform's own sources file.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from orchestration.lib.lake import LANDING, LakeStore
from orchestration.lib.sources import load_sources
from orchestration.lib.trace import usage_lines as trace_usage


def _demo(
    store: LakeStore,
    preset: str,
    seed: int,
    faults: bool,
    order_lines: int | None,
    variant: str = "baseline",
    suppliers: int | None = None,
) -> None:
    from orchestration.lib.demo import generate

    started = time.perf_counter()
    result = generate(
        store,
        preset=preset,
        seed=seed,
        faults=faults,
        order_lines=order_lines,
        progress=True,
        variant=variant,
        suppliers=suppliers,
    )
    clean = result.truth["clean"]
    print(
        f"demo: {len(result.files)} files, {result.truth['suppliers']:,} suppliers, "
        f"{clean['order_lines']['rows']:,} order lines "
        f"({result.truth['start']} .. {result.truth['end']}) in {time.perf_counter() - started:.1f}s "
        f"-> {store.uri('landing')}",
        file=sys.stderr,
    )
    if "festivals_setting" in result.truth:
        print(
            "demo: the platform's brand day moves every year; tell the forecast its dates with "
            f"SUPPLYLOOP_FESTIVALS={result.truth['festivals_setting']}",
            file=sys.stderr,
        )


FEEDS_SHOWN = 20  # suppliers' feeds listed one per line in a run's summary
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _landing_days(store: LakeStore) -> list[date]:
    from orchestration.lib.ingest import landing_index

    days = set()
    for source in load_sources().values():
        if source.is_daily:
            days.update(d for d in landing_index(store, source) if d)
    return sorted(days)


class Refused(Exception):
    """The command would write where it must not, or has nothing to work on; nothing was written."""


def _refuse_if_not_demo(store: LakeStore, rule: str) -> None:
    """Stop when the landing zone holds files that the demo did not write."""
    from orchestration.lib.demo import TRUTH_PATH

    files = store.list_files(LANDING, recursive=True)
    # the demo's truth sits in the lake: it vouches for a landing zone inside that lake only
    own_landing = store.landing_root == f"{store.root}/{LANDING}"
    if files and not (own_landing and store.exists(TRUTH_PATH)):
        shown = ", ".join(f.path[len(LANDING) + 1 :] for f in files[:5]) + (" ..." if len(files) > 5 else "")
        raise Refused(
            f"{store.uri(LANDING)} holds {len(files)} file(s) that are not the demo's ({shown}), and {rule}: "
            "nothing was written or deleted. Use another lake for the demo (--lake DIR or LAKE_ROOT), "
            "or run on these files without --demo or --fresh"
        )


def _may_write_demo(store: LakeStore, explicit: bool) -> None:
    """The demo goes only into a landing zone that holds no files at all, and never into a
    platform's own landing zone (``LANDING_ROOT``, an ``s3://`` lake, a platform sources
    file) unless asked for by name (``--demo``, ``supplyloop demo``)."""
    _refuse_if_not_demo(store, "the demo is written only into an empty landing zone")
    if explicit:
        return
    from orchestration.lib.paths import SOURCES_FILE
    from orchestration.lib.settings import LANDING_ROOT_ENV, SOURCES_ENV, landing_root, sources_file

    platform = [
        why
        for why, yes in (
            ("the lake is on S3", store.is_s3),
            (f"{LANDING_ROOT_ENV} is set", landing_root() is not None),
            (f"{SOURCES_ENV} names a platform's sources file", sources_file() != SOURCES_FILE),
        )
        if yes
    ]
    if platform:
        raise Refused(
            f"the landing zone {store.uri(LANDING)} holds no files, and {' and '.join(platform)}, so no demo is "
            "written there unasked: deliver the exports into landing/<source>/, or pass --demo to write the demo"
        )


def _check_deliveries(store: LakeStore) -> None:
    """Refuse a landing zone none of whose files a source reads; report the ones left over."""
    from orchestration.lib.deliveries import audit_landing

    audit = audit_landing(store, load_sources())
    if audit.ambiguous:
        raise Refused(audit.ambiguous_report())
    if audit.unmatched and not audit.matched_count:
        raise Refused(audit.unmatched_report())
    if audit.unmatched:
        print("warning: " + audit.unmatched_report(), file=sys.stderr)


class Stopped(Exception):
    """SIGTERM or SIGINT arrived: the command stops at once (exit status 128 + the signal)."""

    def __init__(self, signum: int, doing: str = ""):
        self.signum = signum
        name = signal.Signals(signum).name
        super().__init__(f"stopped by {name}" + (f" while {doing}" if doing else ""))


def _raise_stopped(signum: int, _frame) -> None:
    raise Stopped(signum)


@contextmanager
def _stoppable() -> Iterator[int | None]:
    """SIGTERM and SIGINT raise :class:`Stopped` in the CLI's own code, and are written to a
    pipe (the signal module's wakeup fd) that :class:`_Watch` reads while Dagster executes a run:
    Dagster's in-process execution only notes a signal, and does not look at it while it waits
    for a concurrency slot. Yields the pipe's reading end (None off the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    saved = {s: signal.signal(s, _raise_stopped) for s in (signal.SIGTERM, signal.SIGINT)}
    saved_fd = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    try:
        yield read
    finally:
        signal.set_wakeup_fd(saved_fd)
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        os.close(read)
        os.close(write)


class _Watch(threading.Thread):
    """Watches one in-process Dagster run from beside it: a signal, or a wait for a
    concurrency slot (after the CLI's own wait, another run may still take the slot first)
    that outlasts its bound, interrupts the run; the wait is reported every few seconds, and a
    dead holder's slot is freed. Dagster then marks the run failed and frees its claims."""

    GRACE = 30.0  # a signal during a step: Dagster stops the step itself; after this, the watch does

    def __init__(self, instance, attempt: str, wakeup: int | None, label: str):
        super().__init__(name="supplyloop-watch", daemon=True)
        self.instance, self.attempt, self.wakeup, self.label = instance, attempt, wakeup, label
        self.done = threading.Event()
        self.signum: int | None = None
        self.timed_out: str | None = None
        self._interrupted = False
        self._lock = threading.Lock()

    def _interrupt(self) -> None:
        """Raise Dagster's own interruption in the main thread, as a signal during a step does."""
        import dagster as dg

        with self._lock:
            if self._interrupted or self.done.is_set():
                return
            self._interrupted = True
            _async_raise(dg.DagsterExecutionInterruptedError)

    def finish(self) -> None:
        """The run has returned: no interruption may reach the main thread after this."""
        with self._lock:
            self.done.set()
            if self._interrupted:
                _async_raise(None)  # withdraw one not yet delivered
        self.join()

    def _signals(self) -> None:
        if self.wakeup is None:
            self.done.wait(1.0)
            return
        ready, _, _ = select.select([self.wakeup], [], [], 1.0)
        if not ready:
            return
        try:
            data = os.read(self.wakeup, 64)
        except BlockingIOError:
            return
        for signum in data:
            if signum in (signal.SIGTERM, signal.SIGINT) and self.signum is None:
                self.signum, self.signalled_at = signum, time.monotonic()

    def run(self) -> None:
        import dagster as dg

        from orchestration.lib import slots

        run_id, pending_since, next_word = None, None, 0.0
        bound = slots.slot_wait_seconds()
        while not self.done.is_set():
            self._signals()
            if self.done.is_set():
                return
            if run_id is None:
                records = self.instance.get_run_records(dg.RunsFilter(tags={ATTEMPT_TAG: self.attempt}), limit=1)
                run_id = records[0].dagster_run.run_id if records else None
            pool = slots.pending_in_pool(self.instance, run_id) if run_id else None
            now = time.monotonic()
            if self.signum is not None and (pool or now - self.signalled_at > self.GRACE):
                self._interrupt()
                continue
            if pool is None:
                pending_since = None
                continue
            pending_since = pending_since or now
            slots.free_dead_runs(self.instance, _say)
            holders = slots.describe_holders(self.instance, slots.full_slots(self.instance, pool))
            if now - pending_since >= bound:
                self.timed_out = (
                    f"{self.label}: the {pool!r} pool's slot was still held by {holders} after {bound:.0f} s; "
                    f"run again once that run is done ({slots.SLOT_WAIT_ENV} sets the wait)"
                )
                self._interrupt()
            elif now >= next_word:
                _say(f"waiting for the {pool!r} pool's slot, held by {holders or 'a run that just ended'}")
                next_word = now + slots.PROGRESS_EVERY


ATTEMPT_TAG = "supplyloop/attempt"


def _async_raise(error: type[BaseException] | None) -> None:
    import ctypes

    target = ctypes.py_object(error) if error is not None else None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(threading.main_thread().ident), target)


def _say(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def range_tags(first: date, last: date) -> dict[str, str]:
    """The tags of one run over a range of days: Dagster's own (the partitions it materializes)
    and ``days``, which the runs list shows."""
    count = (last - first).days + 1
    return {
        "dagster/asset_partition_range_start": first.isoformat(),
        "dagster/asset_partition_range_end": last.isoformat(),
        "days": f"{first} .. {last} ({count} day{'s' if count > 1 else ''})",
    }


def definitions_on(store: LakeStore):
    """The code location with its lake resource on ``store``: its named jobs run on that lake.

    The code location loads once per process; loaded here, its daily partitions start at the
    first day delivered to this lake (``--lake`` is LAKE_ROOT while it loads, and only then)."""
    import dagster as dg

    from orchestration.lib.settings import LAKE_ROOT_ENV

    saved = os.environ.get(LAKE_ROOT_ENV)
    os.environ[LAKE_ROOT_ENV] = store.root
    try:
        from orchestration.definitions import defs
    finally:
        if saved is None:
            os.environ.pop(LAKE_ROOT_ENV)
        else:
            os.environ[LAKE_ROOT_ENV] = saved
    from orchestration.defs.resources import Lake

    return dg.Definitions(
        assets=defs.assets,
        asset_checks=defs.asset_checks,
        jobs=defs.jobs,
        resources={**(defs.resources or {}), "lake": Lake(root=store.root)},
    )


def _checks_not_passed(events, width: int = 220) -> list[str]:
    """A line per asset check of a run that did not pass: its severity, asset, name and what
    its description says (cut to ``width``), so a warning reads as one, not as a failure."""
    import dagster as dg

    lines = []
    for event in events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION" or event.asset_check_evaluation_data.passed:
            continue
        data = event.asset_check_evaluation_data
        level = "warning" if data.severity == dg.AssetCheckSeverity.WARN else "check FAILED"
        said = " ".join((data.description or "").split())
        said = said if len(said) <= width else said[: width - 3] + "..."
        lines.append(f"{level}: {data.asset_key.to_user_string()}:{data.check_name}" + (f": {said}" if said else ""))
    return lines


def materialize_all(store: LakeStore, instance=None, days: list[date] | None = None, partners: bool = True) -> list:
    """Every asset of the code location on this lake: master snapshots, then all landed days
    (or only ``days``) in one run, the marts, then every supplier's feed in one run (a held supplier
    fails alone), then every channel partner's feed in one run (unless ``partners`` is False). Returns the
    Dagster results, one per run, recorded in ``instance``.

    Each run records this process in its tags, and before each run the runs of this instance
    whose process is gone are marked failed and their concurrency slots freed; a wait for a
    slot is bounded and reported; SIGTERM and SIGINT stop it at every step (:class:`Stopped`).
    """
    with _stoppable() as wakeup:
        return _materialize_all(store, instance, wakeup, days, partners)


def _materialize_all(
    store: LakeStore, instance, wakeup: int | None, days: list[date] | None = None, partners: bool = True
) -> list:
    import uuid

    import dagster as dg

    from orchestration.lib import slots
    from orchestration.lib.progress import CONSOLE_COMPACT, CONSOLE_TAG

    days = sorted(days) if days is not None else _landing_days(store)
    instance = instance or dg.DagsterInstance.get()
    on_lake = definitions_on(store)  # before any import of the code location: it loads on this lake
    from orchestration.defs.feeds.assets import FEED_KEY
    from orchestration.defs.feeds.jobs import feeds_job, partner_feeds_job
    from orchestration.defs.feeds.partner_assets import PARTNER_FEEDS_KEY
    from orchestration.defs.ingest.schedules import ingest_job
    from orchestration.defs.transform.jobs import MARTS_GROUPS, marts_job

    process = slots.process_tags()

    def run(label: str, job, selection, tags: dict | None = None, pools=()) -> dg.ExecuteInProcessResult:
        """One run of a named job of the code location (so the runs list names it), on ``selection``."""
        started = time.perf_counter()
        print(f"materializing {label} ...", file=sys.stderr, flush=True)
        slots.free_dead_runs(instance, _say)
        for pool in pools:  # wait here, asleep and stoppable, rather than in Dagster's executor
            slots.wait_for_slot(instance, pool, _say)
        attempt = uuid.uuid4().hex
        watch = _Watch(instance, attempt, wakeup, label)
        watch.start()
        try:
            result = on_lake.resolve_job_def(job.name).execute_in_process(
                asset_selection=list(selection.resolve(on_lake.resolve_asset_graph())),
                instance=instance,
                tags={**process, ATTEMPT_TAG: attempt, CONSOLE_TAG: CONSOLE_COMPACT, **(tags or {})},
                raise_on_error=False,
                run_config=QUIET,
            )
        except dg.DagsterExecutionInterruptedError:
            result = None  # the watch interrupted the run just as it ended: Dagster has recorded it
        finally:
            watch.finish()
        if watch.signum is not None:
            raise Stopped(watch.signum, f"materializing {label}")
        if watch.timed_out:
            raise slots.SlotTimeout(watch.timed_out)
        state = "ok" if result.success else "FAILED"
        print(f"  {state} in {time.perf_counter() - started:.1f}s (run {result.run_id[:8]})", file=sys.stderr)
        for line in _checks_not_passed(result.all_events):
            print(f"  {line}", file=sys.stderr)
        return result

    results = [run("master data snapshots", ingest_job, dg.AssetSelection.groups("master"))]
    if days:
        # before any source ingests, Dagster records each partition the run plans, one by one
        planned = sum(s.is_daily for s in load_sources().values()) * ((days[-1] - days[0]).days + 1)
        label = (
            f"daily facts {days[0]} .. {days[-1]} ({len(days)} days, one run; "
            f"Dagster first records the {planned:,} day partitions it plans)"
        )
        facts = dg.AssetSelection.groups("factory", "inventory", "sales")
        results.append(run(label, ingest_job, facts, range_tags(days[0], days[-1])))
    marts = dg.AssetSelection.groups(*MARTS_GROUPS)
    results.append(run("supply-demand marts (dbt build)", marts_job, marts, pools=("warehouse",)))
    if not results[-1].success:
        print(
            "supplier feeds skipped: the marts did not build, so the published feeds stay as they are", file=sys.stderr
        )
        return results
    feed = dg.AssetSelection.assets(FEED_KEY)
    results.append(run("supplier feeds (every supplier, one run)", feeds_job, feed))
    if partners:
        selection = dg.AssetSelection.assets(PARTNER_FEEDS_KEY)
        results.append(run("channel-partner feeds (every partner, one run)", partner_feeds_job, selection))
    return results


def _feeds_summary(store: LakeStore) -> None:
    from orchestration.lib.feeds import (
        LATEST,
        MANIFEST,
        feed_store,
        held_back_note,
        latest_manifest,
        published_suppliers,
    )

    names = published_suppliers(store)
    if not names:
        return
    feeds = feed_store(store)
    print(f"\n{'supplier feed':<16}{'rows':>8}  {'as of':<12}{'gate':<22}manifest")
    manifests = {}
    for name in names[:FEEDS_SHOWN]:
        manifest = manifests[name] = latest_manifest(store, name)
        where = feeds.uri(name, manifest["version"], MANIFEST)
        outcome = manifest["validation"]["outcome"]
        print(f"{name:<16}{manifest['rows']:>8,}  {manifest['as_of_day'] or '':<12}{outcome:<22}{where}")
    if len(names) > FEEDS_SHOWN:
        print(f"... and {len(names) - FEEDS_SHOWN:,} more suppliers' feeds ({len(names):,} in all)")
    note = held_back_note(manifests)
    if note:
        print(f"! {note}")
    print("feeds:      " + feeds.uri("<supplier_id>", LATEST) + "   (then <version>/manifest.json)")


def _partner_feeds_summary(store: LakeStore) -> None:
    """One line for the partner feeds, from the newest run's stored gate result."""
    from orchestration.lib.partner_feeds import partner_feeds_line

    line = partner_feeds_line(store)
    if line:
        print("\n" + line)


def _summary(store: LakeStore) -> None:
    from orchestration.lib.coverage import summary_lines as coverage_lines
    from orchestration.lib.report import entity_counts, format_summary, mart_counts

    print(format_summary([entity_counts(store, s) for s in load_sources().values()]))
    marts = mart_counts(store)
    if marts:
        print(f"\n{'mart':<28}{'rows':>12}  location")
        for name, rows in marts.items():
            print(f"{name:<28}{rows:>12,}  {store.uri(f'marts/{name}')}/")  # one file, or one a month
    partial = coverage_lines(store)  # the sources this platform does not deliver, and what that skips
    if partial:
        print("\n" + "\n".join(partial))
    _feeds_summary(store)
    _partner_feeds_summary(store)
    print(f"\nlake: {store.uri()}")
    print("bronze:     " + store.uri("bronze/<entity>/[day=YYYY-MM-DD/]part-0.parquet"))
    print("quarantine: " + store.uri("quarantine/<entity>/day=YYYY-MM-DD/part-0.parquet"))
    if store.exists("warehouse.duckdb"):
        print("warehouse:  " + store.uri("warehouse.duckdb") + "   (BI tools: open read-only, schema `marts`)")
    print("UI: `make ui`, then open http://127.0.0.1:3000 (same lake, same run history)")


def main(argv: list[str] | None = None) -> int:
    from orchestration.lib.demo.variants import VARIANTS

    parser = argparse.ArgumentParser(
        prog="supplyloop", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", help="lake root (default: $LAKE_ROOT, else lake/ in the project)")
    parser.add_argument(
        "--sources", help="the platform's own sources file (default: $SUPPLYLOOP_SOURCES, else the demo's)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("demo", "run"):
        p = sub.add_parser(name)
        p.add_argument("--preset", default="small", help="tiny | small | large | xl (default: small)")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--faults", action="store_true", help="inject bad deliveries (see docs/sources.md)")
        p.add_argument("--order-lines", type=int, help="scale the order-line volume to about this many")
        p.add_argument(
            "--suppliers",
            type=int,
            help="this many suppliers, with factories, SKUs and partners in proportion (default: the preset's)",
        )
    sub.choices["run"].add_argument(
        "--demo",
        action="store_true",
        help="write the demo into the landing zone first, even on S3 or a LANDING_ROOT (it must hold no files)",
    )
    sub.choices["run"].add_argument(
        "--fresh",
        action="store_true",
        help="a demo lake only: empty its landing/, bronze/ and quarantine/ first, then regenerate the demo",
    )
    sub.add_parser("summary")
    simulate = sub.add_parser("simulate", help="the closed loop: suppliers following the feed, min/max, an oracle")
    simulate.add_argument("--preset", default="small", help="the demo world: tiny | small | large (default: small)")
    simulate.add_argument("--seed", type=int, default=7)
    simulate.add_argument(
        "--start", type=date.fromisoformat, help="first simulated day, YYYY-MM-DD (default: five weeks before 11.11)"
    )
    simulate.add_argument("--weeks", type=int, default=8, help="weeks to simulate (default: 8)")
    simulate.add_argument(
        "--policies", default="feed,min_max,oracle", help="comma-separated (default: feed,min_max,oracle)"
    )
    simulate.add_argument("--run", help="the run's folder name under <lake>/simulation/ (default: a UTC timestamp)")
    demo = sub.choices["demo"]
    demo.add_argument(
        "--shape", choices=("lake", "foreign"), default="lake", help="foreign: another platform's exports"
    )
    demo.add_argument(
        "--variant",
        choices=VARIANTS,
        default="baseline",
        help="demand not of the forecast's shape: promotions, trend breaks, new SKUs, ... (default: baseline)",
    )
    demo.add_argument("--out", help="--shape foreign: the new or empty folder to write into")
    demo.add_argument("--days", type=int, default=5, help="--shape foreign: the tiny world's last N days (default 5)")
    demo.add_argument("--truth", help="--shape foreign: also write the truth as JSON here (outside --out)")
    onboard = sub.add_parser("onboard", help="propose a sources file for a folder of delivered files, then dry-run it")
    onboard.add_argument("folder", help="the platform's files as delivered (subfolders included); never written to")
    onboard.add_argument(
        "--out", default="sources.proposed.yaml", help="the proposal (default: ./sources.proposed.yaml)"
    )
    onboard.add_argument("--platform", help="the platform's name in the proposal (default: the folder's)")
    onboard.add_argument("--no-dry-run", action="store_true", help="write the proposal only")
    trace = sub.add_parser(
        "trace",
        help="where a number came from: marts, bronze rows, the landing files and rows",
        description="Trace a number back to the files it came from. Forms:\n" + "\n".join(trace_usage()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    trace.add_argument("target", help="supplier_replenishment, feeds/<supplier>, order_lines, lots or lot_recipients")
    trace.add_argument("key", help="<supplier>/<sku>, <sku> (feeds), <order_id>/<line_no> or <lot_id>")
    trace.add_argument("--rows", type=int, default=3, help="bronze rows shown per step (default: 3)")
    args = parser.parse_args(argv)
    if args.sources:
        from orchestration.lib.settings import SOURCES_ENV

        os.environ[SOURCES_ENV] = args.sources if args.sources.startswith("s3://") else os.path.abspath(args.sources)
    from orchestration.lib.locks import WaitTimeout

    try:
        return _command(args)
    except Refused as err:
        print(f"{parser.prog} {args.command}: {err}", file=sys.stderr)
        return 2
    except Stopped as err:
        print(f"{parser.prog} {args.command}: {err}", file=sys.stderr)
        return 128 + err.signum
    except WaitTimeout as err:
        print(f"{parser.prog} {args.command}: {err}", file=sys.stderr)
        return 1


def _command(args: argparse.Namespace) -> int:
    if args.command == "onboard" or (args.command == "demo" and args.shape == "foreign"):
        return _onboarding(args)
    if args.command == "simulate":
        return _simulate(args)
    store = LakeStore(args.lake)
    if args.command == "trace":
        return _trace(store, args)
    if args.command == "demo":
        _may_write_demo(store, explicit=True)
        _demo(store, args.preset, args.seed, args.faults, args.order_lines, args.variant, args.suppliers)
        return 0
    if args.command == "run":
        if args.fresh:
            _refuse_if_not_demo(store, "--fresh empties only a demo lake")
            for layer in ("landing", "bronze", "quarantine", "_demo"):
                store.delete_dir(layer)
            print(f"--fresh: emptied landing/, bronze/ and quarantine/ of {store.uri()}", file=sys.stderr)
        if args.demo or not store.list_files(LANDING, recursive=True):
            _may_write_demo(store, explicit=args.demo)
            _demo(store, args.preset, args.seed, args.faults, args.order_lines, suppliers=args.suppliers)
        _check_deliveries(store)
        results = materialize_all(store)
        _summary(store)
        return 0 if all(r.success for r in results) else 1
    _summary(store)
    return 0


def _trace(store: LakeStore, args: argparse.Namespace) -> int:
    """`trace`: reads the lake only."""
    from orchestration.lib.trace import TraceError, trace

    try:
        print(trace(store, args.target, args.key, shown=max(args.rows, 0)))
    except TraceError as err:
        raise Refused(str(err)) from None
    return 0


def _simulate(args: argparse.Namespace) -> int:
    """`simulate`: writes only under <lake>/simulation/<run>/ (the simulated world's own lake is there)."""
    import dagster as dg

    from orchestration.lib.simulation.record import record
    from orchestration.lib.simulation.run import Spec, simulate_loop

    store = LakeStore(args.lake)
    policies = tuple(p.strip() for p in args.policies.split(",") if p.strip())
    spec = Spec(preset=args.preset, seed=args.seed, start=args.start, weeks=args.weeks, policies=policies)
    try:
        spec.first_day()
        with _stoppable():
            result = simulate_loop(store, spec, run=args.run, say=_say)
    except ValueError as err:
        raise Refused(str(err)) from None
    print("\n".join(result.lines))
    print(f"\nsummary: {result.summary_path}\nchart:   {result.chart_path}")
    log = result.summary["policies"].get("feed", {}).get("pipeline_log")
    if log:
        print(f"the feed policy's pipeline runs: {log}")
    try:
        record(dg.DagsterInstance.get(), result)
    except dg.DagsterInvariantViolationError as err:  # no instance to report to: the files are the result
        print(f"simulated in {result.summary['wall_seconds']:.0f}s; not reported to the UI: {err}", file=sys.stderr)
        return 0
    print(f"simulated in {result.summary['wall_seconds']:.0f}s; the UI shows it on simulation/closed_loop (`make ui`)")
    return 0


def _onboarding(args: argparse.Namespace) -> int:
    """`onboard` and `demo --shape foreign`: they read and write plain folders, never the lake."""
    from orchestration.lib.onboard import command

    try:
        if args.command == "demo":
            if not args.out:
                raise command.Refused("--shape foreign needs --out DIR, a new or empty folder to write into")
            return command.foreign_demo(args.out, seed=args.seed, days=args.days, truth=args.truth)
        return command.onboard(
            args.folder,
            out=args.out,
            run_dry=not args.no_dry_run,
            platform=args.platform,
            live=os.environ.get("SUPPLYLOOP_SOURCES"),
        )
    except command.Refused as err:
        raise Refused(str(err)) from None


if __name__ == "__main__":
    sys.exit(main())

"""Years of history: ingestion, the full marts build and a new day at 100M order lines over
three years, within 2 GB; and a new day at three years of history against one at one year.

    python -m benchmarks.history [--preset xl] [--order-lines N]     (make bench HISTORY=1)

The xl preset is the large preset's business over three years with ten times its order
lines (100M). It is generated once into ``.bench/history/`` (cached; hours of CPU and about
8 GB of CSV). Then, each in its own process, with peak memory that of the process and of
what it starts (dbt):

1. every source of every day but the last is ingested into bronze;
2. the marts are built in full (the Dagster asset, as `make run` builds them);
3. the last day lands and is built incrementally: a new day at three years of history;
4. the same new day on a lake holding only the year before it (its bronze linked from the
   first lake, then built in full once): a new day at one year of history.

The new day costs must be within 1.2x of each other: nothing a build does for a new day may
grow with the history. ``--order-lines`` scales the volume down for a quicker look (e.g.
10M over the same three years).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchmarks.common import PROJECT, ensure_demo, run_child
from benchmarks.marts import _ours

LAKE = PROJECT / ".bench" / "history" / "lake"
RESULTS = PROJECT / ".bench" / "history.json"
MEMORY_MB = 2048


def _peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def _ingest(lake: str, last: str | None, first: str | None = None) -> dict:
    """Master data, then every daily source's days from ``first`` up to ``last`` (all, without
    them)."""
    from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import daily_sources, master_sources

    store = LakeStore(lake)
    started = time.perf_counter()
    for source in master_sources():
        ingest_snapshot(store, source)
    rows = 0
    for source in daily_sources():
        days = [
            d
            for d in landing_index(store, source)
            if d and (last is None or d.isoformat() <= last) and (first is None or d.isoformat() >= first)
        ]
        rows += sum(r.rows_in for r in ingest_days(store, source, days))
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mb": _peak_mb()}


def _link(store, target: Path, keep) -> None:
    """Master data and the daily bronze partitions whose day ``keep`` accepts, hard-linked from
    ``store``'s lake into the lake at ``target`` (no copy)."""
    from orchestration.lib.sources import daily_sources, master_sources
    from orchestration.lib.warehouse import LEDGERS

    ledgers = [f"bronze/_{name}" for name in LEDGERS]  # the pipeline's own, by day too
    for bronze_dir in [*(s.bronze_dir for s in [*master_sources(), *daily_sources()]), *ledgers]:
        base = Path(store.fs_path(bronze_dir))
        for path in base.rglob("*.parquet"):
            day = next((p.split("=", 1)[1] for p in path.relative_to(base).parts if p.startswith("day=")), None)
            link = target / bronze_dir / path.relative_to(base)
            if (day is not None and not keep(day)) or link.exists():
                continue
            link.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, link)


def _model_seconds(lake: str) -> dict[str, float]:
    """What each dbt model and test of the lake's last build took (its run_results.json)."""
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.warehouse import Warehouse

    results = json.loads((Warehouse(LakeStore(lake)).dbt_target_path / "run_results.json").read_text())
    return {r["unique_id"].split(".")[2]: round(r["execution_time"], 2) for r in results["results"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(LAKE))
    parser.add_argument("--preset", default="xl")
    parser.add_argument("--order-lines", type=int, help="the preset's order lines scaled to about this many")
    parser.add_argument("--child", choices=["ingest", "build"])
    parser.add_argument("--last", help="--child ingest: the last day to ingest")
    parser.add_argument("--first", help="--child ingest: the first day to ingest")
    args = parser.parse_args()
    if args.child == "ingest":
        print(json.dumps(_ingest(args.lake, args.last, args.first)))
        return 0
    if args.child == "build":
        print(json.dumps({**_ours(args.lake), "models": _model_seconds(args.lake)}))
        return 0

    from orchestration.lib.ingest import landing_index
    from orchestration.lib.sources import daily_sources

    store = ensure_demo(args.lake, args.preset, args.order_lines)
    days = sorted({d for s in daily_sources() for d in landing_index(store, s) if d})
    new_day = days[-1]
    for layer in ("bronze", "quarantine", "marts", ".build", ".locks"):
        store.delete_dir(layer)  # every run starts from the landing files alone
    print(f"history: ingesting {len(days) - 1} days ...", file=sys.stderr, flush=True)
    ingest = run_child("benchmarks.history", "ingest", "--lake", args.lake, "--last", days[-2].isoformat())
    print(f"history: full build over {len(days) - 1} days ...", file=sys.stderr, flush=True)
    full = run_child("benchmarks.history", "build", "--lake", args.lake)
    new = new_day.isoformat()
    run_child("benchmarks.history", "ingest", "--lake", args.lake, "--first", new, "--last", new)
    print(f"history: the new day {new_day} at {len(days) - 1} days of history ...", file=sys.stderr, flush=True)
    at_full_history = run_child("benchmarks.history", "build", "--lake", args.lake)
    year = Path(args.lake).parent / "year"  # the year before the new day, built once as a lake a day earlier
    shutil.rmtree(year, ignore_errors=True)
    first, last = (new_day - timedelta(days=365)).isoformat(), new_day.isoformat()
    _link(store, year, lambda day: first <= day < last)
    run_child("benchmarks.history", "build", "--lake", str(year))
    _link(store, year, lambda day: day == last)  # then the new day lands
    print(f"history: the new day {new_day} at a year of history ...", file=sys.stderr, flush=True)
    at_a_year = run_child("benchmarks.history", "build", "--lake", str(year))

    years = (days[-1] - days[0]).days / 365
    print(f"\n{args.preset} preset: {ingest['rows']:,} rows over {len(days)} days ({years:.1f} years)")
    print(f"{'':<44}{'seconds':>9}{'peak MB':>10}  within {MEMORY_MB:,} MB")
    for label, r in [
        (f"bronze ingestion, {len(days) - 1} days", ingest),
        ("full marts build", full),
        (f"a new day at {len(days) - 1:,} days of history", at_full_history),
        ("the same new day at 365 days of history", at_a_year),
    ]:
        print(f"{label:<44}{r['seconds']:>9.1f}{r['peak_mb']:>10,.0f}  {r['peak_mb'] <= MEMORY_MB}")
    ratio = at_full_history["seconds"] / at_a_year["seconds"]
    print(f"\nnew day at {len(days) - 1:,} days / at 365 days: {ratio:.2f}x  (target <= 1.2x)")
    print(f"ingestion: {ingest['rows'] / ingest['seconds']:,.0f} rows/s")
    print("\nthe new day's slowest steps (dbt seconds) at three years and at one:")
    at_year = at_a_year["models"]
    for name, seconds in sorted(at_full_history["models"].items(), key=lambda kv: -kv[1])[:12]:
        print(f"  {name:<56}{seconds:>8.1f}{at_year.get(name, 0):>8.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"ingest": ingest, "full": full, "new_day": at_full_history, "new_day_at_a_year": at_a_year})
    )
    builds = (full, at_full_history, at_a_year)
    return 0 if all(r["ok"] for r in builds) and all(r["peak_mb"] <= MEMORY_MB for r in (ingest, *builds)) else 1


if __name__ == "__main__":
    sys.exit(main())

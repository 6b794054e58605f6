"""Bronze ingestion of order lines against a plain DuckDB COPY over the same files.

    python -m benchmarks.ingest [--preset large] [--order-lines N] [--lake .bench/lake]

Each side runs in its own process so its peak memory is its own. Ours runs twice, on the
first quarter of the days and on all of them, to show that memory stays flat as history
grows. Prints rows/s, the ratio to the baseline and peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from benchmarks.common import BENCH_LAKE, ensure_demo, run_child


def _child(kind: str, lake: str, days: int) -> None:
    """Run one side in this process and print its figures as JSON."""
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import load_sources

    store = LakeStore(lake)
    source = load_sources()["order_lines"]
    files = store.list_files(source.landing_dir, "order_lines_*.csv")
    chosen = sorted({source.day_of(f.name) for f in files if source.day_of(f.name)})[:days]
    paths = [store.fs_path(f.path) for f in files if source.day_of(f.name) in set(chosen)]
    out = Path(lake).parent / f"out-{kind}"
    started = time.perf_counter()
    if kind == "duckdb":
        import duckdb

        out.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect()
        rows = con.execute(
            "COPY (SELECT * FROM read_csv($files, header = true, union_by_name = true)) "
            "TO $target (FORMAT parquet, COMPRESSION zstd)",
            {"files": paths, "target": str(out / "order_lines.parquet")},
        ).fetchone()[0]
    else:
        from orchestration.lib.ingest import ingest_days

        rows = sum(r.rows_in for r in ingest_days(store, source, chosen))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "kind": kind,
                "days": len(chosen),
                "rows": rows,
                "seconds": seconds,
                "peak_mb": peak_mb,
                "bytes": sum(Path(p).stat().st_size for p in paths),
            }
        )
    )


def _run(kind: str, lake: str, days: int) -> dict:
    return run_child("benchmarks.ingest", kind, "--lake", lake, "--days", str(days))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="large")
    parser.add_argument("--order-lines", type=int)
    parser.add_argument("--lake", default=str(BENCH_LAKE))
    parser.add_argument("--child")
    parser.add_argument("--days", type=int, default=100_000)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.lake, args.days)
        return 0

    from orchestration.lib.ingest import ingest_snapshot
    from orchestration.lib.sources import master_sources

    store = ensure_demo(args.lake, args.preset, args.order_lines)
    for source in master_sources():
        ingest_snapshot(store, source)

    base = _run("duckdb", args.lake, 100_000)
    ours = _run("ours", args.lake, 100_000)
    part = _run("ours", args.lake, max(1, ours["days"] // 4))
    rate = lambda r: r["rows"] / r["seconds"]  # noqa: E731
    print(f"\norder lines, {base['rows']:,} rows in {base['days']} daily CSV files ({base['bytes'] / 1e6:,.0f} MB)")
    print(f"{'':<34}{'seconds':>9}{'rows/s':>13}{'peak MB':>10}")
    print(
        f"{'plain DuckDB COPY read_csv->parquet':<34}{base['seconds']:>9.1f}{rate(base):>13,.0f}{base['peak_mb']:>10,.0f}"
    )
    print(f"{'bronze ingestion, all days':<34}{ours['seconds']:>9.1f}{rate(ours):>13,.0f}{ours['peak_mb']:>10,.0f}")
    print(
        f"{'bronze ingestion, first quarter':<34}{part['seconds']:>9.1f}{rate(part):>13,.0f}{part['peak_mb']:>10,.0f}"
    )
    print(f"\nthroughput ratio (ours / DuckDB): {rate(ours) / rate(base):.2f}x   (target >= 0.7x)")
    print(f"peak memory, all days / quarter:  {ours['peak_mb'] / part['peak_mb']:.2f}x  (flat = about 1)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

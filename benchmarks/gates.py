"""The quality gates at the large preset: their share of the pipeline, and GX against plain DuckDB.

    python -m benchmarks.gates [--lake .bench/lake]     (after benchmarks.marts, as `make bench` runs it)

- pipeline: bronze ingestion of every source and the full marts build (both timed by
  benchmarks.marts in the same `make bench`), then the order lines' input gate and every
  supplier's feed through its Dagster asset (stage, gate, publish), one run for all suppliers
  as `make run` does. The gates' share is the time spent inside them over the whole.
- GX against DuckDB: the order lines gate over its 28-day window, and every supplier's feed
  gate, each as Great Expectations validates it (reading the rows included; the feeds in one
  validation for all suppliers) and as one DuckDB query computing the same checks over the
  same Parquet.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks.common import BENCH_LAKE, PROJECT, run_child
from benchmarks.marts import RESULTS as MARTS_RESULTS


class _Timer:
    """Wall time spent inside a function, summed over calls."""

    def __init__(self, module, name: str):
        self.seconds, self.calls = 0.0, 0
        original = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1

        setattr(module, name, timed)


def _pipeline(lake: str) -> dict:
    """The order lines gate, then every supplier's feed through Dagster; the gates timed inside."""
    import dagster as dg

    import orchestration.lib.feeds as feeds_module
    from orchestration.definitions import defs
    from orchestration.defs.feeds.assets import FEED_KEY, supplier_replenishment_feed
    from orchestration.defs.resources import Lake
    from orchestration.lib.feeds import gate_order_lines
    from orchestration.lib.lake import LakeStore

    gates = _Timer(feeds_module, "run_gate")  # the order lines' gate
    feed_gates = _Timer(feeds_module, "run_keyed_gate")  # every supplier's feed, in one validation
    store = LakeStore(lake)
    started = time.perf_counter()
    input_gate = gate_order_lines(store)
    result = dg.materialize(
        [*(defs.assets or []), *(defs.asset_checks or [])],
        selection=dg.AssetSelection.assets(FEED_KEY),
        instance=dg.DagsterInstance.ephemeral(),
        resources={**(defs.resources or {}), "lake": Lake(root=lake)},
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
    )
    (event,) = (
        result.asset_materializations_for_node(supplier_replenishment_feed.op.name) if result.success else (None,)
    )
    metadata = event.metadata if event is not None else {}
    return {
        "seconds": time.perf_counter() - started,
        "gate_seconds": gates.seconds + feed_gates.seconds,
        "gates": gates.calls + feed_gates.calls,
        "suppliers": metadata["suppliers"].value if metadata else 0,
        "published": metadata["published"].value + metadata["unchanged"].value if metadata else 0,
        "input_gate_passed": bool(input_gate and input_gate.success),
    }


def _gx_vs_duckdb(lake: str) -> dict:
    """The same checks, validated by GX (rows read into pandas) and as one DuckDB query each."""
    import duckdb
    import great_expectations  # noqa: F401  (imported before timing, as a long-running process has it)

    from expectations import order_lines, supplier_replenishment
    from expectations.gate import run_gate, run_keyed_gate
    from orchestration.lib.feeds import expected_as_of_day, feed_rows, order_lines_window, supplier_ids
    from orchestration.lib.lake import LakeStore
    from orchestration.lib.sources import load_sources

    store = LakeStore(lake)

    timings = {}
    started = time.perf_counter()
    rows, window = order_lines_window(store)
    result = run_gate(store, order_lines.build_suite(window), rows.to_pandas(), partition="bench", docs=False)
    timings["order_lines_gx"] = time.perf_counter() - started
    timings["order_lines_rows"] = rows.num_rows
    timings["order_lines_gx_passed"] = result.success

    bronze = store.fs_path(load_sources()["order_lines"].bronze_dir)
    nulls = ", ".join(f'count(*) FILTER (WHERE "{c}" IS NULL) AS "{c}_nulls"' for c in order_lines.REQUIRED)
    query = f"""
        WITH w AS (
            SELECT {", ".join(order_lines.REQUIRED)}, day
            FROM read_parquet('{bronze}/day=*/*.parquet', hive_partitioning = true)
            WHERE day BETWEEN ? AND ?
        )
        SELECT
            count(DISTINCT day) AS days_present,
            {nulls},
            count(*) - count(DISTINCT (order_id, line_no)) AS repeated_keys,
            count(*) FILTER (WHERE qty < 1) AS qty_below_one,
            count(*) FILTER (WHERE status NOT IN ('paid', 'cancelled', 'refunded')) AS status_not_accepted,
            count(*) FILTER (WHERE qty > {order_lines.MAX_LINE_QTY}) AS qty_implausible,
            count(DISTINCT order_id) FILTER (WHERE day = ?) AS last_day_orders
        FROM w
    """
    started = time.perf_counter()
    with duckdb.connect() as con:
        checks = con.execute(query, [window.first_day, window.last_day, window.last_day]).fetchone()
    timings["order_lines_duckdb"] = time.perf_counter() - started
    timings["order_lines_duckdb_days"] = checks[0]

    as_of_day = expected_as_of_day(store)
    suppliers, _ = supplier_ids(store)

    started = time.perf_counter()
    feeds = [(supplier, feed_rows(store, supplier), None) for supplier in suppliers]
    run_keyed_gate(
        store,
        supplier_replenishment.NAME,
        supplier_replenishment.batches(feeds, as_of_day),
        key=supplier_replenishment.FILE_SUPPLIER,
        partition="bench",
        docs=False,
    )
    timings["feeds_gx"] = time.perf_counter() - started

    mart = store.fs_path("marts/supplier_replenishment/part-0.parquet")
    negatives = ", ".join(
        f'count(*) FILTER (WHERE "{c}" < 0) AS "{c}_negative"' for c in supplier_replenishment.NOT_NEGATIVE
    )
    multiple = supplier_replenishment.PLAUSIBLE_MULTIPLE
    ceiling = f"({multiple} * greatest(max(recent_demand_28d) OVER s, 1) + max(min_order_qty) OVER s)"
    too_large = " OR ".join(f'"{c}" > {ceiling}' for c in supplier_replenishment.PLAUSIBLE)
    query = f"""
        WITH feed AS (
            SELECT *, ({too_large}) AS implausible
            FROM read_parquet('{mart}')
            WINDOW s AS (PARTITION BY supplier_id)
        )
        SELECT
            supplier_id,
            count(*) AS rows,
            count(*) FILTER (WHERE sku IS NULL OR as_of_day IS NULL) AS null_keys,
            count(*) - count(DISTINCT (sku, as_of_day)) AS repeated_keys,
            {negatives},
            count(*) FILTER (WHERE priority NOT IN ('none', 'normal', 'high', 'urgent')) AS priority_not_accepted,
            count(*) FILTER (WHERE min_order_qty < 1) AS min_order_below_one,
            count(*) FILTER (WHERE order_by_day < as_of_day) AS order_by_before_as_of,
            count(*) FILTER (WHERE as_of_day <> ?) AS not_fresh,
            count(*) FILTER (WHERE implausible) AS implausible,
            count(*) FILTER (WHERE product_name IS NULL) AS product_name_missing,
            count(*) FILTER (WHERE available < 0) AS available_negative
        FROM feed
        GROUP BY supplier_id
    """
    started = time.perf_counter()
    with duckdb.connect() as con:
        per_supplier = con.execute(query, [as_of_day]).fetchall()
    timings["feeds_duckdb"] = time.perf_counter() - started
    timings["suppliers"] = len(per_supplier)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(BENCH_LAKE))
    parser.add_argument("--child", choices=["pipeline", "compare"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps((_pipeline if args.child == "pipeline" else _gx_vs_duckdb)(args.lake), default=str))
        return 0
    if not MARTS_RESULTS.exists():
        print("run `python -m benchmarks.marts` first (make bench runs both)", file=sys.stderr)
        return 1
    marts = json.loads(MARTS_RESULTS.read_text())
    feeds = run_child("benchmarks.gates", "pipeline", "--lake", args.lake)
    compare = run_child("benchmarks.gates", "compare", "--lake", args.lake)
    total = marts["ingest_seconds"] + marts["full"]["seconds"] + feeds["seconds"]

    print(f"\ngates at the large preset ({feeds['suppliers']} suppliers, {feeds['published']} feeds published)")
    print(f"{'':<52}{'seconds':>9}")
    for label, seconds in [
        ("bronze ingestion, every source (benchmarks.marts)", marts["ingest_seconds"]),
        ("full marts build (benchmarks.marts)", marts["full"]["seconds"]),
        ("order lines gate + every supplier's feed (Dagster)", feeds["seconds"]),
        ("pipeline", total),
        (f"  of which inside the {feeds['gates']} gates", feeds["gate_seconds"]),
    ]:
        print(f"{label:<52}{seconds:>9.1f}")
    print(f"\ngates / pipeline:  {feeds['gate_seconds'] / total:.1%}  (target <= 10%)")
    print(
        f"order lines gate, {compare['order_lines_rows']:,} rows over 28 days: GX {compare['order_lines_gx']:.2f}s, "
        f"one DuckDB query {compare['order_lines_duckdb']:.2f}s "
        f"({compare['order_lines_gx'] / compare['order_lines_duckdb']:.1f}x)"
    )
    print(
        f"every supplier's feed gate ({compare['suppliers']} suppliers): GX {compare['feeds_gx']:.2f}s, "
        f"one DuckDB query {compare['feeds_duckdb']:.2f}s ({compare['feeds_gx'] / compare['feeds_duckdb']:.0f}x)"
    )
    (PROJECT / ".bench" / "gates.json").write_text(json.dumps({"marts": marts, "feeds": feeds, "compare": compare}))
    return 0 if feeds["published"] == feeds["suppliers"] else 1


if __name__ == "__main__":
    sys.exit(main())

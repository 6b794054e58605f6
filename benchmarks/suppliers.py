"""The supplier feeds as the suppliers grow: time per supplier at 30, 500 and 5,000 suppliers.

    python -m benchmarks.suppliers [--counts 30,500,5000] [--order-lines 60000]

For each count, the tiny preset's business resized to that many suppliers (``--suppliers``:
factories, SKUs and partners in proportion; the same 18 days and order-line total) is
generated once into ``.bench/suppliers-<n>/`` (cached), then the whole loop runs as
`make run` runs it, without the partner feeds: master data, the daily facts, the marts, then
every supplier's feed in one Dagster run. The feeds run is timed twice: publishing every
feed, then again on the same marts (every feed unchanged: the daily case for most
suppliers). Each run's time is Dagster's own (its start to its end); the feeds' share is
the first feeds run over the whole pipeline. The time per supplier must not grow with the
count; the feeds must stay within 3 minutes and 10% of the pipeline at 5,000 suppliers.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys

from benchmarks.common import PROJECT, ensure_demo, run_child

RESULTS = PROJECT / ".bench" / "suppliers.json"
COUNTS = (30, 500, 5000)


def _run_seconds(instance, result) -> float:
    stats = instance.get_run_stats(result.run_id)
    return stats.end_time - stats.launch_time if stats.launch_time else stats.end_time - stats.start_time


def _child(lake: str) -> dict:
    """The loop on ``lake``, in this process, with its own Dagster instance; the runs' times."""
    import dagster as dg

    from orchestration import cli
    from orchestration.defs.feeds.assets import supplier_replenishment_feed
    from orchestration.defs.resources import Lake
    from orchestration.lib.lake import LakeStore

    def metadata(result) -> dict:
        (event,) = result.asset_materializations_for_node(supplier_replenishment_feed.op.name)
        return {k: getattr(v, "value", v) for k, v in event.metadata.items() if k in KEPT}

    with dg.DagsterInstance.ephemeral() as instance:
        results = cli.materialize_all(LakeStore(lake), instance, partners=False)
        seconds = [_run_seconds(instance, r) for r in results]
        repeat = dg.materialize(
            [supplier_replenishment_feed],
            instance=instance,
            resources={"lake": Lake(root=lake)},
            raise_on_error=False,
            run_config=cli.QUIET,
        )
        repeat_seconds = _run_seconds(instance, repeat)
        return {
            "ok": all(r.success for r in results) and repeat.success,
            "pipeline_seconds": sum(seconds),
            "feeds_seconds": seconds[-1],
            "repeat_seconds": repeat_seconds,
            "first": metadata(results[-1]),
            "repeat": metadata(repeat),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }


KEPT = ("suppliers", "published", "unchanged", "held", "seconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default=",".join(map(str, COUNTS)), help="supplier counts (default 30,500,5000)")
    parser.add_argument("--order-lines", type=int, default=60_000, help="order lines of each world (default 60,000)")
    parser.add_argument("--child", choices=["loop"])
    parser.add_argument("--lake")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.lake), default=str))
        return 0
    rows = []
    for n in (int(c) for c in args.counts.split(",")):
        lake = str(PROJECT / ".bench" / f"suppliers-{n}")
        store = ensure_demo(lake, preset="tiny", order_lines=args.order_lines, suppliers=n)
        for layer in ("bronze", "quarantine", "marts", "feeds", "gates", ".build", ".locks"):
            store.delete_dir(layer)  # every run starts from the landing files alone
        print(f"suppliers: the loop on {n:,} suppliers ...", file=sys.stderr, flush=True)
        rows.append({"suppliers": n, **run_child("benchmarks.suppliers", "loop", "--lake", lake)})
    print(
        f"\nsupplier feeds as the suppliers grow (tiny preset resized, {args.order_lines:,} order lines, one run for all)"
    )
    print(
        f"{'suppliers':>10}{'pipeline s':>12}{'feeds s':>9}{'share':>8}{'ms/supplier':>13}"
        f"{'unchanged s':>13}{'ms/supplier':>13}{'held':>6}  stage / gate / publish s"
    )
    for r in rows:
        n, first = r["suppliers"], r["first"]
        split = " / ".join(f"{first['seconds'].get(k, 0):.1f}" for k in ("stage", "gate", "publish"))
        print(
            f"{n:>10,}{r['pipeline_seconds']:>12.1f}{r['feeds_seconds']:>9.1f}"
            f"{r['feeds_seconds'] / r['pipeline_seconds']:>8.1%}{1000 * r['feeds_seconds'] / n:>13.1f}"
            f"{r['repeat_seconds']:>13.1f}{1000 * r['repeat_seconds'] / n:>13.1f}{first['held']:>6}  {split}"
        )
    top = rows[-1]
    print(
        f"\nat {top['suppliers']:,} suppliers: feeds {top['feeds_seconds']:.0f}s (target <= 180s), "
        f"{top['feeds_seconds'] / top['pipeline_seconds']:.1%} of the pipeline (target <= 10%)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows, indent=2, default=str))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

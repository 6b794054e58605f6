"""Generate a demo landing zone and the ground truth that tells what ingestion must find."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.demo.faults import CleanDelivery, FaultyDelivery
from orchestration.lib.demo.presets import preset_named
from orchestration.lib.demo.simulate import simulate
from orchestration.lib.demo.variants import festival_setting
from orchestration.lib.demo.world import build_world
from orchestration.lib.demo.writers import arrival, landing_path, render, stamp_arrival, write
from orchestration.lib.lake import LakeStore
from orchestration.lib.progress import DayProgress, stderr_line
from orchestration.lib.sources import canonical_sources

TRUTH_PATH = "_demo/truth.json"

# The column each source's "qty" total adds up; None where a source has no quantity.
QUANTITY = {
    "order_lines": "qty",
    "production_output": "qty_good",
    "stock_movements": "qty",
    "stock_snapshots": "on_hand",
    "work_orders": "qty_planned",
    "live_sessions": "peak_viewers",
}


@dataclass
class DemoResult:
    """What a demo run wrote: the landing files, and the truth about their clean content."""

    files: list[str]
    truth: dict
    truth_path: str = TRUTH_PATH


@dataclass
class _Tally:
    """Rows and quantities of the clean data, per source and per day."""

    sources: dict[str, dict] = field(default_factory=dict)

    def count(self, source: str, day: date, table: pa.Table) -> None:
        column = QUANTITY.get(source)
        entry = self.sources.setdefault(
            source,
            {
                "rows": 0,
                "qty": 0 if column else None,
                "by_day": {},
                "qty_by_day": {} if column else None,
            },
        )
        key = day.isoformat()
        entry["rows"] += table.num_rows
        entry["by_day"][key] = entry["by_day"].get(key, 0) + table.num_rows
        if column:
            qty = pc.sum(table.column(column)).as_py() or 0
            entry["qty"] += qty
            entry["qty_by_day"][key] = entry["qty_by_day"].get(key, 0) + qty


def generate(
    store: LakeStore,
    preset: str = "small",
    seed: int = 7,
    faults: bool = False,
    order_lines: int | None = None,
    progress: bool = False,
    variant: str = "baseline",
    suppliers: int | None = None,
) -> DemoResult:
    """Write a demo business's landing files, one day at a time, and its truth file.

    The same preset, seed and options always give byte-identical files. With ``faults``
    the landing zone also gets one of each kind of bad delivery, on top of the clean data.
    ``variant`` bends the demand away from the forecast's shape (:mod:`.variants`); the
    baseline is the world as it always was. ``suppliers`` resizes the preset's business to
    that many suppliers (:meth:`Preset.with_suppliers`).
    Files of the same names are replaced; files of an earlier run with other options are
    not removed, so start from an empty landing zone when the options change.
    """
    spec = preset_named(preset).with_order_lines(order_lines).with_suppliers(suppliers)
    world = build_world(spec, seed, variant)
    sources = canonical_sources()
    delivery = FaultyDelivery(spec.days, seed) if faults else CleanDelivery()
    tally, files = _Tally(), []
    for name, table in world.master_tables().items():
        files.append(write(store, landing_path(sources[name], spec.end), render(sources[name], table, spec.end)))
        tally.count(name, spec.end, table)
    meter = DayProgress("the demo", spec.days, say=stderr_line if progress else lambda _line: None, verb="writing")
    orders, stockouts = 0, {}
    for day in simulate(world):
        for name, table in day.tables.items():
            data = render(sources[name], table, day.day)
            delivered = delivery.deliver(store, sources[name], day.day, table, data)
            for rel in delivered:
                stamp_arrival(store, rel, arrival(sources[name], day.day, seed))
            files += delivered
            tally.count(name, day.day, table)
        orders += day.orders
        stockouts[day.day.isoformat()] = day.stockout_units
        meter.day(day.tables["order_lines"].num_rows)
    files += delivery.finish(store)
    truth = {
        "preset": spec.name,
        "seed": seed,
        "start": spec.start.isoformat(),
        "end": spec.end.isoformat(),
        "order_lines_target": spec.order_lines,
        "suppliers": spec.suppliers,
        "clean": tally.sources,
        "faults": [f.as_dict() for f in delivery.faults],
        "dynamics": {
            "orders": orders,
            "stockout_units": sum(stockouts.values()),
            "stockout_units_by_day": stockouts,
        },
    }
    if world.variant is not None:
        truth["variant"] = world.variant.name
        if world.variant.name == "moving_festival":
            truth["festivals_setting"] = festival_setting()
    store.write_bytes(TRUTH_PATH, json.dumps(truth, indent=2, ensure_ascii=False).encode("utf-8"))
    return DemoResult(files=files, truth=truth, truth_path=TRUTH_PATH)

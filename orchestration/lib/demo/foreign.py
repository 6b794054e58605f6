"""The demo world delivered the way another platform exports it: for onboarding tests and the README.

    truth = write_foreign(Path("acme-exports"), seed=7, days=5)

The same business as the demo (the ``tiny`` preset's world, its last few days), written
into one plain folder as a Chinese ERP, WMS and MES would hand it over:

- ``销售订单_YYYYMMDD.csv``: order lines, GB18030, Chinese headers; one day is re-sent
  byte for byte as ``销售订单_YYYYMMDD_重发.csv``; a few bad rows (a negative quantity, an
  unknown SKU, an unparsable order time);
- ``库存快照_YYYYMMDD.jsonl``: end-of-day stock, JSON Lines with Chinese keys;
- ``生产报工_YYYYMMDD.csv``: production output, UTF-8 with BOM, Chinese headers;
- ``商品主数据.csv`` (UTF-8 with BOM), ``供应商.csv``, ``分销商档案.csv``, ``仓库列表.csv``,
  ``工厂.csv``: master data, plain CSV, no day in their names;
- no stock movements, machine events, work orders or live sessions.

The truth says, per source, how many rows were delivered, how many must be accepted and
quarantined (and why), and the accepted quantity, so a test can check an onboarding
against it exactly. Nothing in the folder depends on the clock: the same seed gives the
same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.demo.generator import QUANTITY
from orchestration.lib.demo.presets import preset_named
from orchestration.lib.demo.simulate import simulate
from orchestration.lib.demo.world import build_world
from orchestration.lib.demo.writers import render
from orchestration.lib.sources import Source, canonical_sources

RESENT = "重发"
UNKNOWN_SKU = "SKU9999"
BAD_TIME = "2026-11-32 25:61:00"


@dataclass(frozen=True)
class Shape:
    """How the foreign platform delivers one canonical source."""

    source: str
    stem: str  # the file name before the day (or the whole name, for master data)
    format: str
    encoding: str
    headers: dict[str, str]  # canonical column -> delivered header (or JSON key)
    daily: bool = True


SHAPES = (
    Shape(
        "order_lines",
        "销售订单",
        "csv",
        "gb18030",
        {
            "order_id": "订单号",
            "line_no": "行号",
            "ordered_at": "下单时间",
            "partner_id": "分销商编号",
            "sku": "商品编码",
            "qty": "数量",
            "unit_price": "单价",
            "discount": "折扣",
            "region": "区域",
            "live_session_id": "直播场次",
            "status": "状态",
        },
    ),
    Shape(
        "stock_snapshots",
        "库存快照",
        "jsonl",
        "utf-8",
        {
            "snapshot_date": "日期",
            "warehouse_id": "仓库编号",
            "sku": "商品编码",
            "on_hand": "在库数量",
            "reserved": "预占数量",
            "in_transit": "在途数量",
        },
    ),
    Shape(
        "production_output",
        "生产报工",
        "csv",
        "utf-8-sig",
        {
            "factory_id": "工厂编号",
            "line_id": "产线",
            "sku": "商品编码",
            "produced_at": "报工时间",
            "qty_good": "良品数量",
            "qty_scrap": "废品数量",
        },
    ),
    Shape(
        "products",
        "商品主数据",
        "csv",
        "utf-8-sig",
        {
            "sku": "商品编码",
            "name": "商品名称",
            "category": "品类",
            "supplier_id": "供应商编号",
            "unit_cost": "单位成本",
            "unit_price": "销售单价",
            "lead_time_days": "交货周期天数",
            "min_order_qty": "最小起订量",
            "shelf_life_days": "保质期天数",
        },
        daily=False,
    ),
    Shape(
        "suppliers",
        "供应商",
        "csv",
        "utf-8",
        {"supplier_id": "供应商编号", "name": "供应商名称", "region": "区域"},
        daily=False,
    ),
    Shape(
        "partners",
        "分销商档案",
        "csv",
        "utf-8",
        {"partner_id": "分销商编号", "partner_type": "渠道类型", "region": "区域"},
        daily=False,
    ),
    Shape(
        "warehouses",
        "仓库列表",
        "csv",
        "utf-8",
        {"warehouse_id": "warehouse_code", "region": "region"},
        daily=False,
    ),
    Shape(
        "factories",
        "工厂",
        "csv",
        "utf-8",
        {"factory_id": "factory_id", "supplier_id": "supplier_id", "region": "region", "line_count": "line_count"},
        daily=False,
    ),
)
ABSENT = ("stock_movements", "machine_events", "work_orders", "live_sessions")


def file_name(shape: Shape, day: date | None, variant: str = "") -> str:
    ext = shape.format
    if not shape.daily or day is None:
        return f"{shape.stem}.{ext}"
    return f"{shape.stem}_{day:%Y%m%d}{variant}.{ext}"


def _as_delivered(shape: Shape, canonical: Source) -> Source:
    """The canonical source, re-dressed in the foreign platform's format and encoding, for the writers."""
    return replace(canonical, format=shape.format, encoding=shape.encoding)


def _with_bad_rows(table: pa.Table, bad: list[tuple[int, str, object]]) -> pa.Table:
    """The same table with a few values replaced: (row, column, new value)."""
    for row, column, value in bad:
        values = table.column(column).to_pylist()
        values[row] = value
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.array(values, table.schema.field(column).type))
    return table


class _Truth:
    def __init__(self):
        self.sources: dict[str, dict] = {}

    def entry(self, source: str) -> dict:
        column = QUANTITY.get(source)
        return self.sources.setdefault(
            source,
            {
                "files": [],
                "delivered": 0,
                "accepted": 0,
                "quarantined": 0,
                "qty_column": column,
                "qty": 0 if column else None,
                "reasons": {},
                "by_day": {},
            },
        )

    def add(
        self,
        source: str,
        day: date | None,
        name: str,
        table: pa.Table,
        rejected: dict[int, str] | None = None,
        all_rejected: str | None = None,
    ) -> None:
        """One delivered file: its rows, and which of them must be quarantined, with the reason code."""
        entry = self.entry(source)
        rejected = dict(rejected or {})
        if all_rejected:
            rejected = dict.fromkeys(range(table.num_rows), all_rejected)
        accepted_mask = pa.array([i not in rejected for i in range(table.num_rows)])
        accepted = table.filter(accepted_mask)
        qty = 0
        if entry["qty_column"]:
            qty = int(pc.sum(accepted.column(entry["qty_column"])).as_py() or 0)
        entry["files"].append(name)
        entry["delivered"] += table.num_rows
        entry["accepted"] += accepted.num_rows
        entry["quarantined"] += len(rejected)
        if entry["qty_column"]:
            entry["qty"] += qty
        for code in rejected.values():
            entry["reasons"][code] = entry["reasons"].get(code, 0) + 1
        if day is not None:
            per_day = entry["by_day"].setdefault(
                day.isoformat(), {"delivered": 0, "accepted": 0, "quarantined": 0, "qty": 0}
            )
            per_day["delivered"] += table.num_rows
            per_day["accepted"] += accepted.num_rows
            per_day["quarantined"] += len(rejected)
            per_day["qty"] += qty


def write_foreign(folder: Path, seed: int = 7, days: int = 5, preset: str = "tiny") -> dict:
    """Write the foreign platform's deliveries into ``folder`` (created if need be); return the truth.

    ``days``: how many of the preset's last days are delivered (11.11 is among the tiny
    preset's last five). The folder should be empty: files of the same names are replaced,
    others are left alone.
    """
    spec = preset_named(preset)
    if not 1 <= days <= len(spec.days):
        raise ValueError(f"days must be between 1 and {len(spec.days)} for the {spec.name} preset, got {days}")
    delivered = spec.days[-days:]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    canonical = canonical_sources()
    shapes = {s.source: s for s in SHAPES}
    world = build_world(spec, seed)
    truth = _Truth()

    def put(shape: Shape, day: date | None, table: pa.Table, variant: str = "") -> str:
        source = _as_delivered(shape, canonical[shape.source])
        columns = [c for c in table.column_names if c in shape.headers]
        table = table.select(columns)
        data = render(source, table, day or spec.end, header=[shape.headers[c] for c in columns])
        name = file_name(shape, day, variant)
        (folder / name).write_bytes(data)
        return name

    for name, table in world.master_tables().items():
        if name not in shapes:
            continue
        truth.add(name, None, put(shapes[name], None, table), table)

    resent_day = date(spec.end.year, 11, 11) if date(spec.end.year, 11, 11) in delivered else delivered[0]
    bad_days = [d for d in delivered if d != resent_day] or [resent_day]
    bad_rows: list[dict] = []
    for simulated in simulate(world):
        if simulated.day not in delivered:
            continue
        for name, table in simulated.tables.items():
            if name not in shapes:
                continue
            rejected: dict[int, str] = {}
            if name == "order_lines" and simulated.day in (bad_days[0], bad_days[-1]) and table.num_rows >= 3:
                bad = _bad_order_rows(table, first=simulated.day == bad_days[0], last=simulated.day == bad_days[-1])
                table = _with_bad_rows(table, [(row, column, value) for row, column, value, _ in bad])
                for row, column, value, code in bad:
                    rejected[row] = code
                    bad_rows.append(
                        {
                            "source": name,
                            "file": file_name(shapes[name], simulated.day),
                            "row": row + 1,
                            "column": column,
                            "value": value,
                            "reason_code": code,
                        }
                    )
            file = put(shapes[name], simulated.day, table)
            truth.add(name, simulated.day, file, table, rejected)
            if name == "order_lines" and simulated.day == resent_day:
                again = file_name(shapes[name], simulated.day, f"_{RESENT}")
                (folder / again).write_bytes((folder / file).read_bytes())
                truth.add(name, simulated.day, again, table, all_rejected="duplicate_file")
    return {
        "shape": "foreign",
        "preset": spec.name,
        "seed": seed,
        "start": delivered[0].isoformat(),
        "end": delivered[-1].isoformat(),
        "days": [d.isoformat() for d in delivered],
        "resent": file_name(shapes["order_lines"], resent_day, f"_{RESENT}"),
        "delivered_sources": sorted(truth.sources),
        "absent_sources": list(ABSENT),
        "sources": truth.sources,
        "bad_rows": bad_rows,
    }


def _bad_order_rows(table: pa.Table, first: bool, last: bool) -> list[tuple[int, str, object, str]]:
    """(row, column, bad value, reason code) for one day's order lines."""
    bad = []
    if first:
        bad.append((1, "qty", -3, "below_minimum"))
        bad.append((2, "sku", UNKNOWN_SKU, "unknown_reference"))
    if last:
        bad.append((0, "ordered_at", BAD_TIME, "invalid_value"))
    return bad


def truth_summary(truth: dict) -> str:
    """The truth as a small table, for the CLI."""
    lines = [f"{'source':<20}{'files':>6}{'delivered':>11}{'accepted':>10}{'quarantined':>13}{'qty':>10}"]
    for name, entry in sorted(truth["sources"].items()):
        qty = f"{entry['qty']:,}" if entry["qty"] is not None else "-"
        lines.append(
            f"{name:<20}{len(entry['files']):>6}{entry['delivered']:>11,}{entry['accepted']:>10,}"
            f"{entry['quarantined']:>13,}{qty:>10}"
        )
    lines.append("absent: " + ", ".join(truth["absent_sources"]))
    return "\n".join(lines)


def write_truth(truth: dict, path: Path) -> None:
    Path(path).write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

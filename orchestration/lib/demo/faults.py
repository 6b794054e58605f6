"""Bad deliveries, the way B2B partners really send them, on top of the clean data.

Every fault is *extra*: extra rows slipped into one day's file, or extra files next to the
clean ones, so the clean totals in the truth file stay exactly the clean data. Each fault
is recorded with the reason code the ingestion is expected to give it (see
``orchestration.lib.rules.REASON_CODES``); ``rows`` are 1-based data-row numbers in the
faulty file (header not counted), or None when the whole file is the fault.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from orchestration.lib.demo.fields import day_ids, rng_for
from orchestration.lib.demo.writers import headers, landing_path, render, write
from orchestration.lib.lake import LakeStore
from orchestration.lib.sources import Source

UNKNOWN_SKU = "SKU9999"
BAD_TIMESTAMP = "2026-13-45 25:00:00"
BAD_BYTES = b"\xff\xfe\xff"  # never valid GB18030
RENAMED = ("qty", "quantity_pcs")  # what an ERP upgrade did to a header

# kind: (entity, expected reason code)
KINDS = {
    "missing_key": ("order_lines", "missing_required"),
    "negative_quantity": ("order_lines", "below_minimum"),
    "unknown_sku": ("order_lines", "unknown_reference"),
    "bad_value": ("order_lines", "invalid_value"),
    "duplicate_delivery": ("order_lines", "duplicate_file"),
    "duplicate_rows": ("order_lines", "duplicate_key"),
    "late_file": ("order_lines", None),
    "renamed_column": ("order_lines", "missing_column"),
    "zero_byte": ("live_sessions", "empty_file"),
    "truncated": ("stock_snapshots", "unreadable_file"),
    "undecodable": ("production_output", "undecodable"),
}
ROW_KINDS = ("missing_key", "negative_quantity", "unknown_sku", "bad_value")


@dataclass
class Fault:
    """One bad delivery and what the ingestion should say about it."""

    kind: str
    entity: str
    file: str
    day: str
    rows: list[int] | None
    expected_reason: str | None

    def as_dict(self) -> dict:
        return asdict(self)


class CleanDelivery:
    """Every file arrives once, on time, intact."""

    faults: list[Fault]

    def __init__(self) -> None:
        self.faults = []

    def deliver(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> list[str]:
        """Put the day's file of ``source`` in the landing zone; the paths written."""
        return [write(store, landing_path(source, day), data)]

    def finish(self, store: LakeStore) -> list[str]:
        return []


class FaultyDelivery(CleanDelivery):
    """Clean deliveries plus one of each kind of bad delivery, on days drawn from the seed."""

    def __init__(self, days: list[date], seed: int):
        super().__init__()
        order_line_kinds = [k for k, (entity, _) in KINDS.items() if entity == "order_lines"]
        pool = days[1:-1]  # inside the range, so a late file is for a past day
        if len(pool) < len(order_line_kinds):
            raise ValueError(f"faults need at least {len(order_line_kinds) + 2} days, the preset has {len(days)}")
        self.rng = rng_for(seed, "faults")
        picks = self.rng.choice(len(pool), len(order_line_kinds), replace=False)
        self.day_of = {kind: pool[i] for kind, i in zip(order_line_kinds, picks)}
        for kind in KINDS:
            self.day_of.setdefault(kind, pool[int(self.rng.integers(len(pool)))])
        self._late: tuple[str, bytes] | None = None

    def deliver(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> list[str]:
        kinds = [k for k in KINDS if self.day_of[k] == day and KINDS[k][0] == source.name]
        rel = landing_path(source, day)
        for kind in kinds:
            if kind in ROW_KINDS:
                data = self._slip_in_rows(kind, source, day, table, data, rel)
        written = []
        if "late_file" in kinds:
            self._late = (rel, data)
            self._record("late_file", rel, day, None)
        else:
            written.append(write(store, rel, data))
        for kind in kinds:
            extra = EXTRA_FILES.get(kind)
            if extra:
                written.append(extra(self, store, source, day, table, data))
        return written

    def finish(self, store: LakeStore) -> list[str]:
        """Deliver the late file after everything else, and make it look late."""
        if self._late is None:
            return []
        rel, data = self._late
        write(store, rel, data)
        if not store.is_s3:
            later = time.time() + 60
            os.utime(store.fs_path(rel), (later, later))
        return [rel]

    # -- the kinds of fault ----------------------------------------------------------------
    def _record(self, kind: str, rel: str, day: date, rows: list[int] | None) -> None:
        entity, reason = KINDS[kind]
        self.faults.append(Fault(kind, entity, rel, day.isoformat(), rows, reason))

    def _slip_in_rows(self, kind: str, source: Source, day: date, table: pa.Table, data: bytes, rel: str) -> bytes:
        """Bad rows (for new orders) scattered among the day's clean rows."""
        rows = _bad_order_rows(kind, day, table)
        lines = render(source, _text_table(rows), day, with_header=False).splitlines(keepends=True)
        header, *body = data.splitlines(keepends=True)
        at = np.sort(self.rng.integers(0, len(body) + 1, len(lines)))
        merged, numbers, taken = [header], [], 0
        for position, line in zip(at, lines):
            merged += body[taken:position]
            taken = position
            merged.append(line)
            numbers.append(len(merged) - 1)
        merged += body[taken:]
        self._record(kind, rel, day, numbers)
        return b"".join(merged)

    def _resend(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        rel = write(store, landing_path(source, day, "_resend"), data)
        self._record("duplicate_delivery", rel, day, None)
        return rel

    def _part_two(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        """A second part of the day's export that repeats some rows of the first."""
        count = min(5, table.num_rows)
        picked = np.sort(self.rng.choice(table.num_rows, count, replace=False))
        rel = write(store, landing_path(source, day, "_part2"), render(source, table.take(picked), day))
        self._record("duplicate_rows", rel, day, list(range(1, count + 1)))
        return rel

    def _renamed_column(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        """New orders from a system whose upgrade renamed the quantity header."""
        rows = _bad_order_rows("renamed_column", day, table)
        header = [RENAMED[1] if h == RENAMED[0] else h for h in headers(source)]
        rel = write(store, landing_path(source, day, "_erp2"), render(source, _text_table(rows), day, header=header))
        self._record("renamed_column", rel, day, None)
        return rel

    def _zero_byte(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        rel = write(store, landing_path(source, day, "_b"), b"")
        self._record("zero_byte", rel, day, None)
        return rel

    def _truncated(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        """An upload cut off half-way."""
        rel = write(store, landing_path(source, day, "_b"), data[: len(data) // 2])
        self._record("truncated", rel, day, None)
        return rel

    def _undecodable(self, store: LakeStore, source: Source, day: date, table: pa.Table, data: bytes) -> str:
        """A GB18030 export whose factory ids picked up bytes no encoding can read."""
        sample = table.slice(0, 3) if table.num_rows else _synthetic_output(source, day)
        header, *body = render(source, sample, day).splitlines(keepends=True)
        broken = [line.replace(b",", BAD_BYTES + b",", 1) for line in body]
        rel = write(store, landing_path(source, day, "_b"), header + b"".join(broken))
        self._record("undecodable", rel, day, None)
        return rel


EXTRA_FILES = {
    "duplicate_delivery": FaultyDelivery._resend,
    "duplicate_rows": FaultyDelivery._part_two,
    "renamed_column": FaultyDelivery._renamed_column,
    "zero_byte": FaultyDelivery._zero_byte,
    "truncated": FaultyDelivery._truncated,
    "undecodable": FaultyDelivery._undecodable,
}


# -- the bad rows ---------------------------------------------------------------------------


def _bad_order_rows(kind: str, day: date, table: pa.Table) -> list[dict[str, str]]:
    """Order lines of new orders (ids after the day's last order), each wrong in the kind's way."""
    template = _template(table, day)
    first = (pc.count_distinct(table.column("order_id")).as_py() if table.num_rows else 0) + 1
    ids = day_ids("O", day, np.arange(first, first + 3), 6).to_pylist()

    def row(order_id: str, **changes: str) -> dict[str, str]:
        return {**template, "order_id": order_id, **changes}

    return {
        "missing_key": [row(""), row(ids[0], sku="")],
        "negative_quantity": [row(ids[0], qty="-2"), row(ids[1], qty="-1")],
        "unknown_sku": [row(ids[0], sku=UNKNOWN_SKU), row(ids[1], sku=UNKNOWN_SKU, qty="3")],
        "bad_value": [row(ids[0], qty="abc"), row(ids[1], ordered_at=BAD_TIMESTAMP)],
        "renamed_column": [row(ids[0]), row(ids[1], qty="4"), row(ids[2], qty="1")],
    }[kind]


def _template(table: pa.Table, day: date) -> dict[str, str]:
    """A plausible order line of the day, as text, to build bad rows from."""
    if table.num_rows:
        values = table.slice(0, 1).to_pylist()[0]
    else:
        values = {
            "order_id": "",
            "line_no": 1,
            "ordered_at": f"{day} 12:00:00",
            "partner_id": "P00001",
            "sku": "SKU0001",
            "qty": 2,
            "unit_price": "9.90",
            "discount": "0.00",
            "region": "east",
            "live_session_id": None,
            "status": "paid",
        }
    text = {k: "" if v is None else str(v) for k, v in values.items()}
    return {**text, "line_no": "1", "qty": "2", "discount": "0.00", "live_session_id": "", "status": "paid"}


def _text_table(rows: list[dict[str, str]]) -> pa.Table:
    return pa.table({k: pa.array([r[k] for r in rows], pa.string()) for k in rows[0]})


def _synthetic_output(source: Source, day: date) -> pa.Table:
    """One row of output for a day the factories were closed."""
    return pa.table(
        {
            "factory_id": ["F001"],
            "line_id": ["F001-L1"],
            "sku": ["SKU0001"],
            "produced_at": [f"{day:%Y/%m/%d} 08:00:00"],
            "qty_good": [10],
            "qty_scrap": [0],
        }
    )

"""Where a number came from: ``supplyloop trace <mart or feed> <key>``.

A trace follows one number of a mart (or of a supplier's published feed) back through the
marts and bronze rows it was computed from to the delivered files: for every bronze row it
shows, the landing file and row number the row was read from (bronze keeps both, as
``_source_file`` and ``_source_row``) and the row as delivered. What it can trace:

- ``supplier_replenishment <supplier>/<sku>`` (or ``feeds/<supplier> <sku>``): the suggested
  quantity, from the forecast and recent demand, the stock and the open work orders;
- ``order_lines <order_id>/<line_no>``: an order line, the lots that served it (lot_recipients)
  and each lot's production line, work order, output and receipts;
- ``lots <lot_id>`` (or ``lot_recipients <lot_id>``): a lot's production, and who received it.

Everything is read with DuckDB over the lake's Parquet (a folder or S3, through the lake
store), filtered by key as it is scanned: no history is loaded whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from orchestration.lib.lake import LakeStore
from orchestration.lib.readers import FILE, ROW, cut, data_rows
from orchestration.lib.sources import Source, load_sources

SHOWN_ROWS = 3  # bronze rows shown per step, with their landing file and row
RECENT_DAYS, OPEN_ORDER_DAYS = 28, 120  # supplier_replenishment's windows
SHIPPING_STATUSES = ("paid", "refunded")
USAGE = (
    "supplier_replenishment <supplier>/<sku>",
    "feeds/<supplier> <sku>",
    "order_lines <order_id>/<line_no>",
    "lots <lot_id>",
    "lot_recipients <lot_id>",
)


class TraceError(ValueError):
    """A trace that cannot start: the message says what to type instead."""


@dataclass
class Origin:
    """One bronze row and where it was delivered."""

    entity: str
    values: dict
    landing: str  # landing/<source>/.../<file>
    row: int
    delivered: str | None  # the row as delivered (cut), when the file can still be read


@dataclass
class Trace:
    """The printed chain, one indented line at a time, and the bronze rows it reached."""

    lines: list[str] = field(default_factory=list)
    origins: list[Origin] = field(default_factory=list)

    def say(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def __str__(self) -> str:
        return "\n".join(self.lines)


class LakeReader:
    """DuckDB over the lake's Parquet folders, each registered as a scan that filters as it reads."""

    def __init__(self, store: LakeStore):
        self.store = store
        self.con = duckdb.connect(config={"threads": 1})
        self._views: dict[str, str] = {}
        self._landing: dict[str, dict[str, str]] = {}
        self._delivered: dict[str, dict[int, str]] = {}
        self.sources: dict[str, Source] = load_sources()
        # times shown in the platform's local time, as the files deliver them
        zone = next((s.timezone for s in self.sources.values()), "UTC")
        self.con.execute("SET TimeZone = $zone", {"zone": zone})

    def close(self) -> None:
        self.con.close()

    def view(self, rel: str) -> str | None:
        """The folder ``rel`` (``marts/<mart>``, ``bronze/<entity>``) as a view, None when it has no Parquet."""
        if rel not in self._views:
            files = [f.path for f in self.store.list_files(rel, "*.parquet", recursive=True) if f.size > 0]
            if not files:
                return None
            dataset = ds.dataset(
                [self.store.fs_path(p) for p in files],
                filesystem=self.store.fs,
                format="parquet",
                partitioning=_partitioning(files),
                partition_base_dir=self.store.fs_path(rel),
            )
            name = "v_" + rel.replace("/", "_")
            self.con.register(name, dataset)
            self._views[rel] = name
        return self._views[rel]

    def rows(self, rel: str, sql: str, params: list | None = None) -> list[dict]:
        """``sql`` with ``{t}`` standing for the folder's view; [] when the folder has no Parquet."""
        view = self.view(rel)
        if view is None:
            return []
        cursor = self.con.execute(sql.format(t=view), params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r)) for r in cursor.fetchall()]

    def one(self, rel: str, sql: str, params: list | None = None) -> dict | None:
        found = self.rows(rel, sql, params)
        return found[0] if found else None

    def origin(self, entity: str, values: dict) -> Origin:
        """Where the bronze row ``values`` (with ``_source_file`` and ``_source_row``) was delivered."""
        name, row = values[FILE], int(values[ROW])
        direct = f"{self.sources[entity].landing_dir}/{name}"
        landing = direct if self.store.exists(direct) else self._landing_files(entity).get(name)
        delivered = self._delivered_rows(entity, landing).get(row) if landing else None
        shown = {k: v for k, v in values.items() if k not in (FILE, ROW, "day")}
        where = landing or f"{self.sources[entity].landing_dir}/{name} (no longer in the landing zone)"
        return Origin(entity, shown, where, row, delivered)

    def _landing_files(self, entity: str) -> dict[str, str]:
        """The source's landing files by name, subfolders included (listed once, when a file is
        not where its name alone puts it)."""
        if entity not in self._landing:
            folder = self.sources[entity].landing_dir
            self._landing[entity] = {f.name: f.path for f in self.store.list_files(folder, recursive=True)}
        return self._landing[entity]

    def _delivered_rows(self, entity: str, path: str) -> dict[int, str]:
        if path not in self._delivered:
            with self.store.open_input(path) as f:
                rows = data_rows(f.read_buffer(), self.sources[entity]) or []
            self._delivered[path] = dict(rows)
        return self._delivered[path]


def _partitioning(files: list[str]) -> ds.Partitioning | None:
    """Bronze facts by ``day=YYYY-MM-DD`` (a date), daily marts of a lake published before marts
    were a file a day by ``month=YYYY-MM``; else none (a daily mart's file holds its day column)."""
    for column, kind in (("day", pa.date32()), ("month", pa.string())):
        if any(f"/{column}=" in f for f in files):
            return ds.partitioning(pa.schema([(column, kind)]), flavor="hive")
    return None


# -- the traces --------------------------------------------------------------------------
def trace(store: LakeStore, target: str, key: str, shown: int = SHOWN_ROWS) -> Trace:
    """The chain behind ``key`` of ``target`` (a mart, or ``feeds/<supplier>``)."""
    reader = LakeReader(store)
    try:
        out = Trace()
        target = target.strip().strip("/")
        if target.startswith("feeds/"):
            _feed(reader, out, target.split("/", 1)[1], key, shown)
        elif target == "supplier_replenishment":
            supplier, sku = _pair(target, key, "<supplier>/<sku>")
            _replenishment(reader, out, supplier, sku, shown, depth=0)
        elif target in ("order_lines", "order_line"):
            order_id, line_no = _pair(target, key, "<order_id>/<line_no>")
            _order_line(reader, out, order_id, _line_no(line_no), shown)
        elif target in ("lots", "lot", "lot_recipients"):
            _lot(reader, out, key, shown, depth=0, recipients=True)
        else:
            raise TraceError(_unknown_target(store, target))
        return out
    finally:
        reader.close()


def _feed(reader: LakeReader, out: Trace, supplier: str, sku: str, shown: int) -> None:
    from orchestration.lib.feeds import latest_manifest, read_feed

    try:
        manifest = latest_manifest(reader.store, supplier)
    except ValueError as err:  # a hostile or malformed id
        raise TraceError(f"feeds/{supplier}: {err}") from err
    if manifest is None:
        raise TraceError(
            f"feeds/{supplier} has no published feed; trace the mart it would come from instead: "
            f"`supplyloop trace supplier_replenishment {supplier}/{sku}`"
        )
    rows = read_feed(reader.store, supplier).filter(ds.field("sku") == sku).to_pylist()
    if not rows:
        raise TraceError(f"feeds/{supplier} (version {manifest['version']}) has no row for SKU {sku!r}")
    row = rows[0]
    out.say(
        0, f"feeds/{supplier} {sku}: suggested_qty {row['suggested_qty']} (published version {manifest['version']})"
    )
    _replenishment(reader, out, supplier, sku, shown, depth=1)


def _replenishment(reader: LakeReader, out: Trace, supplier: str, sku: str, shown: int, depth: int) -> None:
    mart = "marts/supplier_replenishment"
    row = reader.one(mart, "SELECT * FROM {t} WHERE supplier_id = ? AND sku = ?", [supplier, sku])
    if row is None:
        raise TraceError(_unknown_pair(reader, mart, supplier, sku))
    as_of = row["as_of_day"]
    out.say(
        depth,
        f"supplier_replenishment {supplier}/{sku}: suggested_qty {row['suggested_qty']} "
        f"(priority {row['priority']}, as of {as_of}, min_order_qty {row['min_order_qty']}, "
        f"lead_time_days {row['lead_time_days']})",
    )
    out.say(
        depth + 1,
        f"= forecast over lead time + 7 days + safety_stock {row['safety_stock']} + prebuild_qty "
        f"{row['prebuild_qty']} - (available {row['available']} + in_transit {row['in_transit']} "
        f"+ open_production {row['open_production']}), rounded up to min_order_qty",
    )
    d = depth + 1
    forecast = reader.one(
        "marts/demand_forecast",
        "SELECT count(DISTINCT forecast_day) AS days, count(DISTINCT region) AS regions, "
        "min(forecast_day) AS first_day, max(forecast_day) AS last_day FROM {t} WHERE sku = ?",
        [sku],
    )
    if forecast and forecast["days"]:
        out.say(
            d,
            f"forecast_demand {row['forecast_demand']:.1f} <- demand_forecast: {forecast['days']} days "
            f"({forecast['first_day']} .. {forecast['last_day']}) x {forecast['regions']} regions",
        )
    else:
        out.say(d, f"forecast_demand {row['forecast_demand']} <- demand_forecast: no rows for {sku}")
    first = as_of - timedelta(days=RECENT_DAYS - 1)
    out.say(
        d + 1,
        f"recent_demand_28d {row['recent_demand_28d']} <- order lines {first} .. {as_of} (paid and refunded):",
    )
    _bronze(
        reader,
        out,
        d + 2,
        "order_lines",
        "sku = ? AND day BETWEEN ? AND ? AND status IN ('paid', 'refunded')",
        [sku, first, as_of],
        "qty",
        "ordered_at",
        shown,
    )
    out.say(
        d,
        f"stock: on_hand {row['on_hand']}, available {row['available']}, in_transit {row['in_transit']} "
        "<- the last stock snapshot of every warehouse:",
    )
    last = reader.one("bronze/stock_snapshots", "SELECT max(day) AS day FROM {t} WHERE sku = ?", [sku])
    if last and last["day"] is not None:
        _bronze(
            reader,
            out,
            d + 1,
            "stock_snapshots",
            "sku = ? AND day = ?",
            [sku, last["day"]],
            "on_hand",
            "warehouse_id",
            shown,
        )
    else:
        out.say(d + 1, "bronze/stock_snapshots: no rows (not delivered)")
    out.say(
        d,
        f"open_production {row['open_production']} <- work orders released in the {OPEN_ORDER_DAYS} days to {as_of}, not cancelled:",
    )
    _bronze(
        reader,
        out,
        d + 1,
        "work_orders",
        "sku = ? AND status <> 'cancelled' AND day > ? AND day <= ?",
        [sku, as_of - timedelta(days=OPEN_ORDER_DAYS), as_of],
        "qty_planned",
        "released_at",
        shown,
    )
    released = reader.one(
        "bronze/work_orders",
        "SELECT min(day) AS day FROM {t} WHERE sku = ? AND status <> 'cancelled' AND day > ? AND day <= ?",
        [sku, as_of - timedelta(days=OPEN_ORDER_DAYS), as_of],
    )
    if released and released["day"] is not None:
        out.say(d + 1, f"less the good units made since {released['day']}:")
        _bronze(
            reader,
            out,
            d + 2,
            "production_output",
            "sku = ? AND day >= ?",
            [sku, released["day"]],
            "qty_good",
            "produced_at",
            shown,
        )


def _order_line(reader: LakeReader, out: Trace, order_id: str, line_no: int, shown: int) -> None:
    found = reader.rows(
        "bronze/order_lines",
        "SELECT * FROM {t} WHERE order_id = ? AND line_no = ? LIMIT 1",
        [order_id, line_no],
    )
    if not found:
        example = reader.one("bronze/order_lines", "SELECT order_id, line_no FROM {t} LIMIT 1")
        hint = f" e.g. `supplyloop trace order_lines {example['order_id']}/{example['line_no']}`" if example else ""
        raise TraceError(f"no order line {order_id}/{line_no} in bronze/order_lines;{hint}")
    line = found[0]
    out.say(
        0,
        f"order line {order_id}/{line_no}: {line['qty']} x {line['sku']}, partner {line['partner_id']}, "
        f"status {line['status']}, warehouse {line.get('warehouse_id') or '(none named)'}",
    )
    _show(reader, out, 1, "order_lines", line)
    product = reader.one("bronze/products", "SELECT supplier_id, name FROM {t} WHERE sku = ?", [line["sku"]])
    if product:
        out.say(1, f"SKU {line['sku']} ({product['name']}) of supplier {product['supplier_id']}")
    served = reader.rows(
        "marts/lot_recipients",
        "SELECT lot_id, allocation, sum(units) AS units FROM {t} WHERE order_id = ? AND line_no = ? "
        "GROUP BY lot_id, allocation ORDER BY lot_id",
        [order_id, line_no],
    )
    if not served:
        out.say(1, "lots: none (cancelled, or lot_recipients not built yet)")
    for lot in served:
        if lot["lot_id"] == "unallocated":
            out.say(1, f"{lot['units']} units: no lot ({lot['allocation']})")
            continue
        out.say(1, f"{lot['units']} units from lot {lot['lot_id']} (first in, first out):")
        _lot(reader, out, lot["lot_id"], shown, depth=2, recipients=False)


def _lot(reader: LakeReader, out: Trace, lot_id: str, shown: int, depth: int, recipients: bool) -> None:
    lot = reader.one("marts/lots", "SELECT * FROM {t} WHERE lot_id = ?", [lot_id])
    if lot is None:
        example = reader.one("marts/lots", "SELECT lot_id FROM {t} ORDER BY lot_id LIMIT 1")
        hint = (
            f"; e.g. `supplyloop trace lots {example['lot_id']}`"
            if example
            else " (no lots are built: the MES exports carry none)"
        )
        raise TraceError(f"no lot {lot_id!r} in marts/lots{hint}")
    out.say(
        depth,
        f"lot {lot_id}: {lot['qty_good']} good x {lot['sku']} made by line {lot['line_id']} of factory "
        f"{lot['factory_id']} (supplier {lot['supplier_id']}) from {lot['first_produced_at']} to "
        f"{lot['last_produced_at']}, work order {lot['work_order_id'] or '(none found)'}",
    )
    _bronze(reader, out, depth + 1, "production_output", "lot_id = ?", [lot_id], "qty_good", "produced_at", shown)
    if lot["work_order_id"]:
        order = reader.one("bronze/work_orders", "SELECT * FROM {t} WHERE work_order_id = ?", [lot["work_order_id"]])
        if order:
            out.say(depth + 1, f"work order {lot['work_order_id']}: {order['qty_planned']} planned, {order['status']}")
            _show(reader, out, depth + 2, "work_orders", order)
    out.say(depth + 1, "received into the warehouses:")
    _bronze(reader, out, depth + 2, "stock_movements", "lot_id = ? AND qty > 0", [lot_id], "qty", "moved_at", shown)
    if not recipients:
        return
    total = reader.one(
        "marts/lot_recipients",
        "SELECT count(DISTINCT partner_id) AS partners, count(DISTINCT order_id) AS orders, sum(units) AS units "
        "FROM {t} WHERE lot_id = ?",
        [lot_id],
    )
    if not total or not total["orders"]:
        out.say(depth + 1, "received by: no order line yet")
        return
    out.say(
        depth + 1,
        f"received by {total['partners']} partners in {total['orders']} orders, {total['units']} units "
        f"(`SELECT * FROM lot_recipients WHERE lot_id = '{lot_id}'`):",
    )
    for r in reader.rows(
        "marts/lot_recipients",
        "SELECT partner_id, partner_type, count(DISTINCT order_id) AS orders, sum(units) AS units FROM {t} "
        "WHERE lot_id = ? GROUP BY partner_id, partner_type ORDER BY units DESC, partner_id LIMIT ?",
        [lot_id, shown],
    ):
        out.say(depth + 2, f"{r['partner_id']} ({r['partner_type']}): {r['units']} units in {r['orders']} orders")
    if total["partners"] > shown:
        out.say(depth + 2, f"... and {total['partners'] - shown} more partners")


# -- bronze rows and their files -------------------------------------------------------------
def _bronze(
    reader: LakeReader,
    out: Trace,
    depth: int,
    entity: str,
    where: str,
    params: list,
    qty: str,
    order_by: str,
    shown: int,
) -> None:
    """The bronze rows of ``entity`` that match: how many, their ``qty`` total, and the first few
    with the landing file and row each came from."""
    rel = f"bronze/{entity}"
    total = reader.one(rel, f"SELECT count(*) AS n, sum({qty}) AS qty FROM {{t}} WHERE {where}", params)
    if total is None:
        out.say(depth, f"{rel}: not delivered")
        return
    out.say(depth, f"{rel}: {total['n']} rows, {qty} {total['qty'] or 0}")
    rows = reader.rows(
        rel, f"SELECT * FROM {{t}} WHERE {where} ORDER BY {order_by}, {FILE}, {ROW} LIMIT ?", [*params, shown]
    )
    for values in rows:
        _show(reader, out, depth + 1, entity, values)
    if total["n"] > len(rows):
        out.say(depth + 1, f"... and {total['n'] - len(rows)} more rows")


def _show(reader: LakeReader, out: Trace, depth: int, entity: str, values: dict) -> None:
    origin = reader.origin(entity, values)
    out.origins.append(origin)
    out.say(depth, f"<- {origin.landing} row {origin.row}")
    if origin.delivered is not None:
        out.say(depth + 1, cut(origin.delivered))


# -- keys and what to type instead -----------------------------------------------------------
def _pair(target: str, key: str, shape: str) -> tuple[str, str]:
    left, sep, right = key.partition("/")
    if not (sep and left and right):
        raise TraceError(f"{target} takes a key {shape}, not {key!r}; e.g. `supplyloop trace {target} {shape}`")
    return left, right


def _line_no(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise TraceError(f"the line number {text!r} is not a whole number (key: <order_id>/<line_no>)") from None


def _unknown_pair(reader: LakeReader, mart: str, supplier: str, sku: str) -> str:
    if reader.view(mart) is None:
        return f"{mart} is not built yet: run `supplyloop run` (or `make run`) first"
    skus = reader.rows(mart, "SELECT sku FROM {t} WHERE supplier_id = ? ORDER BY sku LIMIT 5", [supplier])
    if skus:
        return (
            f"supplier {supplier} has no SKU {sku!r} in supplier_replenishment; its SKUs include "
            + ", ".join(r["sku"] for r in skus)
            + f", e.g. `supplyloop trace supplier_replenishment {supplier}/{skus[0]['sku']}`"
        )
    example = reader.one(mart, "SELECT supplier_id, sku FROM {t} ORDER BY supplier_id, sku LIMIT 1")
    hint = (
        f"; e.g. `supplyloop trace supplier_replenishment {example['supplier_id']}/{example['sku']}`" if example else ""
    )
    return f"no supplier {supplier!r} in supplier_replenishment{hint}"


def _unknown_target(store: LakeStore, target: str) -> str:
    usage = "; ".join(f"`supplyloop trace {u}`" for u in USAGE)
    if store.list_files(f"marts/{target}", "*.parquet", recursive=True):
        return f"the trace does not follow the mart {target!r} yet; it follows: {usage}"
    return f"unknown mart or feed {target!r}; trace one of: {usage}"


def usage_lines() -> Iterator[str]:
    """What ``supplyloop trace`` takes, one form per line."""
    for u in USAGE:
        yield f"  supplyloop trace {u}"

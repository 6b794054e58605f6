"""The gate of the suppliers' replenishment feeds (the mart ``supplier_replenishment``, each
supplier's rows), run once over every supplier's staged rows.

Two batches are validated, each once for all suppliers: ``rows`` (every supplier's rows, each
with the supplier whose folder holds it and the limits that supplier's last feed sets, as
columns) and ``suppliers`` (a row per supplier with its row count and the band it must be in).
A row-level failure names the suppliers it belongs to, which are held; the others publish.
A failure no row can be blamed for (the schema) holds every supplier.

What must hold before a supplier receives its feed:

- schema: exactly the feed's columns, in order, with their types;
- keys: supplier, SKU and as-of day (the horizon the suggestion is for) never null, unique together;
- scoping: every row belongs to the feed's supplier;
- accepted values: priority in none / normal / high / urgent, minimum order at least 1;
- quantities: none negative, and none beyond a plausible multiple of recent history
  (``PLAUSIBLE_MULTIPLE`` x the supplier's largest 28-day demand, now or in the last feed);
- consistency: the order-by day is not before the as-of day;
- row count: at least one row, and in line with the previous feed (half to double, plus slack);
- freshness: the data reaches the expected day, and is not older than the last feed.

Those are errors (GX severity ``critical``): one failing blocks the feed. Warnings report
without blocking: a missing product name, negative available stock (over-reservation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from expectations.gate import error, warning

if TYPE_CHECKING:
    import great_expectations as gx

NAME = "supplier_replenishment"
SCHEMA = pa.schema(
    [
        ("supplier_id", pa.string()),
        ("sku", pa.string()),
        ("product_name", pa.string()),
        ("as_of_day", pa.date32()),
        ("recent_demand_28d", pa.int64()),
        ("forecast_demand", pa.float64()),
        ("on_hand", pa.int64()),
        ("available", pa.int64()),
        ("in_transit", pa.int64()),
        ("open_production", pa.int64()),
        ("safety_stock", pa.int64()),
        ("prebuild_qty", pa.int64()),
        ("lead_time_days", pa.int32()),
        ("min_order_qty", pa.int64()),
        ("days_of_cover", pa.float64()),
        ("suggested_qty", pa.int64()),
        ("order_by_day", pa.date32()),
        ("priority", pa.string()),
    ]
)
KEY = ("supplier_id", "sku", "as_of_day")
PRIORITIES = ("none", "normal", "high", "urgent")
NOT_NEGATIVE = (
    "recent_demand_28d",
    "forecast_demand",
    "on_hand",
    "in_transit",
    "open_production",
    "safety_stock",
    "prebuild_qty",
    "lead_time_days",
    "days_of_cover",
    "suggested_qty",
)
PLAUSIBLE = ("forecast_demand", "safety_stock", "suggested_qty")
PLAUSIBLE_MULTIPLE = 10
ROW_COUNT_BAND = (0.5, 2.0)
ROW_COUNT_SLACK = 10
# the batches of the gate, validated once for every supplier (``build_suites``)
ROWS, SUPPLIERS = "rows", "suppliers"
# the supplier whose staged folder a row is in: the gate holds suppliers by this column, so a
# stray row holds the feed it would have leaked into
FILE_SUPPLIER = "file_supplier_id"
QUANTITY_CEILING, RECENT_CEILING, OLDEST_DAY = "quantity_ceiling", "recent_demand_ceiling", "previous_as_of_day"
GATE_COLUMNS = (FILE_SUPPLIER, QUANTITY_CEILING, RECENT_CEILING, OLDEST_DAY)
SUPPLIER_COLUMNS = (FILE_SUPPLIER, "rows", "min_rows", "max_rows")


@dataclass(frozen=True)
class FeedContext:
    """What one supplier's feed is checked against, besides its own rows."""

    supplier_id: str
    as_of_day: date
    previous_rows: int | None = None
    previous_as_of_day: date | None = None
    quantity_ceiling: float | None = None
    recent_demand_ceiling: float | None = None


def context_for(
    supplier_id: str,
    as_of_day: date,
    rows: pa.Table,
    previous: dict | None = None,
    multiple: float = PLAUSIBLE_MULTIPLE,
) -> FeedContext:
    """The context of a feed from its rows and the manifest of the supplier's last published feed.

    Recent history is the supplier's largest 28-day demand of a SKU, in these rows or in the
    last feed; quantities beyond ``multiple`` times it (plus one minimum order) are implausible.
    A last feed also bounds today's 28-day demand and the row count, and sets the oldest day.
    """
    recent_now = _max(rows, "recent_demand_28d")
    recent_before = ((previous or {}).get("quantities") or {}).get("recent_demand_28d", {}).get("max")
    min_order = _max(rows, "min_order_qty")
    history = max(recent_now, recent_before or 0, 1)
    previous_day = (previous or {}).get("as_of_day")
    return FeedContext(
        supplier_id=supplier_id,
        as_of_day=as_of_day,
        previous_rows=(previous or {}).get("rows"),
        previous_as_of_day=date.fromisoformat(previous_day) if previous_day else None,
        quantity_ceiling=multiple * history + min_order,
        recent_demand_ceiling=multiple * recent_before + min_order if recent_before else None,
    )


def _max(rows: pa.Table, column: str) -> float:
    if column not in rows.column_names or rows.num_rows == 0:
        return 0
    value = pc.max(rows.column(column)).as_py()
    return value if value is not None else 0


def row_count_bounds(previous_rows: int | None) -> tuple[int, int | None]:
    if not previous_rows:
        return 1, None
    low, high = ROW_COUNT_BAND
    return max(1, math.floor(previous_rows * low)), math.ceil(previous_rows * high) + ROW_COUNT_SLACK


def pandas_types(schema: pa.Schema = SCHEMA) -> dict[str, str]:
    """The type name GX sees in the pandas batch for each column of ``schema``."""
    empty = schema.empty_table().to_pandas()
    return {f.name: "date" if pa.types.is_date(f.type) else str(empty[f.name].dtype) for f in schema}


def gate_rows(rows: pa.Table, ctx: FeedContext, file_supplier: str) -> pa.Table:
    """The supplier's rows as the gate sees them: its feed's columns, then the supplier whose
    folder held them and the limits its last feed sets, as columns (:data:`GATE_COLUMNS`), so
    that one validation over every supplier's rows checks each against its own limits."""
    n = rows.num_rows
    return (
        rows.append_column(FILE_SUPPLIER, pa.array([file_supplier] * n, pa.string()))
        .append_column(QUANTITY_CEILING, pa.array([ctx.quantity_ceiling] * n, pa.float64()))
        .append_column(RECENT_CEILING, pa.array([ctx.recent_demand_ceiling] * n, pa.float64()))
        .append_column(OLDEST_DAY, pa.array([ctx.previous_as_of_day] * n, pa.date32()))
    )


def supplier_row(ctx: FeedContext, file_supplier: str, rows: int) -> dict:
    """The supplier's row of the per-supplier batch: its row count and the band it must be in."""
    low, high = row_count_bounds(ctx.previous_rows)
    return {FILE_SUPPLIER: file_supplier, "rows": rows, "min_rows": low, "max_rows": high}


SUPPLIERS_SCHEMA = pa.schema(
    [(FILE_SUPPLIER, pa.string()), ("rows", pa.int64()), ("min_rows", pa.int64()), ("max_rows", pa.int64())]
)


def batches(feeds: list[tuple[str, pa.Table, dict | None]], as_of_day: date) -> dict[str, tuple]:
    """The gate over every supplier's feed, ready to validate: ``{batch: (suite, pandas frame)}``
    from ``(supplier, its rows as staged, the manifest of its last published feed)``."""
    gated, counts = [], []
    for supplier, rows, previous in feeds:
        ctx = context_for(supplier, as_of_day, rows, previous)
        gated.append(gate_rows(rows, ctx, supplier))
        counts.append(supplier_row(ctx, supplier, rows.num_rows))
    if not gated:
        gated.append(gate_rows(SCHEMA.empty_table(), FeedContext("", as_of_day), ""))
    frames = {
        ROWS: pa.concat_tables(gated, promote_options="permissive").to_pandas(),
        SUPPLIERS: pa.Table.from_pylist(counts, schema=SUPPLIERS_SCHEMA).to_pandas(),
    }
    suites = build_suites(as_of_day)
    return {name: (suites[name], frames[name]) for name in suites}


def build_suites(as_of_day: date) -> dict[str, gx.ExpectationSuite]:
    """The gate of every supplier's feed for ``as_of_day``: one suite over all suppliers' rows
    (:func:`gate_rows`), one over a row per supplier (:func:`supplier_row`). A failing row
    holds the supplier whose folder it is in; a schema failure holds every supplier."""
    import great_expectations as gx

    E = gx.expectations

    def at_most(ceiling: str, column: str) -> object:
        return E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A=ceiling,
            column_B=column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **error(
                "plausibility",
                f"{column} above {PLAUSIBLE_MULTIPLE}x the supplier's largest recent 28-day demand: "
                "check the mart's inputs for a unit or decimal error before the supplier plans on it",
            ),
        )

    rows = [
        E.ExpectTableColumnsToMatchOrderedList(column_list=[*SCHEMA.names, *GATE_COLUMNS], **error("schema")),
        *(E.ExpectColumnValuesToBeOfType(column=c, type_=t, **error("schema")) for c, t in pandas_types().items()),
        *(E.ExpectColumnValuesToNotBeNull(column=c, **error("keys")) for c in KEY),
        E.ExpectCompoundColumnsToBeUnique(column_list=[FILE_SUPPLIER, *KEY], **error("keys")),
        E.ExpectColumnPairValuesToBeEqual(
            column_A="supplier_id",
            column_B=FILE_SUPPLIER,
            **error("scoping", "a row of another supplier is in this supplier's feed: it must never leave"),
        ),
        E.ExpectColumnValuesToBeInSet(column="priority", value_set=list(PRIORITIES), **error("accepted values")),
        E.ExpectColumnValuesToBeBetween(column="min_order_qty", min_value=1, **error("accepted values")),
        *(E.ExpectColumnValuesToBeBetween(column=c, min_value=0, **error("quantities")) for c in NOT_NEGATIVE),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="order_by_day",
            column_B="as_of_day",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **error("consistency"),
        ),
        E.ExpectColumnValuesToBeBetween(
            column="as_of_day", min_value=as_of_day, max_value=as_of_day, **error("freshness")
        ),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="as_of_day",
            column_B=OLDEST_DAY,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **error("freshness", "the feed is older than the supplier's last published feed"),
        ),
        *(at_most(QUANTITY_CEILING, c) for c in PLAUSIBLE),
        at_most(RECENT_CEILING, "recent_demand_28d"),
        E.ExpectColumnValuesToNotBeNull(column="product_name", **warning("completeness")),
        E.ExpectColumnValuesToBeBetween(column="available", min_value=0, **warning("stock")),
    ]
    suppliers = [
        E.ExpectTableColumnsToMatchOrderedList(column_list=list(SUPPLIER_COLUMNS), **error("schema")),
        E.ExpectColumnValuesToBeUnique(column=FILE_SUPPLIER, **error("keys")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="rows",
            column_B="min_rows",
            or_equal=True,
            **error("row count", "the feed has fewer rows than half its last feed's, or none at all"),
        ),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="max_rows",
            column_B="rows",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
            **error("row count", "the feed has more rows than twice its last feed's (plus slack)"),
        ),
    ]
    return {
        ROWS: gx.ExpectationSuite(name=f"{NAME}.{ROWS}", expectations=rows),
        SUPPLIERS: gx.ExpectationSuite(name=f"{NAME}.{SUPPLIERS}", expectations=suppliers),
    }

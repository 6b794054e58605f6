"""The gate of each supplier's replenishment feed (the mart ``supplier_replenishment``, one supplier's rows).

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


def build_suite(ctx: FeedContext) -> gx.ExpectationSuite:
    """The suite for one supplier's feed on one day."""
    import great_expectations as gx

    E = gx.expectations

    low, high = row_count_bounds(ctx.previous_rows)
    expectations = [
        E.ExpectTableColumnsToMatchOrderedList(column_list=SCHEMA.names, **error("schema")),
        *(E.ExpectColumnValuesToBeOfType(column=c, type_=t, **error("schema")) for c, t in pandas_types().items()),
        *(E.ExpectColumnValuesToNotBeNull(column=c, **error("keys")) for c in KEY),
        E.ExpectCompoundColumnsToBeUnique(column_list=list(KEY), **error("keys")),
        E.ExpectColumnValuesToBeInSet(column="supplier_id", value_set=[ctx.supplier_id], **error("scoping")),
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
        E.ExpectTableRowCountToBeBetween(min_value=low, max_value=high, **error("row count")),
        E.ExpectColumnValuesToBeBetween(
            column="as_of_day", min_value=ctx.as_of_day, max_value=ctx.as_of_day, **error("freshness")
        ),
        E.ExpectColumnValuesToNotBeNull(column="product_name", **warning("completeness")),
        E.ExpectColumnValuesToBeBetween(column="available", min_value=0, **warning("stock")),
    ]
    if ctx.quantity_ceiling is not None:
        expectations += [
            E.ExpectColumnValuesToBeBetween(column=c, max_value=ctx.quantity_ceiling, **error("plausibility"))
            for c in PLAUSIBLE
        ]
    if ctx.recent_demand_ceiling is not None:
        expectations.append(
            E.ExpectColumnValuesToBeBetween(
                column="recent_demand_28d", max_value=ctx.recent_demand_ceiling, **error("plausibility")
            )
        )
    if ctx.previous_as_of_day is not None:
        expectations.append(
            E.ExpectColumnMinToBeBetween(column="as_of_day", min_value=ctx.previous_as_of_day, **error("freshness"))
        )
    return gx.ExpectationSuite(name=NAME, expectations=expectations)

"""The input gate on bronze order lines: the demand window every supplier feed is computed from.

The feeds read the last 28 business days of sales; this gate checks that window in bronze
(``bronze/order_lines/day=*/``, with its ``day`` partition as a column):

- errors (block the feeds): every day of the window is there (completeness); the columns
  the demand is built from are never null; ``order_id`` + ``line_no`` unique across days
  (the ingestion deduplicates within a day only); quantity at least 1; status accepted;
- warnings (report only): a line's quantity beyond ``MAX_LINE_QTY``; the last day holding
  fewer than ``LAST_DAY_SHARE`` of a typical day's orders (a partial delivery); newer days
  that have no accepted rows at all, which the window was ended before (``held_back``).

The window ends at the newest day in bronze when the gate is strict, and at the last day
with accepted rows otherwise (``SUPPLYLOOP_INPUT_GATE``, see ``orchestration.lib.settings``):
one broken delivery then holds the feeds at the day before instead of stopping them. The
caller says what is missing and what to do (``missing_advice``, ``held_back_advice``); a
failure shows that text rather than GX's observed value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from expectations.gate import error, warning

if TYPE_CHECKING:
    import great_expectations as gx

NAME = "order_lines"
WINDOW_DAYS = 28
REQUIRED = ("order_id", "line_no", "ordered_at", "partner_id", "sku", "qty", "status")
STATUSES = ("paid", "cancelled", "refunded")
MAX_LINE_QTY = 1_000
LAST_DAY_SHARE = 0.5


@dataclass(frozen=True)
class OrderLinesWindow:
    """The business days a gate run covers, and what a typical day held before the last."""

    first_day: date
    last_day: date
    typical_daily_orders: float | None = None
    held_back: tuple[str, ...] = ()  # newer days without accepted rows, left out of the window
    missing_advice: str | None = None  # the window's days without rows, and the fix
    held_back_advice: str | None = None  # the held-back days, why, and the fix

    @property
    def days(self) -> list[str]:
        count = (self.last_day - self.first_day).days + 1
        return [(self.first_day + timedelta(days=i)).isoformat() for i in range(count)]


def build_suite(window: OrderLinesWindow) -> gx.ExpectationSuite:
    import great_expectations as gx
    from great_expectations.expectations.row_conditions import Column

    E = gx.expectations

    expectations = [
        E.ExpectColumnDistinctValuesToContainSet(
            column="day", value_set=window.days, **error("completeness", window.missing_advice)
        ),
        *(E.ExpectColumnValuesToNotBeNull(column=c, **error("completeness")) for c in REQUIRED),
        E.ExpectCompoundColumnsToBeUnique(column_list=["order_id", "line_no"], **error("keys")),
        E.ExpectColumnValuesToBeBetween(column="qty", min_value=1, **error("quantities")),
        E.ExpectColumnValuesToBeInSet(column="status", value_set=list(STATUSES), **error("accepted values")),
        E.ExpectColumnValuesToBeBetween(column="qty", max_value=MAX_LINE_QTY, **warning("plausibility")),
    ]
    if window.held_back:
        expectations.append(
            E.ExpectColumnDistinctValuesToContainSet(
                column="day", value_set=list(window.held_back), **warning("incomplete day", window.held_back_advice)
            )
        )
    if window.typical_daily_orders:
        expectations.append(
            E.ExpectColumnUniqueValueCountToBeBetween(
                column="order_id",
                min_value=math.floor(LAST_DAY_SHARE * window.typical_daily_orders),
                row_condition=Column("day") == window.last_day.isoformat(),
                **warning("last day volume"),
            )
        )
    return gx.ExpectationSuite(name=NAME, expectations=expectations)

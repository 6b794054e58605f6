"""The gate of the channel partners' weekly feeds, run once over every partner's staged rows.

A partner's feed has three sections, each its own file (the marts ``partner_benchmarks``,
``partner_assortment_gaps`` and ``partner_allocations``, its rows only), and one more batch,
``partners``: a row per staged partner with the per-partner table checks computed as columns
(rows per section, partners found in its files), so that a row count or a stray row fails
the partner it belongs to, not the run. Each batch is validated once for all partners; its
row-level failures name the partners (``partner_id``), which are held; the others publish.

What must hold for a partner:

- schema: each section has exactly its columns (plus the file's partner, added by the gate);
- scoping: every row of a partner's files is that partner's (``partner_id`` = the folder's);
- row counts: exactly one benchmark row; at most ``MAX_GAPS`` gap rows;
- keys: SKUs never null, one row per SKU in the gaps and the allocations;
- plausibility: rates between 0 and 1, counts not negative, sold not above ordered, an
  allocation between 0 and what the SKU has to share, a share between 0 and 1;
- freshness: the benchmark week and the gaps' 28 days end on the expected Sunday.

Those are errors (GX severity ``critical``). Warnings only report: peer quartiles out of order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from expectations.gate import error, warning

if TYPE_CHECKING:
    import great_expectations as gx

NAME = "partner_feed"
KEY = "partner_id"
# the partner whose feed (staged folder) the row is in: the gate names the partners it holds by
# this column, so a stray row holds the feed it would have leaked into
FILE_PARTNER = "file_partner_id"
BENCHMARKS, GAPS, ALLOCATIONS, PARTNERS = "benchmarks", "assortment_gaps", "allocations", "partners"
MARTS = {BENCHMARKS: "partner_benchmarks", GAPS: "partner_assortment_gaps", ALLOCATIONS: "partner_allocations"}
SECTIONS = tuple(MARTS)
MAX_GAPS = 100
RATES = {
    "sell_through": ("sell_through_peer_p25", "sell_through_peer_median", "sell_through_peer_p75"),
    "refund_rate": ("refund_rate_peer_p25", "refund_rate_peer_median", "refund_rate_peer_p75"),
}
COUNTS = (
    "units_ordered",
    "units_sold",
    "units_refunded",
    "orders",
    "live_sessions",
    "live_peak_viewers",
    "live_orders",
)


def partner_columns(sections) -> list[str]:
    """The per-partner batch's columns: its rows in each section, the partners found in its files."""
    return [FILE_PARTNER, *(f"{s}_rows" for s in sections), "partners_in_files"]


@dataclass(frozen=True)
class PartnerFeedContext:
    """What every partner's feed is checked against: the week it must describe."""

    week_end_day: date
    columns: dict[str, list[str]]  # section -> the mart's columns, in order (the sections this platform builds)


def build_suites(ctx: PartnerFeedContext) -> dict[str, gx.ExpectationSuite]:
    """One suite per batch: the three sections and the per-partner table checks."""
    import great_expectations as gx

    E = gx.expectations

    def schema(section: str) -> list:
        return [
            E.ExpectTableColumnsToMatchSet(
                column_set=[*ctx.columns.get(section, []), FILE_PARTNER], exact_match=True, **error("schema")
            )
        ]

    def scoped(section: str) -> list:
        return [
            E.ExpectColumnValuesToNotBeNull(column=KEY, **error("keys")),
            E.ExpectColumnPairValuesToBeEqual(column_A=KEY, column_B=FILE_PARTNER, **error("scoping")),
        ]

    def fresh(column: str) -> list:
        day = ctx.week_end_day
        return [E.ExpectColumnValuesToBeBetween(column=column, min_value=day, max_value=day, **error("freshness"))]

    benchmarks = [
        *schema(BENCHMARKS),
        *scoped(BENCHMARKS),
        *fresh("week_end_day"),
        *(E.ExpectColumnValuesToBeBetween(column=c, min_value=0, **error("plausibility")) for c in COUNTS),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="units_ordered", column_B="units_sold", or_equal=True, **error("plausibility")
        ),
        *(
            E.ExpectColumnValuesToBeBetween(column=c, min_value=0, max_value=1, **error("plausibility"))
            for rate, peers in RATES.items()
            for c in (rate, *peers)
        ),
        E.ExpectColumnValuesToBeBetween(column="live_conversion", min_value=0, **error("plausibility")),
        E.ExpectColumnValuesToBeBetween(column="peers", min_value=1, **error("plausibility")),
        *(
            E.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=high, column_B=low, or_equal=True, ignore_row_if="either_value_is_missing", **warning("peers")
            )
            for low, high in (
                ("sell_through_peer_p25", "sell_through_peer_median"),
                ("sell_through_peer_median", "sell_through_peer_p75"),
            )
        ),
    ]
    gaps = [
        *schema(GAPS),
        *scoped(GAPS),
        *fresh("week_end_day"),
        E.ExpectColumnValuesToNotBeNull(column="sku", **error("keys")),
        E.ExpectCompoundColumnsToBeUnique(column_list=[KEY, "sku"], **error("keys")),
        E.ExpectColumnValuesToBeBetween(column="regional_rank", min_value=1, **error("plausibility")),
        E.ExpectColumnValuesToBeBetween(column="regional_units_28d", min_value=1, **error("plausibility")),
        E.ExpectColumnValuesToNotBeNull(column="product_name", **warning("completeness")),
    ]
    allocations = [
        *schema(ALLOCATIONS),
        *scoped(ALLOCATIONS),
        E.ExpectColumnValuesToNotBeNull(column="sku", **error("keys")),
        E.ExpectCompoundColumnsToBeUnique(column_list=[KEY, "sku"], **error("keys")),
        E.ExpectColumnValuesToBeBetween(column="allocated_units", min_value=0, **error("plausibility")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="sku_allocatable_units", column_B="allocated_units", or_equal=True, **error("plausibility")
        ),
        E.ExpectColumnValuesToBeBetween(column="fair_share", min_value=0, max_value=1, **error("plausibility")),
    ]
    partners = [
        E.ExpectTableColumnsToMatchSet(column_set=partner_columns(ctx.columns), exact_match=True, **error("schema")),
        E.ExpectColumnValuesToBeUnique(column=FILE_PARTNER, **error("keys")),
        E.ExpectColumnValuesToBeBetween(
            column=f"{BENCHMARKS}_rows",
            min_value=1,
            max_value=1,
            **error("row count", "a partner's feed holds exactly one benchmark row (its own)"),
        ),
        *(
            [
                E.ExpectColumnValuesToBeBetween(
                    column=f"{GAPS}_rows", min_value=0, max_value=MAX_GAPS, **error("row count")
                )
            ]
            if GAPS in ctx.columns
            else []
        ),
        E.ExpectColumnValuesToBeBetween(
            column="partners_in_files",
            min_value=1,
            max_value=1,
            **error("scoping", "a partner's files hold one partner's rows: its own"),
        ),
    ]
    return {
        name: gx.ExpectationSuite(name=f"{NAME}.{name}", expectations=expectations)
        for name, expectations in (
            (BENCHMARKS, benchmarks),
            (GAPS, gaps),
            (ALLOCATIONS, allocations),
            (PARTNERS, partners),
        )
        if name in ctx.columns or name == PARTNERS
    }

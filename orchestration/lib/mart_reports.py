"""What the marts tell a person at a glance: previews, the forecast's trust, the balance picture.

Each function reads the built warehouse and returns plain values or Markdown, shown as
asset metadata in the Dagster UI.
"""

from __future__ import annotations

import duckdb

from orchestration.lib.report import markdown_table
from orchestration.lib.warehouse import MARTS_SCHEMA as MARTS
from orchestration.lib.warehouse import mart_names


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return name in mart_names(con)


def preview(con: duckdb.DuckDBPyConnection, name: str, rows: int = 5) -> str:
    return markdown_table(con.execute(f'SELECT * FROM {MARTS}."{name}" LIMIT {int(rows)}').to_arrow_table())


def backtest(con: duckdb.DuckDBPyConnection) -> dict:
    """The forecast's measured error on held-out weeks, against seasonal-naive."""
    if not _exists(con, "forecast_backtest"):
        return {}
    overall = con.execute(
        f"SELECT level, wape, naive_wape FROM {MARTS}.forecast_backtest WHERE level NOT IN ('sku', 'sku_class') ORDER BY level"
    ).fetchall()
    skus = con.execute(
        f"SELECT count(*) FILTER (WHERE beats_naive), count(*) FROM {MARTS}.forecast_backtest WHERE level = 'sku'"
    ).fetchone()
    metadata: dict = {f"wape_{level}": wape for level, wape, _ in overall}
    metadata.update({f"naive_wape_{level}": naive for level, _, naive in overall})
    metadata["skus_beating_naive"] = f"{skus[0]} of {skus[1]}"
    return metadata


def balance_picture(con: duckdb.DuckDBPyConnection, top: int = 10) -> str:
    """The top SKUs by forecast demand: per week, demand against stock and production."""
    if not _exists(con, "supply_demand_balance"):
        return ""
    table = con.execute(
        f"""
        WITH top_skus AS (
            SELECT sku FROM {MARTS}.supply_demand_balance GROUP BY sku ORDER BY sum(forecast_demand) DESC LIMIT {int(top)}
        )
        SELECT sku, week_number AS week, round(sum(forecast_demand)) AS demand,
               round(sum(available_stock)) AS stock, round(sum(planned_production)) AS production,
               round(sum(gap)) AS gap, max(stockout_risk) FILTER (WHERE stockout_risk = 'high') AS stockout
        FROM {MARTS}.supply_demand_balance JOIN top_skus USING (sku)
        GROUP BY sku, week_number ORDER BY sum(sum(forecast_demand)) OVER (PARTITION BY sku) DESC, sku, week
        """
    ).to_arrow_table()
    return markdown_table(table, digits=0)


def scorecard_picture(con: duckdb.DuckDBPyConnection, top: int = 15) -> str:
    """Per supplier and source over the scorecard's window: days on time, late, missing and
    rejected, the average lateness, the quarantine ratio; the suppliers with most lapses first."""
    if not _exists(con, "supplier_scorecard"):
        return ""
    table = con.execute(
        f"""
        SELECT supplier_id, source,
               count(*) FILTER (WHERE delivery_status = 'on_time') AS on_time,
               count(*) FILTER (WHERE delivery_status = 'late') AS late,
               count(*) FILTER (WHERE delivery_status = 'missing') AS missing,
               count(*) FILTER (WHERE delivery_status = 'rejected') AS rejected,
               round(avg(minutes_late) FILTER (WHERE delivery_status = 'late')) AS avg_minutes_late,
               round(sum(quarantined_rows) / nullif(sum(accepted_rows + quarantined_rows), 0), 4) AS quarantine_ratio
        FROM {MARTS}.supplier_scorecard
        GROUP BY supplier_id, source
        ORDER BY sum(count(*) FILTER (WHERE delivery_status IN ('late', 'missing', 'rejected')))
                 OVER (PARTITION BY supplier_id) DESC, supplier_id, source
        LIMIT {int(top)}
        """
    ).to_arrow_table()
    return markdown_table(table, digits=4)


def lot_allocation(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """Units per allocation of a lot mart (stock_lot_allocations, lot_recipients): how many
    could be named to a lot, and why the others could not."""
    if not _exists(con, name):
        return ""
    table = con.execute(
        f"""
        SELECT allocation, count(DISTINCT lot_id) FILTER (WHERE lot_id <> 'unallocated') AS lots,
               sum(units) AS units, round(sum(units) / sum(sum(units)) OVER (), 3) AS share
        FROM {MARTS}."{name}" GROUP BY allocation ORDER BY units DESC
        """
    ).to_arrow_table()
    return markdown_table(table, digits=3)

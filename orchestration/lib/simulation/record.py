"""A simulation's result in the Dagster UI: a materialization of ``simulation/closed_loop``
with the policies side by side, the goal line, week by week figures and where the files are."""

from __future__ import annotations

import dagster as dg

from orchestration.lib.simulation.report import scoped_rows
from orchestration.lib.simulation.run import Result

SIMULATION_KEY = dg.AssetKey(["simulation", "closed_loop"])
DESCRIPTION = (
    "Closed-loop simulation (`supplyloop simulate`, `make simulate`): the demo world carried forward "
    "week by week through a festival under three supplier policies (the platform's published feed, "
    "produced by the real pipeline; a static min/max rule; an oracle that knows demand), with lost sales. "
    "Each run records stockout days, lost units and revenue, fill rate and average stock per policy, and "
    "whether the feed cuts stockout days by 30% against min/max at equal or lower stock. Files: "
    "<lake>/simulation/<run>/summary.json and chart.svg."
)


def policy_table(summary: dict) -> str:
    """The policies side by side as Markdown, over all days, festival and ordinary weeks."""
    lines = [
        "| policy | weeks | stockout days | lost units | lost revenue (¥) | fill rate | avg stock | avg stock value (¥) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    policies = summary["policies"]
    for name, title, f in scoped_rows(policies):
        fill = f"{f['fill_rate']:.1%}" if f["fill_rate"] is not None else ""
        lines.append(
            f"| {policies[name]['label']} | {title} | {f['stockout_days']:,} | {f['lost_units']:,} "
            f"| {f['lost_revenue']:,.0f} | {fill} | {f['avg_stock_units']:,.0f} | {f['avg_stock_value']:,.0f} |"
        )
    return "\n".join(lines)


def weekly_table(summary: dict, review_days: int) -> str:
    """Stockout days and average stock value per week and policy, as Markdown."""
    names = list(summary["daily"])
    labels = [summary["policies"][n]["label"] for n in names]
    head = " | ".join(f"{label}: stockout days | {label}: avg stock (¥k)" for label in labels)
    lines = [f"| week | {head} |", "|---|" + "---:|" * (2 * len(names))]
    days = len(summary["daily"][names[0]]["stockout_days"])
    for week, first in enumerate(range(0, days, review_days), start=1):
        cells = []
        for n in names:
            daily = summary["daily"][n]
            value = daily["stock_value"][first : first + review_days]
            cells += [
                f"{sum(daily['stockout_days'][first : first + review_days]):,}",
                f"{sum(value) / len(value) / 1000:,.0f}",
            ]
        lines.append(f"| {week} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def record(instance: dg.DagsterInstance, result: Result) -> None:
    """Report the run to the instance, so the UI shows it on ``simulation/closed_loop``."""
    summary = result.summary
    verdict = summary["goal"]
    metadata = {
        "goal": dg.MetadataValue.text(verdict["text"]),
        "policies": dg.MetadataValue.md(policy_table(summary)),
        "weeks": dg.MetadataValue.md(weekly_table(summary, summary["review_every_days"])),
        "days": dg.MetadataValue.text(f"{summary['first_day']} .. {summary['last_day']}"),
        "preset": summary["spec"]["preset"],
        "summary_json": dg.MetadataValue.path(result.summary_path),
        "chart_svg": dg.MetadataValue.path(result.chart_path),
        "wall_seconds": summary["wall_seconds"],
    }
    if verdict.get("met") is not None:
        metadata |= {"goal_met": verdict["met"], "stockout_days_cut": verdict["stockout_days_cut"]}
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=SIMULATION_KEY, metadata=metadata))

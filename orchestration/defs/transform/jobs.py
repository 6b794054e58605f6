"""The marts build as a named job: its runs show as `marts` in the runs list."""

import dagster as dg

MARTS_GROUPS = ("staging", "intermediate", "marts")

marts_job = dg.define_asset_job(
    name="marts",
    description="dbt build of staging, intermediate and the marts on the bronze lake; published when it passes.",
    selection=dg.AssetSelection.groups(*MARTS_GROUPS),
)

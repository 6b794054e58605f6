"""The supplier feeds as a named job, one run per supplier: its runs show as `supplier_feeds`."""

import dagster as dg

from orchestration.defs.feeds.assets import FEED_KEY
from orchestration.defs.feeds.partitions import suppliers

feeds_job = dg.define_asset_job(
    name="supplier_feeds",
    description="One supplier's replenishment feed: gated, then published under feeds/<supplier_id>/.",
    selection=dg.AssetSelection.assets(FEED_KEY),
    partitions_def=suppliers,
)

partner_feeds_job = dg.define_asset_job(
    name="partner_feeds",
    description="Every channel partner's weekly feed: gated at once, published under partner_feeds/<partner_id>/.",
    selection=dg.AssetSelection.assets(["feeds", "partner_feeds"]),
)

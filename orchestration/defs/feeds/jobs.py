"""The feeds as named jobs, each one run for all: its runs show as `supplier_feeds` and `partner_feeds`."""

import dagster as dg

from orchestration.defs.feeds.assets import FEED_KEY

feeds_job = dg.define_asset_job(
    name="supplier_feeds",
    description="Every supplier's replenishment feed: gated at once, published under feeds/<supplier_id>/.",
    selection=dg.AssetSelection.assets(FEED_KEY),
)

partner_feeds_job = dg.define_asset_job(
    name="partner_feeds",
    description="Every channel partner's weekly feed: gated at once, published under partner_feeds/<partner_id>/.",
    selection=dg.AssetSelection.assets(["feeds", "partner_feeds"]),
)

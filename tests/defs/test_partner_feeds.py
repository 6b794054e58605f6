"""The partner feeds in Dagster: one non-partitioned run for every partner, on a lake whose
partner marts the tests write themselves."""

import dagster as dg

from orchestration.definitions import defs
from orchestration.defs.feeds.partner_assets import MART_KEYS, PARTNER_FEEDS_KEY, PARTNER_GATE_CHECK, partner_feeds
from orchestration.defs.resources import Lake
from orchestration.lib.partner_feeds import latest_manifest
from tests.partner_marts import write_partner_marts

PARTNERS = {f"P{i:05d}": {"gaps": i % 3, "allocations": i % 2} for i in range(1, 7)}


def test_the_partner_feeds_asset_tells_its_story_in_the_code_location():
    graph = defs.resolve_asset_graph()
    node = graph.get(PARTNER_FEEDS_KEY)
    assert node.parent_keys == set(MART_KEYS) and node.group_name == "feeds"
    assert node.partitions_def is None and node.owners == ["team:data-platform"]
    assert {"parquet", "csv", "great_expectations"} <= set(node.kinds) and node.description
    (spec,) = partner_feeds.check_specs
    assert spec.name == PARTNER_GATE_CHECK and spec.blocking
    assert defs.resolve_job_def("partner_feeds")


def test_one_run_publishes_every_partner_and_names_the_held_one_and_why(lake):
    write_partner_marts(lake, {**PARTNERS, "P00004": {"allocated": 99}})  # more than the SKU has to share
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([partner_feeds], instance=instance, resources={"lake": Lake(root=lake.root)})
    assert result.success
    (materialization,) = result.asset_materializations_for_node("feeds__partner_feeds")
    metadata = {k: getattr(v, "value", v) for k, v in materialization.metadata.items()}
    assert (metadata["published"], metadata["unchanged"], metadata["held"]) == (5, 0, 1)
    assert "P00004" in metadata["held_partners"] and "allocations: plausibility" in metadata["held_partners"]
    assert metadata["gate_result"].startswith(lake.uri("gates/partner_feed/2026-11-15/"))
    assert "| partner_id |" in metadata["preview"]
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert latest_manifest(lake, "P00004") is None and latest_manifest(lake, "P00005")["rows"]["benchmarks"] == 1

"""Channel-partner feeds built by the whole loop (`make run`) on the tiny demo: on a local lake,
run twice, and on S3 with the partner feeds in a bucket of their own."""

from __future__ import annotations

import io
import json
from collections import defaultdict

import dagster as dg
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore
from orchestration.lib.partner_feeds import latest_manifest, partner_feeds_line, read_partner_feed

pytestmark = pytest.mark.slow

SECTIONS = ("benchmarks", "assortment_gaps", "allocations")


def _run(store: LakeStore) -> list:
    return materialize_all(store, instance=dg.DagsterInstance.ephemeral())


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    store = LakeStore(str(tmp_path_factory.mktemp("partners") / "lake"))
    generate(store, preset="tiny", seed=11)
    return store, _run(store)


def _partners(store: LakeStore) -> list[str]:
    return sorted(store.read_table("bronze/partners", columns=["partner_id"]).column(0).to_pylist())


def test_make_run_publishes_every_partners_feed_with_only_its_own_rows(local_run):
    store, results = local_run
    assert all(r.success for r in results)
    partners = _partners(store)
    marts = {s: store.read_table(f"marts/partner_{s}") for s in SECTIONS}
    for partner in partners:
        manifest = latest_manifest(store, partner)
        assert manifest["validation"]["outcome"].startswith("passed"), partner
        for section in SECTIONS:
            mart = marts[section]
            ours = read_partner_feed(store, partner, section)
            assert set(ours.column("partner_id").to_pylist()) <= {partner}
            assert ours.num_rows == pc.sum(pc.equal(mart.column("partner_id"), partner)).as_py()
    assert f"{len(partners)} of {len(partners)} partners published" in partner_feeds_line(store)


def test_constrained_stock_is_shared_out_exactly_and_by_the_fair_share_rule(local_run):
    store, _ = local_run
    rows = store.read_table("marts/partner_allocations").to_pylist()
    assert rows, "the tiny demo has festival weeks in which forecast demand exceeds supply"
    per_sku = defaultdict(list)
    for row in rows:
        per_sku[row["sku"]].append(row)
    for sku, shares in per_sku.items():
        allocatable = shares[0]["sku_allocatable_units"]
        assert sum(r["allocated_units"] for r in shares) == allocatable, sku
        assert sum(r["partner_units_28d"] for r in shares) == shares[0]["sku_units_28d"]
        for r in shares:
            quota = allocatable * r["partner_units_28d"] / r["sku_units_28d"]
            assert abs(r["allocated_units"] - quota) < 1, (sku, r["partner_id"])
        assert shares[0]["sku_forecast_units"] > allocatable


def test_a_second_run_on_the_same_data_changes_no_partner_feed(local_run):
    store, _ = local_run
    before = {p: latest_manifest(store, p)["version"] for p in _partners(store)}
    results = _run(store)
    assert all(r.success for r in results)
    (partner_run,) = [r for r in results if r.job_def.name == "partner_feeds"]
    (materialization,) = partner_run.asset_materializations_for_node("feeds__partner_feeds")
    assert materialization.metadata["published"].value == 0
    assert materialization.metadata["unchanged"].value == len(before)
    assert {p: latest_manifest(store, p)["version"] for p in before} == before


def test_partner_feeds_publish_into_their_own_bucket_on_s3_and_read_as_on_the_local_lake(
    local_run, s3_env, monkeypatch
):
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_env.url, region_name="us-east-1")
    for bucket in ("pf-lake", "pf-feeds"):
        s3.create_bucket(Bucket=bucket)
    monkeypatch.setenv("LAKE_ROOT", "s3://pf-lake/lake")
    monkeypatch.setenv("PARTNER_FEEDS_ROOT", "s3://pf-feeds/partner_feeds")
    monkeypatch.setenv("SUPPLYLOOP_STATE", str(local_run[0].fs_path(".s3-state")))
    s3_lake = LakeStore()
    generate(s3_lake, preset="tiny", seed=11)
    assert all(r.success for r in _run(s3_lake))
    local, _ = local_run
    for partner in _partners(local)[:5]:
        # a partner reads its feed with nothing but S3 access to its own prefix
        pointer = json.loads(
            s3.get_object(Bucket="pf-feeds", Key=f"partner_feeds/{partner}/latest.json")["Body"].read()
        )
        manifest = json.loads(
            s3.get_object(Bucket="pf-feeds", Key=f"partner_feeds/{partner}/{pointer['manifest']}")["Body"].read()
        )
        assert manifest["version"] == latest_manifest(local, partner)["version"]
        body = s3.get_object(Bucket="pf-feeds", Key=f"partner_feeds/{partner}/{pointer['version']}/benchmarks.parquet")
        assert pq.read_table(io.BytesIO(body["Body"].read())).equals(read_partner_feed(local, partner, "benchmarks"))
    assert not s3_lake.exists("partner_feeds")  # nothing under the lake: the partner feeds have their own root

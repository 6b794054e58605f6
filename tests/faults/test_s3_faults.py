"""S3 faults mid-write, through a TCP proxy in front of moto: a cut, a stall, a reset.

Ingestion, feed publishing and partner feed publishing run against ``s3://`` through the proxy (``AWS_ENDPOINT_URL_S3``
names it, as a deployment names its endpoint). The proxy breaks one write, drawn from the
seed among the stage's writes. Then: the stage failed with an error naming what it was
writing, or it retried and finished; no partial object is visible (every Parquet object of
bronze and quarantine reads, every published version matches its manifest, every
``latest.json`` is the last good feed); and a run after the fault converges to the bytes of
an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import uuid
from pathlib import Path

import boto3
import pyarrow.parquet as pq
import pytest

from orchestration.lib.feeds import LATEST, MANIFEST, verify_feed
from orchestration.lib.ingest import ingest_days, ingest_snapshot, landing_index
from orchestration.lib.lake import LakeStore
from orchestration.lib.partner_feeds import verify_partner_feed
from orchestration.lib.sources import load_sources
from tests.faults import harness, stage
from tests.faults.proxy import FaultProxy

pytestmark = pytest.mark.slow

FAULTS = ("cut", "stall", "reset")
ENTITIES = ("suppliers", "products", "partners", "order_lines")  # order lines and what they refer to
LEDGER = "bronze/_deliveries/"
STALL = 4.0  # seconds; longer than the S3 client's request timeout


def _cases(default: int, full: int) -> list[tuple[str, int]]:
    return [(fault, seed) for seed in range(full if harness.full_tier() else default) for fault in FAULTS]


@pytest.fixture
def proxy(s3_env, monkeypatch):
    """The proxy in front of the test server, and the standard AWS variables pointing at it."""
    proxy = FaultProxy(s3_env.host)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://{proxy.host}")
    yield proxy
    proxy.close()


@pytest.fixture
def bucket(s3_env):
    name = f"faults-{uuid.uuid4().hex[:10]}"
    client = boto3.client("s3", endpoint_url=s3_env.url, region_name="us-east-1")  # straight to the server
    client.create_bucket(Bucket=name)
    return name, client


def _upload(client, bucket: str, lake: Path, folders: list[str]) -> None:
    for folder in folders:
        for path in sorted((lake / folder).rglob("*")):
            if path.is_file():
                client.put_object(Bucket=bucket, Key=f"lake/{path.relative_to(lake)}", Body=path.read_bytes())


def _objects(client, bucket: str, prefix: str = "lake/") -> dict[str, bytes]:
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"][len("lake/") :]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def _hidden(key: str) -> bool:
    return any(part.startswith(".") for part in key.split("/"))


def _visible_problems(objects: dict[str, bytes]) -> list[str]:
    """What a reader listing the bucket could take for data and is not whole."""
    problems = []
    for key, body in objects.items():
        if _hidden(key) or not key.startswith(harness.DATA_LAYERS) or not body:
            continue  # folder markers are empty; hidden keys are no reader's
        try:
            pq.read_table(io.BytesIO(body))
        except Exception as err:  # noqa: BLE001 - a visible object that does not read is the finding
            problems.append(f"{key} is visible and does not read: {err}")
    for key, body in objects.items():
        if key.startswith(("feeds/", "partner_feeds/")) and key.endswith(MANIFEST) and "/_" not in key:
            folder = key.rsplit("/", 1)[0]
            for name, entry in json.loads(body)["files"].items():
                data = objects.get(f"{folder}/{name}")
                if data is None or hashlib.sha256(data).hexdigest() != entry["sha256"]:
                    problems.append(f"{folder}/{name} is published and does not match its manifest")
    return problems


def _ingest(store: LakeStore) -> None:
    sources = load_sources()
    for name in ENTITIES:
        source = sources[name]
        if source.is_daily:
            ingest_days(store, source, [d for d in landing_index(store, source) if d], workers=2)
        else:
            ingest_snapshot(store, source)


def _break_one_write(
    proxy: FaultProxy, fault: str, seed: int, writes: int, work
) -> tuple[str | None, Exception | None]:
    rng = random.Random(f"s3-{fault}-{seed}")
    proxy.arm(fault, at=rng.randint(1, writes), stall=STALL)
    try:
        work()
    except Exception as err:  # noqa: BLE001 - a clear failure is one of the two right outcomes
        return fault, err
    finally:
        proxy.disarm()
    return fault, None


LANDING = ["_demo", *(f"landing/{e}" for e in ENTITIES)]


def _reference(ingest_base) -> dict[str, str]:
    return {
        k: v for k, v in ingest_base.digests.items() if k.split("/")[1] in ENTITIES
    }  # bronze/<entity>/..., quarantine/<entity>/...


@pytest.fixture(scope="module")
def ingest_writes(s3_server, ingest_base, tmp_path_factory) -> int:
    """How many writes an uninterrupted ingestion makes through the proxy."""
    import os

    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_ENDPOINT_URL_S3")
    }
    proxy = FaultProxy(s3_server.host)
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=f"http://{proxy.host}",
    )
    try:
        client = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1")
        name = f"faults-{uuid.uuid4().hex[:10]}"
        client.create_bucket(Bucket=name)
        _upload(client, name, ingest_base.lake, LANDING)
        proxy.arm("cut", at=10**9)
        _ingest(LakeStore(f"s3://{name}/lake"))
        return proxy.writes
    finally:
        proxy.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("fault,seed", _cases(1, 5))
def test_an_s3_fault_mid_write_fails_the_ingestion_clearly_or_is_retried_and_a_rerun_converges(
    fault, seed, proxy, bucket, ingest_base, ingest_writes
):
    name, client = bucket
    _upload(client, name, ingest_base.lake, LANDING)
    store = LakeStore(f"s3://{name}/lake")
    check = harness.Check(f"s3 {fault}: ingestion", seed)
    _, error = _break_one_write(proxy, fault, seed, ingest_writes, lambda: _ingest(store))
    check.expect(proxy.fired == 1, f"the {fault} never happened ({proxy.writes} writes seen)")
    if error is not None:
        check.expect("lake/" in str(error) or "order_lines" in str(error), f"the failure does not say what: {error}")
    check.violations += _visible_problems(_objects(client, name))
    _ingest(store)  # the next run, on a healthy connection
    objects = _objects(client, name)
    check.violations += _visible_problems(objects)
    got = {
        k: hashlib.sha256(v).hexdigest()
        for k, v in objects.items()
        if k.startswith(harness.DATA_LAYERS) and v and not _hidden(k)
    }
    want = _reference(ingest_base)
    ledgers = {k: got.pop(k) for k in [k for k in got if k.startswith(LEDGER)]}
    changed = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    check.expect(not changed, f"{len(changed)} object(s) differ from an uninterrupted ingestion: {changed[:5]}")
    # the deliveries ledger too, but for the files' arrival: here their upload to this bucket
    local = {
        str(p.relative_to(ingest_base.finished))
        for p in (ingest_base.finished / LEDGER).rglob("*.parquet")
        if p.stem in ENTITIES
    }
    check.expect(set(ledgers) == local, f"ledger files differ: {sorted(set(ledgers) ^ local)[:5]}")
    for key in sorted(set(ledgers) & local):
        ours = pq.read_table(io.BytesIO(objects[key])).drop(["arrived_at"])
        check.expect(ours.equals(pq.read_table(ingest_base.finished / key).drop(["arrived_at"])), f"{key} differs")
    report = check.done()
    assert not report, report


FEED_INPUTS = [
    "bronze/order_lines",
    "bronze/suppliers",
    "marts/supplier_replenishment",
    "marts/supplier_scorecard",
    "feeds",
    "gates",
]


@pytest.mark.parametrize("fault,seed", _cases(1, 5))
def test_an_s3_fault_mid_publication_keeps_each_last_good_feed_and_a_rerun_converges(
    fault, seed, proxy, bucket, feeds_base, reference
):
    name, client = bucket
    _upload(client, name, feeds_base.lake, FEED_INPUTS)
    store = LakeStore(f"s3://{name}/lake")
    proxy.arm("cut", at=10**9)
    writes = _count_writes(proxy, client, feeds_base.lake, FEED_INPUTS, stage.feeds)
    check = harness.Check(f"s3 {fault}: feed publishing", seed)
    _, error = _break_one_write(proxy, fault, seed, writes, lambda: stage.feeds(store))
    check.expect(proxy.fired == 1, f"the {fault} never happened ({proxy.writes} writes seen)")
    if error is not None:
        check.expect("lake/" in str(error) or "SUP" in str(error), f"the failure does not say what: {error}")
    check.violations += _visible_problems(_objects(client, name))
    for supplier, before in feeds_base.before.items():
        version = json.loads(store.read_bytes(f"feeds/{supplier}/{LATEST}"))["version"]
        check.expect(version in (before, reference.feeds[supplier]), f"{supplier}'s latest.json points at {version}")
        check.violations += verify_feed(store, supplier)
    stage.feeds(store)  # the next run, on a healthy connection
    check.violations += _visible_problems(_objects(client, name))
    for supplier, version in reference.feeds.items():
        check.violations += verify_feed(store, supplier)
        got = json.loads(store.read_bytes(f"feeds/{supplier}/{LATEST}"))["version"]
        check.expect(got == version, f"{supplier} published {got}, an uninterrupted run {version}")
    report = check.done()
    assert not report, report


_WRITES: dict[str, int] = {}


def _count_writes(proxy: FaultProxy, client, lake: Path, inputs: list[str], publish) -> int:
    """Writes of an uninterrupted ``publish(store)`` of ``lake``'s ``inputs``, counted once on a bucket of its own."""
    key = publish.__name__
    if key not in _WRITES:
        other = f"faults-{uuid.uuid4().hex[:10]}"
        client.create_bucket(Bucket=other)
        _upload(client, other, lake, inputs)
        proxy.arm("cut", at=10**9)
        publish(LakeStore(f"s3://{other}/lake"))
        _WRITES[key] = proxy.writes
    return _WRITES[key]


PARTNER_INPUTS = [*(f"marts/partner_{s}" for s in ("benchmarks", "assortment_gaps", "allocations")), "partner_feeds"]


@pytest.mark.parametrize("fault,seed", _cases(1, 5))
def test_an_s3_fault_mid_partner_publication_keeps_each_last_good_feed_and_a_rerun_converges(
    fault, seed, proxy, bucket, partner_feeds_base
):
    name, client = bucket
    _upload(client, name, partner_feeds_base.lake, PARTNER_INPUTS)
    store = LakeStore(f"s3://{name}/lake")
    newest = harness.published_feeds(partner_feeds_base.finished, "partner_feeds")
    proxy.arm("cut", at=10**9)
    writes = _count_writes(proxy, client, partner_feeds_base.lake, PARTNER_INPUTS, stage.partner_feeds)
    check = harness.Check(f"s3 {fault}: partner feed publishing", seed)
    _, error = _break_one_write(proxy, fault, seed, writes, lambda: stage.partner_feeds(store))
    check.expect(proxy.fired == 1, f"the {fault} never happened ({proxy.writes} writes seen)")
    if error is not None:
        check.expect("lake/" in str(error) or "partner" in str(error), f"the failure does not say what: {error}")
    check.violations += _visible_problems(_objects(client, name))
    for partner, before in partner_feeds_base.before.items():
        version = json.loads(store.read_bytes(f"partner_feeds/{partner}/{LATEST}"))["version"]
        check.expect(version in (before, newest[partner]), f"{partner}'s latest.json points at {version}")
        check.violations += verify_partner_feed(store, partner)
    stage.partner_feeds(store)  # the next run, on a healthy connection
    check.violations += _visible_problems(_objects(client, name))
    for partner, version in newest.items():
        check.violations += verify_partner_feed(store, partner)
        got = json.loads(store.read_bytes(f"partner_feeds/{partner}/{LATEST}"))["version"]
        check.expect(got == version, f"{partner} published {got}, an uninterrupted run {version}")
    report = check.done()
    assert not report, report

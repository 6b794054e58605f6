"""Shared fixtures: a local lake in a temp folder, and a real S3 endpoint on 127.0.0.1."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator

import pytest

from orchestration.lib.lake import LakeStore
from orchestration.lib.settings import S3Endpoint

# the daily partitions start where the tests' days fit, whatever lake this checkout holds
# (unset, they start at the first day delivered to LAKE_ROOT: tests/defs/test_partitions.py)
os.environ.setdefault("SUPPLYLOOP_FIRST_DAY", "2025-11-01")

CSV_HEADER = "order_id,line_no,ordered_at,partner_id,sku,qty,unit_price,discount,region,live_session_id,status\n"


@pytest.fixture
def lake(tmp_path) -> LakeStore:
    return LakeStore(str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Endpoint]:
    """moto's threaded S3 server on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield S3Endpoint(host=f"{host}:{port}", scheme="http", region="us-east-1")
    finally:
        server.stop()


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> S3Endpoint:
    """Standard AWS variables pointing at the test server, as a deployment would set them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server.url)
    return s3_server


@pytest.fixture
def s3_lake(s3_env, monkeypatch) -> LakeStore:
    """A fresh bucket on the test server, as ``s3://bucket/lake``, and LAKE_ROOT set to it."""
    import boto3

    bucket = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_env.url, region_name="us-east-1").create_bucket(Bucket=bucket)
    root = f"s3://{bucket}/lake"
    monkeypatch.setenv("LAKE_ROOT", root)
    return LakeStore(root)


def xlsx_bytes(rows: list[list]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_master(lake: LakeStore, skus=("SKU0001", "SKU0002"), partners=("P00001", "P00002")) -> None:
    """A minimal set of master data, ingested into bronze, for fact tests."""
    from orchestration.lib.ingest import ingest_snapshot
    from orchestration.lib.sources import load_sources

    lake.write_bytes("landing/suppliers/suppliers_2026-11-01.csv", b"supplier_id,name,region\nSUP001,Acme,east\n")
    lake.write_bytes(
        "landing/products/products_2026-11-01.xlsx",
        xlsx_bytes(
            [["sku", "name", "category", "supplier_id", "unit_cost", "unit_price", "lead_time_days", "min_order_qty"]]
            + [[s, f"item {s}", "home", "SUP001", 3.5, 9.9, 7, 100] for s in skus]
        ),
    )
    lake.write_bytes(
        "landing/partners/partners_2026-11-01.csv",
        ("partner_id,partner_type,region\n" + "".join(f"{p},store,east\n" for p in partners)).encode(),
    )
    sources = load_sources()
    for name in ("suppliers", "products", "partners"):
        ingest_snapshot(lake, sources[name])

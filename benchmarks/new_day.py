"""Bytes a new day writes into the lake: the history minus its last day is built, then the last
day lands and is built incrementally, and every file that build added or changed is counted.

    python -m benchmarks.new_day [--preset small] [--lake .bench/new-day/lake] [--s3]

The counts are by what the files are: the published warehouse (the catalog
``warehouse.duckdb``, the Parquet it reads under ``warehouse/``, the marts at their fixed
names under ``marts/``), the build file (``.build/``) and the rest (bronze, feeds, logs).
A hard link (a mart's fixed name for a file already stored) writes no byte and is counted
once. On S3 every added or changed object is an upload of its size (the fixed names are
server-side copies, counted apart). ``--s3`` runs the same on moto's S3 server on 127.0.0.1,
ingesting a day at a time (moto's server fails under parallel uploads), and the new day on
an empty state folder, as a new cloud task: ``new_task`` says what it took to put the build
file together from the lake's pieces and whether the build was incremental; ``build`` in
``new_day_written`` is the pieces of the build file the new day sent, ``build_file`` its size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from benchmarks.common import PROJECT, ensure_demo, run_child
from orchestration.lib.warehouse import Warehouse

LAKE = PROJECT / ".bench" / "new-day" / "lake"


def _area(path: str) -> str:
    if path == "warehouse.duckdb":
        return "catalog"
    for prefix, area in (("warehouse/", "warehouse"), ("marts/", "marts"), (".build/", "build")):
        if path.startswith(prefix):
            return area
    return "other"


def snapshot(store) -> dict[str, tuple]:
    """{path: (size, a version: local mtime and inode, or S3's ETag)} of every file of the lake."""
    if store.is_s3:
        import boto3

        bucket, _, prefix = store.root[len("s3://") :].partition("/")
        client = boto3.client("s3", endpoint_url=store.endpoint.url, region_name=store.endpoint.region)
        files = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                files[obj["Key"][len(prefix) + 1 :]] = (obj["Size"], obj["ETag"], obj["LastModified"].timestamp())
        return files
    root = Path(store.fs_path(""))
    files = {}
    for path in root.rglob("*"):
        if path.is_file():
            stat = path.stat()
            files[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
    return files


def written(before: dict[str, tuple], after: dict[str, tuple], s3: bool) -> dict[str, int]:
    """Bytes of the files added or changed between two snapshots, by area; a local file that is
    a hard link to another counted file, or an S3 object with the same content (ETag) as an
    upload counted already (a server-side copy), goes to ``copied``."""
    areas: dict[str, int] = {}
    seen = set()
    for path in sorted(after, key=lambda p: (_area(p) == "marts", p)):  # stored files first
        if before.get(path) == after[path]:
            continue
        size, version = after[path][0], (after[path][1] if s3 else after[path][2])
        area = "copied" if version in seen and _area(path) == "marts" else _area(path)
        seen.add(version)
        areas[area] = areas.get(area, 0) + size
    return areas


def _lake_bytes(files: dict[str, tuple], area: str) -> int:
    return sum(v[0] for p, v in files.items() if _area(p) == area)


def _new_task(store, lake: str) -> dict:
    """On S3 the new day runs as a new cloud task does, on an empty state folder: the build
    it starts from is put together from the lake's pieces; what that took and what it plans."""
    from orchestration.defs.transform.assets import PROJECT
    from orchestration.defs.transform.project import models_fingerprint
    from orchestration.lib.coverage import absent_sources, plan_coverage
    from orchestration.lib.landing import bronze_stamps
    from orchestration.lib.sources import canonical_sources, load_sources

    os.environ["SUPPLYLOOP_STATE"] = str(Path(os.environ["SUPPLYLOOP_STATE"]).with_name("state-new-task"))
    shutil.rmtree(os.environ["SUPPLYLOOP_STATE"], ignore_errors=True)
    warehouse = Warehouse(store)
    started = time.perf_counter()
    warehouse.prepare()
    seconds = time.perf_counter() - started
    coverage = plan_coverage(PROJECT, absent_sources(store, load_sources(), canonical_sources()))
    plan = warehouse.plan(
        bronze_stamps(store, list(load_sources().values())), coverage.fingerprint(models_fingerprint())
    )
    return {
        "prepared_bytes": warehouse.build_path.stat().st_size if warehouse.build_path.exists() else 0,
        "prepare_seconds": round(seconds, 2),
        "plan": "full" if plan.full else f"incremental: {len(plan.days)} day(s)",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default=str(LAKE))
    parser.add_argument("--preset", default="small")
    parser.add_argument("--s3", action="store_true", help="the lake on moto's S3 server on 127.0.0.1")
    args = parser.parse_args()

    from orchestration.lib.ingest import ingest_day, ingest_days, ingest_snapshot, landing_index
    from orchestration.lib.sources import daily_sources, master_sources

    server = None
    if args.s3:
        import boto3
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        os.environ.update(
            AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_REGION="us-east-1",
            AWS_ENDPOINT_URL_S3=f"http://{host}:{port}", SUPPLYLOOP_STATE=str(Path(args.lake).parent / "state"),
            INGEST_WORKERS="1",
        )  # fmt: skip
        boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1").create_bucket(Bucket="bench")
        shutil.rmtree(os.environ["SUPPLYLOOP_STATE"], ignore_errors=True)
        lake = "s3://bench/lake"
    else:
        lake = args.lake
        for old in Path(lake).glob("*") if Path(lake).is_dir() else []:  # all but the cached demo
            if old.name not in ("landing", "_demo"):
                shutil.rmtree(old) if old.is_dir() else old.unlink()
    try:
        store = ensure_demo(lake, args.preset)
        sources = daily_sources()
        days = sorted({d for s in sources for d in landing_index(store, s) if d})
        for source in master_sources():
            ingest_snapshot(store, source)
        for source in sources:
            ingest_days(store, source, days[:-1])
        os.environ["LAKE_ROOT"] = lake
        first = run_child("benchmarks.marts", "ours", "--lake", lake)  # the history but its last day, in full
        for source in sources:
            ingest_day(store, source, days[-1])
        new_task = _new_task(store, lake) if args.s3 else None
        before = snapshot(store)
        day = run_child("benchmarks.marts", "ours", "--lake", lake)  # the new day, incrementally
        after = snapshot(store)
        build_file = Warehouse(store).build_path.stat().st_size
    finally:
        if server is not None:
            server.stop()
    areas = written(before, after, args.s3)
    result = {
        "preset": args.preset,
        "s3": args.s3,
        "days": len(days),
        "ok": first["ok"] and day["ok"],
        "new_day_written": areas,
        "build_file": build_file,
        "new_task": new_task,
        "published_in_lake": {a: _lake_bytes(after, a) for a in ("catalog", "warehouse", "marts", "build")},
    }
    print(json.dumps(result, indent=1), file=sys.stderr)
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

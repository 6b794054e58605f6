"""The daily partitions start at the first day delivered, found cheaply when the code location loads."""

import socket
import subprocess
import sys
import time
from datetime import date

import pytest

from orchestration.defs.ingest import partitions
from orchestration.lib.ingest import ingest_day
from orchestration.lib.landing import first_delivered_day
from orchestration.lib.paths import PROJECT_ROOT
from orchestration.lib.settings import FIRST_DAY_ENV
from orchestration.lib.sources import daily_sources, history_start, load_sources
from tests.conftest import CSV_HEADER, write_master


def _deliver(lake, name: str, body: str = "") -> None:
    lake.write_bytes(f"landing/{name}", (CSV_HEADER + body).encode())


@pytest.fixture
def any_lake(request):
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("any_lake", ["lake", "s3_lake"], indirect=True)
def test_the_first_day_is_the_earliest_a_file_name_or_bronze_holds(any_lake):
    assert first_delivered_day(any_lake, daily_sources()) is None  # an empty lake: no day, no error
    _deliver(any_lake, "order_lines/order_lines_2026-11-12.csv")
    _deliver(any_lake, "production_output/production_output_2026-11-14.csv")
    any_lake.write_bytes("landing/order_lines/order_lines_readme.csv", b"no day in this name")
    assert first_delivered_day(any_lake, daily_sources()) == date(2026, 11, 12)


def test_a_day_ingested_and_cleaned_from_landing_still_counts(lake):
    write_master(lake)
    _deliver(
        lake, "order_lines/order_lines_2026-11-09.csv", "O1,1,2026-11-09 10:00:00,P00001,SKU0001,1,9.90,,east,,paid\n"
    )
    ingest_day(lake, load_sources()["order_lines"], date(2026, 11, 9))
    lake.delete("landing/order_lines/order_lines_2026-11-09.csv")
    _deliver(lake, "order_lines/order_lines_2026-11-12.csv")
    assert first_delivered_day(lake, daily_sources()) == date(2026, 11, 9)


def test_the_start_is_the_setting_else_the_first_day_delivered_else_history_start(lake, monkeypatch):
    monkeypatch.setenv("LAKE_ROOT", lake.root)
    monkeypatch.setenv(FIRST_DAY_ENV, "2026-10-01")
    assert partitions.partitions_start() == date(2026, 10, 1)
    monkeypatch.delenv(FIRST_DAY_ENV)
    assert partitions.partitions_start() == history_start()  # nothing delivered yet
    _deliver(lake, "order_lines/order_lines_2026-11-12.csv")
    assert partitions.partitions_start() == date(2026, 11, 12)
    monkeypatch.setenv(FIRST_DAY_ENV, "11/12/2026")
    with pytest.raises(ValueError, match="SUPPLYLOOP_FIRST_DAY='11/12/2026' is not a day; write it as YYYY-MM-DD"):
        partitions.partitions_start()


def test_an_s3_lake_that_does_not_answer_leaves_the_load_quick_at_history_start(monkeypatch):
    """A listener that never answers stands in for an S3 endpoint that hangs."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("LAKE_ROOT", "s3://nobody-answers/lake")
        started = time.monotonic()
        assert partitions._delivered(seconds=1.0) is None
        assert time.monotonic() - started < 5


@pytest.mark.slow  # a process that loads the code location: about 10 s
def test_the_code_location_loads_its_partitions_from_the_demo_lake_it_is_pointed_at(tmp_path):
    from orchestration.lib.demo import generate
    from orchestration.lib.lake import LakeStore

    store = LakeStore(str(tmp_path / "lake"))
    truth = generate(store, preset="tiny", seed=3).truth
    probe = (
        "from orchestration.definitions import defs; import dagster as dg;"
        "node = defs.resolve_asset_graph().get(dg.AssetKey(['bronze', 'sales', 'order_lines']));"
        "print(node.partitions_def.get_first_partition_key())"
    )
    env = {"PATH": "/usr/bin:/bin", "LAKE_ROOT": store.root, "HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-1] == truth["start"]

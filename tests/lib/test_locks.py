"""The lake's own locks (orchestration/lib/locks.py), on a local lake and on S3 (moto)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from orchestration.lib.lake import LakeStore
from orchestration.lib.locks import LOCKS, Holder, LockTimeout, lake_lock

KEY = f"{LOCKS}/warehouse.json"


@pytest.fixture(params=["local", "s3"])
def any_lake(request) -> LakeStore:
    return request.getfixturevalue("lake" if request.param == "local" else "s3_lake")


def _hold(store: LakeStore, entered: threading.Event, leave: threading.Event, run_id: str = "first-run") -> None:
    with lake_lock(store, "warehouse", "the warehouse", run_id=run_id, say=lambda _: None):
        entered.set()
        leave.wait(30)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _plant(store: LakeStore, **fields) -> None:
    """A lock left behind by another holder."""
    now = time.time()
    holder = {"host": socket.gethostname(), "pid": 1, "run_id": "old-run", "started_at": now, "refreshed_at": now}
    store.write_bytes(KEY, json.dumps({**holder, "token": "t", **fields}).encode())


def test_a_second_build_waits_naming_the_holder_then_proceeds_once_it_is_released(any_lake):
    entered, leave = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold, args=(any_lake, entered, leave))
    first.start()
    assert entered.wait(30)
    said = []
    threading.Timer(1.5, leave.set).start()
    started = time.monotonic()
    with lake_lock(any_lake, "warehouse", "the warehouse", run_id="second-run", wait=30, poll=0.2, say=said.append):
        waited = time.monotonic() - started
        holder = Holder.decode(any_lake.read_bytes(KEY))
        assert holder.run_id == "second-run"
    first.join()
    assert 1.0 < waited < 10
    assert said and said[0].startswith(f"the warehouse of {any_lake.uri()} is being built by run first-ru on host ")
    assert "waiting up to" in said[0]
    assert not any_lake.exists(KEY), "the lock stayed after its holder left"


def test_a_second_build_gives_up_after_its_wait_with_an_error_naming_the_holder(any_lake):
    entered, leave = threading.Event(), threading.Event()
    first = threading.Thread(target=_hold, args=(any_lake, entered, leave))
    first.start()
    assert entered.wait(30)
    try:
        with pytest.raises(LockTimeout, match=r"still being built by run first-ru on host .* after waiting 1 s"):
            with lake_lock(any_lake, "warehouse", "the warehouse", wait=1, poll=0.2, say=lambda _: None):
                pytest.fail("entered a held lock")
    finally:
        leave.set()
        first.join()
    assert not any_lake.exists(KEY)


def test_the_lock_of_a_process_that_is_gone_is_taken_over_at_once(any_lake):
    _plant(any_lake, pid=_dead_pid())
    said = []
    started = time.monotonic()
    with lake_lock(any_lake, "warehouse", "the warehouse", run_id="new-run", wait=5, say=said.append):
        assert Holder.decode(any_lake.read_bytes(KEY)).run_id == "new-run"
    assert time.monotonic() - started < 3
    assert len(said) == 1 and "took over the lock of run old-run" in said[0] and "is gone" in said[0]


def test_a_lock_of_another_host_is_taken_over_only_once_it_is_older_than_its_ttl(any_lake):
    _plant(any_lake, host="elsewhere", refreshed_at=time.time() - 5)
    with pytest.raises(LockTimeout, match="run old-run on host elsewhere"):
        with lake_lock(any_lake, "warehouse", "the warehouse", wait=0.5, ttl=60, poll=0.1, say=lambda _: None):
            pass
    said = []
    with lake_lock(any_lake, "warehouse", "the warehouse", wait=5, ttl=2, say=said.append):
        pass
    assert "last refreshed" in said[0]


def test_a_lock_held_longer_than_its_ttl_is_kept_alive_by_its_holder(lake):
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with lake_lock(lake, "warehouse", "the warehouse", run_id="long-run", ttl=0.8, say=lambda _: None):
            entered.set()
            leave.wait(30)

    first = threading.Thread(target=hold)
    first.start()
    assert entered.wait(30)
    try:
        # another host's waiter sees a fresh lock all along, though the build outlasts the ttl
        time.sleep(1.5)
        holder = Holder.decode(lake.read_bytes(KEY))
        assert time.time() - holder.refreshed_at < 0.8
        assert holder.stale_reason(ttl=0.8) is None
    finally:
        leave.set()
        first.join()


def test_the_lock_is_released_when_the_build_fails(any_lake):
    with pytest.raises(RuntimeError, match="dbt failed"):
        with lake_lock(any_lake, "warehouse", "the warehouse", say=lambda _: None):
            raise RuntimeError("dbt failed")
    assert not any_lake.exists(KEY)

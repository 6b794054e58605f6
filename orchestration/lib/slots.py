"""The Dagster instance's concurrency slots: who holds them, and freeing those of dead runs.

A run that ``supplyloop run`` starts in its own process (in-process execution) records that
process in its tags (host, pid, the process's start time). When such a process is killed
(SIGKILL, a power cut) its run stays STARTED and keeps the slot of the ``warehouse`` pool,
and every later run would wait for it forever. Before a run takes a slot, the runs of this
instance that are STARTED or STARTING on this host and whose process is gone are marked
failed and their slots freed (:func:`free_dead_runs`); slots still held by finished runs are
freed too (the daemon's run monitoring does that in the cloud, and there is no daemon here).
A wait for a slot held by a live run is bounded and says who holds it (:func:`wait_for_slot`).

Only the instance's public methods are used: ``get_run_records``, ``report_run_failed`` and
the event log storage's concurrency methods (those behind the UI's "free slots" button).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable

import dagster as dg

from orchestration.lib.locks import WaitTimeout, pid_alive

HOST_TAG, PID_TAG, PROCESS_STARTED_TAG = "supplyloop/host", "supplyloop/pid", "supplyloop/process_started"
ACTIVE = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
SLOT_WAIT_ENV = "SUPPLYLOOP_SLOT_WAIT"
DEFAULT_SLOT_WAIT = 3600.0
PROGRESS_EVERY = 5.0


class SlotTimeout(WaitTimeout):
    """A pool's slot was still held by a live run when the wait ran out."""


def _process_started(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def process_tags() -> dict[str, str]:
    """Tags that name this process, for the runs it executes in-process."""
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(os.getpid())}
    started = _process_started(os.getpid())
    if started:
        tags[PROCESS_STARTED_TAG] = started
    return tags


def process_gone(tags: dict[str, str]) -> str | None:
    """Why the process that ran a run is gone, or None when it may live (or runs elsewhere,
    or the run was not started by ``supplyloop``: launched from the UI, its process is not known)."""
    if tags.get(HOST_TAG) != socket.gethostname() or not tags.get(PID_TAG, "").isdigit():
        return None
    pid = int(tags[PID_TAG])
    if not pid_alive(pid):
        return f"its process {pid} is gone"
    recorded, now = tags.get(PROCESS_STARTED_TAG), _process_started(pid)
    if recorded and now and recorded != now:
        return f"its process {pid} is gone (the pid now belongs to another process)"
    return None


def _ago(started: float | None) -> str:
    if not started:
        return "at an unknown time"
    seconds = max(time.time() - started, 0)
    return f"{seconds / 60:.0f} min ago" if seconds >= 90 else f"{seconds:.0f} s ago"


def free_dead_runs(instance: dg.DagsterInstance, say: Callable[[str], None]) -> list[str]:
    """Mark failed the runs of this instance whose process is gone, and free their slots; free
    the slots finished runs still hold. Returns the ids of the runs marked failed."""
    failed = []
    for record in instance.get_run_records(dg.RunsFilter(statuses=ACTIVE)):
        run = record.dagster_run
        gone = process_gone(run.tags)
        if gone is None:
            continue
        ago = _ago(record.start_time or record.create_timestamp.timestamp())
        instance.report_run_failed(run, message=f"run {run.run_id[:8]} started {ago}, {gone}: marked failed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        say(f"run {run.run_id[:8]} started {ago}, {gone}: marked failed, its slot freed")
        failed.append(run.run_id)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = {slot.run_id for pool in storage.get_concurrency_keys() for slot in _claimed(instance, pool)}
        if holders:
            for record in instance.get_run_records(dg.RunsFilter(run_ids=list(holders), statuses=FINISHED)):
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return failed


def _claimed(instance: dg.DagsterInstance, pool: str) -> list:
    return list(instance.event_log_storage.get_concurrency_info(pool).claimed_slots)


def full_slots(instance: dg.DagsterInstance, pool: str) -> list:
    """The slots of ``pool`` when all are taken (the runs holding them), else an empty list."""
    if not instance.event_log_storage.supports_global_concurrency_limits:
        return []
    info = instance.event_log_storage.get_concurrency_info(pool)
    if info.limit is None or len(info.claimed_slots) < info.limit:
        return []
    return list(info.claimed_slots)


def describe_holders(instance: dg.DagsterInstance, slots: list) -> str:
    """Who holds ``slots``: run, status, since when and in which process."""
    records = {
        r.dagster_run.run_id: r for r in instance.get_run_records(dg.RunsFilter(run_ids=[s.run_id for s in slots]))
    }
    parts = []
    for slot in slots:
        record = records.get(slot.run_id)
        if record is None:
            parts.append(f"run {slot.run_id[:8]} (not in this instance's history)")
            continue
        tags = record.dagster_run.tags
        where = (
            f"process {tags[PID_TAG]} on {tags.get(HOST_TAG)}"
            if PID_TAG in tags
            else "launched outside supplyloop run (free it in the UI's Concurrency page if it is dead)"
        )
        started = _ago(record.start_time or record.create_timestamp.timestamp())
        parts.append(f"run {slot.run_id[:8]} ({record.dagster_run.status.value}, started {started}, {where})")
    return ", ".join(parts)


def slot_wait_seconds() -> float:
    value = os.environ.get(SLOT_WAIT_ENV)
    try:
        return float(value) if value else DEFAULT_SLOT_WAIT
    except ValueError:
        raise ValueError(f"{SLOT_WAIT_ENV}={value!r} is not a number of seconds") from None


def wait_for_slot(
    instance: dg.DagsterInstance,
    pool: str,
    say: Callable[[str], None],
    timeout: float | None = None,
    poll: float = 1.0,
) -> float:
    """Return once ``pool`` has a free slot (freeing those of dead runs); the seconds waited.

    Says every few seconds which run holds the slot; raises :class:`SlotTimeout` after
    ``timeout`` seconds (``$SUPPLYLOOP_SLOT_WAIT``, default an hour). Sleeps between looks,
    so a signal stops it at once.
    """
    timeout = slot_wait_seconds() if timeout is None else timeout
    started = time.monotonic()
    next_word = started
    while True:
        free_dead_runs(instance, say)
        holders = full_slots(instance, pool)
        waited = time.monotonic() - started
        if not holders:
            return waited
        if waited >= timeout:
            raise SlotTimeout(
                f"the {pool!r} pool's slot is still held by {describe_holders(instance, holders)} after "
                f"{waited:.0f} s: nothing was started. Run again once that run is done; {SLOT_WAIT_ENV} sets the wait"
            )
        if time.monotonic() >= next_word:
            say(
                f"waiting for the {pool!r} pool's slot, held by {describe_holders(instance, holders)}; "
                f"up to {timeout - waited:.0f} s more"
            )
            next_word = time.monotonic() + PROGRESS_EVERY
        time.sleep(poll)


def pending_in_pool(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The pool whose slot run ``run_id`` is waiting for, if any."""
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return None
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        if any(p.run_id == run_id and p.assigned_timestamp is None for p in info.pending_steps):
            return pool
    return None

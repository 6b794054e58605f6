"""Locks held in the lake itself, so that runs of separate schedulers take turns.

Two Dagster instances (two schedulers, or a person's ``make run`` beside the cloud schedule)
share nothing but the lake, so whatever only one of them may do at a time (building the
warehouse: one DuckDB file, one export folder) is serialized by a lock object in the lake:

- locally ``<lake>/.locks/<name>.json``, created with ``O_CREAT | O_EXCL`` (exactly one
  creator wins);
- on S3 the same key, written with a conditional ``PutObject`` (``If-None-Match: *``: exactly
  one writer wins); refreshed and released only while its ETag is still the holder's
  (``If-Match``), so nobody removes a lock that someone else has taken over since.

The lock names its holder (host, pid, run id, since when). A holder refreshes it every
``ttl / 4`` seconds; a lock is stale, and taken over, when its holder's process is gone on this
host, or when it has not been refreshed for ``ttl`` seconds (a holder on another machine that
died). A waiter says every few seconds who holds the lock, and gives up after ``wait`` seconds
with an error that names the holder and what to do.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.lib.lake import LakeStore

LOCKS = ".locks"
WAIT_ENV = "SUPPLYLOOP_LOCK_WAIT"
DEFAULT_WAIT = 3600.0  # a large build takes minutes; a waiter gives up after an hour
DEFAULT_TTL = 120.0  # a holder refreshes every 30 s; two minutes of silence means it is gone
PROGRESS_EVERY = 10.0


class WaitTimeout(RuntimeError):
    """Something another run holds was still held when the wait for it ran out."""


class LockTimeout(WaitTimeout):
    """The lock was still held when the wait ran out; nothing was written."""


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: written into the lock object, read back by whoever waits for it."""

    host: str
    pid: int
    run_id: str
    started_at: float
    refreshed_at: float
    token: str

    @classmethod
    def me(cls, run_id: str | None) -> Holder:
        now = time.time()
        return cls(socket.gethostname(), os.getpid(), run_id or "-", now, now, uuid.uuid4().hex)

    def encode(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> Holder | None:
        """None for an object that is not a whole lock (a holder killed while writing it)."""
        try:
            return cls(**json.loads(data))
        except (ValueError, TypeError):
            return None

    def stale_reason(self, ttl: float, now: float | None = None) -> str | None:
        """Why the lock is no longer held, or None while its holder may still be working."""
        if self.host == socket.gethostname() and not pid_alive(self.pid):
            return f"its process {self.pid} on this host is gone"
        silent = (now or time.time()) - self.refreshed_at
        if silent > ttl:
            return f"it was last refreshed {silent:.0f} s ago (more than {ttl:.0f} s)"
        return None

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.started_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return f"run {self.run_id[:8]} on host {self.host} (pid {self.pid}) since {since}"


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


class _LocalBackend:
    def __init__(self, path: Path):
        self.path = path

    def create(self, data: bytes) -> str | None:
        """Write the lock if nobody holds it; a version to refresh and release it by, else None."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        return data.decode()

    def read(self) -> tuple[bytes, str] | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return data, data.decode(errors="replace")

    def replace(self, version: str, data: bytes) -> str | None:
        """Write ``data`` over the lock if it is still ``version``; the new version, else None."""
        current = self.read()
        if current is None or current[1] != version:
            return None
        aside = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}")
        aside.write_bytes(data)
        os.replace(aside, self.path)
        return data.decode()

    def delete(self, version: str) -> bool:
        """Remove the lock if it is still ``version``: moved aside first, so that of two
        processes that both found it stale only one removes it, and a lock taken in between
        is put back."""
        aside = self.path.with_name(f".{self.path.name}.{uuid.uuid4().hex[:8]}.stale")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        if aside.read_bytes().decode(errors="replace") == version:
            aside.unlink()
            return True
        try:  # someone took the lock in between: give it back (unless a third has it now)
            os.link(aside, self.path)
        except FileExistsError:
            pass
        aside.unlink()
        return False


class _S3Backend:
    def __init__(self, store: LakeStore, key: str):
        import boto3

        bucket_key = store.fs_path(key)
        self.bucket, self.key = bucket_key.split("/", 1)
        endpoint = store.endpoint
        self.client = boto3.client("s3", endpoint_url=endpoint.url, region_name=endpoint.region)

    @staticmethod
    def _refused(err: Exception) -> bool:
        code = getattr(err, "response", {}).get("Error", {}).get("Code")
        return code in {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "404"}

    def create(self, data: bytes) -> str | None:
        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=data, IfNoneMatch="*")["ETag"]
        except self.client.exceptions.ClientError as err:
            if self._refused(err):
                return None
            raise

    def read(self) -> tuple[bytes, str] | None:
        try:
            got = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except self.client.exceptions.ClientError as err:
            if self._refused(err):
                return None
            raise
        return got["Body"].read(), got["ETag"]

    def replace(self, version: str, data: bytes) -> str | None:
        try:
            return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=data, IfMatch=version)["ETag"]
        except self.client.exceptions.ClientError as err:
            if self._refused(err):
                return None
            raise

    def delete(self, version: str) -> bool:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=version)
        except self.client.exceptions.ClientError as err:
            if self._refused(err):
                return False
            raise
        return True


def _wait_seconds(wait: float | None) -> float:
    if wait is not None:
        return wait
    value = os.environ.get(WAIT_ENV)
    try:
        return float(value) if value else DEFAULT_WAIT
    except ValueError:
        raise ValueError(f"{WAIT_ENV}={value!r} is not a number of seconds") from None


@contextmanager
def lake_lock(
    store: LakeStore,
    name: str,
    what: str,
    run_id: str | None = None,
    wait: float | None = None,
    ttl: float = DEFAULT_TTL,
    poll: float = 1.0,
    say: Callable[[str], None] = print,
) -> Iterator[Holder]:
    """Hold the lock ``name`` of ``store``'s lake while the block runs (``what`` says what it
    guards, e.g. "the warehouse"); wait for it up to ``wait`` seconds (``$SUPPLYLOOP_LOCK_WAIT``,
    default an hour), saying who holds it, and take over a stale one."""
    key = f"{LOCKS}/{name}.json"
    backend = _S3Backend(store, key) if store.is_s3 else _LocalBackend(Path(store.fs_path(key)))
    where = f"{what} of {store.uri()}"
    wait = _wait_seconds(wait)
    me = Holder.me(run_id)
    deadline = time.monotonic() + wait
    next_word = 0.0
    while True:
        version = backend.create(me.encode())
        if version is not None:
            break
        found = backend.read()
        if found is None:
            continue  # released just now: try again at once
        holder = Holder.decode(found[0])
        if holder is None:  # half-written by a holder killed while writing it
            if time.time() - _mtime(backend) > ttl:
                backend.delete(found[1])
            holder_text, stale = "an unfinished lock", None
        else:
            holder_text, stale = holder.describe(), holder.stale_reason(ttl)
        if stale:
            if backend.delete(found[1]):
                say(f"{where}: took over the lock of {holder_text}: {stale}")
            continue
        now = time.monotonic()
        if now >= deadline:
            raise LockTimeout(
                f"{where} is still being built by {holder_text} after waiting {wait:.0f} s: nothing was written. "
                f"Run again once it is done; if that run is surely gone, delete {store.uri(key)} "
                f"(or wait {ttl:.0f} s after its last refresh); {WAIT_ENV} sets the wait"
            )
        if now >= next_word:
            say(f"{where} is being built by {holder_text}; waiting up to {deadline - now:.0f} s more")
            next_word = now + PROGRESS_EVERY
        time.sleep(min(poll, max(deadline - now, 0.01)))
    stop = threading.Event()
    held = {"version": version, "lost": False}

    def refresh() -> None:
        while not stop.wait(ttl / 4):
            fresh = Holder(**{**asdict(me), "refreshed_at": time.time()})
            new = backend.replace(held["version"], fresh.encode())
            if new is None:
                held["lost"] = True
                say(f"{where}: the lock of {me.describe()} was taken over by another run")
                return
            held["version"] = new

    beat = threading.Thread(target=refresh, name=f"lock-{name}", daemon=True)
    beat.start()
    try:
        yield me
    finally:
        stop.set()
        beat.join()
        if not held["lost"]:
            backend.delete(held["version"])


def _mtime(backend) -> float:
    if isinstance(backend, _LocalBackend):
        try:
            return backend.path.stat().st_mtime
        except FileNotFoundError:
            return time.time()
    try:
        return backend.client.head_object(Bucket=backend.bucket, Key=backend.key)["LastModified"].timestamp()
    except backend.client.exceptions.ClientError:
        return time.time()

"""Wake Dagster for an AWS trigger, and let it sleep again when the work is done.

The cloud deployment keeps no server running between runs. The daily schedule and every
delivered file (EventBridge) start one Fargate task that runs

    python -m infra.wake

It turns the project's schedules and sensors on the first time ever (an operator who turns
one off later is obeyed), runs the Dagster daemon, which does what it does locally (the
schedule's tick, the landing sensor, the marts' automation, the feeds sensor, the run queue),
and stops it once no run has been queued or running for a quiet period. Each run is a
Fargate task of its own (the ECS run launcher in infra/dagster.yaml), so partitions and
suppliers fan out across containers.

One daemon at a time: a Postgres advisory lock (a file lock on a local instance). A trigger
that finds a daemon awake records that it came and exits; the awake daemon stays up for it.

Settings (environment): WAKE_QUIET_SECONDS (300), WAKE_MAX_SECONDS (14400), WAKE_POLL_SECONDS (15).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from orchestration.lib.paths import WORKSPACE_FILE

TARGET = ["-w", str(WORKSPACE_FILE)]  # the code location, named supplyloop as in `make ui`
LOCK_KEY = 0x5EB1_0001  # the advisory lock every waker of this instance contends for
MARK, AUTOMATION_ON = "woken", "automation_on"


def log(message: str) -> None:
    print(f"wake: {message}", file=sys.stderr, flush=True)


class Presence(Protocol):
    """Who is awake, and when a trigger last came, shared by every waker of one instance."""

    def acquire(self) -> bool: ...
    def release(self) -> None: ...
    def note(self, name: str) -> None: ...
    def noted(self, name: str) -> float: ...


class PostgresPresence:
    """The instance's own Postgres: an advisory lock held by the awake daemon, notes in a small table."""

    def __init__(self, env: dict[str, str]):
        import psycopg2

        self._db = psycopg2.connect(
            host=env["DAGSTER_PG_HOST"],
            port=int(env.get("DAGSTER_PG_PORT", "5432")),
            dbname=env["DAGSTER_PG_DB"],
            user=env["DAGSTER_PG_USERNAME"],
            password=env["DAGSTER_PG_PASSWORD"],
            sslmode=env.get("DAGSTER_PG_SSLMODE", "require"),
        )
        self._db.autocommit = True
        self._sql("CREATE TABLE IF NOT EXISTS supplyloop_wake (name text PRIMARY KEY, at double precision NOT NULL)")

    def _sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        with self._db.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def acquire(self) -> bool:
        return bool(self._sql("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))[0][0])

    def release(self) -> None:
        self._sql("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))

    def note(self, name: str) -> None:
        self._sql(
            "INSERT INTO supplyloop_wake (name, at) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE SET at = EXCLUDED.at",
            (name, time.time()),
        )

    def noted(self, name: str) -> float:
        rows = self._sql("SELECT at FROM supplyloop_wake WHERE name = %s", (name,))
        return rows[0][0] if rows else 0.0


class FilePresence:
    """A local instance (no Postgres): a lock file and note files in DAGSTER_HOME."""

    def __init__(self, home: Path):
        self._home = home
        home.mkdir(parents=True, exist_ok=True)
        self._lock = None

    def acquire(self) -> bool:
        handle = open(self._home / ".wake.lock", "a")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._lock = handle
        return True

    def release(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def note(self, name: str) -> None:
        (self._home / f".wake-{name}").write_text(repr(time.time()))

    def noted(self, name: str) -> float:
        path = self._home / f".wake-{name}"
        return float(path.read_text()) if path.exists() else 0.0


def presence_from_env(env: dict[str, str] | None = None) -> Presence:
    env = dict(os.environ if env is None else env)
    if env.get("DAGSTER_PG_HOST"):
        return PostgresPresence(env)
    return FilePresence(Path(env.get("DAGSTER_HOME") or Path.home() / ".dagster"))


@dataclass(frozen=True)
class Timing:
    quiet: float = 300.0  # longer than a sensor's interval plus the gap between a run and the next
    limit: float = 4 * 3600.0
    poll: float = 15.0

    @classmethod
    def from_env(cls) -> Timing:
        return cls(
            quiet=float(os.environ.get("WAKE_QUIET_SECONDS", cls.quiet)),
            limit=float(os.environ.get("WAKE_MAX_SECONDS", cls.limit)),
            poll=float(os.environ.get("WAKE_POLL_SECONDS", cls.poll)),
        )


def should_sleep(now: float, started: float, last_activity: float, timing: Timing) -> bool:
    """Quiet for long enough, or awake for too long (the next trigger wakes it again)."""
    return now - last_activity >= timing.quiet or now - started >= timing.limit


def busy_runs() -> int:
    """Runs queued, starting or running on the instance (each in its own task)."""
    import dagster as dg

    statuses = [
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    with dg.DagsterInstance.get() as instance:
        return instance.get_runs_count(dg.RunsFilter(statuses=statuses))


def dagster_cli(program: str, *args: str) -> list[str]:
    """A Dagster command of this environment, with default signal handling (so that it stops on
    SIGINT and SIGTERM even when its parent was started as a background shell job)."""
    return ["env", "--default-signal=INT,TERM", str(Path(sys.executable).with_name(program)), *args]


def turn_automation_on() -> None:
    """The project's schedules and sensors, all on: the cloud deployment runs them unattended."""
    for kind in ("schedule", "sensor"):
        done = subprocess.run(
            dagster_cli("dagster", kind, "start", "--start-all", *TARGET), capture_output=True, text=True
        )
        log(f"{kind}s turned on" if done.returncode == 0 else f"{kind}s not turned on: {done.stderr.strip()[-500:]}")


def start_daemon() -> subprocess.Popen:
    return subprocess.Popen(dagster_cli("dagster-daemon", "run", *TARGET))


def stop(process: subprocess.Popen, grace: float = 30.0) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue


def wake(
    reason: str,
    presence: Presence,
    timing: Timing,
    *,
    busy: Callable[[], int] = busy_runs,
    daemon: Callable[[], subprocess.Popen] = start_daemon,
    enable: Callable[[], None] = turn_automation_on,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Keep the daemon awake while there is work; 0 when it went back to sleep, else the daemon's code."""
    presence.note(MARK)
    while True:
        if not presence.acquire():
            log(f"{reason}: a daemon is already awake and stays up for this trigger")
            return 0
        try:
            if not presence.noted(AUTOMATION_ON):
                enable()
                presence.note(AUTOMATION_ON)
            seen = presence.noted(MARK)
            log(f"{reason}: daemon starting")
            process = daemon()
            started = last_activity = clock()
            try:
                while not should_sleep(clock(), started, last_activity, timing):
                    sleep(timing.poll)
                    if process.poll() is not None:
                        log(f"daemon stopped by itself (exit {process.returncode})")
                        return process.returncode or 1
                    mark = presence.noted(MARK)
                    if mark > seen or busy():
                        seen, last_activity = max(seen, mark), clock()
            finally:
                stop(process)
            log(f"quiet for {timing.quiet:.0f}s: daemon stopped")
        finally:
            presence.release()
        # a trigger that came after the last look found the lock still held: wake again for it
        if presence.noted(MARK) <= seen:
            return 0
        log("a trigger came while going to sleep: waking again")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.wake", description=__doc__.split("\n\n")[0])
    parser.add_argument("reason", nargs="?", default="trigger", help="what woke it, for the log")
    args = parser.parse_args(argv)
    return wake(args.reason, presence_from_env(), Timing.from_env())


if __name__ == "__main__":
    sys.exit(main())

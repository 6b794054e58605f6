"""Waking Dagster for a trigger: the daemon stays up while there is work, one at a time, then sleeps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from infra.wake import AUTOMATION_ON, MARK, FilePresence, Timing, should_sleep, wake
from orchestration.lib.paths import PROJECT_ROOT

TIMING = Timing(quiet=60, limit=3600, poll=10)


class Clock:
    """Time that moves only when the waker sleeps; things scheduled to happen at given times."""

    def __init__(self):
        self.now = 0.0
        self.events: dict[float, list] = {}

    def at(self, when: float, action) -> None:
        self.events.setdefault(when, []).append(action)

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        for when in sorted(t for t in self.events if t <= self.now):
            for action in self.events.pop(when):
                action()


class Presence:
    """The shared lock and notes, in memory."""

    def __init__(self, clock: Clock):
        self.clock, self.locked, self.notes, self.on_release = clock, False, {}, []

    def acquire(self) -> bool:
        if self.locked:
            return False
        self.locked = True
        return True

    def release(self) -> None:
        self.locked = False
        while self.on_release:
            self.on_release.pop()()

    def note(self, name: str) -> None:
        self.notes[name] = self.clock.now + 0.001 * len(self.notes.get("_count", ""))
        self.notes["_count"] = self.notes.get("_count", "") + "x"

    def noted(self, name: str) -> float:
        return self.notes.get(name, 0.0)


class Daemon:
    def __init__(self, exit_code=None):
        self.returncode, self.signals = exit_code, []

    def poll(self):
        return self.returncode

    def send_signal(self, sig):
        self.signals.append(sig)
        self.returncode = 0

    def wait(self, timeout=None):
        return self.returncode


@pytest.fixture
def world():
    clock = Clock()
    presence = Presence(clock)
    started, enabled = [], []

    def run(reason="schedule", busy=lambda: 0, exit_code=None):
        def daemon():
            started.append(Daemon(exit_code))
            return started[-1]

        return wake(
            reason,
            presence,
            TIMING,
            busy=busy,
            daemon=daemon,
            enable=lambda: enabled.append(clock.now),
            clock=lambda: clock.now,
            sleep=clock.sleep,
        )

    return clock, presence, started, enabled, run


@pytest.mark.parametrize(
    ("now", "last_activity", "asleep"),
    [(30, 0, False), (60, 0, True), (100, 50, False), (3600, 3590, True)],
)
def test_it_sleeps_after_a_quiet_period_or_at_the_time_limit(now, last_activity, asleep):
    assert should_sleep(now, 0, last_activity, TIMING) is asleep


def test_with_nothing_to_do_the_daemon_stops_after_the_quiet_period(world):
    clock, presence, started, enabled, run = world
    assert run() == 0
    assert clock.now == 60 and len(started) == 1 and started[0].signals
    assert not presence.locked


def test_queued_or_running_runs_keep_it_awake(world):
    clock, _, _, _, run = world
    assert run(busy=lambda: 1 if clock.now < 200 else 0) == 0
    assert clock.now == 250  # the last busy look at 190, then a quiet minute


def test_a_trigger_while_awake_keeps_it_up_and_the_second_waker_leaves_at_once(world):
    clock, presence, started, _, run = world
    second = []
    clock.at(30, lambda: second.append(run("landing")))
    assert run() == 0
    assert second == [0] and len(started) == 1
    assert clock.now == 90  # a quiet minute after the second trigger


def test_schedules_and_sensors_are_turned_on_only_the_first_time(world):
    clock, presence, _, enabled, run = world
    run()
    run()
    assert enabled == [0.0] and presence.noted(AUTOMATION_ON)


def test_a_trigger_that_comes_while_it_goes_to_sleep_wakes_it_again(world):
    clock, presence, started, _, run = world
    presence.on_release.append(lambda: presence.note(MARK))
    assert run() == 0
    assert len(started) == 2


def test_a_daemon_that_dies_is_reported_and_the_lock_freed(world):
    _, presence, _, _, run = world
    assert run(exit_code=3) == 3
    assert not presence.locked


def test_on_a_local_instance_one_waker_holds_the_lock_at_a_time(tmp_path):
    first, second = FilePresence(tmp_path), FilePresence(tmp_path)
    assert first.acquire() and not second.acquire()
    first.release()
    assert second.acquire()
    second.note(MARK)
    assert first.noted(MARK) > 0 and first.noted(AUTOMATION_ON) == 0


@pytest.mark.slow
def test_a_real_daemon_wakes_turns_the_sensors_on_and_goes_back_to_sleep(tmp_path):
    import dagster as dg

    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LAKE_ROOT": str(tmp_path / "lake"),
        "WAKE_QUIET_SECONDS": "5",
        "WAKE_POLL_SECONDS": "1",
    }
    env.pop("DAGSTER_PG_HOST", None)
    done = subprocess.run(
        [sys.executable, "-m", "infra.wake", "schedule"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "daemon stopped" in done.stderr
    assert FilePresence(home).noted(AUTOMATION_ON)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        states = {s.name: s.status.value for s in instance.all_instigator_state()}
    assert states.get("landing_files") == "RUNNING" and states.get("daily_ingest_schedule") == "RUNNING", states

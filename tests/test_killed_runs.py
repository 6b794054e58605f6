"""`supplyloop run` killed, stopped or kept waiting on a shared local Dagster instance (the
instance `make run` writes: concurrency pools limited to one slot): a killed run never wedges
the next one, a wait for a slot is bounded and reported, and SIGTERM stops a waiting run."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from orchestration.lib.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

INSTANCE_YAML = "telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n"
MARTS = "materializing supply-demand marts"
# a live run of the same instance that holds the warehouse pool's slot and does nothing
HOLDER = """
import sys, time
import dagster as dg
from orchestration.lib.slots import process_tags

@dg.asset(pool="warehouse")
def holds_the_warehouse():
    print("holding the warehouse slot", file=sys.stderr, flush=True)
    time.sleep(600)

dg.materialize([holds_the_warehouse], instance=dg.DagsterInstance.get(), tags=process_tags())
"""
# `supplyloop run` with its own wait for a slot left out, so that Dagster's executor waits
WITHOUT_OWN_WAIT = """
import sys
from orchestration.lib import slots
slots.wait_for_slot = lambda *args, **kwargs: 0.0
from orchestration.cli import main
sys.exit(main(sys.argv[1:]))
"""


class Cli:
    """`supplyloop run` in its own process, its stderr collected as it comes."""

    def __init__(self, lake: Path | None, home: Path, command: list[str] | None = None, **env: str):
        environment = {
            k: v
            for k, v in os.environ.items()
            if k not in ("LAKE_ROOT", "LANDING_ROOT", "FEEDS_ROOT", "PARTNER_FEEDS_ROOT")
        }
        environment.update(env, DAGSTER_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT))
        command = command or [sys.executable, "-m", "orchestration.cli"]
        arguments = ["--lake", str(lake), "run", "--preset", "tiny"] if lake else []
        self.process = subprocess.Popen(
            [*command, *arguments],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, words: str, timeout: float) -> float:
        """Seconds until a line with ``words`` appeared (fails when the run ends or time runs out)."""
        started = time.monotonic()
        while words not in self.text:
            assert self.process.poll() is None, f"the run ended before {words!r}:\n{self.text[-3000:]}"
            assert time.monotonic() - started < timeout, f"no {words!r} within {timeout} s:\n{self.text[-3000:]}"
            time.sleep(0.2)
        return time.monotonic() - started

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the run did not end within {timeout} s (wedged):\n{self.text[-3000:]}")
        self._reader.join(10)
        return code


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory) -> Path:
    """A lake holding the tiny demo's deliveries only."""
    lake = tmp_path_factory.mktemp("demo") / "lake"
    subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "--lake", str(lake), "demo", "--preset", "tiny"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        check=True,
        capture_output=True,
    )
    return lake


@pytest.fixture
def instance_home(tmp_path) -> Path:
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    return home


def _copy(lake: Path, to: Path) -> Path:
    shutil.copytree(lake, to)
    return to


def test_a_run_killed_while_dbt_builds_does_not_wedge_the_next_run(demo_lake, instance_home, tmp_path):
    lake = _copy(demo_lake, tmp_path / "lake")
    killed = Cli(lake, instance_home)
    killed.wait_for(MARTS, timeout=240)
    killed.wait_for("[1/", timeout=240)  # dbt built a first model: the run holds the warehouse pool's one slot
    killed.process.send_signal(signal.SIGKILL)
    killed.finish(30)
    dead = killed.process.pid

    after = Cli(lake, instance_home)
    code = after.finish(timeout=300)
    assert code == 0, after.text[-3000:]
    assert f"its process {dead} is gone: marked failed, its slot freed" in after.text
    marts = [line for line in after.text.split(MARTS, 1)[1].splitlines() if line.startswith("  ")]
    finished = [i for i, line in enumerate(marts) if line.startswith("  ok in")]
    assert finished, after.text[-3000:]
    # the build went straight through: dbt's progress lines, and no wait for the dead run's slot
    assert not [line for line in marts[: finished[0]] if "waiting" in line], after.text[-3000:]


def test_a_wait_for_the_slot_of_a_live_run_is_reported_bounded_and_stopped_by_sigterm(
    demo_lake, instance_home, tmp_path
):
    holder = Cli(None, instance_home, command=[sys.executable, "-c", HOLDER])
    lake = _copy(demo_lake, tmp_path / "lake")
    try:
        holder.wait_for("holding the warehouse slot", timeout=120)
        bounded = Cli(lake, instance_home, SUPPLYLOOP_SLOT_WAIT="4")
        assert bounded.finish(timeout=240) == 1
        assert "the 'warehouse' pool's slot is still held by run" in bounded.text
        assert f"process {holder.process.pid} on " in bounded.text
        assert "nothing was started" in bounded.text

        # the CLI's own wait, then Dagster's (another run may take the slot between the two)
        for command in (None, [sys.executable, "-c", WITHOUT_OWN_WAIT]):
            waiting = Cli(lake, instance_home, command=command)
            waiting.wait_for(MARTS, timeout=240)
            if command is None:
                waiting.wait_for("waiting for the 'warehouse' pool's slot, held by run", timeout=30)
            else:
                time.sleep(8)  # Dagster's executor is waiting for the slot
            waiting.process.send_signal(signal.SIGTERM)
            started = time.monotonic()
            assert waiting.finish(timeout=30) == 128 + signal.SIGTERM, waiting.text[-3000:]
            assert time.monotonic() - started < 10
            assert "supplyloop run: stopped by SIGTERM" in waiting.text
    finally:
        holder.process.kill()
        holder.finish(30)

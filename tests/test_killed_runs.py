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


class Cli:
    """`supplyloop run` in its own process, its stderr collected as it comes."""

    def __init__(self, lake: Path, home: Path, **env: str):
        environment = {k: v for k, v in os.environ.items() if k not in ("LAKE_ROOT", "LANDING_ROOT", "FEEDS_ROOT")}
        environment.update(env, DAGSTER_HOME=str(home), PYTHONPATH=str(PROJECT_ROOT))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", "--lake", str(lake), "run", "--preset", "tiny"],
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
    time.sleep(3)  # dbt is building, and the run holds the warehouse pool's one slot
    killed.process.send_signal(signal.SIGKILL)
    killed.finish(30)
    dead = killed.process.pid

    after = Cli(lake, instance_home)
    code = after.finish(timeout=300)
    assert code == 0, after.text[-3000:]
    assert f"its process {dead} is gone: marked failed, its slot freed" in after.text
    marts = [line for line in after.text.split(MARTS, 1)[1].splitlines() if line.startswith("  ")]
    assert marts[0].startswith("  ok in"), after.text[-3000:]


def test_a_wait_for_the_slot_of_a_live_run_is_reported_bounded_and_stopped_by_sigterm(
    demo_lake, instance_home, tmp_path
):
    holder = Cli(_copy(demo_lake, tmp_path / "one"), instance_home)
    try:
        holder.wait_for(MARTS, timeout=240)
        time.sleep(2)
        holder.process.send_signal(signal.SIGSTOP)  # alive, and holding the slot, but not moving
        bounded = Cli(_copy(demo_lake, tmp_path / "two"), instance_home, SUPPLYLOOP_SLOT_WAIT="4")
        assert bounded.finish(timeout=240) == 1
        assert "the 'warehouse' pool's slot is still held by run" in bounded.text
        assert f"process {holder.process.pid} on " in bounded.text
        assert "nothing was started" in bounded.text

        waiting = Cli(tmp_path / "two", instance_home)
        waiting.wait_for("waiting for the 'warehouse' pool's slot, held by run", timeout=240)
        waiting.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert waiting.finish(timeout=30) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 10
        assert "supplyloop run: stopped by SIGTERM" in waiting.text
    finally:
        holder.process.send_signal(signal.SIGCONT)
        holder.process.kill()
        holder.finish(30)

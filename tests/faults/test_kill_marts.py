"""SIGKILL of `supplyloop run` at a random point of the marts build (finding 1 of issue 17): the
last warehouse and feeds stay published, and the next run on the same Dagster instance
completes by itself, to the same data."""

from __future__ import annotations

import random

import pytest

from tests.faults import harness
from tests.faults.test_kills import NEXT_RUN, _differences, _tail

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("seed", harness.seeds(1))
def test_a_run_killed_while_the_marts_build_keeps_the_last_warehouse_and_the_next_run_completes(
    seed, reference, tmp_path
):
    rng = random.Random(f"marts-{seed}")
    lake = harness.copy_lake(reference.lake, tmp_path / "lake")
    env = harness.environment(tmp_path / "dagster")  # the killed run and the next share an instance
    killed = harness.run(
        harness.cli_command(lake, "run"),
        env,
        timeout=NEXT_RUN,
        marker=harness.MARTS_MARKER,
        kill_after=rng.uniform(0, reference.marts_seconds),
    )
    check = harness.Check("kill: marts build (supplyloop run)", seed)
    check.expect(killed.killed or killed.returncode == 0, f"the run failed before the kill:\n    {_tail(killed)}")
    check.expect(
        harness.warehouse_rows(lake) == reference.warehouse, "the published warehouse is not the last good one"
    )
    check.violations += harness.unreadable_files(lake, (*harness.DATA_LAYERS, "marts"))
    check.violations += harness.feed_problems(lake, {s: {v} for s, v in reference.feeds.items()})
    again = harness.run(harness.cli_command(lake, "run"), env, timeout=NEXT_RUN)
    check.expect(again.returncode == 0, f"the next run did not complete by itself:\n    {_tail(again)}")
    check.expect(harness.warehouse_rows(lake) == reference.warehouse, "the rebuilt warehouse differs from the last")
    check.violations += _differences(harness.digests(lake), reference.bronze)
    # identical data publishes no new feed version
    check.violations += harness.feed_problems(lake, {s: {v} for s, v in reference.feeds.items()})
    report = check.done()
    assert not report, report

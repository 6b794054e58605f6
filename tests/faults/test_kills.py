"""SIGKILL at a random point of ingestion, feed publishing and the marts build, then the invariants.

Each attempt kills the stage's whole process group after a delay drawn from its seed within
the stage's measured duration, then checks: every bronze and quarantine file reads;
accepted + quarantined = delivered for every file present (the demo's truth); the published
warehouse and every ``latest.json`` are the last good ones, whole; the next run completes
without help within a timeout; and what it leaves is byte for byte what an uninterrupted
run leaves. ``SUPPLYLOOP_FAULTS=full`` runs 20 seeds per stage instead of a few.
"""

from __future__ import annotations

import random

import pytest

from tests.faults import harness
from tests.faults.conftest import feed_digests

pytestmark = pytest.mark.slow

NEXT_RUN = 240  # seconds the next run may take before it counts as wedged (an uninterrupted one: about 40)


def _tail(done: harness.Run) -> str:
    return done.output[-1500:].strip().replace("\n", "\n    ")


def _differences(got: dict[str, str], want: dict[str, str]) -> list[str]:
    changed = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
    return [f"{len(changed)} file(s) differ from the uninterrupted run: {changed[:5]}"] if changed else []


@pytest.mark.parametrize("seed", harness.seeds(2))
def test_an_ingest_killed_at_any_point_leaves_whole_partitions_and_the_next_run_converges(seed, ingest_base, tmp_path):
    rng = random.Random(f"ingest-{seed}")
    # every other attempt kills a run over a lake that holds every partition already
    lake = harness.copy_lake(ingest_base.finished if seed % 2 else ingest_base.lake, tmp_path / "lake")
    env = harness.environment()
    killed = harness.run(
        harness.stage_command("ingest", lake), env, timeout=120, kill_after=rng.uniform(0, ingest_base.work_seconds)
    )
    check = harness.Check("kill: ingest (lib)", seed)
    check.expect(killed.killed or killed.returncode == 0, f"the ingest failed before the kill:\n    {_tail(killed)}")
    check.violations += harness.unreadable_files(lake)
    check.violations += harness.accounting(lake, complete=False)
    again = harness.run(harness.stage_command("ingest", lake), env, timeout=NEXT_RUN)
    check.expect(again.returncode == 0, f"the next ingest did not complete by itself:\n    {_tail(again)}")
    check.violations += harness.accounting(lake, complete=True)
    check.violations += _differences(harness.digests(lake), ingest_base.digests)
    report = check.done()
    assert not report, report


@pytest.mark.parametrize("seed", harness.seeds(2))
def test_a_feed_publication_killed_at_any_point_keeps_each_last_good_feed_and_the_next_run_converges(
    seed, feeds_base, reference, tmp_path
):
    rng = random.Random(f"feeds-{seed}")
    lake = harness.copy_lake(feeds_base.lake, tmp_path / "lake")
    env = harness.environment()
    killed = harness.run(
        harness.stage_command("feeds", lake), env, timeout=120, kill_after=rng.uniform(0, feeds_base.work_seconds)
    )
    check = harness.Check("kill: feed publishing (lib)", seed)
    check.expect(killed.killed or killed.returncode == 0, f"publishing failed before the kill:\n    {_tail(killed)}")
    either = {s: {v, reference.feeds[s]} for s, v in feeds_base.before.items()}
    check.violations += harness.feed_problems(lake, either)
    again = harness.run(harness.stage_command("feeds", lake), env, timeout=NEXT_RUN)
    check.expect(again.returncode == 0, f"the next publication did not complete by itself:\n    {_tail(again)}")
    check.violations += harness.feed_problems(lake, {s: {v} for s, v in reference.feeds.items()})
    check.violations += _differences(feed_digests(lake, reference.feeds), feeds_base.digests)
    report = check.done()
    assert not report, report


@pytest.mark.parametrize("seed", harness.seeds(2))
def test_a_partner_feeds_publication_killed_at_any_point_keeps_each_last_good_feed_and_the_next_run_converges(
    seed, partner_feeds_base, tmp_path
):
    rng = random.Random(f"partner-feeds-{seed}")
    base = partner_feeds_base
    lake = harness.copy_lake(base.lake, tmp_path / "lake")
    newest = harness.published_feeds(base.finished, "partner_feeds")
    env = harness.environment()
    killed = harness.run(
        harness.stage_command("partner_feeds", lake), env, timeout=120, kill_after=rng.uniform(0, base.work_seconds)
    )
    check = harness.Check("kill: partner feed publishing (lib)", seed)
    check.expect(killed.killed or killed.returncode == 0, f"publishing failed before the kill:\n    {_tail(killed)}")
    either = {p: {v, newest[p]} for p, v in base.before.items()}
    check.violations += harness.feed_problems(lake, either, "partner_feeds")
    again = harness.run(harness.stage_command("partner_feeds", lake), env, timeout=NEXT_RUN)
    check.expect(again.returncode == 0, f"the next publication did not complete by itself:\n    {_tail(again)}")
    check.violations += harness.feed_problems(lake, {p: {v} for p, v in newest.items()}, "partner_feeds")
    check.violations += _differences(feed_digests(lake, newest, "partner_feeds"), base.digests)
    report = check.done()
    assert not report, report

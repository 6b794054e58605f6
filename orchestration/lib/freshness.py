"""Is a daily source's data fresh? The newest business day in bronze against the one that is due.

A run that wrote nothing new is no fresh data: what counts is the newest day partition of
bronze that holds rows (read from Parquet footers, newest first), judged against the day
that should be there by now. Yesterday, in the source's time zone, is due by ``fresh_by``
(sources.yaml, default 09:00); before that time the day before yesterday is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from orchestration.lib.lake import LakeStore
from orchestration.lib.landing import bronze_days
from orchestration.lib.sources import Source

LOOK_BACK = 92  # day partitions read, newest first, for one with rows (a quarter)


@dataclass(frozen=True)
class Freshness:
    """One daily source's newest day with rows, against the day due when it was judged."""

    source: str
    newest: date | None
    expected: date
    deadline: str  # e.g. "09:00 Asia/Shanghai"
    judged_at: datetime

    @property
    def days_behind(self) -> int | None:
        return None if self.newest is None else max(0, (self.expected - self.newest).days)

    @property
    def fresh(self) -> bool:
        return self.newest is not None and self.newest >= self.expected

    def describe(self) -> str:
        due = f"{self.expected} is due by {self.deadline}"
        if self.newest is None:
            return f"{self.source}: no day in bronze holds rows; {due}"
        if self.fresh:
            return f"{self.source}: newest day {self.newest}; {due}"
        behind = self.days_behind
        return (
            f"{self.source}: newest day {self.newest}, {behind} day{'s' if behind != 1 else ''} behind; {due}: "
            "deliver the missing days into the landing zone and ingest them"
        )


def expected_day(source: Source, now: datetime) -> date:
    """The newest day that must be in bronze at ``now``: yesterday (local) once ``fresh_by`` has passed."""
    local = now.astimezone(ZoneInfo(source.timezone))
    hour, minute = (int(part) for part in source.fresh_by.split(":"))
    lag = 1 if local.time() >= time(hour, minute) else 2
    return local.date() - timedelta(days=lag)


def newest_day_with_rows(store: LakeStore, source: Source, look_back: int = LOOK_BACK) -> date | None:
    """The newest day partition of bronze that holds rows; None when none of the newest ``look_back`` does."""
    for day in bronze_days(store, source)[::-1][:look_back]:
        for f in store.list_files(f"{source.bronze_dir}/day={day.isoformat()}", "*.parquet"):
            if store.parquet_metadata(f.path).num_rows:
                return day
    return None


def judge_freshness(store: LakeStore, source: Source, now: datetime | None = None) -> Freshness:
    now = now or datetime.now(UTC)
    return Freshness(
        source=source.name,
        newest=newest_day_with_rows(store, source),
        expected=expected_day(source, now),
        deadline=f"{source.fresh_by} {source.timezone}",
        judged_at=now,
    )

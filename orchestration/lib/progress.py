"""Progress of long steps, told as they go: steady lines, never one per item of a long range.

``supplyloop run`` and the Dagster UI's compute logs show these lines (stderr), so a step
that takes minutes is never silent, and a step of hundreds of days never floods the screen.
"""

from __future__ import annotations

import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TextIO

# a run tagged so (``supplyloop run`` tags its runs) keeps its console to the compact lines:
# dbt's full output goes only to the build's log file, not to stdout as well
CONSOLE_TAG = "supplyloop/console"
CONSOLE_COMPACT = "compact"


def stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def count(n: int) -> str:
    """A count for a progress line: 987, 45.7K, 1.2M."""
    if n < 10_000:
        return f"{n:,}"
    if n < 1_000_000:
        return f"{n / 1000:.1f}K".replace(".0K", "K")
    return f"{n / 1_000_000:.1f}M"


class DayProgress:
    """One source's days, as they are done: a line to begin, a line at most every ``every``
    seconds and at most ``at_most`` in all, and a closing line with the exact totals.

    ``ingesting sales/order_lines: days 2026-05-01..2026-11-21 (205 days)``
    ``  sales/order_lines: 120/205 days, 176K rows, 40 s``
    ``  sales/order_lines: 205 days, 300,829 rows accepted, 12 quarantined in 68 s``
    """

    def __init__(
        self,
        label: str,
        days: list[date],
        say: Callable[[str], None] = stderr_line,
        every: float = 10.0,
        at_most: int = 10,
        clock: Callable[[], float] = time.monotonic,
        verb: str = "ingesting",
    ):
        self.label, self.total, self.say, self.every, self.clock = label, len(days), say, every, clock
        self.step = max(1, -(-self.total // at_most))  # days between two lines, at the least
        self.done = self.accepted = self.quarantined = self.rejected_files = 0
        self.started = self.last_time = clock()
        self.last_done = 0
        span = f"{days[0]}..{days[-1]} " if days else ""
        say(f"{verb} {label}: days {span}({self.total} day{'s' if self.total != 1 else ''})")

    def day(self, accepted: int, quarantined: int = 0, rejected_files: int = 0) -> None:
        self.done += 1
        self.accepted += accepted
        self.quarantined += quarantined
        self.rejected_files += rejected_files
        now = self.clock()
        if self.done < self.total and now - self.last_time >= self.every and self.done - self.last_done >= self.step:
            self.last_time, self.last_done = now, self.done
            rows = count(self.accepted + self.quarantined)
            self.say(f"  {self.label}: {self.done}/{self.total} days, {rows} rows, {now - self.started:.0f} s")

    def finish(self) -> str:
        """The closing line: days, rows accepted and quarantined, files rejected whole, time."""
        line = (
            f"  {self.label}: {self.done} day{'s' if self.done != 1 else ''}, {self.accepted:,} rows accepted, "
            f"{self.quarantined:,} quarantined"
            + (
                f", {self.rejected_files} file{'s' if self.rejected_files != 1 else ''} rejected"
                if self.rejected_files
                else ""
            )
            + f" in {self.clock() - self.started:.0f} s"
        )
        self.say(line)
        return line


ANSI = re.compile(r"\x1b\[[0-9;]*m")
MODEL_RESULTS = ("LogModelResult", "LogSeedResult", "LogSnapshotResult")
# the end-of-run summary repeats each test that did not pass (its own line is enough); a
# model's error text comes only there (RunResultError), so that one shows
SUMMARY_EVENTS = ("RunResultFailure", "RunResultWarning", "EndOfRunSummary")


class TextLog:
    """dbt's lines as it prints them, into a log file, each with the time it arrived; without
    the terminal's colours. Also to ``echo`` (e.g. stdout, for a run's compute logs) when given."""

    def __init__(self, path: Path, echo: TextIO | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.echo = path, echo
        self._file = path.open("a", encoding="utf-8")
        self._pending = ""

    def write(self, text: str) -> int:
        if self.echo is not None:
            self.echo.write(text)
        *lines, self._pending = (self._pending + text).split("\n")
        stamp = time.strftime("%H:%M:%S")
        for line in lines:
            self._file.write(f"{stamp}  {ANSI.sub('', line)}\n")
        return len(text)

    def flush(self) -> None:
        self._file.flush()
        if self.echo is not None:
            self.echo.flush()

    def close(self) -> None:
        if self._pending:
            self.write("\n")
        self._file.close()

    def __enter__(self) -> TextLog:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


class DbtProgress:
    """A dbt build told compactly from its structured events: a line per model as it finishes,
    a line per test that did not pass and per error, and a summary naming the full log.

    ``[12/36] marts.daily_demand                          OK      1.2 s  45,678 rows``

    ``models``: how many models the build selected (None: unknown). ``detail(schema, name)``:
    what to show after the time (rows), or None for the model's materialization.
    """

    def __init__(
        self,
        models: int | None,
        log_path: Path,
        say: Callable[[str], None] = stderr_line,
        detail: Callable[[str, str], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.models, self.log_path, self.say, self.detail, self.clock = models, log_path, say, detail, clock
        self.started = clock()
        self.model_status: Counter = Counter()
        self.test_status: Counter = Counter()

    def event(self, raw: dict) -> None:
        """One of dbt's structured (JSON) log events."""
        info, data = raw.get("info", {}), raw.get("data", {})
        name = info.get("name")
        node = data.get("node_info") or {}
        if name in MODEL_RESULTS or (name == "SkippingDetails" and data.get("resource_type") == "model"):
            # on success dbt's status is the adapter's message ("OK", "SELECT 12", ...)
            status = "SKIP" if name == "SkippingDetails" else "ERROR" if info.get("level") == "error" else "OK"
            self._model(node, status, data)
        elif name == "LogTestResult":
            status = str(data.get("status", "")).lower()
            self.test_status[status] += 1
            if status != "pass":
                failures = data.get("num_failures") or 0
                rows = f" ({failures:,} row{'s' if failures != 1 else ''})" if failures else ""
                self._problem(f"test {data.get('name') or node.get('node_name')}: {status.upper()}{rows}")
        elif info.get("level") in ("error", "warn") and name not in SUMMARY_EVENTS:
            message = ANSI.sub("", info.get("msg") or "").strip()
            if message:
                self._problem(message)

    def _model(self, node: dict, status: str, data: dict) -> None:
        self.model_status[status] += 1
        done = sum(self.model_status.values())
        where = f"[{done}/{self.models}]" if self.models and done <= self.models else f"[{done}]"
        relation = node.get("node_relation") or {}
        schema = relation.get("schema") or data.get("schema") or ""
        model = node.get("node_name") or data.get("node_name") or ""
        shown = f"{schema}.{model}" if schema else model
        seconds = data.get("execution_time")
        took = f"{seconds:5.1f} s" if isinstance(seconds, int | float) else " " * 7
        extra = (self.detail(schema, model) if self.detail and status == "OK" else None) or node.get("materialized", "")
        self.say(f"{where:>8} {shown:<52} {status:<6}{took}  {extra}".rstrip())

    def _problem(self, message: str) -> None:
        lines = message.splitlines()
        shown = lines[:6] + ([f"... ({len(lines) - 6} more lines in the log)"] if len(lines) > 6 else [])
        self.say("\n".join(f"  ! {line}" for line in shown))

    def summary(self) -> str:
        """The build in one line, and where its full log is; said, and returned."""
        models = sum(self.model_status.values())
        ok = self.model_status.get("OK", 0)
        tests = sum(self.test_status.values())
        passed = self.test_status.get("pass", 0)

        def others(counts: Counter, good: str) -> str:
            rest = ", ".join(f"{n} {s.upper()}" for s, n in sorted(counts.items()) if s != good)
            return f" ({rest})" if rest else ""

        line = (
            f"dbt build: {ok} of {models} models OK{others(self.model_status, 'OK')}, "
            f"{passed} of {tests} data tests passed{others(self.test_status, 'pass')} "
            f"in {self.clock() - self.started:.1f} s; dbt's full log: {self.log_path}"
        )
        self.say(line)
        return line

"""The business-day partitions every daily fact shares, from the first day delivered.

The start is found when the code location loads: ``$SUPPLYLOOP_FIRST_DAY`` when set, else the
earliest day the landing zone's file names or bronze's day partitions hold (listings only,
bounded in time, so an S3 lake keeps the load cheap), else ``history_start`` of the sources
file (an empty or unreachable lake). The UI then shows the delivered days filled, not a year
of Missing before them. A day delivered later that lies before the start is offered after the
code location reloads (or set ``$SUPPLYLOOP_FIRST_DAY``).
"""

import logging
import threading
from datetime import date

import dagster as dg

from orchestration.lib.lake import LakeStore
from orchestration.lib.landing import first_delivered_day
from orchestration.lib.settings import TIMEZONE_DEFAULT, first_day
from orchestration.lib.sources import daily_sources, history_start

log = logging.getLogger(__name__)
SCAN_SECONDS = 15.0  # the longest the load waits for the lake's listings


def _delivered(seconds: float = SCAN_SECONDS) -> date | None:
    """The first day delivered to the lake, or None when nothing is there, it cannot be listed,
    or listing it takes longer than ``seconds`` (a warning says why)."""
    found: list[date | None] = []

    def scan() -> None:
        try:
            found.append(first_delivered_day(LakeStore(), daily_sources()))
        except Exception as err:  # noqa: BLE001 - the code location loads anyway, from history_start
            log.warning("the daily partitions start at history_start: the lake could not be listed (%s)", err)

    worker = threading.Thread(target=scan, name="first-delivered-day", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        log.warning("the daily partitions start at history_start: listing the lake took over %.0f s", seconds)
    return found[0] if found else None


def partitions_start() -> date:
    return first_day() or _delivered() or history_start()


daily_partitions = dg.DailyPartitionsDefinition(
    start_date=partitions_start().isoformat(),
    timezone=TIMEZONE_DEFAULT,
)

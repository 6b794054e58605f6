"""How values are spelled in the landing files, and where the randomness comes from.

Times are local (Asia/Shanghai) wall-clock times; each daily file only holds times of its
own day, so a time is a day plus seconds since local midnight. Money is kept in integer
cents until it is written, so it always has exactly two decimals.
"""

from __future__ import annotations

import zlib
from datetime import date
from decimal import Decimal
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SECONDS_PER_DAY = 86_400
MONEY = pa.decimal128(18, 2)

# The spellings the sources use for a local time; see sources.yaml and the demo README.
TIME_STYLES = {
    "plain": ("%Y-%m-%d ", ""),  # order_lines, live_sessions: 2026-11-11 20:00:00
    "slashes": ("%Y/%m/%d ", ""),  # production_output (MES export): 2026/11/11 08:00:00
    "iso": ("%Y-%m-%dT", ""),  # stock_movements (WMS): 2026-11-11T10:00:00
    "iso_offset": ("%Y-%m-%dT", "+08:00"),  # machine_events: 2026-11-11T08:00:00+08:00
}


def rng_for(seed: int, purpose: str, day: date | None = None) -> np.random.Generator:
    """An independent random stream per purpose (and day): changing one never shifts another."""
    key = [int(seed), zlib.crc32(purpose.encode())]
    if day is not None:
        key.append(day.toordinal())
    return np.random.default_rng(key)


@lru_cache(maxsize=1)
def _clock() -> pa.Array:
    """Every second of a day as HH:MM:SS."""
    return pa.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(SECONDS_PER_DAY)])


def local_times(day: date, seconds: np.ndarray, style: str) -> pa.Array:
    """Local timestamps of one day as text, in one of :data:`TIME_STYLES`."""
    seconds = np.asarray(seconds, dtype=np.int64)
    if seconds.size and (seconds.min() < 0 or seconds.max() >= SECONDS_PER_DAY):
        raise ValueError(f"times for {day} must fall within that local day")
    prefix, suffix = TIME_STYLES[style]
    clock = _clock().take(pa.array(seconds))
    return pc.binary_join_element_wise(day.strftime(prefix), clock, suffix, "")


def local_datetimes(day: date, seconds: np.ndarray) -> pa.Array:
    """Local timestamps of one day as naive Arrow timestamps (for spreadsheets)."""
    midnight = (day - date(1970, 1, 1)).days * SECONDS_PER_DAY
    return pa.array(midnight + np.asarray(seconds, dtype=np.int64), pa.timestamp("s"))


def money(cents: np.ndarray) -> pa.Array:
    """Integer cents as exact two-decimal amounts."""
    as_decimal = pc.cast(pa.array(np.asarray(cents, dtype=np.int64)), pa.decimal128(19, 0))
    return pc.cast(pc.multiply(as_decimal, pa.scalar(Decimal("0.01"), pa.decimal128(3, 2))), MONEY)


def day_ids(prefix: str, day: date, seq: np.ndarray, width: int) -> pa.Array:
    """Readable ids numbered within a day: prefix, YYYYMMDD, zero-padded sequence."""
    seq = np.asarray(seq, dtype=np.int64)
    if seq.size:
        width = max(width, len(str(int(seq.max()))))
    digits = pc.utf8_lpad(pc.cast(pa.array(seq), pa.string()), width, "0")
    return pc.binary_join_element_wise(f"{prefix}{day:%Y%m%d}", digits, "")

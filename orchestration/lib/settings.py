"""The one switch between a local lake and a cloud lake.

Everything that needs to know where the lake lives asks :func:`lake_root`; everything
that talks to S3 asks :func:`s3_endpoint`. Nothing reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from orchestration.lib.paths import DEFAULT_LAKE_DIR, SOURCES_FILE

LAKE_ROOT_ENV = "LAKE_ROOT"
FEEDS_ROOT_ENV = "FEEDS_ROOT"
PARTNER_FEEDS_ROOT_ENV = "PARTNER_FEEDS_ROOT"
LANDING_ROOT_ENV = "LANDING_ROOT"
SOURCES_ENV = "SUPPLYLOOP_SOURCES"
INPUT_GATE_ENV = "SUPPLYLOOP_INPUT_GATE"
INPUT_GATE_MODES = ("last-complete-day", "strict")
TIMEZONE_DEFAULT = "Asia/Shanghai"
FIRST_DAY_ENV = "SUPPLYLOOP_FIRST_DAY"
DOCS_URL_ENV = "SUPPLYLOOP_DOCS_URL"
# where `make ui` serves a local lake's Data Docs (gates/docs/) beside the Dagster UI
DOCS_PORT_DEFAULT = 3001


def sources_file() -> str | Path:
    """The sources this platform delivers: ``$SUPPLYLOOP_SOURCES`` (the platform's own
    file, a path or ``s3://bucket/key``, laid over the built-in one), else the built-in
    ``sources.yaml`` (the demo's)."""
    value = os.environ.get(SOURCES_ENV)
    if not value:
        return SOURCES_FILE
    return value if value.startswith("s3://") else Path(value).expanduser().resolve()


def input_gate_mode() -> str:
    """How the order lines' input gate treats a newest day with no accepted rows:
    ``$SUPPLYLOOP_INPUT_GATE``. ``last-complete-day`` (the default): the feeds are published
    as of the last complete day and the incomplete day is reported; ``strict``: the gate
    fails and no feed is published until the day is re-delivered."""
    value = (os.environ.get(INPUT_GATE_ENV) or INPUT_GATE_MODES[0]).strip().lower()
    if value not in INPUT_GATE_MODES:
        raise ValueError(f"{INPUT_GATE_ENV}={value!r} is not a mode of the input gate; use one of {INPUT_GATE_MODES}")
    return value


def first_day() -> date | None:
    """The first business day the daily partitions offer when set: ``$SUPPLYLOOP_FIRST_DAY``
    (YYYY-MM-DD). Unset, they start at the first day delivered (the code location finds it)."""
    value = (os.environ.get(FIRST_DAY_ENV) or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{FIRST_DAY_ENV}={value!r} is not a day; write it as YYYY-MM-DD, e.g. 2026-05-01") from None


def docs_url(lake_is_s3: bool) -> str | None:
    """The web address the gates' Data Docs site (``<lake>/gates/docs/``) is served at, ending in
    ``/``: ``$SUPPLYLOOP_DOCS_URL``, else for a local lake where ``make ui`` serves it; None for
    an S3 lake without the setting (the UI then shows the pages' places, not links)."""
    value = os.environ.get(DOCS_URL_ENV)
    if value:
        return value.rstrip("/") + "/"
    return None if lake_is_s3 else f"http://127.0.0.1:{DOCS_PORT_DEFAULT}/"


def lake_root() -> str:
    """The lake root: ``$LAKE_ROOT`` (a folder or ``s3://bucket/prefix``), else ``lake/``."""
    return os.environ.get(LAKE_ROOT_ENV) or str(DEFAULT_LAKE_DIR)


def landing_root() -> str | None:
    """Where deliveries land when not under the lake: ``$LANDING_ROOT`` (a folder or
    ``s3://bucket/prefix``, e.g. the bucket factories and channels upload to); None means
    ``<lake>/landing``."""
    return os.environ.get(LANDING_ROOT_ENV) or None


def feeds_root() -> str | None:
    """Where supplier feeds are published when not under the lake: ``$FEEDS_ROOT`` (a folder or
    ``s3://bucket/prefix``, e.g. a bucket each supplier may read its own prefix of); None means
    ``<lake>/feeds``."""
    return os.environ.get(FEEDS_ROOT_ENV) or None


def partner_feeds_root() -> str | None:
    """Where channel-partner feeds are published when not under the lake: ``$PARTNER_FEEDS_ROOT``
    (a folder or ``s3://bucket/prefix``, e.g. the bucket partners read through one shared role,
    each its own prefix); None means ``<lake>/partner_feeds``."""
    return os.environ.get(PARTNER_FEEDS_ROOT_ENV) or None


@dataclass(frozen=True)
class S3Endpoint:
    """Where S3 is: AWS itself (``host`` None) or an S3-compatible store."""

    host: str | None = None
    scheme: str = "https"
    region: str | None = None

    @property
    def url(self) -> str | None:
        return f"{self.scheme}://{self.host}" if self.host else None


def s3_endpoint() -> S3Endpoint:
    """The S3 endpoint from the standard AWS variables.

    ``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``) points at an S3-compatible store
    such as MinIO or a local test server; unset means AWS. Credentials always come from
    the standard AWS chain (environment, profile, instance or task role).
    """
    url = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not url:
        return S3Endpoint(region=region)
    parsed = urlparse(url)
    return S3Endpoint(host=parsed.netloc, scheme=parsed.scheme or "https", region=region)


@contextmanager
def override_environment(values: dict[str, str], unset: tuple[str, ...] = ()) -> Iterator[None]:
    """Set ``values`` and remove ``unset`` in this process's environment for the block, then
    put back exactly what was there."""
    saved = {k: os.environ.get(k) for k in (*values, *unset)}
    for key in unset:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

"""Tell a person: a log line always, and a JSON POST to a webhook when one is configured.

``SUPPLYLOOP_ALERT_WEBHOOK`` (read when an alert fires, never at import) is a URL that
accepts a JSON body, e.g. a chat incoming webhook: ``{"text": message, ...fields}``. A
webhook that is down or slow never stops the run: the failure to deliver is logged too.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request

WEBHOOK_ENV = "SUPPLYLOOP_ALERT_WEBHOOK"
TIMEOUT_SECONDS = 5.0

log = logging.getLogger("supplyloop.alerts")


def alert(message: str, **fields) -> bool:
    """Log ``message`` with ``fields``; POST them to the webhook if set. True when the webhook took it."""
    details = json.dumps(fields, ensure_ascii=False, default=str, sort_keys=True)
    log.error("ALERT %s %s", message, details)
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        return False
    body = json.dumps({"text": message, **fields}, ensure_ascii=False, default=str).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
        return True
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("alert webhook %s did not take the alert (%s); the alert is in this log only", _safe(url), exc)
        return False


def _safe(url: str) -> str:
    """The webhook without its path and query, which often carry a secret token."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/..." if parts.netloc else "(invalid URL)"

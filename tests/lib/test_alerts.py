"""Alerts: always a log line; a JSON POST when a webhook is set; never a crash when it is not there."""

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from orchestration.lib import alerts


class Hook:
    """A webhook on 127.0.0.1 that keeps what it receives and answers ``status`` after ``delay`` seconds."""

    def __init__(self, status: int = 204, delay: float = 0.0):
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.received.append({"body": json.loads(body), "type": self.headers["Content-Type"]})
                time.sleep(delay)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/secret-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_an_alert_without_a_webhook_is_a_log_line(monkeypatch, caplog):
    monkeypatch.delenv(alerts.WEBHOOK_ENV, raising=False)
    with caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        assert alerts.alert("feed of SUP002 not published", supplier_id="SUP002") is False
    assert "ALERT feed of SUP002 not published" in caplog.text and '"supplier_id": "SUP002"' in caplog.text


def test_an_alert_is_posted_as_json_to_the_configured_webhook(monkeypatch, caplog):
    with Hook() as hook, caplog.at_level(logging.ERROR, logger="supplyloop.alerts"):
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)  # read when the alert fires, not at import
        assert alerts.alert("供应商 SUP002 的数据未发布", supplier_id="SUP002", failed=["scoping"]) is True
    (sent,) = hook.received
    assert sent["body"] == {"text": "供应商 SUP002 的数据未发布", "supplier_id": "SUP002", "failed": ["scoping"]}
    assert sent["type"].startswith("application/json")
    assert "ALERT" in caplog.text  # the log line is written as well


@pytest.mark.parametrize("status", [404, 500])
def test_a_webhook_that_refuses_the_alert_does_not_raise(monkeypatch, caplog, status):
    with Hook(status=status) as hook:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, hook.url)
        assert alerts.alert("feed not published") is False
    assert "did not take the alert" in caplog.text and "secret-token" not in caplog.text


def test_a_webhook_that_is_down_or_slow_does_not_hold_up_the_run(monkeypatch, caplog):
    with Hook() as hook:
        down = hook.url
    monkeypatch.setenv(alerts.WEBHOOK_ENV, down)
    assert alerts.alert("feed not published") is False
    monkeypatch.setattr(alerts, "TIMEOUT_SECONDS", 0.2)
    with Hook(delay=2.0) as slow:
        monkeypatch.setenv(alerts.WEBHOOK_ENV, slow.url)
        started = time.perf_counter()
        assert alerts.alert("feed not published") is False
        assert time.perf_counter() - started < 1.5
    assert caplog.text.count("did not take the alert") == 2

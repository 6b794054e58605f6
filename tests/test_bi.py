"""`make bi`: Superset on a tiny demo lake's warehouse with the planners' dashboard loaded; a second
start duplicates nothing, Ctrl-C stops it, and in headless Chromium every chart renders with data.

The test runs the very command a person runs (it installs .venv-bi on a fresh clone, about 80 s)
and a real browser: Debian's Chromium (`apt-get install chromium`, as .ci/run does) driven by
Playwright, with no browser download.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import pytest
import yaml

from orchestration.cli import materialize_all
from orchestration.lib.demo import generate
from orchestration.lib.lake import LakeStore
from orchestration.lib.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow

ASSETS = PROJECT_ROOT / "bi" / "superset" / "assets"
CHROMIUM = Path("/usr/bin/chromium")
# this machine has no network but the package registries: no background calls, no sandbox as root
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
READY = "bi: Ctrl-C stops it"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _assets(kind: str) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((ASSETS / kind).rglob("*.yaml"))]


class MakeBi:
    """`make bi` on a lake, in its own process group, as a terminal would run it."""

    def __init__(self, lake: Path, state: Path, port: int, log: Path):
        self.port, self.log = port, log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                # `make test` may run with SIGINT ignored (a background job): restore it, as a terminal has it
                [
                    "env",
                    "--default-signal=INT,TERM",
                    "make",
                    "--no-print-directory",
                    "bi",
                    f"BI_PORT={port}",
                    f"BI_STATE={state}",
                ],
                cwd=PROJECT_ROOT,
                env={**os.environ, "LAKE_ROOT": str(lake)},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if READY in self.output():
                return time.monotonic() - started
            if self.process.poll() is not None:
                pytest.fail(f"make bi stopped ({self.process.returncode}):\n{self.output()[-4000:]}")
            time.sleep(1)
        pytest.fail(f"make bi was not ready within {timeout:.0f} s:\n{self.output()[-4000:]}")

    def ctrl_c(self, timeout: float = 60) -> float:
        """SIGINT to the whole process group, as Ctrl-C in a terminal; seconds until all of it is gone."""
        started = time.monotonic()
        try:
            os.killpg(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            return 0.0
        self.process.wait(timeout=timeout)
        while time.monotonic() - started < timeout:
            try:
                os.killpg(self.process.pid, 0)  # anyone left in the group (gunicorn's workers)?
            except ProcessLookupError:
                return time.monotonic() - started
            time.sleep(0.2)
        os.killpg(self.process.pid, signal.SIGKILL)
        pytest.fail(f"make bi left processes running {timeout:.0f} s after Ctrl-C")

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def tiny_lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bi") / "lake"
    store = LakeStore(str(root))
    generate(store, preset="tiny", seed=11)
    assert all(r.success for r in materialize_all(store, instance=dg.DagsterInstance.ephemeral()))
    assert (root / "warehouse.duckdb").is_file()
    return root


def _log_in(page, base: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#username", "admin")
    page.fill("#password", "admin")
    page.click("button[type=submit]")
    page.wait_for_url("**/superset/welcome/**", timeout=60_000)


def _api(page, base: str, path: str) -> dict:
    answer = page.request.get(f"{base}/api/v1/{path}")
    assert answer.ok, f"{path}: {answer.status} {answer.text()[:500]}"
    return answer.json()


# every chart on the grid has drawn something: a canvas (ECharts), a table's rows or a big number
DRAWN = """expected => {
  const charts = [...document.querySelectorAll('[data-test="chart-grid-component"]')];
  return charts.length === expected && charts.every(c =>
    c.querySelector('canvas') || c.querySelector('tbody tr') ||
    (c.querySelector('.header-line') && c.querySelector('.header-line').textContent.trim() !== ''));
}"""


@pytest.mark.timeout(1500)
def test_make_bi_serves_the_dashboard_and_every_chart_renders_with_data(tiny_lake, tmp_path):
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    port, state = _free_port(), tmp_path / "superset"
    base = f"http://127.0.0.1:{port}"

    # first start: installs .venv-bi when missing, makes Superset's state, imports the dashboard
    first = MakeBi(tiny_lake, state, port, tmp_path / "make_bi_1.log")
    try:
        first_seconds = first.wait_ready(timeout=900)
        assert f"{base}/superset/dashboard/supply-planning/" in first.output()
        assert "login:     admin / admin" in first.output()
        stop_seconds = first.ctrl_c()
        assert not _port_open(port), "Superset still answers after Ctrl-C"
    finally:
        first.kill()
    assert "SIGINT: stopping Superset" in first.output()

    # second start on the same state: imports again, which must replace, not add
    second = MakeBi(tiny_lake, state, port, tmp_path / "make_bi_2.log")
    try:
        second_seconds = second.wait_ready(timeout=300)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1600, "height": 2600})
                outside, blocked = [], []
                page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
                page.on("requestfailed", lambda r: blocked.append(r.url) if r.failure == "csp" else None)
                _log_in(page, base)

                counts = {
                    kind: _api(page, base, f"{kind}/?q=(page_size:100)")["count"]
                    for kind in ("database", "dataset", "chart", "dashboard")
                }
                expected = {
                    "database": 1,
                    "dataset": len(_assets("datasets")),
                    "chart": len(_assets("charts")),
                    "dashboard": 1,
                }
                assert counts == expected

                charts = {
                    c["id"]: c["slice_name"] for c in _api(page, base, "dashboard/supply-planning/charts")["result"]
                }
                assert sorted(charts.values()) == sorted(c["slice_name"] for c in _assets("charts"))

                data = {}  # chart id -> the chart data API's answers the dashboard asked for

                def record(response):
                    if "/api/v1/chart/data" not in response.url:
                        return
                    request = json.loads(response.request.post_data or "{}")
                    chart = (request.get("form_data") or {}).get("slice_id")
                    if chart in charts:
                        data[chart] = (response.status, response.json())

                page.on("response", record)
                page.goto(f"{base}/superset/dashboard/supply-planning/")
                page.wait_for_function(DRAWN, arg=len(charts), timeout=180_000)
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

                for chart, name in charts.items():
                    assert chart in data, f"the dashboard asked no data for {name!r}"
                    status, answer = data[chart]
                    assert status == 200, f"{name!r}: {status} {str(answer)[:500]}"
                    for result in answer["result"]:
                        assert not result.get("error"), f"{name!r}: {result['error']}"
                        assert result["rowcount"] > 0 and result["data"], f"{name!r} has no rows"
                    holder = page.locator(f'[data-test="chart-grid-component"][data-test-chart-id="{chart}"]')
                    assert holder.is_visible(), f"{name!r} is not on the page"
                    text = holder.inner_text()
                    assert "No results" not in text and "Error" not in text, f"{name!r} shows: {text[:300]}"
                    assert holder.locator(".ant-alert-error, [role=alert]").count() == 0, f"{name!r} shows an error"
                assert set(outside) <= set(blocked), f"the page called outside the machine: {sorted(set(outside))}"
            finally:
                browser.close()
    finally:
        second.ctrl_c()
        second.kill()
    print(
        f"\nmake bi: first start {first_seconds:.0f} s (with .venv-bi's install when it was missing), "
        f"Ctrl-C {stop_seconds:.1f} s, second start {second_seconds:.0f} s; screenshot {tmp_path / 'dashboard.png'}"
    )

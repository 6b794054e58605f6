"""`make run` then `make ui` on the tiny demo (its faults injected), seen in a real browser.

The test runs the commands a person runs (`python -m orchestration.cli run`, then
`python -m orchestration.ui`, which starts `dagster dev` and serves the gates' Data Docs) and
looks at the pages in headless Debian Chromium driven by Playwright (no browser download;
.ci/run installs Chromium when missing): the asset graph, a bronze asset's days and its
per-day check with the reasons, a mart's metadata, the runs list with named jobs and the
range run's days, and the Data Docs index and a gate's page, styled with no request leaving
the machine. Screenshots go to the test's tmp folder, and to docs/img/ when
SUPPLYLOOP_UI_SCREENSHOTS=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from orchestration.lib.paths import PROJECT_ROOT

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SCREENSHOTS_ENV = "SUPPLYLOOP_UI_SCREENSHOTS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """`make run --preset tiny --faults` into a lake and a Dagster home of the test's own; the
    daily partitions start at the demo's first day (no SUPPLYLOOP_FIRST_DAY)."""
    root = tmp_path_factory.mktemp("ui")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n")
    docs_port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SUPPLYLOOP_FIRST_DAY", "LANDING_ROOT", "FEEDS_ROOT", "PARTNER_FEEDS_ROOT")
    }
    env.update(
        DAGSTER_HOME=str(home),
        LAKE_ROOT=str(root / "lake"),
        SUPPLYLOOP_DOCS_URL=f"http://127.0.0.1:{docs_port}/",  # where this test's `make ui` serves them
    )
    command = [sys.executable, "-m", "orchestration.cli", "run", "--preset", "tiny", "--faults"]
    run = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return root, env, docs_port


@pytest.fixture(scope="module")
def ui(ran):
    """`make ui` on that lake and history: the Dagster UI's and Data Docs' addresses."""
    root, env, docs_port = ran
    port = _free_port()
    log = open(root / "ui.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestration.ui", "--port", str(port), "--docs-port", str(docs_port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, names = time.monotonic() + 180, None
        while time.monotonic() < deadline and names is None:
            time.sleep(2)
            try:
                answer = _graphql(
                    port, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }"
                )
                entries = answer["data"]["workspaceOrError"]["locationEntries"]
                names = [e["name"] for e in entries if e["loadStatus"] == "LOADED"] or None
            except (OSError, KeyError, TypeError):
                continue
        assert names == ["supplyloop"], (root / "ui.log").read_text()[-3000:]
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{docs_port}"
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
    assert "location name" not in (root / "ui.log").read_text(errors="replace")  # no warning about it


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def test_the_ui_shows_days_checks_marts_named_runs_and_data_docs(ui, browser, tmp_path):
    from playwright.sync_api import expect

    base, docs = ui
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if urlsplit(r.url).hostname != "127.0.0.1" else None)
    shots: list[Path] = []

    def shot(name: str) -> None:
        shots.append(tmp_path / f"{name}.png")
        page.screenshot(path=shots[-1])

    page.goto(f"{base}/runs")
    skip = page.get_by_role("button", name="Skip")  # Dagster's first-visit newsletter dialog
    skip.wait_for(timeout=30_000)
    skip.click()

    # the asset graph: the sales group, its assets with their checks and days
    page.goto(f"{base}/locations/supplyloop/asset-groups/sales")
    for text in ("order_lines", "live_sessions", "Asset checks"):
        expect(page.get_by_text(text).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"^\d+ partitions$")).first).to_be_visible()
    shot("asset-graph")

    # a bronze asset's days: from the first delivered day, the 18 demo days filled
    page.goto(f"{base}/assets/bronze/sales/order_lines?view=partitions")
    expect(page.get_by_text("Materialized (18)")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("2026-10-28").first).to_be_visible()
    shot("bronze-days")

    # its per-day check: the day with the renamed column stays failed, with the reason text
    page.goto(f"{base}/assets/bronze/sales/order_lines?view=checks")
    page.get_by_text("files_readable", exact=True).first.click()
    expect(page.get_by_text("1 file(s) rejected whole on 1 day(s): 2026-11-03").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("has no column 'qty'").first).to_be_visible()
    shot("bronze-check-files-readable")
    page.get_by_text("data_fresh", exact=True).first.click()
    expect(page.get_by_text("order_lines: newest day 2026-11-14").first).to_be_visible(timeout=60_000)
    shot("bronze-check-data-fresh")

    # a mart's metadata: the forecast's backtest error and preview
    page.goto(f"{base}/assets/marts/demand_forecast")
    wape = page.get_by_text("wape_overall", exact=True).first
    wape.scroll_into_view_if_needed(timeout=60_000)
    for text in ("wape_overall", "naive_wape_overall", "skus_beating_naive", "preview"):
        expect(page.get_by_text(text, exact=True).first).to_be_visible()
    expect(page.get_by_text(re.compile(r"^\d+ of 15$")).first).to_be_visible()  # SKUs beating seasonal-naive
    shot("mart-demand-forecast")

    # the runs list: every run named by its job, the range run with its days
    page.goto(f"{base}/runs")
    for job in ("supplier_feeds", "marts", "daily_ingest"):
        expect(page.get_by_text(job, exact=True).first).to_be_visible(timeout=60_000)
    days = page.get_by_text("days: 2026-10-28 .. 2026-11-14 (18 days)").first
    expect(days).to_be_visible()
    days.scroll_into_view_if_needed()
    assert "__ephemeral_asset_job__" not in page.inner_text("body")
    shot("runs")

    # the feed's gate links Data Docs; the index and a gate's page render from the site alone
    outside.clear()
    page.goto(f"{base}/assets/feeds/supplier_replenishment?view=checks")
    link = page.get_by_role("link", name=f"{docs}/index.html").first
    expect(link).to_be_visible(timeout=60_000)
    page.goto(link.get_attribute("href"))
    expect(page.get_by_role("heading", name="Quality gates")).to_be_visible()
    for text in ("supplier_replenishment", "order_lines", "2026-11-14"):
        expect(page.get_by_text(text, exact=True).first).to_be_visible()
    shot("data-docs-index")
    page.get_by_role("link", name="result").first.click()
    expect(page.get_by_text("Expectation Validation Result")).to_be_visible()
    assert page.evaluate("getComputedStyle(document.querySelector('nav.navbar')).display") == "flex"  # Bootstrap
    shot("data-docs-page")

    assert not outside, f"Data Docs asked for files outside the machine: {outside[:5]}"
    if os.environ.get(SCREENSHOTS_ENV) == "1":
        target = PROJECT_ROOT / "docs" / "img"
        target.mkdir(parents=True, exist_ok=True)
        for path in shots:
            shutil.copyfile(path, target / f"ui-{path.name}")

"""`make ui`: the Dagster UI starts on the code location and serves its asset graph."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parent.parent


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


def test_the_ui_serves_every_bronze_asset_in_the_supplyloop_code_location(tmp_path):
    port = _free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "LAKE_ROOT": str(tmp_path / "lake")}
    dagster = Path(sys.executable).parent / "dagster"
    # `dagster dev` ignores SIGTERM when its parent ignores SIGINT: restore both defaults
    server = subprocess.Popen(
        [
            "env",
            "--default-signal=INT,TERM",
            str(dagster),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        keys = None
        while time.monotonic() < deadline and keys is None:
            time.sleep(2)
            try:
                answer = _graphql(port, "{ assetNodes { assetKey { path } groupName } }")
                keys = {"/".join(n["assetKey"]["path"]) for n in answer["data"]["assetNodes"]} or None
            except (OSError, KeyError, TypeError):
                continue
        assert keys is not None, "the UI did not answer within 120 s"
        assert {"bronze/sales/order_lines", "bronze/master/products", "bronze/factory/production_output"} <= keys
        answer = _graphql(port, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }")
        assert [e["name"] for e in answer["data"]["workspaceOrError"]["locationEntries"]] == ["supplyloop"]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()

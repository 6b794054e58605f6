"""`make ui`: the Dagster UI on the lake, and the gates' Data Docs beside it.

    python -m orchestration.ui [--port 3000] [--docs-port 3001]

Runs ``dagster dev`` on workspace.yaml (the ``supplyloop`` code location) on
http://127.0.0.1:PORT and, for a local lake, serves ``<lake>/gates/docs/`` on
http://127.0.0.1:DOCS_PORT/, where the gates' ``data_docs_index`` and ``data_docs_page``
links in the UI point (a browser does not follow a web page's links to local files).
SIGINT or SIGTERM stops both.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from orchestration.lib.paths import PROJECT_ROOT, WORKSPACE_FILE
from orchestration.lib.settings import DOCS_PORT_DEFAULT, DOCS_URL_ENV


class _QuietFiles(SimpleHTTPRequestHandler):
    """Static files, without a log line per request."""

    def log_message(self, format, *args) -> None:  # noqa: A002 (the standard library's signature)
        return None


def serve_docs(folder: str | Path, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``folder`` (the Data Docs site) on ``host:port`` from a background thread."""
    server = ThreadingHTTPServer((host, port), functools.partial(_QuietFiles, directory=str(folder)))
    threading.Thread(target=server.serve_forever, name="data-docs", daemon=True).start()
    return server


def dagster_dev(host: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    """``dagster dev`` on the code location, with default signal handling so SIGTERM stops it."""
    dagster = str(Path(sys.executable).with_name("dagster"))
    command = [
        "env",
        "--default-signal=INT,TERM",
        dagster,
        "dev",
        "-w",
        str(WORKSPACE_FILE),
        "-h",
        host,
        "-p",
        str(port),
    ]
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ui", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="the Dagster UI's port (default 3000)")
    parser.add_argument("--docs-port", type=int, default=DOCS_PORT_DEFAULT, help="Data Docs' port (default 3001)")
    args = parser.parse_args(argv)

    from expectations.gate import DOCS_DIR
    from orchestration.lib.lake import LakeStore

    store = LakeStore()
    env = dict(os.environ)
    docs = None
    if not store.is_s3:
        docs = serve_docs(store.fs_path(DOCS_DIR), args.host, args.docs_port)
        env.setdefault(DOCS_URL_ENV, f"http://{args.host}:{args.docs_port}/")  # links of runs launched here
        print(f"Data Docs of {store.uri(DOCS_DIR)}: http://{args.host}:{args.docs_port}/index.html", file=sys.stderr)
    ui = dagster_dev(args.host, args.port, env)
    signal.signal(signal.SIGTERM, lambda *_: ui.terminate())
    try:
        return ui.wait()
    except KeyboardInterrupt:  # Ctrl-C reached dagster dev too: let it stop
        return ui.wait()
    finally:
        if docs is not None:
            docs.shutdown()


if __name__ == "__main__":
    sys.exit(main())

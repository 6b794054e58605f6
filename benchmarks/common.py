"""What every benchmark shares: the cached demo lake and a child process with its peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BENCH_LAKE = PROJECT / ".bench" / "lake"
MARKER = "_demo/bench-marker"  # which preset the cached bench lake holds


def ensure_demo(lake: str, preset: str = "large", order_lines: int | None = None, suppliers: int | None = None):
    """The benchmark lake with the preset's landing files, generated once and cached."""
    from orchestration.lib.lake import LakeStore

    store = LakeStore(lake)
    marker = f"{preset}:{order_lines}" + (f":{suppliers}" if suppliers else "")
    if not store.exists(MARKER) or store.read_bytes(MARKER).decode() != marker:
        from orchestration.lib.demo import generate

        print(f"generating the {preset} preset into {lake} (once; cached) ...", file=sys.stderr)
        generate(store, preset=preset, order_lines=order_lines, progress=True, suppliers=suppliers)
        store.write_bytes(MARKER, marker.encode())
    return store


def run_child(module: str, *args: str) -> dict:
    """Run ``python -m module --child ...`` and return the JSON it prints last."""
    cmd = [sys.executable, "-m", module, "--child", *args]
    done = subprocess.run(cmd, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])

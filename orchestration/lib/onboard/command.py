"""`supplyloop onboard <folder>` and `supplyloop demo --shape foreign`: what the CLI runs.

Nothing here writes into the user's folder, their lake or the live sources file: the
proposal goes to ``--out`` (never inside the folder, never over the built-in sources.yaml
or the file ``SUPPLYLOOP_SOURCES`` names) and the dry run to a temporary folder.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from orchestration.lib.onboard.dry_run import dry_run, format_dry_run
from orchestration.lib.onboard.proposal import print_groups, propose, render
from orchestration.lib.paths import SOURCES_FILE
from orchestration.lib.settings import SOURCES_ENV

HEADER = "# Proposed by `supplyloop onboard`"
DEFAULT_OUT = "sources.proposed.yaml"


class Refused(Exception):
    """A request that would write where it must not; the message says what to do instead."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _inside(path: Path, folder: Path) -> bool:
    path, folder = path.resolve(), folder.resolve()
    return path == folder or folder in path.parents


def _holds_files(folder: Path) -> bool:
    return folder.exists() and any(p.is_file() for p in folder.rglob("*"))


def check_out(out: Path, folder: Path, live: str | None) -> None:
    """Refuse an ``--out`` inside the delivered folder, on a live sources file, or over a file we did not write."""
    if _inside(out, folder):
        raise Refused(f"--out {out} is inside {folder}, the delivered files; write the proposal elsewhere")
    if out.resolve() == SOURCES_FILE.resolve():
        raise Refused(f"--out {out} is the built-in sources.yaml; write the proposal to its own file")
    if live and out.resolve() == Path(live).resolve():
        raise Refused(
            f"--out {out} is the live sources file ({SOURCES_ENV}); write the proposal beside it and "
            "replace the live one after review"
        )
    if out.exists():
        head = out.read_text(encoding="utf-8", errors="replace")[: len(HEADER)]
        if head != HEADER:
            raise Refused(f"{out} exists and is not a proposal of `supplyloop onboard`; choose another --out")


def onboard(
    folder: Path,
    out: Path = Path(DEFAULT_OUT),
    run_dry: bool = True,
    platform: str | None = None,
    live: str | None = None,
) -> int:
    """Propose a sources file for ``folder``, write it to ``out``, dry-run it; 0 when every source ingested."""
    folder, out = Path(folder).expanduser(), Path(out).expanduser()
    started = time.perf_counter()
    check_out(out, folder, live)
    _say(f"onboard: looking at {folder}")
    proposal = propose(folder, platform=platform, progress=_say)
    print_groups(proposal)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(proposal), encoding="utf-8")
    print(f"\nproposal: {out}  (review the lines marked REVIEW; nothing was written into {folder})")
    failed = 0
    if run_dry and proposal.chosen:
        result = dry_run(out, proposal.sources_by_group(), manifest=_manifest(), progress=_say)
        print(format_dry_run(result))
        failed = len(result.errors)
    _say(f"onboard: done in {time.perf_counter() - started:.1f}s")
    print(_next_steps(out, folder, proposal))
    return 1 if failed else 0


def _manifest() -> Path | None:
    """The dbt project's manifest (parsed if stale, a few seconds, no data read), to name the marts."""
    try:
        from orchestration.defs.transform.project import ensure_manifest

        _say("parsing the dbt project to see which marts the delivered sources build ...")
        return ensure_manifest()
    except Exception as err:  # noqa: BLE001 - the marts are a bonus of the dry run
        _say(f"  (could not parse the dbt project: {err}; the marts are left out)")
        return None


def _next_steps(out: Path, folder: Path, proposal) -> str:
    steps = [f"review {out} (above all the lines marked REVIEW)"]
    if proposal.left_out:
        names = ", ".join(g.group.label for g in proposal.left_out)
        steps.append(f"move the files no source reads ({names}) out of {folder}, or declare them in {out}")
    if any(g.folder is None or g.folder.value is None for g in proposal.chosen):
        steps.append("lay the files of sources without `folder` out as <landing>/<source>/, names kept")
        where = "<landing>"
    else:
        where = str(folder)
    steps.append(f"SUPPLYLOOP_SOURCES={out} LANDING_ROOT={where} LAKE_ROOT=<a new lake folder> make run")
    return "\n".join(["", "next:"] + [f"  {i}. {step}" for i, step in enumerate(steps, start=1)])


def foreign_demo(out: Path, seed: int = 7, days: int = 5, truth: Path | None = None) -> int:
    """Write the foreign-shaped demo deliveries into ``out`` (new or empty) and print their truth."""
    from orchestration.lib.demo.foreign import truth_summary, write_foreign, write_truth

    out = Path(out).expanduser()
    if _holds_files(out):
        raise Refused(f"--out {out} already holds files; the foreign demo is written only into a new or empty folder")
    started = time.perf_counter()
    result = write_foreign(out, seed=seed, days=days)
    files = sum(len(e["files"]) for e in result["sources"].values())
    _say(
        f"demo --shape foreign: {files} files ({result['start']} .. {result['end']}) in {time.perf_counter() - started:.1f}s -> {out}"
    )
    print(truth_summary(result))
    if truth is not None:
        truth = Path(truth).expanduser()
        if _inside(truth, out):
            raise Refused(f"--truth {truth} is inside {out}; write it elsewhere, or it becomes one of the deliveries")
        write_truth(result, truth)
        print(f"truth: {truth}")
    return 0

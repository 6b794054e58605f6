"""What the landing zone holds, file by file: read by a source, or reported with the fix.

Nothing here writes: it lists the landing zone and says which files a source will read
and which none will, so a platform's files are never passed over in silence, and the
demo is never written into a landing zone that already holds somebody's files.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field

from orchestration.lib.lake import LANDING, LakeFile, LakeStore
from orchestration.lib.sources import Source

SHOWN = 20  # files named in a message; the rest are counted


@dataclass(frozen=True)
class Unmatched:
    """A delivered file no source reads, and why."""

    file: LakeFile
    why: str


@dataclass
class LandingAudit:
    """Every file under the landing zone, sorted into read and not read."""

    where: str
    matched: dict[str, list[LakeFile]] = field(default_factory=dict)
    unmatched: list[Unmatched] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.unmatched and not any(self.matched.values())

    @property
    def matched_count(self) -> int:
        return sum(len(files) for files in self.matched.values())

    def unmatched_report(self) -> str:
        """The files no source reads, each with the reason, and what to do."""
        lines = [f"  {u.file.path[len(LANDING) + 1 :]}: {u.why}" for u in self.unmatched[:SHOWN]]
        if len(self.unmatched) > SHOWN:
            lines.append(f"  ... and {len(self.unmatched) - SHOWN} more")
        return (
            f"{len(self.unmatched)} file(s) in {self.where} match no source:\n"
            + "\n".join(lines)
            + "\nfix: put each export in landing/<source>/ and make that source's `files` pattern (and "
            "`day_in_name`) match its names in your sources file (SUPPLYLOOP_SOURCES); "
            "`supplyloop onboard <folder>` proposes one from the files themselves"
        )


def audit_landing(store: LakeStore, sources: dict[str, Source]) -> LandingAudit:
    """Sort every file below ``landing/`` by the source that reads it (one recursive listing)."""
    audit = LandingAudit(where=store.uri(LANDING), matched={name: [] for name in sources})
    for f in store.list_files(LANDING, recursive=True):
        parts = f.path.split("/")
        folder, name = (parts[1] if len(parts) > 2 else None), parts[-1]
        source = sources.get(folder) if folder else None
        if source is None:
            where = f"landing/{folder}/" if folder else "landing/ itself"
            known = ", ".join(sorted(sources)) or "none"
            audit.unmatched.append(Unmatched(f, f"it lies in {where}, which is no source's folder (sources: {known})"))
        elif len(parts) > 3:
            audit.unmatched.append(
                Unmatched(f, f"it lies in a subfolder of landing/{folder}/; sources read their folder only")
            )
        elif not fnmatch.fnmatch(name, source.files):
            audit.unmatched.append(Unmatched(f, f"its name does not match {folder}'s files pattern {source.files!r}"))
        else:
            audit.matched[folder].append(f)
    return audit

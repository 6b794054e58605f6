"""What the landing zone holds, file by file: read by a source, or reported with the fix.

Nothing here writes: it lists the landing zone and says which files a source will read
and which none will, so a platform's files are never passed over in silence, and the
demo is never written into a landing zone that already holds somebody's files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from orchestration.lib.lake import LANDING, LakeFile, LakeStore, name_matches
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
    ambiguous: list[Unmatched] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.unmatched and not self.ambiguous and not any(self.matched.values())

    @property
    def matched_count(self) -> int:
        return sum(len(files) for files in self.matched.values())

    def unmatched_report(self) -> str:
        """The files no source reads, each with the reason, and what to do."""
        return _listing(self.unmatched, f"{len(self.unmatched)} file(s) in {self.where} match no source") + (
            "\nfix: in your sources file (SUPPLYLOOP_SOURCES), make a source's `files` pattern (and `folder`, "
            "default landing/<source>/) match each export's name; `supplyloop onboard <folder>` proposes "
            "a sources file from the files themselves"
        )

    def ambiguous_report(self) -> str:
        """The files more than one source would read."""
        return _listing(self.ambiguous, f"{len(self.ambiguous)} file(s) in {self.where} match two sources")

    @property
    def not_read(self) -> list[Unmatched]:
        """Every file no source reads, or more than one would: each must be seen by a person."""
        return sorted([*self.unmatched, *self.ambiguous], key=lambda u: u.file.path)


def _listing(files: list[Unmatched], title: str) -> str:
    lines = [f"  {u.file.path[len(LANDING) + 1 :]}: {u.why}" for u in files[:SHOWN]]
    if len(files) > SHOWN:
        lines.append(f"  ... and {len(files) - SHOWN} more")
    return f"{title}:\n" + "\n".join(lines)


def audit_landing(store: LakeStore, sources: dict[str, Source], under: str = LANDING) -> LandingAudit:
    """Sort every file below ``landing/`` (or the folder ``under`` it) by the source that reads
    it (one recursive listing; ``files`` patterns match case-insensitively).

    A file two sources would both read is reported too: it would be counted twice. Hidden
    files (a name starting with ``.``) are read by no source and reported with the rest.
    """
    audit = LandingAudit(where=store.uri(under), matched={name: [] for name in sources})
    by_folder: dict[str, list[Source]] = {}
    for source in sources.values():
        by_folder.setdefault(source.landing_dir, []).append(source)
    for f in store.list_files(under, recursive=True, hidden=True):
        folder, name = f.path.rsplit("/", 1)
        if name.startswith("."):
            why = (
                "its name starts with '.', the mark of a file still being written, so no source reads it; "
                "if the delivery is complete, give it its name without the dot, otherwise remove it"
            )
            audit.unmatched.append(_unmatched(f, why))
            continue
        readers = [s for s in by_folder.get(folder, []) if name_matches(name, s.files)]
        if len(readers) == 1:
            audit.matched[readers[0].name].append(f)
            continue
        if len(readers) > 1:
            names = " and ".join(f"{s.name} ({s.files!r})" for s in readers)
            why = f"both {names} match it; make their `files` patterns tell them apart"
            audit.ambiguous.append(_unmatched(f, why))
        elif folder in by_folder:
            patterns = ", ".join(f"{s.name}: {s.files!r}" for s in by_folder[folder])
            why = f"its name matches no `files` pattern of this folder ({patterns}; letter case aside)"
            audit.unmatched.append(_unmatched(f, why))
        elif any(folder.startswith(f"{known}/") for known in by_folder):
            audit.unmatched.append(_unmatched(f, "it lies in a subfolder; a source reads its own folder only"))
        else:
            known = ", ".join(sorted(k[len(LANDING) :].lstrip("/") + "/" for k in by_folder)) or "none"
            audit.unmatched.append(_unmatched(f, f"its folder is no source's (the sources read: {known})"))
    return audit


def _unmatched(f: LakeFile, why: str) -> Unmatched:
    return Unmatched(f, f"it is {f.refused} and is never followed; {why}" if f.refused else why)


def files_not_read(store: LakeStore, sources: dict[str, Source], source: Source) -> list[Unmatched]:
    """The files under ``source``'s folder (its subfolders too) that no source reads, or two
    would: what its ``files_matched`` check reports."""
    return audit_landing(store, sources, under=source.landing_dir).not_read


def not_read_report(source: Source, files: list[Unmatched]) -> str:
    """The files under a source's folder that are not read, each with why, and the fix."""
    if not files:
        return f"every file under {source.landing_dir}/ is read by a source"
    return _listing(files, f"{len(files)} file(s) under {source.landing_dir}/ are not read") + (
        f"\nfix: rename each to match `files` of {source.name} ({source.files!r}, any letter case) or of the "
        "source it belongs to, or widen that pattern in the sources file (SUPPLYLOOP_SOURCES); move files "
        "that are no delivery out of the landing zone"
    )

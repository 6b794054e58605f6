"""File names: the day a name carries, the stem it shares with its siblings, the glob for a group.

A platform's exports are named like ``销售订单_20261111.csv``, ``sales-2026-11-11.csv``,
``stock_2026_11_11.jsonl``, ``销售订单_20261111_重发.csv`` (re-sent) or ``商品主数据.csv``
(no day). Files that differ only in their day and such suffixes belong to one group: one
source entry, one ``files`` glob, one ``day_in_name`` pattern.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from orchestration.lib.lake import name_matches

# strftime-like pattern -> the regex that finds it anywhere in a name (not inside a longer number)
DAY_PATTERNS: dict[str, re.Pattern] = {
    "%Y-%m-%d": re.compile(r"(?<!\d)(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})(?!\d)"),
    "%Y_%m_%d": re.compile(r"(?<!\d)(?P<year>\d{4})_(?P<month>\d{2})_(?P<day>\d{2})(?!\d)"),
    "%Y.%m.%d": re.compile(r"(?<!\d)(?P<year>\d{4})\.(?P<month>\d{2})\.(?P<day>\d{2})(?!\d)"),
    # a time of day may follow the day directly (20261111093000): it belongs to the match
    "%Y%m%d": re.compile(r"(?<!\d)(?P<year>\d{4})(?P<month>\d{2})(?P<day>\d{2})(?:\d{6}|\d{4})?(?!\d)"),
}
# words a re-sent, corrected or copied export carries after its day; stripped from the stem
RESEND_WORDS = (
    "重发",
    "补发",
    "重传",
    "更正",
    "修正",
    "副本",
    "resend",
    "resent",
    "retry",
    "copy",
    "fixed",
    "corrected",
    "final",
    "new",
)
_SUFFIX = re.compile(
    r"(?:[\s_\-.]*(?:" + "|".join(RESEND_WORDS) + r"|v\d+|\(\d+\)|（\d+）)[\s_\-.]*)+$",
    re.IGNORECASE,
)
_SEPARATORS = " _-."
# extensions a format is delivered under; a double extension (.csv.txt) counts by its last part
EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".dat": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}


@dataclass(frozen=True)
class DayInName:
    """Where a name carries its day: the pattern, the day, and the span of the match."""

    pattern: str
    day: date
    start: int
    end: int


def find_day(name: str) -> DayInName | None:
    """The first valid calendar day in a file name, under the most specific pattern that finds one."""
    for pattern, regex in DAY_PATTERNS.items():
        for match in regex.finditer(name):
            try:
                day = date(int(match["year"]), int(match["month"]), int(match["day"]))
            except ValueError:
                continue
            if 1990 <= day.year <= 2100:
                return DayInName(pattern, day, match.start(), match.end())
    return None


def split_name(name: str) -> tuple[str, str]:
    """(name without its extension, extension in lower case with the dot)."""
    path = Path(name)
    return path.name[: len(path.name) - len(path.suffix)], path.suffix.lower()


def stem(name: str) -> str:
    """What a name shares with its siblings: no extension, no day, no re-send suffix.

    ``销售订单_20261111_重发.csv`` -> ``销售订单``; ``sales-2026-11-11.csv`` -> ``sales``;
    ``商品主数据 (1).csv`` -> ``商品主数据``.
    """
    base, _ = split_name(name)
    found = find_day(base)
    if found:
        before, after = base[: found.start], base[found.end :]
        after = _SUFFIX.sub("", after)
        base = before + ("*" + after if after.strip(_SEPARATORS) else "")
    else:
        base = _SUFFIX.sub("", base)
    return base.strip(_SEPARATORS) or base


@dataclass
class FileGroup:
    """Files that are one kind of export: the same stem and extension."""

    stem: str
    extension: str
    files: list[Path] = field(default_factory=list)
    root: Path | None = None

    @property
    def names(self) -> list[str]:
        return sorted(f.name for f in self.files)

    @property
    def label(self) -> str:
        return f"{self.stem}{self.extension}"

    def day_patterns(self) -> Counter:
        """How many of the group's names carry their day under each pattern (None: no day)."""
        return Counter((found.pattern if (found := find_day(n)) else None) for n in self.names)

    @property
    def day_in_name(self) -> str | None:
        """The pattern most names carry their day in, or None if most carry none."""
        pattern, _ = self.day_patterns().most_common(1)[0]
        return pattern

    @property
    def days(self) -> list[date]:
        return sorted({found.day for n in self.names if (found := find_day(n))})

    def relative(self, file: Path) -> str:
        return str(file.relative_to(self.root)) if self.root else file.name


def scan(folder: Path) -> list[Path]:
    """Every delivered file under ``folder`` (subfolders included), hidden files and folders left out."""
    folder = Path(folder)
    found = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith((".", "~$")) for part in rel.parts) or not path.is_file():
            continue
        found.append(path)
    return found


def group_files(files: list[Path], root: Path | None = None) -> list[FileGroup]:
    """Files grouped by stem and extension, largest group first (then by stem)."""
    groups: dict[tuple[str, str], FileGroup] = {}
    for path in files:
        _, ext = split_name(path.name)
        key = (stem(path.name), ext)
        groups.setdefault(key, FileGroup(key[0], ext, root=root)).files.append(path)
    for g in groups.values():
        g.files.sort(key=lambda p: p.name)
    return sorted(groups.values(), key=lambda g: (-len(g.files), g.stem, g.extension))


def _escape(text: str) -> str:
    """Literal text in a glob: ``[``, ``]``, ``?`` and ``*`` each in brackets."""
    return re.sub(r"([\[\]?*])", r"[\1]", text)


def _glob_candidates(group: FileGroup) -> list[str]:
    ext = group.extension
    names = group.names
    stem = "*".join(_escape(part) for part in group.stem.split("*"))
    if "*" in group.stem:  # the day sits between two parts of the name
        return [f"{stem}{ext}", f"{stem}*{ext}"]
    candidates = []
    pattern = group.day_in_name
    if pattern:
        # the separator most names put between stem and day
        seps = Counter()
        for n in names:
            found = find_day(n)
            if found and n.startswith(group.stem):
                seps[n[len(group.stem) : found.start]] += 1
        sep = seps.most_common(1)[0][0] if seps else ""
        candidates += [f"{stem}{_escape(sep)}*{ext}", f"{stem}*{ext}"]
    else:
        candidates += [f"{stem}{ext}", f"{stem}*{ext}"]
    return candidates


def glob_for(group: FileGroup, others: list[FileGroup]) -> tuple[str, list[str]]:
    """The ``files`` glob that matches every file of ``group`` and no file of ``others``.

    Returns (glob, problems): problems name what the chosen glob still gets wrong, for the
    reviewer; empty when the glob is exact.
    """
    other_names = [n for g in others if g is not group for n in g.names]
    best, best_problems = None, None
    for candidate in _glob_candidates(group):
        missed = [n for n in group.names if not name_matches(n, candidate)]
        caught = [n for n in other_names if name_matches(n, candidate)]
        problems = []
        if missed:
            problems.append(f"misses {', '.join(missed[:3])}")
        if caught:
            problems.append(f"also matches {', '.join(caught[:3])} of another group")
        if not problems:
            return candidate, []
        if best is None or len(problems) < len(best_problems):
            best, best_problems = candidate, problems
    return best, best_problems

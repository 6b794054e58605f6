"""A folder of deliveries in, a platform file (sources overlay) out, with every guess explained.

    proposal = propose(Path("acme-exports"))
    Path("sources.proposed.yaml").write_text(render(proposal))

The YAML is the platform-file format that ``SUPPLYLOOP_SOURCES`` takes: an overlay on the
built-in sources.yaml listing only the sources this platform delivers, each with its
format, encoding, delimiter, header row, ``files`` glob, ``day_in_name`` and the
aliases its headers need. Comments give each guess's confidence and evidence; lines
marked ``REVIEW`` are the ones a person should check first.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.onboard import detect, naming
from orchestration.lib.onboard.detect import Guess, Sample
from orchestration.lib.onboard.mapping import SourceMatch, rank_sources
from orchestration.lib.sources import Source, canonical_sources

REVIEW_BELOW = 0.7  # guesses less sure than this are marked REVIEW
SOURCE_MIN = 0.35  # a group that fits no source better than this is left out, with its headers
HEADER_CHECK_FILES = 50  # how many files of a group have their headers compared
KEY_ROWS = 100_000  # rows of a master-data file read to know its keys


def canonical() -> dict[str, Source]:
    """The 12 built-in sources, whatever ``SUPPLYLOOP_SOURCES`` says."""
    return canonical_sources()


@dataclass
class GroupProposal:
    """What one group of files is, and how to read it."""

    group: naming.FileGroup
    format: Guess
    encoding: Guess | None = None
    delimiter: Guess | None = None
    skip_rows: Guess | None = None
    files: Guess | None = None
    day_in_name: Guess | None = None
    folder: Guess | None = None
    sample: Sample | None = None
    ranking: list[SourceMatch] = field(default_factory=list)
    header_notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    source: str | None = None  # the canonical source chosen for it
    canonical_daily: bool = False  # that source is a daily fact (not master data)
    conflict: str | None = None  # why it was not chosen though it fits

    @property
    def match(self) -> SourceMatch | None:
        if self.source is None:
            return None
        return next(m for m in self.ranking if m.source == self.source)

    @property
    def runner_up(self) -> SourceMatch | None:
        others = [m for m in self.ranking if m.source != self.source]
        return others[0] if others else None


@dataclass
class Proposal:
    folder: Path
    platform: str
    groups: list[GroupProposal]
    canonical: dict[str, Source]

    @property
    def chosen(self) -> list[GroupProposal]:
        return [g for g in self.groups if g.source]

    @property
    def left_out(self) -> list[GroupProposal]:
        return [g for g in self.groups if not g.source]

    @property
    def absent(self) -> list[str]:
        delivered = {g.source for g in self.chosen}
        return [name for name in self.canonical if name not in delivered]

    def sources_by_group(self) -> dict[str, list[Path]]:
        """Each proposed source and the delivered files it takes."""
        return {g.source: list(g.group.files) for g in self.chosen}


# -- looking at one group ----------------------------------------------------------------


def _read(path: Path, fmt: str, encoding: str, delimiter: str, skip_rows: int, limit: int) -> Sample:
    if fmt == "parquet":
        return detect.sample_parquet(path, limit)
    if fmt == "xlsx":
        return detect.sample_xlsx(path, limit)[0]
    size = detect.SAMPLE_BYTES if limit <= detect.SAMPLE_ROWS else 64 * detect.SAMPLE_BYTES
    data, complete = detect.head(path, size)
    text = detect.decode(data, encoding, complete)
    if not complete:
        text = text.rsplit("\n", 1)[0]
    if fmt == "jsonl":
        return detect.sample_jsonl(text, limit)
    return detect.sample_csv(text, delimiter, skip_rows, limit)


def look_at(group: naming.FileGroup) -> GroupProposal:
    """Format, encoding, delimiter, header row and a sample of one group's files."""
    first = group.files[0]
    data, complete = detect.head(first)
    proposal = GroupProposal(group, detect.detect_format(first.name, data))
    fmt = proposal.format.value
    if fmt in ("csv", "jsonl"):
        guesses = [(f.name, detect.detect_encoding(*detect.head(f))) for f in group.files[:HEADER_CHECK_FILES]]
        proposal.encoding = _group_encoding(guesses)
        text = detect.decode(data, proposal.encoding.value, complete)
        lines = detect._lines(text, complete)
        if fmt == "csv":
            proposal.delimiter = detect.detect_delimiter(lines)
            proposal.skip_rows = detect.detect_header_row(lines, proposal.delimiter.value)
    delimiter = proposal.delimiter.value if proposal.delimiter else ","
    skip = proposal.skip_rows.value if proposal.skip_rows else 0
    encoding = proposal.encoding.value if proposal.encoding else "utf-8"
    try:
        proposal.sample = _read(first, fmt, encoding, delimiter, skip, detect.SAMPLE_ROWS)
        if fmt == "xlsx":
            skip = detect.sample_xlsx(first, 30)[1]
            proposal.skip_rows = Guess(skip, 0.8, "the first row of the sheet with a name in every cell")
    except Exception as err:  # noqa: BLE001 - a file the sampler cannot read is a finding, not a crash
        proposal.sample = Sample([], [])
        proposal.problems.append(f"{first.name} could not be read as {fmt}: {type(err).__name__}: {err}")
    _compare_headers(proposal, fmt, encoding, delimiter, skip)
    return proposal


def _group_encoding(guesses: list[tuple[str, Guess]]) -> Guess:
    """One encoding for every file of a group: the one that reads them all."""
    values = {g.value for _, g in guesses}
    if len(values) == 1:
        return guesses[0][1]
    for strongest in ("gb18030", "utf-8-sig"):
        if strongest in values:
            if strongest == "utf-8-sig" and not values <= {"utf-8", "utf-8-sig"}:
                continue
            odd = [n for n, g in guesses if g.value != strongest][:3]
            return Guess(
                strongest,
                0.85,
                f"{strongest} reads every file; {len(odd)} file(s) also read as another encoding ({', '.join(odd)})",
            )
    name, first = guesses[0]
    return Guess(first.value, 0.4, f"the files differ: {sorted(values)}; check how each was exported")


def _compare_headers(proposal: GroupProposal, fmt: str, encoding: str, delimiter: str, skip: int) -> None:
    if fmt == "xlsx" or not proposal.sample:
        return
    reference = proposal.sample.headers
    different = []
    for f in proposal.group.files[1:HEADER_CHECK_FILES]:
        try:
            headers = _read(f, fmt, encoding, delimiter, skip, 1).headers
        except Exception:  # noqa: BLE001
            headers = None
        if fmt == "jsonl" and headers is not None and set(headers) <= set(reference):
            continue  # JSON Lines may leave out empty keys
        if headers != reference:
            different.append(f"{f.name}: {headers}")
    if different:
        proposal.header_notes.append(
            f"{len(different)} file(s) have other headers than {proposal.group.files[0].name}: "
            + "; ".join(different[:3])
        )


def _values(sample: Sample) -> dict[str, list[str]]:
    return {h: sample.values(h) for h in sample.headers}


def _master_keys(proposal: GroupProposal, source: Source) -> dict[tuple[str, str], set[str]]:
    """The keys a master-data group delivers, read from its files (for matching references)."""
    fmt = proposal.format.value
    delimiter = proposal.delimiter.value if proposal.delimiter else ","
    skip = proposal.skip_rows.value if proposal.skip_rows else 0
    encoding = proposal.encoding.value if proposal.encoding else "utf-8"
    match = proposal.match
    keys: dict[tuple[str, str], set[str]] = {}
    for col in match.mapped:
        if col.column not in source.key:
            continue
        values: set[str] = set()
        for f in proposal.group.files:
            try:
                values |= set(_read(f, fmt, encoding, delimiter, skip, KEY_ROWS).values(col.header))
            except Exception:  # noqa: BLE001
                continue
        keys[(source.name, col.column)] = values
    return keys


# -- the whole folder --------------------------------------------------------------------


def propose(folder: Path, platform: str | None = None, progress: Callable[[str], None] | None = None) -> Proposal:
    """Look at every file under ``folder`` and propose a source entry per group of files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder; give the folder the platform's files were delivered in")
    say = progress or (lambda _: None)
    files = naming.scan(folder)
    if not files:
        raise FileNotFoundError(f"{folder} holds no files; copy the platform's exports into it first")
    groups = naming.group_files(files, root=folder)
    say(f"{len(files)} files in {len(groups)} groups under {folder}")
    sources = canonical()
    looked: list[GroupProposal] = []
    for index, group in enumerate(groups, start=1):
        say(f"  [{index}/{len(groups)}] {group.label}: {len(group.files)} file(s)")
        proposal = look_at(group)
        glob, problems = naming.glob_for(group, groups)
        proposal.files = Guess(
            glob,
            1.0 if not problems else 0.5,
            f"matches its {len(group.files)} file(s) and no other group's" if not problems else "; ".join(problems),
        )
        proposal.day_in_name = _day_guess(group)
        proposal.folder = _folder_guess(group, folder)
        looked.append(proposal)

    # first pass: by names and value types; then again, with the keys the master data delivers
    _rank_and_choose(looked, sources, None)
    master_keys: dict[tuple[str, str], set[str]] = {}
    for proposal in looked:
        if proposal.source and not sources[proposal.source].is_daily:
            master_keys.update(_master_keys(proposal, sources[proposal.source]))
    if master_keys:
        _rank_and_choose(looked, sources, master_keys)
    return Proposal(folder, platform or _platform_name(folder), looked, sources)


def _platform_name(folder: Path) -> str:
    name = folder.resolve().name.strip().lower()
    return "".join(c if c.isalnum() else "-" for c in name).strip("-") or "my-platform"


def _folder_guess(group: naming.FileGroup, root: Path) -> Guess:
    """Where the group's files lie below the delivered folder: the source's ``folder``, so that the
    delivered folder itself can be the landing zone (``LANDING_ROOT``), no file moved or renamed."""
    parents = sorted({f.parent.relative_to(root).as_posix() for f in group.files})
    if len(parents) == 1:
        where = parents[0] if parents[0] != "." else ""
        said = f"{where}/ of the delivered folder" if where else "the delivered folder itself"
        return Guess(where, 1.0, f"the files lie in {said}: LANDING_ROOT=<that folder> reads them where they are")
    return Guess(
        None,
        0.5,
        f"the files lie in {len(parents)} subfolders ({', '.join(parents[:3])}); a source reads one folder: "
        "lay them out as <landing>/<source>/ (the default when `folder` is not set)",
    )


def _day_guess(group: naming.FileGroup) -> Guess:
    patterns = group.day_patterns()
    total = sum(patterns.values())
    pattern, count = patterns.most_common(1)[0]
    if pattern is None:
        if count == total:
            return Guess(None, 0.9, "no day in the names")
        return Guess(None, 0.5, f"{total - count} of {total} names carry a day, the others none")
    example = next(n for n in group.names if (d := naming.find_day(n)) and d.pattern == pattern)
    days = group.days
    span = f"{days[0]} .. {days[-1]}, {len(days)} day(s)" if days else ""
    evidence = f"{count} of {total} names carry it, e.g. {example} ({span})"
    return Guess(pattern, round(0.5 + 0.5 * count / total, 2), evidence)


def _rank_and_choose(proposals: list[GroupProposal], sources: dict[str, Source], master_keys: dict | None) -> None:
    """Rank every source for every group, then give each source to the group it fits best."""
    for proposal in proposals:
        sample = proposal.sample or Sample([], [])
        proposal.ranking = rank_sources(sources, sample.headers, _values(sample), proposal.group.stem, master_keys)
        proposal.source, proposal.conflict = None, None
    claims = sorted(
        ((m.score, -len(p.group.files), i, m.source) for i, p in enumerate(proposals) for m in p.ranking[:3]),
        reverse=True,
    )
    taken: dict[str, GroupProposal] = {}
    for score, _, index, source in claims:
        proposal = proposals[index]
        if score < SOURCE_MIN or proposal.source:
            continue
        if source in taken:
            if proposal.ranking[0].source == source:
                proposal.conflict = f"fits {source} ({score:.2f}), but {taken[source].group.label} fits it better"
            continue
        proposal.source = source
        proposal.canonical_daily = sources[source].is_daily
        taken[source] = proposal


# -- the YAML ----------------------------------------------------------------------------


def _q(value) -> str:
    """A YAML scalar: JSON's double-quoted strings are valid YAML and keep Chinese readable."""
    if value is None:
        return "null"
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def pad(text: str, width: int) -> str:
    """``text`` padded to ``width`` terminal columns (a Chinese character takes two)."""
    used = sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)
    return text + " " * max(1, width - used)


def _flag(confidence: float) -> str:
    return "REVIEW " if confidence < REVIEW_BELOW else ""


def _setting(key: str, value, guess: Guess | None, width: int = 34) -> str:
    line = f"    {key}: {_q(value)}"
    if guess is None:
        return line
    return f"{pad(line, width)}# {_flag(guess.confidence)}{guess.confidence:.2f} {guess.evidence}"


def render(proposal: Proposal) -> str:
    """The proposal as a commented platform file (YAML) for a person to review."""
    out = [
        f"# Proposed by `supplyloop onboard` from the {sum(len(g.group.files) for g in proposal.groups)} files "
        f"in {proposal.folder.name}/.",
        "# Review it, above all the lines marked REVIEW, then use it:",
        f"#   SUPPLYLOOP_SOURCES=<this file> LANDING_ROOT={proposal.folder} LAKE_ROOT=<a new lake> make run",
        "# Each source reads its `files` in its `folder` below LANDING_ROOT, under the names they were delivered with.",
        "# This file is an overlay on the built-in sources.yaml: types, keys and rules stay canonical;",
        "# sources not listed here are absent (their marts are skipped); `aliases` add headers to the known ones.",
        f"platform: {_q(proposal.platform)}",
        "defaults:",
        "  timezone: Asia/Shanghai            # REVIEW the time zone of timestamps written without an offset",
        "sources:",
    ]
    for group in proposal.chosen:
        out += _render_group(group)
    if proposal.left_out:
        out.append("")
        out.append("# Files left out (no canonical source fits them well enough); declare them in full if needed:")
        for group in proposal.left_out:
            headers = ", ".join(group.sample.headers) if group.sample else ""
            best = group.ranking[0] if group.ranking else None
            why = group.conflict or (f"best fit {best.source} at {best.score:.2f}" if best else "unreadable")
            out.append(f"#   {group.group.label} ({len(group.group.files)} files; {why}); headers: {headers}")
            out += [f"#     ! {p}" for p in group.problems]
    out.append("")
    out.append("# Absent (no file fits them): " + (", ".join(proposal.absent) or "none"))
    return "\n".join(out) + "\n"


def _render_group(group: GroupProposal) -> list[str]:
    match = group.match
    names = group.group.names
    days = group.group.days
    shown = ", ".join(names[:3]) + (f", ... ({len(names)} files)" if len(names) > 3 else "")
    lines = [
        "",
        f"  # {group.group.label}: {shown}" + (f"; days {days[0]} .. {days[-1]}" if days else ""),
        f"  # {_flag(match.score)}looks like {group.source} ({match.score:.2f}): {'; '.join(match.evidence)}",
    ]
    runner = group.runner_up
    if runner is not None:
        lines.append(f"  #   next best: {runner.source} ({runner.score:.2f})")
    lines += [f"  # ! {note}" for note in group.header_notes + group.problems]
    lines.append(f"  {group.source}:")
    lines.append(_setting("format", group.format.value, group.format))
    if group.encoding:
        lines.append(_setting("encoding", group.encoding.value, group.encoding))
    if group.delimiter:
        lines.append(_setting("delimiter", group.delimiter.value, group.delimiter))
    if group.skip_rows is not None and (group.skip_rows.value or group.format.value == "csv"):
        lines.append(_setting("skip_rows", group.skip_rows.value, group.skip_rows))
    if group.folder is not None:
        if group.folder.value is None:
            lines.append(f"    # REVIEW folder: {group.folder.evidence}")
        else:
            lines.append(_setting("folder", group.folder.value, group.folder))
    lines.append(_setting("files", group.files.value, group.files))
    day = group.day_in_name
    if day.value is None:
        why = "the newest file is the snapshot" if not group.canonical_daily else "each row's event time gives its day"
        day = Guess(None, day.confidence, f"{day.evidence}: {why}")
    lines.append(_setting("day_in_name", day.value, day))
    new = [c for c in match.mapped if not c.known]
    known = [c for c in match.mapped if c.known]
    if new:
        lines.append("    columns:")
        for c in new:
            entry = f"      {c.column}: {{aliases: [{_q(c.header)}]}}"
            lines.append(f"{pad(entry, 48)}# {_flag(c.confidence)}{c.confidence:.2f} {_q(c.header)}: {c.evidence}")
    for c in known:
        lines.append(f"    # {c.column} <- {_q(c.header)}: {c.confidence:.2f} {c.evidence}")
    if match.unmapped:
        lines.append(f"    # unmapped headers (not loaded): {', '.join(match.unmapped)}")
    if match.missing_required:
        lines.append(
            f"    # REVIEW required columns not found: {', '.join(match.missing_required)} "
            "(every file would be rejected as missing_column: add the header that holds each as an alias)"
        )
    if match.missing_optional:
        lines.append(f"    # optional columns not delivered (left empty): {', '.join(match.missing_optional)}")
    return lines


def print_groups(proposal: Proposal, stream=sys.stdout) -> None:
    """One line per group: what it is taken for, how sure, and what is missing."""
    print(f"\n{'files':<34}{'n':>4}  {'source':<18}{'conf':>5}  format, encoding, day in name", file=stream)
    for g in proposal.groups:
        label = g.files.value if g.files else g.group.label
        enc = g.encoding.value if g.encoding else "-"
        day = g.day_in_name.value or ("none (rows' event time)" if g.canonical_daily else "none (snapshot)")
        if g.source:
            m = g.match
            note = f"; missing {', '.join(m.missing_required)}" if m.missing_required else ""
            print(
                f"{pad(label, 34)}{len(g.group.files):>4}  {g.source:<18}{m.score:>5.2f}  "
                f"{g.format.value}, {enc}, {day}{note}",
                file=stream,
            )
        else:
            print(
                f"{pad(label, 34)}{len(g.group.files):>4}  {'(left out)':<18}{'':>5}  {g.conflict or 'no fit'}",
                file=stream,
            )
    print("absent: " + (", ".join(proposal.absent) or "none"), file=stream)

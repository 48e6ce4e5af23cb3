"""BED files and region lists to :class:`Interval` objects, with one-line errors naming the line."""

from __future__ import annotations

import os
from pathlib import Path

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval

__all__ = ["read_bed", "parse_regions"]


def read_bed(path: str | os.PathLike[str]) -> list[Interval]:
    """Read BED3+ (name in column 4 and strand in column 6 when present); track/browser/# lines skipped."""
    path = Path(path)
    if not path.exists():
        raise InputError("BED file not found", path=path)
    intervals: list[Interval] = []
    with open(path) as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip() or text.startswith(("#", "track", "browser")):
                continue
            fields = text.rstrip("\n\r").split("\t")
            if len(fields) < 3:
                raise InputError(f"expected at least 3 tab-separated columns, got {len(fields)}", path=path,
                                 line=number)
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(f"start/end {fields[1]!r}/{fields[2]!r} are not integers", path=path,
                                 line=number) from None
            name = fields[3] if len(fields) > 3 and fields[3] not in ("", ".") else ""
            strand = fields[5] if len(fields) > 5 and fields[5] else "+"
            if strand not in ("+", "-", "."):
                raise InputError(f"strand (column 6) is {strand!r}; use +, - or .", path=path, line=number)
            if start < 0:
                raise InputError(f"negative start {start}", path=path, line=number)
            if end <= start:
                raise InputError(f"start {start} >= end {end}", path=path, line=number)
            intervals.append(Interval(fields[0], start, end, "+" if strand == "." else strand, name))
    if not intervals:
        raise InputError("BED file has no intervals", path=path)
    return intervals


def parse_regions(texts: list[str]) -> list[Interval]:
    """Intervals from ``chr:start-end[:strand]`` strings (the CLI's ``--interval``)."""
    return [Interval.parse(t) for t in texts]

"""Genomic intervals (0-based, half-open) and variants (1-based, VCF-style)."""

from __future__ import annotations

import dataclasses
import re

from genome_plugin.errors import InputError

__all__ = ["Interval", "Variant"]

_INTERVAL_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>-?[\d,_]+)-(?P<end>-?[\d,_]+)(?::(?P<strand>[+\-.]))?$")
_VARIANT_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<pos>[\d,_]+):(?P<ref>[A-Za-z]+)>(?P<alt>[A-Za-z]+)$")


@dataclasses.dataclass(frozen=True)
class Interval:
    """A genomic interval: 0-based start, exclusive end, strand ``+``, ``-`` or ``.``.

    User input (``parse``, BED files) must have ``0 <= start < end``; model windows made by ``resize`` may
    start before 0 or end past the chromosome, and the reference pads them with N.
    """

    chrom: str
    start: int
    end: int
    strand: str = "+"
    name: str = ""

    def __post_init__(self) -> None:
        if self.end <= self.start:
            msg = f"interval {self.chrom}:{self.start}-{self.end} has start >= end"
            raise InputError(msg)
        if self.strand not in ("+", "-", "."):
            msg = f"interval {self.chrom}:{self.start}-{self.end} has strand {self.strand!r}; use + - or ."
            raise InputError(msg)

    @classmethod
    def parse(cls, text: str, *, name: str = "") -> Interval:
        """Parse ``chr1:100-200`` or ``chr1:100-200:-`` (0-based start, as in BED)."""
        match = _INTERVAL_RE.match(text.strip())
        if not match:
            msg = f"cannot parse interval {text!r}; expected chrom:start-end[:strand], e.g. chr20:1000-2000:+"
            raise InputError(msg)
        start = int(match["start"].replace(",", "").replace("_", ""))
        end = int(match["end"].replace(",", "").replace("_", ""))
        if start < 0:
            msg = f"interval {text!r} has a negative start"
            raise InputError(msg)
        return cls(match["chrom"], start, end, match["strand"] or "+", name)

    def __str__(self) -> str:
        return f"{self.chrom}:{self.start}-{self.end}:{self.strand}"

    @property
    def width(self) -> int:
        return self.end - self.start

    @property
    def center(self) -> int:
        """The 0-based position at the centre (the left one of the two middle bases for even widths)."""
        return (self.start + self.end) // 2

    def resize(self, width: int) -> Interval:
        """The interval of ``width`` bp with the same centre.

        The result may hang off a chromosome end (even start < 0): ``Reference.fetch`` pads it with N.
        """
        if width <= 0:
            msg = f"cannot resize {self} to width {width}"
            raise InputError(msg)
        start = self.center - width // 2
        return dataclasses.replace(self, start=start, end=start + width)

    def overlaps(self, other: Interval) -> bool:
        return self.chrom == other.chrom and self.start < other.end and other.start < self.end

    def contains(self, position: int) -> bool:
        """Whether the 0-based ``position`` is inside."""
        return self.start <= position < self.end

    def with_strand(self, strand: str) -> Interval:
        return dataclasses.replace(self, strand=strand)


@dataclasses.dataclass(frozen=True)
class Variant:
    """A variant at a 1-based VCF position: ``pos`` is the first base of ``ref``."""

    chrom: str
    pos: int
    ref: str
    alt: str
    id: str = ""

    def __post_init__(self) -> None:
        if self.pos < 1:
            msg = f"variant {self.chrom}:{self.pos}:{self.ref}>{self.alt} has position < 1 (VCF positions are 1-based)"
            raise InputError(msg)
        for allele in (self.ref, self.alt):
            if not allele or not set(allele.upper()) <= set("ACGTN"):
                msg = f"variant {self.chrom}:{self.pos}:{self.ref}>{self.alt}: allele {allele!r} is not a DNA sequence"
                raise InputError(msg)
        object.__setattr__(self, "ref", self.ref.upper())
        object.__setattr__(self, "alt", self.alt.upper())

    @classmethod
    def parse(cls, text: str) -> Variant:
        """Parse ``chr22:1024:A>C`` (1-based position)."""
        match = _VARIANT_RE.match(text.strip())
        if not match:
            msg = f"cannot parse variant {text!r}; expected chrom:pos:REF>ALT, e.g. chr20:1024:A>C"
            raise InputError(msg)
        return cls(match["chrom"], int(match["pos"].replace(",", "").replace("_", "")), match["ref"], match["alt"])

    def __str__(self) -> str:
        return f"{self.chrom}:{self.pos}:{self.ref}>{self.alt}"

    @property
    def start(self) -> int:
        """0-based start of the REF allele."""
        return self.pos - 1

    @property
    def end(self) -> int:
        """0-based exclusive end of the REF allele."""
        return self.pos - 1 + len(self.ref)

    @property
    def is_snv(self) -> bool:
        return len(self.ref) == 1 and len(self.alt) == 1

    @property
    def kind(self) -> str:
        """``SNV``, ``MNV``, ``insertion``, ``deletion`` or ``complex``."""
        if len(self.ref) == len(self.alt):
            return "SNV" if len(self.ref) == 1 else "MNV"
        if len(self.ref) < len(self.alt) and self.alt.startswith(self.ref):
            return "insertion"
        if len(self.ref) > len(self.alt) and self.ref.startswith(self.alt):
            return "deletion"
        return "complex"

    def interval(self, width: int) -> Interval:
        """The window of ``width`` bp centred on the variant's first REF base."""
        return Interval(self.chrom, self.start, self.start + 1).resize(width)

"""VCF reading with pysam: one result per (record, ALT), each scorable or carrying the reason it is not.

Nothing is dropped: symbolic alleles, ``*``, breakends, missing ALTs, REF mismatches, contigs absent
from the FASTA and over-long alleles all come back as records with a ``reason``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pysam

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Variant
from genome_plugin.genome.reference import Reference

__all__ = ["VcfRecord", "read_vcf", "vcf_header_lines"]

_DNA = re.compile(r"^[ACGTN]+$")


@dataclasses.dataclass(frozen=True)
class VcfRecord:
    """One ALT allele of one VCF data line.

    ``record`` is the 0-based number of the data line in the file, ``line`` its 1-based line number,
    ``allele`` the 1-based ALT index. ``variant`` is None exactly when ``reason`` says why it cannot be scored.
    """

    record: int
    line: int
    chrom: str
    pos: int
    id: str
    ref: str
    alt: str
    allele: int
    variant: Variant | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.variant is not None

    @property
    def variant_id(self) -> str:
        """``chrom:pos:REF>ALT`` as written in the file (upper-cased)."""
        return f"{self.chrom}:{self.pos}:{self.ref}>{self.alt}"


def _open_text(path: Path):
    with open(path, "rb") as handle:
        magic = handle.read(2)
    return gzip.open(path, "rt") if magic == b"\x1f\x8b" else open(path)


def vcf_header_lines(path: str | os.PathLike[str]) -> int:
    """Number of header lines (``#``) at the top of a VCF (plain or bgzipped)."""
    count = 0
    with _open_text(Path(path)) as handle:
        for text in handle:
            if not text.startswith("#"):
                break
            count += 1
    return count


def _classify(alt: str) -> str:
    if alt in (".", ""):
        return "no ALT allele (monomorphic site)"
    if alt == "*":
        return "ALT '*' (allele missing due to an upstream deletion) cannot be scored"
    if alt.startswith("<"):
        return f"symbolic ALT {alt} cannot be scored"
    if "[" in alt or "]" in alt or alt.startswith(".") or alt.endswith("."):
        return f"breakend ALT {alt} cannot be scored"
    if not _DNA.match(alt):
        return f"ALT {alt!r} is not a DNA sequence"
    return ""


def read_vcf(
    path: str | os.PathLike[str],
    *,
    reference: Reference | None = None,
    max_allele_length: int | None = None,
) -> Iterator[VcfRecord]:
    """Read a VCF (plain or bgzipped), splitting multi-allelic records into one result per ALT.

    Parameters
    ----------
    path
        The VCF.
    reference
        When given, contigs absent from it and REF alleles that do not match it get a reason.
    max_allele_length
        REF or ALT alleles longer than this get a reason (the model cannot see them whole).

    Raises
    ------
    InputError
        For a missing, empty or unreadable file, or a malformed data line (with its line number).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("VCF file not found", path=path)
    if path.stat().st_size == 0:
        raise InputError("VCF file is empty (no header)", path=path)
    header_lines = vcf_header_lines(path)
    try:
        vcf = pysam.VariantFile(str(path))
    except (OSError, ValueError) as err:
        raise InputError(f"not a readable VCF ({err})", path=path) from err
    with vcf:
        iterator = iter(vcf)
        index = 0
        while True:
            line = header_lines + index + 1
            try:
                rec = next(iterator)
            except StopIteration:
                break
            except (OSError, ValueError) as err:
                raise InputError(f"malformed VCF record ({err})", path=path, line=line) from err
            yield from _split(rec, index, line, reference, max_allele_length)
            index += 1


def _split(
    rec: pysam.VariantRecord, index: int, line: int, reference: Reference | None, max_len: int | None
) -> Iterator[VcfRecord]:
    chrom, pos, vid = rec.chrom, rec.pos, rec.id or ""
    ref = (rec.ref or "").upper()
    # Upper-case DNA alleles only: symbolic and breakend ALTs keep their contig names as written.
    alts = [a.upper() if _DNA.match(a.upper()) else a for a in (rec.alts or (".",))]
    shared = ""
    if not _DNA.match(ref):
        shared = f"REF {ref!r} is not a DNA sequence"
    elif reference is not None:
        name = reference.resolve(chrom)
        if name is None:
            shared = f"contig {chrom} is not in the reference FASTA {reference.name}"
        else:
            actual = reference.fetch(chrom=name, start=pos - 1, end=pos - 1 + len(ref))
            if pos - 1 + len(ref) > reference.length(name):
                shared = f"REF runs past the end of {chrom} ({reference.length(name)} bp)"
            elif actual != ref:
                shared = f"REF {ref} does not match the reference ({actual}) at {chrom}:{pos}"
    for allele, alt in enumerate(alts, start=1):
        reason = shared or _classify(alt)
        if not reason and max_len is not None and max(len(ref), len(alt)) > max_len:
            reason = f"allele longer than {max_len} bp"
        if not reason and alt == ref:
            reason = "ALT equals REF"
        variant = None if reason else Variant(chrom, pos, ref, alt, vid)
        yield VcfRecord(index, line, chrom, pos, vid, ref, alt, allele, variant, reason)

"""VCF reading with pysam: one result per (record, ALT), each scorable or carrying the reason it is not.

Nothing is dropped: symbolic alleles, ``*``, breakends, missing ALTs, REF mismatches, contigs absent
from the FASTA and over-long alleles all come back as records with a ``reason``.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path

import pysam

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Variant
from genome_plugin.genome.reference import Reference, quiet_htslib

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


def _is_bgzf(head: bytes) -> bool:
    """Whether ``head`` (the first bytes of a gzip file) starts a BGZF block (the 'BC' extra subfield)."""
    return len(head) >= 14 and bool(head[3] & 4) and head[12:14] == b"BC"


def _check_text(path: Path) -> int:
    """Refuse what pysam and the VCF writers cannot read; return the number of ``#`` header lines.

    Reads the whole file once: plain gzip (pysam needs bgzip), BCF (the writers copy the text), a truncated
    or damaged compressed stream and bytes that are not UTF-8 all end here as one line naming the file.
    """
    with open(path, "rb") as handle:
        head = handle.read(18)
    gzipped = head[:2] == b"\x1f\x8b"
    if gzipped and not _is_bgzf(head):
        raise InputError("VCF is compressed with plain gzip, not bgzip: recompress it with `bgzip` "
                         "(or gunzip it)", path=path)
    opener = gzip.open if gzipped else open
    header = 0
    in_header = True
    line = 1
    rest = b""
    try:
        with opener(path, "rb") as handle:
            first = True
            while True:
                chunk = handle.read(1 << 20)
                if first and chunk[:3] == b"BCF":
                    raise InputError("is a BCF (binary VCF); convert it to VCF with `bcftools view -Ov`", path=path)
                if first and not chunk.startswith(b"##fileformat=VCF"):
                    raise InputError("not a VCF (the first line is not ##fileformat=VCFv4.x)", path=path, line=1)
                first = False
                data = rest + chunk
                cut = data.rfind(b"\n") + 1 if chunk else len(data)
                block, rest = data[:cut], data[cut:]
                try:
                    block.decode("utf-8")
                except UnicodeDecodeError as err:
                    where = line + block.count(b"\n", 0, err.start)
                    byte = block[err.start:err.start + 1].hex()
                    raise InputError(f"byte 0x{byte} is not UTF-8 text (VCF is UTF-8)", path=path,
                                     line=where) from None
                if in_header:
                    for text in block.splitlines():
                        if not text.startswith(b"#"):
                            in_header = False
                            break
                        header += 1
                line += block.count(b"\n")
                if not chunk:
                    return header
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise InputError(f"compressed VCF is truncated or damaged ({err})", path=path) from err


def vcf_header_lines(path: str | os.PathLike[str]) -> int:
    """Number of header lines (``#``) at the top of a VCF (plain or bgzipped)."""
    return _check_text(Path(path))


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
    header_lines = _check_text(path)
    with quiet_htslib():
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
                    split = list(_split(rec, index, line, reference, max_allele_length))
                except StopIteration:
                    break
                except (OSError, ValueError) as err:
                    raise InputError(f"malformed VCF record ({err})", path=path, line=line) from err
                yield from split
                index += 1


def _split(
    rec: pysam.VariantRecord, index: int, line: int, reference: Reference | None, max_len: int | None
) -> Iterator[VcfRecord]:
    chrom, pos, vid = rec.chrom, rec.pos, rec.id or ""
    ref = (rec.ref or "").upper()
    # Upper-case DNA alleles only: symbolic and breakend ALTs keep their contig names as written.
    alts = [a.upper() if _DNA.match(a.upper()) else a for a in (rec.alts or (".",))]
    shared = ""
    if pos < 1:  # VCF allows POS 0 for a telomere; there is no base to change
        shared = f"POS {pos} is before the first base of {chrom} (positions are 1-based)"
    elif not _DNA.match(ref):
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

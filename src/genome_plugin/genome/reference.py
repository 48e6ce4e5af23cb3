"""Reference genomes: plain or bgzipped FASTA through pysam, contig aliases, N-padding past the ends."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pysam

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.sequence import apply_variant, reverse_complement

__all__ = ["Reference", "contig_aliases", "variant_sequences"]

log = logging.getLogger(__name__)
_NON_ACGTN = re.compile(r"[^ACGTN]")


def contig_aliases(name: str) -> list[str]:
    """Other names the same contig goes by: ``chr1`` <-> ``1``, ``chrM`` <-> ``MT`` <-> ``M``."""
    bare = name[3:] if name.lower().startswith("chr") else name
    names = [bare, f"chr{bare}"]
    if bare.upper() in ("M", "MT"):
        names += ["MT", "M", "chrM", "chrMT"]
    return [n for n in dict.fromkeys(names) if n != name]


def _is_plain_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(18)
    if head[:2] != b"\x1f\x8b":
        return False
    # BGZF blocks carry the 'BC' extra subfield; plain gzip does not.
    return not (len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC")


class Reference:
    """A FASTA reference genome (plain, or bgzip-compressed with its .fai/.gzi).

    A missing ``.fai`` index is built next to the FASTA, or in a temporary folder when that folder is
    read-only (as Galaxy datasets may be). Sequence comes back upper-case, non-ACGT letters as N
    (said once in the log), N-padded where a window runs past a chromosome end.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError("FASTA file not found", path=self.path)
        if self.path.stat().st_size == 0:
            raise InputError("FASTA file is empty", path=self.path)
        if _is_plain_gzip(self.path):
            raise InputError(
                "FASTA is gzip-compressed but not with bgzip; recompress with `bgzip` (or gunzip it)", path=self.path
            )
        with open(self.path, "rb") as handle:
            first = handle.read(1)
        if first not in (b">", b"\x1f"):
            raise InputError("not a FASTA file (first character is not '>')", path=self.path)
        self._fasta = self._open()
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self._warned_iupac = False

    def _open(self) -> pysam.FastaFile:
        fai = Path(f"{self.path}.fai")
        try:
            if fai.exists():
                return pysam.FastaFile(str(self.path))
            if os.access(self.path.parent, os.W_OK):
                pysam.faidx(str(self.path))
                return pysam.FastaFile(str(self.path))
            tmp = Path(tempfile.mkdtemp(prefix="genome_plugin_fai_"))
            fai = tmp / (self.path.name + ".fai")
            pysam.faidx(str(self.path), "--fai-idx", str(fai))
            log.info("built the FASTA index in %s (the FASTA's folder is read-only)", fai)
            return pysam.FastaFile(str(self.path), filepath_index=str(fai))
        except (OSError, ValueError, pysam.SamtoolsError) as err:
            message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise InputError(f"cannot index/read FASTA ({message})", path=self.path) from err

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def contigs(self) -> dict[str, int]:
        """Contig names and lengths."""
        return dict(self._lengths)

    def resolve(self, chrom: str) -> str | None:
        """The FASTA's name for ``chrom`` (trying aliases such as chr1 <-> 1), or None if absent."""
        if chrom in self._lengths:
            return chrom
        for alias in contig_aliases(chrom):
            if alias in self._lengths:
                return alias
        return None

    def require(self, chrom: str) -> str:
        """Like :meth:`resolve` but raise a one-line error naming the FASTA when absent."""
        name = self.resolve(chrom)
        if name is None:
            shown = ", ".join(list(self._lengths)[:5]) + (" ..." if len(self._lengths) > 5 else "")
            raise InputError(f"contig {chrom!r} is not in the FASTA (it has {shown})", path=self.path)
        return name

    def length(self, chrom: str) -> int:
        return self._lengths[self.require(chrom)]

    def fetch(self, interval: Interval | None = None, *, chrom: str | None = None, start: int = 0,
              end: int | None = None, strand: str = "+") -> str:
        """Sequence of ``interval`` (or chrom/start/end), N-padded outside the chromosome.

        Minus-strand intervals come back reverse-complemented.
        """
        if interval is not None:
            chrom, start, end, strand = interval.chrom, interval.start, interval.end, interval.strand
        if chrom is None or end is None:
            msg = "fetch needs an interval or chrom, start and end"
            raise ValueError(msg)
        name = self.require(chrom)
        length = self._lengths[name]
        lo, hi = max(start, 0), min(end, length)
        core = self._fasta.fetch(name, lo, hi) if hi > lo else ""
        sequence = "N" * (min(lo, end) - start) + core.upper() + "N" * (end - max(hi, start))
        if _NON_ACGTN.search(sequence):
            if not self._warned_iupac:
                log.warning("%s: non-ACGT letters (IUPAC codes) read as N", self.path.name)
                self._warned_iupac = True
            sequence = _NON_ACGTN.sub("N", sequence)
        return reverse_complement(sequence) if strand == "-" else sequence

    def close(self) -> None:
        self._fasta.close()

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def variant_sequences(reference: Reference, interval: Interval, variant: Variant) -> tuple[str, str]:
    """REF and ALT sequences of a + strand window, the same length (rule in ``genome.sequence``).

    Minus-strand intervals give both sequences reverse-complemented.
    """
    plus = Interval(interval.chrom, interval.start, interval.end, "+")
    ref_seq = reference.fetch(plus)
    extra = max(len(variant.ref) - len(variant.alt), 0)
    flank = reference.fetch(chrom=interval.chrom, start=interval.end, end=interval.end + extra) if extra else ""
    alt_seq = apply_variant(ref_seq, interval.start, variant.ref, variant.alt, variant.pos, flank)
    if interval.strand == "-":
        return reverse_complement(ref_seq), reverse_complement(alt_seq)
    return ref_seq, alt_seq

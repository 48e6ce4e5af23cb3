"""Reference genomes: plain or bgzipped FASTA through pysam, contig aliases, N-padding past the ends."""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import re
import shutil
import tempfile
import weakref
from pathlib import Path

import pysam

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.sequence import apply_variant, reverse_complement

__all__ = ["Reference", "contig_aliases", "quiet_htslib", "variant_sequences"]

log = logging.getLogger(__name__)
_NON_ACGTN = re.compile(r"[^ACGTN]")
_NUCLEOTIDE = frozenset("ACGTUNRYKMSWBDHV")  # bases and IUPAC nucleotide codes
_SNIFF_BASES = 1000  # letters read from the start of each contig to tell DNA from protein
_SNIFF_CONTIGS = 10_000
_HEADER = re.compile(rb"\n>(\S*)[^\n]*(?=\n)")


def contig_aliases(name: str) -> list[str]:
    """Other names the same contig goes by: ``chr1`` <-> ``1``, ``chrM`` <-> ``MT`` <-> ``M``."""
    bare = name[3:] if name.lower().startswith("chr") else name
    names = [bare, f"chr{bare}"]
    if bare.upper() in ("M", "MT"):
        names += ["MT", "M", "chrM", "chrMT"]
    return [n for n in dict.fromkeys(names) if n != name]


@contextlib.contextmanager
def quiet_htslib():
    """Silence htslib's own ``[E::...]``/``[W::...]`` stderr lines where we report the problem ourselves."""
    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


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
    read-only (as Galaxy datasets may be; removed again on close, collection or exit). An index older
    than the FASTA, or whose offsets disagree with the file, is rebuilt (with a warning). A contig name
    given twice and a protein FASTA are refused. Sequence comes back upper-case, non-ACGT letters as N
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
        self._tmp: Path | None = None
        self._built = False
        self._fasta = self._open()
        self._lengths = dict(zip(self._fasta.references, self._fasta.lengths))
        self._warned_iupac = False
        self._check_letters()

    def _index_paths(self) -> list[Path]:
        return [Path(f"{self.path}.fai"), *([Path(f"{self.path}.gzi")] if self._bgzipped() else [])]

    def _bgzipped(self) -> bool:
        with open(self.path, "rb") as handle:
            return handle.read(2) == b"\x1f\x8b"

    def _open(self) -> pysam.FastaFile:
        try:
            with quiet_htslib():
                fasta, fai = self._open_index()
        except (OSError, ValueError, pysam.SamtoolsError) as err:
            message = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise InputError(f"cannot index/read FASTA ({message})", path=self.path) from err
        problem = None
        if self._built:  # an existing index was checked before it was trusted
            problem = self._duplicate_names() if self._bgzipped() else self._layout_problem(fai)
        if problem is not None:
            fasta.close()
            raise InputError(problem, path=self.path)
        return fasta

    def _duplicate_names(self) -> str | None:
        """A contig name given twice in a bgzipped FASTA (read once, when its index is built), else None."""
        seen: set[bytes] = set()
        tail = b"\n"
        with gzip.open(self.path, "rb") as handle:
            while chunk := handle.read(1 << 22):
                data = tail + chunk
                cut = data.rfind(b"\n")
                for match in _HEADER.finditer(data, 0, cut + 1):
                    name = match[1]
                    if name in seen:
                        return f"contig name {name.decode(errors='replace')!r} appears twice"
                    seen.add(name)
                # Carry a partial header line (or the newline before the next one); a partial sequence
                # line is dropped, so an unwrapped chromosome is never held whole.
                tail = data[cut:] if len(data) - cut == 1 or data[cut + 1:cut + 2] == b">" else b""
        return None

    def _open_index(self) -> tuple[pysam.FastaFile, Path]:
        """Open with the existing index when it can be trusted, else build one (in a temporary folder if need be)."""
        fai = Path(f"{self.path}.fai")
        if fai.exists():
            problem = self._stale()
            if problem is None:
                return pysam.FastaFile(str(self.path)), fai
            log.warning("%s: %s; rebuilding the index", fai, problem)
        self._built = True
        if os.access(self.path.parent, os.W_OK):
            pysam.faidx(str(self.path))
            return pysam.FastaFile(str(self.path)), fai
        # A read-only folder (as Galaxy datasets may be): the index goes to a temporary folder, removed on
        # close(), when this Reference is collected, or at exit.
        self._tmp = Path(tempfile.mkdtemp(prefix="genome_plugin_fai_"))
        weakref.finalize(self, shutil.rmtree, self._tmp, ignore_errors=True)
        fai = self._tmp / (self.path.name + ".fai")
        gzi = self._tmp / (self.path.name + ".gzi") if self._bgzipped() else None
        pysam.faidx(str(self.path), "--fai-idx", str(fai), *(["--gzi-idx", str(gzi)] if gzi else []))
        log.info("built the FASTA index in %s (the FASTA's folder is read-only)", fai)
        fasta = pysam.FastaFile(str(self.path), filepath_index=str(fai),
                                filepath_index_compressed=str(gzi) if gzi else None)
        return fasta, fai

    def _stale(self) -> str | None:
        """Why an existing index cannot be trusted (older than the FASTA, or disagreeing with it), else None."""
        fasta_time = self.path.stat().st_mtime
        for index in self._index_paths():
            if index.exists() and index.stat().st_mtime < fasta_time:
                return f"{index.name} is older than the FASTA (edited after indexing?)"
        return self._layout_problem(Path(f"{self.path}.fai"))

    def _layout_problem(self, fai: Path) -> str | None:
        """Check a plain FASTA against its .fai: each record ends where the next header begins.

        An edited FASTA (stale offsets) or a contig name given twice (htslib indexes the first and
        skips the second) leaves bytes the index does not account for. Bgzipped FASTAs are not checked
        this way (reading them costs a full decompression).
        """
        if self._bgzipped():
            return None
        entries = []
        with open(fai) as handle:
            for text in handle:
                fields = text.rstrip("\n").split("\t")
                if len(fields) < 5:
                    return f"{fai.name} is not a FASTA index (fewer than 5 columns)"
                try:
                    entries.append((fields[0], *map(int, fields[1:5])))
                except ValueError:
                    return f"{fai.name} is not a FASTA index (non-integer columns)"
        size = self.path.stat().st_size
        entries.sort(key=lambda e: e[2])
        seen: set[str] = set()
        with open(self.path, "rb") as handle:
            for i, (name, length, offset, bases, width) in enumerate(entries):
                seen.add(name)
                full, rest = divmod(length, bases) if bases else (0, 0)
                end = offset + full * width + (rest + width - bases if rest else 0)
                following = entries[i + 1][2] if i + 1 < len(entries) else size
                if end > following + (width - bases):
                    return f"{fai.name} disagrees with the FASTA: {name} runs past the next record or the file end"
                handle.seek(min(end, size))
                gap = handle.read(min(max(following - end, 0), 1 << 16))
                problem = self._gap_problem(fai, gap, name, end, entries[i + 1][0] if i + 1 < len(entries) else None,
                                            seen)
                if problem is not None:
                    return problem
        return None

    @staticmethod
    def _gap_problem(fai: Path, gap: bytes, name: str, end: int, following: str | None, seen: set[str]) -> str | None:
        """What is wrong with the bytes between one indexed record and the next (or the file end), if anything.

        Only blank lines and header lines may be there: the next record's header last, and before it the
        headers of empty records (htslib does not index those).
        """
        lines = [line.rstrip(b"\r") for line in gap.split(b"\n")]
        lines = [line for line in lines if line.strip()]
        headers = [line[1:].split()[:1] for line in lines if line.startswith(b">")]
        if len(headers) == len(lines) and (following is None or headers and headers[-1] == [following.encode()]):
            return None
        for line in lines:
            if not line.startswith(b">"):
                break
            word = line[1:].split()[:1]
            if word and word[0].decode(errors="replace") in seen:
                return f"contig name {word[0].decode(errors='replace')!r} appears twice (second at byte {end})"
        return f"{fai.name} disagrees with the FASTA after {name} (byte {end}): edited after indexing?"

    def _check_letters(self) -> None:
        """Refuse a FASTA whose contigs are mostly letters other than A, C, G, T and N (a protein FASTA).

        Many amino-acid letters are also IUPAC nucleotide codes (K, M, R, S, ...), so the test is how
        much of a contig's start is A/C/G/T/N: nearly all of real DNA, about a quarter of a protein.
        """
        for name in list(self._lengths)[:_SNIFF_CONTIGS]:
            head = self._fasta.fetch(name, 0, min(self._lengths[name], _SNIFF_BASES)).upper()
            other = len(_NON_ACGTN.findall(head))
            if head and other * 2 > len(head):
                letters = "".join(sorted(set(_NON_ACGTN.findall(head)) - _NUCLEOTIDE)) or "IUPAC codes"
                raise InputError(f"contig {name!r} is mostly letters other than A, C, G, T and N ({letters}): "
                                 "is this a protein FASTA?", path=self.path)

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
                letters = sorted(set(_NON_ACGTN.findall(sequence)))
                kind = "IUPAC codes" if _NUCLEOTIDE.issuperset(letters) else "letters other than ACGT"
                log.warning("%s: %s (%s) read as N", self.path.name, kind, "".join(letters))
                self._warned_iupac = True
            sequence = _NON_ACGTN.sub("N", sequence)
        return reverse_complement(sequence) if strand == "-" else sequence

    def close(self) -> None:
        self._fasta.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)

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

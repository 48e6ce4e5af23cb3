#!/usr/bin/env python
"""Build a synthetic genome whose function is known: real JASPAR motifs planted under fixed rules.

The background is i.i.d. DNA (40% GC). Into it the script plants instances of three JASPAR 2024 CORE
matrices (read offline from the database ``pyjaspar`` ships), each instance sampled base by base from
the matrix's position frequencies raised to the power ``SHARPEN`` and renormalised (varied instances, not
the consensus, yet more specific than chance hits of these short matrices in Mb of random DNA, so the
planted sites are what the tracks follow), on a random strand:

- motif A = MA0080.7 Spi1 (PU.1), motif B = MA0140.3 GATA1::TAL1, CTCF = MA0139.2 CTCF.

Rules, and the files that carry them (track table formats of :mod:`genome_plugin.train.data`):

- **accessibility** (``dnase.bw``, a DNase-seq-like 1 bp bigWig): a Gaussian peak (sd 75 bp, height
  ``PEAK_HEIGHT``) centred on every planted A, Poisson-sampled over a flat background of ``BACKGROUND``;
  B and CTCF open nothing.
- **expression** (``rna_seq.bw``, an unstranded RNA-seq-like 1 bp bigWig): a 3 kb "gene body" at
  ``GENE_LEVEL`` per base starting 300 bp past the pair, downstream in the pair's orientation, when an
  A and a B are planted within 1 kb of each other (start to start) on the same strand. A-B pairs planted
  2-4 kb apart, lone As and lone Bs express nothing.
- **contacts** (``contacts.cool``, raw counts at 2,048 bp): Poisson counts of a distance decay
  ``DECAY / (1 + d)`` (d in bins, up to ``MAX_CONTACT_BINS``) plus ``LOOP`` at the pixel of every
  *convergent* CTCF pair (the left site on +, the right on -) planted 2-6 kb apart; tandem and divergent
  pairs, planted as often, add nothing.

Also written: ``genome.fa``, ``tracks.tsv``, ``folds.bed`` (all contigs but the last train; the last
splits into valid and test halves), ``sites.tsv`` (every planted instance: contig, 0-based start, end,
strand, motif, element kind, element id) and ``manifest.json`` (seed, release, matrix IDs, rule constants). Everything
follows from ``--seed``; the defaults make 3 x 786,432 bp in a few seconds.

Usage::

    python scripts/make_synthetic_genome.py OUT_DIR [--seed 0] [--contigs 3] [--contig-length 786432]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

JASPAR_RELEASE = "JASPAR2024"
MOTIF_A = "MA0080.7"  # Spi1
MOTIF_B = "MA0140.3"  # GATA1::TAL1
MOTIF_CTCF = "MA0139.2"  # CTCF
BASES = np.array(list("ACGT"))
BACKGROUND_FREQUENCIES = (0.3, 0.2, 0.2, 0.3)
SHARPEN = 1.5

PEAK_HEIGHT = 8.0
PEAK_SD = 75.0
BACKGROUND = 0.05
GENE_LEVEL = 4.0
GENE_LENGTH = 3000
GENE_OFFSET = 300
NEAR_MAX = 1000  # "within 1 kb": start-to-start distance of A and B
FAR_RANGE = (2000, 4000)
CTCF_RANGE = (2048, 6144)
CONTACT_BIN = 2048
MAX_CONTACT_BINS = 8
DECAY = 3.0
LOOP = 6.0

#: Element kinds and how often each is planted.
ELEMENTS = {"A": 0.3, "B": 0.1, "AB_near": 0.2, "AB_far": 0.15, "CTCF_pair": 0.25}
GAP_RANGE = (300, 2500)


def load_motifs(release: str = JASPAR_RELEASE) -> dict[str, tuple[str, np.ndarray]]:
    """``{"A" | "B" | "CTCF": (name, sampling frequencies [L, 4] in A C G T order)}`` from the offline JASPAR
    database (the matrix's frequencies sharpened by ``SHARPEN``)."""
    from pyjaspar import jaspardb

    db = jaspardb(release=release)
    motifs = {}
    for key, matrix_id in (("A", MOTIF_A), ("B", MOTIF_B), ("CTCF", MOTIF_CTCF)):
        motif = db.fetch_motif_by_id(matrix_id)
        counts = np.array([motif.counts[b] for b in "ACGT"], dtype=np.float64).T
        sharpened = (counts / counts.sum(axis=1, keepdims=True)) ** SHARPEN
        motifs[key] = (motif.name, sharpened / sharpened.sum(axis=1, keepdims=True))
    return motifs


def sample_motif(frequencies: np.ndarray, strand: str, rng: np.random.Generator) -> str:
    """One instance drawn column by column from the frequencies, reverse-complemented on ``-``."""
    cumulative = np.cumsum(frequencies, axis=1)
    draws = (rng.random(len(frequencies))[:, None] > cumulative).sum(axis=1).clip(0, 3)
    if strand == "-":
        return "".join(BASES[3 - draws[::-1]])
    return "".join(BASES[draws])


def plan_contig(length: int, motifs: dict, rng: np.random.Generator) -> tuple[list[dict], list[tuple], list[tuple]]:
    """Planted sites, gene bodies ``(start, end)`` and convergent CTCF pairs ``(left_start, right_start)``."""
    kinds, probabilities = list(ELEMENTS), np.array(list(ELEMENTS.values()))
    sites, genes, loops = [], [], []
    elements = 0
    position = int(rng.integers(*GAP_RANGE))
    width = {k: len(f) for k, (_, f) in motifs.items()}
    while True:
        kind = kinds[rng.choice(len(kinds), p=probabilities / probabilities.sum())]
        strand = "+" if rng.random() < 0.5 else "-"
        placed: list[tuple[str, int, str]] = []  # (motif, start, strand)
        gene = loop = None
        if kind in ("A", "B"):
            placed.append((kind, position, strand))
            span = width[kind]
        elif kind in ("AB_near", "AB_far"):
            low, high = (width["A"] + 1, NEAR_MAX) if kind == "AB_near" else FAR_RANGE
            distance = int(rng.integers(low, high))
            pair_end = distance + width["B"]
            if strand == "+":
                placed += [("A", position, "+"), ("B", position + distance, "+")]
                gene_start = position + pair_end + GENE_OFFSET
            else:  # the + element mirrored: gene body first, then B, then A, both motifs on -
                gene_start = position
                b_start = position + GENE_LENGTH + GENE_OFFSET
                placed += [("B", b_start, "-"), ("A", b_start + pair_end - width["A"], "-")]
            if kind == "AB_near":
                gene = (gene_start, gene_start + GENE_LENGTH)
            span = pair_end + GENE_OFFSET + GENE_LENGTH
        else:
            distance = int(rng.integers(*CTCF_RANGE))
            left, right = ("+" if rng.random() < 0.5 else "-"), strand
            placed += [("CTCF", position, left), ("CTCF", position + distance, right)]
            if (left, right) == ("+", "-"):
                loop = (position, position + distance)
            span = distance + width["CTCF"]
        if position + span + GAP_RANGE[0] > length:
            break
        sites += [{"start": s, "end": s + width[m], "strand": st, "motif": m, "element": kind,
                   "element_id": elements} for m, s, st in placed]
        elements += 1
        if gene is not None:
            genes.append(gene)
        if loop is not None:
            loops.append(loop)
        position += span + int(rng.integers(*GAP_RANGE))
    return sites, genes, loops


def accessibility(length: int, sites: list[dict], rng: np.random.Generator) -> np.ndarray:
    mean = np.full(length, BACKGROUND)
    offsets = np.arange(-4 * int(PEAK_SD), 4 * int(PEAK_SD) + 1)
    profile = PEAK_HEIGHT * np.exp(-(offsets**2) / (2 * PEAK_SD**2))
    for site in sites:
        if site["motif"] != "A":
            continue
        centre = (site["start"] + site["end"]) // 2
        index = centre + offsets
        keep = (index >= 0) & (index < length)
        mean[index[keep]] += profile[keep]
    return rng.poisson(mean).astype(np.float32)


def expression(length: int, genes: list[tuple], rng: np.random.Generator) -> np.ndarray:
    mean = np.zeros(length)
    for start, end in genes:
        mean[start:end] += GENE_LEVEL
    return rng.poisson(mean).astype(np.float32)


def contacts(length: int, loops: list[tuple], rng: np.random.Generator) -> pd.DataFrame:
    """Upper-triangle pixels (bin1 <= bin2, contig-local bins) with their Poisson counts, zeros left out."""
    bins = length // CONTACT_BIN
    i, d = np.meshgrid(np.arange(bins), np.arange(MAX_CONTACT_BINS + 1), indexing="ij")
    i, j, d = i.ravel(), (i + d).ravel(), d.ravel()
    keep = j < bins
    i, j, d = i[keep], j[keep], d[keep]
    mean = DECAY / (1.0 + d)
    index = {(a, b): n for n, (a, b) in enumerate(zip(i.tolist(), j.tolist(), strict=True))}
    for left, right in loops:
        n = index.get((left // CONTACT_BIN, right // CONTACT_BIN))
        if n is not None:
            mean[n] += LOOP
    counts = rng.poisson(mean)
    nonzero = counts > 0
    return pd.DataFrame({"bin1": i[nonzero], "bin2": j[nonzero], "count": counts[nonzero].astype(np.int32)})


def write_bigwig(path: Path, chroms: list[tuple[str, int]], values: dict[str, np.ndarray]) -> None:
    import pyBigWig

    with pyBigWig.open(str(path), "w") as bw:
        bw.addHeader(chroms)
        for name, _ in chroms:
            v = values[name]
            # Runs of equal values as intervals: background zeros cost one entry instead of thousands.
            edges = np.flatnonzero(np.diff(v)) + 1
            starts = np.concatenate([[0], edges])
            ends = np.concatenate([edges, [len(v)]])
            keep = v[starts] != 0
            bw.addEntries([name] * int(keep.sum()), starts[keep].tolist(), ends=ends[keep].tolist(),
                          values=v[starts[keep]].astype(float).tolist())


def write_cool(path: Path, chroms: list[tuple[str, int]], pixels: dict[str, pd.DataFrame]) -> None:
    import cooler

    bins, parts, offset = [], [], 0
    for name, length in chroms:
        n = -(-length // CONTACT_BIN)
        starts = np.arange(n) * CONTACT_BIN
        bins.append(pd.DataFrame({"chrom": name, "start": starts, "end": np.minimum(starts + CONTACT_BIN, length)}))
        p = pixels[name]
        parts.append(pd.DataFrame({"bin1_id": p["bin1"] + offset, "bin2_id": p["bin2"] + offset,
                                   "count": p["count"]}))
        offset += n
    cooler.create_cooler(str(path), pd.concat(bins, ignore_index=True), pd.concat(parts, ignore_index=True),
                         ordered=True, symmetric_upper=True, dtypes={"count": np.int32})


def make_genome(out: str | Path, *, seed: int = 0, contigs: int = 3, contig_length: int = 786_432) -> Path:
    """Write the synthetic genome and its tracks into ``out``; return ``out/tracks.tsv``."""
    if contigs < 2 or contig_length < 4 * CTCF_RANGE[1] or contig_length % CONTACT_BIN:
        msg = f"need >= 2 contigs of a multiple of {CONTACT_BIN} bp >= {4 * CTCF_RANGE[1]} bp"
        raise ValueError(msg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    motifs = load_motifs()
    chroms = [(f"syn{i + 1}", contig_length) for i in range(contigs)]
    dnase, rna, pixels, site_rows = {}, {}, {}, []
    with (out / "genome.fa").open("w") as fasta:
        for name, length in chroms:
            sequence = BASES[rng.choice(4, size=length, p=BACKGROUND_FREQUENCIES)]
            sites, genes, loops = plan_contig(length, motifs, rng)
            for site in sites:
                instance = sample_motif(motifs[site["motif"]][1], site["strand"], rng)
                sequence[site["start"] : site["end"]] = list(instance)
                site_rows.append({"contig": name, **site})
            text = "".join(sequence)
            fasta.write(f">{name}\n")
            fasta.writelines(text[k : k + 60] + "\n" for k in range(0, length, 60))
            dnase[name] = accessibility(length, sites, rng)
            rna[name] = expression(length, genes, rng)
            pixels[name] = contacts(length, loops, rng)
    write_bigwig(out / "dnase.bw", chroms, dnase)
    write_bigwig(out / "rna_seq.bw", chroms, rna)
    write_cool(out / "contacts.cool", chroms, pixels)
    pd.DataFrame(site_rows).to_csv(out / "sites.tsv", sep="\t", index=False)
    last, length = chroms[-1]
    half = length // 2
    with (out / "folds.bed").open("w") as folds:
        folds.writelines(f"{name}\t0\t{n}\ttrain\n" for name, n in chroms[:-1])
        folds.write(f"{last}\t0\t{half}\tvalid\n{last}\t{half}\t{length}\ttest\n")
    (out / "tracks.tsv").write_text(
        "output_type\tname\tstrand\tfile\tAssay title\tbiosample_name\n"
        "dnase\tsynthetic_accessibility\t.\tdnase.bw\tDNase-seq\tsynthetic\n"
        "rna_seq\tsynthetic_expression\t.\trna_seq.bw\ttotal RNA-seq\tsynthetic\n"
        "contact_maps\tsynthetic_contacts\t.\tcontacts.cool\tin situ Hi-C\tsynthetic\n"
    )
    manifest = {
        "seed": seed, "contigs": dict(chroms), "jaspar_release": JASPAR_RELEASE,
        "motifs": {k: {"matrix_id": i, "name": motifs[k][0]}
                   for k, i in (("A", MOTIF_A), ("B", MOTIF_B), ("CTCF", MOTIF_CTCF))},
        "rules": {"sharpen": SHARPEN, "peak_height": PEAK_HEIGHT, "peak_sd": PEAK_SD, "background": BACKGROUND,
                  "gene_level": GENE_LEVEL, "gene_length": GENE_LENGTH, "gene_offset": GENE_OFFSET,
                  "near_max": NEAR_MAX, "far_range": FAR_RANGE, "ctcf_range": CTCF_RANGE,
                  "contact_bin": CONTACT_BIN, "max_contact_bins": MAX_CONTACT_BINS, "decay": DECAY, "loop": LOOP},
        "licences": {"JASPAR matrices": "CC BY 4.0 (JASPAR 2024)", "everything else": "Apache-2.0 (generated)"},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out / "tracks.tsv"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--contigs", type=int, default=3)
    parser.add_argument("--contig-length", type=int, default=786_432)
    args = parser.parse_args(argv)
    try:
        make_genome(args.out, seed=args.seed, contigs=args.contigs, contig_length=args.contig_length)
    except ValueError as err:
        print(f"make_synthetic_genome.py: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""scripts/make_synthetic_genome.py: the planted rules hold in the files it writes, read back with pyBigWig,
cooler and Biopython, and the files load as training data.

Expected figures are the rules as the script's docstring states them (peak height 8 over a 0.05 background,
gene bodies at 4 per base, +6 contacts at convergent CTCF pairs over a 3 / (1 + d) decay), not values
taken from the script's code.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "make_synthetic_genome.py"


def make(out: Path, *args: str) -> Path:
    subprocess.run([sys.executable, str(SCRIPT), str(out), *args], check=True)
    return out


@pytest.fixture(scope="module")
def genome(tmp_path_factory) -> Path:
    return make(tmp_path_factory.mktemp("synthetic") / "g", "--seed", "7")


@pytest.fixture(scope="module")
def sites(genome) -> pd.DataFrame:
    return pd.read_csv(genome / "sites.tsv", sep="\t")


def fasta_contigs(path: Path) -> dict[str, str]:
    contigs, name = {}, None
    for line in path.read_text().splitlines():
        if line.startswith(">"):
            name = line[1:]
            contigs[name] = []
        else:
            contigs[name].append(line)
    return {k: "".join(v) for k, v in contigs.items()}


def digest(folder: Path) -> dict[str, str]:
    names = ("genome.fa", "sites.tsv", "folds.bed", "tracks.tsv")
    return {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in names}


def test_same_seed_same_files_other_seed_other_genome(genome, tmp_path):
    assert digest(make(tmp_path / "again", "--seed", "7")) == digest(genome)
    assert digest(make(tmp_path / "other", "--seed", "8"))["genome.fa"] != digest(genome)["genome.fa"]


def test_layout_and_folds(genome):
    contigs = fasta_contigs(genome / "genome.fa")
    assert {k: len(v) for k, v in contigs.items()} == {"syn1": 786_432, "syn2": 786_432, "syn3": 786_432}
    assert set("".join(contigs.values())) == set("ACGT")
    folds = (genome / "folds.bed").read_text().split("\n")
    assert folds[:4] == ["syn1\t0\t786432\ttrain", "syn2\t0\t786432\ttrain", "syn3\t0\t393216\tvalid",
                         "syn3\t393216\t786432\ttest"]


def test_instances_are_drawn_from_the_jaspar_frequencies(genome, sites):
    from Bio.Seq import reverse_complement
    from pyjaspar import jaspardb

    contigs = fasta_contigs(genome / "genome.fa")
    db = jaspardb(release="JASPAR2024")
    # Column 3 of MA0139.2 (CTCF) in JASPAR 2024: A 8, C 903, G 0, T 2 (as the database prints it).
    assert [db.fetch_motif_by_id("MA0139.2").counts[b][2] for b in "ACGT"] == [8, 903, 0, 2]
    for motif, matrix_id in (("A", "MA0080.7"), ("B", "MA0140.3"), ("CTCF", "MA0139.2")):
        jaspar = db.fetch_motif_by_id(matrix_id)
        counts = np.array([jaspar.counts[b] for b in "ACGT"], dtype=float).T
        expected = (counts / counts.sum(axis=1, keepdims=True)) ** 1.5  # the docstring's SHARPEN
        expected /= expected.sum(axis=1, keepdims=True)
        rows = sites[sites.motif == motif]
        instances = []
        for row in rows.itertuples():
            seq = contigs[row.contig][row.start : row.end]
            instances.append(reverse_complement(seq) if row.strand == "-" else seq)
        assert len(instances) > 150 and set(rows.strand) == {"+", "-"}
        observed = np.array([[np.mean([s[i] == b for s in instances]) for b in "ACGT"]
                             for i in range(len(expected))])
        # Sampled, not consensus: frequencies within sampling error of the matrix, and not all one string.
        assert np.abs(observed - expected).max() < 0.12, motif
        assert sum(s == jaspar.consensus for s in instances) < len(instances) / 2


def test_accessibility_peaks_only_at_motif_a(genome, sites):
    import pyBigWig

    with pyBigWig.open(str(genome / "dnase.bw")) as bw:
        def around(row):
            centre = (row.start + row.end) // 2
            return np.nan_to_num(np.array(bw.values(row.contig, centre - 25, centre + 25))).mean()

        at_a = np.mean([around(r) for r in sites[sites.motif == "A"].itertuples()])
        at_b_alone = np.mean([around(r) for r in sites[sites.element == "B"].itertuples()])
        at_ctcf = np.mean([around(r) for r in sites[sites.motif == "CTCF"].itertuples()])
        whole = np.nan_to_num(np.array(bw.values("syn1", 0, 786_432)))
    far = np.ones(len(whole), dtype=bool)
    for row in sites[(sites.motif == "A") & (sites.contig == "syn1")].itertuples():
        far[max(row.start - 400, 0) : row.end + 400] = False
    assert 7.0 < at_a < 8.5  # a sd-75 Gaussian of height 8 averages ~7.9 over its central 50 bp, + 0.05
    assert at_b_alone < 0.5 and at_ctcf < 0.5
    assert 0.04 < whole[far].mean() < 0.06


def gene_window(pair: pd.DataFrame) -> tuple[str, int, int]:
    """The 3 kb downstream of an A-B pair, 300 bp past it, in the pair's orientation (the docstring's rule)."""
    contig, strand = pair.contig.iloc[0], pair.strand.iloc[0]
    if strand == "+":
        return contig, pair.end.max() + 300, pair.end.max() + 3300
    return contig, pair.start.min() - 3300, pair.start.min() - 300


def test_expression_only_downstream_of_near_pairs(genome, sites):
    import pyBigWig

    levels = {}
    with pyBigWig.open(str(genome / "rna_seq.bw")) as bw:
        for kind in ("AB_near", "AB_far"):
            means = []
            for _, pair in sites[sites.element == kind].groupby(["contig", "element_id"]):
                assert len(pair) == 2 and pair.strand.nunique() == 1
                distance = pair.start.max() - pair.start.min()
                assert distance < 1000 if kind == "AB_near" else 2000 <= distance < 4000
                contig, start, end = gene_window(pair)
                means.append(np.nan_to_num(np.array(bw.values(contig, start, end))).mean())
            levels[kind] = np.array(means)
    assert np.all(np.abs(levels["AB_near"] - 4.0) < 0.3)
    assert np.all(levels["AB_far"] == 0)


def test_contacts_at_convergent_ctcf_pairs(genome, sites):
    import cooler

    clr = cooler.Cooler(str(genome / "contacts.cool"))
    assert clr.binsize == 2048 and "weight" not in clr.bins().columns
    matrices = {c: clr.matrix(balance=False).fetch(c) for c in clr.chromnames}
    assert np.array_equal(matrices["syn1"], matrices["syn1"].T)
    # Each pair's pixel minus the decay 3 / (1 + d): Poisson residuals with mean 6 (convergent) or 0.
    residuals: dict[bool, list[float]] = {True: [], False: []}
    for (contig, _), pair in sites[sites.element == "CTCF_pair"].groupby(["contig", "element_id"]):
        pair = pair.sort_values("start")
        i, j = (int(s) // 2048 for s in pair.start)
        residuals[tuple(pair.strand) == ("+", "-")].append(matrices[contig][i, j] - 3 / (1 + j - i))
    assert len(residuals[True]) > 20 and len(residuals[False]) > 60
    assert abs(np.mean(residuals[True]) - 6) < 1.5
    assert abs(np.mean(residuals[False])) < 0.5
    diagonal = np.concatenate([np.diag(m) for m in matrices.values()])
    assert abs(diagonal.mean() - 3.0) < 0.2
    assert np.all(np.diagonal(matrices["syn1"], offset=9) == 0)


def test_loads_as_training_data(genome):
    from genome_plugin.tracks import OutputType
    from genome_plugin.train.data import DataConfig, TrainingData

    data = TrainingData(DataConfig(fasta=str(genome / "genome.fa"), track_table=str(genome / "tracks.tsv"),
                                   folds=str(genome / "folds.bed"), sequence_length=8192, batch_size=2, prefetch=0))
    assert set(data.tracks) == {OutputType.DNASE, OutputType.RNA_SEQ, OutputType.CONTACT_MAPS}
    assert len(data.windows("train")) == 2 * 96 and len(data.windows("valid")) == 48
    batch = next(iter(data.batches("valid", num_steps=1)))
    assert batch["targets"]["contact_maps@2048"].shape == (2, 4, 4, 1)
    assert batch["targets"]["dnase@1"].shape == (2, 8192, 1)


def test_bad_arguments_are_one_line_errors(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "x"), "--contigs", "1"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "contigs" in result.stderr

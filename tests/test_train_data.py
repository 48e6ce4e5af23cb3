"""Training data: real bigWig, .cool, GTF, SJ.out.tab and FASTA files written here; expected targets by hand."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genome_plugin.errors import InputError
from genome_plugin.genome.reference import Reference
from genome_plugin.tracks import OutputType
from genome_plugin.train.augment import mask_input, mutate, reverse_complement_example
from genome_plugin.train.data import DataConfig, TrainingData, read_track_table
from genome_plugin.train.labels import read_folds, read_junctions, site_usage

pyBigWig = pytest.importorskip("pyBigWig")
cooler = pytest.importorskip("cooler")

CHROMS = {"chr1": 12_288, "chr2": 4_096}
GTF = """\
chr1\ttest\texon\t101\t200\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; gene_name "G1";
chr1\ttest\texon\t301\t400\t.\t+\t.\tgene_id "G1"; transcript_id "T1"; gene_name "G1";
chr1\ttest\texon\t1001\t1100\t.\t-\t.\tgene_id "G2"; transcript_id "T2"; gene_name "G2";
chr1\ttest\texon\t1201\t1300\t.\t-\t.\tgene_id "G2"; transcript_id "T2"; gene_name "G2";
"""
# chrom, intron first and last base (1-based), strand, motif, annotated, unique, multi, overhang.
# + strand: exon 1 ends at 200, exon 2 is 301-500, exon 3 starts at 701; exon 2 is skipped by 2 reads.
SJ = """\
chr1\t201\t300\t1\t1\t1\t6\t0\t30
chr1\t201\t700\t1\t1\t0\t2\t1\t30
chr1\t501\t700\t1\t1\t1\t6\t0\t30
chr1\t1101\t1200\t2\t2\t1\t5\t0\t30
chr1\t2001\t2100\t0\t0\t0\t9\t0\t30
"""
TABLE = """\
output_type\tname\tstrand\tfile\tAssay title
rna_seq\tliver\t+\tplus.bw\tRNA-seq
rna_seq\tliver\t-\tminus.bw\tRNA-seq
splice_sites\tgencode\t.\tgenes.gtf\t
splice_site_usage\tliver\t+\tSJ.out.tab\t
splice_site_usage\tliver\t-\tSJ.out.tab\t
splice_junctions\tliver\t+\tSJ.out.tab\t
splice_junctions\tliver\t-\tSJ.out.tab\t
contact_maps\thic\t.\thic.cool\t
"""


def write_fasta(path: Path, chroms: dict[str, int], seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    with open(path, "w") as handle:
        for name, length in chroms.items():
            bases = np.array(list("ACGT"))[rng.integers(0, 4, length)]
            if name == "chr1":
                bases[4000:4010] = "N"
            handle.write(f">{name}\n")
            text = "".join(bases)
            for i in range(0, length, 60):
                handle.write(text[i : i + 60] + "\n")
    return path


def write_bigwig(path: Path, entries: list[tuple[str, int, int, float]], chroms: dict[str, int] = CHROMS) -> Path:
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(chroms.items()))
    for chrom, start, end, value in entries:
        bw.addEntries([chrom], [start], ends=[end], values=[value])
    bw.close()
    return path


def write_cool(path: Path, pixels: dict[tuple[int, int], float], *, binsize: int = 2048,
               weights: np.ndarray | None = None) -> str:
    rows = []
    for chrom, length in CHROMS.items():
        for start in range(0, length, binsize):
            rows.append((chrom, start, min(start + binsize, length)))
    bins = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    if weights is not None:
        bins["weight"] = weights
    pix = pd.DataFrame([(i, j, v) for (i, j), v in sorted(pixels.items())], columns=["bin1_id", "bin2_id", "count"])
    cooler.create_cooler(str(path), bins, pix, dtypes={"count": float})
    return str(path)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    write_fasta(tmp_path / "genome.fa", CHROMS)
    write_bigwig(tmp_path / "plus.bw", [("chr1", 0, 128, 1.0), ("chr1", 128, 192, 2.0), ("chr1", 200, 210, 0.5)])
    write_bigwig(tmp_path / "minus.bw", [("chr1", 10, 20, 3.0)])
    (tmp_path / "genes.gtf").write_text(GTF)
    (tmp_path / "SJ.out.tab").write_text(SJ)
    # chr1 bins 0-5, chr2 bins 6-7 (upper triangle).
    write_cool(tmp_path / "hic.cool", {(0, 0): 10.0, (0, 1): 4.0, (1, 1): 8.0, (2, 2): 1.0, (6, 6): 7.0})
    (tmp_path / "folds.bed").write_text("chr1\t0\t8192\ttrain\nchr1\t8192\t12288\tvalid\nchr2\t0\t4096\ttest\n")
    (tmp_path / "tracks.tsv").write_text(TABLE)
    return tmp_path


def config(root: Path, **changes) -> DataConfig:
    base = DataConfig(fasta=str(root / "genome.fa"), track_table=str(root / "tracks.tsv"),
                      folds=str(root / "folds.bed"), sequence_length=4096, batch_size=2, prefetch=0)
    return dataclasses.replace(base, **changes)


def test_targets_of_a_window_by_hand(files: Path) -> None:
    data = TrainingData(config(files))
    assert data.windows("train")[["chrom", "start", "end"]].values.tolist() == [["chr1", 0, 4096],
                                                                              ["chr1", 4096, 8192]]
    ex = data.read("chr1", 0)
    t, w = ex["targets"], ex["weights"]
    assert ex["sequence"].shape == (4096, 4)
    assert not ex["sequence"][4000:4010].any() and (ex["sequence"][:4000].sum(axis=1) == 1).all()

    one = t["rna_seq@1"]
    assert one.shape == (4096, 2) and one.dtype == np.float32
    assert (one[:128, 0] == 1).all() and (one[128:192, 0] == 2).all() and (one[192:200, 0] == 0).all()
    assert (one[200:210, 0] == 0.5).all() and one[210:, 0].sum() == 0
    assert (one[10:20, 1] == 3).all() and one[:, 1].sum() == 30
    binned = t["rna_seq@128"]
    assert binned.shape == (32, 2)
    # bin 0: 128 x 1; bin 1: 64 x 2 + 10 x 0.5
    np.testing.assert_array_equal(binned[:3, 0], [128.0, 133.0, 0.0])
    assert binned[0, 1] == 30 and binned[1:, 1].sum() == 0
    assert w["rna_seq@1"].shape == (4096, 1) and w["rna_seq@1"][4000:4010].sum() == 0
    assert w["rna_seq@1"].sum() == 4096 - 10
    # bin 31 (3968-4095) holds the Ns.
    assert w["rna_seq@128"][:, 0].tolist() == [1.0] * 31 + [0.0]

    # nonzero_mean over the training fold: (128 x 1 + 64 x 2 + 10 x 0.5) / 202 bases, and 3.0.
    means = data.tracks[OutputType.RNA_SEQ].df["nonzero_mean"].tolist()
    assert means == pytest.approx([261 / 202, 3.0])
    assert data.tracks[OutputType.RNA_SEQ].df["assay_title"].tolist() == ["RNA-seq", "RNA-seq"]

    # + gene: exons 101-200, 301-400 (1-based) -> donor+ at 199, acceptor+ at 300 (0-based).
    # - gene: exons 1001-1100, 1201-1300 -> donor- at 1200 (first base of the upstream exon), acceptor- at 1099.
    sites = t["splice_sites@1"]
    assert sites.dtype == np.int32 and sites.shape == (4096,)
    labelled = {int(p): int(sites[p]) for p in np.flatnonzero(sites != 4)}
    assert labelled == {199: 0, 300: 1, 1200: 2, 1099: 3}

    junctions = t["splice_junctions@1"]
    n = 4
    assert junctions["donor"][:n].tolist() == [199, 199, 499, 1200]
    assert junctions["acceptor"][:n].tolist() == [300, 700, 700, 1099]
    assert junctions["strand"][:n].tolist() == [0, 0, 0, 1]
    assert (junctions["donor"][n:] == -1).all() and len(junctions["donor"]) == 256
    np.testing.assert_array_equal(junctions["counts"][:n], [[6, 0], [2, 0], [6, 0], [0, 5]])
    assert w["splice_junctions@1"][:, 0].tolist() == [1.0] * n + [0.0] * 252

    # Usage without unspliced reads: donor 199: 8 reads / (6 at acceptor 300 + 8 at acceptor 700);
    # acceptor 300: 6 / 8 from donor 199; acceptor 700: 8 / 14; donor 499: 6 / 8; the - junction: 1.
    usage = t["splice_site_usage@1"]
    expected = {(199, 0): 8 / 14, (300, 0): 6 / 8, (700, 0): 8 / 14, (499, 0): 6 / 8, (1200, 1): 1.0, (1099, 1): 1.0}
    got = {(int(p), int(k)): float(usage[p, k]) for p, k in zip(*np.nonzero(usage))}
    assert got == pytest.approx(expected)

    contacts = t["contact_maps@2048"]
    assert contacts.shape == (2, 2, 1)
    np.testing.assert_array_equal(contacts[..., 0], [[10, 4], [4, 8]])
    assert w["contact_maps@2048"].shape == (2, 2, 1) and w["contact_maps@2048"].all()
    assert data.read("chr1", 4096)["targets"]["contact_maps@2048"][..., 0].tolist() == [[1, 0], [0, 0]]


def test_reverse_complement_by_hand(files: Path) -> None:
    data = TrainingData(config(files))
    ex = data.read("chr1", 0)
    rc = reverse_complement_example(ex, data.tracks)
    s = 4096
    bases = "ACGT"
    forward = "".join(bases[i] for i in ex["sequence"][:8].argmax(axis=1))
    backward = "".join(bases[i] for i in rc["sequence"][-8:].argmax(axis=1))
    assert backward == forward[::-1].translate(str.maketrans("ACGT", "TGCA"))
    assert not rc["sequence"][s - 4010 : s - 4000].any()
    # The - track's 3.0 at 10-19 becomes the + track at 4076-4085; the + track's 1.0 at 0-127 the - track's end.
    one = rc["targets"]["rna_seq@1"]
    assert (one[s - 20 : s - 10, 0] == 3).all() and one[:, 0].sum() == 30
    assert (one[s - 128 :, 1] == 1).all() and one[:, 1].sum() == 128 + 128 + 5
    assert rc["targets"]["rna_seq@128"][-1].tolist() == [30.0, 128.0]
    assert rc["weights"]["rna_seq@1"][s - 4010 : s - 4000].sum() == 0
    # donor+ 199 -> donor- 3896; acceptor+ 300 -> acceptor- 3795; donor- 1200 -> donor+ 2895; acceptor- 1099 -> 2996.
    sites = rc["targets"]["splice_sites@1"]
    assert {int(p): int(sites[p]) for p in np.flatnonzero(sites != 4)} == {3896: 2, 3795: 3, 2895: 0, 2996: 1}
    junctions = rc["targets"]["splice_junctions@1"]
    assert junctions["donor"][:4].tolist() == [3896, 3896, 3596, 2895]
    assert junctions["acceptor"][:4].tolist() == [3795, 3395, 3395, 2996]
    assert junctions["strand"][:4].tolist() == [1, 1, 1, 0]
    np.testing.assert_array_equal(junctions["counts"][:4], [[0, 6], [0, 2], [0, 6], [5, 0]])
    assert (junctions["donor"][4:] == -1).all()
    usage = rc["targets"]["splice_site_usage@1"]
    assert usage[3896, 1] == pytest.approx(8 / 14) and usage[2895, 0] == 1.0 and usage[3896, 0] == 0
    np.testing.assert_array_equal(rc["targets"]["contact_maps@2048"][..., 0], [[8, 4], [4, 10]])
    # Twice is the identity.
    back = reverse_complement_example(rc, data.tracks)
    np.testing.assert_array_equal(back["sequence"], ex["sequence"])
    for key in ("rna_seq@1", "rna_seq@128", "splice_sites@1", "splice_site_usage@1", "contact_maps@2048"):
        np.testing.assert_array_equal(back["targets"][key], ex["targets"][key])


def test_batches_shapes_and_eval_padding(files: Path) -> None:
    data = TrainingData(config(files, batch_size=3))
    # valid has one window: one batch of 3 with two weight-0 copies.
    (batch,) = list(data.batches("valid"))
    assert batch["sequence"].shape == (3, 4096, 4) and batch["organism_index"].tolist() == [0, 0, 0]
    assert batch["example_mask"].tolist() == [True, False, False]
    assert batch["targets"]["splice_junctions@1"]["counts"].shape == (3, 256, 2)
    assert batch["targets"]["contact_maps@2048"].shape == (3, 2, 2, 1)
    for weight in batch["weights"].values():
        assert weight[1:].sum() == 0
    with pytest.raises(InputError, match="fewer than one batch"):
        next(data.batches("train"))


def test_resume_at_step_gives_the_same_batches(files: Path) -> None:
    (files / "tracks.tsv").write_text("output_type\tname\tstrand\tfile\nrna_seq\tliver\t+\tplus.bw\n"
                                      "splice_sites\tg\t.\tgenes.gtf\n")
    cfg = config(files, sequence_length=1024, stride=512, max_shift=100, batch_size=2, mutation_rate=0.01,
                 mask_fraction=0.1, prefetch=2, seed=7)
    data = TrainingData(cfg)
    # Starts 100, 612, ... up to 8192 - 100 - 1024 = 7068: 14 windows, 7 batches, so step 7 begins epoch 1.
    assert len(data.windows()) == 14 and data.steps_per_epoch() == 7
    full = list(data.batches(num_steps=9))
    resumed = list(TrainingData(cfg).batches(start_step=5, num_steps=4))
    for a, b in zip(full[5:], resumed, strict=True):
        np.testing.assert_array_equal(a["sequence"], b["sequence"])
        np.testing.assert_array_equal(a["targets"]["rna_seq@128"], b["targets"]["rna_seq@128"])
    other = list(TrainingData(dataclasses.replace(cfg, seed=8)).batches(num_steps=1))
    assert not np.array_equal(other[0]["sequence"], full[0]["sequence"])
    # Every window of every fold lies inside one fold region (shifted by at most 100 bp in the region).
    regions = read_folds(files / "folds.bed", data.reference)
    for fold in ("train", "valid", "test"):
        for chrom, start, end in data.windows(fold)[["chrom", "start", "end"]].itertuples(index=False):
            inside = [r for r in regions if r.chrom == chrom and r.start <= start - 100 and end + 100 <= r.end]
            assert [r.fold for r in inside] == [fold]


def test_shift_moves_targets_with_the_sequence(files: Path) -> None:
    (files / "tracks.tsv").write_text("output_type\tname\tstrand\tfile\nrna_seq\tliver\t+\tplus.bw\n")
    data = TrainingData(config(files, sequence_length=1024, max_shift=64, reverse_complement=0.0))
    # Window 0 starts at 64; the 2.0 run starts at base 128, so it sits at 64 - shift in a shifted window.
    shifts = set()
    for seed in range(6):
        ex = data.example("train", 0, np.random.default_rng(seed))
        shift = 64 - int(np.flatnonzero(ex["targets"]["rna_seq@1"][:, 0] == 2)[0])
        np.testing.assert_array_equal(ex["sequence"], data.read("chr1", 64 + shift)["sequence"])
        assert -64 <= shift <= 64
        shifts.add(shift)
    assert len(shifts) > 1


def test_mutation_and_masking() -> None:
    rng = np.random.default_rng(0)
    sequence = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 1000)]
    sequence[10:20] = 0
    mutated = mutate(sequence, 1.0, np.random.default_rng(1))
    assert (mutated.sum(axis=1)[20:] == 1).all() and not mutated[10:20].any()
    assert (mutated.argmax(axis=1)[20:] != sequence.argmax(axis=1)[20:]).all()
    assert (mutate(sequence, 0.0, rng) == sequence).all()
    masked = mask_input(sequence, 0.2, 50, np.random.default_rng(2))
    zero = ~masked.any(axis=1)
    assert 100 <= zero.sum() <= 200 + 10
    np.testing.assert_array_equal(masked[~zero], sequence[~zero])
    np.testing.assert_array_equal(mask_input(sequence, 0.2, 50, np.random.default_rng(2)), masked)


def test_gene_table_in_spliceai_format(files: Path) -> None:
    # The spliceai package's format: 0-based transcript/exon starts, 1-based ends; same genes as the GTF.
    (files / "genes.txt").write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                                     "G1\t1\t+\t100\t400\t100,300,\t200,400,\n"
                                     "G2\t1\t-\t1000\t1300\t1000,1200,\t1100,1300,\n")
    (files / "tracks.tsv").write_text("output_type\tname\tstrand\tfile\nsplice_sites\tg\t.\tgenes.txt\n")
    sites = TrainingData(config(files)).read("chr1", 0)["targets"]["splice_sites@1"]
    assert {int(p): int(sites[p]) for p in np.flatnonzero(sites != 4)} == {199: 0, 300: 1, 1200: 2, 1099: 3}


def test_junction_table_reading(files: Path) -> None:
    table = read_junctions(files / "SJ.out.tab", Reference(files / "genome.fa"))
    assert len(table) == 4  # the strand-0 junction has no donor side
    usage = site_usage(table)
    assert set(usage["site"]) == {"donor", "acceptor"} and len(usage) == 6
    (files / "bad.tab").write_text("chr1\t201\t300\t3\t1\t1\t6\t0\t30\n")
    with pytest.raises(InputError, match=r"bad\.tab, line 1: strand 3"):
        read_junctions(files / "bad.tab", Reference(files / "genome.fa"))


# -- bad input: one line naming the file and what is wrong ------------------------------------------


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


def test_missing_file_unknown_type_and_duplicates(files: Path) -> None:
    table = files / "tracks.tsv"
    table.write_text("output_type\tname\tstrand\tfile\nrna_seq\ta\t+\tplus.bw\nrna_seq\tb\t+\tnope.bw\n")
    with pytest.raises(InputError) as err:
        read_track_table(table)
    assert "tracks.tsv, line 3: track file 'nope.bw' not found" in one_line(err)
    table.write_text("output_type\tname\tstrand\tfile\nrna_seq\ta\t+\tplus.bw\nmethylation\tb\t+\tplus.bw\n")
    with pytest.raises(InputError) as err:
        read_track_table(table)
    assert "line 3: unknown output type 'methylation'" in one_line(err)
    table.write_text("output_type\tname\tstrand\tfile\nrna_seq\ta\t+\tplus.bw\natac\ta\t+\tplus.bw\n"
                     "rna_seq\ta\t+\tminus.bw\n")
    with pytest.raises(InputError) as err:
        read_track_table(table)
    assert "line 4: track ('a', '+') of rna_seq is also on line 2" in one_line(err)


def test_overlapping_folds_name_both_lines(files: Path) -> None:
    (files / "folds.bed").write_text("chr1\t0\t5000\ttrain\nchr2\t0\t100\ttest\nchr1\t4000\t9000\tvalid\n")
    with pytest.raises(InputError) as err:
        TrainingData(config(files))
    assert "folds.bed, line 3: regions of lines 1 and 3 overlap (chr1:4000-5000)" in one_line(err)
    (files / "folds.bed").write_text("chr1\t0\t5000\tholdout\n")
    with pytest.raises(InputError, match="line 1: fold name 'holdout'"):
        TrainingData(config(files))


def test_bigwig_contig_missing_from_fasta(files: Path) -> None:
    write_bigwig(files / "plus.bw", [("chr1", 0, 10, 1.0)], chroms={**CHROMS, "chrUn_x": 500})
    with pytest.raises(InputError) as err:
        TrainingData(config(files))
    assert "plus.bw: bigWig contig 'chrUn_x' is not in the FASTA genome.fa" in one_line(err)
    write_bigwig(files / "plus.bw", [("chr1", 0, 10, 1.0)], chroms={"chr1": 9999, "chr2": 4096})
    with pytest.raises(InputError, match="'chr1' is 9999 bp but chr1 in the FASTA genome.fa is 12288 bp"):
        TrainingData(config(files))


def test_nan_stored_in_a_bigwig(files: Path) -> None:
    write_bigwig(files / "plus.bw", [("chr1", 0, 10, 1.0), ("chr1", 5000, 5010, float("nan"))])
    (files / "tracks.tsv").write_text("output_type\tname\tstrand\tfile\tnonzero_mean\nrna_seq\tliver\t+\tplus.bw\t1\n")
    data = TrainingData(config(files, prefetch=2))
    data.read("chr1", 0)  # no data after base 10 is fine: zeros
    with pytest.raises(InputError) as err:
        list(data.batches("train", num_steps=1))  # raised in the prefetch thread, re-raised here
    assert "plus.bw: NaN value stored at chr1:5001-5010" in one_line(err)


def test_cool_at_another_resolution(files: Path) -> None:
    write_cool(files / "hic.cool", {(0, 0): 1.0}, binsize=1000)
    with pytest.raises(InputError) as err:
        TrainingData(config(files))
    assert "hic.cool: .cool is at 1000 bp resolution; contact maps train at 2048 bp" in one_line(err)


def test_balanced_cool_masks_nan_bins(files: Path) -> None:
    weights = np.array([0.5, np.nan, 1, 1, 1, 1, 1, 1])
    write_cool(files / "hic.cool", {(0, 0): 10.0, (0, 1): 4.0, (1, 1): 8.0}, weights=weights)
    ex = TrainingData(config(files)).read("chr1", 0)
    np.testing.assert_array_equal(ex["targets"]["contact_maps@2048"][..., 0], [[2.5, 0], [0, 0]])
    np.testing.assert_array_equal(ex["weights"]["contact_maps@2048"][..., 0], [[1, 0], [0, 0]])


def test_spliceai_gene_table_labels_sit_on_real_splice_motifs(chr20_fasta: Path, require) -> None:
    """Labels from the spliceai package's GRCh37 table on the bundled real chr20 slice: every donor+ is
    followed by GT (or GC), every acceptor+ preceded by AG, and the - strand by their reverse complements."""
    from importlib import metadata

    from genome_plugin.scoring.spliceai import GeneTable, load_gene_table
    from genome_plugin.train.labels import splice_sites_from_genes

    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        require(False, "the spliceai package (its GRCh37 gene table) is not installed")
    offset, length = 33_420_000, 360_000  # test-data/chr20_slice.json
    genes = load_gene_table("grch37")
    keep = [i for i in range(len(genes)) if genes.chroms[i] == "20" and genes.tx_starts[i] - 1 >= offset
            and genes.tx_ends[i] <= offset + length]
    shifted = GeneTable(names=genes.names[keep], chroms=np.array(["chr20"] * len(keep), dtype=object),
                        strands=genes.strands[keep], tx_starts=genes.tx_starts[keep] - offset,
                        tx_ends=genes.tx_ends[keep] - offset, exon_starts=[genes.exon_starts[i] - offset for i in keep],
                        exon_ends=[genes.exon_ends[i] - offset for i in keep])
    reference = Reference(chr20_fasta)
    positions, classes = splice_sites_from_genes(shifted, reference)["chr20"]
    seq = reference.fetch(chrom="chr20", start=0, end=length)
    after = {int(p): seq[p + 1 : p + 3] for p in positions}
    before = {int(p): seq[p - 2 : p] for p in positions}
    motifs = {c: [after[p] if c in (0, 3) else before[p] for p in positions[classes == c]] for c in range(4)}
    # 116 acceptors and 116 donors, as test-data/chr20_slice.json counts them.
    assert len(motifs[0]) + len(motifs[2]) == 116 and len(motifs[1]) + len(motifs[3]) == 116
    assert sorted(set(motifs[0])) == ["GC", "GT"] and motifs[0].count("GC") == 1
    assert set(motifs[1]) == {"AG"} and set(motifs[2]) == {"AC"} and set(motifs[3]) == {"CT"}


def test_window_filters(files: Path) -> None:
    # Window chr1:0-4096 holds the 10 Ns and all four splice sites; chr1:4096-8192 neither.
    few_n = TrainingData(config(files, max_n_fraction=0.001))
    assert few_n.windows("train")["start"].tolist() == [4096]
    with_sites = TrainingData(config(files, min_splice_sites=4))
    assert with_sites.windows("train")["start"].tolist() == [0] and with_sites.windows("valid").empty
    assert TrainingData(config(files, min_splice_sites=5)).windows("train").empty


def test_track_table_paths_and_builtin_gene_tables(files: Path) -> None:
    sub = files / "tables"
    sub.mkdir()
    (sub / "t.tsv").write_text("output_type\tname\tstrand\tfile\tnonzero_mean\n"
                               "DNASE\tx\t\t../plus.bw\t2.5\nsplice_sites\tg\t.\tspliceai:GRCh37\t\n")
    rows, metadata = read_track_table(sub / "t.tsv")
    assert [(r.output_type, r.strand, r.file, r.nonzero_mean) for r in rows[:1]] == [
        (OutputType.DNASE, ".", str((files / "plus.bw").resolve()), 2.5)]
    assert rows[1].file == "spliceai:grch37" and metadata["name"].tolist() == ["x", "g"]
    (sub / "t.tsv").write_text("output_type\tname\tstrand\tfile\nsplice_sites\tg\t.\t../genes.gtf\n"
                               "splice_sites\th\t.\t../genes.gtf\n")
    with pytest.raises(InputError, match="line 3: splice_sites has 2 rows"):
        read_track_table(sub / "t.tsv")


def test_max_junctions_keeps_the_most_read(files: Path) -> None:
    ex = TrainingData(config(files, max_junctions=2)).read("chr1", 0)
    junctions = ex["targets"]["splice_junctions@1"]
    # 6, 2, 6 and 5 reads: the two 6-read junctions stay, in position order.
    assert junctions["donor"].tolist() == [199, 499] and junctions["acceptor"].tolist() == [300, 700]


def test_nan_raw_count_in_a_cool(files: Path) -> None:
    write_cool(files / "hic.cool", {(0, 0): 1.0, (0, 1): float("nan")})
    with pytest.raises(InputError) as err:
        TrainingData(config(files)).read("chr1", 0)
    assert "hic.cool: non-finite raw count stored at the pixel chr1:1 x chr1:2049" in one_line(err)

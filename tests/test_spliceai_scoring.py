"""SpliceAI delta scores (scoring/spliceai.py): the arithmetic of spliceai 1.3.1, gene tables, the fast engine
against a plain window-by-window computation, every-record-out, and the VCF / TSV / AnnData outputs."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from genome_plugin.adata import read_h5ad
from genome_plugin.errors import InputError
from genome_plugin.genome import Reference, one_hot, reverse_complement
from genome_plugin.scoring import spliceai as ss

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
SLICE_OFFSET = 33_420_000  # test-data README: slice position = GRCh37 chr20 position - 33,420,000
ENTRY = re.compile(r"^[ACGTN]+\|[^|]+\|(-?\d\.\d\d\|){4}(-?\d+\|){3}-?\d+$")


def _installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


needs_package = pytest.mark.skipif(
    not _installed(),
    reason="the `spliceai` package (weights, gene tables) is not installed: pip install --no-deps spliceai",
)


# ------------------------------------------------------------------------------------ arithmetic


def _probs(acceptor, donor):
    acceptor, donor = np.asarray(acceptor, np.float32), np.asarray(donor, np.float32)
    return np.stack([1 - acceptor - donor, acceptor, donor], axis=-1)


def test_delta_scores_snv_gains_losses_and_positions():
    ref = _probs([0.1, 0.2, 0.9, 0.0, 0.0], [0.0, 0.0, 0.0, 0.8, 0.1])
    alt = _probs([0.1, 0.6, 0.3, 0.0, 0.0], [0.0, 0.0, 0.0, 0.2, 0.5])
    scores, positions = ss.delta_scores(ref, alt, ref_len=1, alt_len=1, boundary=99, mask=False, distance=2)
    np.testing.assert_allclose(scores, [0.4, 0.6, 0.4, 0.6], atol=1e-6)
    assert positions.tolist() == [-1, 0, 2, 1]


def test_delta_scores_deletion_gets_zeros_where_the_bases_were():
    ref = _probs([0.0, 0.0, 0.0, 0.0, 0.7], [0.0, 0.0, 0.5, 0.5, 0.0])
    alt = _probs([0.0, 0.0, 0.0], [0.0, 0.0, 0.5])  # REF 3 bp -> ALT 1 bp: 2 outputs fewer
    scores, positions = ss.delta_scores(ref, alt, ref_len=3, alt_len=1, boundary=99, mask=False, distance=2)
    # ALT becomes [a0, a1, a2, 0, 0]: the donor at +1 is lost, the acceptor at +2 too.
    np.testing.assert_allclose(scores, [0.0, 0.7, 0.0, 0.5], atol=1e-6)
    assert positions[1] == 2 and positions[3] == 1


def test_delta_scores_insertion_collapses_inserted_bases_to_their_maximum():
    ref = _probs([0.0] * 5, [0.0] * 5)
    alt = _probs([0.0] * 7, [0.0, 0.0, 0.1, 0.9, 0.3, 0.0, 0.2])  # REF 1 bp -> ALT 3 bp: 2 outputs more
    scores, positions = ss.delta_scores(ref, alt, ref_len=1, alt_len=3, boundary=99, mask=False, distance=2)
    np.testing.assert_allclose(scores, [0.0, 0.0, 0.9, 0.0], atol=1e-6)
    assert positions[2] == 0  # the maximum of the inserted bases sits at the variant
    with pytest.raises(ValueError, match="do not line up"):
        ss.delta_scores(ref, alt[:6], ref_len=1, alt_len=3, boundary=99, mask=False, distance=2)


def test_masking_zeroes_gains_at_the_nearest_boundary_and_losses_elsewhere():
    ref = _probs([0.0, 0.0, 0.0, 0.5, 0.0], [0.0, 0.3, 0.0, 0.0, 0.0])
    alt = _probs([0.0, 0.0, 0.0, 0.0, 0.6], [0.0, 0.0, 0.0, 0.0, 0.4])
    unmasked, positions = ss.delta_scores(ref, alt, ref_len=1, alt_len=1, boundary=2, mask=False, distance=2)
    assert positions.tolist() == [2, 1, 2, -1]
    masked, _ = ss.delta_scores(ref, alt, ref_len=1, alt_len=1, boundary=2, mask=True, distance=2)
    # Acceptor gain at the annotated boundary (+2): masked. Acceptor loss at +1 (not annotated): masked.
    # Donor gain at +2 (annotated): masked. Donor loss at -1 (not annotated): masked.
    assert masked.tolist() == [0.0, 0.0, 0.0, 0.0] and unmasked.min() > 0
    kept, _ = ss.delta_scores(ref, alt, ref_len=1, alt_len=1, boundary=1, mask=True, distance=2)
    np.testing.assert_allclose(kept, [0.6, 0.5, 0.4, 0.0], atol=1e-6)  # only the donor loss at -1 is masked


def test_masked_negative_value_prints_as_the_original_does():
    ref = _probs([0.5, 0.5, 0.5], [0.1, 0.1, 0.1])
    alt = _probs([0.4, 0.4, 0.4], [0.1, 0.1, 0.1])  # acceptor drops everywhere: the "gain" is negative
    scores, positions = ss.delta_scores(ref, alt, ref_len=1, alt_len=1, boundary=-1, mask=True, distance=1)
    assert positions[0] == -1 and f"{scores[0]:.2f}" == "-0.00"  # (negative) * (1 - True)


# ------------------------------------------------------------------------------------ gene tables


@needs_package
def test_package_tables_and_lookup():
    genes = ss.load_gene_table("grch37")
    assert len(genes) == 20_274 and "grch37" in genes.source
    assert len(ss.load_gene_table("GRCh38")) == 19_305
    hits = genes.genes_at("chr20", SLICE_OFFSET + 110_811)  # 'chr20' finds the table's '20'
    assert [genes.names[h] for h in hits] == ["GSS"]
    assert genes.genes_at("20", 1).size == 0 and genes.genes_at("chrUn_x", 5).size == 0


@needs_package
def test_gtf_gives_the_same_genes_as_the_package_table(tmp_path):
    ours = ss.load_gene_table(TEST_DATA / "genes.gtf")
    package = ss.load_gene_table("grch37")
    assert len(ours) == 7
    for k, name in enumerate(ours.names):
        [j] = [j for j in np.flatnonzero(package.names == name) if package.chroms[j] == "20"]
        assert ours.strands[k] == package.strands[j]
        assert ours.tx_starts[k] + SLICE_OFFSET == package.tx_starts[j]
        assert ours.tx_ends[k] + SLICE_OFFSET == package.tx_ends[j]
        np.testing.assert_array_equal(ours.boundaries[k] + SLICE_OFFSET, package.boundaries[j])
    written = ss.load_gene_table(ours.write(tmp_path / "table.txt"))
    np.testing.assert_array_equal(written.tx_starts, ours.tx_starts)
    assert all(np.array_equal(a, b) for a, b in zip(written.boundaries, ours.boundaries, strict=True))


def test_bad_annotations_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="neither grch37, grch38 nor an existing file"):
        ss.load_gene_table(tmp_path / "absent.txt")
    table = tmp_path / "table.txt"
    table.write_text("#NAME\tCHROM\tSTRAND\n")
    with pytest.raises(InputError, match="lacks column"):
        ss.load_gene_table(table)
    table.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\nG\t1\t+\t10\t90\t10,x,\t20,90,\n")
    with pytest.raises(InputError, match="bad EXON_START"):
        ss.load_gene_table(table)


# ------------------------------------------------------------------------------------ scoring (real weights)


@pytest.fixture(scope="module")
def model():
    if not _installed():
        pytest.skip("the `spliceai` package (trained weights) is not installed")
    from genome_plugin.plugins import load_model

    return load_model("spliceai")


@pytest.fixture(scope="module")
def scored(model):
    return ss.score_vcf(
        TEST_DATA / "variants.vcf", TEST_DATA / "chr20_slice.fa", TEST_DATA / "genes.gtf", model=model, progress=False
    )


@pytest.mark.slow
def test_canonical_splice_site_snvs_score_high_and_exonic_ones_low(scored):
    table = scored.table().set_index("id")
    assert len(table) == 25 and (table["reason"] == "").all()
    donors = table[table.index.str.contains("donor\\+1")]
    acceptors = table[table.index.str.contains("acceptor-2")]
    exonic = table[table.index.str.endswith("exon2_snv")]
    assert len(donors) == len(acceptors) == len(exonic) == 7
    assert (donors["DS_DL"] > 0.5).all() and (donors["DP_DL"].abs() <= 2).all()
    assert (acceptors["DS_AL"] > 0.5).all() and (acceptors["DP_AL"].abs() <= 2).all()
    assert (exonic[list(ss.SCORE_NAMES)].max(axis=1) < 0.3).all()
    assert table.loc["GSS_intron3_donor_4bp_del", "DS_DL"] > 0.5


def _window_scores(model, reference, genes, record, distance=50):
    """The original algorithm, window by window: REF and ALT windows predicted whole (no tiles, no cone)."""
    gene = int(genes.genes_at(record.chrom, record.pos)[0])
    half = 5000 + distance
    start = record.pos - 1 - half
    seq = reference.fetch(chrom=record.chrom, start=start, end=record.pos + half)
    lo = max(int(genes.tx_starts[gene]) - 1 - start, 0)
    hi = min(int(genes.tx_ends[gene]) - start, len(seq))
    x_ref = "N" * lo + seq[lo:hi] + "N" * (len(seq) - hi)
    alt = record.alts[0]
    x_alt = x_ref[:half] + alt + x_ref[half + len(record.ref) :]
    minus = genes.strands[gene] == "-"
    y = []
    for x in (x_ref, x_alt):
        p = model.ensemble(one_hot(reverse_complement(x) if minus else x)[None])[0]
        y.append(p[::-1] if minus else p)
    return ss.delta_scores(
        y[0],
        y[1],
        ref_len=len(record.ref),
        alt_len=len(alt),
        boundary=genes.nearest_boundary(gene, record.pos),
        mask=False,
        distance=distance,
    )


@pytest.mark.slow
def test_tiles_and_snv_cones_equal_whole_window_predictions(model, scored):
    reference = Reference(TEST_DATA / "chr20_slice.fa")
    genes = ss.load_gene_table(TEST_DATA / "genes.gtf")
    table = scored.table().set_index("id")
    checked = ["GGT7_intron2_donor+1_snv", "PROCR_exon2_snv", "ACSS2_exon3_1bp_ins", "GSS_intron3_donor_4bp_del"]
    records = {r.id: r for r in pysam.VariantFile(str(TEST_DATA / "variants.vcf"))}
    for name in checked:  # - and + strand SNVs, an insertion, a deletion
        scores, positions = _window_scores(model, reference, genes, records[name])
        np.testing.assert_allclose(table.loc[name, list(ss.SCORE_NAMES)].to_numpy(float), scores, atol=2e-5)
        assert table.loc[name, list(ss.POSITION_NAMES)].tolist() == positions.tolist()


@pytest.mark.slow
def test_outputs_vcf_tsv_and_anndata(scored, tmp_path):
    vcf = scored.write_vcf(tmp_path / "out.vcf")
    text = vcf.read_text().splitlines()
    assert ss.INFO_HEADER in text
    data = [line for line in text if not line.startswith("#")]
    assert len(data) == 25
    with pysam.VariantFile(str(vcf)) as handle:
        entries = [rec.info["SpliceAI"] for rec in handle]
    assert all(len(e) == 1 and ENTRY.match(e[0]) for e in entries)
    tsv = pd.read_csv(scored.write_tsv(tmp_path / "out.tsv"), sep="\t")
    assert len(tsv) == 25 and list(tsv.columns[-9:]) == [*ss.SCORE_NAMES, *ss.POSITION_NAMES, "reason"]
    adata = read_h5ad(scored.write_h5ad(tmp_path / "out.h5ad"))
    assert adata.shape == (25, 4) and list(adata.var["name"]) == list(ss.SCORE_NAMES)
    assert adata.uns["genome_plugin"]["model"] == "spliceai"
    assert adata.uns["genome_plugin"]["scorer_definition"]["distance"] == 50
    np.testing.assert_array_equal(adata.layers["positions"], scored.positions)


@pytest.mark.slow
def test_every_awkward_record_comes_out_scored_or_with_a_reason(model, tmp_path):
    result = ss.score_vcf(
        TEST_DATA / "awkward.vcf", TEST_DATA / "chr20_slice.fa", TEST_DATA / "genes.gtf", model=model, progress=False
    )
    frame = result.frame
    assert frame["record"].nunique() == 19
    by_id = {name: rows for name, rows in frame.groupby("id")}
    scored_ids = [
        "good_snv_control",
        "multiallelic_snv",
        "lowercase_alleles",
        "duplicate",
        "unsorted_after_later_positions",
    ]
    for name in scored_ids:
        assert (by_id[name]["reason"] == "").all(), name
    assert by_id["multiallelic_snv_and_insertion"]["reason"].tolist() == ["", ""]
    reasons = {name: " ".join(rows["reason"]) for name, rows in by_id.items()}
    assert "does not match" in reasons["ref_mismatch"]
    assert "symbolic" in reasons["symbolic_del"] and "'*'" in reasons["star_allele"]
    assert "breakend" in reasons["breakend"] and "no ALT" in reasons["no_alt"]
    assert "MNV" in reasons["mnv_2bp"] and by_id["mnv_2bp"]["spliceai"].tolist() == ["TT|GSS|.|.|.|.|.|.|.|."]
    assert "longer than 2 x distance" in reasons["deletion_200bp_too_long"]
    for name in (
        "deletion_at_chrom_start",
        "insertion_at_chrom_start",
        "deletion_at_chrom_end",
        "insertion_at_chrom_end",
    ):
        assert reasons[name], name
    assert "not in the reference" in reasons["missing_contig"]
    vcf = result.write_vcf(tmp_path / "awkward.vcf")
    with pysam.VariantFile(str(vcf)) as handle:
        records = list(handle)
    assert len(records) == 19
    assert records[1].info[ss.REASON_KEY][0].startswith("REF_G_does_not_match")
    assert read_h5ad(result.write_h5ad(tmp_path / "awkward.h5ad")).n_obs == len(frame)


def test_distance_is_checked():
    with pytest.raises(ValueError, match="0..4999"):
        ss.score_vcf(TEST_DATA / "variants.vcf", TEST_DATA / "chr20_slice.fa", TEST_DATA / "genes.gtf", distance=5000)

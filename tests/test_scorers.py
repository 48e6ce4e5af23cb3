"""Scorer maths on hand-made arrays; every expected value is worked out here, not taken from the code."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from genome_plugin.genome import Interval, Variant, read_gtf
from genome_plugin.scoring.align import align_alternate
from genome_plugin.scoring.base import ScoreResult, ScoringContext, strand_mismatch
from genome_plugin.scoring.catalogue import RECOMMENDED, ScorerPreset, builtin_scorers, resolve_scorers
from genome_plugin.scoring.center_mask import Aggregation, CenterMask, aggregate, center_mask
from genome_plugin.scoring.contact_map import ContactMap
from genome_plugin.scoring.gene_mask import GeneMaskActive, GeneMaskLFC, GeneMaskSplicing
from genome_plugin.scoring.genes import read_polya_bed
from genome_plugin.scoring.junction import SpliceJunction
from genome_plugin.scoring.polyadenylation import Polyadenylation, pas_statistic
from genome_plugin.tracks import OutputType, TrackTable

STRANDED = TrackTable([{"name": "t", "strand": "+"}, {"name": "t", "strand": "-"}, {"name": "u", "strand": "."}])


def context(interval, variant, resolution, *, tracks=STRANDED, output_type=OutputType.RNA_SEQ, annotation=None,
            **extra):
    return ScoringContext(variant=variant, interval=interval, resolution=resolution, tracks=tracks,
                          output_type=output_type, annotation=annotation, extra=extra)


# ----------------------------------------------------------------------------------------------- CenterMask
def test_center_mask_bins():
    # 501 bp at 1 bp: 250 bins each side of the variant's bin.
    assert center_mask(2000, 1000, 501, 1) == slice(750, 1251)
    # 501 bp at 128 bp: ceil(501 / 128) = 4 bins; the extra (even) bin goes left: bins 3, 4, 5, 6 around bin 5.
    assert center_mask(10, 5, 501, 128) == slice(3, 7)
    # clipped at the window edges
    assert center_mask(10, 0, 2001, 128) == slice(0, 8)  # 16 bins from -8
    assert center_mask(10, 5, None, 128) == slice(0, 10)


@pytest.mark.parametrize(("aggregation", "expected"), [
    # ref = [1, 2], alt = [3, 4] in one track
    (Aggregation.DIFF_MEAN, 3.5 - 1.5),
    (Aggregation.DIFF_SUM, 7 - 3),
    (Aggregation.DIFF_SUM_LOG2, (2 + math.log2(5)) - (1 + math.log2(3))),
    (Aggregation.DIFF_LOG2_SUM, math.log2(8) - math.log2(4)),
    (Aggregation.L2_DIFF, math.sqrt(2**2 + 2**2)),
    (Aggregation.L2_DIFF_LOG1P, math.sqrt(math.log(4 / 2) ** 2 + math.log(5 / 3) ** 2)),
    (Aggregation.ACTIVE_MEAN, 3.5),
    (Aggregation.ACTIVE_SUM, 7.0),
])
def test_aggregations(aggregation, expected):
    ref = np.array([[1.0], [2.0]])
    alt = np.array([[3.0], [4.0]])
    assert aggregate(ref, alt, aggregation)[0] == pytest.approx(expected)
    # ALT and REF swapped: signed scores flip sign, the others (magnitudes / activity) do not
    swapped = aggregate(alt, ref, aggregation)[0]
    assert swapped == pytest.approx(-expected if aggregation.signed else expected)


def test_center_mask_scorer_sums_only_the_mask():
    interval = Interval("chr1", 10_000, 11_280)  # 10 bins of 128 bp
    variant = Variant("chr1", 10_000 + 640 + 1, "A", "G")  # 0-based offset 640 -> bin 5
    ref = np.zeros((10, 3), dtype=np.float32)
    alt = np.tile(np.arange(10, dtype=np.float32)[:, None], (1, 3))
    scorer = CenterMask("dnase", 501, "diff_sum")
    result = scorer.score(ref, alt, context=context(interval, variant, 128, output_type=OutputType.DNASE))
    assert scorer.name == "center_mask_dnase_501_diff_sum"
    assert len(result.rows) == 1
    np.testing.assert_allclose(result.values, [[3 + 4 + 5 + 6] * 3])  # bins 3..6


def test_center_mask_rejects_bad_settings():
    with pytest.raises(ValueError, match="width 777"):
        CenterMask("dnase", 777, "diff_sum")
    with pytest.raises(ValueError, match="does not support contact_maps"):
        CenterMask("contact_maps", 501, "diff_sum")
    with pytest.raises(ValueError, match="unknown aggregation"):
        CenterMask("dnase", 501, "median")


# ------------------------------------------------------------------------------------------------ indels
def test_align_insertion_takes_the_max_and_shifts_back():
    interval = Interval("c", 100, 110)
    alt = np.arange(10, dtype=np.float32)[:, None]
    ref = np.full((10, 1), -1.0, dtype=np.float32)
    # A>ACG at offset 2: ALT bases 2 (anchor), 3, 4 (inserted) collapse onto REF base 2 -> max = 4;
    # REF bases 3.. take ALT bases 5..; the last 2 REF bases have no ALT prediction and keep REF (-1).
    aligned = align_alternate(alt, ref, variant=Variant("c", 103, "A", "ACG"), interval=interval, resolution=1)
    np.testing.assert_array_equal(aligned[:, 0], [0, 1, 4, 5, 6, 7, 8, 9, -1, -1])


def test_align_deletion_zeroes_the_deleted_bases():
    interval = Interval("c", 100, 110)
    alt = np.arange(1, 11, dtype=np.float32)[:, None]
    ref = np.zeros((10, 1), dtype=np.float32)
    # ACG>A at offset 2: REF bases 3 and 4 were deleted (0 in ALT); REF base 5 is ALT base 3, and so on.
    aligned = align_alternate(alt, ref, variant=Variant("c", 103, "ACG", "A"), interval=interval, resolution=1)
    np.testing.assert_array_equal(aligned[:, 0], [1, 2, 3, 0, 0, 4, 5, 6, 7, 8])


def test_align_at_coarse_resolution_is_the_bin_mean_of_the_base_rule():
    interval = Interval("c", 100, 120)
    alt = np.arange(10, dtype=np.float32)[:, None]
    ref = np.zeros((10, 1), dtype=np.float32)
    variant = Variant("c", 105, "ACG", "A")  # offset 4: bases 5 and 6 deleted
    # per base (each 2 bp bin repeated): 0 0 1 1 2 | 0 0 | then ALT bases 5.. = 2 3 3 4 4 ... (shift 2)
    per_base = np.array([0, 0, 1, 1, 2, 0, 0, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8], dtype=np.float32)
    aligned = align_alternate(alt, ref, variant=variant, interval=interval, resolution=2)
    np.testing.assert_allclose(aligned[:, 0], per_base.reshape(10, 2).mean(axis=1))


def test_align_leaves_snvs_and_mnvs_alone():
    alt = np.random.default_rng(0).random((8, 2)).astype(np.float32)
    for variant in (Variant("c", 3, "A", "G"), Variant("c", 3, "AC", "GT")):
        assert align_alternate(alt, alt * 0, variant=variant, interval=Interval("c", 0, 8), resolution=1) is alt


# ------------------------------------------------------------------------------------------ gene scorers
GTF = """\
c1\tt\tgene\t1011\t1040\t.\t+\t.\tgene_id "G1"; gene_name "ONE"; gene_type "pc";
c1\tt\ttranscript\t1011\t1040\t.\t+\t.\tgene_id "G1"; transcript_id "G1.1"; gene_name "ONE"; gene_type "pc";
c1\tt\texon\t1011\t1020\t.\t+\t.\tgene_id "G1"; transcript_id "G1.1"; gene_name "ONE"; gene_type "pc";
c1\tt\texon\t1031\t1040\t.\t+\t.\tgene_id "G1"; transcript_id "G1.1"; gene_name "ONE"; gene_type "pc";
c1\tt\tgene\t1051\t1060\t.\t-\t.\tgene_id "G2"; gene_name "TWO"; gene_type "lncRNA";
c1\tt\ttranscript\t1051\t1060\t.\t-\t.\tgene_id "G2"; transcript_id "G2.1"; gene_name "TWO"; gene_type "lncRNA";
c1\tt\texon\t1051\t1060\t.\t-\t.\tgene_id "G2"; transcript_id "G2.1"; gene_name "TWO"; gene_type "lncRNA";
c1\tt\tgene\t901\t1070\t.\t+\t.\tgene_id "G3"; gene_name "THREE"; gene_type "pc";
c1\tt\ttranscript\t901\t1070\t.\t+\t.\tgene_id "G3"; transcript_id "G3.1"; gene_name "THREE"; gene_type "pc";
c1\tt\texon\t901\t950\t.\t+\t.\tgene_id "G3"; transcript_id "G3.1"; gene_name "THREE"; gene_type "pc";
c1\tt\texon\t1061\t1070\t.\t+\t.\tgene_id "G3"; transcript_id "G3.1"; gene_name "THREE"; gene_type "pc";
"""
# 0-based: G1 exons [1010, 1020) and [1030, 1040) on +; G2 exon [1050, 1060) on -; G3 starts at 900 (TSS outside
# the window [1000, 1100)), body [900, 1070).


@pytest.fixture
def annotation(tmp_path):
    path = tmp_path / "genes.gtf"
    path.write_text(GTF)
    return read_gtf(path)


def test_gene_mask_lfc_and_active(annotation):
    interval = Interval("c1", 1000, 1100)
    variant = Variant("c1", 1016, "A", "G")
    ref = np.ones((100, 3), dtype=np.float32)
    alt = ref.copy()
    alt[10:20] = 3.0  # first exon of G1 goes from 1 to 3; its second exon stays at 1 -> mean 2
    ctx = context(interval, variant, 1, annotation=annotation)
    lfc = GeneMaskLFC("rna_seq").score(ref, alt, context=ctx)
    # G3's TSS (900) is outside the window, so only G1 and G2, in genomic order
    assert list(lfc.rows["gene_id"]) == ["G1", "G2"]
    assert list(lfc.rows["gene_strand"]) == ["+", "-"]
    assert list(lfc.rows["gene_type"]) == ["pc", "lncRNA"]
    g1 = math.log(2 + 1e-3) - math.log(1 + 1e-3)
    expected = np.array([[g1, np.nan, g1], [np.nan, 0.0, 0.0]])  # + gene x - track and - gene x + track: NaN
    np.testing.assert_allclose(lfc.values, expected, rtol=1e-6)
    active = GeneMaskActive("rna_seq").score(ref, alt, context=ctx)
    np.testing.assert_allclose(active.values, [[2, np.nan, 2], [np.nan, 1, 1]])


def test_gene_mask_splicing_width(annotation):
    interval = Interval("c1", 900, 1100)
    variant = Variant("c1", 1021, "A", "G")  # 0-based 1020: inside G1's body [1010, 1040) and G3's [900, 1070)
    ref = np.zeros((200, 3), dtype=np.float32)
    alt = ref.copy()
    alt[1038 - 900] = 0.5  # 18 bp right of the variant, in G1 and G3
    alt[1012 - 900] = -0.25  # 8 bp left, in G1 and G3: |delta| 0.25 < 0.5
    alt[960 - 900] = 2.0  # 60 bp left, in G3 only: outside a 101 bp mask (50 bp each side)
    ctx = context(interval, variant, 1, annotation=annotation)
    whole = GeneMaskSplicing("splice_sites", None).score(ref, alt, context=ctx)
    assert list(whole.rows["gene_id"]) == ["G3", "G1"]  # genomic order of gene starts
    np.testing.assert_allclose(whole.values, [[2.0, np.nan, 2.0], [0.5, np.nan, 0.5]])
    narrow = GeneMaskSplicing("splice_sites", 101).score(ref, alt, context=ctx)
    np.testing.assert_allclose(narrow.values, [[0.5, np.nan, 0.5], [0.5, np.nan, 0.5]])


def test_gene_scorers_without_genes_give_zero_rows(annotation):
    ctx = context(Interval("c1", 5000, 5100), Variant("c1", 5050, "A", "G"), 1, annotation=annotation)
    ref = np.zeros((100, 3), dtype=np.float32)
    for scorer in (GeneMaskLFC("rna_seq"), GeneMaskSplicing("splice_sites", None), Polyadenylation()):
        result = scorer.score(ref, ref, context=ctx)
        assert result.values.shape == (0, 3)
        assert "gene_id" in result.rows.columns


def test_gene_scorer_needs_annotation():
    ctx = context(Interval("c1", 0, 100), Variant("c1", 50, "A", "G"), 1)
    with pytest.raises(ValueError, match="needs a gene annotation"):
        GeneMaskLFC("rna_seq").score(np.zeros((100, 3)), np.zeros((100, 3)), context=ctx)


def test_strand_mismatch():
    np.testing.assert_array_equal(strand_mismatch(["+", "-", "."], ["+", "-", "."]),
                                  [[False, True, False], [True, False, False], [False, False, False]])


# ------------------------------------------------------------------------------------------- contact map
def test_contact_map_mean_abs_diff_of_the_variant_row():
    ref = np.zeros((4, 4, 2), dtype=np.float32)
    alt = ref.copy()
    alt[1, :, 0] = [1, -2, 3, 6]  # |.| mean = 3
    alt[:, 1, 1] = 4.0  # column 1 only touches row 1 at (1, 1): mean = 4 / 4
    alt[2, 3, 0] = 100.0  # another bin's contacts do not count
    interval = Interval("c", 0, 4 * 2048)
    variant = Variant("c", 2048 + 100, "A", "C")  # bin 1
    result = ContactMap().score(ref, alt, context=context(interval, variant, 2048, output_type=OutputType.CONTACT_MAPS))
    np.testing.assert_allclose(result.values, [[3.0, 1.0]])


# ------------------------------------------------------------------------------------------ junctions
DENSE_GTF = """\
c2\tt\tgene\t101\t600\t.\t+\t.\tgene_id "PA"; gene_name "PA"; gene_type "protein_coding";
c2\tt\texon\t101\t600\t.\t+\t.\tgene_id "PA"; transcript_id "PA.1"; gene_name "PA"; gene_type "protein_coding";
c2\tt\tgene\t151\t700\t.\t-\t.\tgene_id "PB"; gene_name "PB"; gene_type "protein_coding";
c2\tt\texon\t151\t700\t.\t-\t.\tgene_id "PB"; transcript_id "PB.1"; gene_name "PB"; gene_type "protein_coding";
c2\tt\tgene\t121\t500\t.\t+\t.\tgene_id "NC"; gene_name "NC"; gene_type "lncRNA";
c2\tt\texon\t121\t500\t.\t+\t.\tgene_id "NC"; transcript_id "NC.1"; gene_name "NC"; gene_type "lncRNA";
c2\tt\tgene\t801\t900\t.\t+\t.\tgene_id "PD"; gene_name "PD"; gene_type "protein_coding";
c2\tt\texon\t801\t900\t.\t+\t.\tgene_id "PD"; transcript_id "PD.1"; gene_name "PD"; gene_type "protein_coding";
"""
# 0-based bodies: PA [100, 600) +, PB [150, 700) -, NC [120, 500) + (lncRNA: the SDK's junction scorer drops it),
# PD [800, 900) + (does not overlap the variant).
JUNCTION_TRACKS = TrackTable([{"name": "liver", "strand": "+"}, {"name": "brain", "strand": "+"},
                              {"name": "liver", "strand": "-"}, {"name": "brain", "strand": "-"}])


def _dense_junctions():
    # Sites (0-based; donor = last exon base, acceptor = first exon base):
    #   + donors 49, 199, 349; + acceptors 300, 450; - donors 400, 520; - acceptors 250, 380.
    # SDK coordinates: + start = donor + 1, end = acceptor; - start = acceptor + 1, end = donor; start < end only.
    rows = [
        (200, 300, "+", 1, 0),  # 0: donor 199 -> acceptor 300, in PA
        (200, 450, "+", 1, 1),  # 1: donor 199 -> acceptor 450
        (350, 450, "+", 2, 1),  # 2: donor 349 -> acceptor 450 (349 -> 300 has start 350 > end 300: no junction)
        (251, 400, "-", 0, 0),  # 3: donor 400 -> acceptor 250, in PB
        (381, 400, "-", 0, 1),  # 4: donor 400 -> acceptor 380
        (251, 520, "-", 1, 0),  # 5: donor 520 -> acceptor 250
        (381, 520, "-", 1, 1),  # 6: donor 520 -> acceptor 380
        (50, 300, "+", 0, 0),  # 7: donor 49: start 50 is not > PA's start 100
        (210, 300, "+", 300, 0),  # 8: a donor ranked 300 in its class: past the SDK's 256 sites
    ]
    return pd.DataFrame(rows, columns=["start", "end", "strand", "donor_rank", "acceptor_rank"])


def test_splice_junction_sdk_rows_on_a_dense_window_with_both_strands(tmp_path):
    path = tmp_path / "dense.gtf"
    path.write_text(DENSE_GTF)
    annotation = read_gtf(path)
    e = math.exp
    # counts as the junction head gives them: 0 in the other strand's tracks
    ref = np.array([[1, 1, 0, 0]] * 3 + [[0, 0, 1, 1]] * 4 + [[1, 1, 0, 0]] * 2, dtype=np.float64)
    alt = ref.copy()
    alt[1, :2] = [e(2), e(0.5)]  # |ln| = 2 (liver+), 0.5 (brain+)
    alt[2, :2] = [e(-1), e(3)]  # 1, 3
    alt[4, 2:] = [1, e(4)]  # 0, 4 (brain-)
    alt[5, 2:] = [e(5), 1]  # 5 (liver-), 0
    alt[6, 2:] = [e(2), e(2)]  # 2, 2
    alt[3, 2:] = [e(1), e(1)]  # 1, 1
    alt[7, :2] = [e(9), e(9)]  # would win, but is not strictly inside PA
    alt[8, :2] = [e(8), e(8)]  # would win, but its donor is past the first 256 sites
    variant = Variant("c2", 301, "A", "G")  # 0-based 300: overlaps PA, PB and NC
    ctx = context(Interval("c2", 0, 1024), variant, 1, tracks=JUNCTION_TRACKS,
                  output_type=OutputType.SPLICE_JUNCTIONS, annotation=annotation, junctions=_dense_junctions())
    result = SpliceJunction().score(ref.astype(np.float32), alt.astype(np.float32), context=ctx)
    # PA (+): liver+ picks junction 1 (2 > 1 > 0), brain+ junction 2 (3). Junction 0 never wins a + track; the old
    # argmax over the all-zero - tracks reported it. PB (-): liver- picks junction 5 (5) first, brain- junction 4 (4),
    # in that order (the order the tracks pick them, as the SDK). NC (lncRNA) and PD (not at the variant): no rows.
    assert list(result.rows["gene_id"]) == ["PA", "PA", "PB", "PB"]
    assert list(result.rows["gene_strand"]) == ["+", "+", "-", "-"]
    assert list(result.rows["junction_Start"]) == [200, 350, 251, 381]
    assert list(result.rows["junction_End"]) == [450, 450, 520, 400]
    nan = np.nan
    expected = [[2, 0.5, nan, nan], [1, 3, nan, nan], [nan, nan, 5, 0], [nan, nan, 0, 4]]
    np.testing.assert_allclose(result.values, expected, atol=1e-5)


def test_splice_junction_scores_a_junction_only_alt_has(tmp_path):
    # A site chosen only because ALT predicts it: REF's count there is tiny, ALT's large; the scorer sees both.
    path = tmp_path / "dense.gtf"
    path.write_text(DENSE_GTF)
    junctions = pd.DataFrame({"start": [200], "end": [300], "strand": ["+"]})
    ref = np.array([[1e-7, 0.0, 0.0, 0.0]], dtype=np.float32)  # brain+: REF and ALT both 0
    alt = np.array([[3.0, 0.0, 0.0, 0.0]], dtype=np.float32)
    ctx = context(Interval("c2", 0, 1024), Variant("c2", 301, "A", "G"), 1, tracks=JUNCTION_TRACKS,
                  output_type=OutputType.SPLICE_JUNCTIONS, annotation=read_gtf(path), junctions=junctions)
    result = SpliceJunction().score(ref, alt, context=ctx)
    assert list(result.rows["gene_id"]) == ["PA"]
    # |ln(3 + 1e-7) - ln(1e-7 + 1e-7)| = ln 3 - ln 2e-7; brain+: |ln 1e-7 - ln 1e-7| = 0
    np.testing.assert_allclose(result.values, [[math.log(3) - math.log(2e-7), 0, np.nan, np.nan]], rtol=1e-5)


def test_splice_junction_keeps_every_gene_of_an_untyped_annotation(tmp_path):
    path = tmp_path / "untyped.gtf"
    path.write_text(DENSE_GTF.replace('gene_type "protein_coding"', 'gene_type "unknown"')
                    .replace('gene_type "lncRNA"', 'gene_type "unknown"'))
    junctions = pd.DataFrame({"start": [200], "end": [300], "strand": ["+"]})
    ref = np.ones((1, 4), dtype=np.float32)
    alt = np.array([[math.e, 1, 1, 1]], dtype=np.float32)
    ctx = context(Interval("c2", 0, 1024), Variant("c2", 301, "A", "G"), 1, tracks=JUNCTION_TRACKS,
                  output_type=OutputType.SPLICE_JUNCTIONS, annotation=read_gtf(path), junctions=junctions)
    result = SpliceJunction().score(ref, alt, context=ctx)
    # without gene types nothing can be filtered: PA and NC (both + and holding [200, 300)) each report it
    assert list(result.rows["gene_id"]) == ["PA", "NC"]
    np.testing.assert_allclose(result.values, [[1, 0, np.nan, np.nan]] * 2, atol=1e-6)


# ------------------------------------------------------------------------------------- polyadenylation
def test_pas_statistic_by_hand():
    ref = np.array([[1.0], [1.0], [1.0]])
    alt = np.array([[2.0], [1.0], [1.0]])
    # ratios 2, 1, 1. k=1: mean 2 vs mean(1, 1) -> |log2 2| = 1; k=2: mean(2, 1) = 1.5 vs 1 -> log2 1.5
    assert pas_statistic(ref, alt)[0] == pytest.approx(1.0)
    # undefined ratios count as 0 and undefined logs as 0: ratios (0, 1) -> log2(0 / 1) = -inf -> 0
    assert pas_statistic(np.array([[0.0], [1.0]]), np.array([[0.0], [1.0]]))[0] == 0.0
    # two sites with ratios 4 and 1: |log2(4 / 1)| = 2 whatever the order
    assert pas_statistic(np.array([[1.0], [2.0]]), np.array([[4.0], [2.0]]))[0] == pytest.approx(2.0)
    assert pas_statistic(np.array([[2.0], [1.0]]), np.array([[2.0], [4.0]]))[0] == pytest.approx(2.0)


def test_polyadenylation_uses_400bp_upstream_of_each_site(tmp_path, annotation):
    # For a - strand gene "upstream" is to the right. Sites come by name (column 4) or by lying in a gene's body.
    bed = tmp_path / "pas.bed"
    bed.write_text("c1\t1100\t1101\tTWO\t0\t-\nc1\t1055\t1056\t.\t0\t-\nc1\t1700\t1701\t.\t0\t-\n")
    sites = read_polya_bed(bed, annotation)
    assert list(zip(sites["gene_id"], sites["position"])) == [("G2", 1100), ("G2", 1055)]  # 1700: no gene
    bed.write_text("c1\t1100\t1101\tTWO\t0\t-\nc1\t1700\t1701\tG2\t0\t-\n")
    sites = read_polya_bed(bed, annotation)
    assert list(sites["position"]) == [1100, 1700]
    interval = Interval("c1", 1000, 3000)
    variant = Variant("c1", 1055, "A", "G")  # inside G2
    ref = np.ones((2000, 3), dtype=np.float32)
    alt = ref.copy()
    alt[1100 - 1000: 1500 - 1000] = 3.0  # the 400 bp at and right of site 1100: ratio 3
    alt[1500 - 1000] = 50.0  # just past that window: ignored
    alt[1699 - 1000] = 50.0  # just left of site 1700 (downstream for a - gene): ignored
    result = Polyadenylation(sites).score(ref, alt, context=context(interval, variant, 1, annotation=annotation))
    assert list(result.rows["gene_id"]) == ["G2"]
    assert result.rows["num_pas"].tolist() == [2]
    # the SDK measures from the variant's 1-based position: |1100 - 1055| (the old 0-based value was 46)
    assert result.rows["min_pas_var_distance"].tolist() == [1100 - 1055]
    # ratios 3 (site 1100) and 1 (site 1700): |log2 3|; the + track is NaN for a - gene
    np.testing.assert_allclose(result.values, [[np.nan, math.log2(3), math.log2(3)]], rtol=1e-6)


def _g1_sites(*positions):
    return pd.DataFrame({"chrom": "c1", "position": positions, "strand": "+", "gene_id": "G1"})


@pytest.mark.parametrize(("positions", "num_pas", "distance"), [
    # 2 of 10 sites before the start and 2 past the end: 8/10 start at or after 1000 and 8/10 end before 1100, so the
    # SDK keeps G1 with its 6 sites inside (one combined test, 6/10 inside, would drop it). The nearest site is the
    # variant's own base 1015 (0-based): |1015 - 1016| = 1 from the 1-based position (0 from the 0-based one).
    ((980, 990, 1015, 1025, 1035, 1045, 1055, 1065, 1100, 1200), 6, 1),
    # a site at the window's last base (1099) ends at 1100, not before it: 4/5 pass the end test, 4 sites count
    ((1015, 1025, 1035, 1045, 1099), 4, 1),
    # only the start is covered: 5/5 start after 1000 but 3/5 end before 1100 (< 80%): G1 is skipped
    ((1015, 1025, 1035, 1100, 1200), None, None),
])
def test_polyadenylation_coverage_at_each_end(annotation, positions, num_pas, distance):
    interval = Interval("c1", 1000, 1100)
    variant = Variant("c1", 1016, "A", "G")  # 0-based 1015, in G1 and G3 (G3 has no sites here)
    ref = np.ones((100, 3), dtype=np.float32)
    result = Polyadenylation(_g1_sites(*positions)).score(ref, ref, context=context(interval, variant, 1,
                                                                                    annotation=annotation))
    if num_pas is None:
        assert len(result.rows) == 0
        return
    assert list(result.rows["gene_id"]) == ["G1"]
    assert result.rows["num_pas"].tolist() == [num_pas]
    assert result.rows["min_pas_var_distance"].tolist() == [distance]
    np.testing.assert_allclose(result.values, [[0.0, np.nan, 0.0]])  # ALT = REF: every ratio 1, log2 1 = 0


def test_polyadenylation_from_the_gtf_needs_two_sites(annotation):
    # each gene of the GTF has one transcript, so one polyA site: no gene qualifies
    interval = Interval("c1", 1000, 1100)
    result = Polyadenylation().score(np.ones((100, 3)), np.ones((100, 3)),
                                     context=context(interval, Variant("c1", 1016, "A", "G"), 1, annotation=annotation))
    assert len(result.rows) == 0


# ------------------------------------------------------------------------------------- catalogue
def test_recommended_preset_has_the_sdk_19():
    assert len(RECOMMENDED) == 19
    assert len(set(RECOMMENDED)) == 19
    assert "center_mask_chip_histone_2001_diff_log2_sum" in RECOMMENDED
    names = [s.name for s in builtin_scorers()]
    assert len(names) == len(set(names))
    assert set(RECOMMENDED) <= set(names)


def test_resolve_scorers_expands_presets_and_rejects_unknown_names():
    registry = {s.name: s for s in builtin_scorers()}
    registry["recommended"] = ScorerPreset("recommended", RECOMMENDED)
    scorers, from_preset = resolve_scorers(["contact_map", "recommended"], registry)
    assert [s.name for s in scorers][:2] == ["contact_map", "center_mask_atac_501_diff_log2_sum"]
    assert len(scorers) == 19
    assert "contact_map" not in from_preset
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        resolve_scorers(["nope"], registry)
    with pytest.raises(TypeError, match="preset"):
        registry["recommended"].score(None, None, context=None)


def test_score_result_checks_shapes():
    with pytest.raises(ValueError, match="do not match"):
        ScoreResult(pd.DataFrame(index=range(2)), np.zeros((3, 1)))

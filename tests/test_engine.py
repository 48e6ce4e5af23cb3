"""The scoring engine on the real chr20 slice: nothing lost, REF reuse, chunks, determinism, resume, quantiles.

The model here is a small deterministic SequenceModel (base content smoothed over 33 bp plus a
whole-window GC term, so REF context matters); end-to-end runs with alphagenome-tiny live in
test_engine_alphagenome.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from genome_plugin.errors import GenomePluginError
from genome_plugin.genome import Interval, Reference, Variant, one_hot, read_gtf, read_vcf, variant_sequences
from genome_plugin.models import SequenceModel
from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext
from genome_plugin.scoring.center_mask import CenterMask
from genome_plugin.scoring.engine import score_variants
from genome_plugin.tracks import OutputType, TrackTable

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = TEST_DATA / "chr20_slice.fa"
GTF = TEST_DATA / "genes.gtf"
AWKWARD = TEST_DATA / "awkward.vcf"
VARIANTS = TEST_DATA / "variants.vcf"
LENGTH = 8192
SCORERS = ["center_mask_dnase_501_diff_log2_sum", "center_mask_dnase_2001_l2_diff", "gene_mask_lfc_rna_seq",
           "gene_mask_splicing_splice_sites_all", "contact_map"]


class ToyModel(SequenceModel):
    """Deterministic tracks from the sequence: local base content plus a whole-window term."""

    name = "toy-scoring"
    version = "1"
    organisms = ("human",)

    _TRACKS = {
        OutputType.DNASE: [("gc", "."), ("a", "+"), ("a", "-")],
        OutputType.RNA_SEQ: [("cov", "+"), ("cov", "-"), ("total", ".")],
        OutputType.SPLICE_SITES: [("donor", "+"), ("acceptor", "+"), ("donor", "-"), ("acceptor", "-")],
        OutputType.CONTACT_MAPS: [("hic", ".")],
    }
    _RES = {OutputType.DNASE: (1, 128), OutputType.RNA_SEQ: (1,), OutputType.SPLICE_SITES: (1,),
            OutputType.CONTACT_MAPS: (2048,)}

    def output_types(self):
        return tuple(self._TRACKS)

    def tracks(self, output_type, organism="human"):
        return TrackTable([{"name": n, "strand": s, "assay_title": output_type.value} for n, s in
                           self._TRACKS[output_type]])

    def resolutions(self, output_type):
        return self._RES[output_type]

    def valid_length(self, length):
        return -(-length // 2048) * 2048

    def predict(self, onehot, *, organism="human", requests=None):
        x = np.asarray(onehot, dtype=np.float64)
        kernel = np.ones(33) / 33
        smooth = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="same"), 1, x)  # (B, S, 4)
        window_gc = x[..., 1:3].sum(-1).mean(1, keepdims=True)  # (B, 1)
        gc = smooth[..., 1] + smooth[..., 2] + window_gc
        dnase = np.stack([gc, smooth[..., 0], smooth[..., 3]], -1)
        rna = np.stack([2 * smooth[..., 0] + window_gc, 2 * smooth[..., 3] + window_gc, gc], -1)
        splice = np.stack([x[..., 2] * np.roll(x[..., 3], -1, 1), x[..., 0] * np.roll(x[..., 2], -1, 1),
                           x[..., 0] * np.roll(x[..., 1], -1, 1), x[..., 1] * np.roll(x[..., 3], -1, 1)], -1)
        bins = x.shape[1] // 2048
        binned = x[..., 1:3].sum(-1).reshape(x.shape[0], bins, 2048).mean(-1)
        contact = (binned[:, :, None] * binned[:, None, :])[..., None]
        full = {(OutputType.DNASE, 1): dnase, (OutputType.RNA_SEQ, 1): rna, (OutputType.SPLICE_SITES, 1): splice,
                (OutputType.CONTACT_MAPS, 2048): contact}
        full[(OutputType.DNASE, 128)] = dnase.reshape(x.shape[0], -1, 128, 3).mean(2)
        requests = requests if requests is not None else dict.fromkeys(self._TRACKS)
        out = {}
        for (output_type, resolution), values in full.items():
            if output_type in requests:
                index = requests[output_type]
                out[(output_type, resolution)] = (values if index is None else values[..., np.asarray(index)]
                                                  ).astype(np.float32)
        return out


@pytest.fixture(scope="module")
def model():
    return ToyModel()


@pytest.fixture(scope="module")
def annotation():
    return read_gtf(GTF)


def _run(model, vcf, out, annotation=None, **options):
    options.setdefault("scorers", SCORERS)
    options.setdefault("sequence_length", LENGTH)
    return score_variants(model, FASTA, vcf, annotation=annotation, out_dir=out, progress=False, **options)


def _data_lines(path):
    return [line for line in Path(path).read_text().splitlines() if line and not line.startswith("#")]


def _info(line):
    return dict(item.split("=", 1) for item in line.split("\t")[7].split(";") if "=" in item)


def test_awkward_vcf_records_in_equal_records_out(tmp_path, model, annotation):
    run = _run(model, AWKWARD, tmp_path, annotation)
    reference = Reference(FASTA)
    expected = [(r.record, r.allele, r.variant_id, r.reason) for r in read_vcf(AWKWARD, reference=reference,
                                                                               max_allele_length=100)]
    assert run.entries == len(expected)
    # VCF: every data line, in order, with one GP_REASON value per ALT
    lines_in, lines_out = _data_lines(AWKWARD), _data_lines(run.vcf)
    assert len(lines_out) == len(lines_in)
    assert [line.split("\t")[:7] for line in lines_out] == [line.split("\t")[:7] for line in lines_in]
    by_id = {}
    for line in lines_out:
        by_id.setdefault(line.split("\t")[2], []).append(_info(line))
    assert by_id["ref_mismatch"][0]["GP_REASON"].startswith("REF_G_does_not_match")
    assert by_id["star_allele"][0]["GP_REASON"].split(",")[0] == "."
    assert by_id["star_allele"][0]["GP_REASON"].split(",")[1].startswith("ALT_'*'_(allele_missing")
    assert by_id["deletion_200bp_too_long"][0]["GP_REASON"].startswith("allele_longer_than_100")
    assert by_id["missing_contig"][0]["GP_REASON"].startswith("contig_chr99")
    for name in ("good_snv_control", "insertion_at_chrom_end", "deletion_at_chrom_start", "mnv_2bp",
                 "lowercase_alleles", "unsorted_after_later_positions"):
        info = by_id[name][0]
        assert info["GP_REASON"] == "."
        assert info["GP_center_mask_dnase_501_diff_log2_sum"] not in (".", "")
    assert len(by_id["duplicate"]) == 2 and by_id["duplicate"][0] == by_id["duplicate"][1]
    # the genes of the slice: the gene scorer names them in the INFO summary
    assert "/" in by_id["good_snv_control"][0]["GP_gene_mask_splicing_splice_sites_all"]
    # h5ad: one row per entry for variant-level scorers, reasons kept, NaN where not scored
    for name in SCORERS:
        adata = ad.read_h5ad(run.h5ad[name])
        pairs = list(dict.fromkeys(zip(adata.obs["record"], adata.obs["allele"])))
        assert pairs == [(r, a) for r, a, _, _ in expected]
        first = adata.obs.drop_duplicates(["record", "allele"])
        assert list(first["reason"]) == [_expected_reason(name, row, reason, annotation)
                                         for row, (*_, reason) in zip(first.itertuples(), expected)]
        unscored = (adata.obs["reason"] != "").to_numpy()
        assert np.isnan(adata.X[unscored]).all()
        assert adata.uns["genome_plugin"]["scorer"]["name"] == name
    # TSV: every entry under every scorer
    tsv = pd.read_csv(run.tsv, sep="\t", keep_default_na=False, dtype=str)
    for name in SCORERS:
        got = tsv[tsv["scorer"] == name].drop_duplicates(["vcf_record", "variant_id"])
        assert len(got) == len(expected), name
    reasons = tsv.drop_duplicates(["vcf_record", "variant_id"]).set_index("vcf_record")
    assert (reasons.loc[reasons["variant_id"].str.contains("<DEL>"), "reason"].str.contains("symbolic")).all()


def _expected_reason(scorer: str, row, vcf_reason: str, annotation) -> str:
    """The reason an entry should carry: the VCF's, or for a gene scorer "no gene" where the GTF has none for it.

    gene_mask_splicing takes the genes whose body overlaps the variant; gene_mask_lfc those with a transcript
    start (TSS: start on +, end - 1 on -) inside the scored window.
    """
    if vcf_reason or not scorer.startswith("gene"):
        return vcf_reason
    if scorer.startswith("gene_mask_splicing"):
        g = annotation.genes
        start = int(row.pos) - 1
        end = start + max(len(row.ref), len(row.alt))
        found = ((g["chrom"] == row.chrom) & (g["start"] < end) & (g["end"] > start)).any()
    else:
        window_start, window_end = (int(x) for x in row.scored_interval.split(":")[1].split("-"))
        t = annotation.transcripts
        tss = t["start"].where(t["strand"] == "+", t["end"] - 1)
        found = ((t["chrom"] == row.chrom) & (tss >= window_start) & (tss < window_end)).any()
    return "" if found else "no gene in reach of the variant"


def test_scores_equal_a_direct_computation(tmp_path, model):
    vcf = tmp_path / "one.vcf"
    vcf.write_text(AWKWARD.read_text().split("#CHROM")[0] + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "chr20\t110772\tsnv\tC\tT\t.\t.\t.\nchr20\t80945\tins\tC\tCA\t.\t.\t.\n")
    run = _run(model, vcf, tmp_path / "out", scorers=["center_mask_dnase_501_diff_sum"], window_stride=1)
    scores = ad.read_h5ad(run.h5ad["center_mask_dnase_501_diff_sum"]).X
    reference = Reference(FASTA)
    variant = Variant("chr20", 110772, "C", "T")
    window = Interval("chr20", variant.start - LENGTH // 2, variant.start + LENGTH // 2)
    ref_seq, alt_seq = variant_sequences(reference, window, variant)
    ref = model.predict(one_hot(ref_seq)[None])[(OutputType.DNASE, 1)][0].astype(np.float64)
    alt = model.predict(one_hot(alt_seq)[None])[(OutputType.DNASE, 1)][0].astype(np.float64)
    centre = LENGTH // 2  # the variant's base: bins 3846 .. 4346 (501 bp)
    expected = alt[centre - 250: centre + 251].sum(0) - ref[centre - 250: centre + 251].sum(0)
    np.testing.assert_allclose(scores[0], expected, rtol=1e-5, atol=1e-5)
    # the insertion: the ALT window has the inserted A at centre + 1 and everything after shifted by one
    variant = Variant("chr20", 80945, "C", "CA")
    window = Interval("chr20", variant.start - LENGTH // 2, variant.start + LENGTH // 2)
    ref_seq, alt_seq = variant_sequences(reference, window, variant)
    ref = model.predict(one_hot(ref_seq)[None])[(OutputType.DNASE, 1)][0].astype(np.float64)
    alt = model.predict(one_hot(alt_seq)[None])[(OutputType.DNASE, 1)][0].astype(np.float64)
    aligned = np.concatenate([alt[:centre], np.maximum(alt[centre], alt[centre + 1])[None], alt[centre + 2:],
                              ref[-1:]])
    expected = (aligned[centre - 250: centre + 251] - ref[centre - 250: centre + 251]).sum(0)
    np.testing.assert_allclose(scores[1], expected, rtol=1e-5, atol=1e-5)


def test_ref_is_predicted_once_per_window(tmp_path, model):
    calls = []

    class Counting(ToyModel):
        def predict(self, onehot, **kwargs):
            calls.append(int(onehot.any(axis=(1, 2)).sum()))  # all-N rows only pad a batch
            return super().predict(onehot, **kwargs)

    run = _run(Counting(), VARIANTS, tmp_path, scorers=["center_mask_dnase_501_diff_sum"], batch_size=4,
               window_stride=4096)
    n_variants = len(_data_lines(VARIANTS))
    assert run.scored == n_variants
    assert run.windows < n_variants  # some variants share a window
    assert sum(calls) == run.windows + n_variants  # REF once per window, one ALT per variant


def test_chunks_and_regions_split_without_loss(tmp_path, model, annotation):
    full = _run(model, VARIANTS, tmp_path / "full", annotation)
    parts = [_run(model, VARIANTS, tmp_path / f"c{i}", annotation, chunk=f"{i}/3") for i in (1, 2, 3)]
    assert sum(p.scored for p in parts) == full.scored
    assert all(p.entries == full.entries for p in parts)
    whole = ad.read_h5ad(full.h5ad["center_mask_dnase_501_diff_log2_sum"])
    merged = np.full(whole.shape, np.nan, dtype=np.float32)
    for part in parts:
        adata = ad.read_h5ad(part.h5ad["center_mask_dnase_501_diff_log2_sum"])
        mine = (adata.obs["reason"] == "").to_numpy()
        assert adata.obs.loc[~mine, "reason"].str.startswith("outside chunk").all()
        merged[mine] = adata.X[mine]
    np.testing.assert_array_equal(merged, whole.X)
    region = _run(model, VARIANTS, tmp_path / "region", annotation, region="chr20:100000-150000")
    obs = ad.read_h5ad(region.h5ad["contact_map"]).obs
    inside = (obs["pos"] > 100000) & (obs["pos"] <= 150000)
    assert (obs.loc[inside, "reason"] == "").all()
    assert obs.loc[~inside, "reason"].str.startswith("outside region chr20:100000-150000").all()


def test_two_runs_are_byte_identical(tmp_path, model, annotation):
    first = _run(model, AWKWARD, tmp_path / "a", annotation, batch_size=3)
    second = _run(model, AWKWARD, tmp_path / "b", annotation, batch_size=3)
    assert first.tsv.read_bytes() == second.tsv.read_bytes()
    assert first.vcf.read_bytes() == second.vcf.read_bytes()


def test_background_gives_quantiles(tmp_path, model, annotation):
    run = _run(model, VARIANTS, tmp_path, annotation, background_vcf=VARIANTS,
               scorers=["center_mask_dnase_501_diff_log2_sum", "contact_map"])
    signed = ad.read_h5ad(run.h5ad["center_mask_dnase_501_diff_log2_sum"])
    q = signed.layers["quantiles"]
    assert np.nanmin(q) >= -1 and np.nanmax(q) <= 1
    # scored against itself: the largest |score| of each track is the top quantile, with the score's sign
    for track in range(signed.n_vars):
        top = np.nanargmax(np.abs(signed.X[:, track]))
        assert q[top, track] == pytest.approx(np.sign(signed.X[top, track]))
    unsigned = ad.read_h5ad(run.h5ad["contact_map"]).layers["quantiles"]
    assert np.nanmin(unsigned) > 0 and np.nanmax(unsigned) == 1.0
    tsv = pd.read_csv(run.tsv, sep="\t")
    assert tsv["quantile_score"].notna().any()


def test_unavailable_scorers(tmp_path, model):
    with pytest.raises(GenomePluginError, match="does not predict"):
        _run(model, VARIANTS, tmp_path, scorers=["center_mask_chip_tf_501_diff_sum"])
    with pytest.raises(GenomePluginError, match="needs a gene annotation"):
        _run(model, VARIANTS, tmp_path, scorers=["gene_mask_lfc_rna_seq"])
    run = _run(model, VARIANTS, tmp_path, scorers=["recommended"], annotation=read_gtf(GTF))
    assert "center_mask_chip_tf_501_diff_log2_sum" in run.skipped_scorers
    assert set(run.h5ad) == {"center_mask_dnase_501_diff_log2_sum", "center_mask_dnase_501_active_sum",
                             "contact_map", "gene_mask_lfc_rna_seq", "gene_mask_active_rna_seq",
                             "gene_mask_splicing_splice_sites_all", "polyadenylation"}


class FailsOnInsertions(Scorer):
    name = "fails_on_insertions"
    output_type = OutputType.DNASE
    description = "test scorer that raises on insertions"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        if len(context.variant.alt) > len(context.variant.ref):
            msg = "insertions not supported"
            raise RuntimeError(msg)
        return ScoreResult.single(np.ones(ref.shape[1]))


def test_a_failing_scorer_fails_the_run(tmp_path, model):
    """A scorer that raises is the code's failure, not the input's: the run stops, naming scorer and variant."""
    from genome_plugin.errors import ScorerError

    with pytest.raises(ScorerError, match=r"scorer fails_on_insertions failed on chr20:(1|360000):\S+: "
                                          r"RuntimeError: insertions not supported"):
        _run(model, AWKWARD, tmp_path, scorers=[CenterMask("dnase", 501, "diff_sum"), FailsOnInsertions()])
    assert not (tmp_path / "scores.tsv").exists() and not list(tmp_path.glob("*.h5ad"))
    # without insertions the same scorer runs: it is the failure that stops the run, nothing else
    lines = VARIANTS.read_text().splitlines()
    kept = [line for line in lines if line.startswith("#") or len(line.split("\t")[4]) <= len(line.split("\t")[3])]
    no_insertions = tmp_path / "no_insertions.vcf"
    no_insertions.write_text("\n".join(kept) + "\n")
    run = _run(model, no_insertions, tmp_path / "ok", scorers=[FailsOnInsertions()])
    assert run.scored == run.entries == len(_data_lines(VARIANTS)) - 1


class ReturnsNothing(FailsOnInsertions):
    name = "returns_nothing"

    def score(self, ref, alt, *, context):
        return None


def test_a_scorer_returning_no_result_fails_the_run(tmp_path, model):
    from genome_plugin.errors import ScorerError

    with pytest.raises(ScorerError, match="scorer returns_nothing returned NoneType on chr20:.*not a ScoreResult"):
        _run(model, VARIANTS, tmp_path, scorers=[ReturnsNothing()])


def test_resume_refuses_other_settings(tmp_path, model):
    from genome_plugin.scoring.checkpoint import Checkpoint

    Checkpoint(tmp_path, {"a": 1}, resume=False)
    with pytest.raises(GenomePluginError, match="different settings"):
        Checkpoint(tmp_path, {"a": 2}, resume=True)


# The run kills itself with SIGKILL right after its KILL_AFTER-th checkpoint part is on disk: a real kill (no
# finally blocks, no flushing) at a known point, so the test does not depend on timing.
KILL_AFTER = 3
KILL_SCRIPT = """
import importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location("engine_tests", {test_file!r})
tests = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tests)
from genome_plugin.scoring import checkpoint
from genome_plugin.scoring.engine import score_variants

write = checkpoint.Checkpoint.write
written = []

def write_then_die(self, *args, **kwargs):
    write(self, *args, **kwargs)
    written.append(1)
    if len(written) == {kill_after}:
        os.kill(os.getpid(), signal.SIGKILL)

checkpoint.Checkpoint.write = write_then_die
score_variants(tests.ToyModel(), tests.FASTA, {vcf!r}, scorers=tests.SCORERS, annotation=tests.GTF,
               out_dir={out!r}, sequence_length=tests.LENGTH, batch_size=2, checkpoint_every=3, window_stride=1,
               resume={resume}, progress=False)
"""


@pytest.mark.slow
def test_killed_run_resumes_without_loss_or_double_scoring(tmp_path, model, annotation):
    vcf = TEST_DATA / "variants_1000.vcf"
    lines = VARIANTS.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = _data_lines(vcf)[:60]
    small = tmp_path / "sixty.vcf"
    small.write_text("\n".join(header + body) + "\n")
    out = tmp_path / "killed"
    script = KILL_SCRIPT.format(test_file=__file__, kill_after=KILL_AFTER, vcf=str(small), out=str(out), resume=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    killed = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600,
                            check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    parts = sorted((out / ".genome_plugin_checkpoint").glob("part-*.npz"))
    assert len(parts) == KILL_AFTER
    assert not (out / "scores.tsv").exists()
    stored = [int(e) for part in parts for e in np.load(part)["entries"]]
    # checkpoint_every=3: exactly the first nine variants were stored, each once
    assert len(stored) == len(set(stored)) == 3 * KILL_AFTER
    records = list(read_vcf(small))
    todo = [r for i, r in enumerate(records) if i not in set(stored)]
    sequences = []

    class Counting(ToyModel):
        def predict(self, onehot, **kwargs):
            sequences.extend(row for row in onehot if row.any())  # all-N rows only pad a batch
            return super().predict(onehot, **kwargs)

    resumed = score_variants(Counting(), FASTA, small, scorers=SCORERS, annotation=annotation, out_dir=out,
                             sequence_length=LENGTH, batch_size=2, checkpoint_every=3, window_stride=1, resume=True,
                             progress=False)
    assert resumed.resumed == len(stored)
    assert resumed.scored == 60
    # only the variants the killed run had not stored went through the model: one REF per window, one ALT each
    assert len(sequences) == len({r.pos for r in todo}) + len(todo)
    clean = score_variants(model, FASTA, small, scorers=SCORERS, annotation=annotation, out_dir=tmp_path / "clean",
                           sequence_length=LENGTH, batch_size=2, checkpoint_every=3, window_stride=1, progress=False)
    assert resumed.tsv.read_bytes() == clean.tsv.read_bytes()
    assert resumed.vcf.read_bytes() == clean.vcf.read_bytes()
    for name in SCORERS:
        a, b = ad.read_h5ad(resumed.h5ad[name]), ad.read_h5ad(clean.h5ad[name])
        pd.testing.assert_frame_equal(a.obs, b.obs)
        np.testing.assert_array_equal(a.X, b.X)
    assert not (out / ".genome_plugin_checkpoint").exists()


class JunctionModel(ToyModel):
    """ToyModel plus junctions as the contract asks: its own sites (donor+ at window offset 100, acceptor+ at 8000)
    and the annotated sites the engine passes, inside the engine's site mask; an intron's counts are its G bases."""

    calls: list = []

    def output_types(self):
        return (*super().output_types(), OutputType.SPLICE_JUNCTIONS)

    def tracks(self, output_type, organism="human"):
        if output_type is OutputType.SPLICE_JUNCTIONS:
            return TrackTable([{"name": "liver", "strand": "."}, {"name": "brain", "strand": "."}])
        return super().tracks(output_type, organism)

    def resolutions(self, output_type):
        return (1,) if output_type is OutputType.SPLICE_JUNCTIONS else super().resolutions(output_type)

    def junctions(self, ref_onehot, alt_onehot, *, organism="human", site_mask=None, annotated_sites=None,
                  indel=None):
        assert indel is None  # the variants of this test are SNVs
        JunctionModel.calls.append((site_mask, annotated_sites))
        donors = sorted(d for d in {100, *np.flatnonzero(annotated_sites[:, 0])} if site_mask[d])
        acceptors = sorted(a for a in {8000, *np.flatnonzero(annotated_sites[:, 1])} if site_mask[a])
        introns = [(d + 1, a) for d in donors for a in acceptors if d + 1 < a]  # + strand: [donor + 1, acceptor)

        def counts(onehot):
            g = np.array([onehot[s:e, 2].sum() for s, e in introns])
            return np.stack([g, 2 * g], axis=1)

        table = pd.DataFrame(introns, columns=["start", "end"]).assign(strand="+")
        return table, counts(ref_onehot), counts(alt_onehot)


def test_junction_scorer_through_the_engine(tmp_path, annotation):
    JunctionModel.calls.clear()
    run = _run(JunctionModel(), VARIANTS, tmp_path, annotation, scorers=["splice_junction"], region="chr20:50000-51000")
    adata = ad.read_h5ad(run.h5ad["splice_junction"])
    scored = (adata.obs["reason"] == "").to_numpy()
    obs = adata.obs[scored]
    assert list(obs["variant_id"]) == ["chr20:50695:A>G", "chr20:50793:G>A"]
    assert set(obs["gene_name"]) == {"ACSS2"}
    starts = [int(w.split(":")[1].split("-")[0]) for w in obs["scored_interval"]]
    # the engine's site mask is ACSS2's body (GTF 44238-95765, 0-based [44237, 95765)): the whole window; the
    # annotated sites in the window are exon 2's first base (acceptor+, GTF 50597 -> 0-based 50596) and last base
    # (donor+, GTF 50792 -> 0-based 50791)
    for (site_mask, annotated), start in zip(JunctionModel.calls, starts, strict=True):
        assert site_mask.all()
        assert np.argwhere(annotated).tolist() == [[50596 - start, 1], [50791 - start, 0]]
    # junctions: donor 100 -> acceptor 50596 and 8000, donor 50791 -> 8000 (50791 -> 50596 has start > end).
    # A>G at 0-based 50694 lies only in [start + 101, start + 8000): that one changes, |ln (g + 1) - ln g|.
    # G>A at 0-based 50792 (the intron's first base) lies in [start + 101, start + 8000) and [50792, start + 8000):
    # both lose a G, the shorter (fewer Gs) by more, |ln (g - 1) - ln g|, so its junction is picked.
    reference = Reference(FASTA)

    def g_count(lo, hi):
        return reference.fetch(chrom="chr20", start=lo, end=hi).count("G")

    first, second = starts
    assert list(obs["junction_Start"].astype(int)) == [first + 101, 50792]
    assert list(obs["junction_End"].astype(int)) == [first + 8000, second + 8000]
    g1, g2 = g_count(first + 101, first + 8000), g_count(50792, second + 8000)
    expected = [[np.log((g1 + 1) / g1)] * 2, [np.log(g2 / (g2 - 1))] * 2]  # the second track counts 2g: same ratio
    np.testing.assert_allclose(adata.X[scored], expected, rtol=1e-5)


def test_vcf_values_are_percent_encoded():
    from genome_plugin.scoring.outputs import _safe

    assert _safe("REF A (x) at chr1:5; a=b, c|d 10%") == "REF_A_(x)_at_chr1:5%3B_a%3Db%2C_c%7Cd_10%25"


def test_an_interrupted_run_keeps_what_it_scored(tmp_path, model):
    class Interrupted(ToyModel):
        calls = 0

        def predict(self, onehot, **kwargs):
            Interrupted.calls += 1
            if Interrupted.calls == 4:
                raise KeyboardInterrupt
            return super().predict(onehot, **kwargs)

    with pytest.raises(KeyboardInterrupt):
        _run(Interrupted(), VARIANTS, tmp_path, scorers=["contact_map"], batch_size=2, window_stride=1,
             checkpoint_every=1000)
    parts = (tmp_path / ".genome_plugin_checkpoint").glob("part-*.npz")
    stored = [int(e) for part in parts for e in np.load(part)["entries"]]
    assert len(stored) == 3  # three batches of REF + ALT before the interrupt
    run = _run(model, VARIANTS, tmp_path, scorers=["contact_map"], batch_size=2, window_stride=1, resume=True)
    assert run.resumed == 3 and run.scored == 25

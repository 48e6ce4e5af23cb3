"""In silico mutagenesis: every SNV of an interval, scored with the built-in effect or a registered scorer."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from genome_plugin import api
from genome_plugin.adata import validate
from genome_plugin.genome import Interval, Reference, Variant, one_hot, read_gtf
from genome_plugin.mutagenesis import ism_matrix
from genome_plugin.plugins import get_scorers
from genome_plugin.scoring.base import ScoringContext
from genome_plugin.tracks import OutputType

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


toy = _toy_models()


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(TEST_DATA / "chr20_slice.fa")


def _predict(model, sequence: str) -> np.ndarray:
    return model.predict(one_hot(sequence)[None])[(OutputType.DNASE, 1)][0]


def test_every_snv_scored_with_the_builtin_effect(reference):
    model = toy.AsymmetricModel()
    interval = Interval("chr20", 29360, 29370)
    adata = api.ism(model, interval, reference=reference, output_type="dnase", width=128)
    validate(adata)
    assert adata.shape == (30, 4)
    assert adata.uns["genome_plugin"]["kind"] == "variant_scores"
    assert adata.uns["genome_plugin"]["scorer"]["name"] == "ism_mean_diff"
    obs = adata.obs
    assert obs["offset"].tolist() == [i for i in range(10) for _ in range(3)]
    sequence = reference.fetch(interval)
    for row in range(30):
        assert obs["ref"].iloc[row] == sequence[obs["offset"].iloc[row]] != obs["alt"].iloc[row]
    assert obs["pos"].tolist()[:3] == [29361] * 3  # 1-based
    # one SNV by hand: the mean of ALT - REF over the mutated interval's bins
    window = Interval.parse(adata.uns["genome_plugin"]["window"])
    context = reference.fetch(window)
    row = 7
    offset = int(obs["pos"].iloc[row]) - 1 - window.start
    mutated = context[:offset] + obs["alt"].iloc[row] + context[offset + 1:]
    ref_pred, alt_pred = _predict(model, context), _predict(model, mutated)
    start = interval.start - window.start
    np.testing.assert_allclose(adata.X[row], (alt_pred - ref_pred)[start:start + 10].mean(axis=0), rtol=1e-5,
                               atol=1e-7)


def test_ism_with_a_registered_scorer(reference):
    model = toy.AsymmetricModel()
    scorer = get_scorers()["center_mask_dnase_501_l2_diff"]
    interval = Interval("chr20", 29364, 29368)
    adata = api.ism(model, interval, reference=reference, scorer=scorer.name, width=128)
    assert adata.shape == (12, 4)
    assert adata.uns["genome_plugin"]["scorer"]["name"] == scorer.name
    window = Interval.parse(adata.uns["genome_plugin"]["window"])
    context = reference.fetch(window)
    row = 4
    variant = Variant.parse(str(adata.obs["variant_id"].iloc[row]))
    offset = variant.start - window.start
    ref_pred = _predict(model, context)
    alt_pred = _predict(model, context[:offset] + variant.alt + context[offset + 1:])
    table = model.tracks(OutputType.DNASE)
    expected = scorer.score(ref_pred, alt_pred, context=ScoringContext(
        variant=variant, interval=window, resolution=1, tracks=table, output_type=OutputType.DNASE))
    np.testing.assert_allclose(adata.X[row], expected.values[0], rtol=1e-6)
    assert np.isfinite(adata.X).all() and (adata.X > 0).any()


def test_ism_with_a_gene_level_scorer_has_one_row_per_snv_and_gene(reference):
    annotation = read_gtf(TEST_DATA / "genes.gtf")
    adata = api.ism(toy.SymmetricModel(), "chr20:40640-40642", reference=reference,  # GGT7 TSS in the window
                    scorer="gene_mask_active_dnase", annotation=annotation, width=128)
    assert adata.n_obs == 6 and set(adata.obs["gene_name"]) == {"GGT7"}
    assert adata.obs_names.is_unique
    with pytest.raises(ValueError, match="needs a gene annotation"):
        api.ism(toy.SymmetricModel(), "chr20:29364-29366", reference=reference, scorer="gene_mask_active_dnase")


def test_ism_scorer_checks(reference):
    with pytest.raises(ValueError, match="unknown scorer 'nope'"):
        api.ism(toy.SymmetricModel(), "chr20:100-102", reference=reference, scorer="nope")
    with pytest.raises(ValueError, match="does not predict rna_seq"):
        api.ism(toy.SymmetricModel(), "chr20:100-102", reference=reference, scorer="gene_mask_lfc_rna_seq")


def test_minus_strand_ism_equals_plus_for_a_symmetric_model(reference):
    model = toy.SymmetricModel()
    plus = api.ism(model, "chr20:40000-40006:+", reference=reference, width=128, output_type="dnase")
    minus = api.ism(model, "chr20:40000-40006:-", reference=reference, width=128, output_type="dnase")
    assert plus.obs["variant_id"].tolist() == minus.obs["variant_id"].tolist()
    np.testing.assert_allclose(minus.X, plus.X, rtol=1e-4, atol=1e-6)


def test_ism_matrix_for_the_logo(reference):
    adata = api.ism(toy.AsymmetricModel(), "chr20:29360-29366", reference=reference, width=128, output_type="dnase")
    matrix, sequence = ism_matrix(adata, "gc")
    assert matrix.shape == (6, 4)
    assert sequence == reference.fetch(Interval("chr20", 29360, 29366))
    for offset, base in enumerate(sequence):
        assert matrix[offset, "ACGT".index(base)] == 0
        row = np.flatnonzero((adata.obs["offset"] == offset).to_numpy() & (adata.obs["alt"] == "T").to_numpy())
        if base != "T":
            assert matrix[offset, 3] == pytest.approx(float(adata.X[row[0], 1]))
    with pytest.raises(ValueError, match="not an ISM result"):
        ism_matrix(api.predict_interval(toy.SymmetricModel(), "chr20:0-64", reference=reference)["dnase_1bp"])


def test_ism_skips_n_bases(tmp_path):
    fasta = tmp_path / "n.fa"
    fasta.write_text(">chrN\n" + "ACGTNNAC" * 16 + "\n")
    adata = api.ism(toy.SymmetricModel(), "chrN:0-8", reference=fasta, output_type="dnase", width=128)
    assert sorted(set(adata.obs["offset"])) == [0, 1, 2, 3, 6, 7]
    with pytest.raises(ValueError, match="no mutable base"):
        api.ism(toy.SymmetricModel(), "chrN:4-6", reference=fasta, output_type="dnase", width=128)

"""The built-in ``spliceai`` model plugin: registry entry, tracks, any-length predictions, strands, model card,
and recovery of annotated splice sites on real human sequence (top-k accuracy)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from genome_plugin import plugins
from genome_plugin.genome import Interval, Reference, one_hot, read_gtf, reverse_complement
from genome_plugin.models import SequenceModel
from genome_plugin.tracks import OutputType

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
SITES = OutputType.SPLICE_SITES


def _installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _installed(), reason="the `spliceai` package (trained weights) is not installed: pip install --no-deps spliceai"
)


@pytest.fixture(scope="module")
def model():
    return plugins.load_model("spliceai")


def test_registered_through_the_hook_like_any_plugin():
    entry = plugins.get_models()["spliceai"]
    assert plugins.registered_models()["spliceai"].plugin == "genome_plugin.default_plugins.spliceai"
    assert entry.output_types == (SITES,)
    assert entry.family == "spliceai" and entry.real_weights
    assert "CC BY-NC 4.0" in entry.licence and "GPLv3" in entry.licence


@needs_weights
def test_interface_tracks_and_card(model):
    assert isinstance(model, SequenceModel)
    assert model.output_types() == (SITES,)
    assert model.resolutions(SITES) == (1,)
    assert model.input_lengths() is None and model.valid_length(12_345) == 12_345
    assert model.context == 5000  # the Predictor fetches this much real sequence around intervals
    table = model.tracks(SITES)
    assert list(zip(table.names, table.strands)) == [
        ("acceptor", "+"),
        ("donor", "+"),
        ("acceptor", "-"),
        ("donor", "-"),
    ]
    assert list(model.strand_swap(SITES)) == [2, 3, 0, 1]
    card = model.card()
    assert "CC BY-NC 4.0" in card["licence"] and "GPLv3" in card["code_licence"]
    assert len(card["weights_sha256"]) == 64 and card["version"] == "1.3.1"
    with pytest.raises(ValueError, match="splice_sites only"):
        model.tracks(OutputType.DNASE)


@needs_weights
@pytest.mark.slow
def test_any_length_strands_and_requests(model):
    reference = Reference(TEST_DATA / "chr20_slice.fa")
    seq = reference.fetch(chrom="chr20", start=108_000, end=119_333)  # around GSS (- strand) exon 3
    full = model.predict(one_hot(seq)[None])[(SITES, 1)]
    assert full.shape == (1, len(seq), 4) and full.dtype == np.float32
    assert np.all((full >= 0) & (full <= 1))
    # The - strand tracks are the prediction of the reverse complement, flipped back.
    rc = model.predict(one_hot(reverse_complement(seq))[None])[(SITES, 1)]
    np.testing.assert_allclose(rc[0, ::-1][:, [2, 3, 0, 1]], full[0], atol=1e-6)
    # A subset of tracks comes back alone and unchanged.
    minus_donor = model.predict(one_hot(seq)[None], requests={SITES: np.array([3])})[(SITES, 1)]
    np.testing.assert_array_equal(minus_donor[..., 0], full[..., 3])
    # GSS exon 3 (- strand, 0-based 113,755-113,901): its first base in transcript order (113,900) is an
    # acceptor and its last (113,755) a donor, both called on the - strand tracks and not on the + ones.
    assert full[0, 113_900 - 108_000, 2] > 0.5 and full[0, 113_755 - 108_000, 3] > 0.5
    assert full[0, :, :2].max() < 0.5


@needs_weights
@pytest.mark.slow
def test_predict_interval_gives_tracks_anndata_with_real_context(model):
    from genome_plugin import predict_interval

    results = predict_interval(model, "chr20:113700-113800:-", reference=TEST_DATA / "chr20_slice.fa")
    [adata] = results.values()
    assert adata.shape == (100, 4) and list(adata.var["name"]) == ["acceptor", "donor", "acceptor", "donor"]
    assert adata.uns["genome_plugin"]["model"] == "spliceai"
    assert int(adata.obs["start"].iloc[0]) == 113_700
    # GSS exon 3's donor (0-based 113,755, - strand) with 5 kb of real sequence on each side.
    donor_minus = np.asarray(adata.X)[:, 3]
    assert int(np.argmax(donor_minus)) == 55 and donor_minus[55] > 0.5


def _annotated_sites(annotation, gene: str) -> tuple[set[int], set[int]]:
    """0-based acceptor and donor positions of a gene's introns (SpliceAI's labels: first/last exon base)."""
    exons = annotation.exons[annotation.exons["gene_name"] == gene].sort_values("start")
    starts, ends = exons["start"].to_numpy(), exons["end"].to_numpy() - 1
    strand = exons["strand"].iloc[0]
    if strand == "+":
        return set(starts[1:].tolist()), set(ends[:-1].tolist())
    return set(ends[:-1].tolist()), set(starts[1:].tolist())


def top_k_accuracy(model, genes: list[str]) -> dict[str, tuple[int, int]]:
    """Per site type: (annotated sites among the top-k predicted positions, k), pooled over ``genes``."""
    annotation = read_gtf(TEST_DATA / "genes.gtf")
    reference = Reference(TEST_DATA / "chr20_slice.fa")
    scores = {"acceptor": [], "donor": []}
    truth = {"acceptor": [], "donor": []}
    for gene in genes:
        row = annotation.genes[annotation.genes["gene_name"] == gene].iloc[0]
        interval = Interval("chr20", int(row["start"]), int(row["end"]), row["strand"])
        # As SpliceAI scores genes: the transcript with N beyond it, on the gene's strand.
        values = model.predict(one_hot(reference.fetch(interval.with_strand("+")))[None])[(SITES, 1)][0]
        acceptors, donors = _annotated_sites(annotation, gene)
        offset = 0 if row["strand"] == "+" else 2
        for kind, sites, column in (("acceptor", acceptors, offset), ("donor", donors, offset + 1)):
            scores[kind].append(values[:, column])
            labels = np.zeros(interval.width, dtype=bool)
            labels[[s - interval.start for s in sites]] = True
            truth[kind].append(labels)
    out = {}
    for kind in scores:
        values, labels = np.concatenate(scores[kind]), np.concatenate(truth[kind])
        k = int(labels.sum())
        top = np.argsort(values)[::-1][:k]
        out[kind] = (int(labels[top].sum()), k)
    return out


@needs_weights
@pytest.mark.slow
def test_recovers_annotated_splice_sites_on_real_chr20(model):
    # GSS (-, 12 introns), PROCR (+, 3 introns), EDEM2 (-, 10 introns): both strands, 25 sites of each kind.
    result = top_k_accuracy(model, ["GSS", "PROCR", "EDEM2"])
    acceptors, donors = result["acceptor"], result["donor"]
    assert acceptors[1] == donors[1] == 25
    # A port with a wrong weight mapping, strand or crop finds almost none; the real model most.
    assert acceptors[0] / acceptors[1] >= 0.8, result
    assert donors[0] / donors[1] >= 0.8, result

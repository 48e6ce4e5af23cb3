"""The Predictor: batching, track requests, resizing, strand convention and reverse-complement averaging.

Two small models are defined here because the bar is about their symmetry: ``SymmetricModel`` is
exactly strand-symmetric by construction (its - strand track is its + strand function applied to the
reverse complement), ``AsymmetricModel`` is not. Both are real computations (convolutions), not mocks.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from genome_plugin.genome import Interval, Reference, one_hot, reverse_complement
from genome_plugin.models import SequenceModel
from genome_plugin.predict import Predictor, crop_predictions, select_tracks
from genome_plugin.tracks import OutputType, TrackTable

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
RNG = np.random.default_rng(0)
KERNEL = RNG.normal(size=(5, 4)).astype(np.float32)  # an asymmetric motif: reads differently on each strand
KERNEL_B = RNG.normal(size=(3, 4)).astype(np.float32)
COARSE = 8
PAIR = 16


def _conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Per-position motif score of a batch ``(B, S, 4)``, window starting at the position (zero padded)."""
    width = kernel.shape[0]
    padded = np.concatenate([x, np.zeros((x.shape[0], width - 1, 4), np.float32)], axis=1)
    return sum(padded[:, k:k + x.shape[1]] @ kernel[k] for k in range(width))


def _rc(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1, ::-1]  # reverse the sequence axis; A<->T and C<->G is reversing ACGT


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    return x.reshape(x.shape[0], x.shape[1] // size, size, *x.shape[2:]).mean(axis=2)


class ToyModel(SequenceModel):
    """Stranded tracks (``motif`` +/-), an unstranded one (``gc``) at 1 and 8 bp, and a contact map at 16 bp."""

    name = "toy"
    version = "1"
    organisms = ("human",)

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], dict]] = []

    def output_types(self):
        return (OutputType.DNASE, OutputType.CONTACT_MAPS)

    def tracks(self, output_type, organism="human"):
        if output_type == OutputType.DNASE:
            return TrackTable([
                {"name": "motif", "strand": "+", "assay_title": "DNase-seq", "biosample_name": "lung"},
                {"name": "gc", "strand": ".", "assay_title": "DNase-seq", "biosample_name": "liver"},
                {"name": "motif", "strand": "-", "assay_title": "DNase-seq", "biosample_name": "lung"},
                {"name": "other", "strand": ".", "assay_title": "ATAC-seq", "biosample_name": "lung"},
            ])
        return TrackTable([{"name": "hic", "strand": "."}, {"name": "micro_c", "strand": "."}])

    def resolutions(self, output_type):
        return (1, COARSE) if output_type == OutputType.DNASE else (PAIR,)

    def valid_length(self, length):
        return -(-length // 64) * 64

    def features(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def contact(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, onehot, *, organism="human", requests=None):
        self.calls.append((onehot.shape, dict(requests or {})))
        requests = requests if requests is not None else dict.fromkeys(self.output_types())
        out = {}
        if OutputType.DNASE in requests:
            feats = self.features(onehot)
            indices = requests[OutputType.DNASE]
            feats = feats if indices is None else feats[..., indices]
            out[(OutputType.DNASE, 1)] = feats
            out[(OutputType.DNASE, COARSE)] = _pool(feats, COARSE)
        if OutputType.CONTACT_MAPS in requests:
            maps = self.contact(onehot)
            indices = requests[OutputType.CONTACT_MAPS]
            out[(OutputType.CONTACT_MAPS, PAIR)] = maps if indices is None else maps[..., indices]
        return out


class SymmetricModel(ToyModel):
    """Exactly strand-symmetric: predicting the reverse complement gives the flipped, strand-swapped output."""

    name = "toy-symmetric"

    def features(self, x):
        plus = _conv(x, KERNEL)
        minus = _conv(_rc(x), KERNEL)[:, ::-1]
        gc = _conv(x, KERNEL_B) + _conv(_rc(x), KERNEL_B)[:, ::-1]
        other = x[..., 1] + x[..., 2]  # G or C: the same base pair read from either strand
        return np.stack([plus, gc, minus, other], axis=-1).astype(np.float32)

    def contact(self, x):
        u = _pool(self.features(x)[..., 1], PAIR)  # unstranded, so symmetric under reverse complement
        maps = u[:, :, None] * u[:, None, :]
        return np.stack([maps, np.abs(maps) ** 0.5], axis=-1).astype(np.float32)


class AsymmetricModel(SymmetricModel):
    """Reads only the given strand: the - track is a second + strand motif."""

    name = "toy-asymmetric"

    def features(self, x):
        feats = super().features(x)
        feats[..., 2] = _conv(x, KERNEL[::-1])
        feats[..., 1] = _conv(x, KERNEL_B)
        return feats


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference(TEST_DATA / "chr20_slice.fa")


def test_predict_batch_pads_the_last_batch_to_one_shape():
    model = SymmetricModel()
    predictor = Predictor(model, batch_size=4, progress=False)
    sequences = ["".join(RNG.choice(list("ACGT"), 128)) for _ in range(6)]
    out = predictor.predict_batch(sequences)
    assert out[(OutputType.DNASE, 1)].shape == (6, 128, 4)
    assert out[(OutputType.DNASE, COARSE)].shape == (6, 128 // COARSE, 4)
    assert out[(OutputType.CONTACT_MAPS, PAIR)].shape == (6, 8, 8, 2)
    assert [shape for shape, _ in model.calls] == [(4, 128, 4), (4, 128, 4)]
    assert list(predictor.compiled_shapes) == [(4, 128)]
    single = model.predict(one_hot(sequences[5])[None])
    np.testing.assert_allclose(out[(OutputType.DNASE, 1)][5], single[(OutputType.DNASE, 1)][0], rtol=1e-6)


def test_predict_batch_rejects_lengths_the_model_does_not_take():
    predictor = Predictor(SymmetricModel(), progress=False)
    with pytest.raises(ValueError, match="resize to 128 bp"):
        predictor.predict_batch(["A" * 100])
    with pytest.raises(ValueError, match="equal-length"):
        predictor.predict_batch(["A" * 64, "A" * 128])


def test_track_filters_become_requests_and_only_those_tracks_are_predicted():
    model = SymmetricModel()
    requests = select_tracks(model, ["dnase"], query='biosample_name == "lung"', assay_title="DNase-seq")
    assert list(requests) == [OutputType.DNASE]
    np.testing.assert_array_equal(requests[OutputType.DNASE], [0, 2])
    predictor = Predictor(model, requests=requests, progress=False)
    assert predictor.tracks(OutputType.DNASE).names == ["motif", "motif"]
    out = predictor.predict_batch(["ACGT" * 32])
    assert set(out) == {(OutputType.DNASE, 1), (OutputType.DNASE, COARSE)}
    assert out[(OutputType.DNASE, 1)].shape == (1, 128, 2)
    full = Predictor(model, progress=False).predict_batch(["ACGT" * 32])
    np.testing.assert_allclose(out[(OutputType.DNASE, 1)], full[(OutputType.DNASE, 1)][..., [0, 2]], rtol=1e-6)
    np.testing.assert_array_equal(model.calls[0][1][OutputType.DNASE], [0, 2])


def test_track_filter_errors_name_the_problem():
    model = SymmetricModel()
    with pytest.raises(ValueError, match="matched no track"):
        select_tracks(model, query='biosample_name == "brain"')
    with pytest.raises(ValueError, match="does not predict rna_seq"):
        select_tracks(model, ["rna_seq"])
    # contact-map tracks have no biosample column: that type is left out, not an error
    assert list(select_tracks(model, query='biosample_name == "liver"')) == [OutputType.DNASE]
    assert select_tracks(model, names=["gc"])[OutputType.DNASE].tolist() == [1]


def test_symmetric_model_really_is_symmetric():
    """The premise of the strand tests: model(rc(x)) == flip(strand_swap(model(x)))."""
    model = SymmetricModel()
    x = one_hot("".join(RNG.choice(list("ACGT"), 128)))[None]
    forward, reverse = model.predict(x), model.predict(_rc(x).copy())
    swap = model.strand_swap(OutputType.DNASE)
    np.testing.assert_array_equal(swap, [2, 1, 0, 3])
    for key in forward:
        if key[0] == OutputType.DNASE:
            expected = forward[key][:, ::-1][..., swap]
        else:
            expected = forward[key][:, ::-1, ::-1]
        np.testing.assert_allclose(reverse[key], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("requested", [None, [2, 3]])
def test_minus_strand_equals_plus_strand_for_a_symmetric_model(reference, requested):
    model = SymmetricModel()
    requests = {OutputType.DNASE: requested, OutputType.CONTACT_MAPS: None}
    predictor = Predictor(model, requests=requests, progress=False)
    plus, minus = predictor.predict_intervals(
        reference, [Interval("chr20", 50_000, 50_128, "+"), Interval("chr20", 50_000, 50_128, "-")])
    for key in plus:
        np.testing.assert_allclose(minus[key], plus[key], rtol=1e-5, atol=1e-5)
    # and the minus-strand prediction really is the flipped, strand-swapped prediction of the reverse complement
    seq = reference.fetch(Interval("chr20", 50_000, 50_128, "-"))
    raw = model.predict(one_hot(seq)[None])[(OutputType.DNASE, 1)][0]
    swap = model.strand_swap(OutputType.DNASE)
    columns = swap if requested is None else swap[requested]
    np.testing.assert_allclose(minus[(OutputType.DNASE, 1)], raw[::-1][:, columns], rtol=1e-6)


def test_minus_strand_differs_for_an_asymmetric_model_and_rc_average_is_the_mean(reference):
    model = AsymmetricModel()
    predictor = Predictor(model, progress=False)
    interval = Interval("chr20", 60_000, 60_128, "+")
    plus = predictor.predict_intervals(reference, [interval])[0]
    minus = predictor.predict_intervals(reference, [interval.with_strand("-")])[0]
    key = (OutputType.DNASE, 1)
    # the strand-symmetric "other" track (GC content) agrees; the motif tracks do not
    np.testing.assert_allclose(minus[key][:, 3], plus[key][:, 3], rtol=1e-6)
    assert not np.allclose(minus[key][:, :3], plus[key][:, :3], atol=1e-3)
    # by hand: minus = flip + strand-swap of the model's output on the reverse complement
    rc_raw = model.predict(one_hot(reference.fetch(interval.with_strand("-")))[None])[key][0]
    swap = model.strand_swap(OutputType.DNASE)
    np.testing.assert_allclose(minus[key], rc_raw[::-1][:, swap], rtol=1e-6)

    averaging = Predictor(model, rc_average=True, progress=False)
    avg_plus, avg_minus = averaging.predict_intervals(reference, [interval, interval.with_strand("-")])
    for k in plus:
        np.testing.assert_allclose(avg_plus[k], (plus[k] + minus[k]) / 2, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(avg_minus[k], avg_plus[k], rtol=1e-5, atol=1e-6)


def test_rc_average_with_a_track_subset_asks_for_the_strand_twins(reference):
    model = AsymmetricModel()
    interval = Interval("chr20", 70_000, 70_128)
    subset = Predictor(model, requests={OutputType.DNASE: [0]}, rc_average=True, progress=False)
    full = Predictor(model, rc_average=True, progress=False)
    got = subset.predict_intervals(reference, [interval])[0][(OutputType.DNASE, 1)]
    want = full.predict_intervals(reference, [interval])[0][(OutputType.DNASE, 1)][:, [0]]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    requested = [call[1][OutputType.DNASE].tolist() for call in model.calls[:2]]
    assert requested == [[0], [2]]  # forward pass: motif+; reverse pass: its twin motif-


def test_symmetric_model_rc_average_is_a_no_op(reference):
    model = SymmetricModel()
    interval = Interval("chr20", 80_000, 80_128)
    plain = Predictor(model, progress=False).predict_intervals(reference, [interval])[0]
    averaged = Predictor(model, rc_average=True, progress=False).predict_intervals(reference, [interval])[0]
    for key in plain:
        np.testing.assert_allclose(averaged[key], plain[key], rtol=1e-5, atol=1e-5)


def test_intervals_are_resized_to_the_model_length_and_logged(reference, caplog):
    model = SymmetricModel()
    predictor = Predictor(model, batch_size=2, progress=False)
    intervals = [Interval("chr20", 1000, 1100), Interval("chr20", 2000, 2128), Interval("chr20", 3000, 3050, "-")]
    with caplog.at_level(logging.INFO, logger="genome_plugin.predict"):
        results = list(predictor.iter_intervals(reference, intervals))
    assert "resized chr20:1000-1100:+ (100 bp) to the model's input window chr20:992-1120:+ (128 bp)" in caplog.text
    windows = [window for _, window, _ in results]
    assert windows[0] == Interval("chr20", 992, 1120)  # starts on the 16 bp grid of the coarsest output
    assert windows[1] == intervals[1]
    assert windows[2] == Interval("chr20", 2992, 3056, "-")
    assert results[2][2][(OutputType.DNASE, 1)].shape == (64, 4)
    direct = predictor.predict_batch([reference.fetch(windows[0])])[(OutputType.DNASE, 1)][0]
    np.testing.assert_allclose(results[0][2][(OutputType.DNASE, 1)], direct, rtol=1e-6)


def test_windows_stay_centred_when_the_grid_does_not_fit():
    predictor = Predictor(SymmetricModel(), progress=False)
    assert predictor.window(Interval("chr20", 1001, 1129)) == Interval("chr20", 1001, 1129)
    assert predictor.window(Interval("chr20", 1001, 1128)) == Interval("chr20", 1000, 1128)
    assert predictor.window(Interval("chr20", 1008, 1072)) == Interval("chr20", 1008, 1072)


def test_predict_sequence_pads_and_crops_to_the_sequence():
    model = SymmetricModel()
    predictor = Predictor(model, progress=False)
    sequence = "".join(RNG.choice(list("ACGT"), 100))
    out = predictor.predict_sequence(sequence)
    assert out[(OutputType.DNASE, 1)].shape == (100, 4)
    assert out[(OutputType.DNASE, COARSE)].shape == (13, 4)  # 100 bp from an aligned start: ceil(100/8)
    left = 0  # (128 - 100) // 2 = 14, rounded down to the 16 bp contact-map resolution
    padded = "N" * left + sequence + "N" * (128 - 100 - left)
    full = model.predict(one_hot(padded)[None])
    np.testing.assert_allclose(out[(OutputType.DNASE, 1)], full[(OutputType.DNASE, 1)][0, left:left + 100],
                               rtol=1e-6)


def test_crop_predictions_keeps_overlapping_bins():
    values = {(OutputType.DNASE, 8): np.arange(16.0).reshape(16, 1),
              (OutputType.CONTACT_MAPS, 16): np.ones((8, 8, 1))}
    cropped, starts = crop_predictions(values, 12, 20)  # bp 12..32: bins 1..3 at 8 bp, 0..1 at 16 bp
    assert cropped[(OutputType.DNASE, 8)].ravel().tolist() == [1.0, 2.0, 3.0]
    assert cropped[(OutputType.CONTACT_MAPS, 16)].shape == (2, 2, 1)
    assert starts == {8: 8, 16: 0}


def test_predictor_checks_its_inputs():
    model = SymmetricModel()
    with pytest.raises(ValueError, match="batch_size"):
        Predictor(model, batch_size=0)
    with pytest.raises(ValueError, match="no organism 'mouse'"):
        Predictor(model, organism="mouse")
    with pytest.raises(ValueError, match="track indices"):
        Predictor(model, requests={OutputType.DNASE: [7]})
    with pytest.raises(ValueError, match="does not predict atac"):
        Predictor(model, requests={OutputType.ATAC: None})


def test_model_returning_the_wrong_shape_is_reported():
    class Broken(SymmetricModel):
        name = "broken"

        def predict(self, onehot, *, organism="human", requests=None):
            out = super().predict(onehot, organism=organism, requests=requests)
            out[(OutputType.DNASE, 1)] = out[(OutputType.DNASE, 1)][:, :10]
            return out

    with pytest.raises(ValueError, match=r"model broken returned dnase at 1 bp with shape \(1, 10, 4\)"):
        Predictor(Broken(), progress=False).predict_batch(["A" * 64])


def test_reverse_complement_sequence_is_reverse_pass():
    """A '-' sequence in predict_batch is treated as the reverse complement of its + strand window."""
    model = AsymmetricModel()
    predictor = Predictor(model, progress=False)
    seq = "".join(RNG.choice(list("ACGT"), 64))
    plus = predictor.predict_batch([seq])
    minus = predictor.predict_batch([reverse_complement(seq)], strands=["-"])
    swap = model.strand_swap(OutputType.DNASE)
    raw = model.predict(one_hot(reverse_complement(seq))[None])[(OutputType.DNASE, 1)]
    np.testing.assert_allclose(minus[(OutputType.DNASE, 1)], raw[:, ::-1][..., swap], rtol=1e-6)
    assert plus[(OutputType.DNASE, 1)].shape == minus[(OutputType.DNASE, 1)].shape

"""The Predictor: batching, track requests, resizing, strand convention and reverse-complement averaging.

The strand bar is about model symmetry, so it uses the two models of ``toy_models.py``: one exactly
strand-symmetric by construction, one not.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from genome_plugin.genome import Interval, Reference, one_hot, reverse_complement
from genome_plugin.predict import Predictor, crop_predictions, select_tracks
from genome_plugin.tracks import OutputType


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


toy = _toy_models()
SymmetricModel, AsymmetricModel, RNG, COARSE, PAIR, _rc = (toy.SymmetricModel, toy.AsymmetricModel, toy.RNG, toy.COARSE,
                                                         toy.PAIR, toy._rc)
TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


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


def test_small_calls_are_padded_to_a_power_of_two():
    model = SymmetricModel()
    predictor = Predictor(model, batch_size=8, progress=False)
    for count in (1, 2, 3, 5, 8, 11):
        out = predictor.predict_batch(["ACGT" * 16] * count)
        assert out[(OutputType.DNASE, 1)].shape[0] == count
    assert [shape[0] for shape, _ in model.calls] == [1, 2, 4, 8, 8, 8, 8]
    assert sorted(predictor.compiled_shapes) == [(1, 64), (2, 64), (4, 64), (8, 64)]


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


def test_windows_of_any_length_models_cover_whole_coarse_bins():
    class AnyLength(SymmetricModel):
        def valid_length(self, length):
            return length

    predictor = Predictor(AnyLength(), progress=False)
    assert predictor.window(Interval("chr20", 1000, 1100)) == Interval("chr20", 992, 1104)
    assert predictor.window(Interval("chr20", 1001, 1101)) == Interval("chr20", 992, 1104)
    assert predictor.window(Interval("chr20", 1007, 1107)) == Interval("chr20", 1001, 1113)  # 112 bp, centred


def test_context_widens_the_window_and_the_api_crops_it(reference):
    from genome_plugin import api

    model = SymmetricModel()
    predictor = Predictor(model, context=32, progress=False)
    assert predictor.window(Interval("chr20", 1000, 1064)) == Interval("chr20", 968, 1096)
    assert predictor.window(Interval("chr20", 1000, 1064), with_context=False) == Interval("chr20", 1000, 1064)
    with_context = api.predict_interval(model, "chr20:1000-1064", reference=reference, context=32)["dnase_1bp"]
    without = api.predict_interval(model, "chr20:1000-1064", reference=reference)["dnase_1bp"]
    assert with_context.obs["start"].tolist() == without.obs["start"].tolist() == list(range(1000, 1064))
    full = model.predict(one_hot(reference.fetch(Interval("chr20", 968, 1096)))[None])[(OutputType.DNASE, 1)][0]
    np.testing.assert_allclose(with_context.X, full[32:96], rtol=1e-6)
    assert not np.allclose(with_context.X, without.X)  # the right edge now sees real sequence, not N
    assert with_context.uns["genome_plugin"]["context"] == 32
    model.context = 16  # a model that declares the context it needs gets it by default
    assert Predictor(model, progress=False).context == 16


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


@pytest.mark.slow
def test_spliceai_minus_strand_equals_plus_strand(reference):
    """SpliceAI's - strand tracks are its + strand network on the reverse complement: exactly symmetric."""
    from genome_plugin.plugins import get_models, load_model

    if "spliceai" not in get_models():
        pytest.skip("the spliceai model plugin is not registered (pip install --no-deps spliceai==1.3.1)")
    model = load_model("spliceai")
    predictor = Predictor(model, batch_size=2, context=5000, progress=False)
    interval = Interval("chr20", 29000, 29600)
    plus, minus = predictor.predict_intervals(reference, [interval, interval.with_strand("-")])
    key = (OutputType.SPLICE_SITES, 1)
    np.testing.assert_allclose(minus[key], plus[key], atol=1e-4)
    assert plus[key].max() > 0.5  # the GGT7 exon boundaries in this window are predicted

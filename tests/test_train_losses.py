"""Training losses on tiny arrays whose values are worked out by hand (arithmetic in the comments)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
import pytest

from genome_plugin.train import losses

LN2, LN3, LN5 = math.log(2), math.log(3), math.log(5)


def _close(got, want, rtol=1e-5):
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=rtol, atol=1e-6)


def test_soft_clip_and_target_scaling():
    # 40 > 10: 2 * sqrt(10 * 40) - 10 = 2 * 20 - 10 = 30
    _close(losses.soft_clip(jnp.array([4.0, 10.0, 40.0])), [4.0, 10.0, 30.0])
    # divisor nonzero_mean x resolution = [0.5 * 2, 2 * 2] = [1, 4]: [2, 8] -> [2, 2]; [40, 0] -> [40 -> 30, 0]
    targets = jnp.array([[[2.0, 8.0], [40.0, 0.0]]])
    scaled = losses.scale_targets(targets, jnp.array([[0.5, 2.0]]), 2, apply_squashing=False)
    _close(scaled, [[[2.0, 2.0], [30.0, 0.0]]])
    # RNA-seq: 16 ** 0.75 = 8 (kept); 10000 ** 0.75 = 1000 -> 2 * sqrt(10 * 1000) - 10 = 190
    rna = losses.scale_targets(jnp.array([[[16.0], [10000.0]]]), jnp.array([[1.0]]), 1, apply_squashing=True)
    _close(rna, [[[8.0], [190.0]]])


def test_poisson_loss_is_zero_at_the_target():
    # y_pred=1, y_true=2: 1 - 2 ln 1 - (2 - 2 ln 2) = 2 ln 2 - 1
    _close(losses.poisson_loss(jnp.array([2.0]), jnp.array([1.0])), 2 * LN2 - 1)
    _close(losses.poisson_loss(jnp.array([3.0, 5.0]), jnp.array([3.0, 5.0])), 0.0)


def test_multinomial_loss_by_hand():
    y_true = jnp.array([1.0, 3.0, 0.0, 2.0]).reshape(1, 4, 1)
    y_pred = jnp.array([1.0, 1.0, 2.0, 2.0]).reshape(1, 4, 1)
    out = losses.multinomial_loss(y_true, y_pred, jnp.ones((1, 4, 1)), segment_length=2)
    # segment 1: totals true 4, pred 2: 2 - 4 ln 2 - (4 - 4 ln 4) = 4 ln 2 - 2
    # segment 2: totals true 2, pred 4: 4 - 2 ln 4 - (2 - 2 ln 2) = 2 - 2 ln 2
    # mean = ln 2, divided by the segment length 2 -> ln 2 / 2
    _close(out["loss_total"], LN2 / 2)
    # positional: every predicted share is 1/2: -(1 + 3 + 0 + 2) ln(1/2) = 6 ln 2 over 4 entries
    _close(out["loss_positional"], 6 * LN2 / 4)
    _close(out["loss"], LN2 / 2 + 5 * 6 * LN2 / 4)


def test_multinomial_loss_position_weights_drop_positions():
    y_true = jnp.array([1.0, 3.0, 0.0, 2.0]).reshape(1, 4, 1)
    y_pred = jnp.array([1.0, 1.0, 2.0, 2.0]).reshape(1, 4, 1)
    weights = jnp.array([1.0, 0.0, 1.0, 1.0]).reshape(1, 4, 1)
    out = losses.multinomial_loss(y_true, y_pred, weights, segment_length=2)
    # segment 1 keeps [1] vs [1]: Poisson 0, positional -1 ln 1 = 0; segment 2 as unweighted
    _close(out["loss_total"], (0 + 2 - 2 * LN2) / 2 / 2)
    _close(out["loss_positional"], 2 * LN2 / 3)  # 3 valid entries


def test_multinomial_track_mask_equals_dropping_the_track():
    rng = np.random.default_rng(0)
    y_true = jnp.asarray(rng.uniform(0, 3, (2, 8, 3)), jnp.float32)
    y_pred = jnp.asarray(rng.uniform(0.1, 3, (2, 8, 3)), jnp.float32)
    mask = jnp.array([1.0, 0.0, 1.0]).reshape(1, 1, 3)
    masked = losses.multinomial_loss(y_true, y_pred, mask, segment_length=4)
    kept = losses.multinomial_loss(y_true[..., ::2], y_pred[..., ::2], jnp.ones((1, 1, 2)), segment_length=4)
    _close(masked["loss"], float(kept["loss"]))


def test_tracks_loss_segment_is_the_window_when_shorter():
    # nonzero_mean 2 at 1 bp: targets [2, 6, 0, 4] -> [1, 3, 0, 2]; one segment of 4 bins
    targets = jnp.array([2.0, 6.0, 0.0, 4.0]).reshape(1, 4, 1)
    pred = jnp.array([1.0, 1.0, 2.0, 2.0]).reshape(1, 4, 1)
    out = losses.tracks_loss(pred, targets, jnp.ones((1, 4, 1)), jnp.array([[2.0]]), 1, apply_squashing=False)
    # totals 6 vs 6: Poisson 0; shares [1/6, 1/6, 2/6, 2/6]: -(1 ln(1/6) + 3 ln(1/6) + 2 ln(1/3)) / 4
    positional = (4 * math.log(6) + 2 * LN3) / 4
    _close(out["loss_total"], 0.0)
    _close(out["loss"], 5 * positional)


def test_tracks_loss_uses_131072_bp_segments():
    # 2,048 bins at 128 bp = 262,144 bp = two segments of 1,024 bins; nonzero_mean 1/128 makes the divisor 1
    targets = jnp.concatenate([jnp.ones((1, 1024, 1)), jnp.zeros((1, 1024, 1))], axis=1)
    pred = jnp.ones((1, 2048, 1))
    out = losses.tracks_loss(pred, targets, jnp.ones((1, 2048, 1)), jnp.array([[1 / 128]]), 128,
                             apply_squashing=False)
    # segment 1: 1024 vs 1024 -> 0; segment 2: true 0, pred 1024 -> 1024; mean 512 / 1024 bins = 0.5
    _close(out["loss_total"], 0.5)
    # positional: 1024 entries of -1 ln(1/1024 + 1e-7) (the log's epsilon matters at this size) over 2048 entries
    _close(out["loss_positional"], -0.5 * math.log(1 / 1024 + 1e-7))


def test_contact_maps_mse_skips_nan():
    pred = jnp.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 2, 2, 1)
    target = jnp.array([[1.0, np.nan], [5.0, 4.0]]).reshape(1, 2, 2, 1)
    # squared differences 0, (NaN skipped), 4, 0 over 3 pixels
    _close(losses.contact_maps_loss(pred, target, jnp.ones((1, 2, 2, 1)))["loss"], 4 / 3)


def test_splice_sites_cross_entropy_with_smoothing():
    logits = jnp.array([[[0.0] * 5, [0.0, LN3, 0.0, 0.0, 0.0]]])  # second row: softmax [1, 3, 1, 1, 1] / 7
    labels = jnp.array([[4, 1]], jnp.int32)
    e = 1e-7
    first = LN5  # uniform softmax: -sum(y) ln(1/5) = ln 5 whatever the smoothing
    second = -((1 - e + e / 5) * math.log(3 / 7) + 4 * (e / 5) * math.log(1 / 7))
    _close(losses.splice_sites_loss(logits, labels, jnp.ones((1, 2)))["loss"], (first + second) / 2)
    _close(losses.splice_sites_loss(logits, labels, jnp.array([[0.0, 1.0]]))["loss"], second)


def test_splice_usage_binary_cross_entropy():
    logits = jnp.array([0.0, 2.0, -3.0]).reshape(1, 3, 1)
    usage = jnp.array([0.5, 1.0, 0.0]).reshape(1, 3, 1)
    # logit 0: ln 2 for any target; logit 2, y = 1 - 1e-7: 2 - 2 (1 - 1e-7) + ln(1 + e^-2);
    # logit -3, y = 1e-7: 0 + 3e-7 + ln(1 + e^-3)
    want = [LN2, 2e-7 + math.log1p(math.exp(-2)), 3e-7 + math.log1p(math.exp(-3))]
    _close(losses.splice_usage_loss(logits, usage, jnp.ones((1, 3, 1)))["loss"], sum(want) / 3)
    _close(losses.splice_usage_loss(logits, usage, jnp.array([0.0, 1.0, 0.0]).reshape(1, 3, 1))["loss"], want[1])


def _junction_case():
    targets = jnp.array([[3.0, 1.0], [0.0, 4.0]]).reshape(1, 2, 2, 1)  # rows donors, columns acceptors
    pred = jnp.array([[1.0, 1.0], [1.0, 2.0]]).reshape(1, 2, 2, 1)
    # totals per donor: true [4, 4], pred [2, 3]: (2 - 4 ln 2 - (4 - 4 ln 4)) and (3 - 4 ln 3 - (4 - 4 ln 4))
    donor_total = ((4 * LN2 - 2) + (8 * LN2 - 4 * LN3 - 1)) / 2
    # totals per acceptor: true [3, 5], pred [2, 3]: (2 - 3 ln 2 - (3 - 3 ln 3)) and (3 - 5 ln 3 - (5 - 5 ln 5))
    acceptor_total = ((3 * LN3 - 3 * LN2 - 1) + (5 * LN5 - 5 * LN3 - 2)) / 2
    # ratios over donors per acceptor: a0 p [1, 0], pred [1, 1]: ln 2 - 0; a1 p [.2, .8], pred [1, 2]: ln 3 - .8 ln 2
    donor_ratios = (LN2 + LN3 - 0.8 * LN2) / 2
    # ratios over acceptors per donor: d0 p [.75, .25], pred [1, 1]: ln 2; d1 p [0, 1], pred [1, 2]: ln 3 - ln 2
    acceptor_ratios = (LN2 + LN3 - LN2) / 2
    want = donor_ratios + acceptor_ratios + 0.2 * (donor_total + acceptor_total)
    return targets, pred, want, donor_total, acceptor_total


def test_junction_loss_by_hand():
    targets, pred, want, donor_total, acceptor_total = _junction_case()
    out = losses.junction_loss(pred, targets, jnp.ones((1, 2, 2, 1), bool))
    _close(out["donor_total"], donor_total)
    _close(out["acceptor_total"], acceptor_total)
    _close(out["loss"], want)


def test_junction_loss_soft_clips_target_totals():
    # target 40 -> total clipped to 30 = prediction: Poisson 0, single-entry ratios 0. Unclipped it is
    # 30 - 40 ln 30 - (40 - 40 ln 40) = 40 ln(4/3) - 10 = 1.51 per total.
    out = losses.junction_loss(jnp.full((1, 1, 1, 1), 30.0), jnp.full((1, 1, 1, 1), 40.0), jnp.ones((1, 1, 1, 1), bool))
    _close(out["loss"], 0.0)


def test_junction_targets_from_the_junction_list():
    junctions = {
        "donor": np.array([[10, 10, 50, -1]], np.int32),
        "acceptor": np.array([[20, 30, 40, -1]], np.int32),
        "strand": np.array([[0, 0, 1, 0]], np.int8),
        "counts": np.array([[[1, 2], [3, 4], [5, 6], [9, 9]]], np.float32),
    }
    positions, dense = losses.junction_targets(junctions, num_sites=3)
    np.testing.assert_array_equal(positions[0], [[10, -1, -1], [20, 30, -1], [50, -1, -1], [40, -1, -1]])
    want = np.zeros((1, 3, 3, 4), np.float32)
    want[0, 0, 0, :2] = [1, 2]  # + donor 10 -> + acceptor 20, tissues on channels 0, 1
    want[0, 0, 1, :2] = [3, 4]  # + donor 10 -> + acceptor 30
    want[0, 0, 0, 2:] = [5, 6]  # - donor 50 -> - acceptor 40, channels 2, 3
    np.testing.assert_array_equal(dense, want)
    # a tissue's + and - tracks (liver+, liver-) feed one head tissue: + junctions channel 0, - junctions channel 1
    junctions["counts"] = np.array([[[1, 0], [3, 0], [0, 6], [9, 9]]], np.float32)
    _, dense = losses.junction_targets(junctions, num_sites=3, track_tissues=np.array([0, 0]), num_tissues=1)
    assert dense[0, 0, 0].tolist() == [1, 6] and dense[0, 0, 1].tolist() == [3, 0] and dense.sum() == 10


def test_model_loss_weights_heads():
    targets, pred, junction_want, _, _ = _junction_case()
    outputs = {
        "splice_sites_classification": {"logits": jnp.zeros((1, 3, 5))},
        "splice_sites_junction": {"predictions": pred, "splice_junction_mask": jnp.ones((1, 2, 2, 1), bool)},
        "atac": {"scaled_predictions_1bp": jnp.array([1.0, 1.0, 2.0, 2.0]).reshape(1, 4, 1)},
    }
    batch_targets = {
        "splice_sites@1": jnp.array([[4, 4, 0]], jnp.int32),
        "splice_junctions@1": targets,
        "atac@1": jnp.array([2.0, 6.0, 0.0, 4.0]).reshape(1, 4, 1),
    }
    weights = {"splice_sites@1": jnp.ones((1, 3)), "splice_junctions@1": None, "atac@1": jnp.ones((1, 4, 1))}
    total, scalars = losses.model_loss(outputs, batch_targets, weights, track_means={"atac": jnp.array([[2.0]])})
    atac = 5 * (4 * math.log(6) + 2 * LN3) / 4  # as in test_tracks_loss_segment_is_the_window_when_shorter
    _close(scalars["splice_sites_classification/loss"], LN5)  # uniform logits: ln 5 for every class
    _close(scalars["splice_sites_junction/loss"], junction_want)
    _close(scalars["atac/loss"], atac)
    _close(total, LN5 + 0.2 * junction_want + atac)


def test_head_for_target_and_weights():
    assert losses.head_for_target("splice_sites@1") == ("splice_sites_classification", 1)
    assert losses.head_for_target("splice_site_usage@1") == ("splice_sites_usage", 1)
    assert losses.head_for_target("splice_junctions@1") == ("splice_sites_junction", 1)
    assert losses.head_for_target("rna_seq@128") == ("rna_seq", 128)
    assert losses.head_loss_weight("splice_sites_junction") == 0.2 and losses.head_loss_weight("atac") == 1.0
    with pytest.raises(ValueError, match="segment length"):
        losses.multinomial_loss(jnp.ones((1, 6, 1)), jnp.ones((1, 6, 1)), jnp.ones((1, 1, 1)), segment_length=4)

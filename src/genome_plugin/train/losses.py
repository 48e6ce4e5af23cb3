"""AlphaGenome training losses, as the paper and the official research code define them.

Genome tracks are compared in the model's scaled space: targets are divided by ``nonzero_mean x
resolution``, raised to 0.75 for RNA-seq and soft-clipped above 10 (``2 sqrt(10 x) - 10``), the inverse
of :func:`genome_plugin.model.heads.predictions_scaling`; the head's ``scaled_predictions_*`` are used
as they are. Per resolution the loss is a Poisson loss on the total of each 131,072 bp segment (the
whole window when it is shorter; divided by the segment length in bins) plus 5 x the multinomial
negative log-likelihood of where in the segment the signal falls. Contact maps: mean squared error.
Splice sites: 5-class cross-entropy with 1e-7 label smoothing. Splice-site usage: binary cross-entropy
from logits. Junctions: cross-entropy of the donor and acceptor ratios plus 0.2 x a Poisson loss on
the soft-clipped totals per site. Heads are summed with weight 0.2 for junctions and 1.0 for all others.

Weights (the batch's ``weights``, 1 = valid, 0 = ignore) play the role of the official masks; a mask
over tracks only (``[B, 1, T]``) gives exactly the official numbers, and a per-position one drops
positions from the totals and the means.
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from genome_plugin.model.config import HEAD_SPECS
from genome_plugin.tracks import OutputType

__all__ = [
    "EPSILON",
    "HEAD_LOSS_WEIGHTS",
    "POSITIONAL_WEIGHT",
    "SEGMENT_BP",
    "SOFT_CLIP_VALUE",
    "contact_maps_loss",
    "cross_entropy_counts",
    "head_for_target",
    "head_loss_weight",
    "junction_loss",
    "junction_targets",
    "model_loss",
    "multinomial_loss",
    "poisson_loss",
    "safe_masked_mean",
    "scale_targets",
    "soft_clip",
    "splice_sites_loss",
    "splice_usage_loss",
    "tracks_loss",
]

SOFT_CLIP_VALUE = 10.0
SEGMENT_BP = 2**17
POSITIONAL_WEIGHT = 5.0
JUNCTION_TOTAL_WEIGHT = 0.2
EPSILON = 1e-7
#: Loss weight per head; heads not listed weigh 1.0.
HEAD_LOSS_WEIGHTS: dict[str, float] = {"splice_sites_junction": 0.2}

_HEAD_FOR_TYPE = {OutputType[spec.output_type]: name for name, spec in HEAD_SPECS.items()}


def head_loss_weight(head: str) -> float:
    """Weight of ``head`` in the total loss."""
    return HEAD_LOSS_WEIGHTS.get(head, 1.0)


def head_for_target(key: str) -> tuple[str, int]:
    """The model head and resolution (bp) a batch target key such as ``"atac@128"`` trains."""
    name, _, resolution = key.partition("@")
    output_type = OutputType.parse(name)
    return _HEAD_FOR_TYPE[output_type], int(resolution)


def safe_masked_mean(x: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Weighted mean of ``x`` (float32); 0 when every weight is 0."""
    x = jnp.asarray(x, jnp.float32)
    if mask is None:
        return jnp.mean(x)
    mask = jnp.broadcast_to(jnp.asarray(mask, jnp.float32), x.shape)
    return jnp.sum(x * mask) / jnp.maximum(1.0, jnp.sum(mask))


def soft_clip(x: jax.Array, value: float = SOFT_CLIP_VALUE) -> jax.Array:
    """Identity up to ``value``, then ``2 sqrt(value x) - value`` (continuous, slope 1 at ``value``)."""
    # The inner maximum keeps sqrt's gradient finite on the branch jnp.where discards.
    return jnp.where(x > value, 2.0 * jnp.sqrt(jnp.maximum(x, value) * value) - value, x)


def scale_targets(
    targets: jax.Array,
    track_means: jax.Array,
    resolution: int,
    *,
    apply_squashing: bool,
    soft_clip_value: float = SOFT_CLIP_VALUE,
) -> jax.Array:
    """Data space -> model space: ``/ (nonzero_mean x resolution)``, ``^0.75`` (RNA-seq), soft clip.

    ``targets`` is [B, S, C], ``track_means`` [B, C].
    """
    x = jnp.asarray(targets, jnp.float32) / (jnp.asarray(track_means, jnp.float32)[:, None, :] * resolution)
    if apply_squashing:
        x = jnp.power(jnp.maximum(x, 0.0), 0.75)
    return soft_clip(x, soft_clip_value)


def poisson_loss(y_true: jax.Array, y_pred: jax.Array, mask: jax.Array | None = None) -> jax.Array:
    """Poisson negative log-likelihood shifted to be 0 at ``y_pred == y_true``: mean of
    ``y_pred - y_true log(y_pred + eps) - (y_true - y_true log(y_true + eps))``."""
    y_true = jnp.abs(jnp.asarray(y_true, jnp.float32))
    y_pred = jnp.asarray(y_pred, jnp.float32)
    loss = (y_pred - y_true * jnp.log(y_pred + EPSILON)) - (y_true - y_true * jnp.log(y_true + EPSILON))
    return safe_masked_mean(loss, mask)


def multinomial_loss(
    y_true: jax.Array,
    y_pred: jax.Array,
    mask: jax.Array,
    *,
    segment_length: int,
    positional_weight: float = POSITIONAL_WEIGHT,
) -> dict[str, jax.Array]:
    """Poisson loss on segment totals (divided by ``segment_length``) + ``positional_weight`` x multinomial NLL.

    ``y_true``, ``y_pred`` are [B, S, C] in model space, ``mask`` broadcasts to them; S must be a
    multiple of ``segment_length`` (bins). Returns ``loss``, ``loss_total`` and ``loss_positional``.
    """
    y_pred = jnp.asarray(y_pred, jnp.float32)
    if y_pred.shape[-2] % segment_length:
        msg = f"{y_pred.shape[-2]} bins are not a multiple of the segment length {segment_length}"
        raise ValueError(msg)
    mask = jnp.broadcast_to(jnp.asarray(mask, jnp.float32), y_pred.shape)
    y_true = jnp.maximum(jnp.asarray(y_true, jnp.float32), 0.0) * mask
    y_pred = y_pred * mask
    b, s, c = y_pred.shape
    shape = (b, s // segment_length, segment_length, c)
    y_true, y_pred, mask = y_true.reshape(shape), y_pred.reshape(shape), mask.reshape(shape)
    total_true = jnp.sum(y_true, axis=-2, keepdims=True)
    total_pred = jnp.sum(y_pred, axis=-2, keepdims=True)
    segment_mask = jnp.max(mask, axis=-2, keepdims=True)
    loss_total = poisson_loss(total_true, total_pred, segment_mask) / segment_length
    positional = -y_true * jnp.log(y_pred / (total_pred + EPSILON) + EPSILON)
    loss_positional = safe_masked_mean(positional, mask)
    return {
        "loss": loss_total + positional_weight * loss_positional,
        "loss_total": loss_total,
        "loss_positional": loss_positional,
    }


def tracks_loss(
    scaled_predictions: jax.Array,
    targets: jax.Array,
    weights: jax.Array,
    track_means: jax.Array,
    resolution: int,
    *,
    apply_squashing: bool,
) -> dict[str, jax.Array]:
    """Genome-track loss at one resolution: targets scaled to model space, then :func:`multinomial_loss`.

    Segments are 131,072 bp, or the whole window when it is shorter.
    """
    bins = scaled_predictions.shape[-2]
    segment = min(bins, SEGMENT_BP // resolution)
    scaled = scale_targets(targets, track_means, resolution, apply_squashing=apply_squashing)
    return multinomial_loss(scaled, scaled_predictions, weights, segment_length=segment)


def contact_maps_loss(predictions: jax.Array, targets: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Mean squared error over valid pixels; NaN targets (bins balancing masked) are ignored."""
    targets = jnp.asarray(targets, jnp.float32)
    valid = jnp.broadcast_to(jnp.asarray(weights, jnp.float32), targets.shape) * ~jnp.isnan(targets)
    diff = jnp.asarray(predictions, jnp.float32) - jnp.where(jnp.isnan(targets), 0.0, targets)
    return {"loss": safe_masked_mean(jnp.square(diff), valid)}


def splice_sites_loss(
    logits: jax.Array, labels: jax.Array, weights: jax.Array, *, smoothing: float = EPSILON
) -> dict[str, jax.Array]:
    """Cross-entropy of the class softmax against one-hot labels smoothed to ``(1 - e) y + e / classes``.

    ``logits`` [B, S, classes], ``labels`` int [B, S], ``weights`` [B, S].
    """
    classes = logits.shape[-1]
    y = (1.0 - smoothing) * jax.nn.one_hot(labels, classes, dtype=jnp.float32) + smoothing / classes
    loss = -jnp.sum(y * jax.nn.log_softmax(jnp.asarray(logits, jnp.float32), axis=-1), axis=-1)
    return {"loss": safe_masked_mean(loss, jnp.reshape(weights, labels.shape))}


def splice_usage_loss(logits: jax.Array, usage: jax.Array, weights: jax.Array) -> dict[str, jax.Array]:
    """Binary cross-entropy from logits, targets clipped to [1e-7, 1 - 1e-7]."""
    x = jnp.asarray(logits, jnp.float32)
    y = jnp.clip(jnp.asarray(usage, jnp.float32), EPSILON, 1.0 - EPSILON)
    loss = jnp.maximum(x, 0.0) - x * y + jnp.log1p(jnp.exp(-jnp.abs(x)))
    return {"loss": safe_masked_mean(loss, weights)}


def cross_entropy_counts(y_true: jax.Array, y_pred: jax.Array, mask: jax.Array, *, axis: int) -> jax.Array:
    """Cross-entropy between the count ratios along ``axis`` of ``y_true`` and of ``y_pred`` (masked entries out).

    Per slice: ``log(sum(pred) + eps) - sum(p_true log(pred + eps))`` with ``p_true = true / max(sum(true), eps)``,
    averaged over slices with at least one valid entry.
    """
    mask = jnp.broadcast_to(jnp.asarray(mask, bool), y_true.shape)
    y_true = jnp.where(mask, jnp.asarray(y_true, jnp.float32), 0.0)
    y_pred = jnp.asarray(y_pred, jnp.float32)
    p_true = y_true / jnp.maximum(jnp.sum(y_true, axis=axis, keepdims=True), EPSILON)
    log_normalizer = jnp.log(jnp.sum(jnp.where(mask, y_pred, 0.0), axis=axis) + EPSILON)
    log_likelihood = jnp.sum(p_true * jnp.log(y_pred + EPSILON), axis=axis)
    return safe_masked_mean(log_normalizer - log_likelihood, jnp.any(mask, axis=axis))


def junction_loss(predictions: jax.Array, targets: jax.Array, mask: jax.Array) -> dict[str, jax.Array]:
    """Junction loss on [B, donors, acceptors, channels] counts at the same splice sites.

    Ratio cross-entropies over donors (per acceptor) and over acceptors (per donor), plus 0.2 x the
    Poisson loss of the per-site totals against soft-clipped target totals.
    """
    mask = jnp.asarray(mask, bool)
    targets = jnp.asarray(targets, jnp.float32)
    predictions = jnp.asarray(predictions, jnp.float32)
    totals = {}
    for name, axis in (("donor_total", -2), ("acceptor_total", -3)):  # totals per donor sum over acceptors
        true = jnp.sum(jnp.where(mask, targets, 0.0), axis=axis)
        pred = jnp.sum(jnp.where(mask, predictions, 0.0), axis=axis)
        totals[name] = poisson_loss(soft_clip(true), pred, jnp.any(mask, axis=axis))
    donor_ratios = cross_entropy_counts(targets, predictions, mask, axis=-3)
    acceptor_ratios = cross_entropy_counts(targets, predictions, mask, axis=-2)
    loss = donor_ratios + acceptor_ratios + JUNCTION_TOTAL_WEIGHT * (totals["donor_total"] + totals["acceptor_total"])
    return {"loss": loss, "loss_donor_ratios": donor_ratios, "loss_acceptor_ratios": acceptor_ratios, **totals}


def junction_targets(
    junctions: Mapping[str, np.ndarray],
    *,
    num_sites: int,
    track_tissues: np.ndarray | None = None,
    num_tissues: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The batch's junction list as the junction head's inputs and targets (host-side numpy).

    ``junctions`` is the batch's ``"splice_junctions@1"`` dict (``donor``, ``acceptor``, ``strand``,
    ``counts`` [B, J, T], optional ``weights`` [B, J, 1]). Track ``t`` feeds head tissue
    ``track_tissues[t]`` (default ``t``; a tissue's + and - tracks may share one) of ``num_tissues``.
    Returns the splice-site positions [B, 4, K] (donor+, acceptor+, donor-, acceptor-; ascending, -1
    padded) and the counts [B, K, K, 2 N] with channel ``n`` for tissue ``n`` on + and ``N + n`` on -,
    as the junction head orders them. ``K = num_sites``; when a window has more distinct sites of one
    class, the first K (by position) are kept and junctions using the others are left out of that
    window's targets. Padding (-1) and weight-0 junctions are left out.
    """
    donor = np.asarray(junctions["donor"])
    acceptor = np.asarray(junctions["acceptor"])
    strand = np.asarray(junctions["strand"])
    counts = np.asarray(junctions["counts"], np.float32)
    batch, _, tracks = counts.shape
    track_tissues = np.arange(tracks) if track_tissues is None else np.asarray(track_tissues, np.int64)
    tissues = tracks if num_tissues is None else int(num_tissues)
    keep = (donor >= 0) & (acceptor >= 0)
    if "weights" in junctions:
        keep &= np.asarray(junctions["weights"]).reshape(donor.shape) > 0
    positions = np.full((batch, 4, num_sites), -1, np.int32)
    dense = np.zeros((batch, num_sites, num_sites, 2 * tissues), np.float32)
    for b in range(batch):
        for s in (0, 1):
            rows = np.flatnonzero(keep[b] & (strand[b] == s))
            donors = np.unique(donor[b, rows])[:num_sites]
            acceptors = np.unique(acceptor[b, rows])[:num_sites]
            positions[b, 2 * s, : len(donors)] = donors
            positions[b, 2 * s + 1, : len(acceptors)] = acceptors
            rows = rows[np.isin(donor[b, rows], donors) & np.isin(acceptor[b, rows], acceptors)]
            di, ai = np.searchsorted(donors, donor[b, rows]), np.searchsorted(acceptors, acceptor[b, rows])
            channels = s * tissues + track_tissues
            np.add.at(dense[b], (di[:, None], ai[:, None], channels[None, :]), counts[b, rows])
    return positions, dense


def model_loss(
    outputs: Mapping[str, Mapping[str, jax.Array]],
    targets: Mapping[str, jax.Array],
    weights: Mapping[str, jax.Array],
    *,
    track_means: Mapping[str, jax.Array],
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Weighted sum of the head losses for every target in the batch, and the named parts.

    ``outputs`` is the model's prediction dict; ``targets`` / ``weights`` the batch's (the junction
    target already dense, from :func:`junction_targets`); ``track_means`` the ``nonzero_mean`` [B, T]
    of each genome-track head for the batch's organisms. Scalars are named ``"{head}/loss"``, and
    ``"{head}/loss_{r}bp"`` etc. for the parts.
    """
    head_losses: dict[str, jax.Array] = {}
    scalars: dict[str, jax.Array] = {}
    for key in sorted(targets):
        head, resolution = head_for_target(key)
        spec = HEAD_SPECS[head]
        out = outputs[head]
        match spec.kind:
            case "genome_tracks":
                parts = tracks_loss(
                    out[f"scaled_predictions_{resolution}bp"], targets[key], weights[key], track_means[head],
                    resolution, apply_squashing=spec.apply_squashing,
                )
                parts = {f"{name}_{resolution}bp": value for name, value in parts.items()}
                loss = parts[f"loss_{resolution}bp"]
            case "contact_maps":
                parts = contact_maps_loss(out["predictions"], targets[key], weights[key])
                loss = parts.pop("loss")
            case "splice_sites_classification":
                parts = splice_sites_loss(out["logits"], targets[key], weights[key])
                loss = parts.pop("loss")
            case "splice_sites_usage":
                parts = splice_usage_loss(out["logits"], targets[key], weights[key])
                loss = parts.pop("loss")
            case "splice_sites_junction":
                parts = junction_loss(out["predictions"], targets[key], out["splice_junction_mask"])
                loss = parts.pop("loss")
            case _:
                msg = f"no loss for head kind {spec.kind!r}"
                raise ValueError(msg)
        head_losses[head] = head_losses.get(head, 0.0) + loss
        scalars.update({f"{head}/{name}": value for name, value in parts.items()})
    total = jnp.zeros((), jnp.float32)
    for head, loss in head_losses.items():
        scalars[f"{head}/loss"] = loss
        total = total + head_loss_weight(head) * loss
    scalars["loss"] = total
    return total, scalars

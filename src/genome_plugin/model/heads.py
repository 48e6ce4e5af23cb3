"""AlphaGenome output heads with per-organism weights, and the splice-site selection that feeds the junction head.

Every head takes an optional ``track_indices`` array: the selection is applied to the head's weights
before the matmul, so unrequested tracks are never computed. Genome-track heads also un-scale their
predictions to data space with the per-track ``nonzero_mean`` (stored as ``TrackMeans`` state,
filled from the track metadata by the converter).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genome_plugin.model.attention import apply_rope
from genome_plugin.model.config import HEAD_SPECS, AlphaGenomeConfig, HeadSpec

__all__ = [
    "ContactMapsHead",
    "GenomeTracksHead",
    "MultiOrganismLinear",
    "SpliceSitesClassificationHead",
    "SpliceSitesJunctionHead",
    "SpliceSitesUsageHead",
    "TrackMeans",
    "build_head",
    "predictions_scaling",
    "select_splice_sites",
]

JUNCTION_SITE_NAMES = ("pos_donor", "pos_acceptor", "neg_donor", "neg_acceptor")


class TrackMeans(nnx.Variable):
    """Per-organism, per-track ``nonzero_mean`` used to un-scale predictions (metadata, not trained)."""


class MultiOrganismLinear(nnx.Module):
    """Linear layer with one weight ``w`` [organism, in, out] and bias ``b`` [organism, out] per organism."""

    def __init__(self, in_features: int, out_features: int, num_organisms: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        init = nnx.initializers.truncated_normal(stddev=1.0 / in_features**0.5)
        self.w = nnx.Param(init(rngs.params(), (num_organisms, in_features, out_features), param_dtype))
        self.b = nnx.Param(jnp.zeros((num_organisms, out_features), param_dtype))
        self.dtype = dtype

    def __call__(self, x: jax.Array, organism_index: jax.Array, track_indices: jax.Array | None = None) -> jax.Array:
        w = self.w[...].astype(x.dtype)[organism_index]
        b = self.b[...].astype(x.dtype)[organism_index]
        if track_indices is not None:
            w = jnp.take(w, track_indices, axis=-1)
            b = jnp.take(b, track_indices, axis=-1)
        y = jnp.einsum("b...i,bij->b...j", x, w, preferred_element_type=jnp.float32)
        return y + b.reshape((b.shape[0],) + (1,) * (x.ndim - 2) + (b.shape[1],))


def predictions_scaling(
    x: jax.Array, track_means: jax.Array, resolution: int, *, apply_squashing: bool, soft_clip_value: float = 10.0
) -> jax.Array:
    """Model space -> data space: inverse soft-clip, inverse power 0.75 (RNA-seq), times ``nonzero_mean * resolution``.

    ``track_means`` is [B, C]; ``x`` is [B, S, C].
    """
    x = jnp.where(x > soft_clip_value, (x + soft_clip_value) ** 2 / (4 * soft_clip_value), x)
    if apply_squashing:
        x = jnp.power(x, 1.0 / 0.75)
    return x * (track_means[:, None] * resolution).astype(x.dtype)


class _TrackProjection(nnx.Module):
    """One resolution of a genome-track head: ``softplus(linear(x)) * softplus(learnt_scale)``."""

    def __init__(self, in_features: int, num_tracks: int, num_organisms: int, *, dtype, param_dtype, rngs: nnx.Rngs):
        self.linear = MultiOrganismLinear(
            in_features, num_tracks, num_organisms, dtype=dtype, param_dtype=param_dtype, rngs=rngs
        )
        self.learnt_scale = nnx.Param(jnp.ones((num_organisms, num_tracks), param_dtype))

    def __call__(self, x: jax.Array, organism_index: jax.Array, track_indices: jax.Array | None) -> jax.Array:
        y = self.linear(x, organism_index, track_indices)
        scale = self.learnt_scale[...].astype(y.dtype)[organism_index]
        if track_indices is not None:
            scale = jnp.take(scale, track_indices, axis=-1)
        return jax.nn.softplus(y) * jax.nn.softplus(scale[:, None, :])


class GenomeTracksHead(nnx.Module):
    """Tracks at one or two resolutions (1 bp from the 1 bp embedding, 128 bp from the 128 bp embedding)."""

    def __init__(self, spec: HeadSpec, num_tracks: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.resolutions = tuple(sorted(spec.resolutions))
        self.apply_squashing = spec.apply_squashing
        self.soft_clip_value = config.heads.soft_clip_value
        self.dtype = config.precision.compute
        widths = {1: config.embedding_1bp_width, 128: config.embedding_128bp_width}
        for resolution in self.resolutions:
            setattr(
                self,
                f"resolution_{resolution}",
                _TrackProjection(widths[resolution], num_tracks, config.num_organisms, rngs=rngs, **kw),
            )
        self.track_means = TrackMeans(jnp.ones((config.num_organisms, num_tracks), jnp.float32))

    def __call__(self, embeddings: dict, organism_index: jax.Array, track_indices: jax.Array | None = None) -> dict:
        means = self.track_means[...][organism_index]
        if track_indices is not None:
            means = jnp.take(means, track_indices, axis=-1)
        out = {}
        for resolution in self.resolutions:
            x = embeddings[f"embeddings_{resolution}bp"]
            scaled = getattr(self, f"resolution_{resolution}")(x, organism_index, track_indices)
            out[f"scaled_predictions_{resolution}bp"] = scaled.astype(self.dtype)
            out[f"predictions_{resolution}bp"] = predictions_scaling(
                scaled,
                means,
                resolution,
                apply_squashing=self.apply_squashing,
                soft_clip_value=self.soft_clip_value,
            ).astype(self.dtype)
        return out


class ContactMapsHead(nnx.Module):
    """Contact maps: per-organism linear map of the pair embedding."""

    def __init__(self, num_tracks: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        self.linear = MultiOrganismLinear(
            config.transformer.pair_channels,
            num_tracks,
            config.num_organisms,
            dtype=config.precision.compute,
            param_dtype=config.precision.param,
            rngs=rngs,
        )
        self.dtype = config.precision.compute

    def __call__(self, embeddings: dict, organism_index: jax.Array, track_indices: jax.Array | None = None) -> dict:
        y = self.linear(embeddings["embeddings_pair"], organism_index, track_indices)
        return {"predictions": y.astype(self.dtype)}


class SpliceSitesClassificationHead(nnx.Module):
    """Five-class splice-site softmax (donor+, acceptor+, donor-, acceptor-, none) at 1 bp."""

    def __init__(self, num_tracks: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        self.linear = MultiOrganismLinear(
            config.embedding_1bp_width,
            num_tracks,
            config.num_organisms,
            dtype=config.precision.compute,
            param_dtype=config.precision.param,
            rngs=rngs,
        )

    def __call__(self, embeddings: dict, organism_index: jax.Array, track_indices: jax.Array | None = None) -> dict:
        # The softmax needs every class, so the selection applies to its output.
        logits = self.linear(embeddings["embeddings_1bp"], organism_index)
        probs = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
        if track_indices is not None:
            logits = jnp.take(logits, track_indices, axis=-1)
            probs = jnp.take(probs, track_indices, axis=-1)
        return {"logits": logits, "predictions": probs}


class SpliceSitesUsageHead(nnx.Module):
    """Splice-site usage per track: sigmoid, returned as float16 like the official model."""

    def __init__(self, num_tracks: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        self.linear = MultiOrganismLinear(
            config.embedding_1bp_width,
            num_tracks,
            config.num_organisms,
            dtype=config.precision.compute,
            param_dtype=config.precision.param,
            rngs=rngs,
        )

    def __call__(self, embeddings: dict, organism_index: jax.Array, track_indices: jax.Array | None = None) -> dict:
        logits = self.linear(embeddings["embeddings_1bp"], organism_index, track_indices)
        return {"logits": logits, "predictions": jax.nn.sigmoid(logits.astype(jnp.float32)).astype(jnp.float16)}


def select_splice_sites(probabilities: jax.Array, *, k: int, threshold: float) -> jax.Array:
    """Top-``k`` positions per splice class (first four classes) above ``threshold``.

    Returns int32 [B, 4, k], ascending within each class, ``-1`` where fewer than ``k`` pass.
    """
    values, positions = jax.lax.top_k(jnp.moveaxis(probabilities[..., :4], 1, -1), k)  # [B, 4, k]
    sentinel = probabilities.shape[1]
    positions = jnp.where(values < threshold, sentinel, positions)
    positions = jnp.sort(positions, axis=-1)
    return jnp.where(positions == sentinel, -1, positions).astype(jnp.int32)


class SpliceSitesJunctionHead(nnx.Module):
    """Junction counts for every (donor, acceptor) pair of selected splice sites, per tissue and strand.

    Each selected site's 1 bp embedding is projected to ``junction_hidden`` channels, given a
    per-tissue scale and offset and rotated by RoPE at its position; donor x acceptor dot products
    through softplus give counts. Channels are ``[tissues (+ strand), tissues (- strand)]``.
    """

    def __init__(self, num_tissues: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        h = config.heads
        if len(h.junction_tissues_per_organism) != config.num_organisms:
            msg = (
                f"junction_tissues_per_organism has {len(h.junction_tissues_per_organism)} entries, "
                f"expected one per organism ({config.num_organisms})"
            )
            raise ValueError(msg)
        self.num_tissues = num_tissues
        self.hidden = h.junction_hidden
        self.rope_max_position = h.junction_rope_max_position
        self.linear = MultiOrganismLinear(
            config.embedding_1bp_width,
            self.hidden,
            config.num_organisms,
            dtype=config.precision.compute,
            param_dtype=config.precision.param,
            rngs=rngs,
        )
        init = nnx.initializers.truncated_normal(stddev=1.0)
        for site in JUNCTION_SITE_NAMES:
            # [organism, (scale, offset), tissue, channel]
            table = init(rngs.params(), (config.num_organisms, 2, num_tissues, self.hidden), config.precision.param)
            setattr(self, f"{site}_embeddings", nnx.Param(table))
        self.tissues_per_organism = tuple(h.junction_tissues_per_organism)

    @property
    def num_tracks(self) -> int:
        return 2 * self.num_tissues

    def _site_logits(self, site: str, x: jax.Array, indices: jax.Array, organism_index: jax.Array) -> jax.Array:
        # Project only the selected positions; -1 (no site) is clipped to 0 here and masked later.
        x = jax.vmap(lambda e, i: jnp.take(e, i, axis=0))(x, jnp.maximum(indices, 0))
        x = self.linear(x, organism_index).astype(jnp.float32)
        params = getattr(self, f"{site}_embeddings")[...].astype(jnp.float32)[organism_index]
        scale, offset = params[:, 0:1], params[:, 1:2]  # [B, 1, tissues, C]
        x = scale * x[:, :, None, :] + offset  # [B, sites, tissues, C]
        return apply_rope(x, indices, self.rope_max_position)

    def __call__(
        self,
        embeddings: dict,
        organism_index: jax.Array,
        track_indices: jax.Array | None = None,
        *,
        splice_site_positions: jax.Array,
    ) -> dict:
        x = embeddings["embeddings_1bp"]
        pos_donor, pos_acceptor, neg_donor, neg_acceptor = (splice_site_positions[:, i, :] for i in range(4))
        logits = {
            site: self._site_logits(site, x, idx, organism_index)
            for site, idx in zip(JUNCTION_SITE_NAMES, (pos_donor, pos_acceptor, neg_donor, neg_acceptor), strict=True)
        }
        pos_counts = jax.nn.softplus(jnp.einsum("bdtc,batc->bdat", logits["pos_donor"], logits["pos_acceptor"]))
        neg_counts = jax.nn.softplus(jnp.einsum("bdtc,batc->bdat", logits["neg_donor"], logits["neg_acceptor"]))
        pos_mask = (pos_donor >= 0)[:, :, None] & (pos_acceptor >= 0)[:, None, :]
        neg_mask = (neg_donor >= 0)[:, :, None] & (neg_acceptor >= 0)[:, None, :]
        tissue_mask = np.arange(self.num_tissues)[None, :] < np.asarray(self.tissues_per_organism)[:, None]
        track_mask = jnp.asarray(np.concatenate([tissue_mask, tissue_mask], axis=-1))[organism_index]
        t = self.num_tissues
        mask = jnp.concatenate(
            [pos_mask[..., None] & track_mask[:, None, None, :t], neg_mask[..., None] & track_mask[:, None, None, t:]],
            axis=-1,
        )
        counts = jnp.where(mask, jnp.concatenate([pos_counts, neg_counts], axis=-1), 0)
        if track_indices is not None:
            counts = jnp.take(counts, track_indices, axis=-1)
            mask = jnp.take(mask, track_indices, axis=-1)
        return {"predictions": counts, "splice_junction_mask": mask, "splice_site_positions": splice_site_positions}


def build_head(name: str, num_tracks: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs) -> nnx.Module:
    """Head factory from the official head table."""
    if name not in HEAD_SPECS:
        msg = f"unknown head {name!r}; known heads: {sorted(HEAD_SPECS)}"
        raise ValueError(msg)
    spec = HEAD_SPECS[name]
    match spec.kind:
        case "genome_tracks":
            return GenomeTracksHead(spec, num_tracks, config, rngs=rngs)
        case "contact_maps":
            return ContactMapsHead(num_tracks, config, rngs=rngs)
        case "splice_sites_classification":
            return SpliceSitesClassificationHead(num_tracks, config, rngs=rngs)
        case "splice_sites_usage":
            return SpliceSitesUsageHead(num_tracks, config, rngs=rngs)
        case "splice_sites_junction":
            return SpliceSitesJunctionHead(num_tracks, config, rngs=rngs)
    msg = f"head {name!r} has unknown kind {spec.kind!r}"
    raise ValueError(msg)

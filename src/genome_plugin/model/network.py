"""The AlphaGenome network: DNA encoder -> transformer tower (with pair representation) -> U-Net decoder -> heads.

``AlphaGenome.__call__`` returns the official prediction dictionary (``{head: {key: array}}``) plus
``embeddings``; ``embed`` returns only the embeddings, ``predict_junctions`` runs the junction head
on given splice-site positions. Parameter names follow the official Haiku modules one-to-one (see
``genome_plugin.model.convert``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genome_plugin.model.attention import AttentionBiasBlock, MHABlock, MLPBlock, PairUpdateBlock
from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.model.heads import build_head, select_splice_sites
from genome_plugin.model.layers import Conv1D, ConvBlock, Embed, LayerNorm, Linear, RMSBatchNorm, gelu, max_pool

__all__ = [
    "AlphaGenome",
    "DnaEmbedder",
    "DownResBlock",
    "OutputEmbedder",
    "OutputPair",
    "SequenceDecoder",
    "SequenceEncoder",
    "TransformerTower",
    "UpResBlock",
    "count_params",
    "init_on_host",
]


def _kw(config: AlphaGenomeConfig) -> dict:
    return dict(decay=config.rms_norm_decay, dtype=config.precision.compute, param_dtype=config.precision.param)


class DnaEmbedder(nnx.Module):
    """One-hot DNA -> wide Conv1D -> plus a residual conv block."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        e = config.encoder
        width = e.widths[0]
        self.conv = Conv1D(
            4, width, e.dna_kernel, dtype=config.precision.compute, param_dtype=config.precision.param, rngs=rngs
        )
        self.conv_block = ConvBlock(width, width, e.conv_kernel, rngs=rngs, **_kw(config))

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.conv(x)
        return x + self.conv_block(x)


class DownResBlock(nnx.Module):
    """Two residual conv blocks; the first widens the channels (residual zero-padded)."""

    def __init__(self, in_features: int, out_features: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        k = config.encoder.conv_kernel
        self.conv_block1 = ConvBlock(in_features, out_features, k, rngs=rngs, **_kw(config))
        self.conv_block2 = ConvBlock(out_features, out_features, k, rngs=rngs, **_kw(config))
        self.pad = out_features - in_features

    def __call__(self, x: jax.Array) -> jax.Array:
        out = self.conv_block1(x) + jnp.pad(x, [(0, 0), (0, 0), (0, self.pad)])
        return out + self.conv_block2(out)


class SequenceEncoder(nnx.Module):
    """DNA embedder and down-blocks, each followed by max-pooling x2; keeps every level as a U-Net skip."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        widths = config.encoder.widths
        self.pool = config.encoder.pool
        self.dna_embedder = DnaEmbedder(config, rngs=rngs)
        self.down_blocks = nnx.List(
            [DownResBlock(widths[i], widths[i + 1], config, rngs=rngs) for i in range(len(widths) - 1)]
        )

    def __call__(self, dna: jax.Array) -> tuple[jax.Array, list[jax.Array]]:
        x = self.dna_embedder(dna)
        skips = [x]
        x = max_pool(x, self.pool)
        for block in self.down_blocks:
            x = block(x)
            skips.append(x)
            x = max_pool(x, self.pool)
        return x, skips


class TransformerTower(nnx.Module):
    """Attention + MLP layers at 128 bp; a pair update runs before every ``pair_update_every``-th layer."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        self.pair_update_every = t.pair_update_every
        self.pair_blocks = nnx.List([PairUpdateBlock(config, rngs=rngs) for _ in range(t.num_pair_updates)])
        self.bias_blocks = nnx.List([AttentionBiasBlock(config, rngs=rngs) for _ in range(t.num_layers)])
        self.mha_blocks = nnx.List([MHABlock(config, rngs=rngs) for _ in range(t.num_layers)])
        self.mlp_blocks = nnx.List([MLPBlock(config, rngs=rngs) for _ in range(t.num_layers)])

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        pair = None
        for i, (bias_block, mha, mlp) in enumerate(
            zip(self.bias_blocks, self.mha_blocks, self.mlp_blocks, strict=True)
        ):
            if i % self.pair_update_every == 0:
                pair = self.pair_blocks[i // self.pair_update_every](x, pair)
            x = x + mha(x, bias_block(pair))
            x = x + mlp(x)
        return x, pair


class UpResBlock(nnx.Module):
    """Conv block, x2 repeat-upsampling, learned residual scale, U-Net skip through a pointwise block, conv block."""

    def __init__(self, in_features: int, out_features: int, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        k = config.decoder.conv_kernel
        self.conv_in = ConvBlock(in_features, out_features, k, rngs=rngs, **_kw(config))
        self.residual_scale = nnx.Param(jnp.ones((), config.precision.param))
        self.pointwise_conv_unet_skip = ConvBlock(out_features, out_features, 1, rngs=rngs, **_kw(config))
        self.conv_out = ConvBlock(out_features, out_features, k, rngs=rngs, **_kw(config))
        self.out_features = out_features
        self.upsample = config.encoder.pool

    def __call__(self, x: jax.Array, skip: jax.Array) -> jax.Array:
        out = self.conv_in(x) + x[:, :, : self.out_features]
        out = jnp.repeat(out, self.upsample, axis=1)
        out = out * self.residual_scale[...].astype(out.dtype)
        out = out + self.pointwise_conv_unet_skip(skip)
        return out + self.conv_out(out)


class SequenceDecoder(nnx.Module):
    """Up-blocks from the coarsest skip back to 1 bp."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        widths = config.encoder.widths
        ins = [widths[-1], *reversed(widths[1:])]
        outs = list(reversed(widths))
        self.up_blocks = nnx.List([UpResBlock(i, o, config, rngs=rngs) for i, o in zip(ins, outs, strict=True)])

    def __call__(self, x: jax.Array, skips: list[jax.Array]) -> jax.Array:
        for block, skip in zip(self.up_blocks, reversed(skips), strict=True):
            x = block(x, skip)
        return x


class OutputEmbedder(nnx.Module):
    """Linear (x2 width) [+ upsampled projection of a coarser embedding] -> RMS batch norm -> + organism -> GELU."""

    def __init__(self, in_features: int, skip_features: int | None, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        width = 2 * in_features
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.linear = Linear(in_features, width, rngs=rngs, **kw)
        self.skip_linear = (
            Linear(skip_features, width, use_bias=False, rngs=rngs, **kw) if skip_features is not None else None
        )
        self.norm = RMSBatchNorm(width, **_kw(config))
        self.embed = Embed(config.num_organisms, width, param_dtype=config.precision.param, rngs=rngs)

    def __call__(self, x: jax.Array, organism_index: jax.Array, skip: jax.Array | None = None) -> jax.Array:
        x = self.linear(x)
        if self.skip_linear is not None:
            skip = self.skip_linear(skip)
            x = x + jnp.repeat(skip, x.shape[1] // skip.shape[1], axis=1)
        x = self.norm(x)
        x = x + self.embed(organism_index, x.dtype)[:, None, :]
        return gelu(x)


class OutputPair(nnx.Module):
    """Symmetrised pair representation -> RMS layer norm -> + organism -> GELU."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        channels = config.transformer.pair_channels
        self.norm = LayerNorm(channels, rms_norm=True, param_dtype=config.precision.param)
        self.embed = Embed(config.num_organisms, channels, param_dtype=config.precision.param, rngs=rngs)

    def __call__(self, x: jax.Array, organism_index: jax.Array) -> jax.Array:
        x = (x + jnp.swapaxes(x, 1, 2)) / 2.0
        x = self.norm(x)
        x = x + self.embed(organism_index, x.dtype)[:, None, None, :]
        return gelu(x)


class AlphaGenome(nnx.Module):
    """The whole model. Heads are built for every head named in ``config.heads.track_counts``."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        self.config = config
        widths = config.encoder.widths
        self.encoder = SequenceEncoder(config, rngs=rngs)
        self.organism_embed = Embed(
            config.num_organisms, config.trunk_width, param_dtype=config.precision.param, rngs=rngs
        )
        self.tower = TransformerTower(config, rngs=rngs)
        self.decoder = SequenceDecoder(config, rngs=rngs)
        self.output_128bp = OutputEmbedder(config.trunk_width, None, config, rngs=rngs)
        self.output_1bp = OutputEmbedder(widths[0], config.embedding_128bp_width, config, rngs=rngs)
        self.output_pair = OutputPair(config, rngs=rngs)
        self.heads = nnx.Dict(
            {name: build_head(name, count, config, rngs=rngs) for name, count in config.heads.track_counts}
        )

    # ------------------------------------------------------------------------------------ trunk
    def embed(self, dna: jax.Array, organism_index: jax.Array, *, return_intermediates: bool = False) -> dict:
        """One-hot DNA [B, S, 4] -> ``embeddings_1bp``, ``embeddings_128bp``, ``embeddings_pair``."""
        dna = dna.astype(self.config.precision.compute)
        trunk, skips = self.encoder(dna)
        intermediates = {"encoder_output": trunk}
        trunk = trunk + self.organism_embed(organism_index, trunk.dtype)[:, None, :]
        trunk, pair = self.tower(trunk)
        intermediates["transformer_output"], intermediates["transformer_pair"] = trunk, pair
        x = self.decoder(trunk, skips)
        intermediates["decoder_output"] = x
        emb_128 = self.output_128bp(trunk, organism_index)
        out = {
            "embeddings_1bp": self.output_1bp(x, organism_index, emb_128),
            "embeddings_128bp": emb_128,
            "embeddings_pair": self.output_pair(pair, organism_index),
        }
        if return_intermediates:
            out["intermediate"] = intermediates
        return out

    # ------------------------------------------------------------------------------------ heads
    def predict_junctions(
        self,
        embeddings_1bp: jax.Array,
        positions: jax.Array,
        organism_index: jax.Array,
        track_indices: jax.Array | None = None,
    ) -> dict:
        """Junction head on given splice-site positions [B, 4, K] (donor+, acceptor+, donor-, acceptor-)."""
        if "splice_sites_junction" not in self.heads:
            msg = "this model has no splice_sites_junction head"
            raise ValueError(msg)
        return self.heads["splice_sites_junction"](
            {"embeddings_1bp": embeddings_1bp}, organism_index, track_indices, splice_site_positions=positions
        )

    def forward_heads(
        self,
        embeddings: dict,
        organism_index: jax.Array,
        *,
        heads: tuple[str, ...] | None = None,
        track_indices: dict[str, jax.Array] | None = None,
        splice_site_positions: jax.Array | None = None,
    ) -> dict:
        """Run the requested heads (all by default); ``track_indices`` selects tracks per head before the matmul."""
        names = tuple(self.heads) if heads is None else heads
        unknown = [n for n in names if n not in self.heads]
        if unknown:
            msg = f"unknown heads {unknown}; this model has {list(self.heads)}"
            raise ValueError(msg)
        track_indices = track_indices or {}
        predictions = {}
        for name in names:
            if name == "splice_sites_junction":
                continue
            predictions[name] = self.heads[name](embeddings, organism_index, track_indices.get(name))
        if "splice_sites_junction" in names:
            if splice_site_positions is None:
                if "splice_sites_classification" not in self.heads:
                    msg = "the junction head needs the splice_sites_classification head or given positions"
                    raise ValueError(msg)
                probs = predictions.get("splice_sites_classification", {}).get("predictions")
                if probs is None or "splice_sites_classification" in track_indices:
                    probs = self.heads["splice_sites_classification"](embeddings, organism_index)["predictions"]
                h = self.config.heads
                splice_site_positions = select_splice_sites(
                    probs, k=h.num_splice_sites, threshold=h.splice_site_threshold
                )
            predictions["splice_sites_junction"] = self.predict_junctions(
                embeddings["embeddings_1bp"],
                splice_site_positions,
                organism_index,
                track_indices.get("splice_sites_junction"),
            )
        return predictions

    def __call__(
        self,
        dna: jax.Array,
        organism_index: jax.Array,
        *,
        heads: tuple[str, ...] | None = None,
        track_indices: dict[str, jax.Array] | None = None,
        splice_site_positions: jax.Array | None = None,
        return_intermediates: bool = False,
    ) -> dict:
        """One-hot DNA [B, S, 4] and organism index [B] -> ``{head: {key: array}}`` plus ``embeddings``."""
        self.config.validate_length(dna.shape[1])
        with jax.default_matmul_precision(self.config.precision.matmul_precision):
            embeddings = self.embed(dna, organism_index, return_intermediates=return_intermediates)
            predictions = self.forward_heads(
                embeddings,
                organism_index,
                heads=heads,
                track_indices=track_indices,
                splice_site_positions=splice_site_positions,
            )
        intermediates = embeddings.pop("intermediate", None)
        predictions["embeddings"] = embeddings
        if return_intermediates:
            predictions["intermediate"] = intermediates
        return predictions


def count_params(model: AlphaGenome) -> dict[str, int]:
    """Parameter counts per part: encoder, tower (incl. organism embedding), decoder, output embeddings, heads."""

    def n(module) -> int:
        return sum(math.prod(x.shape) for x in jax.tree.leaves(nnx.state(module, nnx.Param)))

    counts = {
        "encoder": n(model.encoder),
        "tower": n(model.tower) + n(model.organism_embed),
        "decoder": n(model.decoder),
        "output_embeddings": n(model.output_128bp) + n(model.output_1bp) + n(model.output_pair),
        "heads": n(model.heads),
    }
    counts["total"] = sum(counts.values())
    return counts


def init_on_host(config: AlphaGenomeConfig, seed: int = 0) -> AlphaGenome:
    """A randomly initialised model whose values are drawn with numpy on the host.

    Same shapes and parameter roles as the module initialisers (fan-in scaled normal kernels, unit
    scales and variances, zero biases) but without compiling an XLA initialisation program, which on
    a small CPU takes minutes even for the tiny preset.
    """
    model = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(seed)))
    rng = np.random.default_rng(seed)
    values = {}
    for path, var in nnx.to_flat_state(nnx.state(model)):
        name, shape = str(path[-1]), tuple(var.shape)
        if name in ("scale", "learnt_scale", "residual_scale", "var_ema", "track_means"):
            value = np.ones(shape)
        elif name in ("b", "bias", "offset"):
            value = np.zeros(shape)
        elif name == "w":
            fan_in = shape[-2] if len(shape) == 3 and "heads" in path else math.prod(shape[:-1])
            value = rng.standard_normal(shape) / math.sqrt(fan_in)
        else:  # embeddings and relative-position biases
            value = rng.standard_normal(shape) * 0.5
        values[path] = jnp.asarray(value, var.dtype)
    nnx.update(model, nnx.from_flat_state(values))
    return model

"""Transformer-tower blocks: RoPE, multi-query attention with pair bias, MLP, and the pair representation.

The pair representation lives on a grid ``pair_pool`` times coarser than the 128 bp tokens. It is
built from 32-head query/key logits with relative-position terms (``SequenceToPairBlock``), refined
by row attention and an MLP (``PairUpdateBlock``), and turned into one attention bias per head
(``AttentionBiasBlock``). Softmax and attention logits are always float32.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.model.layers import LayerNorm, Linear, RMSBatchNorm, avg_pool

__all__ = [
    "AttentionBiasBlock",
    "MHABlock",
    "MLPBlock",
    "PairMLPBlock",
    "PairUpdateBlock",
    "RowAttentionBlock",
    "SequenceToPairBlock",
    "apply_rope",
]


def apply_rope(x: jax.Array, positions: jax.Array | None, max_position: int) -> jax.Array:
    """Rotary embedding of ``x`` [B, S, H, C] at ``positions`` [B, S] (default ``0..S-1``).

    Frequencies are ``1 / (i + geomspace(1, max_position - C/2 + 1))`` for ``i < C/2``; channel pairs
    (2i, 2i+1) are rotated together.
    """
    if positions is None:
        positions = jnp.arange(x.shape[1]).astype(x.dtype).reshape(1, x.shape[1])
    num_freq = x.shape[-1] // 2
    inv_freq = 1.0 / (jnp.arange(num_freq) + jnp.geomspace(1, max_position - num_freq + 1, num_freq)).astype(x.dtype)
    theta = jnp.einsum("bs,f->bsf", positions, inv_freq)
    theta = jnp.repeat(theta, 2, axis=-1)[..., None, :]
    rotated = jnp.stack([-x[..., 1::2], x[..., ::2]], axis=-1).reshape(x.shape)
    return x * jnp.cos(theta) + rotated * jnp.sin(theta)


class MLPBlock(nnx.Module):
    """Norm -> Linear (x ratio) -> ReLU -> Linear -> norm, as a residual update."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        width = config.trunk_width
        hidden = width * config.transformer.mlp_ratio
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.norm_in = RMSBatchNorm(width, decay=config.rms_norm_decay, **kw)
        self.linear_in = Linear(width, hidden, rngs=rngs, **kw)
        self.linear_out = Linear(hidden, width, rngs=rngs, **kw)
        self.norm_out = RMSBatchNorm(width, decay=config.rms_norm_decay, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        h = jax.nn.relu(self.linear_in(self.norm_in(x)))
        return self.norm_out(self.linear_out(h))


class MHABlock(nnx.Module):
    """Multi-query attention (``num_heads`` queries, one shared key and value) with pair bias and soft-capped logits."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        width = config.trunk_width
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.num_heads, self.key_size, self.value_size = t.num_heads, t.key_size, t.value_size
        self.rope_max_position = t.rope_max_position
        self.soft_cap = t.logits_soft_cap
        self.dtype = config.precision.compute
        self.norm_in = RMSBatchNorm(width, decay=config.rms_norm_decay, **kw)
        self.q_layer = Linear(width, t.num_heads * t.key_size, use_bias=False, rngs=rngs, **kw)
        self.k_layer = Linear(width, t.key_size, use_bias=False, rngs=rngs, **kw)
        self.v_layer = Linear(width, t.value_size, use_bias=False, rngs=rngs, **kw)
        self.norm_q = LayerNorm(t.key_size, param_dtype=config.precision.param)
        self.norm_k = LayerNorm(t.key_size, param_dtype=config.precision.param)
        self.norm_v = LayerNorm(t.value_size, param_dtype=config.precision.param)
        self.linear_embedding = Linear(t.num_heads * t.value_size, width, rngs=rngs, **kw)
        self.norm_out = RMSBatchNorm(width, decay=config.rms_norm_decay, **kw)

    def __call__(self, x: jax.Array, attention_bias: jax.Array) -> jax.Array:
        batch, length, _ = x.shape
        h = self.norm_in(x)
        q = self.norm_q(self.q_layer(h).reshape(batch, length, self.num_heads, self.key_size))
        k = self.norm_k(self.k_layer(h).reshape(batch, length, 1, self.key_size))
        v = self.norm_v(self.v_layer(h).reshape(batch, length, 1, self.value_size))
        q = apply_rope(q, None, self.rope_max_position)
        k = apply_rope(k, None, self.rope_max_position)
        logits = jnp.einsum("bshc,bSzc->bhsS", q, k, preferred_element_type=jnp.float32)
        logits = logits / math.sqrt(self.key_size)
        logits = (logits + attention_bias).astype(jnp.float32)
        logits = jnp.tanh(logits / self.soft_cap) * self.soft_cap
        weights = jax.nn.softmax(logits, axis=-1)
        if self.dtype != jnp.float32:
            # Matches the official bf16 x bf16 -> f32 dot on accelerators.
            weights = weights.astype(self.dtype)
        y = jnp.einsum("bhsS,bSzc->bshc", weights, v).astype(q.dtype)
        y = self.linear_embedding(y.reshape(batch, length, -1))
        return self.norm_out(y)


class AttentionBiasBlock(nnx.Module):
    """Pair representation -> RMS batch norm -> tanh-GELU -> one bias per head, upsampled to the token grid."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.norm = RMSBatchNorm(t.pair_channels, decay=config.rms_norm_decay, **kw)
        self.linear = Linear(t.pair_channels, t.num_heads, use_bias=False, w_scale=0.0, rngs=rngs, **kw)
        self.pair_pool = t.pair_pool

    def __call__(self, pair: jax.Array) -> jax.Array:
        x = self.linear(jax.nn.gelu(self.norm(pair)))
        for axis in (1, 2):
            x = jnp.repeat(x, self.pair_pool, axis=axis)
        return jnp.moveaxis(x, 3, 1)


class RowAttentionBlock(nnx.Module):
    """Single-head self-attention along the rows of the pair representation."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.norm = LayerNorm(t.pair_channels, rms_norm=True, param_dtype=config.precision.param)
        self.linear_k = Linear(t.pair_channels, t.row_attention_size, use_bias=False, rngs=rngs, **kw)
        self.linear_q = Linear(t.pair_channels, t.row_attention_size, use_bias=False, rngs=rngs, **kw)
        self.linear_v = Linear(t.pair_channels, t.pair_channels, w_scale=1e-3, rngs=rngs, **kw)
        self.size = t.row_attention_size
        self.dtype = config.precision.compute

    def __call__(self, pair: jax.Array) -> jax.Array:
        x = self.norm(pair)
        k, q, v = self.linear_k(x), self.linear_q(x), self.linear_v(x)
        logits = jnp.einsum("bpqf,bpkf->bpqk", q, k, preferred_element_type=jnp.float32) / math.sqrt(self.size)
        weights = jax.nn.softmax(logits, axis=-1)
        if self.dtype != jnp.float32:
            weights = weights.astype(self.dtype)
        return jnp.einsum("bpqk,bpkf->bpqf", weights, v).astype(q.dtype)


class PairMLPBlock(nnx.Module):
    """RMS layer norm -> Linear (x ratio) -> ReLU -> Linear on the pair representation."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        hidden = t.pair_channels * t.pair_mlp_ratio
        self.norm = LayerNorm(t.pair_channels, rms_norm=True, param_dtype=config.precision.param)
        self.linear_in = Linear(t.pair_channels, hidden, rngs=rngs, **kw)
        self.linear_out = Linear(hidden, t.pair_channels, w_scale=1e-3, rngs=rngs, **kw)

    def __call__(self, pair: jax.Array) -> jax.Array:
        return self.linear_out(jax.nn.relu(self.linear_in(self.norm(pair))))


def _central_mask_features(distances: jax.Array, feature_size: int, seq_length: int) -> jax.Array:
    """Indicator features ``width_i > distance`` for exponentially spaced widths."""
    if feature_size > seq_length:
        msg = f"feature_size={feature_size} must be <= seq_length={seq_length}"
        raise ValueError(msg)
    widths = jnp.arange(feature_size) + jnp.geomspace(1, seq_length - feature_size + 1, feature_size, endpoint=False)
    return (widths > distances[..., None]).astype(distances.dtype)


def _relative_shift(x: jax.Array, length: int) -> jax.Array:
    """Turn [..., q, 2L] logits against relative offsets ``-L..L-1`` into [..., q, k] logits (Transformer-XL shift)."""
    *lead, rows, diags = x.shape
    x = x.reshape(*lead, diags, rows)[..., 1:, :]
    return x.reshape(*lead, rows, diags - 1)[..., :length]


class SequenceToPairBlock(nnx.Module):
    """128 bp tokens -> pooled pair grid: multi-head q.k logits with relative positions, plus outer sums."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        t = config.transformer
        width = config.trunk_width
        kw = dict(dtype=config.precision.compute, param_dtype=config.precision.param)
        self.heads, self.size = t.seq2pair_heads, t.seq2pair_key_size
        self.pool = t.pair_pool
        self.num_pos_features = t.seq2pair_pos_features
        self.max_distance = t.rope_max_position // t.pair_pool
        self.dtype = config.precision.compute
        self.norm = LayerNorm(width, rms_norm=True, param_dtype=config.precision.param)
        self.linear_q = Linear(width, self.heads * self.size, use_bias=False, rngs=rngs, **kw)
        self.linear_k = Linear(width, self.heads * self.size, use_bias=False, rngs=rngs, **kw)
        self.linear_pos_features = Linear(2 * self.num_pos_features, self.heads * self.size, rngs=rngs, **kw)
        init = nnx.initializers.variance_scaling(2.0, "fan_in", "truncated_normal")
        self.q_r_bias = nnx.Param(init(rngs.params(), (self.heads, self.size), config.precision.param))
        self.k_r_bias = nnx.Param(init(rngs.params(), (self.heads, self.size), config.precision.param))
        self.linear_y_q = Linear(width, t.pair_channels, use_bias=False, rngs=rngs, **kw)
        self.linear_y_k = Linear(width, t.pair_channels, use_bias=False, rngs=rngs, **kw)
        self.linear_pair = Linear(self.heads, t.pair_channels, rngs=rngs, **kw)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = self.norm(avg_pool(x, self.pool))
        batch, length = x.shape[0], x.shape[1]
        q = self.linear_q(x).reshape(batch, length, self.heads, self.size)
        k = self.linear_k(x).reshape(batch, length, self.heads, self.size)

        relative = jnp.arange(-length, length).astype(jnp.float32)
        features = _central_mask_features(jnp.abs(relative), self.num_pos_features, self.max_distance)
        features = jnp.concatenate([features, jnp.sign(relative)[..., None] * features], axis=-1).astype(x.dtype)
        pos_encoding = self.linear_pos_features(features).reshape(2 * length, self.heads, self.size)

        q_bias = self.q_r_bias[...].astype(x.dtype)
        k_bias = self.k_r_bias[...].astype(x.dtype)
        rel_q = _relative_shift(jnp.einsum("bqhc,phc->bhqp", q + q_bias, pos_encoding), length)
        rel_k = _relative_shift(jnp.einsum("bkhc,phc->bhkp", k + k_bias, pos_encoding), length)

        logits = jnp.einsum("bqhc,bkhc->bqkh", q, k)
        logits = logits + 0.5 * (jnp.transpose(rel_q, (0, 2, 3, 1)) + jnp.transpose(rel_k, (0, 3, 2, 1)))

        y_q = self.linear_y_q(jax.nn.gelu(x))
        y_k = self.linear_y_k(jax.nn.gelu(x))
        return self.linear_pair(logits) + y_q[:, :, None, :] + y_k[:, None, :, :]


class PairUpdateBlock(nnx.Module):
    """Adds a fresh sequence-to-pair term to the pair representation, then row attention and MLP residuals."""

    def __init__(self, config: AlphaGenomeConfig, *, rngs: nnx.Rngs):
        self.sequence_to_pair = SequenceToPairBlock(config, rngs=rngs)
        self.row_attention = RowAttentionBlock(config, rngs=rngs)
        self.pair_mlp = PairMLPBlock(config, rngs=rngs)

    def __call__(self, x: jax.Array, pair: jax.Array | None) -> jax.Array:
        y = self.sequence_to_pair(x)
        pair = y if pair is None else pair + y
        pair = pair + self.row_attention(pair)
        return pair + self.pair_mlp(pair)

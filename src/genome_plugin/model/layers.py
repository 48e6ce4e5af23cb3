"""Basic AlphaGenome layers in Flax NNX: activations, RMS batch norm, layer norm, linear, convolutions, pooling.

Parameters live in ``param_dtype`` (float32) and are cast to the compute dtype where they are used;
normalisation statistics are computed in float32. The operation order follows the official Haiku
layers so that an fp32 run reproduces them to rounding.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

__all__ = [
    "Conv1D",
    "ConvBlock",
    "Embed",
    "LayerNorm",
    "Linear",
    "RMSBatchNorm",
    "StandardizedConv1D",
    "avg_pool",
    "gelu",
    "max_pool",
]

_EPS = 1e-5


def gelu(x: jax.Array) -> jax.Array:
    """The sigmoid GELU approximation used throughout AlphaGenome: ``sigmoid(1.702 x) * x``."""
    return jax.nn.sigmoid(jnp.asarray(1.702, x.dtype) * x) * x


def max_pool(x: jax.Array, by: int = 2) -> jax.Array:
    """Max-pool the sequence axis (-2) by ``by`` (length must be a multiple of ``by``)."""
    *lead, length, channels = x.shape
    return x.reshape(*lead, length // by, by, channels).max(axis=-2)


def avg_pool(x: jax.Array, by: int) -> jax.Array:
    """Average-pool the sequence axis (-2) by ``by``."""
    *lead, length, channels = x.shape
    return x.reshape(*lead, length // by, by, channels).mean(axis=-2)


class RMSBatchNorm(nnx.Module):
    """``x * scale / sqrt(var + eps) + offset`` with the variance taken over all axes but the last.

    Inference (``use_running_average=True``, the default) divides by the stored ``var_ema`` state;
    training uses the batch mean square and updates ``var_ema`` as an exponential moving average.
    ``model.train()`` / ``model.eval()`` switch the mode.
    """

    def __init__(
        self,
        features: int,
        *,
        decay: float = 0.9,
        epsilon: float = _EPS,
        use_running_average: bool = True,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
    ):
        self.scale = nnx.Param(jnp.ones((features,), param_dtype))
        self.offset = nnx.Param(jnp.zeros((features,), param_dtype))
        self.var_ema = nnx.BatchStat(jnp.ones((features,), jnp.float32))
        self.decay = decay
        self.epsilon = epsilon
        self.use_running_average = use_running_average
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        if self.use_running_average:
            var = self.var_ema[...]
        else:
            axes = tuple(range(x.ndim - 1))
            var = jax.lax.stop_gradient(jnp.mean(jnp.square(x), axis=axes, dtype=jnp.float32))
            self.var_ema[...] = self.decay * self.var_ema[...] + (1.0 - self.decay) * var
        dtype = x.dtype
        inv = self.scale[...].astype(dtype) * jax.lax.rsqrt(var + self.epsilon).astype(dtype)
        return x * inv + self.offset[...].astype(dtype)


class LayerNorm(nnx.Module):
    """Layer norm over the last axis; ``rms_norm=True`` skips the centring."""

    def __init__(self, features: int, *, rms_norm: bool = False, param_dtype: jnp.dtype = jnp.float32):
        self.scale = nnx.Param(jnp.ones((features,), param_dtype))
        self.offset = nnx.Param(jnp.zeros((features,), param_dtype))
        self.rms_norm = rms_norm

    def __call__(self, x: jax.Array) -> jax.Array:
        dtype = x.dtype
        if not self.rms_norm:
            x = x - jnp.mean(x, axis=-1, dtype=jnp.float32, keepdims=True).astype(dtype)
        variance = jnp.mean(jnp.square(x), axis=-1, dtype=jnp.float32, keepdims=True)
        inv = self.scale[...].astype(dtype) * jax.lax.rsqrt(variance + _EPS).astype(dtype)
        return inv * x + self.offset[...].astype(dtype)


class Linear(nnx.Module):
    """Dense layer with weight ``w`` [in, out] and optional bias ``b`` [out]."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        use_bias: bool = True,
        w_scale: float = 1.0,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        init = nnx.initializers.truncated_normal(stddev=w_scale / in_features**0.5)
        self.w = nnx.Param(init(rngs.params(), (in_features, out_features), param_dtype))
        self.b = nnx.Param(jnp.zeros((out_features,), param_dtype)) if use_bias else None
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jnp.matmul(x.astype(self.dtype), self.w[...].astype(self.dtype))
        if self.b is not None:
            y = y + self.b[...].astype(self.dtype)
        return y


class Embed(nnx.Module):
    """Lookup table ``embeddings`` [num, features] (the organism embeddings)."""

    def __init__(self, num: int, features: int, *, param_dtype: jnp.dtype = jnp.float32, rngs: nnx.Rngs):
        init = nnx.initializers.truncated_normal(stddev=1.0)
        self.embeddings = nnx.Param(init(rngs.params(), (num, features), param_dtype))

    def __call__(self, index: jax.Array, dtype: jnp.dtype) -> jax.Array:
        return self.embeddings[...][index].astype(dtype)


def _conv_same(x: jax.Array, w: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(
        x, w, window_strides=(1,), padding="SAME", dimension_numbers=("NWC", "WIO", "NWC")
    )


class Conv1D(nnx.Module):
    """Plain 1D convolution (SAME padding), weight ``w`` [width, in, out] and bias ``b``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int,
        *,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        init = nnx.initializers.truncated_normal(stddev=1.0 / (width * in_features) ** 0.5)
        self.w = nnx.Param(init(rngs.params(), (width, in_features, out_features), param_dtype))
        self.b = nnx.Param(jnp.zeros((out_features,), param_dtype))
        self.dtype = dtype

    def __call__(self, x: jax.Array) -> jax.Array:
        return _conv_same(x.astype(self.dtype), self.w[...].astype(self.dtype)) + self.b[...].astype(self.dtype)


class StandardizedConv1D(nnx.Module):
    """Conv1D with scaled weight standardisation: ``w`` is centred and scaled by ``scale / sqrt(fan_in var(w))``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int,
        *,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        init = nnx.initializers.truncated_normal(stddev=1.0 / (width * in_features) ** 0.5)
        self.w = nnx.Param(init(rngs.params(), (width, in_features, out_features), param_dtype))
        self.scale = nnx.Param(jnp.ones((out_features,), param_dtype))
        self.bias = nnx.Param(jnp.zeros((out_features,), param_dtype))
        self.dtype = dtype

    def standardized_kernel(self) -> jax.Array:
        # Standardisation runs in the parameter dtype (float32) before the cast to compute dtype.
        w = self.w[...]
        fan_in = w.shape[0] * w.shape[1]
        w = w - jnp.mean(w, axis=(0, 1), keepdims=True)
        var_w = jnp.var(w, axis=(0, 1), keepdims=True)
        scale = self.scale[...] * jax.lax.rsqrt(jnp.maximum(fan_in * var_w, 1e-4))
        return w * scale

    def __call__(self, x: jax.Array) -> jax.Array:
        out = _conv_same(x.astype(self.dtype), self.standardized_kernel().astype(self.dtype))
        return out + self.bias[...].astype(self.dtype)


class ConvBlock(nnx.Module):
    """RMS batch norm -> sigmoid GELU -> standardised conv (or Linear when ``width == 1``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        width: int,
        *,
        decay: float = 0.9,
        dtype: jnp.dtype = jnp.float32,
        param_dtype: jnp.dtype = jnp.float32,
        rngs: nnx.Rngs,
    ):
        self.norm = RMSBatchNorm(in_features, decay=decay, dtype=dtype, param_dtype=param_dtype)
        if width == 1:
            self.conv = Linear(in_features, out_features, dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        else:
            self.conv = StandardizedConv1D(
                in_features, out_features, width, dtype=dtype, param_dtype=param_dtype, rngs=rngs
            )

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.conv(gelu(self.norm(x)))

"""Convert official AlphaGenome weights (Haiku ``(params, state)`` in an Orbax checkpoint) into our Flax NNX model.

``official_leaf_map(config)`` names, for every official leaf (``module_path/name`` for params,
``state/module_path/name`` for the RMS-batch-norm variances), the leaf of our model that receives it.
The converter uses every official leaf exactly once, checks shapes, and names any leaf that is left
over or missing. Per-track ``nonzero_mean`` values come from the official track-metadata textprotos.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from genome_plugin.errors import InputError
from genome_plugin.model.config import HEAD_SPECS, AlphaGenomeConfig
from genome_plugin.model.heads import JUNCTION_SITE_NAMES
from genome_plugin.model.metadata import TrackMetadata, read_output_metadata
from genome_plugin.model.network import AlphaGenome

__all__ = [
    "config_from_metadata",
    "convert_official",
    "export_official",
    "load_official_leaves",
    "model_from_official",
    "official_leaf_map",
    "official_shape",
]

ROOT = "alphagenome"
_JUNCTION_SCOPES = {
    "pos_donor": "pos_donor_logits",
    "pos_acceptor": "pos_acceptor_logits",
    "neg_donor": "neg_donor_logits",
    "neg_acceptor": "neg_acceptor_logits",
}


def _hk(index: int) -> str:
    """Haiku's suffix for the ``index``-th module of the same name in one scope."""
    return "" if index == 0 else f"_{index}"


class _Layout:
    """Collects ``official path -> our state path`` pairs."""

    def __init__(self):
        self.pairs: dict[str, tuple] = {}

    def add(self, official: str, ours: tuple) -> None:
        if official in self.pairs:
            msg = f"internal error: official leaf {official} mapped twice"
            raise AssertionError(msg)
        self.pairs[official] = ours

    def linear(self, off: str, ours: tuple, *, bias: bool = True) -> None:
        self.add(f"{off}/w", (*ours, "w"))
        if bias:
            self.add(f"{off}/b", (*ours, "b"))

    def norm(self, off: str, ours: tuple, *, state: bool) -> None:
        self.add(f"{off}/scale", (*ours, "scale"))
        self.add(f"{off}/offset", (*ours, "offset"))
        if state:
            self.add(f"state/{off}/var_ema", (*ours, "var_ema"))

    def conv_block(self, off: str, ours: tuple, width: int) -> None:
        self.norm(f"{off}/rms_batch_norm", (*ours, "norm"), state=True)
        if width == 1:
            self.linear(f"{off}/linear", (*ours, "conv"))
        else:
            conv = f"{off}/standardized_conv1_d"
            for name in ("w", "scale", "bias"):
                self.add(f"{conv}/{name}", (*ours, "conv", name))


def official_leaf_map(config: AlphaGenomeConfig) -> dict[str, tuple]:
    """Every official leaf path for ``config`` -> the path of our NNX state leaf that receives it."""
    lay = _Layout()
    enc = f"{ROOT}/sequence_encoder"
    lay.linear(f"{enc}/dna_embedder/conv1_d", ("encoder", "dna_embedder", "conv"))
    lay.conv_block(
        f"{enc}/dna_embedder/conv_block", ("encoder", "dna_embedder", "conv_block"), config.encoder.conv_kernel
    )
    for i in range(config.encoder.num_down_blocks):
        for j, ours in enumerate(("conv_block1", "conv_block2")):
            lay.conv_block(
                f"{enc}/downres_block_{i}/conv_block{_hk(j)}",
                ("encoder", "down_blocks", i, ours),
                config.encoder.conv_kernel,
            )
    lay.add(f"{ROOT}/embed/embeddings", ("organism_embed", "embeddings"))

    tower = f"{ROOT}/transformer_tower"
    t = config.transformer
    for i in range(t.num_layers):
        ours = ("tower", "mha_blocks", i)
        mha = f"{tower}/mha_block{_hk(i)}"
        lay.norm(f"{mha}/rms_batch_norm", (*ours, "norm_in"), state=True)
        lay.norm(f"{mha}/rms_batch_norm_1", (*ours, "norm_out"), state=True)
        for name in ("q_layer", "k_layer", "v_layer"):
            lay.linear(f"{mha}/{name}", (*ours, name), bias=False)
        for name in ("norm_q", "norm_k", "norm_v"):
            lay.norm(f"{mha}/{name}", (*ours, name), state=False)
        lay.linear(f"{mha}/linear_embedding", (*ours, "linear_embedding"))

        ours = ("tower", "mlp_blocks", i)
        mlp = f"{tower}/mlp_block{_hk(i)}"
        lay.norm(f"{mlp}/rms_batch_norm", (*ours, "norm_in"), state=True)
        lay.norm(f"{mlp}/rms_batch_norm_1", (*ours, "norm_out"), state=True)
        lay.linear(f"{mlp}/linear", (*ours, "linear_in"))
        lay.linear(f"{mlp}/linear_1", (*ours, "linear_out"))

        ours = ("tower", "bias_blocks", i)
        bias = f"{tower}/attention_bias_block{_hk(i)}"
        lay.norm(f"{bias}/rms_batch_norm", (*ours, "norm"), state=True)
        lay.linear(f"{bias}/linear", (*ours, "linear"), bias=False)

    for i in range(t.num_pair_updates):
        pair = f"{tower}/pair_update_block{_hk(i)}"
        ours = ("tower", "pair_blocks", i)
        s2p, s2p_ours = f"{pair}/sequence_to_pair_block", (*ours, "sequence_to_pair")
        lay.norm(f"{s2p}/norm_seq2pair", (*s2p_ours, "norm"), state=False)
        for name in ("linear_q", "linear_k", "linear_y_q", "linear_y_k"):
            lay.linear(f"{s2p}/{name}", (*s2p_ours, name), bias=False)
        lay.linear(f"{s2p}/linear_pos_features", (*s2p_ours, "linear_pos_features"))
        lay.linear(f"{s2p}/linear_pair", (*s2p_ours, "linear_pair"))
        lay.add(f"{s2p}/q_r_bias", (*s2p_ours, "q_r_bias"))
        lay.add(f"{s2p}/k_r_bias", (*s2p_ours, "k_r_bias"))
        row, row_ours = f"{pair}/row_attention_block", (*ours, "row_attention")
        lay.norm(f"{row}/layer_norm", (*row_ours, "norm"), state=False)
        lay.linear(f"{row}/linear_q", (*row_ours, "linear_q"), bias=False)
        lay.linear(f"{row}/linear_k", (*row_ours, "linear_k"), bias=False)
        lay.linear(f"{row}/linear_v", (*row_ours, "linear_v"))
        mlp, mlp_ours = f"{pair}/pair_mlp_block", (*ours, "pair_mlp")
        lay.norm(f"{mlp}/layer_norm", (*mlp_ours, "norm"), state=False)
        lay.linear(f"{mlp}/linear", (*mlp_ours, "linear_in"))
        lay.linear(f"{mlp}/linear_1", (*mlp_ours, "linear_out"))

    dec = f"{ROOT}/sequence_decoder"
    for i in range(len(config.encoder.widths)):
        up, ours = f"{dec}/up_res_block{_hk(i)}", ("decoder", "up_blocks", i)
        lay.conv_block(f"{up}/conv_in", (*ours, "conv_in"), config.decoder.conv_kernel)
        lay.conv_block(f"{up}/pointwise_conv_unet_skip", (*ours, "pointwise_conv_unet_skip"), 1)
        lay.conv_block(f"{up}/conv_out", (*ours, "conv_out"), config.decoder.conv_kernel)
        lay.add(f"{up}/residual_scale", (*ours, "residual_scale"))

    for off, ours in ((f"{ROOT}/output_embedder", "output_128bp"), (f"{ROOT}/output_embedder_1", "output_1bp")):
        lay.linear(f"{off}/linear", (ours, "linear"))
        if ours == "output_1bp":
            lay.linear(f"{off}/linear_1", (ours, "skip_linear"), bias=False)
        lay.norm(f"{off}/rms_batch_norm", (ours, "norm"), state=True)
        lay.add(f"{off}/embed/embeddings", (ours, "embed", "embeddings"))
    lay.norm(f"{ROOT}/output_pair/layer_norm", ("output_pair", "norm"), state=False)
    lay.add(f"{ROOT}/output_pair/embed/embeddings", ("output_pair", "embed", "embeddings"))

    for name in config.heads.names:
        spec = HEAD_SPECS[name]
        off, ours = f"{ROOT}/head/{name}", ("heads", name)
        if spec.kind == "genome_tracks":
            for r in spec.resolutions:
                res = (*ours, f"resolution_{r}")
                lay.linear(f"{off}/resolution_{r}/multi_organism_linear", (*res, "linear"))
                lay.add(f"{off}/resolution_{r}/learnt_scale", (*res, "learnt_scale"))
        else:
            lay.linear(f"{off}/multi_organism_linear", (*ours, "linear"))
        if spec.kind == "splice_sites_junction":
            for site in JUNCTION_SITE_NAMES:
                lay.add(f"{off}/{_JUNCTION_SCOPES[site]}/embeddings", (*ours, f"{site}_embeddings"))
    return lay.pairs


# ------------------------------------------------------------------------------------------ reading
def _flatten_haiku(tree: Mapping, prefix: str, out: dict) -> None:
    for module, leaves in tree.items():
        if not isinstance(leaves, Mapping):
            kind = type(leaves).__name__
            msg = f"official checkpoint: expected Haiku {{module: {{name: array}}}}, got {kind} at {module}"
            raise InputError(msg)
        for name, value in leaves.items():
            out[f"{prefix}{module}/{name}"] = np.asarray(value)


def load_official_leaves(source) -> dict[str, np.ndarray]:
    """Official weights as ``{path: array}`` (params ``module/name``, state ``state/module/name``).

    ``source`` is an Orbax checkpoint directory holding Haiku ``(params, state)``, a ``(params, state)``
    pair of Haiku dicts, or an already flat ``{path: array}`` mapping.
    """
    if isinstance(source, (str, Path)):
        path = Path(source).resolve()
        if not path.exists():
            msg = f"{path}: official checkpoint directory does not exist"
            raise InputError(msg)
        import orbax.checkpoint as ocp

        try:
            restored = ocp.StandardCheckpointer().restore(path)
        except Exception as err:  # orbax raises many types; the message is what the user needs
            msg = f"{path}: cannot read an Orbax checkpoint ({type(err).__name__}: {err})"
            raise InputError(msg) from err
        source = restored
    if isinstance(source, Mapping) and all(isinstance(v, (np.ndarray, jax.Array)) for v in source.values()):
        return {str(k): np.asarray(v) for k, v in source.items()}
    if isinstance(source, Mapping) and set(source) in ({"params", "state"}, {"0", "1"}):
        params, state = (source["params"], source["state"]) if "params" in source else (source["0"], source["1"])
    elif isinstance(source, Sequence) and len(source) == 2:
        params, state = source
    else:
        msg = "official checkpoint: expected Haiku (params, state), got " + type(source).__name__
        raise InputError(msg)
    out: dict[str, np.ndarray] = {}
    _flatten_haiku(params, "", out)
    _flatten_haiku(state, "state/", out)
    return out


# -------------------------------------------------------------------------------------- conversion
def _as_metadata(item) -> TrackMetadata:
    return item if isinstance(item, TrackMetadata) else read_output_metadata(item)


def config_from_metadata(metadata: Sequence[TrackMetadata], base: AlphaGenomeConfig | None = None) -> AlphaGenomeConfig:
    """``base`` (default: full preset) with head widths and organisms taken from the track tables."""
    base = base or AlphaGenomeConfig.full()
    organisms = tuple(m.organism for m in metadata)
    counts = {}
    for head in HEAD_SPECS:
        present = [m.num_tracks(head) for m in metadata if head in m.tables]
        if not present:
            continue
        if len(present) != len(metadata):
            msg = f"track metadata: head {head} is present for some organisms only ({organisms})"
            raise InputError(msg)
        if head != "splice_sites_junction" and len(set(present)) > 1:
            widths = dict(zip(organisms, present, strict=True))
            msg = f"track metadata: head {head} has different widths per organism {widths}"
            raise InputError(msg)
        counts[head] = max(present)
    tissues = (
        tuple(m.num_tracks("splice_sites_junction") for m in metadata) if "splice_sites_junction" in counts else ()
    )
    return base.replace(organisms=organisms).with_track_counts(counts, junction_tissues_per_organism=tissues)


def _to_our_shape(official: str, value: np.ndarray, target_shape: tuple) -> np.ndarray:
    """Check an official leaf's shape and reshape it to ours."""
    expected = official_shape(official, target_shape)
    if tuple(value.shape) != expected:
        msg = f"official leaf {official} has shape {tuple(value.shape)}, expected {expected}"
        raise InputError(msg)
    return value.reshape(target_shape)


def model_from_official(
    leaves: Mapping[str, np.ndarray], config: AlphaGenomeConfig, metadata: Sequence[TrackMetadata] = ()
) -> AlphaGenome:
    """Build our model from flat official leaves; every leaf used exactly once, shapes checked."""
    layout = official_leaf_map(config)
    missing = sorted(set(layout) - set(leaves))
    leftover = sorted(set(leaves) - set(layout))
    if missing or leftover:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:5])})")
        if leftover:
            parts.append(f"{len(leftover)} left over (e.g. {', '.join(leftover[:5])})")
        msg = f"official checkpoint does not match the {config.name} config: " + "; ".join(parts)
        raise InputError(msg)

    abstract = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    flat = dict(nnx.to_flat_state(nnx.state(abstract)))
    values = {}
    for official, ours in layout.items():
        if ours not in flat:
            msg = f"internal error: {official} maps to {ours}, which the model does not have"
            raise AssertionError(msg)
        target = flat[ours]
        values[ours] = jnp.asarray(
            _to_our_shape(official, np.asarray(leaves[official]), tuple(target.shape)), target.dtype
        )

    for head in config.heads.names:
        if HEAD_SPECS[head].kind != "genome_tracks":
            continue
        path = ("heads", head, "track_means")
        if metadata:
            means = np.stack([m.track_means(head) for m in metadata]).astype(np.float32)
        else:
            means = np.ones(flat[path].shape, np.float32)
        if means.shape != tuple(flat[path].shape):
            msg = f"track metadata for {head}: nonzero_mean has shape {means.shape}, expected {tuple(flat[path].shape)}"
            raise InputError(msg)
        values[path] = jnp.asarray(means)

    unfilled = sorted("/".join(map(str, p)) for p in set(flat) - set(values))
    if unfilled:
        msg = f"internal error: model leaves not filled by the converter: {unfilled[:5]}"
        raise AssertionError(msg)
    nnx.update(abstract, nnx.from_flat_state(values))
    return abstract


def official_shape(official: str, our_shape: tuple) -> tuple:
    """Shape the official checkpoint gives the leaf ``official`` whose shape in our model is ``our_shape``."""
    module, name = official.rsplit("/", 1)
    if module.rsplit("/", 1)[-1].startswith("rms_batch_norm"):
        rank = 4 if "/attention_bias_block" in module else 3
        return (1,) * (rank - 1) + tuple(our_shape)
    if module.endswith("standardized_conv1_d") and name == "scale":
        return (1, 1, *our_shape)
    if name in ("q_r_bias", "k_r_bias"):
        return (1, 1, *our_shape)
    if module.endswith("_logits") and name == "embeddings":
        return (our_shape[0], math.prod(our_shape[1:]))
    return tuple(our_shape)


def export_official(model: AlphaGenome) -> dict[str, np.ndarray]:
    """Our model -> flat official leaves (the inverse of ``model_from_official``)."""
    flat = dict(nnx.to_flat_state(nnx.state(model)))
    out = {}
    for official, ours in official_leaf_map(model.config).items():
        value = np.asarray(flat[ours][...])
        out[official] = value.reshape(official_shape(official, value.shape))
    return out


def convert_official(
    checkpoint,
    metadata: Sequence,
    out_dir: str | Path,
    *,
    base_config: AlphaGenomeConfig | None = None,
    version: str = "official",
) -> Path:
    """Official checkpoint + track-metadata textprotos (one per organism, in organism-index order) -> our checkpoint.

    Returns the output directory, which holds the Orbax checkpoint and ``model_card.json``.
    """
    from genome_plugin.model.checkpoint import save_model

    tables = [_as_metadata(m) for m in metadata]
    if not tables:
        msg = "convert_official needs the track metadata of every organism (one textproto per organism)"
        raise InputError(msg)
    config = config_from_metadata(tables, base_config)
    model = model_from_official(load_official_leaves(checkpoint), config, tables)
    return save_model(model, out_dir, metadata=tables, version=version, source="converted from official AlphaGenome")

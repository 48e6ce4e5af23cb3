"""Configuration of the AlphaGenome architecture: every width, depth, kernel, pool and head setting.

Frozen dataclasses with presets. ``AlphaGenomeConfig.full()`` has the official widths (its trunk,
with three tracks per head, has exactly the 406,517,293 parameters of the official model used for
the parity fixture); ``small()`` and ``tiny()`` keep the same topology (7 halvings to 128 bp, pair
grid at 2,048 bp) with narrower layers so they run on a CPU.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import jax.numpy as jnp

__all__ = [
    "AlphaGenomeConfig",
    "DecoderConfig",
    "EncoderConfig",
    "HEAD_SPECS",
    "HeadSpec",
    "HeadsConfig",
    "OFFICIAL_TRACK_COUNTS",
    "PrecisionConfig",
    "TransformerConfig",
]


@dataclass(frozen=True)
class HeadSpec:
    """Fixed properties of one official head (these do not change between presets)."""

    name: str
    kind: str  # genome_tracks | contact_maps | splice_sites_classification | splice_sites_usage | splice_sites_junction
    output_type: str  # genome_plugin.tracks.OutputType member name
    resolutions: tuple[int, ...] = ()
    apply_squashing: bool = False


# Official head table, in the official head order.
HEAD_SPECS: dict[str, HeadSpec] = {
    spec.name: spec
    for spec in (
        HeadSpec("atac", "genome_tracks", "ATAC", (1, 128)),
        HeadSpec("dnase", "genome_tracks", "DNASE", (1, 128)),
        HeadSpec("procap", "genome_tracks", "PROCAP", (1, 128)),
        HeadSpec("cage", "genome_tracks", "CAGE", (1, 128)),
        HeadSpec("rna_seq", "genome_tracks", "RNA_SEQ", (1, 128), apply_squashing=True),
        HeadSpec("chip_tf", "genome_tracks", "CHIP_TF", (128,)),
        HeadSpec("chip_histone", "genome_tracks", "CHIP_HISTONE", (128,)),
        HeadSpec("contact_maps", "contact_maps", "CONTACT_MAPS"),
        HeadSpec("splice_sites_classification", "splice_sites_classification", "SPLICE_SITES", (1,)),
        HeadSpec("splice_sites_usage", "splice_sites_usage", "SPLICE_SITE_USAGE", (1,)),
        HeadSpec("splice_sites_junction", "splice_sites_junction", "SPLICE_JUNCTIONS"),
    )
}

# Head widths of the released model (human and mouse padded to the same width). For the junction
# head the number is tissues; the head has two channels (strands) per tissue.
OFFICIAL_TRACK_COUNTS: dict[str, int] = {
    "atac": 256,
    "dnase": 384,
    "procap": 128,
    "cage": 640,
    "rna_seq": 768,
    "chip_tf": 1664,
    "chip_histone": 1152,
    "contact_maps": 28,
    "splice_sites_classification": 5,
    "splice_sites_usage": 734,
    "splice_sites_junction": 367,
}


@dataclass(frozen=True)
class EncoderConfig:
    """DNA embedder plus down-blocks. ``widths[0]`` is the embedder width, then one per down-block."""

    widths: tuple[int, ...] = (768, 896, 1024, 1152, 1280, 1408, 1536)
    dna_kernel: int = 15
    conv_kernel: int = 5
    pool: int = 2

    @property
    def num_down_blocks(self) -> int:
        return len(self.widths) - 1

    @property
    def resolution(self) -> int:
        """Bin size (bp) of the encoder output: one pooling after the embedder and after each down-block."""
        return self.pool ** len(self.widths)


@dataclass(frozen=True)
class TransformerConfig:
    """Transformer tower with the pair representation."""

    num_layers: int = 9
    pair_update_every: int = 2
    num_heads: int = 8
    key_size: int = 128
    value_size: int = 192
    mlp_ratio: int = 2
    rope_max_position: int = 8192
    logits_soft_cap: float = 5.0
    pair_pool: int = 16
    pair_channels: int = 128
    seq2pair_heads: int = 32
    seq2pair_key_size: int = 128
    seq2pair_pos_features: int = 32
    row_attention_size: int = 128
    pair_mlp_ratio: int = 2

    @property
    def num_pair_updates(self) -> int:
        return len(range(0, self.num_layers, self.pair_update_every))


@dataclass(frozen=True)
class DecoderConfig:
    """Up-blocks mirror the encoder; only the kernel is free."""

    conv_kernel: int = 5


@dataclass(frozen=True)
class HeadsConfig:
    """Head widths (tracks per head, padded; tissues for junctions) and junction-head settings."""

    track_counts: tuple[tuple[str, int], ...] = tuple(OFFICIAL_TRACK_COUNTS.items())
    # Tissues actually present per organism for the junction head (the rest are masked to 0).
    junction_tissues_per_organism: tuple[int, ...] = (367, 367)
    junction_hidden: int = 768
    junction_rope_max_position: int = 2**20
    num_splice_sites: int = 512
    splice_site_threshold: float = 0.1
    soft_clip_value: float = 10.0

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.track_counts)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.track_counts)


@dataclass(frozen=True)
class PrecisionConfig:
    """Parameters are stored in ``param_dtype``; activations and matmuls run in ``compute_dtype``.

    Softmax, normalisation statistics and attention logits always run in float32.
    """

    param_dtype: str = "float32"
    compute_dtype: str = "float32"
    # "highest" forces true fp32 matmuls on GPU/TPU (no TF32 / bf16 passes): the parity mode.
    matmul_precision: str = "default"

    @property
    def compute(self) -> jnp.dtype:
        return jnp.dtype(self.compute_dtype)

    @property
    def param(self) -> jnp.dtype:
        return jnp.dtype(self.param_dtype)


@dataclass(frozen=True)
class AlphaGenomeConfig:
    """Whole-model configuration."""

    name: str = "full"
    organisms: tuple[str, ...] = ("human", "mouse")
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    rms_norm_decay: float = 0.9
    norm_epsilon: float = 1e-5

    @property
    def num_organisms(self) -> int:
        return len(self.organisms)

    @property
    def trunk_width(self) -> int:
        return self.encoder.widths[-1]

    @property
    def embedding_128bp_width(self) -> int:
        return 2 * self.trunk_width

    @property
    def embedding_1bp_width(self) -> int:
        return 2 * self.encoder.widths[0]

    @property
    def sequence_multiple(self) -> int:
        """Input lengths must be multiples of this (128 bp tokens pooled x16 for the pair grid)."""
        return self.encoder.resolution * self.transformer.pair_pool

    @property
    def pair_resolution(self) -> int:
        return self.sequence_multiple

    def validate_length(self, length: int) -> None:
        """Raise ``ValueError`` when the model cannot take a sequence of ``length`` bp."""
        multiple = self.sequence_multiple
        if length <= 0 or length % multiple:
            msg = f"sequence length {length} is not a positive multiple of {multiple} bp for preset {self.name!r}"
            raise ValueError(msg)
        if length < self.heads.num_splice_sites:
            msg = f"sequence length {length} is shorter than num_splice_sites={self.heads.num_splice_sites}"
            raise ValueError(msg)

    def replace(self, **changes) -> AlphaGenomeConfig:
        return dataclasses.replace(self, **changes)

    def with_track_counts(
        self, counts: dict[str, int], *, junction_tissues_per_organism: tuple[int, ...]
    ) -> AlphaGenomeConfig:
        """Same trunk with other head widths (e.g. taken from a track-metadata table)."""
        unknown = set(counts) - set(HEAD_SPECS)
        if unknown:
            msg = f"unknown head names {sorted(unknown)}; known: {sorted(HEAD_SPECS)}"
            raise ValueError(msg)
        ordered = tuple((name, int(counts[name])) for name in HEAD_SPECS if name in counts)
        heads = dataclasses.replace(
            self.heads, track_counts=ordered, junction_tissues_per_organism=tuple(junction_tissues_per_organism)
        )
        return dataclasses.replace(self, heads=heads)

    def with_compute_dtype(self, dtype: str) -> AlphaGenomeConfig:
        return dataclasses.replace(
            self, precision=dataclasses.replace(self.precision, compute_dtype=str(jnp.dtype(dtype)))
        )

    def with_parity_precision(self) -> AlphaGenomeConfig:
        """All-fp32 mode that reproduces the official fp32 outputs: fp32 compute and 'highest' matmul precision."""
        precision = dataclasses.replace(self.precision, compute_dtype="float32", matmul_precision="highest")
        return dataclasses.replace(self, precision=precision)

    # ----------------------------------------------------------------------------------- presets
    @classmethod
    def full(cls) -> AlphaGenomeConfig:
        """The official architecture with the released head widths."""
        return cls()

    @classmethod
    def small(cls) -> AlphaGenomeConfig:
        """Same topology at about a tenth of the width: a few seconds per 16 kb on a CPU."""
        return cls(
            name="small",
            encoder=EncoderConfig(widths=(192, 224, 256, 288, 320, 352, 384)),
            transformer=TransformerConfig(
                num_layers=5,
                num_heads=4,
                key_size=64,
                value_size=96,
                pair_channels=64,
                seq2pair_heads=8,
                seq2pair_key_size=32,
                row_attention_size=64,
            ),
            heads=HeadsConfig(
                track_counts=tuple((name, min(count, 16)) for name, count in OFFICIAL_TRACK_COUNTS.items()),
                junction_tissues_per_organism=(8, 8),
                junction_hidden=128,
                num_splice_sites=128,
            ),
        )

    @classmethod
    def tiny(cls) -> AlphaGenomeConfig:
        """Seconds on a CPU: for tests and teaching."""
        return cls(
            name="tiny",
            encoder=EncoderConfig(widths=(16, 24, 32, 40, 48, 56, 64), dna_kernel=7, conv_kernel=3),
            decoder=DecoderConfig(conv_kernel=3),
            transformer=TransformerConfig(
                num_layers=3,
                num_heads=2,
                key_size=16,
                value_size=24,
                pair_channels=16,
                seq2pair_heads=4,
                seq2pair_key_size=8,
                seq2pair_pos_features=8,
                row_attention_size=16,
            ),
            heads=HeadsConfig(
                track_counts=(
                    ("atac", 3),
                    ("dnase", 3),
                    ("procap", 2),
                    ("cage", 4),
                    ("rna_seq", 4),
                    ("chip_tf", 3),
                    ("chip_histone", 3),
                    ("contact_maps", 2),
                    ("splice_sites_classification", 5),
                    ("splice_sites_usage", 3),
                    ("splice_sites_junction", 2),
                ),
                junction_tissues_per_organism=(2, 1),
                junction_hidden=16,
                num_splice_sites=16,
            ),
        )

    @classmethod
    def preset(cls, name: str) -> AlphaGenomeConfig:
        presets = {"tiny": cls.tiny, "small": cls.small, "full": cls.full}
        if name not in presets:
            msg = f"unknown AlphaGenome preset {name!r}; choose one of {sorted(presets)}"
            raise ValueError(msg)
        return presets[name]()

    # ------------------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> AlphaGenomeConfig:
        heads = dict(data["heads"])
        heads["track_counts"] = tuple((str(n), int(c)) for n, c in heads["track_counts"])
        heads["junction_tissues_per_organism"] = tuple(heads["junction_tissues_per_organism"])
        encoder = dict(data["encoder"])
        encoder["widths"] = tuple(encoder["widths"])
        return cls(
            name=data["name"],
            organisms=tuple(data["organisms"]),
            encoder=EncoderConfig(**encoder),
            transformer=TransformerConfig(**data["transformer"]),
            decoder=DecoderConfig(**data["decoder"]),
            heads=HeadsConfig(**heads),
            precision=PrecisionConfig(**data["precision"]),
            rms_norm_decay=data["rms_norm_decay"],
            norm_epsilon=data["norm_epsilon"],
        )

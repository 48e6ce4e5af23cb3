"""``AlphaGenomeModel``: the AlphaGenome network behind the :class:`genome_plugin.models.SequenceModel` contract.

Track tables expose only real tracks (padding rows of the official heads are hidden); requested
track indices refer to those tables and are mapped to head channels, then applied to the head
weights inside the compiled function, so unrequested tracks are neither computed nor copied to the
host. One compiled function is cached per (heads, selection sizes, batch, length).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from flax import nnx

from genome_plugin.model.config import HEAD_SPECS, AlphaGenomeConfig
from genome_plugin.model.heads import select_splice_sites
from genome_plugin.model.network import AlphaGenome, init_on_host
from genome_plugin.models import Predictions, SequenceModel
from genome_plugin.tracks import OutputType, TrackTable

__all__ = ["OFFICIAL_INPUT_LENGTHS", "AlphaGenomeModel", "align_alt_1bp", "junction_track_table"]

OFFICIAL_INPUT_LENGTHS = (16_384, 131_072, 524_288, 1_048_576)
#: Preferred windows of presets (bp) other than the smallest official length.
_PREFERRED_LENGTHS = {"full": 1_048_576}
_HEAD_FOR_TYPE = {OutputType[spec.output_type]: name for name, spec in HEAD_SPECS.items()}


def junction_track_table(tissues: pd.DataFrame) -> pd.DataFrame:
    """Junction-head channels: every tissue on the + strand, then every tissue on the - strand."""
    plus, minus = tissues.copy(), tissues.copy()
    plus["strand"], minus["strand"] = "+", "-"
    return pd.concat([plus, minus], ignore_index=True)


def align_alt_1bp(alt: jax.Array, ref: jax.Array, *, offset: int, ref_length: int, alt_length: int) -> jax.Array:
    """ALT values ``[B, S, C]`` of an indel put back into REF coordinates at 1 bp, on the device.

    The 1 bp case of :func:`genome_plugin.scoring.align.align_alternate` (the same rules: an insertion's
    bases collapse onto the anchor by max, the tail it pushed out takes REF's values; a deletion's bases
    are 0), as a gather, so the junction path can align embeddings too large for the host, as the SDK
    aligns ALT's trunk embeddings and splice-site probabilities. ``offset`` is the variant's start in
    the window.
    """
    delta = alt_length - ref_length
    if delta == 0:
        return alt
    length = alt.shape[1]
    shared = min(ref_length, alt_length)
    index = np.arange(length)
    if delta > 0:
        anchor = offset + shared - 1
        tail = index >= length - delta
        source = np.where(tail, index, np.where(index > anchor, index + delta, index))
        out = jnp.take(alt, jnp.asarray(source), axis=1)
        out = jnp.where(jnp.asarray(tail)[None, :, None], ref, out)
        if 0 <= anchor < length:
            out = out.at[:, anchor].set(alt[:, anchor: min(anchor + delta, length - 1) + 1].max(axis=1))
        return out
    removed = (index >= offset + shared) & (index < offset + ref_length)
    source = np.where(index >= offset + ref_length, index + delta, index)
    out = jnp.take(alt, jnp.asarray(source), axis=1)
    return jnp.where(jnp.asarray(removed)[None, :, None], jnp.zeros((), alt.dtype), out)


def _default_tables(config: AlphaGenomeConfig) -> dict[str, dict[str, pd.DataFrame]]:
    """Placeholder track names for a model without track metadata (e.g. a freshly initialised preset)."""
    tables = {}
    for organism in config.organisms:
        heads = {}
        for name, count in config.heads.track_counts:
            if name == "splice_sites_classification" and count == 5:
                heads[name] = pd.DataFrame(
                    {"name": ["donor", "acceptor", "donor", "acceptor", "Padding"], "strand": ["+", "+", "-", "-", "."]}
                )
            else:
                heads[name] = pd.DataFrame({"name": [f"{name}_{i}" for i in range(count)], "strand": "."})
        tables[organism] = heads
    return tables


class AlphaGenomeModel(SequenceModel):
    """An :class:`AlphaGenome` network with its track tables, as a :class:`SequenceModel`."""

    name = "alphagenome"
    version = "0"

    def __init__(
        self,
        model: AlphaGenome,
        *,
        tables: Mapping[str, Mapping[str, pd.DataFrame]] | None = None,
        card: Mapping[str, Any] | None = None,
        name: str | None = None,
        version: str | None = None,
        input_lengths: tuple[int, ...] | None = OFFICIAL_INPUT_LENGTHS,
    ):
        self.model = model
        self.config = model.config
        self.organisms = tuple(self.config.organisms)
        self._card = dict(card or {})
        self.name = name or self._card.get("name", f"alphagenome-{self.config.name}")
        self.version = version or str(self._card.get("version", "0"))
        self._input_lengths = input_lengths
        raw = tables or _default_tables(self.config)
        self._tables: dict[tuple[str, str], TrackTable] = {}
        self._channels: dict[tuple[str, str], np.ndarray] = {}
        for organism in self.organisms:
            for head in self.config.heads.names:
                if organism not in raw or head not in raw[organism]:
                    msg = f"model {self.name}: no track table for head {head} and organism {organism}"
                    raise ValueError(msg)
                df = pd.DataFrame(raw[organism][head])
                if head == "splice_sites_junction":
                    df = junction_track_table(df)
                real = np.flatnonzero(df["name"].astype(str).to_numpy() != "Padding")
                self._channels[(organism, head)] = real
                self._tables[(organism, head)] = TrackTable(
                    df.iloc[real].reset_index(drop=True), source=f"{self.name} {head} ({organism})"
                )
        self._compiled = nnx.jit(self._forward, static_argnames=("heads", "wanted"))
        self._compiled_embed = nnx.jit(self._junction_embed)
        self._compiled_counts = nnx.jit(self._junction_counts)

    # ------------------------------------------------------------------------------- constructors
    @classmethod
    def from_checkpoint(cls, model_dir: str | Path, *, compute_dtype: str | None = None, **kwargs) -> AlphaGenomeModel:
        """Load a directory written by :func:`genome_plugin.model.checkpoint.save_model` (e.g. a converted one)."""
        from genome_plugin.model.checkpoint import load_model, read_card

        card = read_card(model_dir)
        model = load_model(model_dir, compute_dtype=compute_dtype)
        tables = {org: {h: pd.DataFrame(rows) for h, rows in heads.items()} for org, heads in card["tracks"].items()}
        return cls(model, tables=tables or None, card=card, **kwargs)

    @classmethod
    def random(cls, preset: str = "tiny", *, seed: int = 0, **kwargs) -> AlphaGenomeModel:
        """A randomly initialised preset (no trained weights): for tests, teaching and benchmarks."""
        config = AlphaGenomeConfig.preset(preset)
        model = init_on_host(config, seed)
        card = {"name": f"alphagenome-{preset}-random", "licence": "Apache-2.0", "weights": "random initialisation",
                "random_weights": True}
        return cls(model, card=card, **kwargs)

    # ---------------------------------------------------------------------------------- contract
    def output_types(self) -> tuple[OutputType, ...]:
        return tuple(OutputType[HEAD_SPECS[h].output_type] for h in self.config.heads.names)

    def _head(self, output_type: OutputType) -> str:
        head = _HEAD_FOR_TYPE.get(OutputType.parse(output_type))
        if head is None or head not in self.config.heads.names:
            msg = f"model {self.name} does not predict {OutputType.parse(output_type).value}"
            raise ValueError(msg)
        return head

    def _organism(self, organism: str) -> int:
        if organism not in self.organisms:
            msg = f"model {self.name} has no organism {organism!r}; choose from {', '.join(self.organisms)}"
            raise ValueError(msg)
        return self.organisms.index(organism)

    def tracks(self, output_type: OutputType, organism: str = "human") -> TrackTable:
        self._organism(organism)
        return self._tables[(organism, self._head(output_type))]

    def resolutions(self, output_type: OutputType) -> tuple[int, ...]:
        spec = HEAD_SPECS[self._head(output_type)]
        if spec.kind == "contact_maps":
            return (self.config.pair_resolution,)
        if spec.kind == "splice_sites_junction":
            return (1,)
        return tuple(spec.resolutions)

    def input_lengths(self) -> tuple[int, ...] | None:
        return self._input_lengths

    def valid_length(self, length: int) -> int:
        if self._input_lengths is not None:
            return super().valid_length(length)
        multiple = self.config.sequence_multiple
        return max(-(-length // multiple) * multiple, multiple)

    def preferred_length(self) -> int:
        """The full preset's 1 Mb training context; smaller presets the smallest official length (16 kb).

        A card may state its own ``preferred_length`` (a checkpoint trained at another length).
        """
        stated = self._card.get("preferred_length")
        if stated:
            return self.valid_length(int(stated))
        return self.valid_length(_PREFERRED_LENGTHS.get(self.config.name, min(OFFICIAL_INPUT_LENGTHS)))

    def host_memory_bytes(self, length: int, batch: int = 1) -> int | None:
        """Rough and deliberately high: attention logits dominate at long windows.

        Per window: (length / 128)^2 tokens^2 x heads x 4 bytes x 16 (logits, softmax and the buffers
        XLA keeps) plus length x first encoder width x 32 bytes, and 1 GiB for the process and weights.
        Calibrated on the tiny preset (0.7 GiB peak at 16 kb and 0.8 GiB at 131 kb measured; a
        1 Mb REF+ALT batch was killed above 14.9 GB, which this puts at 19 GB).
        """
        tokens = length // self.config.encoder.resolution
        attention = tokens**2 * self.config.transformer.num_heads * 4 * 16
        per_window = attention + length * self.config.encoder.widths[0] * 32
        return batch * per_window + 2**30

    def card(self) -> dict[str, Any]:
        card = {k: v for k, v in self._card.items() if k not in ("tracks", "config")}
        card.update(name=self.name, version=self.version, family="alphagenome", preset=self.config.name)
        return card

    # -------------------------------------------------------------------------------- prediction
    def _forward(self, model, onehot, organism_index, track_indices, heads, wanted):
        out = model(onehot, organism_index, heads=heads, track_indices=track_indices)
        # Outputs stay in the compute dtype on the device; the host copy is widened to float32.
        return tuple(out[head][field] for _, (head, field) in wanted)

    def predict(
        self,
        onehot: np.ndarray,
        *,
        organism: str = "human",
        requests: Mapping[OutputType, np.ndarray | None] | None = None,
    ) -> Predictions:
        onehot = np.asarray(onehot, np.float32)
        if onehot.ndim != 3 or onehot.shape[-1] != 4:
            msg = f"model {self.name}: expected one-hot input of shape (batch, length, 4), got {onehot.shape}"
            raise ValueError(msg)
        self.config.validate_length(onehot.shape[1])
        org = self._organism(organism)
        requests = dict(requests) if requests is not None else {ot: None for ot in self.output_types()}
        heads, track_indices, wanted = [], {}, []
        for output_type, indices in requests.items():
            output_type = OutputType.parse(output_type)
            head = self._head(output_type)
            channels = self._channels[(organism, head)]
            if indices is not None:
                indices = np.asarray(indices, dtype=np.int64)
                if indices.ndim != 1 or (len(indices) and (indices.min() < 0 or indices.max() >= len(channels))):
                    msg = f"model {self.name}: track indices for {output_type.value} must be in 0..{len(channels) - 1}"
                    raise ValueError(msg)
                channels = channels[indices]
            heads.append(head)
            if len(channels) != self.config.heads.counts[head] or np.any(channels != np.arange(len(channels))):
                track_indices[head] = jnp.asarray(channels, jnp.int32)
            spec = HEAD_SPECS[head]
            if spec.kind == "genome_tracks":
                wanted += [((output_type, r), (head, f"predictions_{r}bp")) for r in spec.resolutions]
            elif spec.kind == "contact_maps":
                wanted.append(((output_type, self.config.pair_resolution), (head, "predictions")))
            else:
                wanted.append(((output_type, 1), (head, "predictions")))
        organism_index = jnp.full((onehot.shape[0],), org, jnp.int32)
        out = self._compiled(
            self.model, jnp.asarray(onehot), organism_index, track_indices, heads=tuple(heads), wanted=tuple(wanted)
        )
        host = jax.device_get(out)
        return {key: np.asarray(value, np.float32) for (key, _), value in zip(wanted, host, strict=True)}

    def predict_junctions(
        self, onehot: np.ndarray, *, organism: str = "human", tracks: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Junction counts ``(B, K, K, T)`` and the splice sites they join ``(B, 4, K)``.

        Sites are sequence positions (-1 = none) for donor+, acceptor+, donor-, acceptor-; channel
        ``t`` of tissue-strand track ``t`` joins donor ``[:, 0 or 2]`` (rows) to acceptor ``[:, 1 or 3]``
        (columns) on its strand. ``tracks`` indexes :meth:`tracks` of ``SPLICE_JUNCTIONS``.
        """
        onehot = np.asarray(onehot, np.float32)
        self.config.validate_length(onehot.shape[1])
        head = self._head(OutputType.SPLICE_JUNCTIONS)
        org = self._organism(organism)
        channels = self._channels[(organism, head)]
        if tracks is not None:
            channels = channels[np.asarray(tracks, dtype=np.int64)]
        wanted = (("counts", (head, "predictions")), ("sites", (head, "splice_site_positions")))
        counts, sites = self._compiled(
            self.model,
            jnp.asarray(onehot),
            jnp.full((onehot.shape[0],), org, jnp.int32),
            {head: jnp.asarray(channels, jnp.int32)},
            heads=(head,),
            wanted=wanted,
        )
        return np.asarray(counts, np.float32), np.asarray(sites, np.int32)

    def _junction_embed(self, model, onehot, organism_index):
        """1 bp embeddings and splice-site probabilities [1, S, 5] of one window."""
        with jax.default_matmul_precision(self.config.precision.matmul_precision):
            embeddings = model.embed(onehot, organism_index)
            probs = model.heads["splice_sites_classification"](embeddings, organism_index)["predictions"]
        return embeddings["embeddings_1bp"], probs

    def _junction_counts(self, model, embeddings_1bp, sites, organism_index, channels):
        """Junction counts [1, K, K, T] at ``sites`` [1, 4, K]."""
        with jax.default_matmul_precision(self.config.precision.matmul_precision):
            return model.predict_junctions(embeddings_1bp, sites, organism_index, channels)["predictions"]

    def junction_sites(
        self,
        ref_probs: np.ndarray,
        alt_probs: np.ndarray,
        *,
        site_mask: np.ndarray | None = None,
        annotated_sites: np.ndarray | None = None,
    ) -> np.ndarray:
        """Splice sites [4, K] (donor+, acceptor+, donor-, acceptor-; ascending, -1 padded) for a REF/ALT pair.

        As in the SDK's variant scoring: per position and class the larger of the REF and ALT
        probabilities (``(S, 4)`` or ``(S, 5)``), raised to 1 at ``annotated_sites`` (``(S, 4)``),
        zeroed outside ``site_mask`` (``(S,)``); then the top ``num_splice_sites`` positions per class
        at or above the threshold, in position order.
        """
        heads = self.config.heads
        probs = np.maximum(np.asarray(ref_probs, np.float32)[..., :4], np.asarray(alt_probs, np.float32)[..., :4])
        if annotated_sites is not None:
            probs = np.maximum(probs, np.asarray(annotated_sites, np.float32)[..., :4])
        if site_mask is not None:
            probs = probs * np.asarray(site_mask, np.float32)[:, None]
        sites = select_splice_sites(jnp.asarray(probs)[None], k=heads.num_splice_sites,
                                    threshold=heads.splice_site_threshold)
        return np.asarray(jax.device_get(sites[0]), np.int64)

    def junctions(
        self,
        ref_onehot: np.ndarray,
        alt_onehot: np.ndarray,
        *,
        organism: str = "human",
        site_mask: np.ndarray | None = None,
        annotated_sites: np.ndarray | None = None,
        indel: tuple[int, int, int] | None = None,
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Junctions between the splice sites chosen on REF and ALT together, with REF and ALT counts there.

        The contract of :mod:`genome_plugin.scoring.junction`. Sites are chosen as the SDK does (see
        :meth:`junction_sites`): from the element-wise max of the REF and ALT splice-site
        probabilities, plus ``annotated_sites`` (``(S, 4)``: donor+, acceptor+, donor-, acceptor-),
        within ``site_mask`` (``(S,)``, the SDK's bodies of the genes overlapping the variant), so a site
        that only ALT creates is scored; both alleles' counts are read at those sites. For an indel,
        ``indel`` = (the variant's start in the window, len(REF), len(ALT)): ALT's probabilities and
        embeddings are first put back into REF coordinates (:func:`align_alt_1bp`), as the SDK does.

        ``table`` has one row per junction, in the SDK's order (+ strand donor-major, then - strand):
        ``start``, ``end`` (window offsets as the SDK gives them: ``start`` = donor + 1, ``end`` =
        acceptor on +; ``start`` = acceptor + 1, ``end`` = donor on -, with donor the last exon base and
        acceptor the first exon base, so ``[start, end)`` is the intron), ``strand``, and
        ``donor_rank`` / ``acceptor_rank``, the sites' indices in their class's position-ordered list
        (the SDK's scorer keeps the first 256 of each). Pairs with ``start >= end`` are left out.
        Counts are ``(junctions, tracks)`` for :meth:`tracks` of ``SPLICE_JUNCTIONS``; tracks of the
        other strand are 0 for a junction (the head masks them).
        """
        for name, onehot in (("ref", ref_onehot), ("alt", alt_onehot)):
            if np.ndim(onehot) != 2 or np.shape(onehot)[-1] != 4:
                msg = f"model {self.name}: junctions() takes one-hot (length, 4) windows; {name} is {np.shape(onehot)}"
                raise ValueError(msg)
        if np.shape(ref_onehot) != np.shape(alt_onehot):
            msg = f"model {self.name}: REF and ALT windows differ in length ({len(ref_onehot)} vs {len(alt_onehot)})"
            raise ValueError(msg)
        length = np.shape(ref_onehot)[0]
        for name, extra, shape in (("site_mask", site_mask, (length,)), ("annotated_sites", annotated_sites,
                                                                          (length, 4))):
            if extra is not None and np.shape(extra) != shape:
                msg = f"model {self.name}: junctions() {name} must have shape {shape}, got {np.shape(extra)}"
                raise ValueError(msg)
        head = self._head(OutputType.SPLICE_JUNCTIONS)
        if "splice_sites_classification" not in self.config.heads.names:
            msg = f"model {self.name}: junctions need the splice_sites_classification head to choose splice sites"
            raise ValueError(msg)
        self.config.validate_length(length)
        organism_index = jnp.full((1,), self._organism(organism), jnp.int32)
        channels = jnp.asarray(self._channels[(organism, head)], jnp.int32)
        # REF and ALT go through separately (batch 1 each): on the CPU a batch row's sums depend on its place in
        # the batch, and an ALT equal to REF must score exactly 0.
        ref_embeddings, ref_probs = self._compiled_embed(self.model, jnp.asarray(ref_onehot, jnp.float32)[None],
                                                         organism_index)
        alt_embeddings, alt_probs = self._compiled_embed(self.model, jnp.asarray(alt_onehot, jnp.float32)[None],
                                                         organism_index)
        if indel is not None:
            offset, ref_length, alt_length = indel
            alt_probs = align_alt_1bp(alt_probs, ref_probs, offset=offset, ref_length=ref_length,
                                      alt_length=alt_length)
            alt_embeddings = align_alt_1bp(alt_embeddings, ref_embeddings, offset=offset, ref_length=ref_length,
                                           alt_length=alt_length)
        sites = self.junction_sites(np.asarray(jax.device_get(ref_probs[0]), np.float32),
                                    np.asarray(jax.device_get(alt_probs[0]), np.float32),
                                    site_mask=site_mask, annotated_sites=annotated_sites)  # [4, K]
        device_sites = jnp.asarray(sites, jnp.int32)[None]
        ref_counts = self._compiled_counts(self.model, ref_embeddings, device_sites, organism_index, channels)
        alt_counts = self._compiled_counts(self.model, alt_embeddings, device_sites, organism_index, channels)
        counts = np.asarray(jax.device_get(jnp.concatenate([ref_counts, alt_counts])), np.float32)  # [2, K, K, T]
        track_strand = self.tracks(OutputType.SPLICE_JUNCTIONS, organism).df["strand"].astype(str).to_numpy()
        frames, ref_rows, alt_rows = [], [], []
        for strand, (donors, acceptors) in (("+", (sites[0], sites[1])), ("-", (sites[2], sites[3]))):
            # every donor x acceptor pair, donor-major as the SDK unstacks them; ranks index the sorted site lists
            d, a = (x.ravel() for x in np.meshgrid(np.flatnonzero(donors >= 0), np.flatnonzero(acceptors >= 0),
                                                   indexing="ij"))
            if strand == "+":
                start, end = donors[d] + 1, acceptors[a]
            else:
                start, end = acceptors[a] + 1, donors[d]
            keep = start < end
            d, a, start, end = d[keep], a[keep], start[keep], end[keep]
            on_strand = track_strand == strand
            frames.append(pd.DataFrame({"start": start, "end": end, "strand": strand,
                                        "donor_rank": d, "acceptor_rank": a}))
            ref_rows.append(np.where(on_strand, counts[0, d, a], 0.0))
            alt_rows.append(np.where(on_strand, counts[1, d, a], 0.0))
        table = pd.concat(frames, ignore_index=True)
        return table, np.concatenate(ref_rows).astype(np.float32), np.concatenate(alt_rows).astype(np.float32)

"""The Python API for predictions: intervals, sequences, variants, in silico mutagenesis and contact maps.

Every function takes a model (a :class:`~genome_plugin.models.SequenceModel` or a registered name) and
returns AnnData in the shared schema (:mod:`genome_plugin.adata`): ``var`` = tracks, ``obs`` = bins
(or contact-map pixels, or variants), ``uns["genome_plugin"]`` = provenance. Predictions go through
:class:`~genome_plugin.predict.Predictor`, so they are in + strand genomic order whatever the
interval's strand (see :mod:`genome_plugin.predict` for the convention).

Functions predicting tracks return ``{"<output type>_<resolution>bp": AnnData}`` (e.g.
``"dnase_128bp"``), one AnnData per output type and resolution, because each has its own bins and
tracks.

REF and ALT (:func:`predict_variant`, :func:`contact_map` with a variant) come back as **one AnnData
per output type and resolution with layers** ``"ref"`` and ``"alt"`` and ``X = alt - ref``. The ALT
predictions of an indel are aligned to REF coordinates first (:func:`genome_plugin.scoring.align.
align_alternate`), so bin ``i`` of both layers covers the same genomic bases; contact maps are not
re-aligned (an indel moves far less than one 2,048 bp bin).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from genome_plugin.adata import contact_map_to_anndata, provenance, tracks_to_anndata, validate
from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.reference import Reference, variant_sequences
from genome_plugin.models import Predictions, check_memory, default_length
from genome_plugin.mutagenesis import ism
from genome_plugin.predict import (
    DEFAULT_BATCH_SIZE,
    ModelLike,
    Predictor,
    ReferenceLike,
    TrackFilter,
    crop_predictions,
    filter_label,
    on_reference,
    open_reference,
    resolve_model,
)
from genome_plugin.tracks import OutputType

__all__ = [
    "contact_map",
    "ism",
    "predict_interval",
    "predict_sequence",
    "predict_variant",
    "result_key",
]

log = logging.getLogger(__name__)


def result_key(output_type: OutputType, resolution: int) -> str:
    """The key of one output type and resolution in a result dict (also used in file names)."""
    return f"{output_type.value}_{resolution}bp"

def _to_anndata(predictor: Predictor, key: tuple[OutputType, int], values: np.ndarray, *, start: Interval,
                interval_id: str, uns: dict[str, Any]) -> ad.AnnData:
    """Unbatched predictions of one key as AnnData; ``start`` gives the chrom and the first bin's start."""
    output_type, resolution = key
    tracks = predictor.tracks(output_type)
    if values.ndim == 3:
        return contact_map_to_anndata(values, interval=start, resolution=resolution, tracks=tracks, uns=uns,
                                      interval_id=interval_id)
    return tracks_to_anndata(values, interval=start, resolution=resolution, tracks=tracks, uns=uns,
                             interval_id=interval_id)


def _concat(parts: list[ad.AnnData], uns: dict[str, Any]) -> ad.AnnData:
    """Concatenate per-interval AnnData of one key (obs in input order) under one provenance record."""
    if len(parts) == 1:
        adata = parts[0]
    else:
        names = pd.Index(np.concatenate([p.obs_names.to_numpy() for p in parts]))
        if not names.is_unique:  # overlapping intervals share bins: prefix each bin with its interval
            for part in parts:
                part.obs_names = [f"{i}|{n}" for i, n in zip(part.obs["interval_id"].astype(str), part.obs_names)]
        adata = ad.concat(parts, axis=0, join="inner", merge="first", index_unique=None)
        for column in ("chrom", "interval_id"):
            adata.obs[column] = pd.Categorical(adata.obs[column].astype(str))
    adata.uns["genome_plugin"] = uns
    return validate(adata)


def _uns(kind: str, predictor: Predictor, key: tuple[OutputType, int], reference: Reference | None,
         **extra: Any) -> dict[str, Any]:
    output_type, resolution = key
    return provenance(kind, model=predictor.model, output_type=output_type, resolution=resolution,
                      reference=reference.path if reference is not None else None, organism=predictor.organism,
                      rc_average=predictor.rc_average, context=predictor.context, **extra)


def predict_interval(
    model: ModelLike,
    intervals: Interval | str | Sequence[Interval | str],
    *,
    reference: ReferenceLike,
    output_types: Iterable[OutputType | str] | None = None,
    tracks: TrackFilter = None,
    track_filters: Mapping[str, Any] | None = None,
    organism: str = "human",
    rc_average: bool = False,
    context: int | None = None,
    crop: bool = True,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> dict[str, ad.AnnData]:
    """Predict genome tracks over one or more intervals.

    Parameters
    ----------
    model
        A model or a registered model name.
    intervals
        ``Interval`` objects or ``chr:start-end[:strand]`` strings (0-based start). Each is predicted in a
        window of a length the model accepts (see :meth:`Predictor.window`).
    reference
        The reference FASTA (path or :class:`Reference`).
    output_types
        Output types to predict; None = all the model has.
    tracks
        A track filter (``'biosample_name == "lung"'``, see :mod:`genome_plugin.selector`) or a list of
        track names.
    track_filters
        Column equality filters, e.g. ``{"assay_title": "DNase-seq"}``.
    organism
        Organism of the heads and tracks.
    rc_average
        Average forward and reverse-complement predictions.
    crop
        Keep only the bins that overlap each interval (else the whole model window).
    batch_size
        Windows per model call.
    progress
        Show a progress bar.

    Returns
    -------
    ``{result_key(type, resolution): AnnData}`` with obs = bins of every interval (``interval_id`` says which).
    """
    model = resolve_model(model)
    ref = open_reference(reference)
    items = [intervals] if isinstance(intervals, Interval | str) else list(intervals)
    parsed = [on_reference(ref, i) for i in items]
    if not parsed:
        msg = "predict_interval needs at least one interval"
        raise InputError(msg)
    predictor = Predictor.from_filters(model, output_types=output_types, tracks=tracks, track_filters=track_filters,
                                       organism=organism, rc_average=rc_average, batch_size=batch_size,
                                       progress=progress, context=context)
    parts: dict[tuple[OutputType, int], list[ad.AnnData]] = {}
    windows: list[str] = []
    ids = _unique_ids([i.name or str(i) for i in parsed])
    for number, (interval, window, predictions) in enumerate(predictor.iter_intervals(ref, parsed)):
        windows.append(str(window))
        if crop:
            predictions, starts = crop_predictions(predictions, interval.start - window.start, interval.width)
        else:
            starts = {r: 0 for _, r in predictions}
        for key, values in predictions.items():
            start = Interval(window.chrom, window.start + starts[key[1]], window.end, window.strand)
            uns = _uns(_kind(values), predictor, key, ref)
            parts.setdefault(key, []).append(_to_anndata(predictor, key, values, start=start,
                                                         interval_id=ids[number], uns=uns))
    extra = {"intervals": [str(i) for i in parsed], "windows": windows, "cropped": crop,
             "track_filter": filter_label(tracks, track_filters)}
    return {result_key(*key): _concat(adatas, _uns(adatas[0].uns["genome_plugin"]["kind"], predictor, key, ref,
                                                   **extra))
            for key, adatas in parts.items()}


def _unique_ids(ids: list[str]) -> list[str]:
    """Interval ids (BED names or coordinates), made unique with ``#2``, ``#3`` ... for repeats."""
    seen: dict[str, int] = {}
    out = []
    for label in ids:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label}#{seen[label]}")
    return out


def _kind(values: np.ndarray) -> str:
    """``contact_map`` for ``(bins, bins, tracks)`` predictions, else ``tracks``."""
    return "contact_map" if values.ndim == 3 else "tracks"


def predict_sequence(
    model: ModelLike,
    sequence: str,
    *,
    name: str = "sequence",
    output_types: Iterable[OutputType | str] | None = None,
    tracks: TrackFilter = None,
    track_filters: Mapping[str, Any] | None = None,
    organism: str = "human",
    rc_average: bool = False,
) -> dict[str, ad.AnnData]:
    """Predict genome tracks for a DNA sequence (ACGTN; other letters read as N).

    A sequence of a length the model does not take is padded with N and the bins overlapping the
    sequence are kept. ``obs`` uses ``name`` as the chromosome and positions from 0 at the sequence's
    first base. Other parameters as in :func:`predict_interval`.
    """
    model = resolve_model(model)
    sequence = sequence.strip().upper()
    if not sequence:
        msg = "predict_sequence needs a non-empty sequence"
        raise InputError(msg)
    cleaned = "".join(base if base in "ACGTN" else "N" for base in sequence)
    predictor = Predictor.from_filters(model, output_types=output_types, tracks=tracks, track_filters=track_filters,
                                       organism=organism, rc_average=rc_average, batch_size=1, progress=False)
    predictions = predictor.predict_sequence(cleaned)
    start = Interval(name, 0, len(cleaned))
    out = {}
    for key, values in predictions.items():
        uns = _uns(_kind(values), predictor, key, None, sequence_name=name, sequence_length=len(cleaned),
                   track_filter=filter_label(tracks, track_filters))
        out[result_key(*key)] = _to_anndata(predictor, key, values, start=start, interval_id=name, uns=uns)
    return out


def _variant_window(predictor: Predictor, variant: Variant, width: int | None,
                    strand: str) -> tuple[Interval, Interval]:
    """The window reported around ``variant`` and the (possibly wider, with context) window the model sees."""
    length = default_length(predictor.model, width)
    check_memory(predictor.model, length, batch=2, flag="a smaller --width")  # REF and ALT
    shown = predictor.window(variant.interval(length).with_strand(strand), with_context=False)
    if not (shown.start <= variant.start and variant.end <= shown.end):
        msg = f"variant {variant} does not fit in the {shown.width} bp window {shown}"
        raise InputError(msg)
    return shown, predictor.window(shown)


def _ref_alt(predictor: Predictor, reference: Reference, pairs: list[tuple[Variant, Interval]]) -> list[Predictions]:
    """REF and ALT predictions (stacked on a leading axis of 2) of each (variant, window), ALT aligned to REF."""
    from genome_plugin.scoring.align import align_alternate

    sequences: list[str] = []
    strands: list[str] = []
    for variant, window in pairs:
        try:
            ref_seq, alt_seq = variant_sequences(reference, window, variant)
        except ValueError as err:
            msg = f"variant {variant}: {err}"
            raise InputError(msg) from err
        sequences += [ref_seq, alt_seq]
        strands += [window.strand if window.strand == "-" else "+"] * 2
    batch = predictor.predict_batch(sequences, strands=strands)
    out: list[Predictions] = []
    for row, (variant, window) in enumerate(pairs):
        predictions: Predictions = {}
        for key, values in batch.items():
            ref, alt = values[2 * row], values[2 * row + 1]
            if ref.ndim == 2 and len(variant.ref) != len(variant.alt):
                alt = align_alternate(alt, ref, variant=variant, interval=window, resolution=key[1])
            predictions[key] = np.stack([ref, alt])
        out.append(predictions)
    return out


def _ref_alt_anndata(predictor: Predictor, key: tuple[OutputType, int], ref_alt: np.ndarray, *, window: Interval,
                     interval_id: str, uns: dict[str, Any]) -> ad.AnnData:
    ref, alt = ref_alt
    adata = _to_anndata(predictor, key, alt - ref, start=window, interval_id=interval_id, uns=uns)
    if ref.ndim == 3:
        first, second = adata.obs["bin1_id"].to_numpy(), adata.obs["bin2_id"].to_numpy()
        ref, alt = ref[first, second], alt[first, second]
    adata.layers["ref"] = np.asarray(ref, dtype=np.float32)
    adata.layers["alt"] = np.asarray(alt, dtype=np.float32)
    return adata


def predict_variant(
    model: ModelLike,
    variants: Variant | str | Sequence[Variant | str],
    *,
    reference: ReferenceLike,
    width: int | None = None,
    strand: str = "+",
    output_types: Iterable[OutputType | str] | None = None,
    tracks: TrackFilter = None,
    track_filters: Mapping[str, Any] | None = None,
    organism: str = "human",
    rc_average: bool = False,
    context: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
) -> dict[str, ad.AnnData]:
    """Predict REF and ALT over the same window around each variant.

    Parameters
    ----------
    variants
        ``Variant`` objects or ``chrom:pos:REF>ALT`` strings (1-based, VCF style).
    width
        Window length in bp (default: the model's preferred length; made a length the model accepts).
    strand
        Strand to predict the windows on (the output is in + strand order either way).

    Other parameters as in :func:`predict_interval`.

    Returns
    -------
    ``{result_key(type, resolution): AnnData}``; each AnnData has ``layers["ref"]``, ``layers["alt"]``
    (ALT aligned to REF coordinates for indels) and ``X = alt - ref``; obs = bins of each variant's
    window with ``variant_id``.
    """
    model = resolve_model(model)
    ref = open_reference(reference)
    items = [variants] if isinstance(variants, Variant | str) else list(variants)
    parsed = [on_reference(ref, v, variant=True) for v in items]
    if not parsed:
        msg = "predict_variant needs at least one variant"
        raise InputError(msg)
    predictor = Predictor.from_filters(model, output_types=output_types, tracks=tracks, track_filters=track_filters,
                                       organism=organism, rc_average=rc_average, batch_size=batch_size, progress=False,
                                       context=context)
    windows = [_variant_window(predictor, v, width, strand) for v in parsed]
    pairs = [(v, window) for v, (_, window) in zip(parsed, windows)]
    parts: dict[tuple[OutputType, int], list[ad.AnnData]] = {}
    step = max(batch_size // 2, 1)
    for first in tqdm(range(0, len(pairs), step), unit="batch", desc="predict-variant", disable=not progress):
        group = pairs[first:first + step]
        for index, ((variant, window), predictions) in enumerate(zip(group, _ref_alt(predictor, ref, group)),
                                                              start=first):
            shown = windows[index][0]
            variant_id = str(variant)
            for key, values in predictions.items():
                ref_values, starts = crop_predictions({key: values[0]}, shown.start - window.start, shown.width)
                alt_values, _ = crop_predictions({key: values[1]}, shown.start - window.start, shown.width)
                stacked = np.stack([ref_values[key], alt_values[key]])
                start = Interval(window.chrom, window.start + starts[key[1]], window.end)
                uns = _uns(_kind(values[0]), predictor, key, ref)
                adata = _ref_alt_anndata(predictor, key, stacked, window=start, interval_id=variant_id, uns=uns)
                adata.obs["variant_id"] = pd.Categorical([variant_id] * adata.n_obs)
                parts.setdefault(key, []).append(adata)
    extra = {"variants": [str(v) for v, _ in pairs], "windows": [str(shown) for shown, _ in windows],
             "model_windows": [str(w) for _, w in pairs],
             "layers": "ref, alt (ALT aligned to REF coordinates); X = alt - ref",
             "track_filter": filter_label(tracks, track_filters)}
    out = {}
    for key, adatas in parts.items():
        adata = _concat(adatas, _uns(adatas[0].uns["genome_plugin"]["kind"], predictor, key, ref, **extra))
        adata.obs["variant_id"] = pd.Categorical(adata.obs["variant_id"].astype(str))
        out[result_key(*key)] = adata
    return out


def contact_map(
    model: ModelLike,
    interval: Interval | str,
    *,
    reference: ReferenceLike,
    variant: Variant | str | None = None,
    tracks: TrackFilter = None,
    track_filters: Mapping[str, Any] | None = None,
    organism: str = "human",
    rc_average: bool = False,
    context: int | None = None,
) -> ad.AnnData:
    """Predicted contact maps of the model window around ``interval`` (obs = upper-triangle pixels).

    The window starts on the contact-map resolution's genome-wide grid when the interval fits, so the
    ``.cool`` writer can place it among whole-chromosome bins. With ``variant`` (inside the window),
    ``layers["ref"]``, ``layers["alt"]`` and ``X = alt - ref`` (the difference map).
    """
    model = resolve_model(model)
    ref = open_reference(reference)
    interval = on_reference(ref, interval)
    predictor = Predictor.from_filters(model, output_types=[OutputType.CONTACT_MAPS], tracks=tracks,
                                       track_filters=track_filters, organism=organism, rc_average=rc_average,
                                       batch_size=2, progress=False, context=context)
    shown = predictor.window(interval, with_context=False)
    window = predictor.window(shown)
    if shown != interval:
        log.info("contact map of %s predicted over the model window %s (%d bp)", interval, shown, shown.width)
    extra = {"intervals": [str(interval)], "windows": [str(shown)],
             "track_filter": filter_label(tracks, track_filters)}
    interval_id = interval.name or str(interval)
    if variant is None:
        _, _, predictions = next(predictor.iter_intervals(ref, [shown]))
        key = min(predictions, key=lambda k: k[1])
        values = crop_predictions({key: predictions[key]}, shown.start - window.start, shown.width)[0][key]
        uns = _uns("contact_map", predictor, key, ref, **extra)
        return _to_anndata(predictor, key, values, start=shown, interval_id=interval_id, uns=uns)
    variant = on_reference(ref, variant, variant=True)
    if not (shown.start <= variant.start and variant.end <= shown.end):
        msg = f"variant {variant} is outside the contact-map window {shown}"
        raise InputError(msg)
    predictions = _ref_alt(predictor, ref, [(variant, window)])[0]
    key = min(predictions, key=lambda k: k[1])
    offset = shown.start - window.start
    stacked = np.stack([crop_predictions({key: v}, offset, shown.width)[0][key] for v in predictions[key]])
    uns = _uns("contact_map", predictor, key, ref, variant=str(variant), layers="ref, alt; X = alt - ref", **extra)
    return _ref_alt_anndata(predictor, key, stacked, window=shown, interval_id=interval_id, uns=uns)

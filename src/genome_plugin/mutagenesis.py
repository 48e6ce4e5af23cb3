"""In silico mutagenesis (ISM): every SNV in an interval, scored against the reference prediction.

(The module is not called ``ism`` because the package's public function ``genome_plugin.ism`` is
this module's :func:`ism`; a submodule of the same name would shadow it once imported.)

Each of the three possible SNVs at each base of the interval is predicted over the same window as
the reference and scored with a registered scorer (variant- or gene-level) or with the built-in
effect (mean ALT - REF over the mutated interval). The result is a ``variant_scores`` AnnData with
one obs row per SNV (per gene for gene-level scorers); :func:`ism_matrix` turns one track of it into
the (bases x 4) matrix behind the sequence-logo plot (:func:`genome_plugin.plots.plot_ism`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from genome_plugin.adata import provenance, validate
from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.sequence import ALPHABET, reverse_complement
from genome_plugin.models import check_memory, default_length
from genome_plugin.predict import (
    DEFAULT_BATCH_SIZE,
    ModelLike,
    Predictor,
    ReferenceLike,
    TrackFilter,
    filter_label,
    on_reference,
    open_reference,
    resolve_model,
)
from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext
from genome_plugin.tracks import OutputType

__all__ = ["ism", "ism_matrix"]


#: 10 kb of ISM: 30,001 passes (about 8 hours for a 1 Mb AlphaGenome window at one pass a second).
DEFAULT_MAX_FORWARD_PASSES = 30_001


def _effect_mean_diff(ref: np.ndarray, alt: np.ndarray, span: slice) -> np.ndarray:
    """The built-in ISM effect: mean over the mutated span's bins of ALT - REF, per track."""
    return (alt[span] - ref[span]).mean(axis=0)


def ism(
    model: ModelLike,
    interval: Interval | str,
    *,
    reference: ReferenceLike,
    scorer: Any = None,
    output_type: OutputType | str | None = None,
    width: int | None = None,
    tracks: TrackFilter = None,
    track_filters: Mapping[str, Any] | None = None,
    annotation: Any = None,
    organism: str = "human",
    rc_average: bool = False,
    context: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    max_forward_passes: int = DEFAULT_MAX_FORWARD_PASSES,
) -> ad.AnnData:
    """In silico mutagenesis: every SNV in ``interval`` (3 per base), each scored against the reference.

    Parameters
    ----------
    interval
        The bases to mutate (keep it short: each SNV is one model call over the whole window).
    scorer
        A registered scorer name or :class:`~genome_plugin.scoring.base.Scorer`; None uses the built-in
        effect: the mean of ALT - REF over the bins covering ``interval``, per track, at the finest
        resolution of ``output_type``.
    output_type
        For the built-in effect: the output type (default the model's first 1-D output type).
    width
        Window predicted around the interval (default the smallest valid length that holds it).
    annotation
        Genes (:class:`~genome_plugin.genome.Annotation`) for scorers that need them.
    max_forward_passes
        Refuse (before any prediction) an interval that needs more model calls than this: each base
        costs 3 passes over the whole window (6 with ``rc_average``).

    Returns
    -------
    A ``variant_scores`` AnnData: obs = SNV (x gene or junction for gene-level scorers) with
    ``variant_id``, ``chrom``, ``pos``, ``ref``, ``alt``, ``reason``, ``offset`` (0-based base in
    ``interval``); var = tracks; X = scores. Bases that are N in the reference have no SNVs.
    """
    if width is not None and width < 1:
        msg = f"--width {width}: the window must be a positive number of bp"
        raise InputError(msg)
    model = resolve_model(model)
    ref = open_reference(reference)
    interval = on_reference(ref, interval)
    passes = (3 * interval.width + 1) * (2 if rc_average else 1)  # 3 SNVs per base, the reference once
    if passes > max_forward_passes:
        msg = (f"ISM over {interval} ({interval.width} bp) needs up to {passes:,} forward passes of the model, more "
               f"than the limit of {max_forward_passes:,}: narrow the interval or raise --max-forward-passes")
        raise InputError(msg)
    if isinstance(scorer, str):
        from genome_plugin.plugins import get_scorers

        scorers = get_scorers()
        if scorer not in scorers:
            msg = f"unknown scorer {scorer!r}; registered scorers: {', '.join(sorted(scorers)) or 'none'}"
            raise InputError(msg)
        scorer = scorers[scorer]
    if scorer is not None:
        if not isinstance(scorer, Scorer):
            msg = f"{scorer!r} is not a Scorer"
            raise TypeError(msg)
        reason = scorer.unavailable(model, organism=organism, annotation=annotation)
        if reason:
            raise InputError(reason)
        kind = scorer.output_type
        resolution = scorer.resolution_for(model)
        wanted = list(dict.fromkeys([kind, *scorer.requires]))
    else:
        pointwise = [t for t in model.output_types() if not t.is_pairwise]
        kind = OutputType.parse(output_type) if output_type is not None else (pointwise or [None])[0]
        if kind is None or kind.is_pairwise:
            msg = f"ism's built-in effect needs a 1-D output type; model {model.name} has {kind}"
            raise InputError(msg)
        resolution = min(model.resolutions(kind))
        wanted = [kind]
    predictor = Predictor.from_filters(model, output_types=wanted, tracks=tracks, track_filters=track_filters,
                                       organism=organism, rc_average=rc_average, batch_size=batch_size, progress=False,
                                       context=context)
    if kind not in predictor.requests:
        msg = f"the track filter kept no {kind.value} track"
        raise InputError(msg)
    window = predictor.window(interval.resize(default_length(model, width, at_least=interval.width)))
    check_memory(model, window.width, batch=predictor.batch_size, flag="a smaller --width")
    plus = window.with_strand("+")
    ref_seq = ref.fetch(plus)
    strand = "-" if window.strand == "-" else "+"
    key = (kind, resolution)

    def predict(sequences: list[str]) -> np.ndarray:
        batch = predictor.predict_batch([reverse_complement(s) if strand == "-" else s for s in sequences],
                                        strands=[strand] * len(sequences))
        if key not in batch:
            msg = f"model {model.name} gave no {kind.value} predictions at {resolution} bp"
            raise ValueError(msg)
        return batch[key]

    reference_prediction = predict([ref_seq])[0]
    table = predictor.tracks(kind)
    offset = interval.start - window.start
    span = slice(offset // resolution, -(-(offset + interval.width) // resolution))
    snvs = [(pos, ref_seq[pos - window.start], base) for pos in range(interval.start, interval.end)
            for base in ALPHABET if ref_seq[pos - window.start] != "N" and base != ref_seq[pos - window.start]]
    rows: list[pd.DataFrame] = []
    values: list[np.ndarray] = []
    bar = tqdm(total=len(snvs), unit="SNV", desc=f"ism {interval}", disable=not progress)
    for first in range(0, len(snvs), batch_size):
        group = snvs[first:first + batch_size]
        sequences = []
        for pos, _, base in group:
            local = pos - window.start
            sequences.append(ref_seq[:local] + base + ref_seq[local + 1:])
        predictions = predict(sequences)
        for (pos, ref_base, base), alt_prediction in zip(group, predictions):
            variant = Variant(window.chrom, pos + 1, ref_base, base)
            if scorer is None:
                result = ScoreResult.single(_effect_mean_diff(reference_prediction, alt_prediction, span))
            else:
                scoring = ScoringContext(variant=variant, interval=plus, resolution=resolution, tracks=table,
                                         output_type=kind, annotation=annotation, organism=organism)
                result = scorer.score(reference_prediction, alt_prediction, context=scoring)
            frame = result.rows.copy()
            frame.insert(0, "variant_id", str(variant))
            frame.insert(1, "chrom", window.chrom)
            frame.insert(2, "pos", variant.pos)
            frame.insert(3, "ref", ref_base)
            frame.insert(4, "alt", base)
            frame.insert(5, "reason", "")
            frame.insert(6, "offset", pos - interval.start)
            rows.append(frame)
            values.append(result.values)
        bar.update(len(group))
    bar.close()
    if not rows:
        msg = f"interval {interval} has no mutable base (all N in the reference)"
        raise InputError(msg)
    obs = pd.concat(rows, ignore_index=True)
    for column in ("variant_id", "chrom", "ref", "alt"):
        obs[column] = pd.Categorical(obs[column].astype(str))
    per_variant = obs.groupby("variant_id", observed=True).cumcount()
    obs.index = [f"{v}|{n}" if n else str(v) for v, n in zip(obs["variant_id"].astype(str), per_variant)]
    definition = scorer.definition() if scorer is not None else {
        "name": "ism_mean_diff", "output_type": kind.value,
        "description": "mean of ALT - REF over the bins covering the mutated interval"}
    uns = provenance("variant_scores", model=model, output_type=kind, resolution=resolution, reference=ref.path,
                     organism=organism, rc_average=rc_average, context=predictor.context, scorer=definition,
                     ism_interval=str(interval), window=str(window), track_filter=filter_label(tracks, track_filters))
    adata = ad.AnnData(X=np.concatenate(values, axis=0).astype(np.float32), obs=obs, var=table.to_var())
    adata.uns["genome_plugin"] = uns
    return validate(adata)


def ism_matrix(adata: ad.AnnData, track: int | str = 0) -> tuple[np.ndarray, str]:
    """One track of an ISM result as a ``(bases, 4)`` matrix (A, C, G, T columns) and the reference sequence.

    The reference base's cell is 0 (no change); rows of gene-level scorers are averaged per SNV. N bases
    are NaN rows with ``N`` in the sequence.
    """
    if "offset" not in adata.obs.columns:
        msg = "not an ISM result: obs has no 'offset' column"
        raise InputError(msg)
    column = adata.var_names.get_loc(track) if isinstance(track, str) else int(track)
    frame = pd.DataFrame({
        "offset": adata.obs["offset"].to_numpy(),
        "ref": adata.obs["ref"].astype(str).to_numpy(),
        "alt": adata.obs["alt"].astype(str).to_numpy(),
        "value": np.asarray(adata.X[:, column], dtype=np.float64).ravel(),
    }).groupby(["offset", "ref", "alt"], observed=True, as_index=False)["value"].mean()
    interval = Interval.parse(str(adata.uns["genome_plugin"]["ism_interval"]))
    matrix = np.full((interval.width, 4), np.nan)
    bases = ["N"] * interval.width
    for offset, ref_base, alt_base, value in frame.itertuples(index=False):
        matrix[offset, ALPHABET.index(alt_base)] = value
        matrix[offset, ALPHABET.index(ref_base)] = 0.0
        bases[offset] = ref_base
    return matrix, "".join(bases)

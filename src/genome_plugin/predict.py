"""The Predictor: every prediction of every model goes through it.

It owns batching (one-hot, fixed batch shapes), the strand convention, reverse-complement averaging,
the resolution of track filters into ``requests`` before anything is predicted, and resizing
intervals to a length the model accepts.

Strand convention
-----------------
Every prediction the Predictor returns is in **+ strand genomic order**: bin ``i`` covers
``window.start + i * resolution`` whatever the interval's strand, and a track labelled ``+`` is about
the genome's + strand. A minus-strand interval is predicted on the reverse complement of its window;
the output is flipped back along the sequence axis (both axes for contact maps) and its tracks are
re-indexed with ``model.strand_swap`` (the model's ``-`` track seen on the reverse complement is the
genome's ``+`` track). So for a model that is exactly strand-symmetric, the minus-strand prediction
of an interval equals its plus-strand prediction; for any other model the two differ, and
``rc_average=True`` returns the mean of the forward and the (flipped, strand-swapped)
reverse-complement predictions, which is the same for both strands.

Track requests
--------------
``requests`` maps each wanted output type to the indices (into ``model.tracks(type)``) of the tracks
to keep, or None for all of them. Only those tracks come back from the model to the host, so asking
for 3 DNase tracks does not allocate the other thousands. For the reverse-complement pass the
Predictor asks for the strand twins of the requested tracks, so averaging needs no extra tracks.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.reference import Reference
from genome_plugin.genome.sequence import one_hot, reverse_complement
from genome_plugin.models import Predictions, SequenceModel, check_memory
from genome_plugin.selector import UnknownColumnError, parse_selector
from genome_plugin.tracks import OutputType, TrackTable

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "NOT_BINNED",
    "ModelLike",
    "Predictor",
    "ReferenceLike",
    "TrackFilter",
    "crop_predictions",
    "filter_label",
    "on_reference",
    "open_reference",
    "resolve_model",
    "select_tracks",
]

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 4

Requests = dict[OutputType, np.ndarray | None]

#: Output types that are not tracks over bins: splice junctions are (donor, acceptor) pairs that the
#: junction scorer gets from the model's ``junctions()`` method, not through the Predictor.
NOT_BINNED = (OutputType.SPLICE_JUNCTIONS,)
ModelLike = SequenceModel | str
ReferenceLike = Reference | str | os.PathLike[str]
#: A track filter (str, :mod:`genome_plugin.selector`) or a list of track names.
TrackFilter = str | Sequence[str] | None


def resolve_model(model: ModelLike) -> SequenceModel:
    """``model`` itself, or the registered model of that name (loaded once per process)."""
    if isinstance(model, SequenceModel):
        return model
    from genome_plugin.plugins import load_model

    return load_model(model)


def open_reference(reference: ReferenceLike) -> Reference:
    """``reference`` itself, or the FASTA at that path."""
    return reference if isinstance(reference, Reference) else Reference(reference)


def on_reference(reference: Reference, item: Interval | Variant | str, *, variant: bool = False) -> Any:
    """Parse an interval (or, with ``variant``, a variant) and give it the FASTA's contig name (chr1 <-> 1)."""
    if isinstance(item, str):
        item = Variant.parse(item) if variant else Interval.parse(item)
    chrom = reference.require(item.chrom)
    if isinstance(item, Interval) and item.start >= reference.length(chrom):
        # Partly past the end is N-padded; wholly past it would be a prediction on nothing but N.
        msg = f"interval {item} starts past the end of {chrom} ({reference.length(chrom)} bp)"
        raise InputError(msg, path=reference.path)
    return item if chrom == item.chrom else dataclasses.replace(item, chrom=chrom)


def filter_label(tracks: TrackFilter, track_filters: Mapping[str, Any] | None = None) -> str:
    """A track filter as one readable string (recorded in ``adata.uns``)."""
    parts = [tracks] if isinstance(tracks, str) else [f"name in {list(tracks)}"] if tracks else []
    parts += [f"{k} == {v!r}" for k, v in (track_filters or {}).items()]
    return " and ".join(parts)


def select_tracks(
    model: SequenceModel,
    output_types: Iterable[OutputType | str] | None = None,
    *,
    organism: str = "human",
    query: str | None = None,
    names: Sequence[str] | None = None,
    **column_equals: Any,
) -> Requests:
    """Resolve output types and track filters into the ``requests`` a model is asked for.

    Parameters
    ----------
    model
        The model whose track tables are filtered.
    output_types
        Output types wanted (names or members); None means every type the model predicts over bins
        (all but splice junctions, see :data:`NOT_BINNED`).
    organism
        Organism whose track tables are used.
    query
        A track filter (:mod:`genome_plugin.selector`; parsed, never evaluated), e.g.
        ``'assay_title == "DNase-seq"'`` or ``'biosample_name contains "lung"'``.
    names
        Track names to keep (both strands of a stranded track).
    **column_equals
        Column equality filters (``ontology_curie="UBERON:0002048"``); a list value matches any item.

    Returns
    -------
    ``{output_type: indices or None}``: None where no filter was given (all tracks). Output types
    whose table has none of the filtered columns or no matching track are left out.

    Raises
    ------
    SelectorSyntaxError
        For a track filter outside the grammar (before any table is read).
    ValueError
        For an output type the model does not predict, or when the filters match no track at all.
    """
    available = tuple(model.output_types())
    if output_types is None:
        wanted = tuple(t for t in available if t not in NOT_BINNED)
    else:
        wanted = tuple(OutputType.parse(t) for t in output_types)
        missing = [t.value for t in wanted if t not in available]
        if missing:
            msg = (f"model {model.name} does not predict {', '.join(missing)}; "
                   f"it predicts {', '.join(t.value for t in available)}")
            raise InputError(msg)
    filtered = bool(query or names or column_equals)
    if not filtered:
        return dict.fromkeys(wanted)
    if names:
        column_equals = {**column_equals, "name": list(names)}
    selector = parse_selector(query) if query else None
    requests: Requests = {}
    errors: list[str] = []
    for output_type in wanted:
        table = model.tracks(output_type, organism)
        try:
            _, indices = table.select(selector, **column_equals)
        except UnknownColumnError as err:  # a column this type's table lacks: no match for this type
            errors.append(f"{output_type.value}: {err}")
            continue
        if len(indices):
            requests[output_type] = indices
    if not requests:
        shown = query or ", ".join(f"{k}={v!r}" for k, v in {**column_equals}.items())
        detail = f" ({errors[0]})" if errors else ""
        msg = (f"track filter {shown} matched no track of {', '.join(t.value for t in wanted)} "
               f"for model {model.name}{detail}")
        raise InputError(msg)
    log.info("track filter kept %s", ", ".join(f"{len(v)} {k.value}" for k, v in requests.items()))
    return requests


def crop_predictions(predictions: Predictions, offset: int, length: int) -> tuple[Predictions, dict[int, int]]:
    """Keep the bins of unbatched ``predictions`` that overlap ``[offset, offset + length)`` bp.

    Returns the cropped predictions and, per resolution, the bp offset of the first kept bin from the
    start of the window (bins stay aligned to the window).
    """
    out: Predictions = {}
    starts: dict[int, int] = {}
    for (output_type, resolution), values in predictions.items():
        first = offset // resolution
        last = min(math.ceil((offset + length) / resolution), values.shape[0])
        if values.ndim == 3:  # contact map (n, n, tracks)
            out[(output_type, resolution)] = values[first:last, first:last]
        else:
            out[(output_type, resolution)] = values[first:last]
        starts[resolution] = first * resolution
    return out, starts


@dataclasses.dataclass(frozen=True)
class _Pass:
    """One model call plan: the sequences' orientation and the track indices asked for."""

    reverse: bool
    requests: Mapping[OutputType, np.ndarray | None]


class Predictor:
    """Batched, strand-aware predictions of one model.

    Parameters
    ----------
    model
        Any :class:`~genome_plugin.models.SequenceModel`.
    organism
        Organism passed to the model and used for its track tables.
    requests
        Output types with track indices (see :func:`select_tracks`); None = every type, all tracks.
    batch_size
        Most sequences per model call. Batches are padded with all-N sequences to ``batch_size`` (or,
        for fewer sequences, to the next power of two), so the model sees few input shapes per length
        and compiles each once.
    rc_average
        Average the forward and the reverse-complement prediction (see the module docstring).
    progress
        Show a progress bar with ETA over windows.
    context
        Reference bases (bp) added on each side of every interval's window, for models that need
        context beyond the bases they predict well (SpliceAI reads 5,000 bp each side). None takes the
        model's ``context`` attribute when it has one, else 0. Callers crop the flanks off
        (:func:`crop_predictions`); the API does.
    """

    def __init__(
        self,
        model: SequenceModel,
        *,
        organism: str = "human",
        requests: Mapping[OutputType, np.ndarray | None] | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        rc_average: bool = False,
        progress: bool = True,
        context: int | None = None,
    ) -> None:
        if batch_size < 1:
            msg = f"batch_size must be >= 1, got {batch_size}"
            raise InputError(msg)
        if organism not in model.organisms:
            msg = f"model {model.name} has no organism {organism!r}; it has {', '.join(model.organisms)}"
            raise InputError(msg)
        self.model = model
        self.context = int(getattr(model, "context", 0) or 0) if context is None else int(context)
        if self.context < 0:
            msg = f"context must be >= 0 bp, got {self.context}"
            raise InputError(msg)
        self.organism = organism
        self.batch_size = batch_size
        self.rc_average = rc_average
        self.progress = progress
        full = select_tracks(model, organism=organism)
        if requests is None:
            requests = full
        self.requests: Requests = {}
        for output_type, indices in requests.items():
            output_type = OutputType.parse(output_type)
            if output_type in NOT_BINNED:
                msg = (f"{output_type.value} are pairs of splice sites, not tracks over bins; the Predictor does "
                       f"not return them (the splice-junction scorer reads them from the model)")
                raise InputError(msg)
            if output_type not in model.output_types():
                msg = f"model {model.name} does not predict {output_type.value}"
                raise InputError(msg)
            if indices is not None:
                indices = np.asarray(indices, dtype=np.int64).reshape(-1)
                count = len(model.tracks(output_type, organism))
                if len(indices) == 0 or indices.min() < 0 or indices.max() >= count:
                    msg = f"{output_type.value}: track indices must be non-empty and in 0..{count - 1}"
                    raise InputError(msg)
            self.requests[output_type] = indices
        self._swaps = {t: self._strand_swap(t) for t in self.requests}
        #: (sequence length, batch) shapes the model has been called with; each compiles once.
        self.compiled_shapes: dict[tuple[int, int], float] = {}

    @classmethod
    def from_filters(cls, model: SequenceModel, *, output_types: Iterable[OutputType | str] | None = None,
                     tracks: TrackFilter = None, track_filters: Mapping[str, Any] | None = None,
                     organism: str = "human", **options: Any) -> Predictor:
        """A Predictor whose requests hold a track filter (:func:`select_tracks`); other options as in ``__init__``."""
        query = tracks if isinstance(tracks, str) else None
        names = list(tracks) if tracks is not None and not isinstance(tracks, str) else None
        requests = select_tracks(model, output_types, organism=organism, query=query, names=names,
                                 **dict(track_filters or {}))
        return cls(model, organism=organism, requests=requests, **options)

    # ---------------------------------------------------------------------------------- metadata
    def tracks(self, output_type: OutputType) -> TrackTable:
        """The track table of the requested tracks of ``output_type`` (becomes ``adata.var``)."""
        table = self.model.tracks(output_type, self.organism)
        indices = self.requests[output_type]
        return table if indices is None else table.subset(indices)

    @property
    def coarsest_resolution(self) -> int:
        """The coarsest resolution (bp) of the requested output types."""
        return max(r for t in self.requests for r in self.model.resolutions(t))

    def window(self, interval: Interval, *, with_context: bool = True) -> Interval:
        """The model input window for ``interval`` (widened by :attr:`context`): the smallest valid length around it.

        The length is rounded up to a whole number of the coarsest bins when the model accepts that.
        The window starts on a multiple of the coarsest requested resolution whenever the interval
        still fits (so bins of different intervals, bigWig entries and ``.cool`` pixels share one
        genome-wide grid); otherwise it is centred on the interval.
        """
        if self.context and with_context:
            interval = dataclasses.replace(interval, start=interval.start - self.context,
                                           end=interval.end + self.context)
        length = self.model.valid_length(interval.width)
        grid = self.coarsest_resolution
        if length % grid:  # a whole number of coarse bins, when the model takes it, so the last bin is not lost
            rounded = self.model.valid_length(-(-length // grid) * grid)
            length = rounded if rounded % grid == 0 else length
        first = (interval.start // grid) * grid
        span = -(-interval.end // grid) * grid - first
        if length % grid == 0 and span <= length:
            start = first - ((length - span) // 2 // grid) * grid
            return dataclasses.replace(interval, start=start, end=start + length)
        return interval if length == interval.width else interval.resize(length)

    def _strand_swap(self, output_type: OutputType) -> np.ndarray:
        swap = self.model.strand_swap(output_type, self.organism)
        count = len(self.model.tracks(output_type, self.organism))
        if swap is None:  # no strand twins: the track reads the same from both strands
            return np.arange(count)
        swap = np.asarray(swap, dtype=np.int64)
        if swap.shape != (count,) or not np.array_equal(swap[swap], np.arange(count)):
            msg = f"model {self.model.name}: strand_swap({output_type.value}) is not an involution of {count} tracks"
            raise ValueError(msg)
        return swap

    # ------------------------------------------------------------------------------- prediction
    def predict_batch(self, sequences: Sequence[str], *, strands: Sequence[str] | None = None) -> Predictions:
        """Predict equal-length sequences as given (no resizing); arrays carry a leading batch axis.

        ``strands`` (default all ``+``) says which sequences are the reverse complement of a + strand
        window (``-``): their predictions are flipped and strand-swapped back into the window's
        + strand order. With ``rc_average`` every sequence is also predicted reverse-complemented and
        the two are averaged.
        """
        if not sequences:
            msg = "predict_batch needs at least one sequence"
            raise ValueError(msg)
        length = len(sequences[0])
        if any(len(s) != length for s in sequences):
            msg = f"predict_batch needs equal-length sequences; got lengths {sorted({len(s) for s in sequences})}"
            raise ValueError(msg)
        valid = self.model.valid_length(length)
        if valid != length:
            msg = f"model {self.model.name} does not accept {length} bp; resize to {valid} bp (predict_sequence does)"
            raise ValueError(msg)
        strands = list(strands) if strands is not None else ["+"] * len(sequences)
        if len(strands) != len(sequences) or not set(strands) <= {"+", "-"}:
            msg = "strands must give + or - for every sequence"
            raise ValueError(msg)
        # A "-" sequence is the reverse complement of its + strand window: predicting it as given is
        # the reverse pass, and its reverse complement is the forward pass.
        plus = [s if strand == "+" else reverse_complement(s) for s, strand in zip(sequences, strands, strict=True)]
        minus_only = [strand == "-" for strand in strands]
        passes = [False, True] if self.rc_average else sorted(set(minus_only))
        out: Predictions = {}
        for reverse in passes:
            rows = [i for i in range(len(plus)) if self.rc_average or minus_only[i] == reverse]
            seqs = [reverse_complement(plus[i]) if reverse else plus[i] for i in rows]
            for key, values in self._run_pass(seqs, reverse=reverse).items():
                if key not in out:
                    out[key] = np.zeros((len(plus), *values.shape[1:]), dtype=np.float32)
                if self.rc_average:
                    out[key] += values / 2
                else:
                    out[key][rows] = values
        return out

    def _run_pass(self, sequences: list[str], *, reverse: bool) -> Predictions:
        """Model calls over ``sequences`` in fixed-shape batches; reverse passes come back in + order."""
        requests = self.requests
        if reverse:  # ask for the strand twins so each column already is the requested + strand track
            requests = {t: (None if i is None else self._swaps[t][i]) for t, i in self.requests.items()}
        n = len(sequences)
        # Fewer sequences than batch_size are padded to the next power of two (capped at batch_size): at
        # most log2(batch_size) + 1 compiled shapes per length, and a lone 1 Mb window is not padded to 4.
        batch = min(self.batch_size, 1 << (n - 1).bit_length())
        length = len(sequences[0])
        check_memory(self.model, length, batch=batch, flag="a narrower interval or a smaller batch")
        chunks: dict[tuple[OutputType, int], list[np.ndarray]] = {}
        for first in range(0, n, batch):
            group = sequences[first:first + batch]
            onehot = np.zeros((batch, length, 4), dtype=np.float32)  # padding rows stay all-N
            for row, sequence in enumerate(group):
                onehot[row] = one_hot(sequence)
            raw = self._call(onehot, requests)
            for key, values in raw.items():
                chunks.setdefault(key, []).append(values[: len(group)])
        out: Predictions = {}
        for (output_type, resolution), parts in chunks.items():
            values = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
            if reverse:
                values = np.flip(values, axis=(1, 2) if values.ndim == 4 else 1)
                if self.requests[output_type] is None:
                    values = values[..., self._swaps[output_type]]
                values = np.ascontiguousarray(values)
            out[(output_type, resolution)] = values
        return out

    def _call(self, onehot: np.ndarray, requests: Requests) -> Predictions:
        shape = onehot.shape[:2]
        started = time.perf_counter()
        raw = self.model.predict(onehot, organism=self.organism, requests=requests)
        out: Predictions = {}
        for key, values in raw.items():
            output_type, resolution = key
            if output_type not in requests:
                continue
            values = np.asarray(values)
            if values.dtype != np.float32:
                values = values.astype(np.float32)
            self._check(key, values, onehot.shape, requests[output_type])
            out[key] = values
        elapsed = time.perf_counter() - started
        if shape not in self.compiled_shapes:
            self.compiled_shapes[shape] = elapsed
            log.debug("model %s: first call for %d bp x %d took %.2f s (compilation)", self.model.name, *shape,
                      elapsed)
        missing = [t.value for t in requests if not any(k[0] == t for k in out)]
        if missing:
            msg = f"model {self.model.name} returned no predictions for {', '.join(missing)}"
            raise ValueError(msg)
        return out

    def _check(self, key: tuple[OutputType, int], values: np.ndarray, shape: tuple[int, ...],
               indices: np.ndarray | None) -> None:
        output_type, resolution = key
        tracks = len(self.model.tracks(output_type, self.organism)) if indices is None else len(indices)
        bins = shape[1] // resolution
        expected = (shape[0], bins, bins, tracks) if values.ndim == 4 else (shape[0], bins, tracks)
        if values.shape != expected:
            msg = (f"model {self.model.name} returned {output_type.value} at {resolution} bp with shape "
                   f"{values.shape}; expected {expected}")
            raise ValueError(msg)

    def predict_sequence(self, sequence: str) -> Predictions:
        """Predict one sequence of any length; arrays have no batch axis.

        A sequence shorter than the model accepts is padded with N on both sides (the left pad a
        multiple of the coarsest resolution, so bins stay aligned to the sequence) and the bins that
        overlap the sequence are kept; bin 0 starts at the sequence's first base.
        """
        length = len(sequence)
        valid = self.model.valid_length(length)
        if valid == length:
            return {k: v[0] for k, v in self.predict_batch([sequence]).items()}
        coarsest = self.coarsest_resolution
        left = ((valid - length) // 2 // coarsest) * coarsest
        log.info("padded the %d bp sequence with N to the model's input length %d bp (%d bp on the left)", length,
                 valid, left)
        padded = "N" * left + sequence + "N" * (valid - length - left)
        predictions = {k: v[0] for k, v in self.predict_batch([padded]).items()}
        return crop_predictions(predictions, left, length)[0]

    def iter_intervals(self, reference: Reference, intervals: Iterable[Interval], *,
                       total: int | None = None) -> Iterator[tuple[Interval, Interval, Predictions]]:
        """Yield ``(interval, window, predictions)`` per interval, predicted in batches of equal windows.

        ``window`` is the model input (the interval resized around its centre to a valid length; the
        log says when); predictions (no batch axis) cover the window in + strand order.
        """
        intervals = list(intervals)
        total = len(intervals) if total is None else total
        bar = tqdm(total=total, unit="window", desc=f"predict {self.model.name}", disable=not self.progress)
        resized = 0
        try:
            pending: list[tuple[Interval, Interval]] = []
            for interval in intervals:
                window = self.window(interval)
                if (window.start, window.end) != (interval.start, interval.end):
                    resized += 1
                    if resized <= 3:
                        log.info("resized %s (%d bp) to the model's input window %s (%d bp)", interval,
                                 interval.width, window, window.width)
                pending.append((interval, window))
                if len(pending) == self.batch_size or pending[0][1].width != window.width:
                    yield from self._flush(reference, pending, bar)
                    pending = []
            if pending:
                yield from self._flush(reference, pending, bar)
        finally:
            bar.close()
        if resized > 3:
            log.info("resized %d of %d intervals to the model's input length", resized, len(intervals))

    def _flush(self, reference: Reference, pending: list[tuple[Interval, Interval]],
               bar: tqdm) -> Iterator[tuple[Interval, Interval, Predictions]]:
        by_width: dict[int, list[tuple[Interval, Interval]]] = {}
        for pair in pending:
            by_width.setdefault(pair[1].width, []).append(pair)
        for group in by_width.values():
            sequences = [reference.fetch(window) for _, window in group]
            strands = ["-" if window.strand == "-" else "+" for _, window in group]
            batch = self.predict_batch(sequences, strands=strands)
            for row, (interval, window) in enumerate(group):
                yield interval, window, {k: v[row] for k, v in batch.items()}
            bar.update(len(group))

    def predict_intervals(self, reference: Reference, intervals: Iterable[Interval]) -> list[Predictions]:
        """Predict each interval's window (see :meth:`iter_intervals`); one Predictions per interval."""
        return [predictions for _, _, predictions in self.iter_intervals(reference, intervals)]

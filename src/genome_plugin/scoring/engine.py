"""Scoring whole VCFs: :func:`score_variants` (``genome-plugin score`` on the command line).

How a run goes
--------------
1. Every (record, ALT) of the VCF becomes an *entry*, in input order. Entries that cannot be scored
   keep a ``reason`` (REF mismatch, symbolic/``*``/breakend ALT, contig absent from the FASTA,
   allele too long, outside ``region`` or ``chunk``, ...) and still appear in every output.
2. Scorable entries are grouped into *windows*: the model input of ``sequence_length`` bp centred on
   the nearest multiple of ``window_stride`` to the variant, so variants less than a stride apart
   share one window and its REF prediction. Each variant sits within ``window_stride / 2`` of its
   window's centre; ``window_stride=1`` centres every window on its variant exactly, as the SDK does.
3. REF (once per window) and ALT sequences stream through the model in batches of ``batch_size``;
   each ALT prediction is aligned to REF coordinates for indels and handed to every scorer. A scorer
   or the model failing is not an input problem: the run stops with
   :class:`~genome_plugin.errors.ScorerError` (the checkpoint keeps what was scored before).
4. Scores go to an on-disk ledger (:mod:`genome_plugin.scoring.checkpoint`) every
   ``checkpoint_every`` entries; ``resume=True`` skips what a killed run had stored.
5. Outputs, in input order: ``<scorer>.h5ad`` per scorer, ``scores.tsv`` (the SDK's tidy columns)
   and ``scores.vcf`` (the input VCF with one INFO key per scorer: the ``top_n`` cells by |score|).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from genome_plugin.errors import GenomePluginError, InputError, ScorerError
from genome_plugin.genome.annotation import Annotation, read_gtf
from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.genome.reference import Reference, contig_aliases, variant_sequences
from genome_plugin.genome.sequence import one_hot
from genome_plugin.genome.vcf import read_vcf
from genome_plugin.models import SequenceModel, check_memory, default_length
from genome_plugin.scoring.align import align_alternate
from genome_plugin.scoring.base import ScoreResult, ScoringContext
from genome_plugin.scoring.catalogue import resolve_scorers
from genome_plugin.scoring.checkpoint import Checkpoint, file_sha256
from genome_plugin.scoring.genes import GeneIndex
from genome_plugin.scoring.outputs import (
    FLOAT_FORMAT,
    TSV_TRACK_COLUMNS,
    Entry,
    ScorerOutput,
    quantiles,
    scored_interval,
    summarise,
    tidy_frame,
    tsv_columns,
    write_annotated_vcf,
)
from genome_plugin.selector import parse_selector
from genome_plugin.tracks import OutputType, TrackTable

__all__ = ["DEFAULT_MAX_ALLELE_LENGTH", "ScoreRun", "parse_chunk", "score_variants"]

log = logging.getLogger(__name__)

#: Longer REF or ALT alleles are reported, not scored: indel alignment assumes the allele is small next to the window.
DEFAULT_MAX_ALLELE_LENGTH = 100
DEFAULT_CHECKPOINT_EVERY = 256
DEFAULT_TOP_N = 3


@dataclasses.dataclass
class ScoreRun:
    """What a run wrote and did."""

    out_dir: Path
    vcf: Path
    tsv: Path
    h5ad: dict[str, Path]
    entries: int
    scored: int
    resumed: int
    not_scored: int
    windows: int
    skipped_scorers: dict[str, str]
    seconds: float

    @property
    def variants_per_second(self) -> float:
        done = self.scored - self.resumed
        return done / self.seconds if self.seconds > 0 else math.nan


def parse_chunk(text: str | tuple[int, int] | None) -> tuple[int, int] | None:
    """``"2/8"`` -> (2, 8): the second of eight contiguous blocks of VCF records (1-based)."""
    if text is None or isinstance(text, tuple):
        return text
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        msg = f"cannot parse chunk {text!r}; expected i/n such as 2/8"
        raise InputError(msg) from None
    if not 1 <= i <= n:
        msg = f"chunk {text!r}: need 1 <= i <= n"
        raise InputError(msg)
    return i, n


def _parse_region(region: str | Interval | None) -> Interval | None:
    if region is None or isinstance(region, Interval):
        return region
    if ":" not in region:
        return Interval(region.strip(), 0, 2**62)
    return Interval.parse(region)


@dataclasses.dataclass
class _Plan:
    """Scorers with their output type, resolution and track table, and what the model is asked for."""

    scorers: list[Any]
    resolutions: list[int]
    tracks: dict[OutputType, TrackTable]
    requests: dict[OutputType, np.ndarray | None]
    skipped: dict[str, str]


def _plan(model: SequenceModel, names: Iterable[Any], *, organism: str, annotation: Annotation | None,
          track_query: str | None) -> _Plan:
    from genome_plugin.plugins import get_scorers
    from genome_plugin.predict import NOT_BINNED, select_tracks

    if track_query:
        parse_selector(track_query)  # a bad filter fails before any scorer is resolved, junction-only runs too
    candidates, from_preset = resolve_scorers(names, get_scorers())
    scorers, skipped = [], {}
    for scorer in candidates:
        if hasattr(scorer, "unavailable"):
            reason = scorer.unavailable(model, organism=organism, annotation=annotation)
        else:
            output_type = getattr(scorer, "output_type", None)
            reason = "" if output_type in model.output_types() else f"model {model.name} does not predict it"
        if not reason and _needs_junctions(scorer) and not callable(getattr(model, "junctions", None)):
            reason = f"model {model.name} has no junctions() method (see genome_plugin.scoring.junction)"
        if reason:
            if scorer.name not in from_preset:
                raise GenomePluginError(f"scorer {scorer.name}: {reason}")
            skipped[scorer.name] = reason
            log.debug("skipped scorer %s: %s", scorer.name, reason)
            continue
        scorers.append(scorer)
    if not scorers:
        msg = f"none of the requested scorers can run with model {model.name}: " + "; ".join(
            f"{k}: {v}" for k, v in skipped.items())
        raise GenomePluginError(msg)
    types = list(dict.fromkeys(t for s in scorers for t in (s.output_type, *getattr(s, "requires", ()))))
    # junctions come from model.junctions(), not from the Predictor's track arrays
    binned = [t for t in types if t not in NOT_BINNED]
    requests = select_tracks(model, binned, organism=organism, query=track_query) if binned else {}
    if track_query:
        missing = [s.name for s in scorers if s.output_type not in requests]
        if missing:
            msg = f"track filter {track_query!r} leaves no track for scorer(s) {', '.join(missing)}"
            raise GenomePluginError(msg)
    tracks = {}
    for t in requests:
        table = model.tracks(t, organism)
        tracks[t] = table if requests[t] is None else table.subset(requests[t])
    if OutputType.SPLICE_JUNCTIONS in types:
        tracks[OutputType.SPLICE_JUNCTIONS] = model.tracks(OutputType.SPLICE_JUNCTIONS, organism)
    resolutions = [1 if _needs_junctions(s) else s.resolution_for(model) if hasattr(s, "resolution_for")
                   else min(model.resolutions(s.output_type)) for s in scorers]
    return _Plan(scorers, resolutions, tracks, requests, skipped)


def _entries(vcf: Path, reference: Reference, *, max_allele_length: int, region: Interval | None,
             chunk: tuple[int, int] | None) -> list[Entry]:
    records = list(read_vcf(vcf, reference=reference, max_allele_length=max_allele_length))
    n_records = (records[-1].record + 1) if records else 0
    entries = []
    for index, record in enumerate(records):
        reason = record.reason
        if not reason and region is not None:
            same = record.chrom == region.chrom or record.chrom in contig_aliases(region.chrom)
            if not (same and region.start <= record.pos - 1 < region.end):
                shown = region.chrom if region.end >= 2**62 else str(region).rsplit(":", 1)[0]
                reason = f"outside region {shown}"
        if not reason and chunk is not None:
            i, n = chunk
            if record.record * n // max(n_records, 1) + 1 != i:
                reason = f"outside chunk {i}/{n}"
        entries.append(Entry(index, record, reason))
    return entries


def _needs_junctions(scorer: Any) -> bool:
    return OutputType.SPLICE_JUNCTIONS in (*getattr(scorer, "requires", ()), scorer.output_type)


def _window(variant: Variant, *, length: int, stride: int) -> Interval:
    centre = int(round(variant.start / stride)) * stride if stride > 1 else variant.start
    return Interval(variant.chrom, centre - length // 2, centre - length // 2 + length)


def _junctions(model: SequenceModel, ref_sequence: str, alt_sequence: str, *, window: Interval,
               organism: str, variant: Variant, annotation: Annotation | None) -> tuple[dict, dict, dict[str, Any]]:
    """REF and ALT junction counts from ``model.junctions`` with the junction table in genome coordinates.

    As in the SDK, splice sites may only be chosen in the bodies of the genes overlapping the variant, the
    annotation's own splice sites there are always included, and an indel's ALT is aligned to REF first.
    """
    site_mask = annotated = None
    if annotation is not None:
        site_mask, annotated = GeneIndex.of(annotation).splice_site_masks(variant, window)
    indel = None
    if len(variant.ref) != len(variant.alt):
        indel = (variant.start - window.start, len(variant.ref), len(variant.alt))
    table, ref_counts, alt_counts = model.junctions(one_hot(ref_sequence), one_hot(alt_sequence), organism=organism,
                                                    site_mask=site_mask, annotated_sites=annotated, indel=indel)
    table = table.assign(start=table["start"] + window.start, end=table["end"] + window.start)
    key = (OutputType.SPLICE_JUNCTIONS, 1)
    return {key: np.asarray(ref_counts)}, {key: np.asarray(alt_counts)}, {"junctions": table.reset_index(drop=True)}


def _score_one(plan: _Plan, ref: dict, alt: dict, *, variant: Variant, window: Interval,
               annotation: Annotation | None, organism: str, junctions: Any = None) -> list[ScoreResult | str]:
    """One result per scorer, or a reason string where the model returned no such output.

    A scorer or junction head that raises fails the whole run with :class:`ScorerError` naming the scorer
    and the variant: the failure is the code's, not the input's, and must not end as NaN rows in a run that
    reports success (input problems are reasons set before scoring). Variants scored before it stay in the
    checkpoint for ``--resume``.
    """
    aligned: dict[tuple[OutputType, int], np.ndarray] = {}
    out: list[ScoreResult | str] = []
    extra: dict[str, Any] = {}
    for scorer, resolution in zip(plan.scorers, plan.resolutions):
        key = (scorer.output_type, resolution)
        if _needs_junctions(scorer) and key not in ref:
            try:
                ref_junctions, alt_junctions, extra = junctions()
            except Exception as err:
                msg = f"junction prediction failed on {variant}: {type(err).__name__}: {err}"
                raise ScorerError(msg) from err
            ref, alt = {**ref, **ref_junctions}, {**alt, **alt_junctions}
        if key not in ref:
            out.append(f"model returned no {scorer.output_type.value} at {resolution} bp")
            continue
        ref_values, alt_values = ref[key], alt[key]
        if ref_values.ndim == 2 and len(variant.ref) != len(variant.alt):
            if key not in aligned:
                aligned[key] = align_alternate(alt_values, ref_values, variant=variant, interval=window,
                                               resolution=resolution)
            alt_values = aligned[key]
        context = ScoringContext(variant=variant, interval=window, resolution=resolution,
                                 tracks=plan.tracks[scorer.output_type], output_type=scorer.output_type,
                                 annotation=annotation, organism=organism,
                                 extra=extra if key[0] is OutputType.SPLICE_JUNCTIONS else {})
        try:
            result = scorer.score(ref_values, alt_values, context=context)
        except Exception as err:
            msg = f"scorer {scorer.name} failed on {variant}: {type(err).__name__}: {err}"
            raise ScorerError(msg) from err
        if not isinstance(result, ScoreResult) or result.values.shape[1] != len(context.tracks):
            msg = (f"scorer {scorer.name} returned {type(result).__name__} on {variant}, not a ScoreResult over "
                   f"{len(context.tracks)} tracks")
            raise ScorerError(msg)
        out.append(result)
    return out


def score_variants(
    model: SequenceModel | str,
    reference: Reference | str | os.PathLike[str],
    vcf: str | os.PathLike[str],
    *,
    scorers: Sequence[Any] = ("recommended",),
    annotation: Annotation | str | os.PathLike[str] | None = None,
    out_dir: str | os.PathLike[str],
    region: str | Interval | None = None,
    chunk: str | tuple[int, int] | None = None,
    resume: bool = False,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    batch_size: int = 4,
    background_vcf: str | os.PathLike[str] | None = None,
    top_n: int = DEFAULT_TOP_N,
    organism: str = "human",
    sequence_length: int | None = None,
    window_stride: int | None = None,
    max_allele_length: int = DEFAULT_MAX_ALLELE_LENGTH,
    track_query: str | None = None,
    rc_average: bool = False,
    progress: bool = True,
) -> ScoreRun:
    """Score every variant of a VCF with the given scorers; write per-scorer AnnData, a TSV and a VCF.

    Parameters
    ----------
    model
        A :class:`~genome_plugin.models.SequenceModel` or a registered model name.
    reference
        The FASTA the VCF was called against.
    vcf
        Variants (plain or bgzipped VCF); every (record, ALT) appears in every output.
    scorers
        Registered scorer names, presets (``"recommended"``) or scorer objects. Preset members the
        model cannot run are skipped (and listed in the result); explicitly named ones raise.
    annotation
        Genes (a GTF path or :class:`~genome_plugin.genome.Annotation`) for gene-level scorers.
    out_dir
        Output folder: ``scores.vcf``, ``scores.tsv``, ``<scorer>.h5ad``, and the checkpoint while running.
    region
        Only score variants in ``chrom`` or ``chrom:start-end`` (0-based, end exclusive); others get a reason.
    chunk
        ``"i/n"``: only score the i-th of n contiguous blocks of VCF records (for splitting a job).
    resume
        Continue a killed run from its checkpoint in ``out_dir`` (same settings required).
    checkpoint_every
        Store scores on disk after this many scored variants.
    batch_size
        Sequences (REF and ALT) per model call.
    background_vcf
        Variants whose scores form the background distribution for ``layers["quantiles"]`` and the
        TSV's ``quantile_score`` (e.g. common variants from your population).
    top_n
        Cells (tracks, or gene x track) per scorer shown in the VCF's INFO, largest |score| first.
    organism
        Organism of the model's track tables.
    sequence_length
        Model input length; default the longest the model accepts, or 131,072 bp for models that
        take any length.
    window_stride
        Window centres lie on multiples of this (bp); default ``sequence_length // 16`` rounded to the
        coarsest resolution. 1 centres each window on its variant exactly (no REF reuse).
    max_allele_length
        Longer REF or ALT alleles are reported as not scored.
    track_query
        Keep only tracks matching this track filter (:mod:`genome_plugin.selector`, e.g. ``'strand == "+"'``).
    rc_average
        Average forward and reverse-complement predictions.
    progress
        Show a progress bar (variants/s and ETA).
    """
    from genome_plugin.plugins import load_model
    from genome_plugin.predict import Predictor

    started = time.perf_counter()
    if isinstance(model, str):
        model = load_model(model)
    if not isinstance(reference, Reference):
        reference = Reference(reference)
    if annotation is not None and not isinstance(annotation, Annotation):
        annotation = read_gtf(annotation)
    vcf = Path(vcf)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if batch_size < 1 or checkpoint_every < 1 or top_n < 0:
        msg = "batch_size and checkpoint_every must be >= 1 and top_n >= 0"
        raise InputError(msg)
    chunk = parse_chunk(chunk)
    region_interval = _parse_region(region)
    plan = _plan(model, scorers, organism=organism, annotation=annotation, track_query=track_query)
    length = _sequence_length(model, sequence_length)
    check_memory(model, length, batch=2 * batch_size, flag="a shorter --sequence-length")  # REF and ALT
    coarsest = max((r for t in plan.requests for r in model.resolutions(t)), default=1)
    stride = window_stride if window_stride is not None else max(coarsest, (length // 16) // coarsest * coarsest)
    if stride < 1:
        msg = f"window_stride must be >= 1, got {stride}"
        raise InputError(msg)
    entries = _entries(vcf, reference, max_allele_length=max_allele_length, region=region_interval, chunk=chunk)
    predictor = Predictor(model, organism=organism, requests=plan.requests, batch_size=batch_size,
                          rc_average=rc_average, progress=False)
    fingerprint = {
        "vcf": vcf.name, "vcf_sha256": file_sha256(vcf), "reference": reference.name,
        "model": model.name, "model_version": model.version, "checkpoint_sha256": model.card().get("weights_sha256"),
        "scorers": [s.name for s in plan.scorers], "organism": organism, "sequence_length": length,
        "window_stride": stride, "region": str(region or ""), "chunk": list(chunk or ()),
        "max_allele_length": max_allele_length, "track_query": track_query or "", "rc_average": rc_average,
        "annotation": getattr(annotation, "source", "") and Path(annotation.source).name,
    }
    ledger = Checkpoint(out_dir, fingerprint, resume=resume)
    done = ledger.done()
    todo = [e for e in entries if not e.reason and e.index not in done]
    resumed = sum(1 for e in entries if not e.reason and e.index in done)
    if resumed:
        log.info("resuming: %d variant(s) already scored, %d to go", resumed, len(todo))
    windows = _run(predictor, plan, reference, todo, ledger=ledger, length=length, stride=stride,
                   annotation=annotation, organism=organism, checkpoint_every=checkpoint_every,
                   progress=progress)
    background = None
    if background_vcf is not None:
        background = _background(predictor, plan, reference, Path(background_vcf), length=length, stride=stride,
                                 annotation=annotation, organism=organism, max_allele_length=max_allele_length,
                                 progress=progress)
    run = _write(plan, entries, ledger, out_dir=out_dir, vcf=vcf, model=model, reference=reference,
                 background=background, top_n=top_n, uns={
                     "vcf": vcf.name, "organism": organism, "sequence_length": length, "window_stride": stride,
                     "rc_average": rc_average, "region": str(region or ""), "chunk": "/".join(map(str, chunk or ())),
                     "background_vcf": Path(background_vcf).name if background_vcf else "",
                     "annotation": fingerprint["annotation"] or ""})
    ledger.remove()
    run.resumed = resumed
    run.windows = windows
    run.seconds = time.perf_counter() - started
    run.skipped_scorers = plan.skipped
    return run


def _sequence_length(model: SequenceModel, requested: int | None) -> int:
    return default_length(model, requested)


def _run(predictor: Any, plan: _Plan, reference: Reference, todo: list[Entry], *, ledger: Checkpoint | None,
         length: int, stride: int, annotation: Annotation | None, organism: str, checkpoint_every: int,
         progress: bool, collect: list | None = None) -> int:
    """Predict and score ``todo``; results go to ``ledger`` (or ``collect``). Returns the number of windows."""
    groups: dict[tuple[str, int], list[Entry]] = {}
    for entry in todo:
        window = _window(entry.record.variant, length=length, stride=stride)
        groups.setdefault((window.chrom, window.start), []).append(entry)
    contig_order = {name: i for i, name in enumerate(reference.contigs)}
    keys = sorted(groups, key=lambda k: (contig_order.get(reference.resolve(k[0]) or "", len(contig_order)), k))
    jobs: list[tuple[tuple[str, int], Entry | None]] = []
    for key in keys:
        jobs.append((key, None))
        jobs += [(key, e) for e in groups[key]]
    remaining = {key: len(groups[key]) for key in keys}
    ref_predictions: dict[tuple[str, int], dict] = {}
    ref_sequences: dict[tuple[str, int], str] = {}
    buffer: tuple[list[int], list[str], list[list]] = ([], [], [])
    bar = tqdm(total=len(todo), unit="variant", desc="score", disable=not progress, dynamic_ncols=True)
    try:
        for first in range(0, len(jobs), predictor.batch_size):
            batch = jobs[first:first + predictor.batch_size]
            sequences = []
            for (chrom, start), entry in batch:
                window = Interval(chrom, start, start + length)
                if entry is None:
                    sequences.append(reference.fetch(window))
                else:
                    sequences.append(variant_sequences(reference, window, entry.record.variant)[1])
            predictions = predictor.predict_batch(sequences) if predictor.requests else {}
            for row, (key, entry) in enumerate(batch):
                values = {k: v[row] for k, v in predictions.items()}
                if entry is None:
                    ref_predictions[key] = values
                    ref_sequences[key] = sequences[row]
                    continue
                window = Interval(key[0], key[1], key[1] + length)
                junctions = functools.partial(_junctions, predictor.model, ref_sequences[key], sequences[row],
                                              window=window, organism=organism, variant=entry.record.variant,
                                              annotation=annotation)
                results = _score_one(plan, ref_predictions[key], values, variant=entry.record.variant,
                                     window=window, annotation=annotation, organism=organism, junctions=junctions)
                remaining[key] -= 1
                if not remaining[key]:
                    del ref_predictions[key], ref_sequences[key]
                if collect is not None:
                    collect.append(results)
                else:
                    buffer[0].append(entry.index)
                    buffer[1].append(scored_interval(window, reference.length(window.chrom)))
                    buffer[2].append(results)
                    if len(buffer[0]) >= checkpoint_every:
                        ledger.write(*buffer)
                        buffer = ([], [], [])
                bar.update(1)
    finally:
        # also on Ctrl-C or a crash: the variants scored so far are complete, keep them for --resume
        if buffer[0] and ledger is not None:
            ledger.write(*buffer)
        bar.close()
    return len(keys)


def _background(predictor: Any, plan: _Plan, reference: Reference, vcf: Path, *, length: int, stride: int,
                annotation: Annotation | None, organism: str, max_allele_length: int,
                progress: bool) -> list[np.ndarray]:
    """Raw scores of the background variants, per scorer ``(rows, tracks)``."""
    entries = _entries(vcf, reference, max_allele_length=max_allele_length, region=None, chunk=None)
    usable = [e for e in entries if not e.reason]
    if not usable:
        raise InputError("the background VCF has no variant that can be scored", path=vcf)
    log.info("scoring %d background variant(s) for quantiles", len(usable))
    collected: list[list] = []
    _run(predictor, plan, reference, usable, ledger=None, length=length, stride=stride, annotation=annotation,
         organism=organism, checkpoint_every=1, progress=progress, collect=collected)
    out = []
    for k, scorer in enumerate(plan.scorers):
        blocks = [r[k].values for r in collected if isinstance(r[k], ScoreResult) and len(r[k].rows)]
        n_tracks = len(plan.tracks[scorer.output_type])
        out.append(np.concatenate(blocks) if blocks else np.zeros((0, n_tracks), dtype=np.float32))
    return out


def _write(plan: _Plan, entries: list[Entry], ledger: Checkpoint, *, out_dir: Path, vcf: Path, model: SequenceModel,
           reference: Reference, background: list[np.ndarray] | None, top_n: int, uns: dict[str, Any]) -> ScoreRun:
    stored = ledger.read([len(plan.tracks[s.output_type]) for s in plan.scorers])
    extra_columns = [c for c in TSV_TRACK_COLUMNS if any(c in t.df.columns for t in plan.tracks.values())]
    tsv = out_dir / "scores.tsv"
    columns = tsv_columns(extra_columns, with_quantile=background is not None)
    h5ad: dict[str, Path] = {}
    summaries: dict[str, dict] = {}
    descriptions: dict[str, str] = {}
    with open(tsv, "w", newline="\n") as handle:
        handle.write("\t".join(columns) + "\n")
        for k, (scorer, resolution) in enumerate(zip(plan.scorers, plan.resolutions)):
            output = ScorerOutput.assemble(scorer, scorer.output_type, resolution, plan.tracks[scorer.output_type],
                                           entries, stored, k)
            if background is not None:
                output.quantile = quantiles(output.values, background[k], signed=bool(getattr(scorer, "signed", True)))
            h5ad[scorer.name] = output.write_h5ad(out_dir / f"{scorer.name}.h5ad", model=model,
                                                  reference=reference.name, uns=uns)
            frame = tidy_frame(output, extra_columns=extra_columns, with_quantile=background is not None)
            frame[columns].to_csv(handle, sep="\t", index=False, header=False, float_format=FLOAT_FORMAT,
                                  lineterminator="\n")
            summaries[scorer.name] = summarise(output, top_n=top_n)
            what = getattr(scorer, "description", "") or scorer.name
            descriptions[scorer.name] = (f"{_quote(what)}; top {top_n} cells by abs(score) as "
                                         f"[gene/]track:score joined by | (genome-plugin, model {model.name})")
    header = [f"##genome_plugin_scoring=<model={model.name},model_version={model.version},"
              f"reference={reference.name},window={uns['sequence_length']},stride={uns['window_stride']}>"]
    vcf_out = write_annotated_vcf(vcf, out_dir / "scores.vcf", entries=entries, summaries=summaries,
                                  descriptions=descriptions, header_lines=header)
    scored = sum(1 for e in entries if not e.reason)
    return ScoreRun(out_dir=out_dir, vcf=vcf_out, tsv=tsv, h5ad=h5ad, entries=len(entries), scored=scored,
                    resumed=0, not_scored=len(entries) - scored, windows=0, skipped_scorers={}, seconds=0.0)


def _quote(text: str) -> str:
    return text.replace('"', "'").replace("\n", " ")

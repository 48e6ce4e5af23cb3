"""The AnnData schema: one contract for track predictions, contact maps and variant scores.

- ``var`` is always a track table (``name``, ``strand`` and metadata columns; unique (name, strand)).
- ``uns["genome_plugin"]`` always records the kind of result, model name/version, checkpoint hash,
  output type, resolution, genome_plugin version and reference FASTA name (plus the scorer for scores);
  ``weights`` says when they are a random initialisation (the outputs are then not predictions).
- ``obs`` depends on the kind:
  ``tracks``: genomic bins with ``chrom``, ``start``, ``end``, ``interval_id``;
  ``contact_map``: upper-triangle pixels with ``bin1_id``, ``bin2_id``, ``chrom``, ``start1``, ``end1``,
  ``start2``, ``end2``, ``interval_id``;
  ``variant_scores``: rows with ``variant_id``, ``chrom``, ``pos``, ``ref``, ``alt``, ``reason``
  (empty when scored; the row is NaN then), optionally gene/junction columns under the AlphaGenome
  SDK's names (``gene_id``, ``strand``, ``gene_name``, ``gene_type``, ``junction_Start``,
  ``junction_End``); ``layers["quantiles"]`` when a background was scored; ``uns["variant_scorer"]``
  the SDK scorer's repr (see :mod:`genome_plugin.scoring.sdk`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval
from genome_plugin.models import weights_note
from genome_plugin.tracks import TrackTable

__all__ = ["KINDS", "provenance", "read_h5ad", "tracks_to_anndata", "validate", "write_h5ad"]

KINDS = ("tracks", "contact_map", "variant_scores")
UNS_KEY = "genome_plugin"
PROVENANCE_KEYS = ("kind", "model", "model_version", "checkpoint_sha256", "output_type", "resolution",
                   "genome_plugin_version", "reference")
OBS_COLUMNS = {
    "tracks": ("chrom", "start", "end", "interval_id"),
    "contact_map": ("bin1_id", "bin2_id", "chrom", "start1", "end1", "start2", "end2", "interval_id"),
    "variant_scores": ("variant_id", "chrom", "pos", "ref", "alt", "reason"),
}


def provenance(kind: str, *, model: Any = None, output_type: Any = None, resolution: int | None = None,
               reference: str | os.PathLike[str] | None = None, **extra: Any) -> dict[str, Any]:
    """The ``uns["genome_plugin"]`` record for a result; ``model`` is a SequenceModel (or None)."""
    from genome_plugin import __version__

    card = model.card() if model is not None else {}
    record = {
        "kind": kind,
        "model": str(card.get("name", getattr(model, "name", "")) or ""),
        "model_version": str(card.get("version", getattr(model, "version", "")) or ""),
        "checkpoint_sha256": str(card.get("weights_sha256", "") or ""),
        "output_type": "" if output_type is None else str(getattr(output_type, "value", output_type)),
        "resolution": int(resolution) if resolution is not None else -1,
        "genome_plugin_version": __version__,
        "reference": os.path.basename(str(reference)) if reference else "",
        "weights": weights_note(card),
    }
    record.update({k: _h5_safe(v) for k, v in extra.items()})
    return record


def _h5_safe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _h5_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [str(v) if not isinstance(v, int | float) else v for v in value]
    if value is None:
        return ""
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, int | float | str | bool | np.ndarray) else str(value)


def tracks_to_anndata(values: np.ndarray, *, interval: Interval, resolution: int, tracks: TrackTable,
                      uns: dict[str, Any], interval_id: str | None = None) -> ad.AnnData:
    """Track predictions ``(bins, tracks)`` over ``interval`` as AnnData (obs = bins, + strand order)."""
    bins = values.shape[0]
    starts = interval.start + resolution * np.arange(bins)
    obs = pd.DataFrame({
        "chrom": pd.Categorical([interval.chrom] * bins),
        "start": starts.astype(np.int64),
        "end": (starts + resolution).astype(np.int64),
        "interval_id": pd.Categorical([interval_id or str(interval)] * bins),
    })
    obs.index = [f"{interval.chrom}:{s}-{s + resolution}" for s in starts]
    adata = ad.AnnData(X=np.asarray(values, dtype=np.float32), obs=obs, var=tracks.to_var())
    adata.uns[UNS_KEY] = uns
    return validate(adata)


def validate(adata: ad.AnnData) -> ad.AnnData:
    """Check ``adata`` against the schema; raise ValueError naming the first problem. Returns ``adata``."""
    meta = adata.uns.get(UNS_KEY)
    if not isinstance(meta, Mapping):
        msg = f"AnnData has no uns[{UNS_KEY!r}] provenance record"
        raise InputError(msg)
    missing = [k for k in PROVENANCE_KEYS if k not in meta]
    if missing:
        msg = f"uns[{UNS_KEY!r}] lacks {', '.join(missing)}"
        raise InputError(msg)
    kind = meta["kind"]
    if kind not in KINDS:
        msg = f"uns[{UNS_KEY!r}]['kind'] is {kind!r}; expected one of {', '.join(KINDS)}"
        raise InputError(msg)
    TrackTable(adata.var, source="adata.var")
    missing = [c for c in OBS_COLUMNS[kind] if c not in adata.obs.columns]
    if missing:
        msg = f"{kind} AnnData: obs lacks column(s) {', '.join(missing)}"
        raise InputError(msg)
    if not adata.obs.index.is_unique:
        msg = f"{kind} AnnData: obs names are not unique"
        raise InputError(msg)
    if kind == "tracks" and len(adata.obs) and (adata.obs["end"] <= adata.obs["start"]).any():
        msg = "tracks AnnData: a bin has end <= start"
        raise ValueError(msg)
    if kind == "contact_map" and len(adata.obs) and (adata.obs["bin2_id"] < adata.obs["bin1_id"]).any():
        msg = "contact_map AnnData: pixels must be upper-triangle (bin1_id <= bin2_id)"
        raise ValueError(msg)
    if kind == "variant_scores":
        scored = adata.obs["reason"].astype(str) == ""
        for layer in ("quantiles", "quantile"):  # "quantile": files written before the SDK's name was used
            if layer in adata.layers and adata.layers[layer].shape != adata.shape:
                msg = f"variant_scores AnnData: layers[{layer!r}] has the wrong shape"
                raise ValueError(msg)
        if adata.n_vars and (~scored).any() and not np.all(np.isnan(np.asarray(adata.X)[~scored.to_numpy()])):
            msg = "variant_scores AnnData: unscored rows (with a reason) must hold NaN"
            raise ValueError(msg)
    return adata


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike[str]) -> None:
    """Validate and write (gzip-compressed) h5ad; repeated-string obs/var columns are stored as categoricals."""
    validate(adata)
    for frame in (adata.obs, adata.var):
        _strings_to_categoricals(frame)
    adata.write_h5ad(path, compression="gzip")


def _strings_to_categoricals(frame: pd.DataFrame) -> None:
    """anndata's own rule (string columns with repeated values become categorical), without its log line per column."""
    for column in frame.columns:
        if pd.api.types.infer_dtype(frame[column]) != "string":
            continue
        values = pd.Categorical(frame[column])
        if len(values.categories) < len(values):
            frame[column] = values


def read_h5ad(path: str | os.PathLike[str]) -> ad.AnnData:
    """Read an h5ad written by genome-plugin and validate it."""
    return validate(ad.read_h5ad(path))


def contact_map_to_anndata(values: np.ndarray, *, interval: Interval, resolution: int, tracks: TrackTable,
                           uns: dict[str, Any], interval_id: str | None = None) -> ad.AnnData:
    """Contact maps ``(bins, bins, tracks)`` over ``interval`` as AnnData with one obs row per upper-triangle pixel.

    ``bin1_id``/``bin2_id`` count bins from the interval start (``bin1_id <= bin2_id``); ``start1`` etc. are
    genomic coordinates, so a writer can place the pixels on a genome-wide bin grid.
    """
    bins = values.shape[0]
    if values.ndim != 3 or values.shape[1] != bins:
        msg = f"contact maps must be (bins, bins, tracks); got shape {values.shape}"
        raise ValueError(msg)
    first, second = np.triu_indices(bins)
    starts = (interval.start + resolution * np.arange(bins)).astype(np.int64)
    label = interval_id or str(interval)
    obs = pd.DataFrame({
        "bin1_id": first.astype(np.int64),
        "bin2_id": second.astype(np.int64),
        "chrom": pd.Categorical([interval.chrom] * len(first)),
        "start1": starts[first],
        "end1": starts[first] + resolution,
        "start2": starts[second],
        "end2": starts[second] + resolution,
        "interval_id": pd.Categorical([label] * len(first)),
    })
    obs.index = [f"{label}|{a}-{b}" for a, b in zip(first, second)]
    adata = ad.AnnData(X=np.asarray(values[first, second], dtype=np.float32), obs=obs, var=tracks.to_var())
    adata.uns[UNS_KEY] = uns
    return validate(adata)


def contact_map_matrix(adata: ad.AnnData, track: int | str = 0, *, layer: str | None = None,
                       interval_id: str | None = None) -> np.ndarray:
    """The symmetric ``(bins, bins)`` matrix of one track (index or var name) of a contact-map AnnData.

    ``interval_id`` picks one interval when the AnnData holds several (default: the first).
    """
    column = adata.var_names.get_loc(track) if isinstance(track, str) else int(track)
    obs = adata.obs
    ids = obs["interval_id"].astype(str)
    wanted = ids.iloc[0] if interval_id is None else interval_id
    rows = np.flatnonzero(ids.to_numpy() == wanted)
    if not len(rows):
        msg = f"no contact-map pixels for interval {wanted!r}"
        raise InputError(msg)
    data = adata.layers[layer] if layer else adata.X
    values = np.asarray(data[rows, column], dtype=np.float32).ravel()
    first = obs["bin1_id"].to_numpy()[rows]
    second = obs["bin2_id"].to_numpy()[rows]
    bins = int(max(first.max(), second.max())) + 1
    matrix = np.full((bins, bins), np.nan, dtype=np.float32)
    matrix[first, second] = values
    matrix[second, first] = values
    return matrix

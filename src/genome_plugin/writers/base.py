"""The writer interface (a file format for results) and the helpers every writer shares.

A writer is any object with ``name``, ``suffix``, ``description`` and
``write(adata, out_dir, *, reference=None, basename="predictions", **options) -> list[Path]``;
plugins register them with the ``register_writers`` hook. Subclassing :class:`Writer` is optional.

File naming, shared by the per-track formats (bigWig, bedGraph, .cool):
``<basename>[.<layer>].<track><suffix>``, where ``<track>`` is the track name made file-safe with
``.plus``/``.minus`` for stranded tracks, ``<layer>`` is absent for ``X`` and is ``ref``/``alt`` for the
layers of REF/ALT predictions.
"""

from __future__ import annotations

import abc
import logging
import os
import re
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.genome.reference import Reference

__all__ = ["Writer", "chrom_sizes", "file_part", "kind_of", "layers_to_write", "sorted_bins", "track_stems"]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=-]+")
_STRAND_SUFFIX = {"+": ".plus", "-": ".minus", ".": ""}


class Writer(abc.ABC):
    """Base class of the built-in writers."""

    name: str = ""
    suffix: str = ""
    description: str = ""
    #: The AnnData kinds (``uns["genome_plugin"]["kind"]``) this writer can write.
    kinds: tuple[str, ...] = ("tracks", "contact_map", "variant_scores")

    @abc.abstractmethod
    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        """Write ``adata`` under ``out_dir``; return the files written."""

    def check(self, adata: ad.AnnData) -> str:
        """The AnnData's kind; raise ValueError when this writer cannot write it."""
        kind = kind_of(adata)
        if kind not in self.kinds:
            msg = f"the {self.name} writer cannot write {kind} results (it writes {', '.join(self.kinds)})"
            raise InputError(msg)
        return kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} ({self.suffix})>"


def kind_of(adata: ad.AnnData) -> str:
    """The result kind recorded in ``uns["genome_plugin"]``."""
    return str(adata.uns.get("genome_plugin", {}).get("kind", ""))


def file_part(text: str, *, empty: str = "_") -> str:
    """``text`` as one part of a file name: no ``/``, never ``..``, so a file named from it stays in its folder.

    Characters other than letters, digits and ``_ . + = -`` become ``_``; leading and trailing dots and
    underscores go; ``empty`` stands in when nothing is left.
    """
    return _UNSAFE.sub("_", text).strip("._") or empty


def track_stems(var: pd.DataFrame) -> list[str]:
    """File-safe, unique stems for each track (``name`` plus ``.plus``/``.minus`` for stranded tracks)."""
    stems = []
    seen: dict[str, int] = {}
    for name, strand in zip(var["name"].astype(str), var["strand"].astype(str)):
        stem = file_part(name, empty="track") + _STRAND_SUFFIX.get(strand, "")
        if stem in seen:  # two names that differ only in unsafe characters
            seen[stem] += 1
            stem = f"{stem}_{seen[stem]}"
        else:
            seen[stem] = 0
        stems.append(stem)
    return stems


def layers_to_write(adata: ad.AnnData) -> list[tuple[str, np.ndarray]]:
    """``("", X)`` then ``(layer, values)`` for each layer: file-name part and values."""
    return [("", np.asarray(adata.X)), *((name, np.asarray(adata.layers[name])) for name in adata.layers)]


def chrom_sizes(adata: ad.AnnData, reference: Reference | None, *, end_columns: tuple[str, ...] = ("end",)
                ) -> dict[str, int]:
    """Chromosome sizes: every contig of the FASTA index when ``reference`` is given (in FASTA order).

    Without a reference, each chromosome in ``obs`` gets the largest bin end seen (the file then only
    covers the predicted region, which genome browsers accept).
    """
    if reference is not None:
        return reference.contigs
    obs = adata.obs
    sizes: dict[str, int] = {}
    for chrom, group in obs.groupby(obs["chrom"].astype(str), sort=False, observed=True):
        sizes[str(chrom)] = int(max(group[c].max() for c in end_columns))
    return sizes


def sorted_bins(adata: ad.AnnData, sizes: dict[str, int], *, label: str) -> np.ndarray:
    """Row order of ``adata.obs`` bins sorted by (chromosome order, start), without overlaps or off-genome bins.

    Bins past a chromosome end (N padding) or before its start are dropped; where windows overlap, the
    first bin (in sorted order) wins and the rest are dropped; both are logged.
    """
    obs = adata.obs
    chroms = obs["chrom"].astype(str).to_numpy()
    order_of = {c: i for i, c in enumerate(sizes)}
    unknown = sorted(set(chroms) - set(order_of))
    if unknown:
        msg = f"{label}: chromosome {unknown[0]} is not in the reference FASTA"
        raise InputError(msg)
    starts = obs["start"].to_numpy(dtype=np.int64)
    ends = obs["end"].to_numpy(dtype=np.int64)
    limit = np.array([sizes[c] for c in chroms], dtype=np.int64)
    inside = (starts >= 0) & (starts < limit)
    rank = np.array([order_of[c] for c in chroms], dtype=np.int64)
    order = np.lexsort((starts, rank))
    order = order[inside[order]]
    keep = np.ones(len(order), dtype=bool)
    last_chrom, last_end = -1, -1
    for i, row in enumerate(order):  # a running end per chromosome drops overlapping bins
        if rank[row] != last_chrom:
            last_chrom, last_end = rank[row], -1
        if starts[row] < last_end:
            keep[i] = False
        else:
            last_end = min(ends[row], limit[row])
    dropped_outside = int((~inside).sum())
    dropped_overlap = int((~keep).sum())
    if dropped_outside or dropped_overlap:
        log.info("%s: left out %d bin(s) outside the chromosomes and %d overlapping bin(s)", label,
                 dropped_outside, dropped_overlap)
    return order[keep]

"""Output types, their resolutions, and the validated track table that becomes ``adata.var``."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError
from genome_plugin.selector import Selector, UnknownColumnError, parse_selector, snake_case

__all__ = ["OutputType", "TrackTable", "STRANDS"]

STRANDS = ("+", "-", ".")


class OutputType(enum.Enum):
    """The 11 kinds of genome tracks an AlphaGenome-class model predicts.

    The value is the name used on the command line, in file names and in ``adata.uns``.
    """

    ATAC = "atac"
    CAGE = "cage"
    DNASE = "dnase"
    RNA_SEQ = "rna_seq"
    PROCAP = "procap"
    CHIP_HISTONE = "chip_histone"
    CHIP_TF = "chip_tf"
    SPLICE_SITES = "splice_sites"
    SPLICE_SITE_USAGE = "splice_site_usage"
    SPLICE_JUNCTIONS = "splice_junctions"
    CONTACT_MAPS = "contact_maps"

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Resolutions in bp at which the published model predicts this type (finest first).

        Splice junctions are a list of (donor, acceptor) pairs, given resolution 1 bp for their coordinates.
        """
        return _RESOLUTIONS[self]

    @property
    def is_pairwise(self) -> bool:
        """Whether predictions are 2-D (bins x bins) rather than 1-D tracks."""
        return self in (OutputType.CONTACT_MAPS, OutputType.SPLICE_JUNCTIONS)

    @classmethod
    def parse(cls, value: str | OutputType) -> OutputType:
        """Accept ``OutputType``, ``"DNASE"``, ``"dnase"`` or ``"OutputType.DNASE"``."""
        if isinstance(value, OutputType):
            return value
        key = str(value).strip().split(".")[-1]
        for member in cls:
            if key.lower() == member.value or key.upper() == member.name:
                return member
        choices = ", ".join(m.value for m in cls)
        msg = f"unknown output type {value!r}; choose from {choices}"
        raise InputError(msg)


_RESOLUTIONS: dict[OutputType, tuple[int, ...]] = {
    OutputType.ATAC: (1, 128),
    OutputType.CAGE: (1, 128),
    OutputType.DNASE: (1, 128),
    OutputType.RNA_SEQ: (1, 128),
    OutputType.PROCAP: (1, 128),
    OutputType.CHIP_HISTONE: (128,),
    OutputType.CHIP_TF: (128,),
    OutputType.SPLICE_SITES: (1,),
    OutputType.SPLICE_SITE_USAGE: (1,),
    OutputType.SPLICE_JUNCTIONS: (1,),
    OutputType.CONTACT_MAPS: (2048,),
}


class TrackTable:
    """Validated track metadata: one row per track, unique ``(name, strand)``; becomes ``adata.var``.

    Column names are normalised to snake case (``"Assay title"`` -> ``assay_title``) so that track
    filters read the same for every model. ``name`` and ``strand`` (one of ``+ - .``) are required.
    """

    REQUIRED = ("name", "strand")

    def __init__(self, df: pd.DataFrame | Iterable[dict[str, Any]], *, source: str = "track table") -> None:
        frame = pd.DataFrame(df).copy()
        frame.columns = [snake_case(str(c)) for c in frame.columns]
        missing = [c for c in self.REQUIRED if c not in frame.columns]
        if missing:
            msg = f"{source}: missing required column(s) {', '.join(missing)}"
            raise InputError(msg)
        frame["name"] = frame["name"].astype(str)
        frame["strand"] = frame["strand"].astype(str)
        bad = ~frame["strand"].isin(STRANDS)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            msg = f"{source}: track {frame['name'].iloc[row]!r} has strand {frame['strand'].iloc[row]!r}; use + - or ."
            raise InputError(msg)
        dup = frame.duplicated(["name", "strand"])
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            msg = f"{source}: duplicate track ({frame['name'].iloc[row]!r}, {frame['strand'].iloc[row]!r})"
            raise InputError(msg)
        frame.index = pd.Index([f"{n}{s if s != '.' else ''}" for n, s in zip(frame["name"], frame["strand"])])
        frame.index = frame.index.astype(str)
        if frame.index.duplicated().any():
            frame.index = pd.Index([f"{n}:{s}" for n, s in zip(frame["name"], frame["strand"])])
        self._df = frame

    @property
    def df(self) -> pd.DataFrame:
        """The table as a DataFrame (a copy; index = unique track ids)."""
        return self._df.copy()

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        return f"TrackTable({len(self)} tracks, columns={list(self._df.columns)})"

    @property
    def names(self) -> list[str]:
        return list(self._df["name"])

    @property
    def strands(self) -> list[str]:
        return list(self._df["strand"])

    def subset(self, indices: Sequence[int] | np.ndarray) -> TrackTable:
        """The tracks at ``indices``, in that order."""
        return TrackTable(self._df.iloc[np.asarray(indices, dtype=int)].reset_index(drop=True))

    def select(self, query: str | Selector | None = None, **column_equals: Any) -> tuple[TrackTable, np.ndarray]:
        """Select tracks by a track filter (:mod:`genome_plugin.selector`) and/or column equality.

        ``table.select(assay_title="DNase-seq")``, ``table.select(ontology_curie="UBERON:0002048")``,
        ``table.select('biosample_name contains "lung" and strand != "-"')``. A list value matches any of
        its items. The filter is parsed, never evaluated as Python.

        Returns
        -------
        The selected table and the indices of its rows in this table.

        Raises
        ------
        SelectorSyntaxError
            For a filter outside the grammar.
        UnknownColumnError
            For a column this table lacks (the message lists the columns).
        """
        mask = np.ones(len(self._df), dtype=bool)
        for column, value in column_equals.items():
            key = snake_case(column)
            if key not in self._df.columns:
                msg = f"no track column {column!r}; columns are {', '.join(self._df.columns)}"
                raise UnknownColumnError(msg)
            values = value if isinstance(value, list | tuple | set) else [value]
            mask &= self._df[key].isin(values).to_numpy()
        if query:
            selector = query if isinstance(query, Selector) else parse_selector(query)
            mask &= selector.mask(self._df.reset_index(drop=True))
        indices = np.flatnonzero(mask)
        return self.subset(indices), indices

    def strand_swap(self) -> np.ndarray:
        """Permutation ``p`` with ``tracks[p[i]]`` the opposite-strand twin of track ``i`` (itself if none).

        Used for reverse-complement averaging: a prediction made on the reverse complement has its
        ``+`` and ``-`` tracks exchanged.
        """
        lookup = {(n, s): i for i, (n, s) in enumerate(zip(self._df["name"], self._df["strand"]))}
        flip = {"+": "-", "-": "+", ".": "."}
        return np.array(
            [lookup.get((n, flip[s]), i) for i, (n, s) in enumerate(zip(self._df["name"], self._df["strand"]))],
            dtype=int,
        )

    def to_var(self) -> pd.DataFrame:
        """The table as ``adata.var`` (string index, h5ad-safe columns)."""
        var = self._df.copy()
        for column in var.columns:
            if var[column].dtype == object:
                var[column] = var[column].astype(str)
        return var

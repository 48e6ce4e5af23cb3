"""The scorer interface every variant scorer implements (built-in or from a plugin).

A scorer turns one window's REF and ALT predictions of one output type at one resolution into
scores: one row per variant (variant-level scorers such as CenterMask) or one row per gene or
junction (gene-level scorers), and one column per track.

Contract of :meth:`Scorer.score`:

- ``ref`` and ``alt`` are ``(bins, tracks)`` arrays at ``context.resolution`` over ``context.interval``
  (``(n, n, tracks)`` for contact maps). ``alt`` is already aligned to REF coordinates for indels
  (see :func:`genome_plugin.scoring.align.align_alternate`), so bin ``i`` of both arrays covers the
  same genomic bases. Callers that hold raw ALT predictions of an indel must align them first.
- ``context.interval`` is the + strand window in genome coordinates that was predicted.
- The result has ``values.shape == (len(rows), n_tracks)``. Cells where a gene's strand does not
  match a stranded track are NaN (as in the AlphaGenome SDK). A gene-level scorer with no gene in
  reach returns zero rows.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genome_plugin.genome.intervals import Interval, Variant
from genome_plugin.tracks import OutputType, TrackTable

if TYPE_CHECKING:
    from genome_plugin.genome.annotation import Annotation
    from genome_plugin.models import SequenceModel

__all__ = ["ROW_KINDS", "ScoreResult", "Scorer", "ScoringContext", "strand_mismatch"]

#: What one row of a scorer's result is about.
ROW_KINDS = ("variant", "gene", "junction")

#: Gene columns a gene-level scorer puts in ``ScoreResult.rows`` (the SDK's names, strand as gene_strand).
GENE_COLUMNS = ("gene_id", "gene_name", "gene_type", "gene_strand")
JUNCTION_COLUMNS = ("junction_Start", "junction_End")
_ONE_ROW = pd.DataFrame(index=pd.RangeIndex(1))


@dataclasses.dataclass(frozen=True)
class ScoringContext:
    """Everything a scorer may need besides the two prediction arrays."""

    variant: Variant
    interval: Interval
    resolution: int
    tracks: TrackTable
    output_type: OutputType
    annotation: Annotation | None = None
    organism: str = "human"
    #: Model-specific side arrays, e.g. ``"ref_junctions"`` / ``"alt_junctions"`` for the junction scorer.
    extra: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def variant_offset(self) -> int:
        """0-based position of the variant's first REF base inside the window (bp)."""
        return self.variant.start - self.interval.start

    @property
    def variant_bin(self) -> int:
        """Index of the bin holding the variant's first REF base."""
        return self.variant_offset // self.resolution


@dataclasses.dataclass
class ScoreResult:
    """Scores of one variant: ``rows`` describes each row of ``values`` (rows, tracks)."""

    rows: pd.DataFrame
    values: np.ndarray

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float32)
        if self.values.ndim != 2 or self.values.shape[0] != len(self.rows):
            msg = f"scores of shape {self.values.shape} do not match {len(self.rows)} row(s)"
            raise ValueError(msg)
        index = self.rows.index
        if not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1):
            self.rows = self.rows.reset_index(drop=True)

    @classmethod
    def single(cls, values: np.ndarray) -> ScoreResult:
        """A variant-level result: one row, no metadata columns."""
        # a shallow copy of a ready frame: building a DataFrame costs ~30x more, once per variant and scorer
        return cls(_ONE_ROW.copy(deep=False), np.asarray(values, dtype=np.float32).reshape(1, -1))


class Scorer(abc.ABC):
    """A variant scorer. Subclass it, set the class attributes, implement :meth:`score`.

    Attributes
    ----------
    name
        Unique registry name, also the ``--scorer`` value and the TSV ``variant_scorer`` column.
    output_type
        The output type whose predictions ``score`` receives.
    description
        One line for ``--list-scorers`` and the VCF header.
    requires
        Every output type the model must predict for this scorer to run.
    row_kind
        ``"variant"`` (one row), ``"gene"`` or ``"junction"`` (rows carry gene/junction columns).
    signed
        Whether scores have a direction (quantiles then map to [-1, 1]) or are magnitudes.
    needs_annotation
        Whether the scorer needs genes (``context.annotation``); without one the engine says so.
    resolution
        Preferred resolution in bp; None takes the finest the model predicts.
    organisms
        Organisms the scorer supports; None = any.
    """

    name: str = ""
    output_type: OutputType = OutputType.DNASE
    description: str = ""
    requires: tuple[OutputType, ...] = ()
    row_kind: str = "variant"
    signed: bool = True
    needs_annotation: bool = False
    resolution: int | None = None
    organisms: tuple[str, ...] | None = None

    @abc.abstractmethod
    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        """Score one variant from its window's REF and ALT predictions (see the module docstring)."""

    def resolution_for(self, model: SequenceModel) -> int:
        """The resolution to score at: :attr:`resolution` if the model has it, else the model's finest."""
        available = tuple(model.resolutions(self.output_type))
        if self.resolution is not None and self.resolution in available:
            return self.resolution
        return min(available)

    def unavailable(self, model: SequenceModel, *, organism: str = "human", annotation: Any = None) -> str:
        """Why this scorer cannot run with ``model`` (empty when it can)."""
        missing = [t.value for t in (self.requires or (self.output_type,)) if t not in model.output_types()]
        if missing:
            return f"model {model.name} does not predict {', '.join(missing)}"
        if self.organisms is not None and organism not in self.organisms:
            return f"scorer {self.name} supports {', '.join(self.organisms)} only, not {organism}"
        if self.needs_annotation and annotation is None:
            return f"scorer {self.name} needs a gene annotation (--gtf)"
        return ""

    def definition(self) -> dict[str, Any]:
        """The scorer's settings, recorded in ``adata.uns`` and the VCF header."""
        return {
            "name": self.name,
            "class": type(self).__name__,
            "output_type": self.output_type.value,
            "row_kind": self.row_kind,
            "signed": self.signed,
            "description": self.description,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


def strand_mismatch(gene_strands: np.ndarray | list[str], track_strands: np.ndarray | list[str]) -> np.ndarray:
    """Boolean (genes, tracks): True where a stranded track lies on the other strand than the gene.

    Unstranded tracks (``.``) and genes without a strand match everything.
    """
    genes = np.asarray(gene_strands, dtype=object)[:, None]
    tracks = np.asarray(track_strands, dtype=object)[None, :]
    return ((genes == "+") & (tracks == "-")) | ((genes == "-") & (tracks == "+"))

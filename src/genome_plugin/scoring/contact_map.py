"""ContactMap (Orca-style): how much the variant's bin changes its contacts with the rest of the window."""

from __future__ import annotations

import numpy as np

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext
from genome_plugin.tracks import OutputType

__all__ = ["ContactMap"]


class ContactMap(Scorer):
    """Mean |ALT - REF| over every contact of the variant's bin: ``mean_j |alt[v, j] - ref[v, j]|``.

    ``ref`` and ``alt`` are ``(n, n, tracks)`` maps. Indels are not re-aligned: contact bins are
    2,048 bp wide, far coarser than any allele the engine accepts.
    """

    name = "contact_map"
    output_type = OutputType.CONTACT_MAPS
    requires = (OutputType.CONTACT_MAPS,)
    signed = False
    description = "mean |ALT - REF| of the contacts of the variant's bin (Orca)"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        if ref.ndim != 3 or ref.shape[0] != ref.shape[1]:
            msg = f"contact_map expects (n, n, tracks) maps, got shape {ref.shape}"
            raise ValueError(msg)
        row = min(context.variant_bin, ref.shape[0] - 1)
        delta = np.abs(alt[row].astype(np.float64) - ref[row].astype(np.float64))
        return ScoreResult.single(delta.mean(axis=0))

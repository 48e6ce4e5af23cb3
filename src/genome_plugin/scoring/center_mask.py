"""CenterMask: aggregate REF and ALT over a window centred on the variant, one score per track."""

from __future__ import annotations

import enum
import math
from typing import Any

import numpy as np

from genome_plugin.errors import InputError
from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext
from genome_plugin.tracks import OutputType

__all__ = ["CENTER_MASK_OUTPUTS", "CENTER_MASK_WIDTHS", "Aggregation", "CenterMask", "aggregate", "center_mask"]

#: Mask widths in bp; None is the whole predicted window.
CENTER_MASK_WIDTHS = (501, 2001, 10_001, 100_001, 200_001, None)

#: The 1-D output types CenterMask supports (as in the AlphaGenome SDK).
CENTER_MASK_OUTPUTS = (
    OutputType.ATAC, OutputType.CAGE, OutputType.DNASE, OutputType.PROCAP, OutputType.RNA_SEQ,
    OutputType.CHIP_HISTONE, OutputType.CHIP_TF, OutputType.SPLICE_SITES, OutputType.SPLICE_SITE_USAGE,
)


class Aggregation(enum.Enum):
    """How masked REF and ALT signals become one number per track.

    Names read right to left: DIFF_SUM_LOG2 takes log2(x + 1), sums, then subtracts REF from ALT.
    """

    DIFF_MEAN = "diff_mean"  # mean(ALT) - mean(REF)
    DIFF_SUM = "diff_sum"  # sum(ALT) - sum(REF)
    DIFF_SUM_LOG2 = "diff_sum_log2"  # sum(log2(ALT + 1)) - sum(log2(REF + 1))
    DIFF_LOG2_SUM = "diff_log2_sum"  # log2(1 + sum(ALT)) - log2(1 + sum(REF))
    L2_DIFF = "l2_diff"  # sqrt(sum((ALT - REF)^2))
    L2_DIFF_LOG1P = "l2_diff_log1p"  # sqrt(sum((log1p(ALT) - log1p(REF))^2))
    ACTIVE_MEAN = "active_mean"  # max(mean(ALT), mean(REF))
    ACTIVE_SUM = "active_sum"  # max(sum(ALT), sum(REF))

    @property
    def signed(self) -> bool:
        """Whether the score has a direction (ALT above or below REF)."""
        return self in (Aggregation.DIFF_MEAN, Aggregation.DIFF_SUM, Aggregation.DIFF_SUM_LOG2,
                        Aggregation.DIFF_LOG2_SUM)

    @classmethod
    def parse(cls, value: str | Aggregation) -> Aggregation:
        if isinstance(value, Aggregation):
            return value
        key = str(value).strip().split(".")[-1].lower()
        for member in cls:
            if key == member.value:
                return member
        msg = f"unknown aggregation {value!r}; choose from {', '.join(m.value for m in cls)}"
        raise InputError(msg)


def aggregate(ref: np.ndarray, alt: np.ndarray, aggregation: Aggregation) -> np.ndarray:
    """Aggregate masked ``(positions, tracks)`` REF and ALT into one value per track (float64 maths)."""
    ref = np.asarray(ref, dtype=np.float64)
    alt = np.asarray(alt, dtype=np.float64)
    match aggregation:
        case Aggregation.DIFF_MEAN:
            return alt.mean(axis=0) - ref.mean(axis=0)
        case Aggregation.DIFF_SUM:
            return alt.sum(axis=0) - ref.sum(axis=0)
        case Aggregation.DIFF_SUM_LOG2:
            return np.log2(alt + 1).sum(axis=0) - np.log2(ref + 1).sum(axis=0)
        case Aggregation.DIFF_LOG2_SUM:
            return np.log2(1 + alt.sum(axis=0)) - np.log2(1 + ref.sum(axis=0))
        case Aggregation.L2_DIFF:
            return np.sqrt(((alt - ref) ** 2).sum(axis=0))
        case Aggregation.L2_DIFF_LOG1P:
            return np.sqrt(((np.log1p(alt) - np.log1p(ref)) ** 2).sum(axis=0))
        case Aggregation.ACTIVE_MEAN:
            return np.maximum(alt.mean(axis=0), ref.mean(axis=0))
        case Aggregation.ACTIVE_SUM:
            return np.maximum(alt.sum(axis=0), ref.sum(axis=0))
    msg = f"unhandled aggregation {aggregation}"
    raise ValueError(msg)


def center_mask(bins: int, variant_bin: int, width: int | None, resolution: int) -> slice:
    """The bins of a ``width`` bp mask centred on ``variant_bin``: ``ceil(width / resolution)`` of them, clipped.

    For an even bin count the extra bin goes to the left of the variant's bin (as in the SDK).
    """
    if width is None:
        return slice(0, bins)
    count = math.ceil(width / resolution)
    start = variant_bin - count // 2
    return slice(max(start, 0), min(start + count, bins))


class CenterMask(Scorer):
    """Aggregate REF and ALT over a window of ``width`` bp centred on the variant's bin."""

    def __init__(self, output_type: OutputType | str, width: int | None, aggregation: Aggregation | str) -> None:
        output_type = OutputType.parse(output_type)
        aggregation = Aggregation.parse(aggregation)
        if output_type not in CENTER_MASK_OUTPUTS:
            msg = f"CenterMask does not support {output_type.value}; use one of " + ", ".join(
                t.value for t in CENTER_MASK_OUTPUTS)
            raise ValueError(msg)
        if width not in CENTER_MASK_WIDTHS:
            msg = f"CenterMask width {width} is not one of {', '.join(str(w) for w in CENTER_MASK_WIDTHS)}"
            raise ValueError(msg)
        self.output_type = output_type
        self.width = width
        self.aggregation = aggregation
        self.requires = (output_type,)
        self.signed = aggregation.signed
        self.name = f"center_mask_{output_type.value}_{width or 'all'}_{aggregation.value}"
        window = f"{width} bp" if width else "the whole window"
        self.description = f"{aggregation.name} of {output_type.value} over {window} centred on the variant"

    def score(self, ref: np.ndarray, alt: np.ndarray, *, context: ScoringContext) -> ScoreResult:
        mask = center_mask(ref.shape[0], context.variant_bin, self.width, context.resolution)
        return ScoreResult.single(aggregate(ref[mask], alt[mask], self.aggregation))

    def definition(self) -> dict[str, Any]:
        return {**super().definition(), "width": self.width or "all", "aggregation": self.aggregation.name}

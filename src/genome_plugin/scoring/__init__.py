"""Variant scoring: the scorer interface, the AlphaGenome scorers and the engine that runs them over VCFs."""

from genome_plugin.scoring.base import Scorer, ScoreResult, ScoringContext, strand_mismatch

__all__ = ["ScoreResult", "Scorer", "ScoringContext", "strand_mismatch"]

"""Fine-tuning from any saved model (trained here or converted official weights): its trunk, new heads.

:func:`finetune_model` loads a model directory (:func:`genome_plugin.model.checkpoint.load_model`), builds
heads for the new data set's tracks (one per output type, freshly initialised, ``nonzero_mean`` from the
new tables) and copies every trunk leaf (parameters and batch-norm statistics) from the checkpoint.
:func:`trainable` and :func:`uses_train_mode` give what :func:`genome_plugin.train.loop.train` needs for
each mode: ``full`` trains everything; ``linear_probe`` trains only the heads, with the trunk's
parameters excluded from the gradients and the optimiser and its batch-norm statistics left as loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flax import nnx

from genome_plugin.model.metadata import TrackMetadata
from genome_plugin.model.network import AlphaGenome
from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.train.loop import build_model

__all__ = ["HEAD_PARAMS", "MODES", "finetune_model", "trainable", "trunk_state", "uses_train_mode"]

MODES = ("full", "linear_probe")
#: The parameters of the output heads.
HEAD_PARAMS = nnx.All(nnx.Param, nnx.PathContains("heads"))
_TRUNK = nnx.Not(nnx.PathContains("heads"))


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        msg = f"unknown fine-tuning mode {mode!r}; choose one of {', '.join(MODES)}"
        raise ValueError(msg)


def trainable(mode: str) -> Any:
    """The nnx filter of the parameters ``mode`` trains."""
    _check_mode(mode)
    return nnx.Param if mode == "full" else HEAD_PARAMS


def uses_train_mode(mode: str) -> bool:
    """Whether batch-norm statistics update during training (not for a frozen trunk)."""
    _check_mode(mode)
    return mode == "full"


def trunk_state(model: AlphaGenome) -> nnx.State:
    """Every state leaf outside the heads: trunk parameters and batch-norm statistics."""
    return nnx.state(model, _TRUNK)


def finetune_model(
    checkpoint: str | Path, tracks: Mapping[OutputType, TrackTable], *, seed: int = 0, precision: str = "float32"
) -> tuple[AlphaGenome, list[TrackMetadata]]:
    """The checkpoint's trunk with new heads for ``tracks``, and the card metadata of the new heads."""
    from genome_plugin.model.checkpoint import load_model

    base = load_model(checkpoint, compute_dtype=precision)
    model, metadata = build_model(base.config, tracks, seed=seed, precision=precision)
    nnx.update(model, trunk_state(base))
    return model, metadata

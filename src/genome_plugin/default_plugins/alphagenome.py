"""Built-in AlphaGenome-architecture models: your converted or trained checkpoints, and a tiny random preset.

``alphagenome`` needs ``checkpoint=`` (``--checkpoint DIR``): a directory written by
``genome-plugin convert-weights`` or by our training. ``alphagenome-tiny`` has random weights: it
exists for tests, teaching and benchmarks and its outputs are not predictions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genome_plugin.errors import GenomePluginError
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry
from genome_plugin.tracks import OutputType

ALL_TYPES = tuple(OutputType)


def _load_checkpoint(*, checkpoint: str | None = None) -> Any:
    if not checkpoint:
        msg = ("model alphagenome needs weights: pass --checkpoint DIR (a directory written by "
               "`genome-plugin convert-weights` or by training)")
        raise GenomePluginError(msg)
    from genome_plugin.model.adapter import AlphaGenomeModel

    return AlphaGenomeModel.from_checkpoint(checkpoint)


def _load_tiny(*, checkpoint: str | None = None) -> Any:
    from genome_plugin.model.adapter import AlphaGenomeModel

    if checkpoint:
        return AlphaGenomeModel.from_checkpoint(checkpoint)
    return AlphaGenomeModel.random("tiny", name="alphagenome-tiny")  # outputs carry the name the user typed


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    register(ModelEntry(name="alphagenome", loader=_load_checkpoint, family="alphagenome", output_types=ALL_TYPES,
                        description="AlphaGenome architecture (Flax NNX) with weights you supply (--checkpoint)",
                        licence="code Apache-2.0; official weights under DeepMind's non-commercial terms"))
    register(ModelEntry(name="alphagenome-tiny", loader=_load_tiny, family="alphagenome", output_types=ALL_TYPES,
                        description="AlphaGenome architecture, tiny preset, random weights (tests and teaching)",
                        licence="Apache-2.0", real_weights=False))

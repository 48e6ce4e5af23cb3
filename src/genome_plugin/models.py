"""What a model plugin provides: the :class:`SequenceModel` interface and the :class:`ModelEntry` it registers."""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from genome_plugin.errors import InputError
from genome_plugin.tracks import OutputType, TrackTable

__all__ = ["ModelEntry", "SequenceModel", "Predictions", "RANDOM_WEIGHTS_NOTE", "weights_note"]

#: What ``uns["genome_plugin"]["weights"]``, figure titles and the log say about a model with random weights.
RANDOM_WEIGHTS_NOTE = "random (untrained): predictions carry no biological meaning"

#: Predictions keyed by (output type, resolution in bp): arrays (B, S // resolution, tracks) for 1-D
#: tracks, (B, n, n, tracks) for contact maps.
Predictions = dict[tuple[OutputType, int], np.ndarray]


class SequenceModel(abc.ABC):
    """A DNA sequence-to-function model, as the Predictor, scorers, CLI and Galaxy tools see it."""

    name: str = ""
    version: str = ""
    organisms: tuple[str, ...] = ("human",)

    @abc.abstractmethod
    def output_types(self) -> tuple[OutputType, ...]:
        """The output types this model predicts."""

    @abc.abstractmethod
    def tracks(self, output_type: OutputType, organism: str = "human") -> TrackTable:
        """The track table of one output type (becomes ``adata.var``)."""

    def resolutions(self, output_type: OutputType) -> tuple[int, ...]:
        """Resolutions (bp) this model predicts ``output_type`` at; the published ones by default."""
        return output_type.resolutions

    def input_lengths(self) -> tuple[int, ...] | None:
        """Accepted input lengths in bp, or None when any length works (fully convolutional models)."""
        return None

    def valid_length(self, length: int) -> int:
        """The smallest accepted input length >= ``length``."""
        lengths = self.input_lengths()
        if lengths is None:
            return length
        for candidate in sorted(lengths):
            if candidate >= length:
                return candidate
        msg = f"model {self.name} accepts inputs of at most {max(lengths)} bp; {length} bp requested"
        raise InputError(msg)

    @abc.abstractmethod
    def predict(
        self,
        onehot: np.ndarray,
        *,
        organism: str = "human",
        requests: Mapping[OutputType, np.ndarray | None] | None = None,
    ) -> Predictions:
        """Predict a batch of one-hot sequences ``(B, S, 4)``.

        :param requests: output types wanted, each with the indices of the tracks to keep (None = all);
            None asks for every output type. Unrequested tracks must not be materialised on the host.
        :return: arrays keyed by (output type, resolution).
        """

    def strand_swap(self, output_type: OutputType, organism: str = "human") -> np.ndarray:
        """Track permutation exchanging + and - strand twins, for reverse-complement averaging."""
        return self.tracks(output_type, organism).strand_swap()

    def card(self) -> dict[str, Any]:
        """The model card: name, version, licence, citation, weights checksum, description, ...

        A model whose weights are a random initialisation says so with ``"random_weights": True``.
        """
        return {"name": self.name, "version": self.version}


def weights_note(card: Mapping[str, Any]) -> str:
    """:data:`RANDOM_WEIGHTS_NOTE` for a model card flagged ``random_weights``, else ``""``."""
    return RANDOM_WEIGHTS_NOTE if card.get("random_weights") else ""


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """A model as registered by a plugin: loading is deferred until the model is used.

    ``loader(**options)`` returns the :class:`SequenceModel` (options such as ``checkpoint=`` are model
    specific). ``output_types`` lets the CLI and Galaxy list choices without loading weights.
    """

    name: str
    loader: Callable[..., SequenceModel]
    description: str = ""
    family: str = ""
    output_types: tuple[OutputType, ...] = ()
    licence: str = ""
    real_weights: bool = True

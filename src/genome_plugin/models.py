"""What a model plugin provides: the :class:`SequenceModel` interface and the :class:`ModelEntry` it registers."""

from __future__ import annotations

import abc
import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from genome_plugin.errors import InputError
from genome_plugin.tracks import OutputType, TrackTable

__all__ = ["ModelEntry", "SequenceModel", "Predictions", "RANDOM_WEIGHTS_NOTE", "check_memory", "default_length",
           "weights_note"]

#: The window (bp) a model without a preference is given when the user sets none.
DEFAULT_WINDOW = 16_384
#: Environment variable that caps the host memory (bytes; suffixes K, M, G) a run may plan to use.
MEMORY_LIMIT_ENV = "GENOME_PLUGIN_MEMORY_LIMIT"

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

    def preferred_length(self) -> int:
        """The window (bp) every command predicts when the user sets none (see :func:`default_length`).

        The smallest accepted input length by default, else :data:`DEFAULT_WINDOW` made valid.
        """
        lengths = self.input_lengths()
        return self.valid_length(min(lengths) if lengths else DEFAULT_WINDOW)

    def host_memory_bytes(self, length: int, batch: int = 1) -> int | None:
        """A rough upper estimate of the host memory (bytes) one call on ``batch`` windows of ``length`` needs.

        None (the default) when the model cannot tell; :func:`check_memory` then lets the run go.
        """
        return None

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


def default_length(model: SequenceModel, requested: int | None = None, *, at_least: int = 1) -> int:
    """The one rule for a command's window: ``requested`` made valid, else the model's preferred length.

    Either way the window is at least ``at_least`` bp (the region it must hold).
    """
    if requested is not None:
        return model.valid_length(max(requested, at_least))
    return model.valid_length(max(model.preferred_length(), at_least))


def _parse_bytes(text: str) -> int:
    scale = {"K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    text = text.strip().upper().removesuffix("B")
    try:
        return int(float(text[:-1]) * scale[text[-1]]) if text and text[-1] in scale else int(text)
    except ValueError:
        msg = f"{MEMORY_LIMIT_ENV}={text!r}: expected bytes, optionally with K, M, G or T (e.g. 8G)"
        raise InputError(msg) from None


def available_memory() -> int:
    """Host memory (bytes) a run may use: ``$GENOME_PLUGIN_MEMORY_LIMIT`` if set, else what the OS reports free."""
    limit = os.environ.get(MEMORY_LIMIT_ENV)
    if limit:
        return _parse_bytes(limit)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # sysconf's free pages leave out the page cache: an underestimate, so a safe one
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_memory(model: SequenceModel, length: int, *, batch: int = 1, flag: str = "a shorter window") -> None:
    """Stop (one line naming the figures and ``flag``) before a run whose windows cannot fit in host memory."""
    need = model.host_memory_bytes(length, batch)
    if need is None:
        return
    have = available_memory()
    if need > have:
        msg = (f"model {model.name}: {batch} window(s) of {length:,} bp need about {need / 2**30:.1f} GiB of host "
               f"memory, {have / 2**30:.1f} GiB available; use {flag}")
        raise InputError(msg)


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

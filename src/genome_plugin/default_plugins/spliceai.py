"""Built-in model plugin: SpliceAI-10k with the trained weights of the installed ``spliceai`` package.

It registers the ``spliceai`` model through the same ``register_models`` hook a third party uses.
The model predicts the SPLICE_SITES output type at 1 bp: acceptor and donor probabilities on each
strand. The minus-strand tracks come from predicting the reverse complement and flipping the result
back, so both strands' tracks are in + strand genomic order. Inputs may be any length: each base gets
its prediction from the 5,000 bases on either side, read as N beyond the input's ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from genome_plugin.errors import InputError
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry, Predictions, SequenceModel
from genome_plugin.tracks import OutputType, TrackTable

__all__ = ["LICENCE", "SpliceAIModel", "load_spliceai", "register_models"]

LICENCE = (
    "weights CC BY-NC 4.0 (academic and non-commercial use; commercial use needs a licence from Illumina), "
    "read from the installed spliceai package (GPLv3 code), never redistributed"
)
CITATION = (
    "Jaganathan K. et al. Predicting splicing from primary sequence with deep learning. "
    "Cell 176(3):535-548 (2019). doi:10.1016/j.cell.2018.12.015"
)
DESCRIPTION = "SpliceAI-10k (Illumina), ensemble of the 5 trained models: acceptor/donor probability per base"
# Track order: the network's classes (1 = acceptor, 2 = donor) on the + strand, then on the - strand.
_TRACKS = (("acceptor", "+", 1), ("donor", "+", 2), ("acceptor", "-", 1), ("donor", "-", 2))
# Inputs are padded with N up to a multiple of this, so sequences of similar length share one compilation.
_LENGTH_STEP = 1024
# Longer inputs run in tiles of this many output bases (each with its flank of context on both sides):
# the network is fully convolutional with an exact +/- flank receptive field, so tiles give the same
# values as one pass, in memory that no longer grows with the input (a 50 Mb pass asked XLA for 128 GB).
_TILE = 256 * _LENGTH_STEP


class SpliceAIModel(SequenceModel):
    """The SpliceAI ensemble as a :class:`~genome_plugin.models.SequenceModel`.

    Parameters
    ----------
    ensemble
        The networks (:func:`genome_plugin.model.spliceai.load_ensemble` gives the trained ones).
    card
        The model card of a SpliceAI-architecture model saved here (a distilled student); None for the
        package's trained ensemble.
    """

    name = "spliceai"
    organisms = ("human",)

    def __init__(self, ensemble: Any, *, card: Mapping[str, Any] | None = None) -> None:
        from genome_plugin.model.spliceai import SPLICEAI_VERSION

        self.ensemble = ensemble
        self.version = SPLICEAI_VERSION if card is None else str(card.get("version", "0"))
        self._saved_card = None if card is None else {k: v for k, v in card.items() if k != "config"}
        #: Bases of context each prediction reads on either side; the Predictor fetches them around intervals.
        self.context = ensemble.flank
        self._tracks = TrackTable(
            [
                {
                    "name": name,
                    "strand": strand,
                    "description": f"probability that the base is a splice {name} on the {strand} strand",
                    "class_index": index,
                }
                for name, strand, index in _TRACKS
            ],
            source="SpliceAI tracks",
        )

    def output_types(self) -> tuple[OutputType, ...]:
        return (OutputType.SPLICE_SITES,)

    def tracks(self, output_type: OutputType, organism: str = "human") -> TrackTable:
        if OutputType.parse(output_type) is not OutputType.SPLICE_SITES:
            msg = f"model spliceai predicts splice_sites only, not {OutputType.parse(output_type).value}"
            raise InputError(msg)
        if organism not in self.organisms:
            msg = f"model spliceai is trained on human only, not {organism!r}"
            raise InputError(msg)
        return self._tracks

    def resolutions(self, output_type: OutputType) -> tuple[int, ...]:
        return (1,)

    def predict(
        self,
        onehot: np.ndarray,
        *,
        organism: str = "human",
        requests: Mapping[OutputType, np.ndarray | None] | None = None,
    ) -> Predictions:
        """Acceptor/donor probabilities ``(B, S, tracks)`` for one-hot ``(B, S, 4)`` of any length ``S``."""
        onehot = np.asarray(onehot, dtype=np.float32)
        if onehot.ndim != 3 or onehot.shape[-1] != 4 or onehot.shape[1] < 1:
            msg = f"spliceai needs one-hot input of shape (batch, length, 4), got {onehot.shape}"
            raise ValueError(msg)
        self.tracks(OutputType.SPLICE_SITES, organism)
        if requests is not None and OutputType.SPLICE_SITES not in requests:
            return {}
        wanted = None if requests is None else requests[OutputType.SPLICE_SITES]
        indices = np.arange(len(_TRACKS)) if wanted is None else np.asarray(wanted, dtype=np.int64).reshape(-1)
        strands = {_TRACKS[i][1] for i in indices}
        batch, length = onehot.shape[:2]
        padded = -(-length // _LENGTH_STEP) * _LENGTH_STEP
        flank = self.ensemble.flank
        inputs = []
        if "+" in strands:
            inputs.append(onehot)
        if "-" in strands:
            inputs.append(onehot[:, ::-1, ::-1])  # reverse complement: A C G T -> T G C A
        stacked = np.zeros((len(inputs) * batch, padded + 2 * flank, 4), dtype=np.float32)
        for k, part in enumerate(inputs):
            stacked[k * batch : (k + 1) * batch, flank : flank + length] = part
        probabilities = self._tiled(stacked, padded)[:, :length]
        by_strand = {}
        for k, strand in enumerate(sorted(strands)):
            values = probabilities[k * batch : (k + 1) * batch]
            by_strand[strand] = values[:, ::-1] if strand == "-" else values
        out = np.stack([by_strand[_TRACKS[i][1]][..., _TRACKS[i][2]] for i in indices], axis=-1)
        return {(OutputType.SPLICE_SITES, 1): np.ascontiguousarray(out, dtype=np.float32)}

    #: Output bases per pass of the network for long inputs (see ``_TILE``).
    tile = _TILE

    def _tiled(self, stacked: np.ndarray, padded: int) -> np.ndarray:
        """The ensemble over ``stacked`` (``padded`` outputs plus the flank each side), ``tile`` outputs at a time."""
        flank, step = self.ensemble.flank, self.tile
        if padded <= step:
            return np.asarray(self.ensemble(stacked))
        out = np.empty((stacked.shape[0], padded, 3), dtype=np.float32)
        for start in range(0, padded, step):
            size = min(step, padded - start)
            tile = np.zeros((stacked.shape[0], step + 2 * flank, 4), dtype=np.float32)  # one compiled shape
            tile[:, : size + 2 * flank] = stacked[:, start : start + size + 2 * flank]
            out[:, start : start + size] = np.asarray(self.ensemble(tile))[:, :size]
        return out

    def card(self) -> dict[str, Any]:
        if self._saved_card is not None:
            return {**self._saved_card, "tracks": self._tracks.names}
        return {
            "name": self.name,
            "version": self.version,
            "family": "spliceai",
            "description": DESCRIPTION,
            "licence": LICENCE,
            "code_licence": "port: Apache-2.0 (genome-plugin); original spliceai package: GPLv3",
            "citation": CITATION,
            "trained_on": "human GENCODE splice sites (Jaganathan et al. 2019); 5 models, ensemble mean",
            "input_length": "any; each output uses 5,000 bp of context on each side (N beyond the input)",
            "output_types": [OutputType.SPLICE_SITES.value],
            "resolution_bp": 1,
            "tracks": self._tracks.names,
            "weights_source": f"spliceai=={self.version} (PyPI), spliceai/models/spliceai1..5.h5",
            "weights_sha256": getattr(self.ensemble, "weights_sha256", ""),
        }


def load_spliceai(*, cache: str | None = None, checkpoint: str | None = None) -> SpliceAIModel:
    """Load the trained ensemble (converted once into the user cache) as a :class:`SpliceAIModel`.

    ``checkpoint`` is instead a SpliceAI-architecture model directory saved here (a distilled student,
    :mod:`genome_plugin.model.spliceai_checkpoint`), run as a one-member ensemble.
    """
    from genome_plugin.model.spliceai import SpliceAIEnsemble, load_ensemble

    if checkpoint is not None:
        from genome_plugin.model.spliceai_checkpoint import load_spliceai_dir

        network, card = load_spliceai_dir(checkpoint)
        return SpliceAIModel(SpliceAIEnsemble([network], weights_sha256=card["weights_sha256"]), card=card)

    return SpliceAIModel(load_ensemble(cache=cache))


@hookimpl
def register_models(register: Callable[[Any], None]) -> None:
    register(
        ModelEntry(
            name="spliceai",
            loader=load_spliceai,
            description=DESCRIPTION,
            family="spliceai",
            output_types=(OutputType.SPLICE_SITES,),
            licence=LICENCE,
            real_weights=True,
        )
    )

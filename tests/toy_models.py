"""Small, exactly computed models for tests of the Predictor, API, writers and plots.

``SymmetricModel`` is exactly strand-symmetric by construction (its - strand track is its + strand
function applied to the reverse complement, read back in + order); ``AsymmetricModel`` is not. Both
are real computations (motif convolutions), not mocks. Test modules load this file by path (pytest
runs with ``--import-mode=importlib``, so tests/ is not on ``sys.path``).
"""

from __future__ import annotations

import numpy as np

from genome_plugin.models import SequenceModel
from genome_plugin.tracks import OutputType, TrackTable

RNG = np.random.default_rng(0)
KERNEL = RNG.normal(size=(5, 4)).astype(np.float32)  # an asymmetric motif: reads differently on each strand
KERNEL_B = RNG.normal(size=(3, 4)).astype(np.float32)
COARSE = 8
PAIR = 16


def _conv(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Per-position motif score of a batch ``(B, S, 4)``, window starting at the position (zero padded)."""
    width = kernel.shape[0]
    padded = np.concatenate([x, np.zeros((x.shape[0], width - 1, 4), np.float32)], axis=1)
    return sum(padded[:, k:k + x.shape[1]] @ kernel[k] for k in range(width))


def _rc(x: np.ndarray) -> np.ndarray:
    return x[:, ::-1, ::-1]  # reverse the sequence axis; A<->T and C<->G is reversing ACGT


def _pool(x: np.ndarray, size: int) -> np.ndarray:
    return x.reshape(x.shape[0], x.shape[1] // size, size, *x.shape[2:]).mean(axis=2)


class ToyModel(SequenceModel):
    """Stranded tracks (``motif`` +/-), an unstranded one (``gc``) at 1 and 8 bp, and a contact map at 16 bp."""

    name = "toy"
    version = "1"
    organisms = ("human",)

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], dict]] = []

    def output_types(self):
        return (OutputType.DNASE, OutputType.CONTACT_MAPS)

    def tracks(self, output_type, organism="human"):
        if output_type == OutputType.DNASE:
            return TrackTable([
                {"name": "motif", "strand": "+", "assay_title": "DNase-seq", "biosample_name": "lung"},
                {"name": "gc", "strand": ".", "assay_title": "DNase-seq", "biosample_name": "liver"},
                {"name": "motif", "strand": "-", "assay_title": "DNase-seq", "biosample_name": "lung"},
                {"name": "other", "strand": ".", "assay_title": "ATAC-seq", "biosample_name": "lung"},
            ])
        return TrackTable([{"name": "hic", "strand": "."}, {"name": "micro_c", "strand": "."}])

    def resolutions(self, output_type):
        return (1, COARSE) if output_type == OutputType.DNASE else (PAIR,)

    def valid_length(self, length):
        return -(-length // 64) * 64

    def features(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def contact(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, onehot, *, organism="human", requests=None):
        self.calls.append((onehot.shape, dict(requests or {})))
        requests = requests if requests is not None else dict.fromkeys(self.output_types())
        out = {}
        if OutputType.DNASE in requests:
            feats = self.features(onehot)
            indices = requests[OutputType.DNASE]
            feats = feats if indices is None else feats[..., indices]
            out[(OutputType.DNASE, 1)] = feats
            out[(OutputType.DNASE, COARSE)] = _pool(feats, COARSE)
        if OutputType.CONTACT_MAPS in requests:
            maps = self.contact(onehot)
            indices = requests[OutputType.CONTACT_MAPS]
            out[(OutputType.CONTACT_MAPS, PAIR)] = maps if indices is None else maps[..., indices]
        return out


class SymmetricModel(ToyModel):
    """Exactly strand-symmetric: predicting the reverse complement gives the flipped, strand-swapped output."""

    name = "toy-symmetric"

    def features(self, x):
        plus = _conv(x, KERNEL)
        minus = _conv(_rc(x), KERNEL)[:, ::-1]
        gc = _conv(x, KERNEL_B) + _conv(_rc(x), KERNEL_B)[:, ::-1]
        other = x[..., 1] + x[..., 2]  # G or C: the same base pair read from either strand
        return np.stack([plus, gc, minus, other], axis=-1).astype(np.float32)

    def contact(self, x):
        u = _pool(self.features(x)[..., 1], PAIR)  # unstranded, so symmetric under reverse complement
        maps = u[:, :, None] * u[:, None, :]
        return np.stack([maps, np.abs(maps) ** 0.5], axis=-1).astype(np.float32)


class AsymmetricModel(SymmetricModel):
    """Reads only the given strand: the - track is a second + strand motif."""

    name = "toy-asymmetric"

    def features(self, x):
        feats = super().features(x)
        feats[..., 2] = _conv(x, KERNEL[::-1])
        feats[..., 1] = _conv(x, KERNEL_B)
        return feats



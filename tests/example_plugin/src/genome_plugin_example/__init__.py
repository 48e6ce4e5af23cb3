"""An example third-party plugin: what a lab would publish to add a model, a scorer and a writer.

The model is deliberately simple but real: it "predicts" the local GC and CpG content of the input, a
deterministic function of the sequence, so its outputs can be checked by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genome_plugin import hookimpl
from genome_plugin.models import ModelEntry, SequenceModel
from genome_plugin.scoring.base import Scorer, ScoreResult
from genome_plugin.tracks import OutputType, TrackTable

WINDOW = 101


class GCContentModel(SequenceModel):
    """GC fraction and CpG fraction in a 101 bp sliding window (N counts as neither)."""

    name = "example-gc"
    version = "1.0"

    def output_types(self):
        return (OutputType.DNASE,)

    def tracks(self, output_type, organism="human"):
        return TrackTable([{"name": "gc_fraction", "strand": ".", "assay": "sequence content"},
                           {"name": "cpg_fraction", "strand": ".", "assay": "sequence content"}])

    def predict(self, onehot, *, organism="human", requests=None):
        gc = onehot[..., 1] + onehot[..., 2]
        cpg = np.zeros_like(gc)
        cpg[:, :-1] = onehot[:, :-1, 1] * onehot[:, 1:, 2]
        kernel = np.ones(WINDOW, dtype=np.float32) / WINDOW
        smooth = np.stack([np.stack([np.convolve(row, kernel, mode="same") for row in track]) for track in (gc, cpg)],
                          axis=-1).astype(np.float32)
        out = {}
        wanted = requests if requests is not None else {OutputType.DNASE: None}
        for output_type, index in wanted.items():
            if output_type is not OutputType.DNASE:
                continue
            values = smooth if index is None else smooth[..., np.asarray(index)]
            out[(OutputType.DNASE, 1)] = values
            bins = values.shape[1] // 128
            out[(OutputType.DNASE, 128)] = values[:, : bins * 128].reshape(values.shape[0], bins, 128, -1).mean(2)
        return out

    def card(self):
        return {"name": self.name, "version": self.version, "licence": "CC0-1.0",
                "description": "GC/CpG content in 101 bp windows (an example plugin, not a trained model)"}


class MaxAbsDiff(Scorer):
    """The largest |ALT - REF| anywhere in the window, per track."""

    name = "example_max_abs_diff"
    output_type = OutputType.DNASE
    description = "max |ALT - REF| over the window (example plugin)"
    signed = False

    def score(self, ref, alt, *, context):
        return ScoreResult.single(np.abs(alt - ref).max(axis=0))


class SummaryJsonWriter:
    """Writes the shape, track names and per-track mean of an AnnData as JSON."""

    name = "example-json"
    suffix = ".summary.json"
    description = "per-track means as JSON (example plugin)"

    def write(self, adata, out_dir, *, basename="predictions", **_options):
        path = Path(out_dir) / f"{basename}{self.suffix}"
        means = np.nanmean(np.asarray(adata.X, dtype=np.float64), axis=0)
        path.write_text(json.dumps({"shape": list(adata.shape), "tracks": list(adata.var["name"]),
                                    "mean": [round(float(m), 6) for m in means]}, indent=1))
        return [path]


@hookimpl
def register_models(register):
    register(ModelEntry(name="example-gc", loader=GCContentModel, family="example",
                        description="GC/CpG content in 101 bp windows (third-party example plugin)",
                        output_types=(OutputType.DNASE,), licence="CC0-1.0"))


@hookimpl
def register_scorers(register):
    register(MaxAbsDiff())


@hookimpl
def register_writers(register):
    register(SummaryJsonWriter())

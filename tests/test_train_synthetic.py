"""A tiny AlphaGenome-architecture teacher learns the synthetic genome's accessibility rule (DNase peaks at
JASPAR Spi1 instances) within a short CPU run: on the held-out test fold its Pearson beats both no-learning
baselines, the same network at initialisation and the GC content of the input, by a clear margin.

The minutes-long run over every output type is ``scripts/train_synthetic.py`` (figures in
``benchmarks/README.md``); this is its short version on one track.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MARGIN = 0.2
STEPS = 240


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pooled_pearson_matches_numpy():
    pooled = load_script("train_synthetic").PooledPearson()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(2, 3, 5, 2)), rng.normal(size=(2, 3, 5, 2))
    w = np.ones((2, 3, 5, 1))
    w[1, 2] = 0  # dropped positions
    for b in range(2):
        pooled.add("t@1", x[b], y[b], w[b])
    keep = w[..., 0].reshape(-1) > 0
    expected = [np.corrcoef(x[..., t].reshape(-1)[keep], y[..., t].reshape(-1)[keep])[0, 1] for t in range(2)]
    np.testing.assert_allclose(pooled.result()["t@1"], expected, rtol=1e-9)
    constant = load_script("train_synthetic").PooledPearson()
    constant.add("c@1", np.ones((4, 1)), y[0, 0, :4, :1], np.ones((4, 1)))
    assert math.isnan(constant.result()["c@1"][0])


@pytest.mark.slow
def test_tiny_teacher_beats_no_learning_baselines_on_accessibility(tmp_path):
    from genome_plugin.model.config import AlphaGenomeConfig
    from genome_plugin.train.config import LoopConfig, OptimizerConfig
    from genome_plugin.train.data import DataConfig, TrainingData
    from genome_plugin.train.loop import build_model, train

    script = load_script("train_synthetic")
    genome = tmp_path / "genome"
    load_script("make_synthetic_genome").make_genome(genome, seed=0)
    (genome / "dnase.tsv").write_text("output_type\tname\tstrand\tfile\ndnase\taccessibility\t.\tdnase.bw\n")
    data = TrainingData(DataConfig(fasta=str(genome / "genome.fa"), track_table=str(genome / "dnase.tsv"),
                                   folds=str(genome / "folds.bed"), sequence_length=2048, batch_size=8, seed=0,
                                   max_shift=0, reverse_complement=0.0, prefetch=2))
    tiny = AlphaGenomeConfig.tiny()
    model, _ = build_model(tiny.replace(transformer=dataclasses.replace(tiny.transformer, num_layers=1)),
                           data.tracks, seed=0)
    predictors = {"gc": script.baselines(data)["gc"], "init": script.model_predictor(model)}
    before = script.evaluate(data, "test", predictors)
    # Constant learning rate, no clipping, no augmentation: the model finds the motif after ~150 steps.
    optimizer = OptimizerConfig(learning_rate=3e-3, end_learning_rate=3e-3, clip_norm=0.0)
    train(model, data, optimizer=optimizer, progress=False, out_dir=tmp_path / "run",
          loop=LoopConfig(steps=STEPS, checkpoint_every=STEPS, eval_batches=1, log_every=STEPS))
    after = script.evaluate(data, "test", {"trained": script.model_predictor(model)})["trained"]
    for key in ("dnase@1", "dnase@128"):
        baseline = max(np.nan_to_num(before["gc"][key][0]), np.nan_to_num(before["init"][key][0]))
        print(key, "trained", after[key][0], "init", before["init"][key][0], "gc", before["gc"][key][0])
        assert after[key][0] > baseline + MARGIN, key


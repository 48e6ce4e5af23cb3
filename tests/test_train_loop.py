"""Training loop and fine-tuning on a tiny real data set: chr20 of the test data, GENCODE splice sites from
genes.gtf and a 128 bp GC-content track (a bigWig computed from the same sequence).

Compiling the train step dominates the run time on a CPU, so the model is the tiny preset with one
transformer layer, windows are 2,048 bp, and the subprocess runs share a persistent compilation cache.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.train.config import OptimizerConfig
from genome_plugin.train.loop import learning_rate_schedule, topk_accuracy

REPO = Path(__file__).resolve().parents[1]
FASTA = REPO / "test-data" / "chr20_slice.fa"
GTF = REPO / "test-data" / "genes.gtf"


def micro_config() -> AlphaGenomeConfig:
    tiny = AlphaGenomeConfig.tiny()
    return tiny.replace(transformer=dataclasses.replace(tiny.transformer, num_layers=1))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """tracks.tsv (splice sites + GC track) and folds.bed in a folder; train 0-294,912, valid the rest."""
    import pyBigWig

    from genome_plugin.genome.reference import Reference
    from genome_plugin.genome.sequence import one_hot

    root = tmp_path_factory.mktemp("chr20")
    n = 359_936  # whole 128 bp bins of the 360,000 bp slice
    onehot = one_hot(Reference(str(FASTA)).fetch(chrom="chr20", start=0, end=n))
    gc = (onehot[:, 1] + onehot[:, 2]).reshape(-1, 128).mean(axis=1)
    starts = np.arange(0, n, 128)
    with pyBigWig.open(str(root / "gc.bw"), "w") as bw:
        bw.addHeader([("chr20", 360_000)])
        bw.addEntries(["chr20"] * len(starts), starts.tolist(), ends=(starts + 128).tolist(), values=gc.tolist())
    (root / "tracks.tsv").write_text(
        f"output_type\tname\tstrand\tfile\nsplice_sites\tgencode\t.\t{GTF}\natac\tgc\t.\tgc.bw\n"
    )
    (root / "folds.bed").write_text("chr20\t0\t294912\ttrain\nchr20\t294912\t360000\tvalid\n")
    return root


RUN = """
import dataclasses, os, sys
import numpy as np
from flax import nnx
sys.path.insert(0, {tests!r})
from test_train_loop import micro_config
from genome_plugin.train.config import LoopConfig, OptimizerConfig
from genome_plugin.train.data import DataConfig, TrainingData
from genome_plugin.train.loop import build_model, train

out, steps, kill_at, devices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = TrainingData(DataConfig(fasta={fasta!r}, track_table={root!r} + "/tracks.tsv", folds={root!r} + "/folds.bed",
                               sequence_length=2048, batch_size=2, seed=3, max_shift=64, prefetch=0))
model, _ = build_model(micro_config(), data.tracks, seed=0)

def kill(step):
    if step == kill_at:
        os._exit(17)  # no clean-up, as a killed job

import jax
result = train(model, data, optimizer=OptimizerConfig(learning_rate=2e-3, warmup_steps=1), progress=False,
               loop=LoopConfig(steps=steps, checkpoint_every=2, eval_batches=1, log_every=1), out_dir=out,
               resume=True, after_checkpoint=kill, devices=jax.local_devices()[:devices])
flat = {{"/".join(map(str, k)): np.asarray(v[...]) for k, v in nnx.to_flat_state(nnx.state(model))}}
np.savez(os.path.join(out, "weights.npz"), **flat)
print("RESULT", result.resumed_from, result.devices)
"""


def _run(script: Path, cache: Path, *args, devices: int = 1) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": str(cache),
           "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return subprocess.run([sys.executable, str(script), *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.fixture(scope="module")
def run_script(dataset, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("run")
    script = folder / "run.py"
    script.write_text(RUN.format(tests=str(Path(__file__).parent), fasta=str(FASTA), root=str(dataset)))
    return script, folder / "jax-cache"


def _weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.slow
def test_kill_and_resume_gives_the_same_weights(run_script, tmp_path):
    script, cache = run_script
    whole = _run(script, cache, tmp_path / "whole", 4, -1, 1)
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = _run(script, cache, tmp_path / "killed", 4, 2, 1)
    assert killed.returncode == 17, killed.stderr[-3000:]  # died right after the checkpoint at step 2
    assert not (tmp_path / "killed" / "weights.npz").exists()
    resumed = _run(script, cache, tmp_path / "killed", 4, -1, 1)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "RESULT 2 1" in resumed.stdout  # continued from step 2
    a, b = _weights(tmp_path / "whole" / "weights.npz"), _weights(tmp_path / "killed" / "weights.npz")
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    # training mode moved the batch-norm statistics away from their initial 1.0
    ema = a["encoder/dna_embedder/conv_block/norm/var_ema"]
    assert not np.allclose(ema, 1.0)

    metrics = pd.read_csv(tmp_path / "whole" / "metrics.csv", keep_default_na=False)
    train_loss = metrics[(metrics.split == "train") & (metrics.metric == "loss")]
    assert train_loss.step.tolist() == [1, 2, 3, 4]
    valid = metrics[metrics.split == "valid"].set_index(["metric", "track"])["value"]
    for key in ("atac@1/pearson", "atac@128/pearson"):
        assert -1 <= float(valid[(key, "gc")]) <= 1
    for name in ("donor", "acceptor"):
        assert f"splice_sites@1/top_k/{name}" in valid.index.get_level_values(0)
    assert {"loss", "atac/loss", "splice_sites_classification/loss"} <= set(valid.index.get_level_values(0))
    # the resumed run appended to the killed run's CSV: steps 1, 2 from the first process, 3, 4 from the second
    resumed_metrics = pd.read_csv(tmp_path / "killed" / "metrics.csv", keep_default_na=False)
    resumed_loss = resumed_metrics[(resumed_metrics.split == "train") & (resumed_metrics.metric == "loss")]
    assert resumed_loss.step.tolist() == [1, 2, 3, 4]
    np.testing.assert_array_equal(resumed_loss.value.to_numpy(), train_loss.value.to_numpy())


@pytest.mark.slow
def test_two_devices_give_the_loss_of_one(run_script, tmp_path):
    script, cache = run_script
    one = _run(script, cache, tmp_path / "one", 2, -1, 1, devices=2)
    two = _run(script, cache, tmp_path / "two", 2, -1, 2, devices=2)
    assert one.returncode == 0, one.stderr[-3000:]
    assert two.returncode == 0, two.stderr[-3000:]
    assert "RESULT 0 1" in one.stdout and "RESULT 0 2" in two.stdout

    def losses(folder):
        m = pd.read_csv(folder / "metrics.csv", keep_default_na=False)
        return m[(m.split == "train") & (m.metric == "loss")].value.to_numpy(float)

    np.testing.assert_allclose(losses(tmp_path / "two"), losses(tmp_path / "one"), rtol=1e-4)
    a, b = _weights(tmp_path / "one" / "weights.npz"), _weights(tmp_path / "two" / "weights.npz")
    for key in a:
        np.testing.assert_allclose(b[key], a[key], rtol=1e-3, atol=1e-5, err_msg=key)


def test_topk_accuracy_by_hand():
    # 6 positions, classes 0 donor+, 1 acceptor+, 4 none; two true donors+ (rows 0, 3)
    labels = np.array([0, 4, 1, 0, 4, 4])
    scores = np.zeros((6, 4))
    scores[:, 0] = [0.9, 0.8, 0.1, 0.2, 0.05, 0.0]  # top-2 donor+ scores: rows 0 (true), 1 (false) -> 1/2
    scores[:, 1] = [0.0, 0.0, 0.7, 0.0, 0.0, 0.0]  # one true acceptor+, top-1 is row 2 -> 1
    assert topk_accuracy(scores, labels, (0,)) == 0.5
    assert topk_accuracy(scores, labels, (1,)) == 1.0
    assert math.isnan(topk_accuracy(scores, labels, (2,)))
    # pooled donor+ and donor-: k = 2 true sites, candidates (row, class); row 1 of class 2 tops them all
    scores[:, 2] = [0.0, 0.95, 0.0, 0.0, 0.0, 0.0]
    assert topk_accuracy(scores, labels, (0, 2)) == 0.5  # top-2: (1, donor-) false, (0, donor+) true


def test_learning_rate_schedule():
    config = OptimizerConfig(learning_rate=1e-3, warmup_steps=4, end_learning_rate=1e-4)
    schedule = learning_rate_schedule(config, 12)
    # linear warm-up: step 2 of 4 is half the peak; cosine to the end value over the 8 steps after
    assert float(schedule(0)) == 0.0
    assert math.isclose(float(schedule(2)), 5e-4, rel_tol=1e-6)
    assert math.isclose(float(schedule(4)), 1e-3, rel_tol=1e-6)
    # half-way through the decay: end + (peak - end) * (1 + cos(pi / 2)) / 2 = 1e-4 + 9e-4 / 2
    assert math.isclose(float(schedule(8)), 5.5e-4, rel_tol=1e-5)
    assert math.isclose(float(schedule(12)), 1e-4, rel_tol=1e-5)


@pytest.mark.slow
def test_linear_probe_keeps_the_trunk_bit_identical(dataset, tmp_path):
    import jax
    from flax import nnx

    from genome_plugin.model.checkpoint import save_model
    from genome_plugin.model.network import init_on_host
    from genome_plugin.train.config import LoopConfig
    from genome_plugin.train.data import DataConfig, TrainingData
    from genome_plugin.train.finetune import finetune_model, trainable, trunk_state, uses_train_mode
    from genome_plugin.train.loop import train

    # a "pre-trained" model with other heads (CAGE only), saved as any checkpoint is
    base = init_on_host(micro_config().with_track_counts({"cage": 2}, junction_tissues_per_organism=()), seed=5)
    save_model(base, tmp_path / "base", licence="Apache-2.0")
    (dataset / "splice.tsv").write_text(f"output_type\tname\tstrand\tfile\nsplice_sites\tgencode\t.\t{GTF}\n")
    data = TrainingData(DataConfig(fasta=str(FASTA), track_table=str(dataset / "splice.tsv"),
                                   folds=str(dataset / "folds.bed"), sequence_length=2048, batch_size=2, prefetch=0))
    model, metadata = finetune_model(tmp_path / "base", data.tracks, seed=1)
    assert list(model.heads) == ["splice_sites_classification"]
    assert metadata[0].tables["splice_sites_classification"]["name"].tolist()[:2] == ["donor", "acceptor"]

    def flat(state):
        return {k: np.asarray(v[...]).copy() for k, v in nnx.to_flat_state(state)}

    loaded = flat(trunk_state(base))
    trunk_before = flat(trunk_state(model))
    assert trunk_before.keys() == loaded.keys()
    for key in loaded:  # the trunk came from the checkpoint
        np.testing.assert_array_equal(trunk_before[key], loaded[key])
    heads_before = flat(nnx.state(model.heads))
    train(model, data, optimizer=OptimizerConfig(learning_rate=1e-2), loop=LoopConfig(steps=2, eval_batches=1),
          out_dir=tmp_path / "probe", trainable=trainable("linear_probe"), train_mode=uses_train_mode("linear_probe"),
          progress=False, devices=jax.local_devices()[:1])
    trunk_after = flat(trunk_state(model))
    for key in trunk_before:
        np.testing.assert_array_equal(trunk_after[key], trunk_before[key], err_msg=str(key))
    heads_after = flat(nnx.state(model.heads))
    changed = [k for k in heads_before if not np.array_equal(heads_before[k], heads_after[k])]
    assert any("w" in str(k) for k in changed), "the head's weights must train"
    assert json.loads((tmp_path / "probe" / "checkpoints" / "2" / "meta" / "metadata").read_text())["step"] == 2


def test_head_tables_and_prepare_batch_for_junctions():
    from genome_plugin.tracks import OutputType, TrackTable
    from genome_plugin.train.loop import build_model, head_tables, junction_track_tissues, prepare_batch

    tracks = {
        OutputType.SPLICE_JUNCTIONS: TrackTable(pd.DataFrame({"name": ["liver", "liver", "brain"],
                                                              "strand": ["+", "-", "."]})),
        OutputType.RNA_SEQ: TrackTable(pd.DataFrame({"name": ["a", "b"], "strand": ["+", "-"],
                                                     "nonzero_mean": [0.5, 2.0]})),
    }
    tables = head_tables(tracks)
    assert tables["splice_sites_junction"][["name", "strand"]].values.tolist() == [["liver", "."], ["brain", "."]]
    tissues, n = junction_track_tissues(tracks)
    assert tissues.tolist() == [0, 0, 1] and n == 2
    batch = {
        "sequence": np.zeros((1, 2048, 4), np.float32), "organism_index": np.zeros(1, np.int32),
        "targets": {"splice_junctions@1": {"donor": np.array([[100, 900, -1]]), "acceptor": np.array([[500, 300, -1]]),
                                           "strand": np.array([[0, 1, 0]], np.int8),
                                           "counts": np.array([[[4, 0, 1], [0, 7, 2], [0, 0, 0]]], np.float32)}},
        "weights": {"splice_junctions@1": np.array([[[1.0], [1.0], [0.0]]], np.float32)},
    }
    prepared = prepare_batch(batch, num_sites=2, junction_tissues=(tissues, n))
    assert prepared["splice_site_positions"].tolist() == [[[100, -1], [500, -1], [900, -1], [300, -1]]]
    dense = prepared["targets"]["splice_junctions@1"]
    # channels: liver+, brain+, liver-, brain-; the + junction has liver+ 4 and brain 1, the - one liver- 7, brain 2
    assert dense.shape == (1, 2, 2, 4)
    assert dense[0, 0, 0].tolist() == [4, 1, 7, 2] and dense.sum() == 14
    assert "splice_junctions@1" not in prepared["weights"]
    # a model for these tables: one head per output type, nonzero_mean in the RNA-seq head's state
    model, metadata = build_model(micro_config(), tracks)
    assert sorted(model.heads) == ["rna_seq", "splice_sites_junction"]
    assert model.config.heads.junction_tissues_per_organism == (2, 2)
    np.testing.assert_array_equal(np.asarray(model.heads["rna_seq"].track_means[...]), [[0.5, 2.0], [0.5, 2.0]])
    assert [m.organism for m in metadata] == ["human", "mouse"]

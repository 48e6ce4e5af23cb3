"""Parity with the original Keras SpliceAI models on real chr20 sequence: max |difference| <= 1e-5.

Optional extra: it needs TensorFlow with Keras, which this project does not depend on; CI compares with the
Keras models' outputs through the committed goldens instead (test_spliceai_goldens.py). It runs when
either ``tensorflow`` and ``keras`` import here, or ``GENOME_PLUGIN_TF_PYTHON`` names a Python that has
them (e.g. a separate venv with ``tensorflow-cpu keras h5py numpy``); the Keras models are then loaded
from the same ``spliceai`` package files this project reads.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genome_plugin.genome import Reference, one_hot, reverse_complement

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"

pytestmark = pytest.mark.slow

KERAS_PREDICT = r"""
import sys
import numpy as np
import keras
x = np.load(sys.argv[1])
ys = [keras.models.load_model(path, compile=False).predict(x, verbose=0) for path in sys.argv[3:]]
np.save(sys.argv[2], np.stack(ys))
"""


def _keras_python() -> str:
    configured = os.environ.get("GENOME_PLUGIN_TF_PYTHON")
    if configured:
        return configured
    if importlib.util.find_spec("tensorflow") and importlib.util.find_spec("keras"):
        return sys.executable
    pytest.skip(
        "optional extra (CI checks the committed Keras outputs, test_spliceai_goldens.py): live Keras parity needs "
        "TensorFlow + Keras, which genome-plugin does not depend on: set GENOME_PLUGIN_TF_PYTHON to a Python that "
        "has them (bash scripts/make_spliceai_goldens.sh makes /tmp/spliceai-orig-venv)"
    )


def test_trained_models_match_keras_on_real_sequence(tmp_path):
    python = _keras_python()
    from genome_plugin.model.spliceai import keras_weight_files, load_ensemble

    files = keras_weight_files()
    reference = Reference(TEST_DATA / "chr20_slice.fa")
    # 15 kb windows over three genes (GGT7 -, ACSS2 +, GSS -) and one reverse complement: 5,000 outputs each.
    windows = [reference.fetch(chrom="chr20", start=s, end=s + 15_000) for s in (20_000, 75_000, 105_000)]
    windows.append(reverse_complement(windows[2]))
    x = np.stack([one_hot(w) for w in windows])
    np.save(tmp_path / "x.npy", x)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(
        [python, "-c", KERAS_PREDICT, str(tmp_path / "x.npy"), str(tmp_path / "y.npy"), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    keras_members = np.load(tmp_path / "y.npy")
    ensemble = load_ensemble()
    for index in range(5):
        ours = np.asarray(ensemble.member(index)(x))
        assert np.abs(ours - keras_members[index]).max() <= 1e-5, f"model {index + 1}"
    mean = ensemble(x)
    difference = np.abs(mean - keras_members.mean(axis=0)).max()
    print(f"max |ours - Keras| over {x.shape[0]} x {mean.shape[1]} outputs x 3 classes: {difference:.2e}")
    assert difference <= 1e-5
    assert (mean[..., 1:] > 0.5).sum() >= 10  # real splice sites in these windows: the comparison is not vacuous

"""SpliceAI network (model/spliceai.py): valid-convolution maths, the SNV cone, the Keras weight reader and cache."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genome_plugin.genome import Reference, one_hot
from genome_plugin.model import spliceai as sm

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


def _package_installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


needs_weights = pytest.mark.skipif(
    not _package_installed(), reason="the `spliceai` package (trained weights) is not installed: " + sm.INSTALL_HINT
)


def _same_padded_reference(model: sm.SpliceAI, x: jax.Array) -> jax.Array:
    """The Keras formulation: every convolution zero-padded to keep the length, one crop at the end."""
    config = model.config

    def conv(layer, h, dilation=1):
        kernel = layer.kernel[...]
        pad = (kernel.shape[0] - 1) * dilation // 2
        out = jax.lax.conv_general_dilated(
            h, kernel, (1,), [(pad, pad)], rhs_dilation=(dilation,), dimension_numbers=("NWC", "WIO", "NWC")
        )
        return out + layer.bias[...]

    def norm(layer, h):
        return (h - layer.mean[...]) / jnp.sqrt(layer.var[...] + config.bn_epsilon) * layer.scale[...] + (
            layer.bias[...]
        )

    h = conv(model.stem, x)
    skip = conv(model.skip, h)
    dilations = [d for _, d in config.groups for _ in range(config.units_per_group)]
    for index, unit in enumerate(model.units):
        inner = conv(unit.conv1, jax.nn.relu(norm(unit.bn1, h)), dilations[index])
        h = h + conv(unit.conv2, jax.nn.relu(norm(unit.bn2, inner)), dilations[index])
        if (index + 1) % config.units_per_group == 0:
            skip = skip + conv(model.group_skips[index // config.units_per_group], h)
    flank = config.flank
    return jax.nn.softmax(conv(model.head, skip[:, flank:-flank]), axis=-1)


def test_config_flank_and_presets():
    assert sm.SpliceAIConfig.spliceai_10k().flank == 5000
    assert sm.SpliceAIConfig.tiny().flank == 2 * (2 + 8)
    with pytest.raises(ValueError, match="odd kernels"):
        sm.SpliceAIConfig(groups=((4, 1),))


def test_valid_convolutions_equal_keras_style_same_padding_then_crop():
    model = sm.build_member(sm.SpliceAIConfig.tiny(), seed=3)
    x = jnp.asarray(one_hot(Reference(TEST_DATA / "chr20_slice.fa").fetch(chrom="chr20", start=50_000, end=50_300)))
    ours = model(x[None])
    assert ours.shape == (1, 300 - 2 * model.config.flank, 3)
    np.testing.assert_allclose(ours, _same_padded_reference(model, x[None]), atol=1e-6)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("distance", [0, 7, 50])
def test_snv_cone_equals_full_alt_prediction(distance):
    config = sm.SpliceAIConfig.tiny()
    model = sm.build_member(config, seed=1)
    flank, outputs = config.flank, 160
    seq = Reference(TEST_DATA / "chr20_slice.fa").fetch(chrom="chr20", start=81_000, end=81_000 + outputs + 2 * flank)
    ref = one_hot(seq)[None]
    probabilities, residuals, hiddens = model.trace(jnp.asarray(ref))
    positions = np.array([distance, 80, outputs - 1 - distance])
    alts = np.eye(4, dtype=np.float32)[[(int(np.argmax(ref[0, p + flank])) + 1) % 4 for p in positions]]
    cone = model.snv_alt(
        residuals, hiddens, jnp.zeros(3, jnp.int32), jnp.asarray(positions), jnp.asarray(alts), distance=distance
    )
    for row, p in enumerate(positions):
        alt = ref.copy()
        alt[0, p + flank] = alts[row]
        full = np.asarray(model(jnp.asarray(alt)))[0, p - distance : p + distance + 1]
        np.testing.assert_allclose(cone[row], full, atol=1e-6)
        # The SNV really changes the prediction, so agreement is not trivial.
        assert np.abs(full - np.asarray(probabilities)[0, p - distance : p + distance + 1]).max() > 1e-4


def test_ensemble_mean_and_snv_batches_of_random_members():
    config = sm.SpliceAIConfig.tiny()
    members = [sm.build_member(config, seed=s) for s in range(3)]
    ensemble = sm.SpliceAIEnsemble(members)
    x = one_hot(Reference(TEST_DATA / "chr20_slice.fa").fetch(chrom="chr20", start=1000, end=1200))[None]
    mean = ensemble(x)
    np.testing.assert_allclose(mean, np.mean([np.asarray(m(jnp.asarray(x))) for m in members], axis=0), atol=1e-6)
    positions = np.array([10, 20, 30, 40, 50])  # 5 SNVs in batches of 2: padding must not leak
    alts = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]
    ref, alt = ensemble.ref_and_snv_alt(x, np.zeros(5, np.int32), positions, alts, distance=3, batch=2)
    np.testing.assert_allclose(ref, mean, atol=1e-6)
    for row, p in enumerate(positions):
        changed = x.copy()
        changed[0, p + config.flank] = alts[row]
        np.testing.assert_allclose(alt[row], ensemble(changed)[0, p - 3 : p + 4], atol=1e-6)
    with pytest.raises(ValueError, match="outputs from the ends"):
        ensemble.ref_and_snv_alt(x, np.zeros(1, np.int32), np.array([2]), alts[:1], distance=3)
    with pytest.raises(ValueError, match="one-hot input"):
        ensemble(x[:, : 2 * config.flank])


@needs_weights
def test_keras_reader_maps_every_layer_of_the_trained_files():
    files = sm.keras_weight_files()
    assert [f.name for f in files] == [f"spliceai{i}.h5" for i in range(1, 6)]
    params = sm.read_keras_h5(files[0], sm.SpliceAIConfig.spliceai_10k())
    assert sum(v.size for v in params.values()) == 698_787  # every value of the file, batch-norm statistics included
    assert params["stem.kernel"].shape == (1, 4, 32)
    assert params["units.15.conv2.kernel"].shape == (41, 32, 32)
    assert params["head.kernel"].shape == (1, 32, 3)
    assert np.all(params["units.0.bn1.var"] > 0)
    with pytest.raises(sm.SpliceAIWeightsError, match="expected"):
        sm.read_keras_h5(files[0], sm.SpliceAIConfig.tiny())


def test_reader_reports_a_file_that_is_not_keras(tmp_path):
    bogus = tmp_path / "model.h5"
    bogus.write_bytes(b"not hdf5")
    with pytest.raises(sm.SpliceAIWeightsError, match="cannot read"):
        sm.read_keras_h5(bogus, sm.SpliceAIConfig())


def test_missing_package_says_how_to_install(monkeypatch):
    def absent(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(sm.metadata, "distribution", absent)
    with pytest.raises(sm.SpliceAIWeightsError, match="pip install --no-deps spliceai==1.3.1"):
        sm.keras_weight_files()


@needs_weights
@pytest.mark.slow
def test_cache_is_written_once_verified_and_rebuilt_when_corrupt(tmp_path):
    first = sm.load_ensemble(cache=tmp_path)
    [npz] = list((tmp_path / "spliceai").glob("*.npz"))
    manifest = json.loads(npz.with_suffix(".json").read_text())
    assert manifest["weights_sha256"] == first.weights_sha256
    assert len(manifest["sources"]) == 5 and manifest["npz_sha256"]
    stamp = npz.stat().st_mtime_ns
    sm.load_ensemble(cache=tmp_path)
    assert npz.stat().st_mtime_ns == stamp  # verified and reused, not rewritten
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    again = sm.load_ensemble(cache=tmp_path)  # checksum mismatch: converted again from the .h5 files
    assert json.loads(npz.with_suffix(".json").read_text())["npz_sha256"] == manifest["npz_sha256"]
    x = one_hot(Reference(TEST_DATA / "chr20_slice.fa").fetch(chrom="chr20", start=40_000, end=50_101))[None]
    np.testing.assert_array_equal(again(x), first(x))

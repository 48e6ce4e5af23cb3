"""Parity of our Flax AlphaGenome with the official Haiku model on the shared fixture (all heads, both organisms).

The fixture holds the official fp32 CPU outputs for rule-generated parameters. We regenerate the
official-layout leaves from the manifest, convert them with our converter, run the full preset and
compare every output (tolerances from the fixture README).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIXTURE = Path(__file__).parents[1] / ".." / "shared" / "fixtures" / "alphagenome-parity"
REL_TOL = 1e-5  # max|a-b| <= REL_TOL * max|ref| per float array
USAGE_ATOL = 1e-3  # float16 splice-site usage
MOCK_HEAD_NAMES = {"splice_site_usage": "splice_sites_usage", "splice_sites": "splice_sites_classification",
                   "splice_junctions": "splice_sites_junction"}  # fmt: skip

pytestmark = pytest.mark.slow


def _fixture_or_skip(require) -> Path:
    """The fixture folder; skips when it is absent, and fails under CI=true (CI has ../shared beside the clone)."""
    found = (FIXTURE / "manifest.json").exists() and (FIXTURE / "outputs_main.npz").exists()
    require(found, f"AlphaGenome parity fixture not found at {FIXTURE.resolve()}")
    return FIXTURE


def _official_leaves(manifest: dict) -> dict[str, np.ndarray]:
    spec = importlib.util.spec_from_file_location("agfix_regenerate", FIXTURE / "regenerate_params.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    leaves = {}
    for leaf in manifest["leaves"]:
        value = module.leaf_value(leaf["path"], leaf["shape"])
        assert hashlib.sha256(value.tobytes()).hexdigest() == leaf["sha256"], leaf["path"]
        leaves[leaf["path"]] = value
    return leaves


def _mock_metadata(manifest: dict):
    from genome_plugin.model.metadata import TrackMetadata

    out = []
    for index in sorted(manifest["model_config"]["organism_index"], key=int):
        organism = {"HOMO_SAPIENS": "human", "MUS_MUSCULUS": "mouse"}[manifest["model_config"]["organism_index"][index]]
        tables = {}
        for head, rows in manifest["mock_metadata"][organism].items():
            df = pd.DataFrame(rows)
            if "nonzero_mean" not in df:
                df["nonzero_mean"] = np.nan
            if "strand" not in df:
                df["strand"] = "."
            tables[MOCK_HEAD_NAMES.get(head, head)] = df
        out.append(TrackMetadata(organism, tables))
    return out


def _errors(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    ours = np.asarray(ours, np.float64)
    ref = np.asarray(ref, np.float64)
    assert ours.shape == ref.shape
    return float(np.max(np.abs(ours - ref))), float(np.max(np.abs(ref)))


def _selection_matches(ours: np.ndarray, ref: np.ndarray, probs: np.ndarray, k: int, threshold: float) -> list[str]:
    """Positions may differ only among candidates whose probability ties (to 1e-5) with the k-th value or threshold."""
    problems = []
    for b in range(ref.shape[0]):
        for c in range(4):
            a, r = set(ours[b, c][ours[b, c] >= 0]), set(ref[b, c][ref[b, c] >= 0])
            if a == r:
                continue
            p = probs[b, :, c]
            kth = np.sort(p)[-k]
            for pos in a ^ r:
                near = min(abs(p[pos] - kth), abs(p[pos] - threshold))
                if near > 1e-5:
                    problems.append(f"batch {b} class {c} position {pos} (prob {p[pos]:.7f}, k-th {kth:.7f})")
    return problems


def test_parity_with_official_model(require):
    fixture = _fixture_or_skip(require)
    import jax
    import jax.numpy as jnp

    from genome_plugin.model.convert import config_from_metadata, model_from_official

    manifest = json.loads((fixture / "manifest.json").read_text())
    ref = dict(np.load(fixture / "outputs_main.npz"))
    metadata = _mock_metadata(manifest)
    config = config_from_metadata(metadata).with_parity_precision()
    model = model_from_official(_official_leaves(manifest), config, metadata)

    index = ref["inputs/sequence_index_ACGT"].astype(np.int32)
    one_hot = np.eye(4, dtype=np.float32)[index]
    organism = jnp.asarray(ref["inputs/organism_index"], jnp.int32)

    with jax.default_matmul_precision("highest"):
        from flax import nnx

        forward = nnx.jit(lambda m, x, o: m(x, o, return_intermediates=True))
        out = forward(model, jnp.asarray(one_hot), organism)
        junctions = nnx.jit(lambda m, e, p, o: m.predict_junctions(e, p, o))(
            model,
            out["embeddings"]["embeddings_1bp"],
            jnp.asarray(ref["splice_sites_junction/splice_site_positions"]),
            organism,
        )
    out = jax.tree.map(np.asarray, out)
    junctions = jax.tree.map(np.asarray, junctions)

    ours = {}
    for head, values in out.items():
        if head in ("embeddings", "intermediate", "splice_sites_junction"):
            continue
        for key, value in values.items():
            ours[f"{head}/{key}"] = value
    ours["embeddings/embeddings_128bp"] = out["embeddings"]["embeddings_128bp"]
    ours["embeddings/embeddings_pair"] = out["embeddings"]["embeddings_pair"]
    ours["embeddings/embeddings_1bp_first512"] = out["embeddings"]["embeddings_1bp"][:, :512]
    inter = out["intermediate"]
    ours["intermediate/encoder_output"] = inter["encoder_output"]
    ours["intermediate/transformer_output"] = inter["transformer_output"]
    ours["intermediate/transformer_pair"] = inter["transformer_pair"]
    ours["intermediate/decoder_output_first512"] = inter["decoder_output"][:, :512]
    ours["splice_sites_junction/predictions"] = junctions["predictions"]

    failures, report = [], []
    float_keys = [k for k in ref if not k.startswith("inputs/") and ref[k].dtype.kind == "f"]
    assert set(float_keys) <= set(ours), sorted(set(float_keys) - set(ours))
    for key in sorted(float_keys):
        err, scale = _errors(ours[key], ref[key])
        if key == "splice_sites_usage/predictions":
            ok = err <= USAGE_ATOL
        else:
            ok = err <= REL_TOL * scale
        report.append(f"{key}: max|a-b|={err:.3g} max|ref|={scale:.3g} ratio={err / max(scale, 1e-30):.3g}")
        if not ok:
            failures.append(report[-1])
    print("\n".join(report))

    np.testing.assert_array_equal(junctions["splice_junction_mask"], ref["splice_sites_junction/splice_junction_mask"])
    tie_problems = _selection_matches(
        out["splice_sites_junction"]["splice_site_positions"],
        ref["splice_sites_junction/splice_site_positions"],
        ref["splice_sites_classification/predictions"],
        config.heads.num_splice_sites,
        config.heads.splice_site_threshold,
    )
    assert not tie_problems, tie_problems
    assert not failures, "\n".join(failures)

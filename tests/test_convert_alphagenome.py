"""Converter from official AlphaGenome weights, and the official track-metadata reader."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pandas as pd
import pytest
from flax import nnx

from genome_plugin.model.config import HEAD_SPECS, OFFICIAL_TRACK_COUNTS, AlphaGenomeConfig
from genome_plugin.model.convert import (
    config_from_metadata,
    convert_official,
    export_official,
    load_official_leaves,
    model_from_official,
    official_leaf_map,
    official_shape,
)
from genome_plugin.model.metadata import TrackMetadata, parse_textproto, read_output_metadata
from genome_plugin.model.network import AlphaGenome, init_on_host

SHARED = Path(__file__).parents[1] / ".." / "shared"
METADATA_DIR = SHARED / "data" / "alphagenome-track-metadata"
MANIFEST = SHARED / "fixtures" / "alphagenome-parity" / "manifest.json"
TINY = AlphaGenomeConfig.tiny()


def _tiny_metadata() -> list[TrackMetadata]:
    out = []
    for organism, tissues in zip(TINY.organisms, TINY.heads.junction_tissues_per_organism, strict=True):
        tables = {}
        for head, count in TINY.heads.track_counts:
            n = tissues if head == "splice_sites_junction" else count
            tables[head] = pd.DataFrame(
                {
                    "name": [f"{organism}_{head}_{i}" for i in range(n)],
                    "strand": ".",
                    "nonzero_mean": np.linspace(0.5, 2.0, n),
                }  # fmt: skip
            )
        out.append(TrackMetadata(organism, tables))
    return out


def test_parse_textproto_subset():
    text = r"""
    # comment
    output_metadata {
      output_type: OUTPUT_TYPE_ATAC
      tracks {
        metadata { name: "Wharton\'s jelly \303\251" strand: STRAND_POSITIVE nonzero_mean: 0.5 }
        metadata { name: "b" "c" genetically_modified: false id: 7 }
      }
    }
    """
    message = parse_textproto(text)
    tracks = message["output_metadata"][0]["tracks"][0]["metadata"]
    assert tracks[0]["name"] == ["Wharton's jelly \u00e9"]
    assert tracks[0]["nonzero_mean"] == [0.5] and tracks[0]["strand"] == ["STRAND_POSITIVE"]
    assert tracks[1]["name"] == ["bc"] and tracks[1]["genetically_modified"] == [False] and tracks[1]["id"] == [7]
    with pytest.raises(ValueError, match="line 2: unexpected"):
        parse_textproto("a {\n b: }")
    with pytest.raises(ValueError, match="missing"):
        parse_textproto("a { b: 1")


def test_official_track_metadata_files(require):
    require(METADATA_DIR.exists(), f"official track metadata not found at {METADATA_DIR.resolve()}")
    human = read_output_metadata(METADATA_DIR / "OutputMetadataResponse_ORGANISM_HOMO_SAPIENS.textproto")
    mouse = read_output_metadata(METADATA_DIR / "OutputMetadataResponse_ORGANISM_MUS_MUSCULUS.textproto")
    assert (human.organism, mouse.organism) == ("human", "mouse")
    assert {h: human.num_tracks(h) for h in OFFICIAL_TRACK_COUNTS} == OFFICIAL_TRACK_COUNTS
    real = sum(int((df["name"] != "Padding").sum()) for h, df in human.tables.items() if h != "splice_sites_junction")
    assert real + 2 * human.num_tracks("splice_sites_junction") == 5930  # junctions: 367 tissues x 2 strands
    config = config_from_metadata([human, mouse])
    assert config.heads.counts == OFFICIAL_TRACK_COUNTS
    assert config.heads.junction_tissues_per_organism == (367, 367)
    atac = human.tables["atac"]
    assert atac.loc[0, "ontology_curie"] == "CL:0000084" and atac.loc[0, "strand"] == "."
    assert np.all(human.track_means("atac") > 0)


def test_leaf_map_matches_the_official_manifest(require):
    require(MANIFEST.exists(), f"AlphaGenome parity manifest not found at {MANIFEST.resolve()}")
    manifest = json.loads(MANIFEST.read_text())
    official = {leaf["path"]: tuple(leaf["shape"]) for leaf in manifest["leaves"]}
    counts = {name: 3 for name in HEAD_SPECS} | {"splice_sites_classification": 5}
    config = AlphaGenomeConfig.full().with_track_counts(counts, junction_tissues_per_organism=(3, 2))
    layout = official_leaf_map(config)
    assert set(layout) == set(official)
    assert len(set(layout.values())) == len(layout)  # one-to-one
    abstract = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    flat = dict(nnx.to_flat_state(nnx.state(abstract)))
    for path, ours in layout.items():
        assert official_shape(path, tuple(flat[ours].shape)) == official[path], path


def _haiku_tree(leaves: dict[str, np.ndarray]) -> tuple[dict, dict]:
    params, state = {}, {}
    for path, value in leaves.items():
        target, path = (state, path.removeprefix("state/")) if path.startswith("state/") else (params, path)
        module, name = path.rsplit("/", 1)
        target.setdefault(module, {})[name] = value
    return params, state


def test_convert_official_orbax_checkpoint_round_trip(tmp_path):
    import orbax.checkpoint as ocp

    from genome_plugin.model.adapter import AlphaGenomeModel
    from genome_plugin.model.checkpoint import read_card

    source = init_on_host(TINY, seed=5)
    leaves = export_official(source)
    assert len(leaves) == len(official_leaf_map(TINY))
    official_dir = tmp_path / "official"
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(official_dir, _haiku_tree(leaves))
    checkpointer.wait_until_finished()

    metadata = _tiny_metadata()
    out = convert_official(official_dir, metadata, tmp_path / "ours", base_config=TINY, version="test")
    card = read_card(out)
    assert card["config"]["heads"]["track_counts"] == [list(x) for x in TINY.heads.track_counts]
    assert len(card["tracks"]["mouse"]["splice_sites_junction"]) == TINY.heads.junction_tissues_per_organism[1]
    adapter = AlphaGenomeModel.from_checkpoint(out, input_lengths=None)
    converted = adapter.model
    ours = dict(nnx.to_flat_state(nnx.state(converted)))
    for path, var in nnx.to_flat_state(nnx.state(source)):
        if path[-1] == "track_means":
            head = path[1]
            np.testing.assert_allclose(np.asarray(ours[path][...])[1], metadata[1].track_means(head), rtol=1e-6)
        else:
            np.testing.assert_array_equal(np.asarray(ours[path][...]), np.asarray(var[...]), err_msg=str(path))
    assert adapter.tracks("atac", "mouse").names[0] == "mouse_atac_0"
    assert len(adapter.tracks("splice_junctions", "human")) == 2 * TINY.heads.junction_tissues_per_organism[0]


def test_converter_names_missing_leftover_and_misshapen_leaves():
    leaves = export_official(init_on_host(TINY, seed=1))
    missing = dict(leaves)
    gone = "alphagenome/transformer_tower/mha_block_1/q_layer/w"
    del missing[gone]
    with pytest.raises(ValueError, match=f"1 missing.*{gone}"):
        model_from_official(missing, TINY)
    extra = dict(leaves) | {"alphagenome/extra/w": np.zeros(3, np.float32)}
    with pytest.raises(ValueError, match="left over.*alphagenome/extra/w"):
        model_from_official(extra, TINY)
    bad = dict(leaves)
    key = "alphagenome/sequence_encoder/dna_embedder/conv1_d/w"
    bad[key] = bad[key][:, :3]
    with pytest.raises(ValueError, match=f"{key} has shape"):
        model_from_official(bad, TINY)
    converted = model_from_official(leaves, TINY)
    a = jax.tree.leaves(nnx.to_pure_dict(nnx.state(converted, nnx.Param)))
    assert all(np.all(np.isfinite(np.asarray(x))) for x in a)
    with pytest.raises(ValueError, match="does not exist"):
        load_official_leaves("/nonexistent/checkpoint")

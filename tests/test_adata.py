"""The AnnData schema: building, validating and round-tripping through real h5ad files."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from genome_plugin.adata import provenance, read_h5ad, tracks_to_anndata, validate, write_h5ad
from genome_plugin.genome import Interval
from genome_plugin.tracks import OutputType, TrackTable

TRACKS = TrackTable(pd.DataFrame({"name": ["a", "a", "b"], "strand": ["+", "-", "."], "assay": ["x", "x", "y"]}))


def _tracks_adata():
    values = np.arange(4 * 3, dtype=np.float32).reshape(4, 3)
    uns = provenance("tracks", output_type=OutputType.DNASE, resolution=128, reference="/data/hg.fa", note=None)
    return tracks_to_anndata(values, interval=Interval("chr20", 1000, 1512), resolution=128, tracks=TRACKS, uns=uns)


def test_track_predictions_schema_and_round_trip(tmp_path):
    adata = _tracks_adata()
    assert list(adata.obs["start"]) == [1000, 1128, 1256, 1384]
    assert list(adata.obs["end"]) == [1128, 1256, 1384, 1512]
    meta = adata.uns["genome_plugin"]
    assert meta["output_type"] == "dnase" and meta["resolution"] == 128 and meta["reference"] == "hg.fa"
    path = tmp_path / "t.h5ad"
    write_h5ad(adata, path)
    back = read_h5ad(path)
    np.testing.assert_array_equal(back.X, adata.X)
    pd.testing.assert_frame_equal(back.var, adata.var)
    assert back.uns["genome_plugin"]["genome_plugin_version"] == meta["genome_plugin_version"]
    assert list(back.obs["chrom"]) == ["chr20"] * 4


def test_validate_catches_schema_breaks():
    adata = _tracks_adata()
    broken = adata.copy()
    del broken.uns["genome_plugin"]
    with pytest.raises(ValueError, match="no uns"):
        validate(broken)
    broken = adata.copy()
    broken.obs = broken.obs.drop(columns="interval_id")
    with pytest.raises(ValueError, match="obs lacks column"):
        validate(broken)
    broken = adata.copy()
    broken.var = pd.DataFrame({"name": ["a", "a", "a"], "strand": ["+", "+", "-"]}, index=["1", "2", "3"])
    with pytest.raises(ValueError, match="duplicate track"):
        validate(broken)
    broken = adata.copy()
    broken.uns["genome_plugin"] = dict(broken.uns["genome_plugin"], kind="other")
    with pytest.raises(ValueError, match="kind"):
        validate(broken)


def test_variant_scores_unscored_rows_must_be_nan():
    obs = pd.DataFrame({"variant_id": ["v1", "v2"], "chrom": ["chr20"] * 2, "pos": [5, 6], "ref": ["A", "C"],
                        "alt": ["G", "T"], "reason": ["", "REF mismatch"]}, index=["0", "1"])
    adata = ad.AnnData(X=np.array([[1.0, 2, 3], [np.nan] * 3], dtype=np.float32), obs=obs, var=TRACKS.to_var())
    adata.uns["genome_plugin"] = provenance("variant_scores", scorer={"name": "s"})
    validate(adata)
    adata.X[1, 0] = 0.5
    with pytest.raises(ValueError, match="must hold NaN"):
        validate(adata)


def test_h5ad_is_readable_by_plain_anndata(tmp_path):
    path = tmp_path / "t.h5ad"
    write_h5ad(_tracks_adata(), path)
    plain = ad.read_h5ad(path)
    assert plain.shape == (4, 3)


def test_repeated_strings_are_written_as_categoricals_without_anndata_log_lines(tmp_path, caplog):
    adata = _tracks_adata()
    adata.obs["label"] = ["x", "x", "y", "x"]  # repeated: anndata would log "... storing 'label' as categorical"
    adata.obs["unique"] = ["p", "q", "r", "s"]  # all distinct: stays a string column, as anndata leaves it
    adata.var["assay"] = adata.var["assay"].astype(object)
    with caplog.at_level("DEBUG"):
        write_h5ad(adata, tmp_path / "t.h5ad")
    assert not [r for r in caplog.records if "as categorical" in r.getMessage()]
    back = read_h5ad(tmp_path / "t.h5ad")
    assert isinstance(back.obs["label"].dtype, pd.CategoricalDtype) and list(back.obs["label"]) == ["x", "x", "y", "x"]
    assert not isinstance(back.obs["unique"].dtype, pd.CategoricalDtype) and list(back.obs["unique"]) == list("pqrs")
    assert isinstance(back.var["assay"].dtype, pd.CategoricalDtype) and list(back.var["assay"]) == ["x", "x", "y"]

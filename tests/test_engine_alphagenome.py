"""End to end with the AlphaGenome architecture (tiny preset, random weights): the recommended scorers over VCFs."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from genome_plugin.genome import Reference, read_gtf, read_vcf
from genome_plugin.plugins import get_models, load_model
from genome_plugin.scoring.catalogue import RECOMMENDED
from genome_plugin.scoring.engine import score_variants

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = TEST_DATA / "chr20_slice.fa"
AWKWARD = TEST_DATA / "awkward.vcf"
LENGTH = 16_384

pytestmark = [pytest.mark.slow, pytest.mark.skipif("alphagenome-tiny" not in get_models(),
                                                  reason="the alphagenome-tiny model is not registered")]


@pytest.fixture(scope="module")
def tiny():
    return load_model("alphagenome-tiny")


@pytest.fixture(scope="module")
def awkward_runs(tmp_path_factory, tiny):
    annotation = read_gtf(TEST_DATA / "genes.gtf")
    runs = []
    for name in ("a", "b"):
        runs.append(score_variants(tiny, FASTA, AWKWARD, scorers=["recommended"], annotation=annotation,
                                   out_dir=tmp_path_factory.mktemp(name), sequence_length=LENGTH, batch_size=4,
                                   progress=False))
    return runs


def test_recommended_scorers_run_on_the_tiny_model(awkward_runs, tiny):
    run = awkward_runs[0]
    ran = set(run.h5ad)
    assert ran | set(run.skipped_scorers) == set(RECOMMENDED)
    # the architecture predicts every output type and AlphaGenomeModel has junctions(): nothing is skipped
    assert dict(run.skipped_scorers) == {}
    # junction rows: each inside its gene's body (SDK coordinates: [junction_Start, junction_End) is the intron),
    # scores finite on the gene's strand and NaN on the other's
    junctions = ad.read_h5ad(run.h5ad["splice_junction"])
    scored = (junctions.obs["reason"] == "").to_numpy() & junctions.obs["gene_id"].notna().to_numpy()
    assert scored.any()
    genes = read_gtf(TEST_DATA / "genes.gtf").genes.set_index("gene_id")
    strands = junctions.var["strand"].astype(str).to_numpy()
    for (_, row), values in zip(junctions.obs[scored].iterrows(), junctions.X[scored]):
        gene = genes.loc[row["gene_id"]]
        assert gene["start"] < int(row["junction_Start"]) < int(row["junction_End"]) < gene["end"]
        assert np.isfinite(values[strands == gene["strand"]]).all()
        assert np.isnan(values[(strands != gene["strand"]) & (strands != ".")]).all()
    for name in ("center_mask_dnase_501_diff_log2_sum", "center_mask_chip_histone_2001_active_sum", "contact_map"):
        adata = ad.read_h5ad(run.h5ad[name])
        scored = (adata.obs["reason"] == "").to_numpy()
        assert scored.sum() == 15 and np.isfinite(adata.X[scored]).all()
        assert adata.uns["genome_plugin"]["model"] == tiny.name
        assert list(adata.var["name"]) == list(tiny.tracks(_type(name)).df["name"])
    # an SNV changes the prediction, so the active and diff scores are not all zero
    diff = ad.read_h5ad(run.h5ad["center_mask_dnase_501_diff_log2_sum"])
    assert np.abs(np.nan_to_num(diff.X)).max() > 0


def _type(name):
    from genome_plugin.plugins import get_scorers

    return get_scorers()[name].output_type


def test_awkward_records_in_equal_records_out_everywhere(awkward_runs):
    run = awkward_runs[0]
    expected = [(r.record, r.allele) for r in read_vcf(AWKWARD, reference=Reference(FASTA), max_allele_length=100)]
    data_in = [line for line in AWKWARD.read_text().splitlines() if line and not line.startswith("#")]
    data_out = [line for line in run.vcf.read_text().splitlines() if line and not line.startswith("#")]
    assert len(data_out) == len(data_in)
    tsv = pd.read_csv(run.tsv, sep="\t", keep_default_na=False, dtype=str)
    for name, path in run.h5ad.items():
        obs = ad.read_h5ad(path).obs
        assert list(dict.fromkeys(zip(obs["record"], obs["allele"]))) == expected, name
        assert len(tsv[tsv["scorer"] == name].drop_duplicates(["vcf_record", "variant_id"])) == len(expected)


def test_two_runs_are_byte_identical(awkward_runs):
    first, second = awkward_runs
    assert first.tsv.read_bytes() == second.tsv.read_bytes()
    assert first.vcf.read_bytes() == second.vcf.read_bytes()

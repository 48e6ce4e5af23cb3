"""``genome-plugin spliceai``: outputs on real variants, and one-line errors for bad input."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pandas as pd
import pysam
import pytest

from genome_plugin.adata import read_h5ad
from genome_plugin.cli import main

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"


def _installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
@pytest.mark.skipif(not _installed(), reason="the `spliceai` package (trained weights) is not installed")
def test_scores_a_vcf_into_vcf_tsv_and_h5ad(tmp_path):
    vcf = tmp_path / "three.vcf"
    lines = (TEST_DATA / "variants.vcf").read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    picked = [line for line in lines if "GSS_intron" in line or "PROCR_exon2" in line]
    vcf.write_text("\n".join(header + picked) + "\n")
    out = tmp_path / "out"
    code = main(
        [
            "-q",
            "spliceai",
            "--fasta",
            str(TEST_DATA / "chr20_slice.fa"),
            "--vcf",
            str(vcf),
            "--annotation",
            str(TEST_DATA / "genes.gtf"),
            "--distance",
            "50",
            "--mask",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    with pysam.VariantFile(str(out / "spliceai.vcf")) as handle:
        records = list(handle)
    assert [r.id for r in records] == [line.split("\t")[2] for line in picked]
    donor = next(r for r in records if r.id == "GSS_intron2_donor+1_snv")
    allele, gene, *scores = donor.info["SpliceAI"][0].split("|")
    assert (allele, gene) == ("T", "GSS") and float(scores[3]) > 0.5
    tsv = pd.read_csv(out / "spliceai.tsv", sep="\t")
    assert len(tsv) == len(picked) and (tsv["reason"].isna()).all()
    adata = read_h5ad(out / "spliceai.h5ad")
    assert adata.n_obs == len(picked) and adata.uns["genome_plugin"]["scorer_definition"]["mask"]


def test_bad_annotation_and_distance_are_one_line_errors(tmp_path, capsys):
    code = main(
        [
            "spliceai",
            "--fasta",
            str(TEST_DATA / "chr20_slice.fa"),
            "--vcf",
            str(TEST_DATA / "variants.vcf"),
            "--annotation",
            str(tmp_path / "nope.gtf"),
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "neither grch37, grch38 nor an existing file" in err[0]
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "spliceai",
                "--fasta",
                "f.fa",
                "--vcf",
                "v.vcf",
                "--annotation",
                "grch37",
                "--distance",
                "5000",
                "--out",
                str(tmp_path),
            ]
        )
    assert exit_info.value.code == 2
    assert "distance must be an integer from 0 to 4999" in capsys.readouterr().err

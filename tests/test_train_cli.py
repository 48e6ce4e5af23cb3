"""`genome-plugin train` from the checked-in tiny config, then `score` with the trained checkpoint; config errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from genome_plugin.cli import main
from genome_plugin.train.config import read_config

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "train" / "configs" / "tiny.toml"
TEST_DATA = REPO / "test-data"


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "genome_plugin.cli", *args], capture_output=True, text=True,
                          env=env, timeout=900, cwd=REPO)


@pytest.mark.slow
def test_train_then_score_with_the_checkpoint(tmp_path):
    model_dir = tmp_path / "model"
    trained = _cli("train", "--config", str(TINY), "--out", str(model_dir), "-q")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert f"--checkpoint {model_dir}" in trained.stdout
    card = json.loads((model_dir / "model_card.json").read_text())
    assert card["name"] == "alphagenome-tiny-chr20-splice" and card["licence"] == "Apache-2.0"
    training = card["training"]
    assert training["steps"] == 4 and training["data"]["targets"] == ["splice_sites@1"]
    assert [r["fold"] for r in training["folds"]] == ["train", "valid"]
    licences = {Path(i["input"]).name: i["licence"] for i in training["input_licences"]}
    assert licences["genes.gtf"].startswith("GENCODE") and licences["chr20_slice.fa"].startswith("GRCh37")
    assert "valid/splice_sites_classification/loss" in training["metrics"]
    assert list(card["tracks"]["human"]) == ["splice_sites_classification"]
    metrics = pd.read_csv(model_dir / "metrics.csv", keep_default_na=False)
    assert set(metrics.split) == {"train", "valid"}
    assert (model_dir / "checkpoints" / "4").is_dir()

    scores = tmp_path / "scores"
    scored = _cli("score", "--model", "alphagenome", "--checkpoint", str(model_dir), "--fasta",
                  str(TEST_DATA / "chr20_slice.fa"), "--vcf", str(TEST_DATA / "variants.vcf"), "--gtf",
                  str(TEST_DATA / "genes.gtf"), "--sequence-length", "16384", "--out", str(scores), "-q")
    assert scored.returncode == 0, scored.stderr[-3000:]
    tsv = pd.read_csv(scores / "scores.tsv", sep="\t")
    assert len(tsv) > 0 and set(tsv["output_type"]) == {"SPLICE_SITES"}
    assert tsv["raw_score"].notna().any()

    again = _cli("train", "--config", str(TINY), "--out", str(model_dir), "-q")
    assert again.returncode != 0 and "already holds a trained model" in again.stderr


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.toml"
    configs = REPO / "train" / "configs"
    base = (f'[data]\nfasta = "{TEST_DATA / "chr20_slice.fa"}"\ntrack_table = "{configs / "tiny_tracks.tsv"}"\n'
            f'folds = "{configs / "tiny_folds.bed"}"\nsequence_length = 2048\n')
    path.write_text(base + text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[optimizer]\nlearning_rate = -1\n", "[optimizer] learning_rate: must be > 0, got -1.0"),
        ("[loop]\nstep = 3\n", "[loop] step: unknown key"),
        ("[loop]\nsteps = \"many\"\n", "[loop] steps: must be an integer, got 'many'"),
        ("[model]\npreset = \"huge\"\n", "[model] preset: 'huge' is not one of tiny, small, full"),
        ("[finetune]\nmode = \"linear_probe\"\n", "[finetune] mode: 'linear_probe' needs [finetune] checkpoint"),
        ("[finetune]\ncheckpoint = \"nowhere\"\n", "[finetune] checkpoint:"),
        ("[data.extra]\nx = 1\n", "[data] extra: unknown key"),
    ],
)
def test_config_errors_name_the_key(tmp_path, capsys, text, expected):
    path = _config(tmp_path, text)
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err and expected in err, err


def test_config_paths_resolve_from_the_config_folder():
    config = read_config(TINY)
    assert Path(config.data.fasta) == TEST_DATA / "chr20_slice.fa"
    assert config.data.sequence_length == 2048 and config.loop.steps == 4 and config.out is None
    assert config.card.input_licences["genes.gtf"].startswith("GENCODE")


def test_missing_sequence_multiple_and_file(tmp_path, capsys):
    path = _config(tmp_path, "")
    path.write_text(path.read_text().replace("sequence_length = 2048", "sequence_length = 3000"))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "[data] sequence_length: 3000 is not a multiple of 2048 bp" in capsys.readouterr().err
    path.write_text(path.read_text().replace("chr20_slice.fa", "missing.fa"))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "[data] fasta:" in capsys.readouterr().err

"""``genome-plugin score`` end to end, including a scorer that a third-party plugin registers in-process."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from alphagenome.models import dna_output
from alphagenome.models import variant_scorers as vs

from genome_plugin import cli, plugins
from genome_plugin.errors import InputError
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry, SequenceModel
from genome_plugin.scoring.base import Scorer, ScoreResult
from genome_plugin.tracks import OutputType, TrackTable

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
FASTA = str(TEST_DATA / "chr20_slice.fa")
VARIANTS = TEST_DATA / "variants.vcf"


class GuanineModel(SequenceModel):
    """One DNase-like track: 1 where the base is G, else 0 (so scores follow from the alleles by hand)."""

    name = "cli-guanine"
    version = "1"

    def output_types(self):
        return (OutputType.DNASE,)

    def tracks(self, output_type, organism="human"):
        return TrackTable([{"name": "guanine", "strand": "."}])

    def resolutions(self, output_type):
        return (1,)

    def predict(self, onehot, *, organism="human", requests=None):
        return {(OutputType.DNASE, 1): np.asarray(onehot[..., 2:3], dtype=np.float32)}


class GuanineGain(Scorer):
    """G bases gained by the ALT window: sum(ALT) - sum(REF) over the whole window."""

    name = "thirdparty_guanine_gain"
    output_type = OutputType.DNASE
    description = "G bases gained (third-party test scorer)"

    def score(self, ref, alt, *, context):
        return ScoreResult.single(alt.sum(axis=0) - ref.sum(axis=0))


class ThirdParty:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name="cli-guanine", loader=GuanineModel, description="test model",
                            output_types=(OutputType.DNASE,), real_weights=False))

    @hookimpl
    def register_scorers(self, register):
        register(GuanineGain())


@pytest.fixture
def third_party():
    plugin = ThirdParty()
    plugins.pm.register(plugin, name="test-third-party")
    try:
        yield plugin
    finally:
        plugins.pm.unregister(plugin)


def test_third_party_scorer_runs_from_the_cli(tmp_path, third_party, capsys):
    out = tmp_path / "out"
    code = cli.main(["-q", "score", "--model", "cli-guanine", "--fasta", FASTA, "--vcf", str(VARIANTS),
                     "--scorer", "thirdparty_guanine_gain", "--scorer", "center_mask_dnase_501_diff_sum",
                     "--sequence-length", "4096", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["center_mask_dnase_501_diff_sum.h5ad", "scores.tsv",
                                                     "scores.vcf", "thirdparty_guanine_gain.h5ad"]
    adata = ad.read_h5ad(out / "thirdparty_guanine_gain.h5ad")
    # an SNV gains one G when ALT is G, loses one when REF is G, else none
    snv = (adata.obs["ref"].str.len() == 1) & (adata.obs["alt"].str.len() == 1)
    expected = (adata.obs["alt"] == "G").astype(float) - (adata.obs["ref"] == "G").astype(float)
    np.testing.assert_array_equal(adata.X[snv.to_numpy(), 0], expected[snv].to_numpy())
    assert {0.0, 1.0, -1.0} <= set(adata.X[snv.to_numpy(), 0])
    assert adata.uns["genome_plugin"]["model"] == "cli-guanine"
    tsv = pd.read_csv(out / "scores.tsv", sep="\t")
    assert set(tsv["scorer"]) == {"thirdparty_guanine_gain", "center_mask_dnase_501_diff_sum"}
    # variant_scorer: the SDK's repr of the equal SDK scorer; a plugin scorer the SDK lacks keeps its name
    sdk = vs.CenterMaskScorer(requested_output=dna_output.OutputType.DNASE, width=501,
                              aggregation_type=vs.AggregationType.DIFF_SUM)
    assert set(tsv["variant_scorer"]) == {"thirdparty_guanine_gain", str(sdk)}
    assert list(tsv.columns[:12]) == ["variant_id", "scored_interval", "gene_id", "gene_name", "gene_type",
                                      "gene_strand", "junction_Start", "junction_End", "output_type",
                                      "variant_scorer", "track_name", "track_strand"]
    header = [line for line in (out / "scores.vcf").read_text().splitlines() if line.startswith("##INFO")]
    assert any("ID=GP_thirdparty_guanine_gain,Number=A" in line and "G bases gained" in line for line in header)


def test_list_scorers_shows_presets_and_plugins(third_party, capsys):
    assert cli.main(["score", "--list-scorers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    recommended = next(line for line in lines if line.startswith("recommended\t"))
    assert "preset of 19" in recommended
    assert any(line.startswith("thirdparty_guanine_gain\tdnase\t") and "[test-third-party]" in line
               for line in lines)


def test_cli_errors_are_one_line(tmp_path, third_party, capsys):
    code = cli.main(["score", "--model", "cli-guanine", "--fasta", FASTA, "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "genome-plugin score: error: --vcf required (or --list-scorers)"
    code = cli.main(["score", "--model", "cli-guanine", "--fasta", FASTA, "--vcf", str(VARIANTS), "--scorer",
                     "contact_map", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "does not predict contact_maps" in err
    code = cli.main(["score", "--model", "cli-guanine", "--fasta", FASTA, "--vcf", str(VARIANTS), "--scorer",
                     "no_such_scorer", "--out", str(tmp_path)])
    assert code == 2 and "unknown scorer 'no_such_scorer'" in capsys.readouterr().err


def test_cli_chunk_and_recommended_preset(tmp_path, third_party, capsys):
    out = tmp_path / "chunk"
    code = cli.main(["-q", "score", "--model", "cli-guanine", "--fasta", FASTA, "--vcf", str(VARIANTS),
                     "--chunk", "2/2", "--sequence-length", "4096", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    # of the SDK's 19, this one-track DNase model can run the two DNase centre-mask scorers
    assert sorted(p.name for p in out.glob("*.h5ad")) == ["center_mask_dnase_501_active_sum.h5ad",
                                                          "center_mask_dnase_501_diff_log2_sum.h5ad"]
    obs = ad.read_h5ad(out / "center_mask_dnase_501_active_sum.h5ad").obs
    second = (obs["record"] * 2 // len(obs) == 1).to_numpy()  # contiguous blocks: records 13..24 of 25
    assert second.sum() == 12
    assert (obs["reason"][~second] == "outside chunk 2/2").all()
    assert (obs["reason"][second] == "").all()


class RaisingScorer(Scorer):
    """A third-party scorer with a bug: a KeyError from deep inside (once reported as a user error, exit 2)."""

    name = "thirdparty_raising"
    output_type = OutputType.DNASE
    description = "raises on every variant (test scorer)"

    def score(self, ref, alt, *, context):
        lookup = {}
        return ScoreResult.single(lookup["track_index"])


class RaisingPlugin:
    @hookimpl
    def register_scorers(self, register):
        register(RaisingScorer())


@pytest.fixture
def raising_plugin(third_party):
    plugin = RaisingPlugin()
    plugins.pm.register(plugin, name="test-raising-scorer")
    try:
        yield plugin
    finally:
        plugins.pm.unregister(plugin)


def test_a_scorer_that_raises_fails_the_run_in_one_line(tmp_path, raising_plugin, capsys):
    """Not NaN rows and exit 0 (which Galaxy reads as success): an internal error, exit 3, one line."""
    argv = ["score", "--model", "cli-guanine", "--fasta", FASTA, "--vcf", str(VARIANTS), "--scorer",
            "thirdparty_raising", "--sequence-length", "4096", "--out", str(tmp_path / "out")]
    code = cli.main(["-q", *argv])
    err = capsys.readouterr().err.strip()
    assert code == cli.EXIT_INTERNAL_ERROR == 3
    assert len(err.splitlines()) == 1, err
    assert err.startswith("genome-plugin score: error: internal error (ScorerError), not a problem with the input: "
                          "scorer thirdparty_raising failed on chr20:")
    assert err.endswith("KeyError: 'track_index' (rerun with --verbose for the traceback)")
    assert not (tmp_path / "out" / "scores.tsv").exists() and not list((tmp_path / "out").glob("*.h5ad"))
    code = cli.main(["-v", *argv])
    err = capsys.readouterr().err
    assert code == 3 and "Traceback (most recent call last)" in err and "lookup[\"track_index\"]" in err


def test_only_the_packages_own_errors_and_user_paths_are_input_errors():
    from genome_plugin.errors import GenomePluginError, InputError, ScorerError

    for err in (InputError("x.vcf, line 3: POS is not a number"), GenomePluginError("no such model"),
                FileNotFoundError(2, "No such file or directory", "x.vcf"), PermissionError(13, "denied", "out")):
        assert cli.is_input_error(err), err
    for err in (KeyError("config"), ValueError("could not broadcast"), OSError(28, "No space left on device"),
                TypeError("bad operand"), ScorerError("scorer x failed"), RuntimeError("boom")):
        assert not cli.is_input_error(err), err


def test_default_windows_follow_the_models_preferred_length():
    from genome_plugin.models import default_length
    from genome_plugin.scoring.engine import _sequence_length

    tiny = plugins.load_model("alphagenome-tiny")
    assert tiny.preferred_length() == 16_384  # the smallest official length, not the 1 Mb of the full model
    assert _sequence_length(tiny, None) == 16_384  # score used the longest accepted length: 1,048,576
    assert default_length(tiny, at_least=20_000) == 131_072  # a region longer than the preference is held whole
    assert default_length(tiny, 20_000) == 131_072
    assert GuanineModel().preferred_length() == 16_384  # a model taking any length gets the default window


def test_a_window_that_cannot_fit_in_memory_stops_before_it_starts(tmp_path, capsys, monkeypatch):
    from genome_plugin.models import check_memory

    monkeypatch.setenv("GENOME_PLUGIN_MEMORY_LIMIT", "256M")
    out = tmp_path / "score"
    code = cli.main(["score", "--model", "alphagenome-tiny", "--fasta", FASTA, "--vcf", str(VARIANTS),
                     "--scorer", "center_mask_dnase_501_diff_sum", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "16,384 bp" in err and "--sequence-length" in err and "0.2 GiB available" in err
    assert not list(out.glob("*.h5ad")) and not (out / "scores.tsv").exists()
    code = cli.main(["predict-variant", "--model", "alphagenome-tiny", "--fasta", FASTA, "--variant",
                     "chr20:29367:T>C", "--out", str(tmp_path / "variant")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "--width" in err, err
    tiny = plugins.load_model("alphagenome-tiny")
    # 1 Mb REF+ALT (the run, killed above 14.9 GB): 2 x (8192^2 tokens^2 x 2 heads x 64 B
    # + 1,048,576 bp x 16 x 32 B) + 1 GiB = 19.3e9 bytes
    assert tiny.host_memory_bytes(1_048_576, 2) == 2 * (8192**2 * 2 * 64 + 1_048_576 * 16 * 32) + 2**30
    monkeypatch.setenv("GENOME_PLUGIN_MEMORY_LIMIT", "16G")
    with pytest.raises(InputError, match="need about 18.0 GiB"):
        check_memory(tiny, 1_048_576, batch=2)
    check_memory(tiny, 131_072, batch=2)
    monkeypatch.setenv("GENOME_PLUGIN_MEMORY_LIMIT", "lots")
    with pytest.raises(InputError, match="GENOME_PLUGIN_MEMORY_LIMIT"):
        check_memory(tiny, 16_384)


def test_a_missing_vcf_is_named_before_scorers_are_resolved(tmp_path, capsys):
    code = cli.main(["score", "--model", "alphagenome-tiny", "--fasta", FASTA, "--vcf", str(tmp_path / "missing.vcf"),
                     "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == f"genome-plugin score: error: --vcf {tmp_path / 'missing.vcf'}: no such file"

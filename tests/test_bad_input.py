"""Bad input that once ended in an internal error, a message naming nothing, or a silently wrong result.

Every case is a real file made in ``tmp_path`` (real gzip, real bgzip, real truncation, real FASTA +
.fai), and every error is one line that names the file (and the line or option) and what is wrong.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import anndata as ad
import numpy as np
import pysam
import pytest

from genome_plugin import cli, plugins
from genome_plugin.errors import GenomePluginError, InputError
from genome_plugin.genome import Reference, read_bed, read_gtf, read_vcf
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry, SequenceModel
from genome_plugin.scoring.base import Scorer, ScoreResult
from genome_plugin.scoring.spliceai import load_gene_table
from genome_plugin.tracks import OutputType, TrackTable

TEST_DATA = Path(__file__).resolve().parents[1] / "test-data"
VARIANTS = TEST_DATA / "variants.vcf"
VARIANTS_1000 = TEST_DATA / "variants_1000.vcf"


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text.strip(), text
    return text


# --- item 10: gzip that is not bgzip, truncated bgzip --------------------------------------------------------


def test_plain_gzip_vcf_says_use_bgzip(tmp_path):
    path = tmp_path / "plain.vcf.gz"
    path.write_bytes(gzip.compress(VARIANTS.read_bytes()))
    with pytest.raises(InputError, match="plain gzip, not bgzip") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


@pytest.mark.parametrize("keep", [60, 1000, -10])
def test_truncated_bgzipped_vcf_names_the_file(tmp_path, keep):
    whole = tmp_path / "whole.vcf.gz"
    pysam.tabix_compress(str(VARIANTS_1000), str(whole))
    data = whole.read_bytes()
    path = tmp_path / "cut.vcf.gz"
    path.write_bytes(data[:keep])
    with pytest.raises(InputError, match="truncated") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


# --- item 15: errors that named nothing ---------------------------------------------------------------------


def _edit_line(tmp_path, number: int, old: bytes, new: bytes, name="edited.vcf") -> Path:
    lines = VARIANTS.read_bytes().split(b"\n")
    assert old in lines[number - 1]
    lines[number - 1] = lines[number - 1].replace(old, new, 1)
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines))
    return path


@pytest.mark.parametrize(("number", "old", "new"), [
    (7, b"GGT7_intron3", b"GG\xff7"),  # a data line's ID
    (2, b"genome-plugin", b"caf\xe9"),  # a header line (Latin-1)
])
def test_non_utf8_byte_names_file_and_line(tmp_path, number, old, new):
    path = _edit_line(tmp_path, number, old, new)
    with pytest.raises(InputError, match=f"line {number}: byte 0x(ff|e9) is not UTF-8") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_bcf_is_refused_by_name(tmp_path):
    path = tmp_path / "variants.bcf"
    with pysam.VariantFile(str(VARIANTS)) as source, pysam.VariantFile(str(path), "wb", header=source.header) as out:
        for record in source:
            out.write(record)
    with pytest.raises(InputError, match="is a BCF") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_random_bytes_are_not_a_vcf(tmp_path):
    path = tmp_path / "random.vcf"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(InputError, match="line 1: not a VCF") as info:
        list(read_vcf(path))
    assert str(path) in _one_line(info.value)


def test_pos_0_is_a_reason_not_a_crash(tmp_path):
    path = _edit_line(tmp_path, 7, b"\t29367\t", b"\t0\t")
    records = list(read_vcf(path))
    assert len(records) == len(list(read_vcf(VARIANTS)))  # nothing dropped
    assert records[0].pos == 0 and not records[0].ok and "POS 0" in records[0].reason and records[0].line == 7
    assert all(r.ok for r in records[1:3])


def test_htslib_prints_nothing_of_its_own(tmp_path, capfd):
    # chr9 is not declared in the header: htslib logs a [W::vcf_parse] warning for it by default
    path = _edit_line(tmp_path, 7, b"chr20\t29367", b"chr9\t29367")
    records = list(read_vcf(path))
    assert records[0].chrom == "chr9"
    assert "[W::" not in capfd.readouterr().err
    malformed = _edit_line(tmp_path, 8, b"\t31115\t", b"\tten\t", name="malformed.vcf")
    with pytest.raises(InputError, match="line 8"):
        list(read_vcf(malformed))
    assert "[E::" not in capfd.readouterr().err


# --- items 12, 14, 18: FASTA -------------------------------------------------------------------------------

CHR20 = TEST_DATA / "chr20_slice.fa"


def _real_dna(start: int, length: int) -> str:
    with pysam.FastaFile(str(CHR20)) as fasta:
        return fasta.fetch("chr20", start, start + length).upper()


def _write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{name}\n" + "".join(seq[i:i + 60] + "\n" for i in range(0, len(seq), 60))
                            for name, seq in records))
    return path


def test_duplicated_contig_name_is_refused(tmp_path):
    path = _write_fasta(tmp_path / "dup.fa", [("chrA", _real_dna(100_000, 500)), ("chrB", _real_dna(101_000, 300)),
                                              ("chrA", _real_dna(102_000, 400))])
    with pytest.raises(InputError, match="'chrA' appears twice") as info:
        Reference(path)
    assert str(path) in _one_line(info.value)


@pytest.mark.parametrize("layout", ["crlf", "no final newline", "blank lines", "empty record"])
def test_unusual_but_valid_fasta_layouts_are_not_taken_for_stale_indexes(tmp_path, layout, caplog):
    a, b = _real_dna(100_000, 130), _real_dna(101_000, 70)
    text = f">chrA first\n{a[:60]}\n{a[60:120]}\n{a[120:]}\n>chrB\n{b[:60]}\n{b[60:]}\n"
    if layout == "crlf":
        text = text.replace("\n", "\r\n")
    elif layout == "no final newline":
        text = text.rstrip("\n")
    elif layout == "blank lines":
        text = text.replace("\n>chrB", "\n\n\n>chrB") + "\n\n"
    else:
        text = text.replace(">chrB", ">chrEmpty\n>chrB")
    path = tmp_path / "valid.fa"
    path.write_bytes(text.encode())
    for _ in range(2):  # building the index, then reading it
        ref = Reference(path)
        assert ref.fetch(chrom="chrA", start=0, end=130) == a and ref.fetch(chrom="chrB", start=0, end=70) == b
    assert "rebuilding" not in caplog.text


def test_protein_fasta_is_refused(tmp_path):
    # human serum albumin, first 120 residues (UniProt P02768)
    albumin = ("MKWVTFISLLFLFSSAYSRGVFRRDAHKSEVAHRFKDLGEENFKALVLIAFAQYLQQCPFEDHVKLVNEVTEFAKTCVADESAENCDKSLHTLFGD"
               "KLCTVATLRETYGEMADCCAKQEP")
    path = _write_fasta(tmp_path / "protein.fa", [("sp|P02768|ALBU_HUMAN", albumin)])
    with pytest.raises(InputError, match="protein FASTA") as info:
        Reference(path)
    assert str(path) in _one_line(info.value)


def test_dna_with_iupac_codes_is_still_dna(tmp_path, caplog):
    dna = _real_dna(100_000, 200)
    path = _write_fasta(tmp_path / "iupac.fa", [("chrA", dna[:50] + "RYKMSWBDHV" + dna[60:])])
    assert Reference(path).fetch(chrom="chrA", start=48, end=62) == dna[48:50] + "N" * 10 + dna[60:62]
    assert "IUPAC codes (BDHKMRSVWY)" in caplog.text


def _edited_after_indexing(tmp_path) -> tuple[Path, str, str]:
    first, second = _real_dna(100_000, 600), _real_dna(110_000, 600)
    path = _write_fasta(tmp_path / "edited.fa", [("chrA", first), ("chrB", second)])
    pysam.faidx(str(path))
    inserted = _real_dna(120_000, 100)
    first = first[:300] + inserted + first[300:]  # 100 bp more in chrA: every chrB offset moves by 101 bytes
    _write_fasta(path, [("chrA", first), ("chrB", second)])
    return path, first, second


def test_fai_older_than_fasta_is_rebuilt(tmp_path, caplog):
    path, first, second = _edited_after_indexing(tmp_path)
    fasta_time = path.stat().st_mtime
    os.utime(f"{path}.fai", (fasta_time - 60, fasta_time - 60))
    ref = Reference(path)
    assert ref.contigs == {"chrA": 700, "chrB": 600}
    assert ref.fetch(chrom="chrB", start=0, end=600) == second
    assert "older than the FASTA" in caplog.text


def test_fai_that_disagrees_with_the_fasta_is_rebuilt(tmp_path, caplog):
    # A copied-in FASTA can be older than its stale .fai: the offsets themselves give it away.
    path, first, second = _edited_after_indexing(tmp_path)
    fasta_time = path.stat().st_mtime
    os.utime(path, (fasta_time - 60, fasta_time - 60))
    ref = Reference(path)
    assert ref.fetch(chrom="chrA", start=0, end=700) == first
    assert ref.fetch(chrom="chrB", start=0, end=600) == second
    assert "disagrees with the FASTA" in caplog.text


def test_temporary_index_folder_is_removed(tmp_path, monkeypatch):
    import gc
    import tempfile

    folder = tmp_path / "ro"
    folder.mkdir()
    path = _write_fasta(folder / "ro.fa", [("chrA", _real_dna(100_000, 300))])
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    # Running as root, os.access says every folder is writable: make this one look read-only to it.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(folder) else real_access(p, mode))
    ref = Reference(path)
    assert len(list(scratch.iterdir())) == 1
    ref.close()
    assert list(scratch.iterdir()) == []
    Reference(path).fetch(chrom="chrA", start=0, end=10)  # never closed: removed when collected
    gc.collect()
    assert list(scratch.iterdir()) == []
    assert not Path(f"{path}.fai").exists()


# --- items 14: strands, intervals past the contig end ------------------------------------------------------


def test_bed_strand_x_is_refused(tmp_path):
    path = tmp_path / "regions.bed"
    path.write_text("chr20\t100\t200\ta\t0\t+\nchr20\t300\t400\tb\t0\tx\n")
    with pytest.raises(InputError, match="line 2: strand .* 'x'") as info:
        read_bed(path)
    assert str(path) in _one_line(info.value)


def test_gtf_strand_x_is_refused(tmp_path):
    lines = (TEST_DATA / "genes.gtf").read_text().splitlines(keepends=True)
    fields = lines[4].split("\t")
    assert fields[2] == "exon" and fields[6] == "-"
    fields[6] = "x"
    lines[4] = "\t".join(fields)
    path = tmp_path / "genes.gtf"
    path.write_text("".join(lines))
    with pytest.raises(InputError, match="line 5: strand .* 'x'") as info:
        read_gtf(path)
    assert str(path) in _one_line(info.value)


def test_spliceai_gene_table_strand_x_is_refused(tmp_path):
    path = tmp_path / "genes.txt"
    path.write_text("#NAME\tCHROM\tSTRAND\tTX_START\tTX_END\tEXON_START\tEXON_END\n"
                    "G1\tchr20\t+\t100\t900\t100,500,\t200,900,\n"
                    "G2\tchr20\tx\t1000\t1900\t1000,1500,\t1200,1900,\n")
    with pytest.raises(InputError, match="line 3: STRAND is 'x'") as info:
        load_gene_table(path)
    assert str(path) in _one_line(info.value)


class GuanineModel(SequenceModel):
    """One DNase-like track: 1 where the base is G, else 0 (so outputs follow from the sequence by hand)."""

    name = "bad-input-guanine"
    version = "1"

    def output_types(self):
        return (OutputType.DNASE,)

    def tracks(self, output_type, organism="human"):
        return TrackTable([{"name": "guanine", "strand": "."}])

    def resolutions(self, output_type):
        return (1,)

    def predict(self, onehot, *, organism="human", requests=None):
        return {(OutputType.DNASE, 1): np.asarray(onehot[..., 2:3], dtype=np.float32)}


class GuaninePlugin:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name=GuanineModel.name, loader=GuanineModel, description="test model",
                            output_types=(OutputType.DNASE,), real_weights=False))


@pytest.fixture
def guanine():
    plugin = GuaninePlugin()
    plugins.pm.register(plugin, name="test-bad-input")
    try:
        yield GuanineModel.name
    finally:
        plugins.pm.unregister(plugin)


def _cli_error(capfd, argv: list[str]) -> str:
    code = cli.main(argv)
    err = capfd.readouterr().err.strip()
    assert code == cli.EXIT_INPUT_ERROR, err
    assert len(err.splitlines()) == 1, err
    return err


def test_interval_wholly_past_the_contig_end_is_refused(tmp_path, guanine, capfd):
    err = _cli_error(capfd, ["-q", "predict", "--model", guanine, "--fasta", str(CHR20),
                              "--interval", "chr20:360000-360100", "--out", str(tmp_path / "out")])
    assert "starts past the end of chr20 (360000 bp)" in err and str(CHR20) in err


def test_interval_partly_past_the_contig_end_is_n_padded(tmp_path, guanine, capfd):
    out = tmp_path / "out"
    code = cli.main(["-q", "predict", "--model", guanine, "--fasta", str(CHR20),
                     "--interval", "chr20:359990-360010", "--out", str(out)])
    assert code == 0, capfd.readouterr().err
    (path,) = out.glob("*.h5ad")
    values = ad.read_h5ad(path).X[:, 0]
    expected = [1.0 if base == "G" else 0.0 for base in _real_dna(359_990, 10)] + [0.0] * 10
    assert values.tolist() == expected


# --- item 12: options accepted silently ---------------------------------------------------------------------


def test_negative_ism_width_is_refused(tmp_path, guanine, capfd):
    err = _cli_error(capfd, ["-q", "ism", "--model", guanine, "--fasta", str(CHR20), "--interval",
                              "chr20:1000-1004", "--width", "-5", "--out", str(tmp_path / "out")])
    assert "--width -5" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["predict", "ism"])
def test_empty_format_is_refused(tmp_path, guanine, capfd, command):
    err = _cli_error(capfd, ["-q", command, "--model", guanine, "--fasta", str(CHR20), "--interval",
                              "chr20:1000-1004", "--format", "", "--out", str(tmp_path / "out")])
    assert "--format ''" in err


# --- items 16, 17: resume after a real crash; two runs on one --out -----------------------------------------

SCORER = "center_mask_dnase_501_diff_log2_sum"


def _score(out: Path, **options):
    from genome_plugin.scoring.engine import score_variants

    options.setdefault("scorers", [SCORER])
    return score_variants(GuanineModel(), Reference(CHR20), VARIANTS, out_dir=out, sequence_length=2048,
                          batch_size=2, checkpoint_every=4, window_stride=1, progress=False, **options)


@pytest.fixture
def crashed(tmp_path, monkeypatch):
    """A clean run's outputs, and the checkpoint another run left on disk (its parts and manifest as written)."""
    from genome_plugin.scoring.checkpoint import CHECKPOINT_DIR, Checkpoint

    clean = _score(tmp_path / "clean")
    out = tmp_path / "crashed"
    with monkeypatch.context() as patch:
        patch.setattr(Checkpoint, "remove", lambda self: None)  # the run "dies" before cleaning up
        _score(out)
    checkpoint = out / CHECKPOINT_DIR
    parts = sorted(checkpoint.glob("part-*.npz"))
    assert len(parts) == 7  # 25 scorable variants, 4 per part (6 x 4 + 1)
    for name in ("scores.tsv", "scores.vcf", f"{SCORER}.h5ad"):
        (out / name).unlink()
    return clean, out, checkpoint, parts


def test_resume_removes_a_temporary_part_and_rescores_a_damaged_one(crashed, caplog):
    clean, out, checkpoint, parts = crashed
    leftover = checkpoint / "part-00008.tmp.npz"  # what a kill during np.savez leaves
    leftover.write_bytes(parts[0].read_bytes()[:100])
    damaged = parts[2]
    damaged.write_bytes(damaged.read_bytes()[:-200])  # a copy cut short
    run = _score(out, resume=True)
    assert run.resumed == 25 - 4 and run.scored == 25  # the damaged part's 4 variants are scored again
    assert f"{damaged} is damaged" in caplog.text
    assert not leftover.exists()
    assert (out / "scores.tsv").read_bytes() == clean.tsv.read_bytes()
    assert (out / "scores.vcf").read_bytes() == clean.vcf.read_bytes()


def test_garbage_manifest_is_a_one_line_error(crashed):
    _, out, checkpoint, _ = crashed
    manifest = checkpoint / "manifest.json"
    manifest.write_bytes(bytes(range(200, 256)) * 4)
    with pytest.raises(GenomePluginError, match="checkpoint manifest is damaged") as info:
        _score(out, resume=True)
    assert str(manifest) in _one_line(info.value)


def test_second_run_on_one_out_is_refused_naming_the_first(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom genome_plugin.scoring.checkpoint import lock_out_dir\n"
         f"lock_out_dir({str(out)!r})\nprint('locked', flush=True)\nsys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(GenomePluginError, match=f"in use by another genome-plugin run \\(pid {holder.pid} on "
                                                    f".*, started 20") as info:
            _score(out)
        _one_line(info.value)
    finally:
        holder.communicate("")  # closing stdin ends it; its lock goes with it
    assert _score(out).scored == 25  # free again


# --- items 13, 15, 18: model checkpoints and cards ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    from genome_plugin.model.checkpoint import save_model
    from genome_plugin.model.config import AlphaGenomeConfig
    from genome_plugin.model.network import init_on_host

    model = init_on_host(AlphaGenomeConfig.tiny(), seed=0)
    return save_model(model, tmp_path_factory.mktemp("tiny") / "ckpt", version="test", licence="Apache-2.0")


def _predict_with_checkpoint(tmp_path, capfd, checkpoint: Path) -> str:
    return _cli_error(capfd, ["-q", "predict", "--model", "alphagenome", "--checkpoint", str(checkpoint),
                               "--fasta", str(CHR20), "--interval", "chr20:1000-2000", "--out", str(tmp_path / "o")])


@pytest.mark.parametrize("damage", ["truncated arrays", "no arrays", "garbage metadata"])
def test_damaged_checkpoint_is_one_line_naming_it(tmp_path, capfd, tiny_checkpoint, damage):
    import shutil

    checkpoint = tmp_path / "damaged"
    shutil.copytree(tiny_checkpoint, checkpoint)
    arrays = sorted((checkpoint / "state").rglob("d/*"))
    assert arrays
    for path in arrays:
        if damage == "truncated arrays":
            path.write_bytes(path.read_bytes()[:50])
        elif damage == "no arrays":
            path.unlink()
    if damage == "garbage metadata":
        (checkpoint / "state" / "_METADATA").write_bytes(b"\x00garbage")
    err = _predict_with_checkpoint(tmp_path, capfd, checkpoint)
    assert f"{checkpoint / 'state'}: the checkpoint is damaged or incomplete" in err
    assert "TensorStore(" not in err and "pybind11" not in err


def test_empty_model_card_says_what_is_missing(tmp_path, capfd):
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model_card.json").write_text("{}")
    err = _predict_with_checkpoint(tmp_path, capfd, checkpoint)
    assert f"{checkpoint / 'model_card.json'}: model card has no 'config' object" in err


# --- item 15: merge, convert-weights --metadata, --sequence-length ------------------------------------------


def test_merge_names_a_file_that_is_not_h5ad(tmp_path, capfd):
    vcf_copy = tmp_path / "scores.h5ad"
    vcf_copy.write_bytes(VARIANTS.read_bytes())
    err = _cli_error(capfd, ["merge", str(vcf_copy), "--out", str(tmp_path / "merged.h5ad")])
    assert f"{vcf_copy}: not an h5ad file" in err


def test_merge_names_an_h5ad_from_elsewhere(tmp_path, capfd):
    foreign = tmp_path / "foreign.h5ad"
    ad.AnnData(np.zeros((2, 3), dtype=np.float32)).write_h5ad(foreign)
    err = _cli_error(capfd, ["merge", str(foreign), "--out", str(tmp_path / "merged.h5ad")])
    assert f"{foreign}: not an h5ad file written by genome-plugin" in err


def test_convert_weights_names_random_metadata_bytes(tmp_path, capfd):
    metadata = tmp_path / "human_metadata.textproto"
    metadata.write_bytes(b"output_metadata {\n" + bytes(range(128, 256)))
    err = _cli_error(capfd, ["convert-weights", str(tmp_path / "none"), "--metadata", str(metadata),
                             "--out", str(tmp_path / "out")])
    assert f"{metadata}, line 2: byte 0x80 is not UTF-8" in err


@pytest.mark.parametrize(("flag", "value"), [("--sequence-length", "-5"), ("--window-stride", "0"),
                                             ("--batch-size", "0"), ("--checkpoint-every", "-1")])
def test_score_names_a_bad_number_option(tmp_path, guanine, capfd, flag, value):
    err = _cli_error(capfd, ["-q", "score", "--model", guanine, "--fasta", str(CHR20), "--vcf", str(VARIANTS),
                             "--scorer", SCORER, flag, value, "--out", str(tmp_path / "out")])
    assert f"{flag} {value}: must be at least 1" in err


# --- item 14: a reused --out --------------------------------------------------------------------------------


def test_score_names_an_h5ad_left_by_another_run(tmp_path, guanine, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "gene_mask_lfc_rna_seq.h5ad").write_bytes(b"from an earlier run")
    argv = ["score", "--model", guanine, "--fasta", str(CHR20), "--vcf", str(VARIANTS), "--scorer", SCORER,
            "--sequence-length", "2048", "--out", str(out)]
    assert cli.main(argv) == 0
    err = caplog.text
    assert "1 file(s) this run did not write" in err and "gene_mask_lfc_rna_seq.h5ad" in err
    assert f"{SCORER}.h5ad" not in err.split("did not write")[1]


def test_predict_names_an_h5ad_left_by_another_run(tmp_path, guanine, caplog):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.rna_seq_1bp.h5ad").write_bytes(b"from an earlier run")
    argv = ["predict", "--model", guanine, "--fasta", str(CHR20), "--interval", "chr20:1000-1100", "--out", str(out)]
    assert cli.main(argv) == 0
    err = caplog.text
    assert "1 file(s) this run did not write" in err and "predictions.rna_seq_1bp.h5ad" in err


# --- item 11: very long intervals ---------------------------------------------------------------------------


def test_ism_over_a_long_interval_is_refused_with_the_estimate(tmp_path, guanine, capfd):
    argv = ["-q", "ism", "--model", guanine, "--fasta", str(CHR20), "--interval", "chr20:1000-21000",
            "--out", str(tmp_path / "out")]
    err = _cli_error(capfd, argv)
    assert "needs up to 60,001 forward passes" in err and "--max-forward-passes" in err  # 3 x 20,000 + 1
    err = _cli_error(capfd, [*argv[:-2], "--rc-average", *argv[-2:]])
    assert "needs up to 120,002 forward passes" in err
    code = cli.main(["-q", "ism", "--model", guanine, "--fasta", str(CHR20), "--interval", "chr20:1000-1010",
                     "--max-forward-passes", "30", "--out", str(tmp_path / "out")])
    assert code == cli.EXIT_INPUT_ERROR  # 31 > 30
    assert "needs up to 31 forward passes" in capfd.readouterr().err


def test_spliceai_long_inputs_run_in_tiles_with_the_same_values():
    from genome_plugin.default_plugins.spliceai import SpliceAIModel
    from genome_plugin.genome.sequence import one_hot
    from genome_plugin.model import spliceai as sm

    config = sm.SpliceAIConfig.tiny()
    model = SpliceAIModel(sm.SpliceAIEnsemble([sm.build_member(config, seed=s) for s in range(2)]))
    onehot = one_hot(_real_dna(100_000, 9_500))[None]
    whole = model.predict(onehot)[(OutputType.SPLICE_SITES, 1)]
    network, lengths = model.ensemble, []

    class Recorded:  # the real ensemble, recording the input length of every pass
        flank = network.flank

        def __call__(self, x):
            lengths.append(x.shape[1])
            return network(x)

    model.ensemble = Recorded()
    model.tile = 2048  # 9,500 bp pad to 10,240: 5 tiles, the last one partly padding
    tiled = model.predict(onehot)[(OutputType.SPLICE_SITES, 1)]
    assert lengths == [2048 + 2 * config.flank] * 5
    assert tiled.shape == whole.shape == (1, 9_500, 4)
    np.testing.assert_allclose(tiled, whole, rtol=1e-5, atol=1e-6)


class FailsOnTheTenthVariant(Scorer):
    """Scores like a real scorer (G bases gained), then raises: a scorer bug met half-way through a run."""

    name = "fails_on_the_tenth_variant"
    output_type = OutputType.DNASE

    def __init__(self) -> None:
        self.calls = 0

    def score(self, ref, alt, *, context):
        self.calls += 1
        if self.calls == 10:
            raise RuntimeError("a bug in the scorer")
        return ScoreResult.single(alt.sum(axis=0) - ref.sum(axis=0))


def _lock_taken_by_another_process(out: Path) -> bool:
    import subprocess
    import sys

    code = ("import sys\nfrom genome_plugin.errors import GenomePluginError\n"
            "from genome_plugin.scoring.checkpoint import lock_out_dir\n"
            f"try:\n    lock_out_dir({str(out)!r})\nexcept GenomePluginError:\n    sys.exit(1)\n")
    return subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_a_run_that_failed_in_this_process_neither_blocks_nor_unlocks_the_next(tmp_path):
    import gc

    from genome_plugin.errors import ScorerError

    out = tmp_path / "out"
    scorer = FailsOnTheTenthVariant()
    with pytest.raises(ScorerError) as failed:  # keeps the failed run's frames, and its checkpoint, alive
        _score(out, scorers=[scorer])
    assert not _lock_taken_by_another_process(out)
    resumed = _score(out, scorers=[scorer], resume=True)  # past its tenth call, the scorer no longer fails
    assert resumed.scored == 25 and resumed.resumed == 9
    del failed
    gc.collect()  # the failed run's checkpoint is collected: the lock goes with the last user
    assert not (out / ".genome_plugin.lock").exists()
    assert _lock_taken_by_another_process(out)


def test_collecting_an_earlier_checkpoint_keeps_the_lock_of_the_live_one(tmp_path):
    import gc

    from genome_plugin.scoring.checkpoint import Checkpoint

    earlier = Checkpoint(tmp_path, {"run": 1}, resume=False)
    live = Checkpoint(tmp_path, {"run": 1}, resume=True)
    del earlier
    gc.collect()
    assert not _lock_taken_by_another_process(tmp_path)
    live.remove()
    assert _lock_taken_by_another_process(tmp_path)


@pytest.mark.parametrize("kind", ["plain gzip", "bcf", "truncated"])
def test_score_cli_reports_an_unreadable_vcf_in_one_line(tmp_path, guanine, capfd, kind):
    path = tmp_path / "in.vcf.gz"
    if kind == "plain gzip":
        path.write_bytes(gzip.compress(VARIANTS.read_bytes()))
    elif kind == "bcf":
        with pysam.VariantFile(str(VARIANTS)) as source, pysam.VariantFile(str(path), "wb",
                                                                        header=source.header) as out:
            for record in source:
                out.write(record)
    else:
        pysam.tabix_compress(str(VARIANTS_1000), str(path))
        path.write_bytes(path.read_bytes()[:60])
    err = _cli_error(capfd, ["-q", "score", "--model", guanine, "--fasta", str(CHR20), "--vcf", str(path),
                             "--scorer", SCORER, "--out", str(tmp_path / "out")])
    assert f"error: {path}: " in err


def test_duplicated_contig_name_in_a_bgzipped_fasta_is_refused(tmp_path):
    plain = _write_fasta(tmp_path / "dup.fa", [("chrA", _real_dna(100_000, 500)), ("chrB", _real_dna(101_000, 300)),
                                               ("chrA", _real_dna(102_000, 400))])
    path = tmp_path / "dup.fa.gz"
    pysam.tabix_compress(str(plain), str(path))
    with pytest.raises(InputError, match="'chrA' appears twice") as info:
        Reference(path)
    assert str(path) in _one_line(info.value)
    good = _write_fasta(tmp_path / "good.fa", [("chrA", _real_dna(100_000, 500)), ("chrB", _real_dna(101_000, 300))])
    pysam.tabix_compress(str(good), str(tmp_path / "good.fa.gz"))
    assert Reference(tmp_path / "good.fa.gz").contigs == {"chrA": 500, "chrB": 300}

"""genome-plugin against goldens made by the ORIGINAL ``spliceai`` 1.3.1 tool (test-data/spliceai_goldens/).

The goldens were written by ``scripts/make_spliceai_goldens.sh``, which runs the original command line
(TensorFlow/Keras 2, in a side environment) on real chr20 records: its annotated VCFs with ``-M 0`` and
``-M 1``, and the five Keras models' raw probabilities on 15 kb windows. No TensorFlow is needed here, so
these comparisons run in every CI run; the live comparisons (test_spliceai_original.py,
test_spliceai_parity.py) stay optional extras. Each test prints how many entries it compared (shown
in the log with ``-rA`` or ``-s``, and always at the end of the run through ``capsys.disabled``).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from genome_plugin.cli import main

REPO = Path(__file__).resolve().parents[1]
GOLDENS = REPO / "test-data" / "spliceai_goldens"
FASTA = REPO / "test-data" / "chr20_slice.fa"
#: The original prints delta scores with %.2f: ours may differ by one in the last printed digit at a rounding edge.
PRINTED_TOLERANCE = 0.01

pytestmark = pytest.mark.slow


def _weights_installed() -> bool:
    try:
        metadata.distribution("spliceai")
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.fixture(scope="module")
def goldens(require) -> Path:
    require((GOLDENS / "manifest.json").exists(), f"SpliceAI goldens not found in {GOLDENS}")
    require(_weights_installed(), "the `spliceai` package (the trained weights) is not installed")
    return GOLDENS


def _info_entries(path: Path) -> list[tuple[str, list[str]]]:
    """(record ID, SpliceAI INFO entries) per data line, read as text (not through the code under test)."""
    out = []
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        info = dict(item.split("=", 1) if "=" in item else (item, "") for item in fields[7].split(";"))
        out.append((fields[2], info["SpliceAI"].split(",") if info.get("SpliceAI") else []))
    return out


def _compare(ours: list[tuple[str, list[str]]], original: list[tuple[str, list[str]]]) -> dict:
    """Per-entry comparison; returns counts and the entries that differ beyond the printing tolerance."""
    assert [vid for vid, _ in ours] == [vid for vid, _ in original], "records differ in order or number"
    counts = {"records": len(original), "entries": 0, "exact": 0, "within_0.01": 0, "differ": []}
    for (vid, mine), (_, theirs) in zip(ours, original, strict=True):
        if len(mine) != len(theirs):
            counts["differ"].append(f"{vid}: ours {mine} original {theirs}")
            continue
        for a, b in zip(mine, theirs, strict=True):
            counts["entries"] += 1
            if a == b:
                counts["exact"] += 1
                continue
            fa, fb = a.split("|"), b.split("|")
            # the allele, gene and the four delta positions must be identical; the scores within one printed step
            same_text = fa[:2] == fb[:2] and fa[6:] == fb[6:]
            close = same_text and all(
                (u == v == ".") or (u != "." and v != "." and abs(float(u) - float(v)) <= PRINTED_TOLERANCE + 1e-9)
                for u, v in zip(fa[2:6], fb[2:6], strict=True)
            )
            if close:
                counts["within_0.01"] += 1
            else:
                counts["differ"].append(f"{vid}: ours {a} original {b}")
    return counts


def _report(capsys, text: str) -> None:
    with capsys.disabled():
        print(f"\n[spliceai goldens] {text}")


@pytest.mark.parametrize("mask", [0, 1])
def test_vcf_scores_equal_the_original_tools(goldens, tmp_path, capsys, mask):
    golden = goldens / f"spliceai_M{mask}.vcf"
    argv = ["-q", "spliceai", "--fasta", str(FASTA), "--vcf", str(goldens / "input.vcf"),
            "--annotation", str(goldens / "annotation.txt"), "--distance", "50", "--out", str(tmp_path)]
    assert main([*argv, *(["--mask"] if mask else [])]) == 0
    original = _info_entries(golden)
    counts = _compare(_info_entries(tmp_path / "spliceai.vcf"), original)
    manifest = json.loads((goldens / "manifest.json").read_text())
    _report(capsys, f"-M {mask}: {counts['entries']} SpliceAI entries of {counts['records']} records compared with "
                    f"spliceai {manifest['versions']['spliceai']}: {counts['exact']} equal as printed, "
                    f"{counts['within_0.01']} within 0.01, {len(counts['differ'])} different")
    assert not counts["differ"], counts["differ"][:10]
    # the goldens are not vacuous: >= 100 records, two-gene records, indels, real splice effects, and masking bites
    assert counts["records"] >= 100 and counts["entries"] >= counts["records"]
    two_genes = [entries for vid, entries in original if vid.startswith("two_genes")]
    assert two_genes and all(len(entries) == 2 for entries in two_genes)
    deltas = [float(x) for _, entries in original for e in entries for x in e.split("|")[2:6] if x != "."]
    assert sum(d >= 0.5 for d in deltas) >= 10


def test_masking_changes_the_goldens(goldens):
    """-M 1 zeroes some of -M 0's scores, so the two goldens check different code paths."""
    plain = _info_entries(goldens / "spliceai_M0.vcf")
    masked = _info_entries(goldens / "spliceai_M1.vcf")
    changed = sum(a != b for (_, x), (_, y) in zip(plain, masked, strict=True) for a, b in zip(x, y, strict=True))
    assert changed >= 5


def test_annotation_is_the_bundled_gtf(goldens):
    """The goldens' annotation (the package's grch37 table, shifted) holds the same genes as test-data/genes.gtf."""
    from genome_plugin.scoring.spliceai import load_gene_table

    table = load_gene_table(goldens / "annotation.txt")
    gtf = load_gene_table(REPO / "test-data" / "genes.gtf")
    assert len(table) == len(gtf) == 7
    for name in ("names", "chroms", "strands", "tx_starts", "tx_ends"):
        assert list(getattr(table, name)) == list(getattr(gtf, name)), name
    for a, b in zip(table.boundaries, gtf.boundaries, strict=True):
        np.testing.assert_array_equal(a, b)


def test_raw_model_outputs_equal_keras(goldens, capsys):
    from genome_plugin.genome import Reference, one_hot
    from genome_plugin.model.spliceai import load_ensemble

    with np.load(goldens / "windows.npz", allow_pickle=False) as data:
        keras = data["probabilities"]
        starts = [int(s) for s in data["starts"]]
        length = int(data["length"])
    reference = Reference(FASTA)
    x = np.stack([one_hot(reference.fetch(chrom="chr20", start=s, end=s + length)) for s in starts])
    ensemble = load_ensemble()
    assert keras.shape == (ensemble.size, len(starts), length - 2 * ensemble.flank, 3)
    worst = 0.0
    for index in range(ensemble.size):
        ours = np.asarray(ensemble.member(index)(x))
        worst = max(worst, float(np.abs(ours - keras[index]).max()))
    _report(capsys, f"raw outputs: {keras.size} probabilities ({ensemble.size} Keras models x {len(starts)} windows "
                    f"x {keras.shape[2]} positions x 3 classes) compared, max |ours - Keras| {worst:.2e}")
    assert worst <= 1e-5
    assert (keras.mean(0)[..., 1:] > 0.5).sum() >= 10  # real splice sites in these windows

"""User text stays data: names from inputs never lead a file out of --out, and stored arrays are never unpickled.

The track filter language (the other way user text could have become code) is tested in test_selector.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from genome_plugin import hookimpl
from genome_plugin.cli import main
from genome_plugin.errors import GenomePluginError
from genome_plugin.models import ModelEntry
from genome_plugin.plugins import pm, registered_scorers
from genome_plugin.scoring.checkpoint import CHECKPOINT_DIR, Checkpoint
from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.writers.base import file_part

CONTIG = "up/../../escaped"


def _toy_models():
    spec = importlib.util.spec_from_file_location("genome_plugin_toy_models", Path(__file__).with_name("toy_models.py"))
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    if not hasattr(module, "ToyModel"):
        spec.loader.exec_module(module)
    return module


class _HostileNames(_toy_models().SymmetricModel):
    """The toy model's four DNase tracks, named like paths."""

    name = "toy-hostile-names"

    def tracks(self, output_type, organism="human"):
        if output_type == OutputType.DNASE:
            return TrackTable([{"name": "../../evil", "strand": "+"}, {"name": "/etc/passwd", "strand": "."},
                               {"name": "../../evil", "strand": "-"}, {"name": "..", "strand": "."}])
        return super().tracks(output_type, organism)


class _Plugin:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name="toy-hostile-names", loader=_HostileNames, family="test",
                            description="track names like paths (test model)",
                            output_types=(OutputType.DNASE, OutputType.CONTACT_MAPS)))


@pytest.fixture
def hostile_plugin():
    pm.register(_Plugin(), name="test-hostile-names")
    yield
    pm.unregister(name="test-hostile-names")


def test_file_part_keeps_one_name_in_its_folder():
    assert file_part("../../evil") == "evil"
    assert file_part("up/../../escaped") == "up_.._.._escaped"
    assert file_part("..") == "_" and file_part("/", empty="track") == "track"
    assert file_part("DNase-seq.plus") == "DNase-seq.plus"


def test_predict_names_files_from_contigs_intervals_and_tracks_inside_out_only(tmp_path, hostile_plugin):
    work = tmp_path / "work"
    out = work / "a" / "out"
    work.mkdir()
    fasta = tmp_path / "hostile.fa"
    fasta.write_text(f">{CONTIG}\n" + "ACGTTGCAAC" * 300 + "\n")
    bed = tmp_path / "hostile.bed"
    bed.write_text(f"{CONTIG}\t100\t400\t../../interval/name\t0\t+\n{CONTIG}\t1000\t1200\t/abs\t0\t-\n")
    code = main(["-q", "predict", "--model", "toy-hostile-names", "--fasta", str(fasta), "--bed", str(bed),
                 "--region", CONTIG, "--output-type", "dnase", "--format", "h5ad,bigwig,bedgraph,tsv,png",
                 "--out", str(out)])
    assert code == 0
    made = sorted(p for p in work.rglob("*") if p.is_file())
    assert made and all(p.parent == out for p in made), made
    names = {p.name for p in made}
    # region tag from the contig name; track stems from the track names (strand suffix for stranded tracks)
    basename = "predictions.region_up_.._.._escaped.dnase_1bp"
    assert {f"{basename}.h5ad", f"{basename}.tsv", f"{basename}.evil.plus.bw", f"{basename}.evil.minus.bw",
            f"{basename}.etc_passwd.bw", f"{basename}.track.bw", f"{basename}.1.png", f"{basename}.2.png"} <= names


class _BadScorerName:
    @hookimpl
    def register_scorers(self, register):
        class Scorer:
            name = "../../scores"

            def score(self, *args, **kwargs):
                raise AssertionError("never called")

        register(Scorer())


def test_a_scorer_name_that_is_not_a_file_name_is_refused_at_registration():
    pm.register(_BadScorerName(), name="test-bad-scorer-name")
    try:
        with pytest.raises(GenomePluginError, match=r"'\.\./\.\./scores' cannot name a file"):
            registered_scorers()
    finally:
        pm.unregister(name="test-bad-scorer-name")


class _Payload:
    """Unpickling this creates a file: proof that a stored array was unpickled."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return open, (str(self.target), "w")


def test_a_checkpoint_part_holding_pickled_objects_is_dropped_unread(tmp_path, caplog):
    fingerprint = {"vcf": "x.vcf", "scorers": ["a"]}
    Checkpoint(tmp_path, fingerprint, resume=False)
    target = tmp_path / "pwned"
    part = tmp_path / CHECKPOINT_DIR / "part-00001.npz"
    np.savez(part, entries=np.array([_Payload(target)], dtype=object), windows=np.array(["chr1:0-10"]))
    resumed = Checkpoint(tmp_path, fingerprint, resume=True)
    assert resumed.done() == set()
    assert not part.exists() and "part-00001.npz is damaged (ValueError: Object arrays cannot be loaded" in caplog.text
    assert not target.exists()

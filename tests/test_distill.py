"""Distillation: a tiny student learns two frozen teachers' ensemble on real chr20 sequence; licences travel.

Teachers are tiny SpliceAI-architecture networks with random weights (seeds 1 and 2), saved as model
directories: their outputs are deterministic functions of the sequence that the student can only match by
learning them. The numbers compared (loss, Pearson with the ensemble) are measured, not expected values.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from genome_plugin.cli import main
from genome_plugin.errors import GenomePluginError, InputError
from genome_plugin.model.spliceai import SpliceAI, SpliceAIConfig
from genome_plugin.model.spliceai_checkpoint import load_spliceai_dir, save_spliceai_dir
from genome_plugin.tracks import OutputType
from genome_plugin.train.distill import (
    TeacherSpec,
    inherited_licence,
    load_teacher,
    read_distill_config,
)

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "test-data"
NC = "CC BY-NC 4.0 (test teacher)"


def _teacher(path: Path, seed: int, licence: str, **extra) -> Path:
    save_spliceai_dir(SpliceAI(SpliceAIConfig.tiny(), rngs=nnx.Rngs(seed)), path,
                      {"name": f"tiny-teacher-{seed}", "version": f"{seed}.0", "licence": licence, **extra})
    return path


SPLICEAI_STUDENT = 'architecture = "spliceai"\npreset = "tiny"'


def _config(tmp: Path, teachers: list[str], *, steps: int = 120, student: str = SPLICEAI_STUDENT,
            extra: str = "") -> Path:
    listed = "\n".join(f'[[teachers]]\n{t}\n' for t in teachers)
    path = tmp / "distill.toml"
    path.write_text(f"""
[data]
fasta = "{TEST_DATA / 'chr20_slice.fa'}"
folds = "{ROOT / 'train/configs/tiny_folds.bed'}"
track_table = "{ROOT / 'train/configs/tiny_tracks.tsv'}"
sequence_length = 512
batch_size = 8
max_shift = 32
mutation_rate = 0.02
prefetch = 2

{listed}
[student]
{student}
seed = 7

[optimizer]
learning_rate = 0.005
warmup_steps = 5

[loop]
steps = {steps}
checkpoint_every = 1000
eval_batches = 8
log_every = 10
{extra}
""")
    return path


@pytest.fixture(scope="module")
def distilled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distill")
    _teacher(tmp / "teacher1", 1, "Apache-2.0")
    _teacher(tmp / "teacher2", 2, NC)
    config = _config(tmp, ['checkpoint = "teacher1"', 'checkpoint = "teacher2"'])
    out = tmp / "student"
    assert main(["-q", "distill", "--config", str(config), "--out", str(out)]) == 0
    return tmp, out


def _metrics(path: Path) -> list[dict]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_student_loss_falls_and_pearson_with_the_ensemble_beats_the_untrained_student(distilled):
    _, out = distilled
    rows = _metrics(out / "metrics.csv")
    train = [float(r["value"]) for r in rows if r["split"] == "train" and r["metric"] == "loss"]
    assert len(train) == 12 and train[-1] < 0.6 * train[0]
    key = "valid/student/splice_sites@1/pearson_with_ensemble"
    before, after = (float(r["value"]) for r in rows if r["split"] == "valid" and r["metric"] == key)
    assert after > before + 0.1
    kl = [float(r["value"]) for r in rows if r["metric"] == "valid/splice_sites/kl"]
    assert kl[1] < kl[0]
    card = json.loads((out / "model_card.json").read_text())
    assert card["distillation"]["metrics"][key] == pytest.approx(after, rel=1e-5)


@pytest.mark.slow
def test_student_card_records_teachers_augmentation_and_inherited_non_commercial_licence(distilled):
    tmp, out = distilled
    card = json.loads((out / "model_card.json").read_text())
    d = card["distillation"]
    assert [t["name"] for t in d["teachers"]] == ["teacher1", "teacher2"]
    assert [t["version"] for t in d["teachers"]] == ["1.0", "2.0"]
    assert [t["licence"] for t in d["teachers"]] == ["Apache-2.0", NC]
    assert d["teachers"][0]["weights_sha256"] == json.loads((tmp / "teacher1/model_card.json").read_text())[
        "weights_sha256"]
    assert d["augmentation"]["mutation_rate"] == 0.02 and d["steps"] == 120
    assert card["non_commercial"] is True and "BY-NC" in card["licence"] and "teacher2" in card["licence"]
    assert card["family"] == "spliceai"


@pytest.mark.slow
def test_student_scores_a_vcf_through_genome_plugin_spliceai(distilled, tmp_path):
    _, out = distilled
    network, _ = load_spliceai_dir(out)
    assert network.config == SpliceAIConfig.tiny()
    scored = tmp_path / "scored"
    code = main(["-q", "spliceai", "--checkpoint", str(out), "--fasta", str(TEST_DATA / "chr20_slice.fa"),
                 "--vcf", str(TEST_DATA / "variants.vcf"), "--annotation", str(TEST_DATA / "genes.gtf"),
                 "--out", str(scored)])
    assert code == 0
    records = [line for line in (TEST_DATA / "variants.vcf").read_text().splitlines() if not line.startswith("#")]
    body = [line for line in (scored / "spliceai.vcf").read_text().splitlines() if not line.startswith("#")]
    assert len(body) == len(records)
    assert any("SpliceAI=" in line for line in body)


def test_teacher_that_forbids_distillation_is_refused_naming_it(tmp_path, capsys):
    from genome_plugin.model.adapter import AlphaGenomeModel
    from genome_plugin.model.checkpoint import save_model

    official = tmp_path / "official_like"
    # Default licence of save_model is the official AlphaGenome weights' terms (what convert-weights writes).
    save_model(AlphaGenomeModel.random("tiny").model, official)
    with pytest.raises(GenomePluginError, match="teacher official_like is refused: its terms forbid"):
        load_teacher(TeacherSpec(checkpoint=str(official)))
    assert json.loads((official / "model_card.json").read_text())["forbids_distillation"] is True
    tuned = _teacher(tmp_path / "tuned", 5, "not stated", training={"finetune": {"checkpoint": str(official)}})
    with pytest.raises(GenomePluginError, match="teacher tuned is refused"):
        load_teacher(TeacherSpec(checkpoint=str(tuned)))
    flagged = _teacher(tmp_path / "flagged", 3, "custom", forbids_distillation=True)
    with pytest.raises(GenomePluginError, match="teacher flagged is refused"):
        load_teacher(TeacherSpec(checkpoint=str(flagged)))
    config = _config(tmp_path, ['checkpoint = "flagged"'])
    assert main(["distill", "--config", str(config), "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "flagged is refused" in err[0]
    assert not (tmp_path / "never").exists()


def test_licences_inherit_and_tracks_match_by_name_and_strand(tmp_path):
    free = load_teacher(TeacherSpec(checkpoint=str(_teacher(tmp_path / "a", 1, "Apache-2.0"))))
    nc = load_teacher(TeacherSpec(checkpoint=str(_teacher(tmp_path / "b", 2, "CC BY-NC 4.0"))))
    licence, non_commercial = inherited_licence([nc])
    assert licence.startswith("CC BY-NC 4.0, inherited from the teachers' weights (b)") and non_commercial
    licence, non_commercial = inherited_licence([free, nc])
    assert non_commercial and "Apache-2.0" in licence and "CC BY-NC 4.0" in licence
    assert inherited_licence([free]) == ("inherited from the teachers' weights (a): Apache-2.0", False)
    assert list(nc.track_indices(OutputType.SPLICE_SITES, [("donor", "-"), ("acceptor", "+")])) == [3, 0]
    with pytest.raises(GenomePluginError, match=r"teacher a has no splice_sites track acceptor \(\.\)"):
        free.track_indices(OutputType.SPLICE_SITES, [("acceptor", ".")])
    with pytest.raises(GenomePluginError, match="teacher a does not predict atac"):
        free.track_indices(OutputType.ATAC, [("x", ".")])


def test_spliceai_teacher_window_matches_the_network_on_its_valid_outputs(tmp_path):
    teacher = load_teacher(TeacherSpec(checkpoint=str(_teacher(tmp_path / "t", 4, "Apache-2.0"))))
    network, _ = load_spliceai_dir(tmp_path / "t")
    rng = np.random.default_rng(0)
    onehot = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=(2, 300))]
    out = teacher.predict(onehot, {OutputType.SPLICE_SITES: np.array([0, 1, 2, 3])})["splice_sites@1"]
    f = network.config.flank
    forward = np.asarray(network(onehot))
    reverse = np.asarray(network(onehot[:, ::-1, ::-1]))[:, ::-1]
    # Track order acceptor+, donor+, acceptor-, donor-; network classes (none, acceptor, donor).
    np.testing.assert_allclose(out[:, f:-f, 0], forward[..., 1], rtol=1e-6)
    np.testing.assert_allclose(out[:, f:-f, 3], reverse[..., 2], rtol=1e-6)
    assert not out[:, :f].any() and not out[:, -f:].any()


def test_config_errors_are_one_line_naming_the_key(tmp_path):
    _teacher(tmp_path / "t", 1, "Apache-2.0")
    both = _config(tmp_path, ['checkpoint = "t"\nmodel = "spliceai"'])
    with pytest.raises(InputError, match=r"\[teachers\[0\]\]: give exactly one of model"):
        read_distill_config(both)
    licence = _config(tmp_path, ['checkpoint = "t"'], extra='[card]\nlicence = "MIT"\n')
    with pytest.raises(InputError, match=r"\[card\] licence: a student's licence is inherited"):
        read_distill_config(licence)
    preset = _config(tmp_path, ['checkpoint = "t"'], student='architecture = "spliceai"\npreset = "full"')
    with pytest.raises(InputError, match=r"\[student\] preset: 'full' is not a spliceai preset"):
        read_distill_config(preset)
    with pytest.raises(GenomePluginError, match="not a registered model"):
        load_teacher(TeacherSpec(model="no-such-model"))



def test_init_teacher_starts_the_student_from_that_network_and_refuses_an_ensemble(tmp_path):
    from genome_plugin.train.distill import SpliceAIStudent, StudentConfig

    teachers = [load_teacher(TeacherSpec(checkpoint=str(_teacher(tmp_path / f"t{i}", i, "Apache-2.0"))))
                for i in (1, 2)]
    student = SpliceAIStudent(StudentConfig(preset="tiny", seed=9))
    onehot = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, size=(1, 200))]
    network, _ = load_spliceai_dir(tmp_path / "t2")
    assert not np.allclose(np.asarray(student.model(onehot)), np.asarray(network(onehot)))
    student.start_from(teachers, 2)
    np.testing.assert_array_equal(np.asarray(student.model(onehot)), np.asarray(network(onehot)))
    assert student.initialised_from == "t2"
    with pytest.raises(GenomePluginError, match=r"\[student\] init_teacher 3: not one network"):
        student.start_from(teachers, 3)


@pytest.mark.slow
def test_resumed_distillation_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    from genome_plugin.train.config import LoopConfig, OptimizerConfig
    from genome_plugin.train.data import TrainingData
    from genome_plugin.train.distill import Ensemble, SpliceAIStudent, StudentConfig, distill

    teachers = [load_teacher(TeacherSpec(checkpoint=str(_teacher(tmp_path / f"t{i}", i, "Apache-2.0"))))
                for i in (1, 2)]
    config = read_distill_config(_config(tmp_path, ['checkpoint = "t1"']))
    data = TrainingData(config.data)
    # A constant learning rate, so a 5-step run's schedule is the first half of a 10-step run's.
    optimizer = OptimizerConfig(learning_rate=0.005, end_learning_rate=0.005)

    def run(out: Path, steps: int, resume: bool) -> tuple[dict, int]:
        student = SpliceAIStudent(StudentConfig(preset="tiny", seed=3))
        loop = LoopConfig(steps=steps, checkpoint_every=5, eval_batches=1, log_every=5)
        result = distill(student, Ensemble(teachers, student), data, optimizer=optimizer, loop=loop, out_dir=out,
                         resume=resume, progress=False)
        return nnx.to_pure_dict(nnx.state(student.model)), result.resumed_from

    straight, _ = run(tmp_path / "straight", 10, False)
    run(tmp_path / "killed", 5, False)
    resumed, resumed_from = run(tmp_path / "killed", 10, True)
    assert resumed_from == 5
    flat_a, flat_b = (dict(nnx.traversals.flatten_mapping(x)) for x in (straight, resumed))
    assert flat_a.keys() == flat_b.keys()
    for key, value in flat_a.items():
        np.testing.assert_array_equal(np.asarray(value), np.asarray(flat_b[key]), err_msg=str(key))
    with pytest.raises(GenomePluginError, match="already holds checkpoints"):
        run(tmp_path / "straight", 10, False)

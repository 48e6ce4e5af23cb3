"""Distillation: one student learns the mean of frozen teachers on shifted, reverse-complemented, mutated sequence.

Teachers are registered models (``model = "spliceai"``, optionally one ``member`` of an ensemble) or saved
model directories (``checkpoint = DIR``: a SpliceAI-architecture model saved here, or an AlphaGenome one).
They are frozen and run through compiled functions; for every batch of augmented windows (the training
data loader of :mod:`genome_plugin.train.data`, reading only sequence) their outputs are averaged and become
the targets of the student. The student is a new SpliceAI-architecture network (``architecture =
"spliceai"``, preset ``spliceai_10k`` or ``tiny``) or AlphaGenome-architecture model (``"alphagenome"``,
preset ``tiny``/``small``/``full``); every track it predicts must be predicted by every teacher, matched by
output type, name and strand.

Losses, per output type, with the ensemble's outputs as targets: splice sites, the cross-entropy of the
student's class distribution against the ensemble's soft distribution (the none class is what the site
classes leave); genome tracks, usage and contact maps, the AlphaGenome losses of
:mod:`genome_plugin.train.losses` (the track loss takes the ensemble's data-space predictions as targets).
Positions where any teacher (or a SpliceAI student) lacks its full context inside the window are left out.

Licences travel: the student's card records every teacher with its version, licence and weights checksum,
and its own licence is inherited from them (a student of the SpliceAI weights is CC BY-NC 4.0,
non-commercial). A teacher whose card says ``forbids_distillation`` (the official AlphaGenome weights, whose
terms forbid training other models on their outputs, are recognised by their licence) is refused.

Not done here: the per-track standard-deviation head for the ensemble's spread, data parallelism over
several devices (the loop of :mod:`genome_plugin.train.loop` has it; this one runs on one device), and
splice-junction distillation (it needs the junction head's site positions; refused with an error).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
from flax import nnx

from genome_plugin.errors import GenomePluginError
from genome_plugin.model.config import HEAD_SPECS, AlphaGenomeConfig
from genome_plugin.tracks import OutputType, TrackTable
from genome_plugin.train.batch import TRACK_TYPES, parse_target_key, target_key
from genome_plugin.train.config import (
    CardConfig,
    LoopConfig,
    OptimizerConfig,
    _check,
    _convert,
    _fail,
    _section,
    read_toml,
)
from genome_plugin.train.data import DataConfig
from genome_plugin.train.losses import (
    EPSILON,
    contact_maps_loss,
    head_loss_weight,
    safe_masked_mean,
    splice_usage_loss,
    tracks_loss,
)

__all__ = [
    "DistillConfig",
    "DistillResult",
    "StudentConfig",
    "Teacher",
    "TeacherSpec",
    "distill",
    "distill_from_config",
    "forbids_distillation",
    "inherited_licence",
    "load_teacher",
    "read_distill_config",
    "soft_cross_entropy",
]

log = logging.getLogger(__name__)

ARCHITECTURES = {"spliceai": ("spliceai_10k", "tiny"), "alphagenome": ("tiny", "small", "full")}
SPLICE_KEY = target_key(OutputType.SPLICE_SITES, 1)
#: The student's splice-site tracks in the order of the batch contract's classes (``train.batch.SPLICE_CLASSES``).
SPLICE_TRACKS = (("donor", "+"), ("acceptor", "+"), ("donor", "-"), ("acceptor", "-"))
#: A SpliceAI network's classes (none, acceptor, donor): its columns for the + strand tracks above.
_SPLICEAI_CLASS = {"acceptor": 1, "donor": 2}
_NON_COMMERCIAL = ("BY-NC", "non-commercial", "noncommercial")


# ------------------------------------------------------------------------------------------- config


@dataclass(frozen=True)
class TeacherSpec:
    """One teacher: a registered ``model`` name (``member``: one network of its ensemble, 1-based) or a saved
    model directory ``checkpoint``."""

    model: str | None = None
    checkpoint: str | None = None
    member: int | None = None


@dataclass(frozen=True)
class StudentConfig:
    """The student's architecture (``spliceai`` or ``alphagenome``), preset, initialisation seed, precision,
    (AlphaGenome only) the output types to distil (default: every type all teachers predict), and
    (SpliceAI only) ``init_teacher``: start from the weights of that teacher (1-based; a single network of
    the student's architecture) instead of random ones, so a short run refines rather than starts afresh."""

    architecture: str = "spliceai"
    preset: str = "tiny"
    seed: int = 0
    precision: str = "auto"
    output_types: tuple[str, ...] = ()
    init_teacher: int | None = None


@dataclass(frozen=True)
class DistillConfig:
    """A whole distillation run (``[data]`` needs no track table: one with splice sites only adds top-k)."""

    data: DataConfig
    teachers: tuple[TeacherSpec, ...]
    student: StudentConfig = field(default_factory=StudentConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    card: CardConfig = field(default_factory=CardConfig)
    out: str | None = None
    source: str = "<config>"


def read_distill_config(path: str | Path, *, out: str | None = None) -> DistillConfig:
    """Read and validate a distillation config; relative paths resolve against the config file's folder."""
    path = Path(path)
    raw = read_toml(path)
    source = str(path)
    sections = {"data", "teachers", "student", "optimizer", "loop", "card", "out"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise _fail(source, unknown[0], f"unknown section or key; known: {', '.join(sorted(sections))}")
    base = path.resolve().parent

    def resolve(value: str) -> str:
        return value if Path(value).is_absolute() else str(base / value)

    data = raw.get("data")
    if not isinstance(data, dict):
        raise _fail(source, "[data]", "required section is missing")
    data = {"track_table": "", **data}
    for key in ("fasta", "track_table", "folds"):
        if isinstance(data.get(key), str) and data[key]:
            data[key] = resolve(data[key])
    teachers_raw = raw.get("teachers")
    if not isinstance(teachers_raw, list) or not teachers_raw:
        raise _fail(source, "[[teachers]]", "give at least one teacher ([[teachers]] with model = or checkpoint =)")
    teachers = []
    for i, table in enumerate(teachers_raw):
        name = f"teachers[{i}]"
        spec = _section(TeacherSpec, table, name, source)
        _check((spec.model is None) != (spec.checkpoint is None), source, f"[{name}]",
               "give exactly one of model = NAME or checkpoint = DIR")
        _check(spec.member is None or spec.member >= 1, source, f"[{name}] member", f"must be >= 1, got {spec.member}")
        if spec.checkpoint is not None:
            spec = dataclasses.replace(spec, checkpoint=resolve(spec.checkpoint))
            _check(Path(spec.checkpoint).is_dir(), source, f"[{name}] checkpoint", f"{spec.checkpoint} is not a folder")
        teachers.append(spec)
    card = raw.get("card", {})
    if isinstance(card, dict) and "licence" in card:
        raise _fail(source, "[card] licence", "a student's licence is inherited from its teachers; remove the key")
    top_out = raw.get("out")
    if top_out is not None:
        _convert(top_out, str, source, "out")
    config = DistillConfig(
        data=_section(DataConfig, data, "data", source),
        teachers=tuple(teachers),
        student=_section(StudentConfig, raw.get("student", {}), "student", source),
        optimizer=_section(OptimizerConfig, raw.get("optimizer", {}), "optimizer", source),
        loop=_section(LoopConfig, raw.get("loop", {}), "loop", source),
        card=_section(CardConfig, card, "card", source),
        out=out if out is not None else (resolve(top_out) if top_out else None),
        source=source,
    )
    s = config.student
    _check(s.architecture in ARCHITECTURES, source, "[student] architecture",
           f"{s.architecture!r} is not one of {', '.join(ARCHITECTURES)}")
    presets = ARCHITECTURES[s.architecture]
    _check(s.preset in presets, source, "[student] preset",
           f"{s.preset!r} is not a {s.architecture} preset ({', '.join(presets)})")
    for name in s.output_types:
        try:
            OutputType.parse(name)
        except ValueError as err:
            raise _fail(source, "[student] output_types", str(err)) from None
    _check(config.loop.steps > 0, source, "[loop] steps", f"must be > 0, got {config.loop.steps}")
    _check(config.optimizer.learning_rate > 0, source, "[optimizer] learning_rate", "must be > 0")
    for key in ("fasta", "folds"):
        _check(Path(getattr(config.data, key)).exists(), source, f"[data] {key}", f"{getattr(config.data, key)} "
               "does not exist")
    return config


# ------------------------------------------------------------------------------------------- licences


def forbids_distillation(card: Mapping[str, Any], *, _depth: int = 0) -> bool:
    """Whether a model's terms forbid training other models on its outputs.

    A card says so with ``forbids_distillation: true`` (``save_model`` writes it for the official AlphaGenome
    weights, whose terms say so); cards written before that flag are recognised by the official licence. A
    model fine-tuned here from such weights inherits the restriction (its card names the checkpoint).
    """
    from genome_plugin.model.checkpoint import OFFICIAL_LICENCE, read_card

    if bool(card.get("forbids_distillation")) or str(card.get("licence", "")) == OFFICIAL_LICENCE:
        return True
    training = card.get("training")
    base = training.get("finetune", {}).get("checkpoint") if isinstance(training, dict) else None
    if isinstance(base, str) and _depth < 8 and (Path(base) / "model_card.json").is_file():
        return forbids_distillation(read_card(base), _depth=_depth + 1)
    return False


def _is_non_commercial(licence: str) -> bool:
    return any(word.lower() in licence.lower() for word in _NON_COMMERCIAL)


def inherited_licence(teachers: Sequence[Teacher]) -> tuple[str, bool]:
    """The student's licence and whether it is non-commercial, from its teachers' licences."""
    licences = list(dict.fromkeys(t.licence for t in teachers))
    non_commercial = any(_is_non_commercial(t) or t_nc for t, t_nc in ((t.licence, t.non_commercial)
                                                                      for t in teachers))
    names = ", ".join(t.name for t in teachers)
    if all("CC BY-NC 4.0" in lic for lic in licences):
        return f"CC BY-NC 4.0, inherited from the teachers' weights ({names}): {licences[0]}", True
    return f"inherited from the teachers' weights ({names}): {'; '.join(licences)}", non_commercial


# ------------------------------------------------------------------------------------------- teachers


class Teacher:
    """A frozen model the student learns from: its tracks and a compiled prediction over whole windows.

    ``flank`` is the context (bp) each output needs on either side inside the window (0 for models that
    see the whole window); :meth:`predict` gives arrays over the whole window, zero within ``flank`` of its
    ends, where they must be ignored.
    """

    def __init__(self, name: str, model: Any, card: Mapping[str, Any], *, licence: str, ensemble: Any = None):
        self.name = name
        self.model = model
        self.card = dict(card)
        self.licence = licence or "not stated"
        self.non_commercial = bool(card.get("non_commercial")) or _is_non_commercial(self.licence)
        self.version = str(card.get("version", getattr(model, "version", "")))
        self._ensemble = ensemble
        self.flank = int(ensemble.flank) if ensemble is not None else 0
        self.tracks = {t: model.tracks(t) for t in model.output_types()}

    def record(self) -> dict[str, Any]:
        """What the student's card says about this teacher."""
        return {"name": self.name, "version": self.version, "licence": self.licence,
                "non_commercial": self.non_commercial, "family": self.card.get("family", ""),
                "weights_sha256": self.card.get("weights_sha256", "")}

    def track_indices(self, output_type: OutputType, wanted: Sequence[tuple[str, str]]) -> np.ndarray:
        """This teacher's indices of the ``(name, strand)`` tracks ``wanted``; a one-line error when it lacks one."""
        table = self.tracks.get(output_type)
        if table is None:
            msg = f"teacher {self.name} does not predict {output_type.value}, which the student predicts"
            raise GenomePluginError(msg)
        index = {(n, s): i for i, (n, s) in enumerate(zip(table.names, table.strands, strict=True))}
        missing = [f"{n} ({s})" for n, s in wanted if (n, s) not in index]
        if missing:
            msg = (f"teacher {self.name} has no {output_type.value} track {missing[0]} (matched by name and strand), "
                   "which the student predicts")
            raise GenomePluginError(msg)
        return np.array([index[w] for w in wanted], np.int64)

    def predict(self, onehot: np.ndarray, requests: Mapping[OutputType, np.ndarray]) -> dict[str, np.ndarray]:
        """Predictions ``{target key: (B, S // resolution, T)}`` of the requested tracks over whole windows."""
        if self._ensemble is None:
            out = self.model.predict(onehot, requests=dict(requests))
            return {target_key(t, r): v for (t, r), v in out.items()}
        return {SPLICE_KEY: _spliceai_window(self._ensemble, onehot, self.tracks[OutputType.SPLICE_SITES],
                                             requests[OutputType.SPLICE_SITES])}


def _spliceai_window(ensemble: Any, onehot: np.ndarray, table: TrackTable, indices: np.ndarray) -> np.ndarray:
    """A SpliceAI ensemble's tracks over the window (valid outputs only; zeros within ``flank`` of the ends).

    The network reads only the window: no N padding beyond it, so no work is spent on outputs left out.
    """
    batch, length = onehot.shape[:2]
    f = ensemble.flank
    strands = [table.strands[i] for i in indices]
    by_strand = {}
    if "+" in strands:
        by_strand["+"] = np.asarray(ensemble(onehot))
    if "-" in strands:
        by_strand["-"] = np.asarray(ensemble(onehot[:, ::-1, ::-1]))[:, ::-1]
    out = np.zeros((batch, length, len(indices)), np.float32)
    for k, i in enumerate(indices):
        out[:, f : length - f, k] = by_strand[table.strands[i]][..., _SPLICEAI_CLASS[table.names[i]]]
    return out


def _teacher_card(spec: TeacherSpec) -> tuple[dict[str, Any], str]:
    """The teacher's card and licence, read before any weights are loaded (so a refused teacher costs nothing)."""
    from genome_plugin.model.checkpoint import read_card

    if spec.checkpoint is not None:
        card = read_card(spec.checkpoint)
        return card, str(card.get("licence", ""))
    from genome_plugin.plugins import get_models

    models = get_models()
    if spec.model not in models:
        msg = f"teacher {spec.model!r} is not a registered model; installed: {', '.join(sorted(models))}"
        raise GenomePluginError(msg)
    entry = models[spec.model]
    return {"name": entry.name, "family": entry.family, "licence": entry.licence}, entry.licence


def _teacher_name(spec: TeacherSpec) -> str:
    base = spec.model if spec.model is not None else Path(str(spec.checkpoint)).name
    return f"{base} member {spec.member}" if spec.member is not None else base


def load_teacher(spec: TeacherSpec) -> Teacher:
    """Load one teacher, refusing (one line, naming it) one whose terms forbid distillation."""
    from genome_plugin.model.spliceai import SpliceAIEnsemble

    name = _teacher_name(spec)
    card, licence = _teacher_card(spec)
    if forbids_distillation(card):
        msg = (f"teacher {name} is refused: its terms forbid training other models on its outputs "
               f"(licence: {licence or 'see its card'})")
        raise GenomePluginError(msg)
    if spec.checkpoint is not None:
        from genome_plugin.model.spliceai_checkpoint import is_spliceai_dir

        if is_spliceai_dir(spec.checkpoint):
            from genome_plugin.default_plugins.spliceai import load_spliceai

            model = load_spliceai(checkpoint=spec.checkpoint)
        else:
            from genome_plugin.model.adapter import AlphaGenomeModel

            model = AlphaGenomeModel.from_checkpoint(spec.checkpoint, input_lengths=None)
    else:
        from genome_plugin.plugins import load_model

        model = load_model(spec.model)
        card = {**card, **model.card()}
        licence = str(card.get("licence", licence))
        if forbids_distillation(card):
            msg = f"teacher {name} is refused: its terms forbid training other models on its outputs"
            raise GenomePluginError(msg)
    ensemble = getattr(model, "ensemble", None)
    if not isinstance(ensemble, SpliceAIEnsemble):
        ensemble = None
    if spec.member is not None:
        if ensemble is None or spec.member > ensemble.size:
            size = 1 if ensemble is None else ensemble.size
            msg = f"teacher {name}: member {spec.member} does not exist (the model has {size} network(s))"
            raise GenomePluginError(msg)
        ensemble = SpliceAIEnsemble([ensemble.member(spec.member - 1)], weights_sha256=ensemble.weights_sha256)
        card = {**card, "member": spec.member}
    return Teacher(name, model, card, licence=licence, ensemble=ensemble)


# ------------------------------------------------------------------------------------------- losses


def soft_cross_entropy(log_probs: jax.Array, targets: jax.Array, weights: jax.Array) -> jax.Array:
    """Mean over weighted positions of ``-sum_c q_c log p_c``: cross-entropy against a soft distribution ``q``."""
    loss = -jnp.sum(jnp.asarray(targets, jnp.float32) * jnp.asarray(log_probs, jnp.float32), axis=-1)
    return safe_masked_mean(loss, jnp.reshape(weights, loss.shape))


def _with_none_class(site_probs: jax.Array) -> jax.Array:
    """Site probabilities ``[..., k]`` -> a distribution ``[..., k + 1]`` with the none class last.

    SpliceAI's strands come from separate softmaxes, so their sum can pass 1; it is renormalised then.
    """
    p = jnp.clip(jnp.asarray(site_probs, jnp.float32), 0.0, 1.0)
    none = jnp.clip(1.0 - jnp.sum(p, axis=-1, keepdims=True), 0.0, 1.0)
    full = jnp.concatenate([p, none], axis=-1)
    return full / jnp.maximum(jnp.sum(full, axis=-1, keepdims=True), EPSILON)


# ------------------------------------------------------------------------------------------- students


class SpliceAIStudent:
    """A new SpliceAI-architecture network learning the ensemble's acceptor and donor probabilities.

    A SpliceAI network predicts the strand it reads; training on reverse-complemented windows (the data
    loader's augmentation) teaches it the other strand, so its targets are the teachers' + strand tracks on
    the augmented window, and its - strand tracks are predicted on the reverse complement.
    """

    architecture = "spliceai"

    def __init__(self, config: StudentConfig):
        from genome_plugin.model.spliceai import SpliceAI, SpliceAIConfig

        arch = SpliceAIConfig.spliceai_10k() if config.preset == "spliceai_10k" else SpliceAIConfig.tiny()
        self.model = SpliceAI(arch, rngs=nnx.Rngs(config.seed))
        self.flank = arch.flank
        self.tracks = {OutputType.SPLICE_SITES: TrackTable(
            [{"name": n, "strand": s} for n, s in SPLICE_TRACKS], source="SpliceAI student tracks")}
        self.precision = "float32"

    def train_tracks(self) -> dict[OutputType, list[tuple[str, str]]]:
        return {OutputType.SPLICE_SITES: [("acceptor", "+"), ("donor", "+")]}

    def start_from(self, teachers: Sequence[Teacher], number: int) -> None:
        """Copy the weights of teacher ``number`` (1-based), a single network of the student's architecture."""
        teacher = teachers[number - 1] if 1 <= number <= len(teachers) else None
        ensemble = None if teacher is None else teacher._ensemble
        if ensemble is None or ensemble.size != 1 or ensemble.config != self.model.config:
            msg = (f"[student] init_teacher {number}: not one network of the student's architecture "
                   f"({len(teachers)} teacher(s); SpliceAI ensembles need member =)")
            raise GenomePluginError(msg)
        nnx.update(self.model, nnx.state(ensemble.member(0)))
        self.initialised_from = teacher.name

    def loss(self, model: nnx.Module, batch: Mapping[str, Any]) -> tuple[jax.Array, dict[str, jax.Array]]:
        f = self.flank
        probs = model(batch["sequence"])
        target = batch["targets"][SPLICE_KEY][:, f:-f]
        weight = batch["weights"][SPLICE_KEY][:, f:-f]
        # (none, acceptor, donor) as the network orders its classes.
        q = _with_none_class(target)[..., jnp.array([2, 0, 1])]
        loss = soft_cross_entropy(jnp.log(jnp.maximum(probs, 1e-12)), q, weight)
        # The cross-entropy cannot fall below the targets' entropy; the KL divergence says how far above it is.
        entropy = soft_cross_entropy(jnp.log(jnp.maximum(q, 1e-12)), q, weight)
        return loss, {"loss": loss, "splice_sites/kl": loss - entropy}

    def predict(self, model: nnx.Module, sequence: jax.Array) -> dict[str, jax.Array]:
        """All four tracks (:data:`SPLICE_TRACKS` order) over the window, zero within ``flank`` of its ends."""
        f = self.flank
        forward = model(sequence)
        reverse = model(sequence[:, ::-1, ::-1])[:, ::-1]
        inner = jnp.stack([forward[..., 2], forward[..., 1], reverse[..., 2], reverse[..., 1]], axis=-1)
        return {SPLICE_KEY: jnp.pad(inner, ((0, 0), (f, f), (0, 0)))}

    def save(self, out_dir: Path, card: dict[str, Any]) -> Path:
        from genome_plugin.model.spliceai_checkpoint import save_spliceai_dir

        card = {**card, "output_types": [OutputType.SPLICE_SITES.value], "resolution_bp": 1,
                "tracks": {OutputType.SPLICE_SITES.value: [{"name": n, "strand": s} for n, s in SPLICE_TRACKS]},
                "input_length": f"any; each output uses {self.flank} bp of context on each side (N beyond the input)",
                "use": f"--model spliceai --checkpoint {out_dir}"}
        return save_spliceai_dir(self.model, out_dir, card)


class AlphaGenomeStudent:
    """A new AlphaGenome-architecture model with one head per distilled output type, tracks as the teachers'."""

    architecture = "alphagenome"

    def __init__(self, config: StudentConfig, teachers: Sequence[Teacher], precision: str):
        from genome_plugin.train.loop import build_model

        shared = set.intersection(*(set(t.tracks) for t in teachers))
        wanted = [OutputType.parse(n) for n in config.output_types] or sorted(shared, key=lambda t: t.value)
        if not wanted:
            msg = "the teachers share no output type for the student to learn"
            raise GenomePluginError(msg)
        self.tracks: dict[OutputType, TrackTable] = {}
        self._train: dict[OutputType, list[tuple[str, str]]] = {}
        for output_type in wanted:
            if output_type is OutputType.SPLICE_JUNCTIONS:
                msg = "splice_junctions cannot be distilled yet (the junction head needs site positions); leave it out"
                raise GenomePluginError(msg)
            first = next((t for t in teachers if output_type in t.tracks), None)
            if first is None:
                msg = f"no teacher predicts {output_type.value}, which [student] output_types asks for"
                raise GenomePluginError(msg)
            if output_type is OutputType.SPLICE_SITES:
                table = pd.DataFrame({"name": [n for n, _ in SPLICE_TRACKS] + ["Padding"],
                                      "strand": [s for _, s in SPLICE_TRACKS] + ["."]})
                self._train[output_type] = list(SPLICE_TRACKS)
            else:
                table = first.tracks[output_type].df.reset_index(drop=True)
                if output_type in TRACK_TYPES and "nonzero_mean" not in table:
                    msg = f"teacher {first.name}'s {output_type.value} tracks have no nonzero_mean column"
                    raise GenomePluginError(msg)
                self._train[output_type] = list(zip(table["name"], table["strand"], strict=True))
            self.tracks[output_type] = TrackTable(table, source=f"tracks of teacher {first.name}")
        self.model, self.metadata = build_model(AlphaGenomeConfig.preset(config.preset), self.tracks,
                                                seed=config.seed, precision=precision)
        self.flank = 0
        self.precision = precision

    def train_tracks(self) -> dict[OutputType, list[tuple[str, str]]]:
        return self._train

    def _outputs(self, model: nnx.Module, batch: Mapping[str, Any]) -> tuple[dict, dict]:
        from genome_plugin.train.loop import _forward

        return _forward(model, {"sequence": batch["sequence"], "organism_index": batch["organism_index"],
                                "targets": {target_key(t, 1): None for t in self.tracks}})

    def loss(self, model: nnx.Module, batch: Mapping[str, Any]) -> tuple[jax.Array, dict[str, jax.Array]]:
        from genome_plugin.train.losses import head_for_target

        outputs, means = self._outputs(model, batch)
        total, scalars = jnp.zeros((), jnp.float32), {}
        for key in sorted(batch["targets"]):
            target, weight = batch["targets"][key], batch["weights"][key]
            head, resolution = head_for_target(key)
            spec, out = HEAD_SPECS[head], outputs[head]
            match spec.kind:
                case "splice_sites_classification":
                    q = _with_none_class(target)
                    loss = soft_cross_entropy(jax.nn.log_softmax(out["logits"].astype(jnp.float32)), q, weight)
                    entropy = soft_cross_entropy(jnp.log(jnp.maximum(q, 1e-12)), q, weight)
                    scalars[f"{head}/kl"] = loss - entropy
                case "genome_tracks":
                    loss = tracks_loss(out[f"scaled_predictions_{resolution}bp"], target, weight[..., None],
                                       means[head], resolution, apply_squashing=spec.apply_squashing)["loss"]
                case "splice_sites_usage":
                    loss = splice_usage_loss(out["logits"], target, weight[..., None])["loss"]
                case "contact_maps":
                    loss = contact_maps_loss(out["predictions"], target, weight[..., None])["loss"]
                case _:
                    msg = f"no distillation loss for head kind {spec.kind!r}"
                    raise ValueError(msg)
            scalars[f"{head}/{key}/loss"] = loss
            total = total + head_loss_weight(head) * loss
        scalars["loss"] = total
        return total, scalars

    def predict(self, model: nnx.Module, sequence: jax.Array, organism_index: jax.Array) -> dict[str, jax.Array]:
        outputs, _ = self._outputs(model, {"sequence": sequence, "organism_index": organism_index})
        out = {}
        for output_type in self.tracks:
            head = next(h for h, s in HEAD_SPECS.items() if OutputType[s.output_type] is output_type)
            spec = HEAD_SPECS[head]
            if spec.kind == "splice_sites_classification":
                out[SPLICE_KEY] = outputs[head]["predictions"][..., :4]
            elif spec.kind == "genome_tracks":
                for r in spec.resolutions:
                    out[target_key(output_type, r)] = outputs[head][f"predictions_{r}bp"]
            elif spec.kind == "splice_sites_usage":
                out[target_key(output_type, 1)] = jax.nn.sigmoid(outputs[head]["logits"].astype(jnp.float32))
            else:
                out[target_key(output_type, self.model.config.pair_resolution)] = outputs[head]["predictions"]
        return out

    def save(self, out_dir: Path, card: dict[str, Any]) -> Path:
        from genome_plugin.model.checkpoint import CARD_NAME, save_model
        from genome_plugin.train.run import _with_float32_compute

        save_model(_with_float32_compute(self.model), out_dir, metadata=self.metadata, version=card["version"],
                   licence=card["licence"], description=card["description"], source=card["source"])
        path = out_dir / CARD_NAME
        saved = json.loads(path.read_text())
        saved.update({k: v for k, v in card.items() if k not in saved or k == "name"})
        saved["use"] = f"--model alphagenome --checkpoint {out_dir}"
        path.write_text(json.dumps(saved, indent=1))
        return out_dir


def _student_keys(student: Any) -> list[str]:
    """Target keys the student trains on: each output type at each resolution it predicts."""
    keys = []
    for output_type in student.train_tracks():
        if output_type in TRACK_TYPES:
            keys += [target_key(output_type, r) for r in output_type.resolutions]
        elif output_type is OutputType.CONTACT_MAPS:
            keys.append(target_key(output_type, student.model.config.pair_resolution))
        else:
            keys.append(target_key(output_type, 1))
    return keys


# ------------------------------------------------------------------------------------------- ensemble targets


def _position_weights(key: str, batch: int, length: int, margin: int, example_mask: np.ndarray) -> np.ndarray:
    """1 where every teacher (and the student) has its full context, 0 within ``margin`` bp of the ends."""
    output_type, resolution = parse_target_key(key)
    bins = length // resolution
    starts = np.arange(bins) * resolution
    inside = ((starts >= margin) & (starts + resolution <= length - margin)).astype(np.float32)
    weights = np.broadcast_to(inside, (batch, bins)) * example_mask[:, None].astype(np.float32)
    if output_type is OutputType.CONTACT_MAPS:
        return weights[:, :, None] * weights[:, None, :]
    return np.ascontiguousarray(weights)


class Ensemble:
    """The teachers, their track indices for the student's tracks, and the mean of their predictions."""

    def __init__(self, teachers: Sequence[Teacher], student: Any):
        self.teachers = list(teachers)
        self.margin = max([t.flank for t in teachers] + [student.flank])
        self.train_requests = [{ot: t.track_indices(ot, wanted) for ot, wanted in student.train_tracks().items()}
                               for t in teachers]
        self.all_requests = [{ot: t.track_indices(ot, list(zip(table.names, table.strands, strict=True))
                                                  if ot is not OutputType.SPLICE_SITES else list(SPLICE_TRACKS))
                              for ot, table in student.tracks.items()} for t in teachers]
        self.keys = _student_keys(student)
        # Where each training track sits among all the student's tracks, to take training targets from those.
        self.train_columns = {}
        for ot, wanted in student.train_tracks().items():
            every = list(SPLICE_TRACKS) if ot is OutputType.SPLICE_SITES else list(
                zip(student.tracks[ot].names, student.tracks[ot].strands, strict=True))
            self.train_columns[ot] = np.array([every.index(w) for w in wanted], np.int64)

    def training_part(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The training tracks of arrays over all the student's tracks."""
        return {k: v[..., self.train_columns[parse_target_key(k)[0]]] for k, v in arrays.items()}

    def targets(self, sequence: np.ndarray, example_mask: np.ndarray, *, every_track: bool = False
                ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], list[dict[str, np.ndarray]]]:
        """Mean predictions, position weights and each teacher's predictions for a batch of windows."""
        requests = self.all_requests if every_track else self.train_requests
        each = []
        for teacher, request in zip(self.teachers, requests, strict=True):
            out = teacher.predict(sequence, request)
            each.append({k: np.asarray(v, np.float32) for k, v in out.items() if k in self.keys})
        mean = {k: np.mean([e[k] for e in each], axis=0) for k in self.keys}
        batch, length = sequence.shape[:2]
        weights = {k: _position_weights(k, batch, length, self.margin, example_mask) for k in self.keys}
        return mean, weights, each


# ------------------------------------------------------------------------------------------- evaluation


def _moments(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted sums [6, T] (n, x, y, xx, yy, xy) over all axes but the last, in float64."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    w = np.broadcast_to(w.reshape(w.shape + (1,) * (x.ndim - w.ndim)), x.shape).astype(np.float64)
    axes = tuple(range(x.ndim - 1))
    return np.stack([np.sum(w * v, axis=axes) for v in (np.ones_like(x), x, y, x * x, y * y, x * y)])


def _pearson(m: np.ndarray) -> np.ndarray:
    n, sx, sy, sxx, syy, sxy = m
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy / n - sx * sy / n**2
        return cov / np.sqrt((sxx / n - (sx / n) ** 2) * (syy / n - (sy / n) ** 2))


def evaluate(student: Any, ensemble: Ensemble, data: Any, *, max_batches: int | None = None,
             predict: Any = None) -> dict[str, Any]:
    """On the validation fold: Pearson with the ensemble per track for the student and every teacher, the
    distillation loss, and top-k against annotated splice sites when the data has labels."""
    from genome_plugin.train.loop import TOPK_CLASSES, topk_accuracy

    predict = predict or nnx.jit(lambda m, x, o: student.predict(m, x) if student.architecture == "spliceai"
                                 else student.predict(m, x, o))
    loss_step = nnx.jit(student.loss)
    names = ["student"] + [t.name for t in ensemble.teachers]
    moments: dict[str, dict[str, np.ndarray]] = {n: {} for n in names}
    losses, batches = [], 0
    kls: dict[str, list[float]] = {}
    scores: dict[str, list] = {n: [] for n in [*names, "ensemble"]}
    labels = []
    for raw in data.batches("valid", num_steps=max_batches):
        mask = np.asarray(raw["example_mask"])
        sequence = np.asarray(raw["sequence"], np.float32)
        organism = np.asarray(raw["organism_index"], np.int32)
        mean, weights, each = ensemble.targets(sequence, mask, every_track=True)
        loss, parts = loss_step(student.model, {"sequence": sequence, "organism_index": organism,
                                                "targets": ensemble.training_part(mean), "weights": weights})
        losses.append(float(loss))
        for name, value in parts.items():
            if name.endswith("/kl"):
                kls.setdefault(name, []).append(float(value))
        mine = {k: np.asarray(v, np.float32) for k, v in predict(student.model, sequence, organism).items()}
        for name, pred in zip(names, [mine, *each], strict=True):
            for key in ensemble.keys:
                m = _moments(pred[key], mean[key], weights[key])
                moments[name][key] = moments[name].get(key, 0.0) + m
        if SPLICE_KEY in raw.get("targets", {}) and SPLICE_KEY in mean:
            valid = (weights[SPLICE_KEY] > 0) & (np.asarray(raw["weights"][SPLICE_KEY]) > 0)
            labels.append(np.asarray(raw["targets"][SPLICE_KEY])[valid])
            for name, pred in zip([*names, "ensemble"], [mine, *each, mean], strict=True):
                scores[name].append(pred[SPLICE_KEY][valid])
        batches += 1
    if batches == 0:
        msg = "the validation fold has no windows; add a 'valid' region to the folds BED"
        raise GenomePluginError(msg)
    result: dict[str, Any] = {"loss": float(np.mean(losses)), "pearson": {}, "top_k": {},
                              "kl": {name: float(np.mean(v)) for name, v in kls.items()}}
    for name in names:
        result["pearson"][name] = {key: _pearson(m).tolist() for key, m in moments[name].items()}
    if labels:
        lab = np.concatenate(labels)
        for name, parts in scores.items():
            s = np.concatenate(parts)
            result["top_k"][name] = {c: topk_accuracy(s, lab, classes) for c, classes in TOPK_CLASSES.items()
                                     if c in ("donor", "acceptor")}
    return result


def summary_metrics(evaluation: Mapping[str, Any]) -> dict[str, float]:
    """Flat metrics for the card: loss, mean Pearson with the ensemble per model and key, top-k."""
    out = {"valid/loss": evaluation["loss"], **{f"valid/{k}": v for k, v in evaluation["kl"].items()}}
    for name, per_key in evaluation["pearson"].items():
        for key, values in per_key.items():
            finite = [v for v in values if v is not None and math.isfinite(v)]
            out[f"valid/{name}/{key}/pearson_with_ensemble"] = float(np.mean(finite)) if finite else math.nan
    for name, per_class in evaluation["top_k"].items():
        for c, value in per_class.items():
            out[f"valid/{name}/top_k/{c}"] = value
    return out


# ------------------------------------------------------------------------------------------- loop


@dataclass
class DistillResult:
    """What a run did: steps, validation metrics before and after, seconds spent distilling, where it wrote."""

    steps: int
    resumed_from: int
    initial: dict[str, float]
    metrics: dict[str, float]
    seconds: float
    out_dir: Path
    losses: list[float]


def distill(student: Any, ensemble: Ensemble, data: Any, *, optimizer: OptimizerConfig, loop: LoopConfig,
            out_dir: Path, resume: bool = False, progress: bool = True, train_mode: bool = True) -> DistillResult:
    """Train ``student`` in place on the ensemble's outputs; checkpoints and ``metrics.csv`` in ``out_dir``.

    ``train_mode`` False keeps batch-norm layers on their stored statistics (a student started from a
    trained teacher keeps the teacher's, rather than re-estimating them from small batches).
    """
    from tqdm.auto import tqdm

    from genome_plugin.train.loop import CHECKPOINT_DIR, METRICS_NAME, _Checkpoints, _MetricsFile, make_optimizer

    out_dir.mkdir(parents=True, exist_ok=True)
    model = student.model
    metrics = _MetricsFile(out_dir / METRICS_NAME)
    model.eval()
    initial = summary_metrics(evaluate(student, ensemble, data, max_batches=loop.eval_batches))
    metrics.write((0, "valid", k, "", v) for k, v in sorted(initial.items()))
    model.train() if train_mode else model.eval()
    opt = nnx.Optimizer(model, make_optimizer(optimizer, loop.steps), wrt=nnx.Param)
    checkpoints = _Checkpoints(out_dir / CHECKPOINT_DIR, loop.keep_checkpoints)
    start = checkpoints.resume(model, opt, None, resume=resume, data_seed=data.config.seed, done="distilled")

    @nnx.jit
    def train_step(model, opt, batch):
        (_, scalars), grads = nnx.value_and_grad(student.loss, has_aux=True)(model, batch)
        opt.update(model, grads)
        return {**scalars, "grad_norm": optax.global_norm(grads)}

    losses: list[float] = []
    t0 = time.perf_counter()
    bar = tqdm(total=loop.steps, initial=start, disable=not progress, desc="distill", unit="step")
    pending: dict[str, float] = {}
    try:
        for step, raw in zip(range(start, loop.steps),
                             data.batches("train", start_step=start, num_steps=loop.steps - start), strict=True):
            sequence = np.asarray(raw["sequence"], np.float32)
            targets, weights, _ = ensemble.targets(sequence, np.asarray(raw["example_mask"]))
            scalars = jax.device_get(train_step(model, opt, {"sequence": sequence, "organism_index":
                                                             np.asarray(raw["organism_index"], np.int32),
                                                             "targets": targets, "weights": weights}))
            loss = float(scalars["loss"])
            if not math.isfinite(loss):
                msg = f"the loss is {loss} at step {step + 1}; lower [optimizer] learning_rate"
                raise GenomePluginError(msg)
            losses.append(loss)
            for name, value in scalars.items():
                pending[name] = pending.get(name, 0.0) + float(value)
            done = step + 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4g}")
            if done % loop.log_every == 0 or done == loop.steps:
                count = done % loop.log_every or loop.log_every
                metrics.write((done, "train", n, "", v / count) for n, v in sorted(pending.items()))
                pending = {}
            if done % loop.checkpoint_every == 0 or done == loop.steps:
                checkpoints.save(done, model, opt, {"step": done, "loader": {"fold": "train", "next_step": done},
                                                    "data_seed": data.config.seed})
    finally:
        bar.close()
        checkpoints.close()
    seconds = time.perf_counter() - t0
    model.eval()
    final = summary_metrics(evaluate(student, ensemble, data, max_batches=loop.eval_batches))
    metrics.write((loop.steps, "valid", k, "", v) for k, v in sorted(final.items()))
    return DistillResult(loop.steps, start, initial, final, seconds, out_dir, losses)


def distill_from_config(config: DistillConfig, *, out_dir: str | Path, resume: bool = False,
                        progress: bool = True) -> tuple[DistillResult, Path]:
    """Run the distillation ``config`` describes; return the result and the saved student's directory."""
    from genome_plugin.model.checkpoint import CARD_NAME
    from genome_plugin.train.data import TrainingData
    from genome_plugin.train.loop import resolve_precision
    from genome_plugin.train.run import json_safe

    out_dir = Path(out_dir).resolve()
    if (out_dir / CARD_NAME).exists():
        msg = f"{out_dir} already holds a model; choose another output folder"
        raise GenomePluginError(msg)
    teachers = [load_teacher(spec) for spec in config.teachers]
    licence, non_commercial = inherited_licence(teachers)
    s = config.student
    if s.architecture == "spliceai":
        student = SpliceAIStudent(s)
        if s.init_teacher is not None:
            student.start_from(teachers, s.init_teacher)
    else:
        student = AlphaGenomeStudent(s, teachers, resolve_precision(s.precision))
        student.model.config.validate_length(config.data.sequence_length)
    ensemble = Ensemble(teachers, student)
    if config.data.sequence_length <= 2 * ensemble.margin:
        msg = (f"{config.source}: [data] sequence_length {config.data.sequence_length} leaves no position with the "
               f"full context of every teacher and the student ({ensemble.margin} bp each side)")
        raise GenomePluginError(msg)
    data = TrainingData(config.data)
    result = distill(student, ensemble, data, optimizer=config.optimizer, loop=config.loop, out_dir=out_dir,
                     resume=resume, progress=progress, train_mode=s.init_teacher is None)
    c, d = config.card, config.data
    card = json_safe({
        "name": c.name or f"{s.architecture}-{s.preset}-distilled",
        "version": c.version,
        "description": c.description if c.description != CardConfig.description else
        f"{s.architecture} ({s.preset}) student distilled from {len(teachers)} teacher(s) with genome-plugin",
        "source": f"distilled with genome-plugin from {config.source}",
        "licence": licence,
        "non_commercial": non_commercial,
        "distillation": {
            "teachers": [t.record() for t in teachers],
            "student": {**dataclasses.asdict(s), "initialised_from": getattr(student, "initialised_from", None)},
            "augmentation": {"max_shift": d.max_shift, "reverse_complement": d.reverse_complement,
                             "mutation_rate": d.mutation_rate, "mask_fraction": d.mask_fraction,
                             "mask_span": d.mask_span},
            "data": data.summary(),
            "steps": result.steps,
            "resumed_from_step": result.resumed_from,
            "seconds": round(result.seconds, 1),
            "optimizer": dataclasses.asdict(config.optimizer),
            "loop": dataclasses.asdict(config.loop),
            "metrics_before": result.initial,
            "metrics": result.metrics,
            "input_licences": c.input_licences,
        },
    })
    student.save(out_dir, card)
    return result, out_dir

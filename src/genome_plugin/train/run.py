"""A whole training run from a :class:`genome_plugin.train.config.TrainConfig`: data, model (new or fine-tuned),
the loop, and the trained model saved as a model directory every command loads (``--checkpoint DIR``).

The output folder holds ``model_card.json`` and ``state/`` (the trained model, as
:func:`genome_plugin.model.checkpoint.save_model` writes them), ``checkpoints/`` (the loop's resumable
state) and ``metrics.csv``. The card's ``training`` entry records the data (files, folds, windows), the
steps, the settings, the final validation metrics and the licence of every input.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from genome_plugin.errors import GenomePluginError
from genome_plugin.model.checkpoint import CARD_NAME, STATE_DIR, save_model
from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.train.config import TrainConfig
from genome_plugin.train.loop import TrainResult, build_model, resolve_precision, train

__all__ = ["input_licences", "train_from_config"]

NOT_STATED = "not stated in the training config"


def input_licences(config: TrainConfig, files: list[str]) -> list[dict[str, str]]:
    """Every input file with the licence ``[card] input_licences`` gives it (by path as written or file name)."""
    given = config.card.input_licences
    inputs = [config.data.fasta, config.data.track_table, config.data.folds, *files]
    if config.finetune.checkpoint:
        inputs.append(config.finetune.checkpoint)
    out, seen = [], set()
    for path in inputs:
        if path in seen:
            continue
        seen.add(path)
        name = Path(path.split("::")[0]).name
        licence = given.get(path, given.get(name, NOT_STATED))
        out.append({"input": path, "licence": licence})
    return out


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None and tuples as lists, so a model card is valid JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def train_from_config(
    config: TrainConfig, *, out_dir: str | Path, resume: bool = False, progress: bool = True, **train_options: Any
) -> tuple[TrainResult, Path]:
    """Run the training ``config`` describes; return the loop's result and the saved model directory."""
    from genome_plugin.train.data import TrainingData

    out_dir = Path(out_dir).resolve()
    if (out_dir / STATE_DIR).exists() or (out_dir / CARD_NAME).exists():
        msg = f"{out_dir} already holds a trained model; choose another output folder"
        raise GenomePluginError(msg)
    data = TrainingData(config.data)
    precision = resolve_precision(config.model.precision)
    trainable_options: dict[str, Any] = {}
    if config.finetune.checkpoint:
        from genome_plugin.train.finetune import finetune_model, trainable, uses_train_mode

        model, metadata = finetune_model(config.finetune.checkpoint, data.tracks, seed=config.model.seed,
                                         precision=precision)
        trainable_options = {"trainable": trainable(config.finetune.mode),
                             "train_mode": uses_train_mode(config.finetune.mode)}
    else:
        model, metadata = build_model(AlphaGenomeConfig.preset(config.model.preset), data.tracks,
                                      seed=config.model.seed, precision=precision)
    try:
        model.config.validate_length(config.data.sequence_length)
    except ValueError as err:
        msg = f"{config.source}: [data] sequence_length: {err}"
        raise GenomePluginError(msg) from err
    result = train(model, data, optimizer=config.optimizer, loop=config.loop, out_dir=out_dir, resume=resume,
                   progress=progress, **trainable_options, **train_options)
    # The trained model is stored in float32 compute like every saved model; loaders choose their precision.
    model = _with_float32_compute(model)
    save_model(model, out_dir, metadata=metadata, version=config.card.version, licence=config.card.licence,
               description=config.card.description, source=f"trained with genome-plugin from {config.source}")
    card_path = out_dir / CARD_NAME
    card = json.loads(card_path.read_text())
    card["name"] = config.card.name or f"alphagenome-{model.config.name}-trained"
    summary = data.summary()
    card["training"] = json_safe({
        "config_file": config.source,
        "data": summary,
        "folds": summary.get("fold_regions"),
        "steps": result.steps,
        "resumed_from_step": result.resumed_from,
        "seconds": round(result.seconds, 1),
        "devices": result.devices,
        "precision": precision,
        "finetune": dataclasses.asdict(config.finetune),
        "optimizer": dataclasses.asdict(config.optimizer),
        "loop": dataclasses.asdict(config.loop),
        "metrics": result.metrics,
        "input_licences": input_licences(config, [f["file"] for f in summary.get("files", [])]),
    })
    card_path.write_text(json.dumps(card, indent=1))
    return result, out_dir


def _with_float32_compute(model):
    if model.config.precision.compute_dtype == "float32":
        return model
    from flax import nnx

    from genome_plugin.model.network import AlphaGenome

    config = model.config.with_compute_dtype("float32")
    stored = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    nnx.update(stored, nnx.state(model))
    return stored

"""Training configuration: TOML sections as frozen dataclasses, validated with one-line errors naming the key.

A config file (see ``train/configs/`` at the repository root) has the sections ``[data]`` (the fields of
:class:`genome_plugin.train.data.DataConfig`; relative paths are taken from the config file's folder),
``[model]``, ``[optimizer]``, ``[loop]``, optionally ``[finetune]`` and ``[card]``, and a top-level ``out``
(the output folder, relative to the config file; ``--out`` overrides it).
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genome_plugin.errors import InputError
from genome_plugin.train.data import DataConfig

__all__ = [
    "CardConfig",
    "FinetuneConfig",
    "LoopConfig",
    "ModelConfig",
    "OptimizerConfig",
    "TrainConfig",
    "read_config",
]

PRECISIONS = ("auto", "float32", "bfloat16")
FINETUNE_MODES = ("full", "linear_probe")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture preset (``tiny``, ``small``, ``full``), initialisation seed and compute precision.

    ``precision = "auto"`` computes in bfloat16 on a GPU or TPU and in float32 on a CPU; parameters are
    always float32.
    """

    preset: str = "tiny"
    seed: int = 0
    precision: str = "auto"


@dataclass(frozen=True)
class OptimizerConfig:
    """AdamW with linear warm-up to ``learning_rate`` then cosine decay to ``end_learning_rate``; clipping of
    the gradients' global norm at ``clip_norm`` (0 = none)."""

    learning_rate: float = 1e-3
    warmup_steps: int = 0
    end_learning_rate: float = 0.0
    weight_decay: float = 1e-4
    clip_norm: float = 1.0
    b1: float = 0.9
    b2: float = 0.999


@dataclass(frozen=True)
class LoopConfig:
    """Steps, checkpoint and evaluation intervals (0 = only at the end), CSV logging interval."""

    steps: int = 100
    checkpoint_every: int = 100
    eval_every: int = 0
    eval_batches: int | None = None
    log_every: int = 10
    keep_checkpoints: int = 2


@dataclass(frozen=True)
class FinetuneConfig:
    """Start from a saved model (ours, trained or converted official weights): its trunk, new heads.

    ``mode = "linear_probe"`` trains only the heads (trunk parameters and batch-norm statistics frozen);
    ``"full"`` trains everything.
    """

    checkpoint: str | None = None
    mode: str = "full"


@dataclass(frozen=True)
class CardConfig:
    """What the model card says: name, version, licence of the trained weights, licences of the inputs.

    ``input_licences`` maps an input (a file name as written in the config or track table) to its licence.
    """

    name: str | None = None
    version: str = "0"
    licence: str = "not stated"
    description: str = "AlphaGenome architecture trained with genome-plugin"
    input_licences: dict = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run."""

    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    card: CardConfig = field(default_factory=CardConfig)
    out: str | None = None
    source: str = "<config>"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _fail(path: str, key: str, message: str) -> InputError:
    return InputError(f"{key}: {message}", path=path)


def _convert(value: Any, kind: Any, path: str, key: str) -> Any:
    """``value`` as the annotated type ``kind`` (int, float, str, bool, dict, tuples and ``X | None``)."""
    args = typing.get_args(kind)
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        options = [a for a in args if a is not type(None)]
        return None if value is None else _convert(value, options[0], path, key)
    origin = typing.get_origin(kind) or kind
    if origin is bool:
        if not isinstance(value, bool):
            raise _fail(path, key, f"must be true or false, got {value!r}")
        return value
    if origin is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, key, f"must be an integer, got {value!r}")
        return value
    if origin is float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _fail(path, key, f"must be a finite number, got {value!r}")
        return float(value)
    if origin is str:
        if not isinstance(value, str):
            raise _fail(path, key, f"must be a string, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise _fail(path, key, f"must be a list, got {value!r}")
        return tuple(_convert(v, args[0], path, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise _fail(path, key, f"must be a table of strings, got {value!r}")
        return dict(value)
    msg = f"internal error: no conversion for {kind!r}"
    raise TypeError(msg)


def _section(cls: type, table: Any, name: str, path: str, **fixed: Any) -> Any:
    if not isinstance(table, dict):
        raise _fail(path, f"[{name}]", "must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in fixed}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(table) - set(fields))
    if unknown:
        raise _fail(path, f"[{name}] {unknown[0]}", f"unknown key; known keys: {', '.join(sorted(fields))}")
    values = {k: _convert(v, hints[k], path, f"[{name}] {k}") for k, v in table.items()}
    missing = [f.name for f in fields.values() if f.name not in values
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise _fail(path, f"[{name}] {missing[0]}", "required key is missing")
    return cls(**values, **fixed)


def _check(condition: bool, path: str, key: str, message: str) -> None:
    if not condition:
        raise _fail(path, key, message)


def _validate(config: TrainConfig, path: str) -> None:
    from genome_plugin.model.config import AlphaGenomeConfig

    m, o, lp, ft, d = config.model, config.optimizer, config.loop, config.finetune, config.data
    presets = ("tiny", "small", "full")
    _check(m.preset in presets, path, "[model] preset", f"{m.preset!r} is not one of {', '.join(presets)}")
    _check(m.precision in PRECISIONS, path, "[model] precision",
           f"{m.precision!r} is not one of {', '.join(PRECISIONS)}")
    _check(o.learning_rate > 0, path, "[optimizer] learning_rate", f"must be > 0, got {o.learning_rate}")
    _check(0 <= o.end_learning_rate <= o.learning_rate, path, "[optimizer] end_learning_rate",
           f"must be in [0, learning_rate], got {o.end_learning_rate}")
    _check(o.warmup_steps >= 0, path, "[optimizer] warmup_steps", f"must be >= 0, got {o.warmup_steps}")
    _check(o.weight_decay >= 0, path, "[optimizer] weight_decay", f"must be >= 0, got {o.weight_decay}")
    _check(o.clip_norm >= 0, path, "[optimizer] clip_norm", f"must be >= 0, got {o.clip_norm}")
    _check(0 <= o.b1 < 1 and 0 <= o.b2 < 1, path, "[optimizer] b1", f"b1 and b2 must be in [0, 1), got {o.b1}, {o.b2}")
    _check(lp.steps > 0, path, "[loop] steps", f"must be > 0, got {lp.steps}")
    _check(o.warmup_steps <= lp.steps, path, "[optimizer] warmup_steps",
           f"{o.warmup_steps} is more than [loop] steps = {lp.steps}")
    _check(lp.checkpoint_every > 0, path, "[loop] checkpoint_every", f"must be > 0, got {lp.checkpoint_every}")
    _check(lp.eval_every >= 0, path, "[loop] eval_every", f"must be >= 0, got {lp.eval_every}")
    _check(lp.eval_batches is None or lp.eval_batches > 0, path, "[loop] eval_batches",
           f"must be > 0, got {lp.eval_batches}")
    _check(lp.log_every > 0, path, "[loop] log_every", f"must be > 0, got {lp.log_every}")
    _check(lp.keep_checkpoints > 0, path, "[loop] keep_checkpoints", f"must be > 0, got {lp.keep_checkpoints}")
    _check(ft.mode in FINETUNE_MODES, path, "[finetune] mode", f"{ft.mode!r} is not one of {', '.join(FINETUNE_MODES)}")
    _check(ft.mode == "full" or ft.checkpoint is not None, path, "[finetune] mode",
           f"{ft.mode!r} needs [finetune] checkpoint")
    if ft.checkpoint is not None:
        _check((Path(ft.checkpoint) / "model_card.json").is_file(), path, "[finetune] checkpoint",
               f"{ft.checkpoint} is not a saved model directory (no model_card.json)")
    for key in ("fasta", "track_table", "folds"):
        value = getattr(d, key)
        _check(Path(value.split("::")[0]).exists(), path, f"[data] {key}", f"{value} does not exist")
    if ft.checkpoint is None:
        multiple = AlphaGenomeConfig.preset(m.preset).sequence_multiple
        _check(d.sequence_length % multiple == 0, path, "[data] sequence_length",
               f"{d.sequence_length} is not a multiple of {multiple} bp (the {m.preset} preset's input multiple)")
    _check(d.batch_size > 0, path, "[data] batch_size", f"must be > 0, got {d.batch_size}")


def read_toml(path: Path) -> dict:
    """The TOML document at ``path``; an unreadable file or bad TOML is a one-line error naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(f"cannot read the config ({err.strerror})", path=path) from err
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"not valid TOML ({err})", path=path) from err


def read_config(path: str | Path, *, out: str | None = None) -> TrainConfig:
    """Read and validate a training config; relative paths resolve against the config file's folder."""
    path = Path(path)
    raw = read_toml(path)
    source = str(path)
    sections = {"data", "model", "optimizer", "loop", "finetune", "card", "out"}
    unknown = sorted(set(raw) - sections)
    if unknown:
        raise _fail(source, unknown[0], f"unknown section or key; known: {', '.join(sorted(sections))}")
    if "data" not in raw:
        raise _fail(source, "[data]", "required section is missing")
    base = path.resolve().parent

    def resolve(value: str) -> str:
        if value.startswith("spliceai:"):
            return value
        return str(value) if Path(value).is_absolute() else os.path.normpath(base / value)

    data = dict(raw["data"]) if isinstance(raw["data"], dict) else raw["data"]
    if isinstance(data, dict):
        for key in ("fasta", "track_table", "folds"):
            if isinstance(data.get(key), str):
                data[key] = resolve(data[key])
    finetune = dict(raw.get("finetune", {}))
    if isinstance(finetune.get("checkpoint"), str):
        finetune["checkpoint"] = resolve(finetune["checkpoint"])
    top_out = raw.get("out")
    if top_out is not None and not isinstance(top_out, str):
        raise _fail(source, "out", f"must be a string, got {top_out!r}")
    config = TrainConfig(
        data=_section(DataConfig, data, "data", source),
        model=_section(ModelConfig, raw.get("model", {}), "model", source),
        optimizer=_section(OptimizerConfig, raw.get("optimizer", {}), "optimizer", source),
        loop=_section(LoopConfig, raw.get("loop", {}), "loop", source),
        finetune=_section(FinetuneConfig, finetune, "finetune", source),
        card=_section(CardConfig, raw.get("card", {}), "card", source),
        out=out if out is not None else (resolve(top_out) if top_out else None),
        source=source,
    )
    _validate(config, source)
    return config

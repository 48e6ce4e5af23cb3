"""Save and load SpliceAI-architecture networks trained here (distilled students): ``weights.npz`` + a model card.

Layout of a model directory::

    model_card.json   family "spliceai", the architecture (``config``), tracks, licence, weights sha256, ...
    weights.npz       one float32 array per parameter and batch-norm statistic, keyed by its dotted NNX path

The arrays are read with ``allow_pickle=False`` and their checksum is compared with the card on every load,
so a damaged or swapped file is an error, never a silently different model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from flax import nnx

from genome_plugin.errors import InputError
from genome_plugin.model.checkpoint import CARD_NAME, read_card
from genome_plugin.model.spliceai import SpliceAI, SpliceAIConfig, build_member

__all__ = ["WEIGHTS_NAME", "config_from_dict", "is_spliceai_dir", "load_spliceai_dir", "params_sha256",
           "save_spliceai_dir"]

WEIGHTS_NAME = "weights.npz"
FAMILY = "spliceai"


def _flat_params(model: SpliceAI) -> dict[str, np.ndarray]:
    return {".".join(map(str, path)): np.asarray(var[...], np.float32)
            for path, var in nnx.to_flat_state(nnx.state(model))}


def params_sha256(params: dict[str, np.ndarray]) -> str:
    """sha256 over every array (sorted name, then its little-endian float32 C-order bytes)."""
    digest = hashlib.sha256()
    for name in sorted(params):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(params[name], dtype="<f4").tobytes())
    return digest.hexdigest()


def config_from_dict(raw: Any, *, path: Path) -> SpliceAIConfig:
    """A :class:`SpliceAIConfig` from its ``dataclasses.asdict`` form (as a model card stores it)."""
    try:
        values = dict(raw)
        values["groups"] = tuple((int(k), int(d)) for k, d in values["groups"])
        return SpliceAIConfig(**values)
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"model card's config is not a SpliceAI architecture ({type(err).__name__}: {err})",
                         path=path) from None


def save_spliceai_dir(model: SpliceAI, out_dir: str | Path, card: dict[str, Any]) -> Path:
    """Write ``weights.npz`` and ``model_card.json`` (``card`` plus family, config and checksum) to ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / WEIGHTS_NAME).exists():
        msg = f"{out_dir / WEIGHTS_NAME}: a model already exists; choose an empty output directory"
        raise ValueError(msg)
    params = _flat_params(model)
    np.savez(out_dir / WEIGHTS_NAME, **params)
    full = {**card, "family": FAMILY, "config": dataclasses.asdict(model.config),
            "parameters": int(sum(v.size for v in params.values())), "weights_sha256": params_sha256(params)}
    (out_dir / CARD_NAME).write_text(json.dumps(full, indent=1))
    return out_dir


def is_spliceai_dir(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds a SpliceAI-architecture model written by :func:`save_spliceai_dir`."""
    path = Path(model_dir) / CARD_NAME
    if not path.is_file():
        return False
    try:
        return json.loads(path.read_text()).get("family") == FAMILY
    except (ValueError, AttributeError, UnicodeDecodeError):
        return False


def load_spliceai_dir(model_dir: str | Path) -> tuple[SpliceAI, dict[str, Any]]:
    """The network of a directory written by :func:`save_spliceai_dir`, and its model card."""
    model_dir = Path(model_dir).resolve()
    card = read_card(model_dir)
    if card.get("family") != FAMILY:
        raise InputError(f"model card's family is {card.get('family')!r}, not a SpliceAI-architecture model",
                         path=model_dir / CARD_NAME)
    config = config_from_dict(card["config"], path=model_dir / CARD_NAME)
    weights = model_dir / WEIGHTS_NAME
    if not weights.is_file():
        raise InputError(f"no {WEIGHTS_NAME}: the model directory is incomplete", path=model_dir)
    try:
        with np.load(weights, allow_pickle=False) as data:
            params = {key: data[key] for key in data.files}
    except (OSError, ValueError) as err:
        raise InputError(f"cannot read the weights ({err})", path=weights) from None
    if (digest := params_sha256(params)) != card.get("weights_sha256"):
        raise InputError(f"weights checksum {digest[:16]}... does not match the model card", path=weights)
    return build_member(config, params, source=str(weights)), card

"""Save and restore AlphaGenome models: an Orbax checkpoint of the NNX state plus ``model_card.json`` beside it.

Layout of a model directory::

    model_card.json   config, tracks per head and organism, licence, citation, weights sha256
    state/            Orbax StandardCheckpointer of the model state (params, RMS-norm variances, track means)

Restoring builds the abstract model with ``nnx.eval_shape``, restores the state into it and applies
it with ``nnx.update``, so no random initialisation of 450M parameters ever runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from genome_plugin.errors import InputError
from genome_plugin.model.config import AlphaGenomeConfig
from genome_plugin.model.metadata import TrackMetadata
from genome_plugin.model.network import AlphaGenome, count_params

__all__ = ["CARD_NAME", "load_model", "read_card", "save_model", "weights_sha256"]

CARD_NAME = "model_card.json"
STATE_DIR = "state"
OFFICIAL_LICENCE = (
    "AlphaGenome model weights: Google DeepMind's AlphaGenome weights terms (non-commercial use); code Apache-2.0"
)
CITATION = (
    "Avsec, Z. et al. Advancing regulatory variant effect prediction with AlphaGenome. Nature (2026). "
    "doi:10.1038/s41586-025-10014-0"
)


def _flat_arrays(model: nnx.Module) -> list[tuple[str, np.ndarray]]:
    flat = nnx.to_flat_state(nnx.state(model))
    return sorted(("/".join(map(str, path)), np.asarray(var[...])) for path, var in flat)


def weights_sha256(model: nnx.Module) -> str:
    """sha256 over every state leaf (sorted path, then the little-endian C-order bytes)."""
    digest = hashlib.sha256()
    for path, value in _flat_arrays(model):
        digest.update(path.encode())
        digest.update(np.ascontiguousarray(value).astype(value.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


def _tracks_json(metadata: Sequence[TrackMetadata]) -> dict:
    out = {}
    for table in metadata:
        out[table.organism] = {
            head: json.loads(df.to_json(orient="records")) for head, df in sorted(table.tables.items())
        }
    return out


def save_model(
    model: AlphaGenome,
    out_dir: str | Path,
    *,
    metadata: Sequence[TrackMetadata] = (),
    version: str = "0",
    source: str = "",
    licence: str = OFFICIAL_LICENCE,
    description: str = "AlphaGenome architecture (Flax NNX re-implementation of the official Haiku model)",
) -> Path:
    """Write the Orbax state checkpoint and the model card; return ``out_dir``."""
    import orbax.checkpoint as ocp

    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    state_dir = out_dir / STATE_DIR
    if state_dir.exists():
        msg = f"{state_dir}: a checkpoint already exists; choose an empty output directory"
        raise InputError(msg)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(state_dir, nnx.to_pure_dict(nnx.state(model)))
    checkpointer.wait_until_finished()
    card = {
        "name": f"alphagenome-{model.config.name}",
        "family": "alphagenome",
        "version": version,
        "description": description,
        "source": source,
        "licence": licence,
        # The official weights' terms forbid training other models on their outputs (genome-plugin distill reads this).
        "forbids_distillation": licence == OFFICIAL_LICENCE,
        "citation": CITATION,
        "weights_sha256": weights_sha256(model),
        "parameters": count_params(model),
        "config": model.config.to_dict(),
        "tracks": _tracks_json(metadata),
    }
    (out_dir / CARD_NAME).write_text(json.dumps(card, indent=1))
    return out_dir


def read_card(model_dir: str | Path) -> dict:
    """The model card of a saved model directory (a JSON object with at least ``config``)."""
    path = Path(model_dir) / CARD_NAME
    try:
        card = json.loads(path.read_text())
    except OSError as err:
        raise InputError(f"cannot read the model card ({err.strerror})", path=path) from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f" at line {err.lineno}" if isinstance(err, json.JSONDecodeError) else ""
        raise InputError(f"model card is not valid JSON ({getattr(err, 'msg', err.reason)}{where})",
                         path=path) from err
    if not isinstance(card, dict):
        raise InputError(f"model card is a JSON {type(card).__name__}, not an object", path=path)
    if not isinstance(card.get("config"), dict):
        raise InputError("model card has no 'config' object (the model's architecture): not a model written by "
                         "genome-plugin convert-weights / save_model?", path=path)
    if not isinstance(card.get("tracks", {}), dict):
        raise InputError("model card's 'tracks' is not an object", path=path)
    return card


#: An array's name in TensorStore's spec, as printed (JSON, sometimes escaped): "path": "decoder.conv.w/"
_TENSORSTORE_PATH = re.compile(r"""path\\?["']\s*:\s*\\?["']([^"'\\/]+)/?\\?["']""")


@contextlib.contextmanager
def _quiet(*names: str):
    """Silence loggers (orbax and absl log every failed read of a damaged checkpoint) for one call."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _damage(err: BaseException) -> str:
    """A short account of a failed restore: the first sentence, and the array it was reading when named."""
    text = str(err)
    arrays = _TENSORSTORE_PATH.findall(text)
    head = text.split("See full TensorStore details", 1)[0].strip().splitlines()
    summary = (head[0] if head else type(err).__name__)[:200].rstrip(" .")
    array = f"; reading {arrays[-1]}" if arrays and arrays[-1] != "state" else ""
    return f"{type(err).__name__}: {summary}{array}"


def load_model(model_dir: str | Path, *, compute_dtype: str | None = None, verify: bool = False) -> AlphaGenome:
    """Restore a saved model (``nnx.eval_shape`` -> Orbax restore -> ``nnx.update``).

    ``compute_dtype`` overrides the saved precision policy (e.g. ``"bfloat16"``); ``verify`` recomputes
    the weights checksum and compares it with the model card.
    """
    import orbax.checkpoint as ocp

    model_dir = Path(model_dir).resolve()
    card = read_card(model_dir)
    try:
        config = AlphaGenomeConfig.from_dict(card["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"model card's config is not an AlphaGenome configuration ({type(err).__name__}: {err})",
                         path=model_dir / CARD_NAME) from err
    if compute_dtype is not None:
        config = config.with_compute_dtype(compute_dtype)
    model = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    state = nnx.state(model)
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), nnx.to_pure_dict(state))
    state_dir = model_dir / STATE_DIR
    if not state_dir.is_dir():
        raise InputError(f"no {STATE_DIR}/ folder: the checkpoint is incomplete", path=model_dir)
    try:
        with _quiet("orbax", "absl", "jax._src.distributed"):
            restored = ocp.StandardCheckpointer().restore(state_dir, target)
    except Exception as err:  # orbax and TensorStore raise many types, with their internal state in the text
        raise InputError(f"the checkpoint is damaged or incomplete ({_damage(err)})", path=state_dir) from None
    nnx.replace_by_pure_dict(state, restored)
    nnx.update(model, state)
    if verify and (digest := weights_sha256(model)) != card["weights_sha256"]:
        msg = f"weights checksum {digest} does not match the model card ({card.get('weights_sha256')})"
        raise InputError(msg, path=model_dir)
    return model

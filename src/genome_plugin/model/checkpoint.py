"""Save and restore AlphaGenome models: an Orbax checkpoint of the NNX state plus ``model_card.json`` beside it.

Layout of a model directory::

    model_card.json   config, tracks per head and organism, licence, citation, weights sha256
    state/            Orbax StandardCheckpointer of the model state (params, RMS-norm variances, track means)

Restoring builds the abstract model with ``nnx.eval_shape``, restores the state into it and applies
it with ``nnx.update``, so no random initialisation of 450M parameters ever runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np
from flax import nnx

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
        raise ValueError(msg)
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
        "citation": CITATION,
        "weights_sha256": weights_sha256(model),
        "parameters": count_params(model),
        "config": model.config.to_dict(),
        "tracks": _tracks_json(metadata),
    }
    (out_dir / CARD_NAME).write_text(json.dumps(card, indent=1))
    return out_dir


def read_card(model_dir: str | Path) -> dict:
    """The model card of a saved model directory."""
    path = Path(model_dir) / CARD_NAME
    try:
        return json.loads(path.read_text())
    except OSError as err:
        msg = f"{path}: cannot read the model card ({err.strerror})"
        raise ValueError(msg) from err
    except json.JSONDecodeError as err:
        msg = f"{path}: model card is not valid JSON ({err.msg} at line {err.lineno})"
        raise ValueError(msg) from err


def load_model(model_dir: str | Path, *, compute_dtype: str | None = None, verify: bool = False) -> AlphaGenome:
    """Restore a saved model (``nnx.eval_shape`` -> Orbax restore -> ``nnx.update``).

    ``compute_dtype`` overrides the saved precision policy (e.g. ``"bfloat16"``); ``verify`` recomputes
    the weights checksum and compares it with the model card.
    """
    import orbax.checkpoint as ocp

    model_dir = Path(model_dir).resolve()
    card = read_card(model_dir)
    config = AlphaGenomeConfig.from_dict(card["config"])
    if compute_dtype is not None:
        config = config.with_compute_dtype(compute_dtype)
    model = nnx.eval_shape(lambda: AlphaGenome(config, rngs=nnx.Rngs(0)))
    state = nnx.state(model)
    target = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), nnx.to_pure_dict(state))
    try:
        restored = ocp.StandardCheckpointer().restore(model_dir / STATE_DIR, target)
    except Exception as err:  # orbax raises many types; the message is what the user needs
        msg = f"{model_dir / STATE_DIR}: cannot restore the checkpoint ({type(err).__name__}: {err})"
        raise ValueError(msg) from err
    nnx.replace_by_pure_dict(state, restored)
    nnx.update(model, state)
    if verify and (digest := weights_sha256(model)) != card["weights_sha256"]:
        msg = f"{model_dir}: weights checksum {digest} does not match the model card ({card['weights_sha256']})"
        raise ValueError(msg)
    return model

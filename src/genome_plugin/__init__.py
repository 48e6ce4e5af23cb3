"""genome-plugin: AlphaGenome-class sequence-to-function models on your own accelerator, as AnnData.

The public API is small; heavy modules (JAX, the models) load on first use.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("genome-plugin")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from genome_plugin.hookspecs import hookimpl  # noqa: E402

_LAZY = {
    "load_model": "genome_plugin.plugins",
    "predict_interval": "genome_plugin.api",
    "predict_sequence": "genome_plugin.api",
    "predict_variant": "genome_plugin.api",
    "ism": "genome_plugin.api",
    "contact_map": "genome_plugin.api",
    "score_variants": "genome_plugin.scoring.engine",
    "Interval": "genome_plugin.genome",
    "Variant": "genome_plugin.genome",
    "Reference": "genome_plugin.genome",
    "OutputType": "genome_plugin.tracks",
    "TrackTable": "genome_plugin.tracks",
}

__all__ = ["__version__", "hookimpl", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'genome_plugin' has no attribute {name!r}"
    raise AttributeError(msg)


def __dir__() -> list[str]:
    return sorted(__all__)

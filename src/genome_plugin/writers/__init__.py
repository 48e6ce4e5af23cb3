"""Output writers: the built-in formats and :func:`write_results`, which runs the registered writers by name."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anndata as ad

from genome_plugin.errors import InputError
from genome_plugin.writers.base import Writer

__all__ = ["Writer", "resolve_writers", "write_results"]


def resolve_writers(names: Iterable[str]) -> list[Any]:
    """The registered writers called ``names`` (case-insensitive; ``bw`` = ``bigwig``), in that order."""
    from genome_plugin.plugins import get_writers

    writers = get_writers()
    aliases = {"bw": "bigwig", "bg": "bedgraph", "cooler": "cool", "anndata": "h5ad"}
    found = []
    for name in names:
        key = name.strip().lower()
        key = aliases.get(key, key)
        if key not in writers:
            msg = f"unknown output format {name!r}; formats: {', '.join(sorted(writers))}"
            raise InputError(msg)
        found.append(writers[key])
    return found


def write_results(results: Mapping[str, ad.AnnData], formats: Iterable[str], out_dir: str | os.PathLike[str], *,
                  basename: str = "predictions", skip_unsupported: bool = True, **options: Any) -> list[Path]:
    """Write every AnnData of ``results`` (key -> AnnData) in every format; files are ``<basename>.<key>...``.

    A format that cannot hold a result's kind (bigWig for a contact map) is skipped when
    ``skip_unsupported``, else it raises. ``options`` (``reference=``, ``annotation=``) go to every writer.
    """
    paths: list[Path] = []
    writers = resolve_writers(formats)
    for key, adata in results.items():
        kind = str(adata.uns.get("genome_plugin", {}).get("kind", ""))
        for writer in writers:
            kinds = getattr(writer, "kinds", None)
            if kinds is not None and kind not in kinds and skip_unsupported:
                continue
            paths += writer.write(adata, out_dir, basename=f"{basename}.{key}" if key else basename, **options)
    return paths

"""Output writers: the built-in formats and :func:`write_results`, which runs the registered writers by name."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import anndata as ad

from genome_plugin.errors import InputError
from genome_plugin.writers.base import Writer

__all__ = ["Writer", "resolve_writers", "warn_foreign_outputs", "write_results"]

log = logging.getLogger(__name__)


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
    warn_foreign_outputs(out_dir, paths)
    return paths


def warn_foreign_outputs(out_dir: str | os.PathLike[str], written: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Warn about h5ad files (and files of the kinds just written) in ``out_dir`` that this run did not write.

    A reused output folder keeps an earlier run's results; nothing is deleted (they may be wanted), but
    a reader of the folder must not take them for this run's. Returns those files.
    """
    mine = {Path(p).resolve() for p in written}
    suffixes = {".h5ad", *(Path(p).suffix for p in mine)}
    foreign = sorted(p for p in Path(out_dir).iterdir() if p.is_file() and not p.name.startswith(".")
                     and p.suffix in suffixes and p.resolve() not in mine)
    if foreign:
        shown = ", ".join(p.name for p in foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        log.warning("%s holds %d file(s) this run did not write (left by an earlier run?): %s", out_dir,
                    len(foreign), shown)
    return foreign

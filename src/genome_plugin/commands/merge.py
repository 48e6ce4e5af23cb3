"""Concatenate h5ad files of one result split into chunks (``--chunk i/n`` or ``--region`` jobs), without loss.

The inputs must be the same kind of result from the same model, output type, resolution and tracks
(``var`` identical); obs rows are concatenated (chunks in chunk order when recorded, else in the
order given), X and every layer with them. Provenance that differs between chunks only in what each
chunk covered (intervals, windows, variants, chunk, region) is concatenated; any other difference is
an error naming the key. Rows that appear in two inputs (overlapping regions) are an error too.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

NAME = "merge"
HELP = "concatenate h5ad chunks of one prediction or scoring job into one h5ad, losslessly"

log = logging.getLogger(__name__)

#: Provenance keys that say what a chunk covered; merged by concatenation.
PER_CHUNK = ("intervals", "windows", "variants", "chunk", "region")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", metavar="H5AD", help="h5ad files written by chunked jobs")
    parser.add_argument("--out", required=True, metavar="H5AD", help="merged h5ad file to write")


def _chunk_index(meta: dict[str, Any]) -> tuple[int, int]:
    chunk = str(meta.get("chunk", "") or "")
    if "/" in chunk:
        i, n = chunk.split("/")
        return int(i), int(n)
    return 0, 0


def _as_list(value: Any) -> list[Any]:
    if value is None or (isinstance(value, str) and not value):
        return []
    if isinstance(value, np.ndarray | list | tuple):
        return [v.item() if isinstance(v, np.generic) else v for v in value]
    return [value]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray | list | tuple) or isinstance(b, np.ndarray | list | tuple):
        return _as_list(a) == _as_list(b)
    return a == b


def merge_h5ad(paths: Sequence[str | os.PathLike[str]]):
    """Merge h5ad chunk files (see the module docstring) into one validated AnnData."""
    import anndata as ad

    from genome_plugin.adata import read_h5ad

    parts = [(str(p), read_h5ad(p)) for p in paths]
    parts.sort(key=lambda item: _chunk_index(item[1].uns["genome_plugin"]))  # stable: given order otherwise
    first_path, first = parts[0]
    meta0 = first.uns["genome_plugin"]
    for path, adata in parts[1:]:
        meta = adata.uns["genome_plugin"]
        if not adata.var.equals(first.var):
            msg = f"{path}: its tracks (var) differ from those of {first_path}"
            raise ValueError(msg)
        if set(adata.layers) != set(first.layers):
            msg = f"{path}: layers {sorted(adata.layers)} differ from {sorted(first.layers)} in {first_path}"
            raise ValueError(msg)
        for key in sorted(set(meta) | set(meta0)):
            if key in PER_CHUNK:
                continue
            if key not in meta or key not in meta0 or not _same(meta[key], meta0[key]):
                msg = (f"{path}: uns['genome_plugin'][{key!r}] is {meta.get(key)!r} but {meta0.get(key)!r} in "
                       f"{first_path}; only chunks of one job can be merged")
                raise ValueError(msg)
    merged = ad.concat([a for _, a in parts], axis=0, join="inner", merge="first", index_unique=None)
    if not merged.obs_names.is_unique:
        duplicate = merged.obs_names[merged.obs_names.duplicated()][0]
        msg = f"row {duplicate!r} appears in more than one input (overlapping chunks or regions)"
        raise ValueError(msg)
    for column in merged.obs.columns:  # categories differ between chunks; keep them categorical
        if str(first.obs[column].dtype) == "category":
            merged.obs[column] = merged.obs[column].astype(str).astype("category")
    uns = dict(meta0)
    for key in PER_CHUNK:
        values = [v for _, a in parts for v in _as_list(a.uns["genome_plugin"].get(key))]
        if values:
            uns[key] = [str(v) for v in values]
    uns["merged_from"] = [os.path.basename(p) for p, _ in parts]
    merged.uns["genome_plugin"] = uns
    for key, value in first.uns.items():
        if key != "genome_plugin":
            merged.uns[key] = value
    from genome_plugin.adata import validate

    return validate(merged)


def run(args: argparse.Namespace) -> int:
    from genome_plugin.adata import write_h5ad

    merged = merge_h5ad(args.inputs)
    write_h5ad(merged, args.out)
    log.info("merged %d file(s): %d rows x %d tracks -> %s", len(args.inputs), merged.n_obs, merged.n_vars, args.out)
    return 0

"""Merge h5ad files of one result split into chunks (``--chunk i/n`` or ``--region`` jobs), without loss.

The inputs must be the same kind of result from the same model, output type, resolution and tracks
(``var`` identical). Provenance that differs between chunks only in what each chunk covered
(intervals, windows, variants, chunk, region) is concatenated; any other difference is an error
naming the key.

- Predictions (``tracks``, ``contact_map``): obs rows are concatenated (chunks in chunk order when
  recorded, else in the order given), X and every layer with them. A row in two inputs (overlapping
  regions) is an error.
- Variant scores (``genome-plugin score`` chunks): every chunk lists every VCF record, those of
  other chunks with a reason (``outside chunk 2/8``). Each record (and ALT) takes its rows from the
  input that scored it, else from the first input, in VCF order; two inputs that scored the same
  record must agree.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from genome_plugin.errors import InputError

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


def _read(path: str | os.PathLike[str], read_h5ad: Any) -> Any:
    """One input, or a one-line error naming it (h5py and anndata say neither which file nor what it is)."""
    if not os.path.isfile(path):
        raise InputError("h5ad file not found", path=path)
    with open(path, "rb") as handle:
        signature = handle.read(8)
    if signature != b"\x89HDF\r\n\x1a\n":
        raise InputError("not an h5ad file (no HDF5 signature); merge takes h5ad files written by genome-plugin",
                         path=path)
    try:
        return read_h5ad(path)
    except InputError as err:
        if err.path is not None:
            raise
        raise InputError(f"not an h5ad file written by genome-plugin ({err})", path=path) from err
    except (OSError, KeyError, ValueError, TypeError) as err:
        message = str(err).splitlines()[0] if str(err) else ""
        raise InputError(f"cannot read as h5ad ({type(err).__name__}: {message})", path=path) from err


def merge_h5ad(paths: Sequence[str | os.PathLike[str]]):
    """Merge h5ad chunk files (see the module docstring) into one validated AnnData."""
    import anndata as ad

    from genome_plugin.adata import read_h5ad

    parts = [(str(p), _read(p, read_h5ad)) for p in paths]
    parts.sort(key=lambda item: _chunk_index(item[1].uns["genome_plugin"]))  # stable: given order otherwise
    first_path, first = parts[0]
    meta0 = first.uns["genome_plugin"]
    for path, adata in parts[1:]:
        meta = adata.uns["genome_plugin"]
        if not adata.var.equals(first.var):
            msg = f"{path}: its tracks (var) differ from those of {first_path}"
            raise InputError(msg)
        if set(adata.layers) != set(first.layers):
            msg = f"{path}: layers {sorted(adata.layers)} differ from {sorted(first.layers)} in {first_path}"
            raise InputError(msg)
        for key in sorted(set(meta) | set(meta0)):
            if key in PER_CHUNK:
                continue
            if key not in meta or key not in meta0 or not _same(meta[key], meta0[key]):
                msg = (f"{path}: uns['genome_plugin'][{key!r}] is {meta.get(key)!r} but {meta0.get(key)!r} in "
                       f"{first_path}; only chunks of one job can be merged")
                raise InputError(msg)
    if meta0.get("kind") == "variant_scores":
        merged = _merge_scores(parts)
    else:
        merged = ad.concat([a for _, a in parts], axis=0, join="inner", merge="first", index_unique=None)
    if not merged.obs_names.is_unique:
        duplicate = merged.obs_names[merged.obs_names.duplicated()][0]
        msg = f"row {duplicate!r} appears in more than one input (overlapping chunks or regions)"
        raise InputError(msg)
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


def _merge_scores(parts: list[tuple[str, Any]]):
    """Variant-score chunks: each (record, allele) from the input that scored it (see the module docstring)."""
    import anndata as ad
    import pandas as pd

    tables = []
    for number, (path, adata) in enumerate(parts):
        missing = [c for c in ("record", "allele", "reason") if c not in adata.obs.columns]
        if missing:
            msg = f"{path}: variant scores without obs column(s) {', '.join(missing)}; cannot match records"
            raise InputError(msg)
        tables.append(pd.DataFrame({
            "record": adata.obs["record"].astype(int).to_numpy(), "allele": adata.obs["allele"].astype(int).to_numpy(),
            "scored": (adata.obs["reason"].astype(str) == "").to_numpy(), "row": np.arange(adata.n_obs),
            "part": number,
        }))
    rows = pd.concat(tables, ignore_index=True)
    per_key = rows.groupby(["record", "allele", "part"], sort=False)["scored"].all().reset_index()
    twice = per_key[per_key["scored"]].groupby(["record", "allele"])["part"].apply(list)
    for (record, allele), numbers in twice[twice.map(len) > 1].items():
        values = [np.asarray(parts[n][1].X[rows.loc[(rows["part"] == n) & (rows["record"] == record)
                                                     & (rows["allele"] == allele), "row"].to_numpy()],
                             dtype=np.float64) for n in numbers]
        if any(v.shape != values[0].shape or not np.allclose(v, values[0], equal_nan=True) for v in values[1:]):
            msg = (f"record {record} (ALT {allele}) was scored differently in {parts[numbers[0]][0]} and "
                   f"{parts[numbers[1]][0]}; only chunks of one job can be merged")
            raise InputError(msg)
    # the first input that scored a record wins; a record no input scored keeps the first input's rows
    per_key["rank"] = np.where(per_key["scored"], per_key["part"], per_key["part"] + len(parts))
    best = per_key.sort_values("rank", kind="stable").drop_duplicates(["record", "allele"])
    best = best[["record", "allele", "part"]]
    chosen = rows.merge(best, on=["record", "allele", "part"]).sort_values(["record", "allele", "row"])
    pieces = [parts[n][1][chosen.loc[chosen["part"] == n, "row"].to_numpy()] for n in range(len(parts))]
    merged = ad.concat(pieces, axis=0, join="inner", merge="first", index_unique=None)
    keys = pd.DataFrame({"record": merged.obs["record"].astype(int).to_numpy(),
                         "allele": merged.obs["allele"].astype(int).to_numpy()})
    return merged[keys.sort_values(["record", "allele"], kind="stable").index.to_numpy()].copy()


def run(args: argparse.Namespace) -> int:
    from genome_plugin.adata import write_h5ad

    merged = merge_h5ad(args.inputs)
    write_h5ad(merged, args.out)
    log.info("merged %d file(s): %d rows x %d tracks -> %s", len(args.inputs), merged.n_obs, merged.n_vars, args.out)
    return 0

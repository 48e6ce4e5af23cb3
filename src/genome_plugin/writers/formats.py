"""The built-in file formats: h5ad, bigWig, bedGraph, ``.cool``, TSV and PNG.

- ``h5ad``: the AnnData as is (any kind), gzip-compressed, validated.
- ``bigwig`` / ``bedgraph``: track predictions, one file per track (and per layer: ``ref``/``alt`` of
  variant predictions), chromosome sizes from the FASTA index; bins past chromosome ends and
  overlapping bins of overlapping windows are left out (logged); NaN values are skipped.
- ``cool``: contact maps, one ``.cool`` per track (per layer, and per interval when there are
  several: ``<basename>.<interval number>.<track>.cool``), bins covering every chromosome of the
  FASTA at the map's resolution, upper-triangle float pixels in the ``count`` column, so ``cooler``
  and HiCExplorer read them. The map's bins must lie on that genome-wide grid (the API's windows do).
- ``tsv``: obs columns then one column per track (``<track>`` for X, ``<track>|<layer>`` for layers).
- ``png``: the matching plot of :mod:`genome_plugin.plots`, one per interval (ISM: one logo per track).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from genome_plugin.adata import write_h5ad
from genome_plugin.errors import InputError
from genome_plugin.genome.reference import Reference
from genome_plugin.writers.base import Writer, chrom_sizes, layers_to_write, sorted_bins, track_stems

__all__ = ["BedGraphWriter", "BigWigWriter", "CoolWriter", "H5adWriter", "PngWriter", "TsvWriter", "WRITERS"]

log = logging.getLogger(__name__)

#: Most ISM sequence logos the PNG writer draws (one per track).
MAX_LOGOS = 8


def _path(out_dir: str | os.PathLike[str], name: str) -> Path:
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def _named(out_dir: str | os.PathLike[str], basename: str, layer: str, stem: str, suffix: str) -> Path:
    name = ".".join(p for p in (basename, layer, stem) if p) + suffix
    return _path(out_dir, name)


class H5adWriter(Writer):
    name = "h5ad"
    suffix = ".h5ad"
    description = "AnnData (scverse): obs = bins, pixels or variants, var = tracks, uns = provenance"

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        self.check(adata)
        path = _path(out_dir, basename + self.suffix)
        write_h5ad(adata, path)
        return [path]


class BigWigWriter(Writer):
    name = "bigwig"
    suffix = ".bw"
    description = "bigWig, one file per track (genome browsers, deepTools, pyBigWig)"
    kinds = ("tracks",)

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        import pyBigWig

        self.check(adata)
        sizes = chrom_sizes(adata, reference)
        order = sorted_bins(adata, sizes, label=f"{basename}{self.suffix}")
        chroms = adata.obs["chrom"].astype(str).to_numpy()[order]
        starts = adata.obs["start"].to_numpy(dtype=np.int64)[order]
        ends = np.minimum(adata.obs["end"].to_numpy(dtype=np.int64)[order],
                          np.array([sizes[c] for c in chroms], dtype=np.int64))
        paths = []
        for layer, values in layers_to_write(adata):
            for column, stem in enumerate(track_stems(adata.var)):
                path = _named(out_dir, basename, layer, stem, self.suffix)
                track = np.asarray(values[order, column], dtype=np.float64)
                ok = ~np.isnan(track)
                with pyBigWig.open(str(path), "w") as handle:
                    handle.addHeader(list(sizes.items()), maxZooms=10)
                    if ok.any():
                        handle.addEntries(list(chroms[ok]), starts[ok].tolist(), ends=ends[ok].tolist(),
                                          values=track[ok].tolist())
                paths.append(path)
        return paths


class BedGraphWriter(Writer):
    name = "bedgraph"
    suffix = ".bedgraph"
    description = "bedGraph text, one file per track (0-based starts, as BED)"
    kinds = ("tracks",)

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        self.check(adata)
        sizes = chrom_sizes(adata, reference)
        order = sorted_bins(adata, sizes, label=f"{basename}{self.suffix}")
        chroms = adata.obs["chrom"].astype(str).to_numpy()[order]
        starts = adata.obs["start"].to_numpy(dtype=np.int64)[order]
        ends = np.minimum(adata.obs["end"].to_numpy(dtype=np.int64)[order],
                          np.array([sizes[c] for c in chroms], dtype=np.int64))
        paths = []
        for layer, values in layers_to_write(adata):
            for column, (stem, track_id) in enumerate(zip(track_stems(adata.var), adata.var_names)):
                path = _named(out_dir, basename, layer, stem, self.suffix)
                track = np.asarray(values[order, column], dtype=np.float64)
                ok = ~np.isnan(track)
                frame = pd.DataFrame({"chrom": chroms[ok], "start": starts[ok], "end": ends[ok], "value": track[ok]})
                label = f"{track_id} {layer}".strip()
                with open(path, "w") as handle:
                    handle.write(f'track type=bedGraph name="{label}" description="{basename} {label}"\n')
                    frame.to_csv(handle, sep="\t", header=False, index=False, float_format="%.7g")
                paths.append(path)
        return paths


class CoolWriter(Writer):
    name = "cool"
    suffix = ".cool"
    description = "Hi-C .cool (cooler, HiCExplorer), one file per contact-map track"
    kinds = ("contact_map",)

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        import cooler

        self.check(adata)
        resolution = int(adata.uns["genome_plugin"]["resolution"])
        obs = adata.obs
        sizes = chrom_sizes(adata, reference, end_columns=("end1", "end2"))
        bins = cooler.binnify(pd.Series(sizes), resolution)
        offsets = dict(zip(sizes, np.concatenate([[0], np.cumsum([-(-s // resolution) for s in sizes.values()])])))
        ids = obs["interval_id"].astype(str).to_numpy()
        intervals = list(dict.fromkeys(ids))
        paths = []
        for number, interval_id in enumerate(intervals, start=1):
            rows = np.flatnonzero(ids == interval_id)
            chrom = str(obs["chrom"].iloc[rows[0]])
            if chrom not in sizes:
                msg = f"{basename}{self.suffix}: chromosome {chrom} is not in the reference FASTA"
                raise InputError(msg)
            start1 = obs["start1"].to_numpy(dtype=np.int64)[rows]
            start2 = obs["start2"].to_numpy(dtype=np.int64)[rows]
            if (start1 % resolution).any():
                msg = (f"{basename}{self.suffix}: contact map of {interval_id} starts at {start1.min()}, not on the "
                       f"{resolution} bp genome grid that .cool bins need")
                raise ValueError(msg)
            inside = (start1 >= 0) & (start2 >= 0) & (start1 < sizes[chrom]) & (start2 < sizes[chrom])
            bin1 = offsets[chrom] + start1 // resolution
            bin2 = offsets[chrom] + start2 // resolution
            order = np.lexsort((bin2, bin1))
            order = order[inside[order]]
            part = "" if len(intervals) == 1 else str(number)
            for layer, values in layers_to_write(adata):
                for column, stem in enumerate(track_stems(adata.var)):
                    count = np.asarray(values[rows, column], dtype=np.float64)[order]
                    ok = ~np.isnan(count)
                    pixels = pd.DataFrame({"bin1_id": bin1[order][ok], "bin2_id": bin2[order][ok], "count": count[ok]})
                    path = _named(out_dir, ".".join(p for p in (basename, part) if p), layer, stem, self.suffix)
                    cooler.create_cooler(str(path), bins, pixels, ordered=True, dtypes={"count": np.float64},
                                         metadata={"genome_plugin": dict(_meta(adata)), "interval": interval_id,
                                                   "layer": layer or "X", "track": str(adata.var_names[column])})
                    paths.append(path)
        return paths


def _meta(adata: ad.AnnData) -> dict[str, Any]:
    return {k: (v if isinstance(v, str | int | float | bool) else str(v))
            for k, v in adata.uns["genome_plugin"].items()}


class TsvWriter(Writer):
    name = "tsv"
    suffix = ".tsv"
    description = "tab-separated table: obs columns, then one column per track"

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", **options: Any) -> list[Path]:
        self.check(adata)
        frame = adata.obs.reset_index(drop=True).copy()
        for layer, values in layers_to_write(adata):
            names = [f"{t}|{layer}" if layer else str(t) for t in adata.var_names]
            frame = pd.concat([frame, pd.DataFrame(np.asarray(values, dtype=np.float32), columns=names)], axis=1)
        path = _path(out_dir, basename + self.suffix)
        frame.to_csv(path, sep="\t", index=False, float_format="%.7g")
        return [path]


class PngWriter(Writer):
    name = "png"
    suffix = ".png"
    description = "PNG figures: tracks with genes, REF/ALT overlays, contact maps, ISM logos"

    def write(self, adata: ad.AnnData, out_dir: str | os.PathLike[str], *, reference: Reference | None = None,
              basename: str = "predictions", annotation: Any = None, zoom: int | None = None,
              **options: Any) -> list[Path]:
        """Figures: one per interval (tracks, REF/ALT, contact maps), or one ISM logo per track (at most 8)."""
        from genome_plugin import plots

        kind = self.check(adata)
        if kind == "variant_scores":
            if "offset" not in adata.obs.columns:
                msg = "the png writer plots ISM results; for variant scores use the scoring plots"
                raise InputError(msg)
            stems = track_stems(adata.var)
            if len(stems) > MAX_LOGOS:
                log.info("ISM logos drawn for the first %d of %d tracks (narrow them with --tracks)", MAX_LOGOS,
                         len(stems))
            paths = []
            for column, stem in enumerate(stems[:MAX_LOGOS]):
                path = _named(out_dir, basename, "", stem if len(stems) > 1 else "", self.suffix)
                plots.save(plots.plot_ism(adata, track=column), path)
                paths.append(path)
            return paths
        ids = list(dict.fromkeys(adata.obs["interval_id"].astype(str)))
        paths = []
        for number, interval_id in enumerate(ids, start=1):
            if kind == "contact_map":
                figure = plots.plot_contact_map(adata, interval_id=interval_id)
            elif "ref" in adata.layers and "alt" in adata.layers:
                figure = plots.plot_variant(adata, interval_id=interval_id, annotation=annotation, zoom=zoom)
            else:
                figure = plots.plot_tracks(adata, interval_id=interval_id, annotation=annotation)
            path = _named(out_dir, basename, "", str(number) if len(ids) > 1 else "", self.suffix)
            plots.save(figure, path)
            paths.append(path)
        return paths


#: The built-in writers, registered by :mod:`genome_plugin.default_plugins.writers`.
WRITERS = (H5adWriter(), BigWigWriter(), BedGraphWriter(), CoolWriter(), TsvWriter(), PngWriter())

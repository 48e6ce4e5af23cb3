"""Figures of predictions (matplotlib, no pyplot state): tracks with a gene lane, REF/ALT overlays,
contact maps and difference maps, and ISM sequence logos.

Every function takes AnnData in the shared schema and returns a :class:`matplotlib.figure.Figure`;
:func:`save` writes it. Colours are the Okabe-Ito palette (readable with colour-vision deficiency):
+ strand tracks blue, - strand tracks vermillion, unstranded tracks dark grey; REF a grey area, ALT an
orange line; ALT - REF orange where ALT is higher, sky blue where lower.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import anndata as ad
import numpy as np
from matplotlib import patches, ticker
from matplotlib.figure import Figure
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from genome_plugin.errors import InputError
from genome_plugin.genome.intervals import Interval, Variant

__all__ = ["plot_contact_map", "plot_ism", "plot_tracks", "plot_variant", "save"]

STRAND_COLOURS = {"+": "#0072B2", "-": "#D55E00", ".": "#333333"}
REF_FILL = "#C8C8C8"
ALT_COLOUR = "#E69F00"
LOSS_COLOUR = "#56B4E9"
GENE_COLOUR = "#1A1A1A"
BASE_COLOURS = {"A": "#009E73", "C": "#0072B2", "G": "#E69F00", "T": "#D55E00"}
VARIANT_COLOUR = "#CC79A7"
_TRACK_HEIGHT = 0.85  # inches per track panel
_WIDTH = 8.0  # inches


def save(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 200) -> None:
    """Write ``figure`` (PNG, PDF or SVG by suffix)."""
    figure.savefig(path, dpi=dpi, bbox_inches="tight", facecolor="white")


def _rows(adata: ad.AnnData, interval_id: str | None) -> tuple[np.ndarray, str]:
    ids = adata.obs["interval_id"].astype(str).to_numpy()
    wanted = ids[0] if interval_id is None else interval_id
    rows = np.flatnonzero(ids == wanted)
    if not len(rows):
        msg = f"no predictions for interval {wanted!r}; intervals: {', '.join(dict.fromkeys(ids))}"
        raise InputError(msg)
    return rows, wanted


def _track_columns(adata: ad.AnnData, tracks: Sequence[int | str] | None, limit: int) -> list[int]:
    if tracks is None:
        return list(range(min(adata.n_vars, limit)))
    return [adata.var_names.get_loc(t) if isinstance(t, str) else int(t) for t in tracks]


def _track_label(adata: ad.AnnData, column: int) -> str:
    """Track name with its strand, then biosample / assay when the table has them (second line)."""
    var = adata.var.iloc[column]
    strand = str(var.get("strand", "."))
    label = str(var["name"]) + ("" if strand == "." else f" ({strand})")
    details = [str(var[c]) for c in ("biosample_name", "assay_title") if c in var.index and str(var[c]) not in
               ("", "nan", "None")]
    details = [d for d in details if d not in label]
    return label + ("\n" + ", ".join(details) if details else "")


class _CoordinateFormatter(ticker.Formatter):
    """Positions in kb or Mb with as many decimals as the ticks on the axis need (and no more)."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def format_ticks(self, values: Sequence[float]) -> list[str]:
        scaled = [v / self.scale for v in values]
        decimals = next((d for d in range(7) if all(abs(round(v, d) - v) < 1e-9 for v in scaled)), 6)
        return [f"{v:,.{decimals}f}" for v in scaled]

    def __call__(self, x: float, pos: int | None = None) -> str:
        return self.format_ticks([x])[0]


def _coordinate_unit(span: int) -> tuple[str, float]:
    return ("Mb", 1e6) if span >= 2_000_000 else ("kb", 1e3)


def _genomic_axis(ax: Any, chrom: str, start: int, end: int) -> None:
    """x in kb (regions under 2 Mb) or Mb, with the chromosome in the label."""
    unit, scale = _coordinate_unit(end - start)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(6, steps=[1, 2, 2.5, 5, 10]))
    ax.xaxis.set_major_formatter(_CoordinateFormatter(scale))
    ax.set_xlim(start, end)
    ax.set_xlabel(f"{chrom} position ({unit})")


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=8, length=3)


def _signal_panel(ax: Any, starts: np.ndarray, ends: np.ndarray, values: np.ndarray, colour: str, label: str) -> None:
    edges = np.append(starts, ends[-1])
    heights = np.append(values, values[-1])
    ax.fill_between(edges, heights, step="post", color=colour, linewidth=0, alpha=0.9)
    # A 1 bp spike is far narrower than a pixel over tens of kb: outline the steps so that it stays visible.
    ax.step(edges, heights, where="post", color=colour, linewidth=0.7)
    _style(ax)
    top = float(np.nanmax(values)) if np.isfinite(values).any() else 1.0
    bottom = min(0.0, float(np.nanmin(values))) if np.isfinite(values).any() else 0.0
    if top <= bottom:
        top = bottom + 1.0
    ax.set_ylim(bottom, top * 1.05 if top > 0 else top)
    ax.yaxis.set_major_locator(ticker.MaxNLocator(2, prune=None))
    ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
    ax.spines["bottom"].set_color("#999999")


def _gene_lane(ax: Any, annotation: Any, chrom: str, start: int, end: int) -> None:
    """Genes overlapping [start, end): exon boxes on an intron line with strand chevrons, name above."""
    _style(ax)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_ylabel("genes", rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
    if annotation is None:
        return
    genes = annotation.genes_in(Interval(chrom, max(start, 0), max(end, 1)), fully=False)
    rows_end: list[int] = []  # right end of the last gene drawn on each row, to stack overlaps
    span = end - start
    placed = []
    for gene in genes.sort_values("start").itertuples(index=False):
        row = next((i for i, right in enumerate(rows_end) if gene.start > right + span * 0.02), len(rows_end))
        if row == len(rows_end):
            rows_end.append(0)
        rows_end[row] = max(gene.end, gene.start + int(span * 0.08))  # leave room for the name
        placed.append((gene, row))
    height = max(len(rows_end), 1)
    for gene, row in placed:
        y = height - row - 0.5
        left, right = max(gene.start, start), min(gene.end, end)
        ax.plot([left, right], [y, y], color=GENE_COLOUR, linewidth=0.8, solid_capstyle="butt")
        for exon in annotation.exons_of(gene.gene_id).itertuples(index=False):
            if exon.end > start and exon.start < end:
                ax.add_patch(patches.Rectangle((exon.start, y - 0.18), exon.end - exon.start, 0.36,
                                               facecolor=GENE_COLOUR, edgecolor="none"))
        marker = ">" if gene.strand == "+" else "<"
        count = max(int((right - left) / span * 25), 1)
        xs = np.linspace(left, right, count + 2)[1:-1]
        ax.plot(xs, [y] * len(xs), linestyle="none", marker=marker, markersize=3, color=GENE_COLOUR)
        # centred over the gene, or flush with the plot edge the gene runs into (never cut off by it)
        label_x, align = (left + right) / 2, "center"
        if label_x < start + span * 0.06:
            label_x, align = start + span * 0.005, "left"
        elif label_x > end - span * 0.06:
            label_x, align = end - span * 0.005, "right"
        ax.text(label_x, y + 0.26, f"{gene.gene_name} ({gene.strand})", ha=align, va="bottom", fontsize=7,
                style="italic", clip_on=True)
    ax.set_ylim(0, height + 0.1)


def _mark_variant(axes: Sequence[Any], variant: Variant | None, *, label_ax: Any = None) -> None:
    if variant is None:
        return
    for ax in axes:
        ax.axvline(variant.start + 0.5, color=VARIANT_COLOUR, linewidth=0.8, linestyle="--", zorder=0)
    if label_ax is not None:
        label_ax.annotate(str(variant), xy=(variant.start + 0.5, 1.0), xycoords=("data", "axes fraction"),
                          xytext=(0, 4), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                          color=VARIANT_COLOUR)


def _figure(panels: list[float], *, title: str) -> tuple[Figure, list[Any]]:
    figure = Figure(figsize=(_WIDTH, sum(panels) + 0.9), layout="constrained")
    grid = figure.add_gridspec(len(panels), 1, height_ratios=panels)
    axes = [figure.add_subplot(grid[i]) for i in range(len(panels))]
    for ax in axes[1:]:
        ax.sharex(axes[0])
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    figure.suptitle(title, fontsize=10)
    return figure, axes


#: How output types are written in figure titles.
OUTPUT_NAMES = {"atac": "ATAC", "cage": "CAGE", "dnase": "DNase", "rna_seq": "RNA-seq", "procap": "PRO-cap",
                "chip_histone": "Histone ChIP", "chip_tf": "TF ChIP", "splice_sites": "Splice-site",
                "splice_site_usage": "Splice-site usage", "splice_junctions": "Splice-junction",
                "contact_maps": "Contact-map"}


def _title(adata: ad.AnnData, what: str) -> str:
    meta = adata.uns["genome_plugin"]
    model = f"{meta.get('model', '')} {meta.get('model_version', '')}".strip()
    output = str(meta.get("output_type", ""))
    return f"{OUTPUT_NAMES.get(output, output)} {what} at {meta.get('resolution')} bp, {model}{_weights(meta)}"


def _weights(meta: Any) -> str:
    """A title suffix saying the weights are random, so nobody reads a figure of noise as biology."""
    note = str(meta.get("weights", "") or "")
    return f" (weights {note})" if note else ""


def plot_tracks(adata: ad.AnnData, *, interval_id: str | None = None, tracks: Sequence[int | str] | None = None,
                annotation: Any = None, max_tracks: int = 12, layer: str | None = None) -> Figure:
    """Predicted tracks over one interval, one panel per track, with a gene lane when ``annotation`` is given.

    Parameters
    ----------
    adata
        A ``tracks`` AnnData.
    interval_id
        Which interval (``obs["interval_id"]``); the first by default.
    tracks
        Track indices or var names; the first ``max_tracks`` by default.
    annotation
        Genes (:func:`genome_plugin.genome.read_gtf`) for the gene lane.
    layer
        Plot this layer instead of X.
    """
    rows, wanted = _rows(adata, interval_id)
    columns = _track_columns(adata, tracks, max_tracks)
    obs = adata.obs.iloc[rows]
    starts, ends = obs["start"].to_numpy(), obs["end"].to_numpy()
    chrom = str(obs["chrom"].iloc[0])
    data = np.asarray(adata.layers[layer] if layer else adata.X)[rows]
    panels = [_TRACK_HEIGHT] * len(columns) + ([0.3 + 0.35 * _gene_rows(annotation, chrom, starts[0], ends[-1])]
                                               if annotation is not None else [])
    what = f"prediction ({layer.upper() if layer in ('ref', 'alt') else layer})" if layer else "prediction"
    figure, axes = _figure(panels, title=f"{_title(adata, what)}\n{wanted}")
    for ax, column in zip(axes, columns):
        strand = str(adata.var["strand"].iloc[column])
        _signal_panel(ax, starts, ends, data[:, column], STRAND_COLOURS.get(strand, "#333333"),
                      _track_label(adata, column))
    if annotation is not None:
        _gene_lane(axes[-1], annotation, chrom, int(starts[0]), int(ends[-1]))
    _genomic_axis(axes[-1], chrom, int(starts[0]), int(ends[-1]))
    return figure


def _gene_rows(annotation: Any, chrom: str, start: int, end: int) -> int:
    if annotation is None:
        return 1
    return max(1, min(len(annotation.genes_in(Interval(chrom, max(start, 0), max(end, 1)), fully=False)), 3))


def _variant_of(adata: ad.AnnData, interval_id: str) -> Variant | None:
    text = interval_id if "variant_id" in adata.obs.columns else str(adata.uns["genome_plugin"].get("variant", ""))
    try:
        return Variant.parse(text)
    except ValueError:
        return None


def plot_variant(adata: ad.AnnData, *, interval_id: str | None = None, tracks: Sequence[int | str] | None = None,
                 annotation: Any = None, max_tracks: int = 4, zoom: int | None = None) -> Figure:
    """REF (grey) and ALT (orange) predictions overlaid per track, each with an ALT - REF panel; variant dashed.

    ``adata`` has ``layers["ref"]`` and ``layers["alt"]`` (:func:`genome_plugin.api.predict_variant`).
    ``zoom`` shows only that many bp centred on the variant.
    """
    rows, wanted = _rows(adata, interval_id)
    columns = _track_columns(adata, tracks, max_tracks)
    variant = _variant_of(adata, wanted)
    obs = adata.obs.iloc[rows]
    starts, ends = obs["start"].to_numpy(), obs["end"].to_numpy()
    if zoom is not None and variant is not None:
        keep = (ends > variant.start - zoom // 2) & (starts < variant.start + zoom // 2)
        rows, starts, ends = rows[keep], starts[keep], ends[keep]
    chrom = str(obs["chrom"].iloc[0])
    ref, alt = np.asarray(adata.layers["ref"])[rows], np.asarray(adata.layers["alt"])[rows]
    panels: list[float] = []
    for _ in columns:
        panels += [_TRACK_HEIGHT, _TRACK_HEIGHT * 0.55]
    if annotation is not None:
        panels.append(0.3 + 0.35 * _gene_rows(annotation, chrom, starts[0], ends[-1]))
    figure, axes = _figure(panels, title=f"{_title(adata, 'REF vs ALT')}\n{wanted}")
    edges = np.append(starts, ends[-1])
    for i, column in enumerate(columns):
        ax, diff_ax = axes[2 * i], axes[2 * i + 1]
        ref_values, alt_values = ref[:, column], alt[:, column]
        ax.fill_between(edges, np.append(ref_values, ref_values[-1]), step="post", color=REF_FILL, linewidth=0,
                        label="REF")
        ax.step(edges, np.append(alt_values, alt_values[-1]), where="post", color=ALT_COLOUR, linewidth=0.9,
                label="ALT")
        _style(ax)
        ax.set_ylabel(_track_label(adata, column), rotation=0, ha="right", va="center", fontsize=8, labelpad=6)
        ax.yaxis.set_major_locator(ticker.MaxNLocator(2))
        diff = alt[:, column] - ref[:, column]
        stepped = np.append(diff, diff[-1])
        diff_ax.fill_between(edges, np.maximum(stepped, 0), step="post", color=ALT_COLOUR, linewidth=0)
        diff_ax.fill_between(edges, np.minimum(stepped, 0), step="post", color=LOSS_COLOUR, linewidth=0)
        diff_ax.axhline(0, color="#999999", linewidth=0.5)
        limit = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
        diff_ax.set_ylim(-limit * 1.1 or -1, limit * 1.1 or 1)
        _style(diff_ax)
        diff_ax.yaxis.set_major_locator(ticker.MaxNLocator(3, symmetric=True))
        diff_ax.set_ylabel("ALT − REF", rotation=0, ha="right", va="center", fontsize=7, labelpad=6)
        if i == 0:
            ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, ncol=2,
                      borderaxespad=0.1)
    if annotation is not None:
        _gene_lane(axes[-1], annotation, chrom, int(starts[0]), int(ends[-1]))
    _mark_variant(axes, variant, label_ax=axes[0])
    _genomic_axis(axes[-1], chrom, int(starts[0]), int(ends[-1]))
    return figure


def plot_contact_map(adata: ad.AnnData, *, interval_id: str | None = None,
                     tracks: Sequence[int | str] | None = None, max_tracks: int = 3) -> Figure:
    """Contact-map heatmaps; with REF/ALT layers, REF, ALT and the ALT - REF difference map (per track).

    REF and ALT share one colour scale (2nd-98th percentile); the difference map is centred on 0.
    """
    from genome_plugin.adata import contact_map_matrix

    rows, wanted = _rows(adata, interval_id)
    columns = _track_columns(adata, tracks, max_tracks)
    obs = adata.obs.iloc[rows]
    chrom = str(obs["chrom"].iloc[0])
    start = int(obs["start1"].min())
    end = int(obs["end2"].max())
    paired = "ref" in adata.layers and "alt" in adata.layers
    variant = _variant_of(adata, wanted) if paired else None
    layers = [("ref", "REF"), ("alt", "ALT"), (None, "ALT − REF")] if paired else [(None, "predicted")]
    figure = Figure(figsize=(3.4 * len(layers) + 0.4, 3.0 * len(columns) + 0.7), layout="constrained")
    grid = figure.add_gridspec(len(columns), len(layers))
    extent = (start, end, end, start)
    for r, column in enumerate(columns):
        matrices = [contact_map_matrix(adata, column, layer=layer, interval_id=wanted) for layer, _ in layers]
        shared = np.concatenate([m[np.isfinite(m)] for m in matrices[: 2 if paired else 1]])
        low, high = (np.percentile(shared, [2, 98]) if shared.size else (0.0, 1.0))
        for c, ((layer, name), matrix) in enumerate(zip(layers, matrices)):
            ax = figure.add_subplot(grid[r, c])
            if paired and layer is None:
                limit = float(np.nanmax(np.abs(matrix))) or 1.0
                image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit, extent=extent,
                                  interpolation="nearest")
            else:
                image = ax.imshow(matrix, cmap="YlOrRd", vmin=low, vmax=high if high > low else low + 1,
                                  extent=extent, interpolation="nearest")
            colourbar = figure.colorbar(image, ax=ax, shrink=0.8)
            colourbar.ax.tick_params(labelsize=7)
            colourbar.set_label("ALT − REF" if paired and layer is None else "predicted contact", fontsize=7)
            ax.set_title(f"{name}: {_track_label(adata, column).splitlines()[0]}", fontsize=9)
            unit, scale = _coordinate_unit(end - start)
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_locator(ticker.MaxNLocator(4, steps=[1, 2, 2.5, 5, 10]))
                axis.set_major_formatter(_CoordinateFormatter(scale))
            ax.tick_params(labelsize=7)
            ax.set_xlabel(f"{chrom} ({unit})", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"{chrom} ({unit})", fontsize=8)
            if variant is not None:  # triangles on the top and left edges, so the map itself stays visible
                ax.plot([variant.start], [start], marker="v", color=VARIANT_COLOUR, markersize=6, clip_on=False)
                ax.plot([start], [variant.start], marker=">", color=VARIANT_COLOUR, markersize=6, clip_on=False)
    label = f"{wanted}" + (f", variant {variant}" if variant is not None else "")
    meta = adata.uns["genome_plugin"]
    figure.suptitle(f"Predicted contact map ({meta.get('resolution')} bp bins), {meta.get('model', '')}"
                    f"{_weights(meta)}\n{label}", fontsize=10)
    return figure


def _letter(ax: Any, base: str, x: float, bottom: float, height: float) -> None:
    """Draw ``base`` filling the box [x, x + 1] x [bottom, bottom + height] (height may be negative)."""
    if height == 0 or not np.isfinite(height):
        return
    path = TextPath((0, 0), base, size=1, prop={"family": "DejaVu Sans", "weight": "bold"})
    box = path.get_extents()
    transform = (Affine2D().translate(-box.x0, -box.y0).scale(0.9 / box.width, height / box.height)
                 .translate(x + 0.05, bottom))
    ax.add_patch(patches.PathPatch(transform.transform_path(path), facecolor=BASE_COLOURS.get(base, "#666666"),
                                   edgecolor="none"))


def plot_ism(adata: ad.AnnData, *, track: int | str = 0) -> Figure:
    """ISM of one track: a logo of each reference base's importance above a base x position heatmap.

    A letter's height is minus the mean effect of the three SNVs at its position: tall letters above
    the axis are bases whose mutation lowers the prediction, letters below the axis raise it when
    mutated. The heatmap shows every SNV's effect (reference bases, 0 by definition, are dotted).
    """
    from genome_plugin.mutagenesis import ism_matrix

    matrix, sequence = ism_matrix(adata, track)
    column = adata.var_names.get_loc(track) if isinstance(track, str) else int(track)
    interval = Interval.parse(str(adata.uns["genome_plugin"]["ism_interval"]))
    importance = -np.nanmean(np.where(matrix == 0, np.nan, matrix), axis=1)
    width = min(max(_WIDTH, 0.12 * len(sequence) + 1.5), 24.0)
    figure = Figure(figsize=(width, 3.6), layout="constrained")
    grid = figure.add_gridspec(2, 2, height_ratios=[1.4, 1.0], width_ratios=[1, 0.015])
    logo = figure.add_subplot(grid[0, 0])
    heat = figure.add_subplot(grid[1, 0], sharex=logo)
    bar_ax = figure.add_subplot(grid[1, 1])
    for i, (base, height) in enumerate(zip(sequence, importance)):
        if base in BASE_COLOURS:
            _letter(logo, base, i - 0.5, 0.0, float(height))
    finite = importance[np.isfinite(importance)]
    limit = float(np.abs(finite).max()) if finite.size else 1.0
    logo.set_ylim(min(0.0, finite.min() if finite.size else 0.0) * 1.1 - limit * 0.02,
                  max(0.0, finite.max() if finite.size else 1.0) * 1.1 + limit * 0.02)
    logo.axhline(0, color="#999999", linewidth=0.5)
    _style(logo)
    logo.tick_params(labelbottom=False)
    logo.set_ylabel("importance\n(−mean SNV effect)", fontsize=8)
    extreme = float(np.nanmax(np.abs(matrix))) or 1.0
    image = heat.imshow(matrix.T, aspect="auto", cmap="RdBu_r", vmin=-extreme, vmax=extreme, interpolation="nearest",
                        extent=(-0.5, len(sequence) - 0.5, 3.5, -0.5))
    refs = [(i, "ACGT".index(b)) for i, b in enumerate(sequence) if b in "ACGT"]
    if refs:
        heat.plot(*zip(*refs), linestyle="none", marker="o", markersize=2.2, color="#333333")
    heat.set_yticks(range(4), list("ACGT"), fontsize=8)
    heat.set_xlim(-0.5, len(sequence) - 0.5)
    step = max(1, len(sequence) // 8)
    ticks = list(range(0, len(sequence), step))
    heat.set_xticks(ticks, [f"{interval.start + t + 1:,}" for t in ticks], fontsize=7)
    heat.set_xlabel(f"{interval.chrom} position (1-based)", fontsize=8)
    heat.set_ylabel("ALT base", fontsize=8)
    colourbar = figure.colorbar(image, cax=bar_ax)
    colourbar.set_label("SNV effect", fontsize=8)
    colourbar.ax.tick_params(labelsize=7)
    scorer = adata.uns["genome_plugin"].get("scorer", {})
    name = scorer.get("name", "") if isinstance(scorer, dict) else str(scorer)
    figure.suptitle(f"In silico mutagenesis of {interval}: {_track_label(adata, column).splitlines()[0]}, "
                    f"{name}, {adata.uns['genome_plugin'].get('model', '')}{_weights(adata.uns['genome_plugin'])}",
                    fontsize=10)
    return figure

"""Writing a scoring run: one AnnData per scorer, a tidy TSV with the SDK's columns, an annotated VCF.

The AnnData and the TSV use the AlphaGenome SDK's names (obs ``gene_id``, ``strand``, ``gene_name``,
``gene_type``, ``junction_Start``/``junction_End``; ``layers["quantiles"]``; the SDK scorer's repr as
``variant_scorer``), and the TSV has the columns of the SDK's ``tidy_scores`` in its order, scores
last; see :mod:`genome_plugin.scoring.sdk` for reading the AnnData with the SDK itself.

Every (record, ALT) of the input VCF is in every output: scored ones with their scores, the others
with NaN and a ``reason``. Files are written in input order with fixed number formatting, so the
same input gives byte-identical TSV and VCF files.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anndata as ad
import numpy as np
import pandas as pd

from genome_plugin.adata import provenance, write_h5ad
from genome_plugin.genome.vcf import VcfRecord, _open_text
from genome_plugin.scoring.base import GENE_COLUMNS, JUNCTION_COLUMNS
from genome_plugin.scoring.checkpoint import Stored
from genome_plugin.scoring.sdk import SDK_TRACK_COLUMNS, sdk_scorer_name
from genome_plugin.tracks import OutputType, TrackTable

if TYPE_CHECKING:
    from genome_plugin.genome.intervals import Interval

__all__ = ["Entry", "ScorerOutput", "entry_table", "quantiles", "scored_interval", "summarise", "tidy_frame",
           "tsv_columns", "write_annotated_vcf"]

#: Track metadata columns copied into the TSV (the SDK's names; our snake-case ``assay_title`` is its "Assay title").
TSV_TRACK_COLUMNS = SDK_TRACK_COLUMNS
TSV_HEAD = ("variant_id", "scored_interval", *GENE_COLUMNS[:3], "gene_strand", *JUNCTION_COLUMNS, "output_type",
            "variant_scorer", "track_name", "track_strand")
#: Our columns after the SDK's metadata columns and before the scores (``scorer``: our registry name).
TSV_OURS = ("reason", "vcf_id", "vcf_record", "scorer")
OBS_HEAD = ("variant_id", "chrom", "pos", "ref", "alt", "id", "record", "allele", "scored_interval", "reason")
INFO_PREFIX = "GP_"
REASON_KEY = f"{INFO_PREFIX}REASON"
FLOAT_FORMAT = "%.6g"
#: Characters a VCF INFO value cannot hold (or that our summaries use as separators), percent-encoded as VCF 4.3 does.
_UNSAFE = re.compile(r"[;=,|%\t\n\r]")


@dataclasses.dataclass(frozen=True)
class Entry:
    """One ALT of one VCF record, in input order; ``reason`` says why it is not scored (empty if it is)."""

    index: int
    record: VcfRecord
    reason: str = ""

    @property
    def obs(self) -> dict[str, Any]:
        r = self.record
        return {"variant_id": r.variant_id, "chrom": r.chrom, "pos": int(r.pos), "ref": r.ref, "alt": r.alt,
                "id": r.id, "record": int(r.record), "allele": int(r.allele)}


@dataclasses.dataclass
class ScorerOutput:
    """The assembled scores of one scorer over all entries: obs rows in input order and X."""

    scorer: Any
    output_type: OutputType
    resolution: int
    tracks: TrackTable
    obs: pd.DataFrame
    values: np.ndarray
    quantile: np.ndarray | None = None

    @classmethod
    def assemble(cls, scorer: Any, output_type: OutputType, resolution: int, tracks: TrackTable,
                 entries: Sequence[Entry], stored: Stored, k: int) -> ScorerOutput:
        """Rows for every entry in input order: scorer ``k``'s rows from the ledger, or one NaN row with a reason."""
        n, n_tracks = len(entries), len(tracks)
        base = entry_table(entries)
        window = np.full(n, "", dtype=object)
        window[stored.entries] = stored.windows
        unscorable = np.array([bool(e.reason) for e in entries], dtype=bool)
        reason = np.array([e.reason or "not scored" for e in entries], dtype=object)
        reason[stored.entries] = stored.reasons[k]
        owner = stored.owner[k]
        kind = getattr(scorer, "row_kind", "variant")
        no_rows = (reason == "") & (np.bincount(owner, minlength=n)[:n] == 0)
        reason[no_rows] = f"no {kind} in reach of the variant" if kind != "variant" else "scorer returned no rows"
        filler = np.flatnonzero(reason != "")
        rows = stored.rows[k].drop(columns=[c for c in base.columns if c in stored.rows[k].columns])
        scored = pd.concat([base.iloc[owner].reset_index(drop=True), rows.reset_index(drop=True)], axis=1)
        scored["scored_interval"] = window[owner]
        scored["reason"] = ""
        unfilled = base.iloc[filler].reset_index(drop=True)
        unfilled["scored_interval"] = np.where(unscorable[filler], "", window[filler])
        unfilled["reason"] = reason[filler]
        order = np.argsort(np.concatenate([owner, filler]), kind="stable")
        obs = pd.concat([scored, unfilled], ignore_index=True).iloc[order].reset_index(drop=True)
        head = [c for c in OBS_HEAD if c in obs.columns]
        obs = obs[head + [c for c in obs.columns if c not in head]]
        values = np.concatenate([stored.values[k].astype(np.float32, copy=False),
                                 np.full((len(filler), n_tracks), np.nan, dtype=np.float32)])[order]
        return cls(scorer, output_type, resolution, tracks, _clean_obs(obs), values)

    def to_anndata(self, *, model: Any, reference: str, uns: dict[str, Any]) -> ad.AnnData:
        obs = self.obs.copy()
        row_in_entry = obs.groupby(["record", "allele"], sort=False).cumcount()
        obs.index = [f"{r}:{a}:{i}" for r, a, i in zip(obs["record"], obs["allele"], row_in_entry)]
        var = self.tracks.to_var()
        for frame in (obs, var):  # categorical up front, so anndata does not convert (and log) column by column
            for column in frame.columns:
                if frame[column].dtype == object:
                    frame[column] = frame[column].astype("category")
        obs = obs.rename(columns={"gene_strand": "strand"})  # the SDK's obs name (its tidy table says gene_strand)
        adata = ad.AnnData(X=self.values, obs=obs, var=var)
        if self.quantile is not None:
            adata.layers["quantiles"] = self.quantile
        adata.uns["variant_scorer"] = sdk_scorer_name(self.scorer) or self.scorer.name
        definition = self.scorer.definition() if hasattr(self.scorer, "definition") else {"name": self.scorer.name}
        adata.uns["genome_plugin"] = provenance("variant_scores", model=model, output_type=self.output_type,
                                                resolution=self.resolution, reference=reference,
                                                scorer=definition, **uns)
        return adata

    def write_h5ad(self, path: Path, *, model: Any, reference: str, uns: dict[str, Any]) -> Path:
        write_h5ad(self.to_anndata(model=model, reference=reference, uns=uns), path)
        return path


def entry_table(entries: Sequence[Entry]) -> pd.DataFrame:
    """The variant columns of every entry, row ``i`` for entry ``i``."""
    return pd.DataFrame([e.obs for e in entries], columns=list(OBS_HEAD[:8]))


def _clean_obs(obs: pd.DataFrame) -> pd.DataFrame:
    """h5ad-safe obs: missing strings become "", integer columns with gaps become floats."""
    for column in obs.columns:
        if obs[column].dtype == object:
            values = obs[column]
            if values.map(lambda v: isinstance(v, int | float | np.integer | np.floating) or v is None).all():
                obs[column] = pd.to_numeric(values, errors="coerce")
            else:
                obs[column] = values.map(lambda v: "" if v is None or (isinstance(v, float) and math.isnan(v))
                                         else str(v))
    return obs


def quantiles(values: np.ndarray, background: np.ndarray, *, signed: bool) -> np.ndarray:
    """Quantile of each score among the background scores of the same track.

    Unsigned scorers: the fraction of background scores <= the score, in [0, 1]. Signed scorers:
    ``sign(score) * fraction of |background| <= |score|``, in [-1, 1] (as the SDK maps signed scores).
    NaN scores, and tracks with no background score, stay NaN.
    """
    out = np.full(values.shape, np.nan, dtype=np.float32)
    for track in range(values.shape[1]):
        column = background[:, track] if background.size else np.zeros(0)
        column = column[~np.isnan(column)]
        if not len(column):
            continue
        x = values[:, track].astype(np.float64)
        ok = ~np.isnan(x)
        if signed:
            ranked = np.sort(np.abs(column))
            out[ok, track] = np.sign(x[ok]) * np.searchsorted(ranked, np.abs(x[ok]), side="right") / len(ranked)
        else:
            ranked = np.sort(column)
            out[ok, track] = np.searchsorted(ranked, x[ok], side="right") / len(ranked)
    return out


def scored_interval(window: Interval, contig_length: int) -> str:
    """The genomic part of a predicted window, as the SDK prints an interval (``chr:start-end:strand``).

    A window that reaches past a contig end is N-padded there; the scored interval stops at the end
    (no negative starts).
    """
    start, end = max(window.start, 0), min(window.end, contig_length)
    return f"{window.chrom}:{start}-{max(end, start)}:{window.strand}"


def tsv_columns(extra_columns: Sequence[str], *, with_quantile: bool) -> list[str]:
    """The TSV's columns: the SDK's ``tidy_scores`` columns in its order, then ours, then the scores."""
    return [*TSV_HEAD, *(TSV_TRACK_COLUMNS[c] for c in extra_columns), *TSV_OURS, "raw_score",
            *(["quantile_score"] if with_quantile else [])]


def tidy_frame(output: ScorerOutput, *, extra_columns: Sequence[str], with_quantile: bool) -> pd.DataFrame:
    """The long table of one scorer: lines as the SDK's ``tidy_scores`` gives them, plus ``reason``.

    Per (VCF record, ALT), one line per (track, row), tracks outermost, as the SDK's table is
    ordered. Unscored rows give one line with empty track columns; cells NaN because the gene and
    track strands differ are left out, as ``tidy_scores(match_gene_strand=True)`` does. ``gene_id``
    loses its version suffix and ``variant_scorer`` is the SDK scorer's repr (our name for a
    scorer the SDK does not have), as in the SDK's table.
    """
    obs, values = output.obs, output.values
    var = output.tracks.df.reset_index(drop=True)
    n_rows, n_tracks = values.shape
    scored = (obs["reason"] == "").to_numpy()
    row_idx = np.repeat(np.flatnonzero(scored), n_tracks)
    track_idx = np.tile(np.arange(n_tracks), int(scored.sum()))
    keep = np.ones(len(row_idx), dtype=bool)
    if "gene_strand" in obs.columns and len(row_idx):
        gene = obs["gene_strand"].to_numpy()[row_idx]
        track = var["strand"].to_numpy()[track_idx]
        keep = ~(((gene == "+") & (track == "-")) | ((gene == "-") & (track == "+")))
    row_idx, track_idx = row_idx[keep], track_idx[keep]
    unscored = np.flatnonzero(~scored)
    order = np.concatenate([row_idx, unscored])
    tracks_of = np.concatenate([track_idx, np.full(len(unscored), -1)])
    entry_of = np.zeros(n_rows, dtype=np.int64)
    if n_rows:
        record, allele = obs["record"].to_numpy(), obs["allele"].to_numpy()
        entry_of[1:] = np.cumsum((record[1:] != record[:-1]) | (allele[1:] != allele[:-1]))
    sort = np.lexsort((order, tracks_of, entry_of[order]))
    order, tracks_of = order[sort], tracks_of[sort]
    has_track = tracks_of >= 0
    frame = pd.DataFrame({"variant_id": obs["variant_id"].to_numpy()[order],
                          "scored_interval": obs["scored_interval"].to_numpy()[order]})
    for column in (*GENE_COLUMNS, *JUNCTION_COLUMNS):
        frame[column] = _column(obs, column, order)
    frame["gene_id"] = [str(v).split(".")[0] for v in frame["gene_id"]]  # as tidy_scores drops the version
    frame["output_type"] = output.output_type.name
    frame["variant_scorer"] = sdk_scorer_name(output.scorer) or output.scorer.name
    for column, source in (("track_name", "name"), ("track_strand", "strand")):
        frame[column] = np.where(has_track, var[source].to_numpy()[np.maximum(tracks_of, 0)], "")
    for ours in extra_columns:
        present = ours in var.columns
        frame[TSV_TRACK_COLUMNS[ours]] = np.where(
            has_track & present, var[ours].astype(str).to_numpy()[np.maximum(tracks_of, 0)] if present else "", "")
    raw = np.where(has_track, values[order, np.maximum(tracks_of, 0)], np.nan) if n_rows else np.zeros(0)
    frame["raw_score"] = raw
    if with_quantile:
        q = output.quantile if output.quantile is not None else np.full_like(values, np.nan)
        frame["quantile_score"] = np.where(has_track, q[order, np.maximum(tracks_of, 0)], np.nan) if n_rows else raw
    frame["reason"] = obs["reason"].to_numpy()[order]
    frame["vcf_id"] = obs["id"].to_numpy()[order]
    frame["vcf_record"] = obs["record"].to_numpy()[order]
    frame["scorer"] = output.scorer.name
    return frame


def _column(obs: pd.DataFrame, column: str, order: np.ndarray) -> np.ndarray:
    if column not in obs.columns:
        return np.full(len(order), "", dtype=object)
    values = obs[column].to_numpy()[order]
    if column in JUNCTION_COLUMNS:
        return np.array(["" if pd.isna(v) or v == "" else str(int(v)) for v in values], dtype=object)
    return values


def summarise(output: ScorerOutput, *, top_n: int) -> dict[tuple[int, int], str]:
    """Per (record, allele): the ``top_n`` cells by |score| as ``label:score`` joined by ``|`` (VCF-safe).

    Labels are ``track`` (with its strand when stranded), prefixed ``gene/`` for gene rows; ``.``
    when nothing was scored.
    """
    obs, values = output.obs, output.values
    var = output.tracks.df
    labels = [_safe(n + (s if s in "+-" else "")) for n, s in zip(var["name"], var["strand"])]
    out: dict[tuple[int, int], str] = {}
    genes = obs["gene_name"].to_numpy() if "gene_name" in obs.columns else None
    for (record, allele), rows in obs.groupby(["record", "allele"], sort=False).indices.items():
        block = values[rows]
        cells = [(-abs(float(block[i, j])), int(i), int(j)) for i, j in zip(*np.nonzero(~np.isnan(block)))]
        cells.sort()
        items = []
        for _, i, j in cells[:top_n]:
            gene = f"{_safe(str(genes[rows[i]]))}/" if genes is not None and str(genes[rows[i]]) else ""
            items.append(f"{gene}{labels[j]}:{FLOAT_FORMAT % block[i, j]}")
        out[(int(record), int(allele))] = "|".join(items) or "."
    return out


def _safe(text: str) -> str:
    """VCF-safe text: spaces become ``_``; ``; = , | %`` and control characters are percent-encoded."""
    return _UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", text.replace(" ", "_"))


def write_annotated_vcf(source: str | Path, path: Path, *, entries: Sequence[Entry], summaries: dict[str, dict],
                        descriptions: dict[str, str], header_lines: Sequence[str]) -> Path:
    """Copy ``source`` with one INFO key per scorer (``GP_<scorer>``, Number=A) and ``GP_REASON``.

    Every data line of the input comes out, in input order; earlier ``GP_`` keys are replaced.
    """
    reasons: dict[tuple[int, int], str] = {(e.record.record, e.record.allele): e.reason for e in entries}
    alleles: dict[int, int] = {}
    for e in entries:
        alleles[e.record.record] = max(alleles.get(e.record.record, 0), e.record.allele)
    info_lines = [f'##INFO=<ID={REASON_KEY},Number=A,Type=String,Description="why the ALT was not scored '
                  f'(genome-plugin); . when scored">']
    for name, description in descriptions.items():
        info_lines.append(f'##INFO=<ID={INFO_PREFIX}{name},Number=A,Type=String,Description="{description}">')
    record = 0
    with _open_text(Path(source)) as handle, open(path, "w", newline="\n") as out:
        for text in handle:
            text = text.rstrip("\n").rstrip("\r")
            if text.startswith("##"):
                if not text.startswith(f"##INFO=<ID={INFO_PREFIX}") and not text.startswith("##genome_plugin"):
                    out.write(text + "\n")
                continue
            if text.startswith("#"):
                for line in (*info_lines, *header_lines):
                    out.write(line + "\n")
                out.write(text + "\n")
                continue
            if not text.strip():
                continue
            fields = text.split("\t")
            while len(fields) < 8:
                fields.append(".")
            kept = [f for f in fields[7].split(";") if f and f != "." and not f.startswith(INFO_PREFIX)]
            n = alleles.get(record, 1)
            reason_values = [_safe(reasons.get((record, a), "")) or "." for a in range(1, n + 1)]
            added = [f"{REASON_KEY}={','.join(reason_values)}"]
            for name, table in summaries.items():
                added.append(f"{INFO_PREFIX}{name}=" + ",".join(table.get((record, a), ".") for a in range(1, n + 1)))
            fields[7] = ";".join(kept + added)
            out.write("\t".join(fields) + "\n")
            record += 1
    return path

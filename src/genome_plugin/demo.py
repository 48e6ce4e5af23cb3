"""The README's main job: the real SpliceAI model on a bundled slice of human chromosome 20.

The bundled data (a 360 kb GRCh37 chr20 slice, its 7 genes as GTF, 25 variants) ships inside the
wheel as ``genome_plugin/demo_data`` and is read from the repository's ``test-data/`` in a source
checkout. The demo predicts splice sites over every bundled gene, reports how many annotated
acceptors and donors the model ranks in its top k (k = number of annotated sites), writes the
predictions (h5ad, one bigWig per track, a PNG with the gene lane) and scores the variants with
SpliceAI's delta scores (VCF, TSV, h5ad).
"""

from __future__ import annotations

import dataclasses
import os
from importlib import resources
from pathlib import Path

import numpy as np

from genome_plugin.genome import Interval, Reference, read_gtf

__all__ = ["DemoData", "demo_data", "run_demo", "splice_site_topk"]

FILES = ("chr20_slice.fa", "chr20_slice.fa.fai", "genes.gtf", "variants.vcf")


@dataclasses.dataclass(frozen=True)
class DemoData:
    fasta: Path
    gtf: Path
    vcf: Path


def demo_data() -> DemoData:
    """Paths of the bundled demo files (package data, or ``test-data/`` in a source checkout)."""
    packaged = resources.files("genome_plugin") / "demo_data"
    candidates = [Path(str(packaged)), Path(__file__).resolve().parents[2] / "test-data"]
    for folder in candidates:
        if all((folder / name).is_file() for name in FILES):
            return DemoData(folder / "chr20_slice.fa", folder / "genes.gtf", folder / "variants.vcf")
    msg = f"the bundled demo data is missing (looked in {', '.join(str(c) for c in candidates)})"
    raise FileNotFoundError(msg)


def splice_site_topk(adata, annotation, interval: Interval) -> dict[str, tuple[int, int]]:
    """Top-k recovery of annotated splice sites: {"acceptor"/"donor": (hits, k)}.

    ``adata`` holds SPLICE_SITES predictions (tracks ``acceptor``/``donor`` on ``+`` and ``-``) over
    ``interval``. For each class the k highest-scoring positions (both strands pooled, each position
    scored on its gene's strand) are compared with the k annotated sites.
    """
    starts = adata.obs["start"].to_numpy()
    names, strands = adata.var["name"].to_numpy(), adata.var["strand"].to_numpy()
    values = np.asarray(adata.X)
    exons = annotation.exons
    exons = exons[(exons["chrom"] == interval.chrom) & (exons["start"] >= interval.start)
                  & (exons["end"] <= interval.end)]
    out: dict[str, tuple[int, int]] = {}
    for kind in ("acceptor", "donor"):
        annotated: set[tuple[int, str]] = set()
        for _transcript, group in exons.groupby("transcript_id"):
            group = group.sort_values("start")
            strand = group["strand"].iloc[0]
            first_is_left = (kind == "acceptor") == (strand == "+")
            # Acceptors are the first intron-free base of every exon but the transcript's first; donors the last
            # base of every exon but the transcript's last (on the gene's strand).
            lefts = group["start"].to_numpy()[1:] if first_is_left else []
            rights = group["end"].to_numpy()[:-1] - 1 if not first_is_left else []
            annotated |= {(int(p), strand) for p in (*lefts, *rights)}
        scores = []
        for strand in ("+", "-"):
            column = np.flatnonzero((names == kind) & (strands == strand))
            if column.size:
                scores += [(float(v), int(p), strand) for p, v in zip(starts, values[:, column[0]])]
        k = len(annotated)
        top = sorted(scores, reverse=True)[:k]
        out[kind] = (sum((p, s) in annotated for _, p, s in top), k)
    return out


def run_demo(out_dir: str | os.PathLike[str], *, progress: bool = True) -> dict[str, object]:
    """Run the demo, write its outputs into ``out_dir`` and return a summary."""
    from genome_plugin.api import predict_interval
    from genome_plugin.plots import plot_tracks, save
    from genome_plugin.plugins import load_model
    from genome_plugin.scoring.spliceai import score_vcf
    from genome_plugin.tracks import OutputType
    from genome_plugin.writers import write_results

    data = demo_data()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model = load_model("spliceai")
    annotation = read_gtf(data.gtf)
    with Reference(data.fasta) as reference:
        (chrom, length), = reference.contigs.items()
    genes = annotation.genes
    span = Interval(chrom, int(genes["start"].min()) - 1000, int(genes["end"].max()) + 1000)
    span = Interval(chrom, max(span.start, 0), min(span.end, length))
    results = predict_interval(model, span, reference=data.fasta, output_types=[OutputType.SPLICE_SITES],
                               progress=progress)
    (key, adata), = results.items()
    written = write_results(results, ["h5ad", "bigwig"], out, basename="splice_sites", reference=Reference(data.fasta))
    topk = splice_site_topk(adata, annotation, span)

    gss = genes[genes["gene_name"] == "GSS"].iloc[0]
    in_gss = ((adata.obs["start"] >= int(gss["start"]) - 500) & (adata.obs["end"] <= int(gss["end"]) + 500)).to_numpy()
    gene_view = adata[in_gss].copy()
    gene_view.obs["interval_id"] = f"GSS {chrom}:{int(gss['start']) - 500}-{int(gss['end']) + 500}:-"
    figure = plot_tracks(gene_view, annotation=annotation)
    png = out / "splice_sites.GSS.png"
    save(figure, png)
    written.append(png)

    scores = score_vcf(data.vcf, data.fasta, data.gtf, model=model, progress=progress)
    written += [scores.write_vcf(out / "spliceai.vcf"), scores.write_tsv(out / "spliceai.tsv"),
                scores.write_h5ad(out / "spliceai.h5ad")]
    table = scores.table()
    return {"interval": str(span), "topk": topk, "records": len(table), "scored": int(scores.scored.sum()),
            "top_variants": table.assign(best=np.nanmax(scores.scores, axis=1)).sort_values(
                "best", ascending=False).head(5), "files": written}

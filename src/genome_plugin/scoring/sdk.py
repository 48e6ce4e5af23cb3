"""The AlphaGenome SDK's view of our scores: its scorer names, and the per-variant AnnData its ``tidy_scores`` reads.

The SDK keeps one AnnData per (variant, scorer) and puts Python objects in ``uns`` (a
``genome.Variant``, a ``genome.Interval``, the scorer dataclass), which h5ad cannot store. We write
one AnnData per scorer for a whole VCF with the SDK's obs, var and layer names (obs ``gene_id``,
``strand``, ``gene_name``, ``gene_type``, ``junction_Start``/``junction_End``; ``layers["quantiles"]``)
and the SDK's scorer repr in ``uns["variant_scorer"]``; :func:`to_sdk_anndatas` splits such a file
back into the SDK's per-variant AnnData, rebuilding its objects from those strings, so that
``alphagenome.models.variant_scorers.tidy_scores`` reads it. Only that function needs the SDK
(``pip install alphagenome``); it never calls the SDK's API.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.tracks import OutputType

__all__ = ["SDK_TRACK_COLUMNS", "ForeignScorer", "sdk_scorer", "sdk_scorer_name", "to_sdk_anndatas"]

#: Our track columns and the SDK's names for them, in the order of the SDK's tidy table.
SDK_TRACK_COLUMNS = {"assay_title": "Assay title", "ontology_curie": "ontology_curie",
                     "biosample_name": "biosample_name", "biosample_type": "biosample_type",
                     "biosample_life_stage": "biosample_life_stage", "gtex_tissue": "gtex_tissue",
                     "data_source": "data_source", "endedness": "endedness",
                     "genetically_modified": "genetically_modified",
                     "transcription_factor": "transcription_factor", "histone_mark": "histone_mark"}
#: obs columns of an SDK score AnnData, and ours they come from (our scorers call the gene strand gene_strand).
SDK_OBS_COLUMNS = ("gene_id", "strand", "gene_name", "gene_type", "junction_Start", "junction_End")
#: The SDK's scorer classes whose repr we write; anything else is refused by :func:`sdk_scorer`.
_SDK_CLASSES = ("CenterMaskScorer", "ContactMapScorer", "GeneMaskLFCScorer", "GeneMaskActiveScorer",
                "GeneMaskSplicingScorer", "PolyadenylationScorer", "SpliceJunctionScorer")
_REPR = re.compile(r"(\w+)\(((?:\w+=\w+(?:, )?)*)\)")


def sdk_scorer_name(scorer: Any) -> str | None:
    """The repr of the SDK scorer equal to ``scorer`` (e.g. ``GeneMaskLFCScorer(requested_output=RNA_SEQ)``).

    None for a scorer the SDK does not have. A plugin scorer can name its SDK equivalent in a
    ``sdk_scorer`` attribute.
    """
    from genome_plugin.scoring.center_mask import CenterMask
    from genome_plugin.scoring.contact_map import ContactMap
    from genome_plugin.scoring.gene_mask import GeneMaskActive, GeneMaskLFC, GeneMaskSplicing
    from genome_plugin.scoring.junction import SpliceJunction
    from genome_plugin.scoring.polyadenylation import Polyadenylation

    own = getattr(scorer, "sdk_scorer", None)
    if isinstance(own, str) and own:
        return own
    # the SDK's reprs are its dataclass reprs, its enums printing their names
    if isinstance(scorer, CenterMask):
        return (f"CenterMaskScorer(requested_output={scorer.output_type.name}, width={scorer.width}, "
                f"aggregation_type={scorer.aggregation.name})")
    if isinstance(scorer, GeneMaskSplicing):
        return f"GeneMaskSplicingScorer(requested_output={scorer.output_type.name}, width={scorer.width})"
    for ours, theirs in ((GeneMaskLFC, "GeneMaskLFCScorer"), (GeneMaskActive, "GeneMaskActiveScorer")):
        if isinstance(scorer, ours):
            return f"{theirs}(requested_output={scorer.output_type.name})"
    for ours, theirs in ((ContactMap, "ContactMapScorer"), (Polyadenylation, "PolyadenylationScorer"),
                         (SpliceJunction, "SpliceJunctionScorer")):
        if isinstance(scorer, ours):
            return f"{theirs}()"
    return None


@dataclasses.dataclass(frozen=True)
class ForeignScorer:
    """Stands in for a scorer the SDK does not have (a plugin's, SpliceAI's) in an SDK AnnData.

    It has the two attributes ``tidy_scores`` reads: ``requested_output`` (its ``.name``) and the
    string form, which is our scorer name.
    """

    name: str
    requested_output: OutputType

    def __str__(self) -> str:
        return self.name


def sdk_scorer(text: str, output_type: OutputType | str | None = None) -> Any:
    """The SDK scorer object whose repr is ``text``, or a :class:`ForeignScorer` for any other name.

    ``text`` is parsed (never evaluated): one of the SDK's scorer classes with ``key=VALUE``
    arguments, values being SDK enum names, integers or None. ``output_type`` is the requested
    output of a foreign scorer.
    """
    from alphagenome.models import dna_output, variant_scorers

    match = _REPR.fullmatch(text.strip())
    if match is None or match.group(1) not in _SDK_CLASSES:
        if output_type is None:
            msg = f"{text!r} is not an SDK scorer; give the output type of this foreign scorer"
            raise ValueError(msg)
        return ForeignScorer(text, OutputType.parse(output_type))
    kwargs: dict[str, Any] = {}
    for item in filter(None, match.group(2).split(", ")):
        key, value = item.split("=")
        if key == "requested_output":
            kwargs[key] = dna_output.OutputType[value]
        elif key == "aggregation_type":
            kwargs[key] = variant_scorers.AggregationType[value]
        elif key == "width":
            kwargs[key] = None if value == "None" else int(value)
        else:
            msg = f"unknown argument {key!r} in scorer {text!r}"
            raise ValueError(msg)
    return getattr(variant_scorers, match.group(1))(**kwargs)


def to_sdk_anndatas(adata: Any) -> list[Any]:
    """One AnnData per scored (VCF record, ALT) of a genome-plugin score AnnData, laid out as the SDK's.

    Each has obs = the SDK's gene columns (none for variant-level scorers), var = the tracks with
    the SDK's column names, X = raw scores, ``layers["quantiles"]`` when present, and ``uns``
    ``variant`` (``genome.Variant``), ``interval`` (``genome.Interval``, the scored interval) and
    ``variant_scorer`` (the SDK scorer, or a :class:`ForeignScorer`). Unscored entries (with a
    ``reason``) are left out: the SDK has no scores for them. Pass ``[to_sdk_anndatas(a) for a in
    files]`` to ``tidy_scores``.
    """
    import anndata as ad
    from alphagenome.data import genome

    meta = adata.uns.get("genome_plugin", {})
    scorer_text = adata.uns.get("variant_scorer")
    if not isinstance(scorer_text, str):  # written before uns["variant_scorer"]: our name, looked up if registered
        from genome_plugin.plugins import get_scorers

        scorer = meta.get("scorer")
        name = scorer.get("name", "") if isinstance(scorer, Mapping) else str(scorer or "")
        scorer_text = sdk_scorer_name(get_scorers().get(name)) or name
    scorer = sdk_scorer(scorer_text, meta.get("output_type") or None)
    var = adata.var.rename(columns=SDK_TRACK_COLUMNS)
    var.index = var.index.map(str)
    layer = adata.layers["quantiles"] if "quantiles" in adata.layers else adata.layers.get("quantile")
    obs = adata.obs.rename(columns={"gene_strand": "strand"})
    gene_level = "gene_id" in obs.columns and "strand" in obs.columns
    scored = (obs["reason"].astype(str) == "").to_numpy()
    keys = pd.MultiIndex.from_arrays([obs["record"].astype(int), obs["allele"].astype(int)])
    out = []
    for rows in pd.Series(np.arange(len(obs))[scored], index=keys[scored]).groupby(level=[0, 1], sort=False):
        index = rows[1].to_numpy()
        first = obs.iloc[index[0]]
        try:
            variant = genome.Variant(str(first["chrom"]), int(first["pos"]), str(first["ref"]), str(first["alt"]),
                                     name="" if str(first.get("id", ".")) == "." else str(first.get("id", "")))
            interval = genome.Interval.from_str(str(first["scored_interval"]))
        except ValueError as err:
            msg = f"obs row {obs.index[index[0]]!r}: {err}"
            raise ValueError(msg) from err
        if gene_level:
            columns = {c: obs[c].iloc[index].to_numpy() for c in SDK_OBS_COLUMNS if c in obs.columns}
            frame = pd.DataFrame({c: (v.astype(np.int64) if c.startswith("junction_") else v.astype(str))
                                  for c, v in columns.items()})
        else:
            frame = pd.DataFrame(index=range(len(index)))
        frame.index = frame.index.map(str)
        X = np.asarray(adata.X[index], dtype=np.float32)
        layers = {"quantiles": np.asarray(layer[index], dtype=np.float32)} if layer is not None else None
        out.append(ad.AnnData(X=X, obs=frame, var=var.copy(), layers=layers,
                              uns={"variant": variant, "interval": interval, "variant_scorer": scorer}))
    return out

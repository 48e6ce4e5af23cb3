"""The built-in scorers: every configuration of each family, and the SDK's recommended set as a preset."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from genome_plugin.errors import InputError
from genome_plugin.scoring.base import Scorer
from genome_plugin.scoring.center_mask import CENTER_MASK_OUTPUTS, CENTER_MASK_WIDTHS, Aggregation, CenterMask
from genome_plugin.scoring.contact_map import ContactMap
from genome_plugin.scoring.gene_mask import (
    GENE_MASK_OUTPUTS,
    SPLICING_OUTPUTS,
    SPLICING_WIDTHS,
    GeneMaskActive,
    GeneMaskLFC,
    GeneMaskSplicing,
)
from genome_plugin.scoring.junction import SpliceJunction
from genome_plugin.scoring.polyadenylation import Polyadenylation
from genome_plugin.tracks import OutputType

__all__ = ["RECOMMENDED", "ScorerPreset", "builtin_presets", "builtin_scorers", "recommended_scorers",
           "resolve_scorers"]


@dataclasses.dataclass(frozen=True)
class ScorerPreset:
    """A named group of scorers: ``--scorer recommended`` expands to its members.

    Registered through ``register_scorers`` like a scorer so plugins can add presets too; it has no
    scores of its own, so :meth:`score` refuses and points at :func:`resolve_scorers`.
    """

    name: str
    members: tuple[str, ...]
    description: str = ""

    def score(self, *_args: Any, **_kwargs: Any) -> Any:
        msg = f"{self.name!r} is a preset of {len(self.members)} scorers; expand it with resolve_scorers()"
        raise TypeError(msg)


def recommended_scorers() -> list[Scorer]:
    """The AlphaGenome SDK's 19 recommended scorers, in the SDK's order."""
    diff, active = Aggregation.DIFF_LOG2_SUM, Aggregation.ACTIVE_SUM
    t = OutputType
    return [
        CenterMask(t.ATAC, 501, diff), ContactMap(), CenterMask(t.DNASE, 501, diff),
        CenterMask(t.CHIP_TF, 501, diff), CenterMask(t.CHIP_HISTONE, 2001, diff), CenterMask(t.CAGE, 501, diff),
        CenterMask(t.PROCAP, 501, diff), GeneMaskLFC(t.RNA_SEQ), GeneMaskActive(t.RNA_SEQ),
        GeneMaskSplicing(t.SPLICE_SITES, None), GeneMaskSplicing(t.SPLICE_SITE_USAGE, None), SpliceJunction(),
        Polyadenylation(), CenterMask(t.ATAC, 501, active), CenterMask(t.DNASE, 501, active),
        CenterMask(t.CHIP_TF, 501, active), CenterMask(t.CHIP_HISTONE, 2001, active), CenterMask(t.CAGE, 501, active),
        CenterMask(t.PROCAP, 501, active),
    ]


#: Names of the recommended scorers.
RECOMMENDED = tuple(s.name for s in recommended_scorers())


def builtin_scorers() -> list[Scorer]:
    """Every built-in scorer configuration (recommended ones first), each under its own name."""
    scorers: dict[str, Scorer] = {s.name: s for s in recommended_scorers()}
    for output_type in CENTER_MASK_OUTPUTS:
        for width in CENTER_MASK_WIDTHS:
            for aggregation in Aggregation:
                scorer = CenterMask(output_type, width, aggregation)
                scorers.setdefault(scorer.name, scorer)
    for output_type in GENE_MASK_OUTPUTS:
        for scorer in (GeneMaskLFC(output_type), GeneMaskActive(output_type)):
            scorers.setdefault(scorer.name, scorer)
    for output_type in SPLICING_OUTPUTS:
        for width in SPLICING_WIDTHS:
            scorer = GeneMaskSplicing(output_type, width)
            scorers.setdefault(scorer.name, scorer)
    return list(scorers.values())


def builtin_presets() -> list[ScorerPreset]:
    return [ScorerPreset("recommended", RECOMMENDED,
                         "the AlphaGenome SDK's 19 recommended scorers (those the model can run)")]


def resolve_scorers(names: Iterable[str | Any], registry: Mapping[str, Any]) -> tuple[list[Any], list[str]]:
    """Scorer objects for ``names`` (scorer objects pass through), presets expanded, duplicates dropped.

    Returns the scorers and, for preset members, the names of the presets they came from (for
    "skipped: the model cannot run it" messages that do not fail the run).

    Raises
    ------
    ValueError
        For a name that is neither a registered scorer nor a preset.
    """
    out: dict[str, Any] = {}
    from_preset: list[str] = []
    for item in names:
        if not isinstance(item, str):
            out.setdefault(item.name, item)
            continue
        found = registry.get(item)
        if found is None:
            known = ", ".join(sorted(n for n, s in registry.items() if isinstance(s, ScorerPreset)))
            msg = f"unknown scorer {item!r}; see --list-scorers (presets: {known or 'none'})"
            raise InputError(msg)
        if isinstance(found, ScorerPreset):
            for member in found.members:
                if member not in registry:
                    msg = f"preset {item!r} names scorer {member!r}, which is not registered"
                    raise ValueError(msg)
                if member not in out:
                    out[member] = registry[member]
                    from_preset.append(member)
        else:
            out.setdefault(item, found)
    return list(out.values()), from_preset

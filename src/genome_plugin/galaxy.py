"""The Galaxy tool suite: generates ``galaxy/`` (tool XML, macros, data tables, Tool Shed metadata) from the registry.

One tool per job a Galaxy user runs: predict tracks over intervals, score a VCF, a contact map, in silico
mutagenesis, SpliceAI scoring, and the model/track listing. Every tool calls the ``genome-plugin``
command line exactly as a user would. The model, output-type, scorer and output-format selects are
generated from what the loaded plugins registered (:mod:`genome_plugin.plugins`), so a third party's
model appears in Galaxy once the suite is regenerated (``genome-plugin galaxy-tools --out galaxy/``).
The committed suite is generated from the built-in plugins only (``--builtin-only``).

Tools are written with galaxyxml; what galaxyxml has no class for (``assert_contents``, ``xrefs``,
``creator``, sanitizers, nested test conditionals) is added by the small lxml helpers at the end.
The reference genome comes from the history or from the ``all_fasta`` data table (the IUC pattern);
model checkpoints an admin installed come from the ``genome_plugin_models`` data table.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lxml import etree

from genome_plugin import __version__
from genome_plugin.tracks import OutputType

# galaxyxml imports galaxy.tool_util, whose template module builds a lib2to3 refactoring tool that logs at INFO.
logging.getLogger("RefactoringTool").setLevel(logging.WARNING)
from galaxyxml import tool as gxt  # noqa: E402
from galaxyxml.tool import parameters as gxp  # noqa: E402

__all__ = ["Registry", "build_suite", "write_suite"]

TOOL_PREFIX = "genome_plugin_"
PROFILE = "24.0"
#: Bump for a wrapper-only change (same package version); reset to 0 when the package version changes.
VERSION_SUFFIX = "0"
SHED_OWNER = "genome-plugin"
#: The Galaxy release the suite is tested against (tool_tests/).
GALAXY_RELEASE = "26.1"
SHED_CATEGORIES = ("Machine Learning", "Sequence Analysis", "Variant Analysis")
CITATIONS = {
    "alphagenome": "10.1038/s41586-025-10014-0",
    "spliceai": "10.1016/j.cell.2018.12.015",
}
#: Galaxy datatype of each writer's file suffix; writers whose suffix is not here get no Galaxy output.
DATATYPES = {
    ".h5ad": "h5ad",
    ".bw": "bigwig",
    ".bedgraph": "bedgraph",
    ".tsv": "tabular",
    ".png": "png",
    ".cool": "cool",
    ".json": "json",
}
#: Test inputs (in the repository's ``test-data/``) the tool tests use, linked into ``galaxy/test-data/``.
TEST_FILES = (
    "chr20_slice.fa",
    "chr20_slice.fa.fai",
    "genes.gtf",
    "bad_intervals.bed",
    "ref_mismatch.vcf",
    "missing_contig.vcf",
    "malformed.vcf",
)
#: Small inputs cut from the shared test data, so that each tool test costs seconds: name -> (source, record ids).
TEST_SUBSETS = {
    "two_variants.vcf": ("variants.vcf", ("GSS_intron3_acceptor-2_snv", "EDEM2_intron3_acceptor-2_snv")),
    "one_interval.bed": ("intervals.bed", ("PROCR",)),
}
TEST_GENOME = "chr20_slice"
#: A built-in model with random weights that predicts every output type in seconds: the tests' multi-type model.
TEST_TINY_MODEL = "alphagenome-tiny"
_SPLICEAI_LICENCE_NOTE = (
    "The SpliceAI weights are licensed **CC BY-NC 4.0** (academic and non-commercial use; commercial use "
    "needs a licence from Illumina). They are read from the ``spliceai`` package installed beside "
    "genome-plugin and are never redistributed."
)


@dataclasses.dataclass(frozen=True)
class Registry:
    """What the tools offer: the registered models, scorers and writers by name."""

    models: Mapping[str, Any]
    scorers: Mapping[str, Any]
    writers: Mapping[str, Any]

    @classmethod
    def from_plugins(cls, *, builtin_only: bool = False) -> Registry:
        """The registry of the loaded plugins; ``builtin_only`` keeps what the built-in plugins registered."""
        from genome_plugin import plugins

        def pick(table: Mapping[str, Any]) -> dict[str, Any]:
            return {name: reg.obj for name, reg in table.items()
                    if not builtin_only or reg.plugin in plugins.DEFAULT_PLUGINS}

        return cls(models=pick(plugins.registered_models()), scorers=pick(plugins.registered_scorers()),
                   writers=pick(plugins.registered_writers()))

    def models_predicting(self, output_type: OutputType | None = None) -> dict[str, Any]:
        """Models (sorted by name) that predict ``output_type`` (any model when None)."""
        return {name: entry for name, entry in sorted(self.models.items())
                if output_type is None or output_type in entry.output_types}

    def scorers_for(self, entry: Any | None) -> dict[str, Any]:
        """Presets first, then the scorers a model's output types allow (every scorer when ``entry`` is None)."""
        presets = {n: s for n, s in sorted(self.scorers.items()) if hasattr(s, "members")}
        usable = {}
        for name, scorer in sorted(self.scorers.items()):
            if name in presets:
                continue
            needs = tuple(getattr(scorer, "requires", ()) or (getattr(scorer, "output_type", None),))
            if entry is None or all(t in entry.output_types for t in needs if t is not None):
                usable[name] = scorer
        return {**presets, **usable}

    def writers_for(self, kind: str) -> dict[str, str]:
        """Writers (name -> Galaxy datatype) that write ``kind`` results into a Galaxy datatype, h5ad excluded."""
        out = {}
        for name, writer in sorted(self.writers.items()):
            datatype = DATATYPES.get(str(getattr(writer, "suffix", "")))
            if datatype and name != "h5ad" and kind in getattr(writer, "kinds", (kind,)):
                out[name] = datatype
        return out


# ----------------------------------------------------------------------------------------------------------
# The suite


def build_suite(registry: Registry) -> dict[str, str]:
    """Every generated text file of the suite: relative path -> content."""
    tools = {
        "predict": _predict_tool(registry),
        "score": _score_tool(registry),
        "ism": _ism_tool(registry),
        "contact_map": _contact_map_tool(registry),
        "spliceai": _spliceai_tool(),
        "models": _models_tool(registry),
        "split_vcf": _split_vcf_tool(),
        "merge_tables": _merge_tool(),
    }
    files = {f"{name}.xml": _export(tool) for name, tool in tools.items()}
    files[f"workflows/{WORKFLOW}.ga"] = _workflow()
    files[f"workflows/{WORKFLOW}-tests.yml"] = _workflow_tests()
    files["macros.xml"] = _macros()
    files["README.md"] = _readme()
    files[".shed.yml"] = _shed_yml()
    files["tool_data_table_conf.xml.sample"] = _data_tables("tool-data/{}.loc")
    files["tool_data_table_conf.xml.test"] = _data_tables("${{__HERE__}}/test-data/{}.loc")
    files["tool-data/all_fasta.loc.sample"] = _ALL_FASTA_SAMPLE
    files["tool-data/genome_plugin_models.loc.sample"] = _MODELS_SAMPLE
    files["test-data/all_fasta.loc"] = (
        f"{TEST_GENOME}\t{TEST_GENOME}\tGRCh37 chr20 slice (test)\t${{__HERE__}}/chr20_slice.fa\n")
    files["test-data/genome_plugin_models.loc"] = "# no cached model checkpoints in the tests\n"
    return files


def write_suite(out_dir: str | os.PathLike[str], registry: Registry, *,
                test_data: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the suite into ``out_dir``; link the test inputs from ``test_data`` into ``out_dir/test-data``.

    Generated files that the generator no longer writes (a removed tool, a dropped test input) are
    deleted, so the folder always equals the generator's output. Returns the paths written.
    """
    out = Path(out_dir)
    written = []
    for relative, content in build_suite(registry).items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        written.append(path)
    if test_data is not None:
        source = Path(test_data)
        missing = [name for name in TEST_FILES if not (source / name).exists()]
        if missing:
            msg = f"test data folder {source} lacks {', '.join(missing)} (the Galaxy tool tests need them)"
            raise FileNotFoundError(msg)
        for name in TEST_FILES:
            link = out / "test-data" / name
            link.unlink(missing_ok=True)
            link.symlink_to(os.path.relpath((source / name).resolve(), link.parent.resolve()))
            written.append(link)
        for name, (origin, ids) in TEST_SUBSETS.items():
            path = out / "test-data" / name
            path.write_text(_subset(source / origin, ids))
            written.append(path)
    owned = ("*.xml", "test-data/*", "tool-data/*", "workflows/*")
    for stale in {path for pattern in owned for path in out.glob(pattern)} - set(written):
        stale.unlink()
    return written


def _subset(path: Path, ids: Sequence[str]) -> str:
    """The header and the records with these IDs (VCF column 3, BED column 4) of a VCF or BED, in file order."""
    column = 2 if path.suffix == ".vcf" else 3
    lines = path.read_text().splitlines(keepends=True)
    records = [line for line in lines if not line.startswith("#") and line.split("\t")[column] in ids]
    if len(records) != len(ids):
        msg = f"{path} lacks some of the records {', '.join(ids)}"
        raise ValueError(msg)
    return "".join(line for line in lines if line.startswith("#")) + "".join(records)


# ----------------------------------------------------------------------------------------------------------
# Shared inputs and command pieces

_REFERENCE_COMMAND = """\
#if str($reference.source) == "history"
    ln -s '$reference.fasta' reference.fa &&
    #set $fasta_path = "reference.fa"
#else
    #set $fasta_path = $reference.fasta.fields.path
#end if"""

_MODEL_COMMAND = """\
#if str($model.source) == "cached"
    --model '$model.checkpoint.fields.model' --checkpoint '$model.checkpoint.fields.path'
#else
    --model '$model.source'
#end if"""

_TRACKS_COMMAND = """\
#if str($tracks).strip()
    --tracks '$tracks'
#end if"""

#: What a track filter may hold in Galaxy besides letters and digits: the filter grammar's characters
#: (:mod:`genome_plugin.selector`) that are inert inside the single-quoted shell word ``'$tracks'``. A single
#: quote would end that word, so the sanitizer turns it into a double quote; backslash, ``@``, backtick,
#: ``; & < >`` and newlines are refused by the validator (and dropped by the sanitizer).
TRACK_FILTER_PUNCTUATION = ' _.:+-"=!()[],^$*|?{}/'


def _new_tool(key: str, name: str, description: str, command: Sequence[str], *, reference: bool = True,
              version_command: str = "genome-plugin --version") -> gxt.Tool:
    tool = gxt.Tool(name, f"{TOOL_PREFIX}{key}", "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@", description,
                    "genome-plugin", profile="@PROFILE@", version_command=version_command,
                    command_override=[textwrap.dedent(part).strip("\n") for part in command],
                    macros=["macros.xml"])
    tool.command = gxp.Command(detect_errors="exit_code")
    if reference:
        tool.inputs.append(gxp.Expand(macro="reference_genome"))
    return tool


def _model_conditional(models: Mapping[str, Any], *, label: str, extras: Any) -> gxp.Conditional:
    """Model choice: one ``<when>`` per registered model (with ``extras(entry)``), plus a cached checkpoint."""
    conditional = gxp.Conditional("model")
    options = {name: f"{name}: {entry.description}" if entry.description else name for name, entry in models.items()}
    options["cached"] = "A model checkpoint installed on this server (genome_plugin_models data table)"
    default = "spliceai" if "spliceai" in models else next(iter(options))
    conditional.append(gxp.SelectParam("source", label=label, options=options, default=default,
                                       help="Models of the installed genome-plugin plugins; see the help below."))
    for name, entry in models.items():
        when = gxp.When(name)
        for param in extras(entry):
            when.append(param)
        conditional.append(when)
    cached = gxp.When("cached")
    checkpoint = gxp.SelectParam("checkpoint", label="Cached model checkpoint",
                                 help="Installed by your Galaxy administrator (e.g. converted AlphaGenome weights)")
    table = gxp.Options(from_data_table="genome_plugin_models")
    table.append(gxp.Filter("sort_by", column=1))
    etree.SubElement(table.node, "validator", type="no_options",
                     message="No model checkpoints are installed on this server")
    checkpoint.append(table)
    cached.append(checkpoint)
    for param in extras(None):
        cached.append(param)
    conditional.append(cached)
    return conditional


def _output_type_select(entry: Any | None, *, name: str = "output_types", multiple: bool = True,
                        exclude: Iterable[OutputType] = ()) -> gxp.SelectParam:
    types = entry.output_types if entry is not None else tuple(OutputType)
    options = {t.value: t.value for t in types if t not in tuple(exclude)}
    return gxp.SelectParam(_unless_implied(name, "--output-type"), argument="--output-type", optional=True,
                           multiple=multiple or None, options=options,
                           label="Output types" if multiple else "Output type",
                           help="Default: every output type the model predicts" if multiple else
                           "Default: the model's first track output type")


def _unless_implied(name: str, argument: str) -> str | None:
    """The param name, or None when ``argument`` implies it (IUC: no redundant ``name``)."""
    return None if argument.lstrip("-").replace("-", "_") == name else name


def _scorer_select(registry: Registry, entry: Any | None, *, multiple: bool) -> gxp.SelectParam:
    scorers = registry.scorers_for(entry)
    if not multiple:
        scorers = {n: s for n, s in scorers.items() if not hasattr(s, "members")}
    options = {name: f"{name}: {getattr(s, 'description', '')}".rstrip(": ") for name, s in scorers.items()}
    default = "recommended" if multiple and "recommended" in options else None
    return gxp.SelectParam("scorers" if multiple else None, argument="--scorer", optional=not multiple or None,
                           multiple=multiple or None, options=options, default=default,
                           label="Scorers" if multiple else "Scorer",
                           help="Presets first, then every scorer this model's output types allow" if multiple else
                           "Default: the mean ALT - REF over the mutated bases' bins")


def _tracks_param() -> gxp.TextParam:
    param = gxp.TextParam(None, argument="--tracks", optional=True, value="",
                          label="Track filter (on the columns of the model's track table)",
                          help='For example: biosample_name == "liver" and strand != "-". Compare a column with '
                               '== != in [...] "not in" contains or matches (a regular expression), join with and, '
                               'or, not and parentheses; quote text with double quotes. List a model\'s tracks '
                               'with the "genome-plugin models and tracks" tool.')
    allowed = "A-Za-z0-9" + re.escape(TRACK_FILTER_PUNCTUATION + "'")
    param.append(gxp.ValidatorParam("regex", message="A track filter holds letters, digits, spaces, quotes and "
                                    f"{TRACK_FILTER_PUNCTUATION.strip()}", text=rf"^[{allowed}]*$"))
    _sanitize(param, valid="string.ascii_letters,string.digits", allow=TRACK_FILTER_PUNCTUATION,
              mapping={"'": '"'})
    return param


def _interval_param(name: str, *, label: str, help: str, multiple: bool = False) -> gxp.TextParam:
    interval = r"[\w.]+:\d+-\d+(:[+-])?"
    pattern = rf"^\s*{interval}([\s,]+{interval})*\s*$" if multiple else rf"^\s*{interval}\s*$"
    param = gxp.TextParam(name if multiple else None, argument=None if multiple else f"--{name}", label=label,
                          help=help)
    param.append(gxp.ValidatorParam("regex", message="Give regions as chrom:start-end or chrom:start-end:strand",
                                    text=pattern))
    return param


def _formats_param(registry: Registry, kind: str, *, label: str) -> gxp.SelectParam:
    writers = registry.writers_for(kind)
    return gxp.SelectParam("formats", argument="--format", optional=True, multiple=True, display="checkboxes",
                           options={name: f"{name} ({datatype})" for name, datatype in writers.items()},
                           label=label, help="AnnData (h5ad) is always written")


def _formats_command(default: str = "h5ad") -> str:
    return f"""\
#set $out_formats = ["{default}"] + (str($formats).split(",") if $formats else [])
--format '${{",".join($out_formats)}}'"""


def _collection(name: str, label: str, pattern: str, datatype: str, *, filter: str | None = None,
                directory: str = "out") -> gxp.OutputCollection:
    collection = gxp.OutputCollection(name, type="list", label=label)
    collection.append(gxp.DiscoverDatasets(pattern, directory=directory, format=datatype, visible="false",
                                           sort_by="filename"))
    if filter:
        collection.append(gxp.OutputFilter(filter))
    return collection


def _format_collections(registry: Registry, kind: str, basename: str) -> list[gxp.OutputCollection]:
    """One output collection per optional format, shown when that format is chosen."""
    out = []
    for name, datatype in registry.writers_for(kind).items():
        suffix = next(w.suffix for n, w in registry.writers.items() if n == name)
        pattern = rf"(?P<designation>{basename}\..+){_regex_escape(suffix)}"
        out.append(_collection(f"{name}_files", f"${{tool.name}} on ${{on_string}}: {name}", pattern, datatype,
                               filter=f'formats and "{name}" in formats'))
    return out


def _regex_escape(text: str) -> str:
    return text.replace(".", r"\.")


def _model_help(models: Mapping[str, Any]) -> str:
    lines = ["Models available when this tool was generated (from the installed plugins):", ""]
    for name, entry in models.items():
        types = ", ".join(t.value for t in entry.output_types)
        lines.append(f"- **{name}** ({types}): {entry.description}")
        if entry.licence:
            lines.append(f"  Licence: {entry.licence}.")
        if not entry.real_weights:
            lines.append("  Random weights: for tests and teaching, not a real prediction.")
    lines += ["- **A cached checkpoint**: a model your administrator installed in the ``genome_plugin_models`` "
              "data table (for example AlphaGenome weights converted with ``genome-plugin convert-weights``)."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------------
# The tools


def _predict_tool(registry: Registry) -> gxt.Tool:
    models = registry.models_predicting()
    command = [
        _REFERENCE_COMMAND,
        "genome-plugin predict",
        _MODEL_COMMAND,
        """\
            #if $model.output_types
                --output-type '$model.output_types'
            #end if""",
        "--fasta '$fasta_path'",
        """\
            #if str($regions.source) == "bed"
                --bed '$regions.bed'
            #else
                #for $interval in str($regions.intervals).replace(",", " ").split()
                    --interval '$interval'
                #end for
            #end if""",
        _TRACKS_COMMAND,
        _formats_command(),
        "$rc_average",
        """\
            #if $gtf
                --gtf '$gtf'
            #end if""",
        "--out out",
    ]
    tool = _new_tool("predict", "Predict genome tracks", "over intervals with a sequence-to-function model", command)
    tool.inputs.append(_model_conditional(models, label="Model", extras=lambda e: [_output_type_select(e)]))
    regions = gxp.Conditional("regions")
    regions.append(gxp.SelectParam("source", label="Intervals from",
                                   options={"bed": "A BED file", "list": "A list of regions"}, default="bed"))
    bed = gxp.When("bed")
    bed.append(gxp.DataParam(None, argument="--bed", format="bed", label="Intervals (BED)",
                             help="Name (column 4) and strand (column 6) are used; 0-based, end exclusive"))
    listed = gxp.When("list")
    listed.append(_interval_param("intervals", multiple=True, label="Regions",
                                  help="chrom:start-end[:strand], 0-based start, end exclusive, separated by spaces "
                                       "or commas; for example chr20:110500-111500:-"))
    regions.extend([bed, listed])
    tool.inputs.append(regions)
    tool.inputs.append(_tracks_param())
    tool.inputs.append(_formats_param(registry, "tracks", label="Also write"))
    tool.inputs.append(_rc_average_param())
    tool.inputs.append(gxp.DataParam(None, argument="--gtf", format="gtf", optional=True,
                                     label="Gene annotation for the figures (GTF)"))
    tool.outputs.append(_collection("predictions", "${tool.name} on ${on_string}: AnnData",
                                    r"(?P<designation>predictions\..+)\.h5ad", "h5ad"))
    for collection in _format_collections(registry, "tracks", "predictions"):
        tool.outputs.append(collection)
    tool.help = _help(
        "Predicts genome tracks (splice sites, accessibility, expression, histone marks, ... whatever the "
        "model predicts) over intervals of a reference genome, and writes one AnnData file per output type "
        "and resolution (obs = genomic bins of every interval, var = tracks, uns = provenance), plus bigWig, "
        "bedGraph, TSV files and figures on request.",
        inputs=["A reference genome (cached on the server, or a FASTA file from your history).",
                "Intervals: a BED file or a list of regions. Minus-strand intervals are predicted on the "
                "reverse complement and reported in + strand order.",
                "Optionally, output types, a track filter, and a GTF drawn under the figures."],
        outputs=["AnnData (h5ad), one per output type and resolution: "
                 "``predictions.<type>_<resolution>bp``.",
                 "bigWig / bedGraph: one file per track (``predictions.<type>_<res>bp.<track>``).",
                 "PNG figures and TSV tables when chosen."],
        example="SpliceAI on ``chr20:110500-111500:-`` of the bundled GRCh37 chr20 slice gives "
                "``predictions.splice_sites_1bp.h5ad`` with 1,000 bins and 4 tracks (acceptor and donor, "
                "each strand); ``bigwig`` adds the 4 tracks as bigWig files for a genome browser.",
        limitations=["Runs on the Galaxy server's CPU or accelerator: long intervals with large models are slow.",
                     "Intervals must lie on contigs of the reference; windows past a contig end are padded with N."],
        models=models)
    tool.tests = _tests([
        _Case(params={"reference": {"source": "history", "fasta": "chr20_slice.fa"},
                      "model": {"source": "spliceai"},
                      "regions": {"source": "bed", "bed": "one_interval.bed"}},
              outputs={"predictions": _Coll(1, {"predictions.splice_sites_1bp": _h5ad_asserts(
                  "obs/chrom", "obs/interval_id", "var/name", "uns/genome_plugin")})},
              num_outputs=1),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai", "output_types": "splice_sites"},
                      "regions": {"source": "list", "intervals": "chr20:110500-111500:-"},
                      "tracks": 'strand == "+"', "formats": "bigwig,png"},
              outputs={"predictions": _Coll(1, {"predictions.splice_sites_1bp": _h5ad_asserts("obs/start")}),
                       "bigwig_files": _Coll(2, {f"predictions.splice_sites_1bp.{track}.plus": _BIGWIG_ASSERTS
                                                 for track in ("acceptor", "donor")}),
                       "png_files": _Coll(1, {"predictions.splice_sites_1bp": _png_asserts()})},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": TEST_TINY_MODEL, "output_types": "dnase"},
                      "regions": {"source": "list", "intervals": "chr20:24000-40000"}, "formats": "tsv"},
              outputs={"predictions": _Coll(2, {f"predictions.dnase_{res}bp": _h5ad_asserts("var/name")
                                                for res in (1, 128)}),
                       "tsv_files": _Coll(2, {"predictions.dnase_128bp": [("has_n_lines", {"n": "127"})]})},
              num_outputs=2),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai"},
                      "regions": {"source": "bed", "bed": "bad_intervals.bed"}},
              failure="line 2: start 5000 >= end 5000"),
        # Track filters are parsed, never run as Python: code made of the characters the validator lets through
        # (it refuses @, backtick, ; & < > and newlines before a job exists) is a syntax error.
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME}, "model": {"source": "spliceai"},
                      "regions": {"source": "list", "intervals": "chr20:110500-111500:-"},
                      "tracks": '__import__("os").system("touch pwned") == 0'},
              failure="position 17: unexpected '.'"),
    ])
    return tool


def _score_tool(registry: Registry) -> gxt.Tool:
    models = registry.models_predicting()
    command = [
        _REFERENCE_COMMAND,
        "genome-plugin score",
        _MODEL_COMMAND,
        """\
            #for $scorer in str($model.scorers).split(",")
                --scorer '$scorer'
            #end for""",
        "--fasta '$fasta_path'",
        "--vcf '$vcf'",
        """\
            #if $gtf
                --gtf '$gtf'
            #end if""",
        _TRACKS_COMMAND,
        """\
            #if $sequence_length
                --sequence-length '$sequence_length'
            #end if""",
        "--top-n '$top_n'",
        "$rc_average",
        "--out out",
    ]
    tool = _new_tool("score", "Score variants", "with a sequence-to-function model: VCF, table and AnnData", command)
    tool.inputs.append(_model_conditional(models, label="Model",
                                          extras=lambda e: [_scorer_select(registry, e, multiple=True)]))
    tool.inputs.append(gxp.DataParam(None, argument="--vcf", format="vcf", label="Variants (VCF)"))
    tool.inputs.append(gxp.DataParam(None, argument="--gtf", format="gtf", optional=True,
                                     label="Gene annotation (GTF)", help="Needed by the gene-level scorers"))
    tool.inputs.append(_tracks_param())
    tool.inputs.append(gxp.IntegerParam(None, argument="--sequence-length", optional=True, min=1024,
                                        label="Model input window (bp)",
                                        help="Default: the model's preferred length (16384 for alphagenome-tiny)"))
    tool.inputs.append(gxp.IntegerParam(None, argument="--top-n", value=3, min=1, max=100,
                                        label="Tracks per scorer shown in the VCF INFO field"))
    tool.inputs.append(_rc_average_param())
    tool.outputs.append(gxp.OutputData("scores_vcf", "vcf", from_work_dir="out/scores.vcf",
                                       label="${tool.name} on ${on_string}: annotated VCF"))
    tool.outputs.append(gxp.OutputData("scores_tsv", "tabular", from_work_dir="out/scores.tsv",
                                       label="${tool.name} on ${on_string}: scores table"))
    tool.outputs.append(_collection("scores_h5ad", "${tool.name} on ${on_string}: AnnData per scorer",
                                    r"(?P<designation>.+)\.h5ad", "h5ad"))
    tool.help = _help(
        "Scores every variant of a VCF with the chosen scorers: the model predicts the reference and the "
        "alternative sequence around each variant, and each scorer turns the difference into numbers "
        "(per track, or per gene and track). Every record of the VCF comes out in every output; records "
        "that cannot be scored (REF not matching the reference, contig missing from the reference, "
        "symbolic alleles, over-long alleles) carry the reason instead of scores.",
        inputs=["A reference genome (the one the VCF was called against).", "The variants (VCF).",
                "Scorers (the ``recommended`` preset by default) and, for gene-level scorers, a GTF."],
        outputs=["The VCF with one INFO key per scorer (the top tracks by absolute score).",
                 "A tidy table (one row per variant x gene x track; the AlphaGenome SDK's column names).",
                 "One AnnData per scorer: obs = variants (or variant x gene), var = tracks, X = raw scores."],
        example="SpliceAI with ``gene_mask_splicing_splice_sites_all`` over the bundled chr20 variants and "
                "GTF: each variant gets the largest splice-site probability change over the genes it falls in.",
        limitations=["Scoring needs two model passes per variant window: large VCFs are slow on CPU; split "
                     "them and map this tool over a collection (see the workflow shipped with this suite).",
                     "Quantile scores against a background set are not offered in Galaxy yet."],
        models=models)
    splicing = "gene_mask_splicing_splice_sites_all"
    tool.tests = _tests([
        _Case(params={"reference": {"source": "history", "fasta": "chr20_slice.fa"},
                      "model": {"source": "spliceai", "scorers": splicing},
                      "vcf": "two_variants.vcf", "gtf": "genes.gtf", "sequence_length": "12288"},
              outputs={"scores_vcf": [("has_text", {"text": f"##INFO=<ID=GP_{splicing},"})] + [
                           ("has_text_matching", {"expression": f"{variant}.*{splicing}="})
                           for variant in TEST_SUBSETS["two_variants.vcf"][1]],
                       "scores_tsv": [("has_text", {"text": "variant_scorer"}),
                                      ("has_text_matching", {"expression": f"chr20:110811:T>C.*GSS.*{splicing}"})],
                       "scores_h5ad": _Coll(1, {splicing: _h5ad_asserts("obs/variant_id", "obs/gene_name")})},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": TEST_TINY_MODEL, "scorers": "center_mask_dnase_501_diff_log2_sum"},
                      "vcf": "ref_mismatch.vcf"},
              outputs={"scores_vcf": [("has_text", {"text": "ref_mismatch"})],
                       "scores_tsv": [("has_text", {"text": "REF G does not match the reference (A) at chr20:110775"})],
                       "scores_h5ad": _Coll(1, {"center_mask_dnase_501_diff_log2_sum": _h5ad_asserts("obs/reason")})},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai"}, "vcf": "malformed.vcf", "gtf": "genes.gtf"},
              failure="malformed VCF record"),
        # A single quote cannot end the shell word: it reaches the filter as a double quote (a syntax error here).
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai"}, "vcf": "two_variants.vcf", "gtf": "genes.gtf",
                      "tracks": 'strand == "+"\' or \'x'},
              failure="position 14: expected 'and', 'or' or the end of the filter"),
    ])
    return tool


def _ism_tool(registry: Registry) -> gxt.Tool:
    models = registry.models_predicting()
    one_d = (OutputType.CONTACT_MAPS, OutputType.SPLICE_JUNCTIONS)
    command = [
        _REFERENCE_COMMAND,
        "genome-plugin ism",
        _MODEL_COMMAND,
        """\
            #if $model.output_type
                --output-type '$model.output_type'
            #end if
            #if $model.scorer
                --scorer '$model.scorer'
            #end if""",
        "--fasta '$fasta_path'",
        "--interval '$interval'",
        """\
            #if $width
                --width '$width'
            #end if""",
        _TRACKS_COMMAND,
        "$rc_average",
        "--format h5ad,tsv,png",
        "--out out",
    ]
    tool = _new_tool("ism", "In silico mutagenesis", "every SNV of an interval, scored with a model", command)
    tool.inputs.append(_model_conditional(models, label="Model", extras=lambda e: [
        _output_type_select(e, name="output_type", multiple=False, exclude=one_d),
        _scorer_select(registry, e, multiple=False)]))
    tool.inputs.append(_interval_param("interval", label="Bases to mutate",
                                       help="chrom:start-end[:strand], 0-based start, end exclusive; 3 SNVs per base"))
    tool.inputs.append(gxp.IntegerParam(None, argument="--width", optional=True, min=1,
                                        label="Window predicted around the interval (bp)",
                                        help="Default: the smallest window the model accepts"))
    tool.inputs.append(_tracks_param())
    tool.inputs.append(_rc_average_param())
    tool.outputs.append(gxp.OutputData("ism_h5ad", "h5ad", from_work_dir="out/ism.h5ad",
                                       label="${tool.name} on ${on_string}: AnnData"))
    tool.outputs.append(gxp.OutputData("ism_tsv", "tabular", from_work_dir="out/ism.tsv",
                                       label="${tool.name} on ${on_string}: table"))
    tool.outputs.append(_collection("plots", "${tool.name} on ${on_string}: sequence logos",
                                    r"(?P<designation>.+)\.png", "png"))
    tool.help = _help(
        "In silico mutagenesis: every possible single-base substitution in an interval is predicted and "
        "scored against the reference, showing which bases the model relies on.",
        inputs=["A reference genome and an interval (keep it short: each SNV costs one model call).",
                "Optionally the output type and a registered scorer for the effect."],
        outputs=["AnnData: obs = SNV (position x alternative base, with ``offset`` in the interval), "
                 "var = tracks, X = scores; the same as a table.",
                 "A sequence-logo style figure per track (up to 8; narrow them with the track filter)."],
        example="SpliceAI over the 4 bases around the GSS intron 3 acceptor (``chr20:110808-110812:-`` on the "
                "bundled chr20 slice) gives 12 SNVs; the minus-strand acceptor logo shows the AG dinucleotide.",
        limitations=["Cost grows with 3 x interval length model calls."],
        models=models)
    tool.tests = _tests([
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai"}, "interval": "chr20:110808-110812:-",
                      "tracks": "strand == '-'"},  # single quotes reach the filter as double quotes
              outputs={"ism_h5ad": _h5ad_asserts("obs/offset", "var/name"),
                       "ism_tsv": [("has_n_lines", {"min": "13"})],
                       "plots": _Coll(2, {f"ism.{track}.minus": _png_asserts() for track in ("acceptor", "donor")})},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME},
                      "model": {"source": "spliceai"}, "interval": "chr20:110808-110812:-",
                      "tracks": 'pd.io.common.os.system("touch pwned") == 0'},
              failure="position 3: unexpected '.'"),
    ])
    return tool


def _contact_map_tool(registry: Registry) -> gxt.Tool:
    models = registry.models_predicting(OutputType.CONTACT_MAPS)
    command = [
        _REFERENCE_COMMAND,
        "genome-plugin contact-map",
        _MODEL_COMMAND,
        "--fasta '$fasta_path'",
        "--interval '$interval'",
        """\
            #if str($variant).strip()
                --variant '$variant'
            #end if""",
        _TRACKS_COMMAND,
        "$rc_average",
        "--format cool,h5ad,png",
        "--out out",
    ]
    tool = _new_tool("contact_map", "Predict a contact map", "(3D genome contacts) of an interval, REF vs ALT",
                     command)
    tool.inputs.append(_model_conditional(models, label="Model (predicting contact maps)", extras=lambda e: []))
    tool.inputs.append(_interval_param("interval", label="Region of the map",
                                       help="chrom:start-end, 0-based start, end exclusive"))
    variant = gxp.TextParam(None, argument="--variant", optional=True, value="",
                            label="Variant (optional): chrom:pos:REF>ALT, 1-based",
                            help="Gives REF, ALT and ALT - REF maps")
    variant.append(gxp.ValidatorParam("regex", message="Give the variant as chrom:pos:REF>ALT",
                                      text=r"^\s*([\w.]+:\d+:[ACGTNacgtn]+>[ACGTNacgtn]+)?\s*$"))
    _sanitize(variant, allow=">")
    tool.inputs.append(variant)
    tool.inputs.append(_tracks_param())
    tool.inputs.append(_rc_average_param())
    tool.outputs.append(_collection("cool_files", "${tool.name} on ${on_string}: .cool",
                                    r"(?P<designation>contacts\..+)\.cool", "cool"))
    tool.outputs.append(gxp.OutputData("contacts_h5ad", "h5ad", from_work_dir="out/contacts.h5ad",
                                       label="${tool.name} on ${on_string}: AnnData"))
    tool.outputs.append(_collection("plots", "${tool.name} on ${on_string}: heatmaps",
                                    r"(?P<designation>.+)\.png", "png"))
    tool.help = _help(
        "Predicts the 3D contact map (Hi-C-like) of an interval, and with a variant the REF, ALT and "
        "difference maps.",
        inputs=["A reference genome, a region and optionally a variant inside the model window."],
        outputs=["``.cool`` files, one per contact-map track (readable by cooler and HiCExplorer); with a "
                 "variant the difference map, plus ``contacts.ref.*`` and ``contacts.alt.*``.",
                 "AnnData: obs = upper-triangle pixels, var = tracks.", "Heatmap figures."],
        example="``alphagenome-tiny`` (random weights) over ``chr20:24576-40960`` of the bundled chr20 slice gives "
                "two 8 x 8 bin maps at 2,048 bp; a converted AlphaGenome checkpoint over 1 Mb gives real maps.",
        limitations=["Only models that predict contact maps can be chosen; SpliceAI does not.",
                     "The region must start and end on the model's contact-map grid (2,048 bp for AlphaGenome), "
                     "as .cool bins are genome-wide."],
        models=models)
    model = {"source": TEST_TINY_MODEL}
    region = "chr20:24576-40960"  # on the 2,048 bp contact-map grid
    cool = [("has_h5_keys", {"keys": "chroms/name,bins/start,pixels/bin1_id,pixels/count"})]
    tool.tests = _tests([
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME}, "model": model, "interval": region},
              outputs={"cool_files": _Coll(2, {f"contacts.contact_maps_{i}": cool for i in range(2)}),
                       "contacts_h5ad": _h5ad_asserts("obs/bin1_id", "obs/bin2_id", "uns/genome_plugin"),
                       "plots": _Coll(1, {"contacts": _png_asserts()})},
              num_outputs=3),
        _Case(params={"reference": {"source": "history", "fasta": "chr20_slice.fa"}, "model": model,
                      "interval": region, "variant": "chr20:31115:C>T"},
              outputs={"cool_files": _Coll(6, {f"contacts.{m}contact_maps_0": cool for m in ("", "ref.", "alt.")}),
                       "contacts_h5ad": _h5ad_asserts("obs/bin1_id", "layers/ref", "layers/alt")},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME}, "model": model,
                      "interval": "chr20:24000-40000"},
              failure="not on the 2048 bp genome grid"),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME}, "model": model, "interval": region,
                      "tracks": 'name.str.contains("hic")'},
              failure="position 5: unexpected '.' (no methods"),
    ])
    return tool


def _spliceai_tool() -> gxt.Tool:
    command = [
        _REFERENCE_COMMAND,
        "genome-plugin spliceai",
        "--fasta '$fasta_path'",
        "--vcf '$vcf'",
        """\
            #if str($annotation.source) == "gtf"
                --annotation '$annotation.gtf'
            #else
                --annotation '$annotation.source'
            #end if""",
        "--distance '$distance'",
        "$mask",
        "--out out",
    ]
    tool = _new_tool("spliceai", "SpliceAI", "splice-altering variant scores (delta scores, VCF INFO SpliceAI=)",
                     command)
    tool.inputs.append(gxp.DataParam(None, argument="--vcf", format="vcf", label="Variants (VCF)"))
    annotation = gxp.Conditional("annotation")
    annotation.append(gxp.SelectParam("source", label="Gene annotation",
                                      options={"grch38": "GENCODE genes on GRCh38 (bundled with SpliceAI)",
                                               "grch37": "GENCODE genes on GRCh37 (bundled with SpliceAI)",
                                               "gtf": "A GTF file from your history (longest transcript per gene)"},
                                      default="grch38"))
    annotation.append(gxp.When("grch38"))
    annotation.append(gxp.When("grch37"))
    from_gtf = gxp.When("gtf")
    from_gtf.append(gxp.DataParam("gtf", format="gtf", label="Gene annotation (GTF)"))
    annotation.append(from_gtf)
    tool.inputs.append(annotation)
    tool.inputs.append(gxp.IntegerParam(None, argument="--distance", value=50, min=0, max=5000,
                                        label="Maximum distance between the variant and a gained/lost splice site"))
    tool.inputs.append(gxp.BooleanParam(None, argument="--mask", checked=False, label="Mask scores (SpliceAI -M 1)",
                                        help="Hide gains at annotated sites and losses at unannotated sites"))
    for name, datatype, what in (("vcf", "vcf", "annotated VCF"), ("tsv", "tabular", "delta scores"),
                                 ("h5ad", "h5ad", "AnnData")):
        tool.outputs.append(gxp.OutputData(f"spliceai_{name}", datatype, from_work_dir=f"out/spliceai.{name}",
                                           label=f"${{tool.name}} on ${{on_string}}: {what}"))
    tool.help = _help(
        "Scores variants with SpliceAI-10k (the five trained models, ensemble mean) as the original "
        "``spliceai`` tool 1.3.1 does: delta scores for acceptor gain/loss and donor gain/loss (DS_AG, DS_AL, "
        "DS_DG, DS_DL) and their positions (DP_*) within the chosen distance, per gene.",
        inputs=["A reference genome and a VCF; genes from the tables SpliceAI ships (GRCh37/GRCh38) or a GTF."],
        outputs=["The VCF with ``SpliceAI=ALLELE|SYMBOL|DS_AG|DS_AL|DS_DG|DS_DL|DP_AG|DP_AL|DP_DG|DP_DL`` "
                 "(the original tool's header and format, so existing filters keep working), and "
                 "``SpliceAI_REASON`` where an allele got no score.",
                 "A table (unrounded delta scores) and an AnnData with one row per variant x gene "
                 "(X = DS_*, layers[\"positions\"] = DP_*)."],
        example="The acceptor -2 SNV of GSS on the bundled GRCh37 chr20 slice, with the bundled GTF: "
                "``SpliceAI=C|GSS|0.89|1.00|0.00|0.00|-15|-2|-15|-47`` (the acceptor is lost).",
        limitations=["The original drops some records silently (REF mismatch, near chromosome ends, long "
                     "alleles); here every record is kept, with the reason."],
        licence=_SPLICEAI_LICENCE_NOTE)
    tool.citations = gxp.Citations()
    tool.citations.append(gxp.Citation("doi", CITATIONS["spliceai"]))
    tool.tests = _tests([
        _Case(params={"reference": {"source": "history", "fasta": "chr20_slice.fa"}, "vcf": "two_variants.vcf",
                      "annotation": {"source": "gtf", "gtf": "genes.gtf"}},
              outputs={"spliceai_vcf": [("has_text", {"text": "##INFO=<ID=SpliceAI"}),
                                        ("has_text", {"text": "SpliceAI=C|GSS|0.89|1.00|0.00|0.00|-15|-2|-15|-47"}),
                                        ("has_text", {"text": "SpliceAI=C|EDEM2|0.51|1.00|0.02|0.00|-21|-2|37|17"})],
                       "spliceai_tsv": [("has_n_lines", {"n": "3"}), ("has_n_columns", {"n": "18"})],
                       "spliceai_h5ad": _h5ad_asserts("obs/gene_name", "layers/positions")},
              num_outputs=3),
        _Case(params={"reference": {"source": "cached", "fasta": TEST_GENOME}, "vcf": "missing_contig.vcf",
                      "annotation": {"source": "grch37"}, "mask": "true"},
              outputs={"spliceai_vcf": [("has_text", {"text": "SpliceAI_REASON=contig_chr99_is_not_in_the_reference"})],
                       "spliceai_tsv": [("has_text", {"text": "contig chr99 is not in the reference FASTA"})]},
              num_outputs=3),
    ])
    return tool


def _models_tool(registry: Registry) -> gxt.Tool:
    models = registry.models_predicting()
    command = [
        """\
            #if str($listing.what) == "models"
                genome-plugin models > '$model_list'
            #else
                genome-plugin models --tracks '$listing.model' --organism '$listing.organism' --output '$track_table'
            #end if""",
    ]
    tool = _new_tool("models", "Models and tracks", "installed with genome-plugin: list them, or one model's tracks",
                     command, reference=False)
    listing = gxp.Conditional("listing")
    listing.append(gxp.SelectParam("what", label="List", default="tracks",
                                   options={"tracks": "One model's tracks (a table to pick track filters from)",
                                            "models": "The installed models"}))
    tracks = gxp.When("tracks")
    tracks.append(gxp.SelectParam("model", argument="--tracks", label="Model",
                                  options={name: name for name in models}))
    tracks.append(gxp.TextParam(None, argument="--organism", value="human", label="Organism"))
    listing.extend([tracks, gxp.When("models")])
    tool.inputs.append(listing)
    tool.outputs.append(_filtered(gxp.OutputData("track_table", "tabular",
                                                 label="${tool.name}: tracks of ${listing.model}"),
                                  'listing["what"] == "tracks"'))
    tool.outputs.append(_filtered(gxp.OutputData("model_list", "txt", label="${tool.name}: installed models"),
                                  'listing["what"] == "models"'))
    tool.help = _help(
        "Lists the models installed with genome-plugin, or the track table of one model: one row per track "
        "with its output type, resolutions, name, strand and the assay and biosample columns. Use the table "
        "to write a track filter (for example ``biosample_name == \"liver\"``) for the other tools.",
        inputs=["Nothing but the choice of model."],
        outputs=["A tabular track table, or a text list of the models with licences."],
        example="The tracks of ``spliceai``: acceptor and donor on each strand (4 rows).",
        limitations=["Shows what is installed on this Galaxy server, not every model that exists."],
        models=models)
    tool.tests = _tests([
        _Case(params={"listing": {"what": "tracks", "model": "spliceai"}},
              outputs={"track_table": [("has_n_lines", {"n": "5"}),
                                       ("has_text", {"text": "splice_sites"}), ("has_text", {"text": "acceptor"})]},
              num_outputs=1),
        _Case(params={"listing": {"what": "models"}},
              outputs={"model_list": [("has_text", {"text": "spliceai"}), ("has_text", {"text": "CC BY-NC 4.0"})]},
              num_outputs=1),
    ])
    return tool


def _split_vcf_tool() -> gxt.Tool:
    # awk, not genome-plugin: splitting text records needs no model, and awk is on every Galaxy host.
    # Galaxy joins the command's lines with spaces, so every awk statement ends with a semicolon.
    command = [r"""
        mkdir chunks &&
        awk -v size='$records' '
            /^\#/ { header = header \$0 "\n"; next; }
            n % size == 0 {
                if (out) close(out);
                out = sprintf("chunks/chunk_%06d.vcf", ++k);
                printf "%s", header > out;
            }
            { print > out; n++; }
        ' '$vcf'"""]
    tool = _new_tool("split_vcf", "Split a VCF", "into a collection of chunks, to score them in parallel", command,
                     reference=False, version_command=_AWK_VERSION)
    tool.requirements = _awk_requirement()
    tool.inputs.append(gxp.DataParam("vcf", format="vcf", label="Variants (VCF)"))
    tool.inputs.append(gxp.IntegerParam("records", value=1000, min=1, label="Records per chunk"))
    tool.outputs.append(_collection("chunks", "${tool.name} on ${on_string}: chunks",
                                    r"chunk_(?P<designation>\d+)\.vcf", "vcf", directory="chunks"))
    tool.help = _help(
        "Splits a VCF into chunks of at most N records, each a complete VCF with the full header, as a "
        "collection. Mapping the scoring tools over the collection runs the chunks as parallel jobs on the "
        "cluster behind Galaxy; the merge tool joins the results.",
        inputs=["A VCF (plain text) and the number of records per chunk."],
        outputs=["A list collection of VCFs ``000001``, ``000002``, ... in file order."],
        example="The two bundled test variants with 1 record per chunk give a collection of two VCFs.",
        limitations=["A VCF without records gives an empty collection."])
    tool.tests = _tests([
        _Case(params={"vcf": "two_variants.vcf", "records": "1"},
              outputs={"chunks": _Coll(2, {"000001": [("has_text", {"text": "#CHROM"}),
                                                      ("has_text", {"text": "GSS_intron3_acceptor-2_snv"}),
                                                      ("not_has_text", {"text": "EDEM2_intron3_acceptor-2_snv"})],
                                          "000002": [("has_text", {"text": "EDEM2_intron3_acceptor-2_snv"})]})},
              num_outputs=1),
    ])
    return tool


def _merge_tool() -> gxt.Tool:
    command = [r"""
        #if str($kind) == "vcf"
            awk 'NR == FNR || !/^\#/'
        #else
            awk 'NR == FNR || FNR > 1'
        #end if
        #for $part in $parts
            '$part'
        #end for
        > '$merged'"""]
    tool = _new_tool("merge_tables", "Merge chunked results", "(tables or VCFs) into one, keeping one header",
                     command, reference=False, version_command=_AWK_VERSION)
    tool.requirements = _awk_requirement()
    tool.inputs.append(gxp.DataParam("parts", format="tabular,vcf", multiple=True, label="Chunks, in order",
                                     help="A collection of the scoring tools' tables or VCFs"))
    tool.inputs.append(gxp.SelectParam("kind", label="Header", default="table",
                                       options={"table": "One header line (tables)",
                                                "vcf": "VCF header (lines starting with #)"}))
    tool.outputs.append(gxp.OutputData("merged", None, format_source="parts",
                                       label="${tool.name} on ${on_string}"))
    tool.help = _help(
        "Concatenates the outputs of chunked jobs in collection order, keeping the header of the first "
        "chunk only: the scoring tables of ``Score variants`` / ``SpliceAI``, or their annotated VCFs.",
        inputs=["A collection (or several datasets) of tables or VCFs with identical headers."],
        outputs=["One table or VCF."],
        example="The two ``scores.tsv`` tables of two single-variant chunks give one table with one header "
                "line and both variants.",
        limitations=["Headers are not compared: merge only chunks of one job."])
    tool.tests = _tests([
        _Case(params={"parts": "ref_mismatch.vcf,missing_contig.vcf", "kind": "vcf"},
              outputs={"merged": [("has_text", {"text": "#CHROM", "n": "1"}), ("has_text", {"text": "ref_mismatch"}),
                                  ("has_text", {"text": "missing_contig"})]},
              num_outputs=1),
    ])
    return tool


# `-W version` is the one version option gawk, mawk and busybox awk share.
_AWK_VERSION = "awk -W version 2>&1 | head -n 1"


def _awk_requirement() -> gxp.Requirements:
    requirements = gxp.Requirements()
    requirements.append(gxp.Requirement("package", "gawk", version="5.3.1"))
    return requirements


# ----------------------------------------------------------------------------------------------------------
# The workflow: split a VCF, score the chunks in parallel, merge


WORKFLOW = "score-vcf-in-chunks"
_SCORER_IN_WORKFLOW = "gene_mask_splicing_splice_sites_all"


def _workflow() -> str:
    """A Galaxy workflow (.ga): split a VCF into a collection, map ``Score variants`` over it, merge the results."""
    version = f"{__version__}+galaxy{VERSION_SUFFIX}"
    connected = {"__class__": "ConnectedValue"}

    def data_input(step: int, label: str, datatype: str, annotation: str) -> dict[str, Any]:
        return _workflow_step(step, "data_input", label=label, annotation=annotation,
                              tool_state={"optional": False, "format": [datatype]},
                              inputs=[{"name": label, "description": annotation}],
                              outputs=[{"name": "output", "type": datatype}])

    def parameter(step: int, label: str, default: int, annotation: str) -> dict[str, Any]:
        return _workflow_step(step, "parameter_input", label=label, annotation=annotation,
                              tool_state={"parameter_type": "integer", "optional": False, "default": default},
                              inputs=[{"name": label, "description": annotation}],
                              outputs=[{"name": "output", "type": "integer"}])

    def tool(step: int, tool_id: str, label: str, annotation: str, state: dict[str, Any],
             connections: dict[str, tuple[int, str]], outputs: dict[str, str],
             workflow_outputs: dict[str, str] | None = None) -> dict[str, Any]:
        return _workflow_step(
            step, "tool", label=label, annotation=annotation, tool_id=f"{TOOL_PREFIX}{tool_id}", tool_version=version,
            tool_state={**state, "__page__": None, "__rerun_remap_job_id__": None},
            input_connections={name: {"id": source, "output_name": output}
                               for name, (source, output) in connections.items()},
            outputs=[{"name": name, "type": datatype} for name, datatype in outputs.items()],
            workflow_outputs=[{"label": label, "output_name": name, "uuid": None}
                              for name, label in (workflow_outputs or {}).items()])

    steps = [
        data_input(0, "Variants (VCF)", "vcf", "The variants to score"),
        data_input(1, "Reference genome (FASTA)", "fasta", "The genome the VCF was called against"),
        data_input(2, "Gene annotation (GTF)", "gtf", "Genes for the gene-level splicing scorer"),
        parameter(3, "Records per chunk", 1000, "Each chunk becomes one scoring job"),
        parameter(4, "Model input window (bp)", 16384, "Sequence around each variant the model sees"),
        tool(5, "split_vcf", "Split into chunks", "One VCF per chunk, as a collection",
             {"vcf": connected, "records": connected}, {"vcf": (0, "output"), "records": (3, "output")},
             {"chunks": "input"}),
        tool(6, "score", "Score each chunk", f"SpliceAI with the {_SCORER_IN_WORKFLOW} scorer, one job per chunk", {
            "reference": {"source": "history", "__current_case__": 1, "fasta": connected},
            "model": {"source": "spliceai", "__current_case__": 0, "scorers": [_SCORER_IN_WORKFLOW]},
            "vcf": connected, "gtf": connected, "tracks": "", "sequence_length": connected, "top_n": "3",
            "rc_average": False,
        }, {"reference|fasta": (1, "output"), "vcf": (5, "chunks"), "gtf": (2, "output"),
            "sequence_length": (4, "output")},
            {"scores_vcf": "vcf", "scores_tsv": "tabular", "scores_h5ad": "input"}),
        tool(7, "merge_tables", "Merge the tables", "One scores table, one header",
             {"parts": connected, "kind": "table"}, {"parts": (6, "scores_tsv")}, {"merged": "input"},
             {"merged": "merged_scores_table"}),
        tool(8, "merge_tables", "Merge the VCFs", "One annotated VCF, one header",
             {"parts": connected, "kind": "vcf"}, {"parts": (6, "scores_vcf")}, {"merged": "input"},
             {"merged": "merged_scores_vcf"}),
    ]
    workflow = {
        "a_galaxy_workflow": "true",
        "annotation": "Split a VCF into chunks, score every chunk in parallel with a model (SpliceAI by default), "
                      "merge the tables and VCFs: how Galaxy spreads scoring over its cluster.",
        "creator": [{"class": "Organization", "name": "genome-plugin developers"}],
        "format-version": "0.1",
        "license": "Apache-2.0",
        "name": "genome-plugin: score a VCF in parallel chunks",
        "steps": {str(step["id"]): step for step in steps},
        "tags": ["genome-plugin", "variant-scoring"],
        "version": 1,
    }
    return json.dumps(workflow, indent=4) + "\n"


def _workflow_step(step: int, kind: str, *, label: str, annotation: str, tool_id: str | None = None,
                   tool_version: str | None = None, tool_state: dict[str, Any],
                   inputs: list[dict[str, str]] | None = None, input_connections: dict[str, Any] | None = None,
                   outputs: list[dict[str, str]], workflow_outputs: list[dict[str, Any]] | None = None,
                   ) -> dict[str, Any]:
    return {
        "annotation": annotation,
        "id": step,
        "input_connections": input_connections or {},
        "inputs": inputs or [],
        "label": label,
        "name": tool_id or label,
        "outputs": outputs,
        "position": {"left": 250 * (step // 3), "top": 150 * (step % 3)},
        "tool_id": tool_id,
        "tool_state": json.dumps(tool_state, sort_keys=True),
        "tool_version": tool_version,
        "type": kind,
        "workflow_outputs": workflow_outputs or [],
    }


def _workflow_tests() -> str:
    ids = TEST_SUBSETS["two_variants.vcf"][1]
    return f"""\
- doc: Two variants split into single-record chunks, scored with SpliceAI as two jobs, merged
  job:
    Variants (VCF):
      class: File
      path: ../test-data/two_variants.vcf
      filetype: vcf
    Reference genome (FASTA):
      class: File
      path: ../test-data/chr20_slice.fa
      filetype: fasta
    Gene annotation (GTF):
      class: File
      path: ../test-data/genes.gtf
      filetype: gtf
    Records per chunk: 1
    Model input window (bp): 12288
  outputs:
    merged_scores_table:
      asserts:
        - that: has_text
          text: variant_scorer
          n: 1
        - that: has_text_matching
          expression: "chr20:110811:T>C.*GSS.*{_SCORER_IN_WORKFLOW}"
        - that: has_text_matching
          expression: "chr20:310283:T>C.*EDEM2.*{_SCORER_IN_WORKFLOW}"
    merged_scores_vcf:
      asserts:
        - that: has_text
          text: "#CHROM"
          n: 1
        - that: has_text
          text: {ids[0]}
        - that: has_text
          text: {ids[1]}
"""


def _rc_average_param() -> gxp.BooleanParam:
    # Booleans stay unquoted in commands (``$rc_average``, ``$mask``): Galaxy writes their fixed truevalue or an
    # empty falsevalue, which quoted would be an empty argument. Every other ``$param`` is single-quoted.
    return gxp.BooleanParam(None, argument="--rc-average", checked=False,
                            label="Average the forward and the reverse-complement prediction")


def _filtered(output: gxp.OutputData, condition: str) -> gxp.OutputData:
    output.append(gxp.OutputFilter(condition))
    return output


# ----------------------------------------------------------------------------------------------------------
# Help, tests and the files beside the tools


def _help(summary: str, *, inputs: Sequence[str], outputs: Sequence[str], example: str, limitations: Sequence[str],
          models: Mapping[str, Any] | None = None, licence: str | None = None) -> str:
    """The RST help: what the tool does, inputs, outputs, an example, models, limitations, licences."""

    def bullets(items: Iterable[str]) -> str:
        return "\n".join(f"- {item}" for item in items)

    licences = ["genome-plugin is Apache-2.0."]
    if licence:
        licences.append(licence)
    elif models:
        licences += ["Each model's licence is listed under Models.", _SPLICEAI_LICENCE_NOTE]
    sections = [("What it does", summary), ("Inputs", bullets(inputs)), ("Outputs", bullets(outputs)),
                ("Example", example)]
    if models is not None:
        sections.append(("Models", _model_help(models)))
    sections += [("Limitations", bullets(limitations)), ("Licences", " ".join(licences)),
                 ("More", "Every tool runs the ``genome-plugin`` command line; the same job runs outside Galaxy "
                          "with the options shown in the job's command line.")]
    return "\n\n".join(f"**{title}**\n\n{body}" for title, body in sections) + "\n"


@dataclasses.dataclass(frozen=True)
class _Coll:
    """Expected output collection: element count (None: not checked) and assertions per element."""

    count: int | None
    elements: Mapping[str, Sequence[tuple[str, dict[str, str]]]]
    min: int | None = None


@dataclasses.dataclass(frozen=True)
class _Case:
    """One tool test: parameters (nested dicts for conditionals) and expected outputs, or a failure.

    ``failure`` is text the tool's error message must contain (the test expects a non-zero exit).
    """

    params: Mapping[str, Any]
    outputs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    num_outputs: int | None = None
    failure: str | None = None


_FTYPES = {".fa": "fasta", ".vcf": "vcf", ".bed": "bed", ".gtf": "gtf"}


def _h5ad_asserts(*keys: str) -> list[tuple[str, dict[str, str]]]:
    return [("has_h5_attribute", {"key": "encoding-type", "value": "anndata"}),
            ("has_h5_keys", {"keys": ",".join(("X", "obs", "var", *keys))})]


# bigWig is binary and has no assertion of its own: a 1 kb track with data is well over 1,000 bytes.
_BIGWIG_ASSERTS = [("has_size", {"min": "1000"})]


def _png_asserts() -> list[tuple[str, dict[str, str]]]:
    return [("has_image_width", {"min": "200"}), ("has_image_height", {"min": "100"})]


def _tests(cases: Sequence[_Case]) -> gxp.Tests:
    tests = gxp.Tests()
    for case in cases:
        attrs = {"expect_failure": "true"} if case.failure else {}
        if case.num_outputs is not None:
            attrs["expect_num_outputs"] = str(case.num_outputs)
        test = etree.SubElement(tests.node, "test", attrs)
        _test_params(test, case.params)
        for name, expected in case.outputs.items():
            if isinstance(expected, _Coll):
                coll_attrs = {"name": name, "type": "list"}
                if expected.count is not None:
                    coll_attrs["count"] = str(expected.count)
                if expected.min is not None:
                    coll_attrs["min"] = str(expected.min)
                collection = etree.SubElement(test, "output_collection", coll_attrs)
                # Galaxy discovers a collection's files sorted by name, and planemo checks elements in that order.
                for element, asserts in sorted(expected.elements.items()):
                    _assert_contents(etree.SubElement(collection, "element", {"name": element}), asserts)
            else:
                _assert_contents(etree.SubElement(test, "output", {"name": name}), expected)
        if case.failure:
            _assert_contents(test, [("has_text", {"text": case.failure})], tag="assert_stderr")
    return tests


def _test_params(parent: etree._Element, params: Mapping[str, Any]) -> None:
    for name, value in params.items():
        if isinstance(value, Mapping):
            _test_params(etree.SubElement(parent, "conditional", {"name": name}), value)
            continue
        attrs = {"name": name, "value": str(value)}
        ftype = _FTYPES.get(Path(str(value)).suffix)
        if ftype and (str(value) in TEST_FILES or str(value) in TEST_SUBSETS):
            attrs["ftype"] = ftype
        etree.SubElement(parent, "param", attrs)


def _assert_contents(parent: etree._Element, asserts: Sequence[tuple[str, dict[str, str]]], *,
                     tag: str = "assert_contents") -> None:
    """``<assert_contents>`` (galaxyxml has no class for it) with one element per assertion."""
    if asserts:
        block = etree.SubElement(parent, tag)
        for assertion, attrs in asserts:
            etree.SubElement(block, assertion, attrs)


def _sanitize(param: gxp.Param, *, valid: str = "default", allow: str = "",
              mapping: Mapping[str, str] | None = None) -> None:
    """A ``<sanitizer>`` keeping the ``valid`` preset plus ``allow``, dropping any other character.

    ``mapping`` replaces characters first (Galaxy's default mapping, ``'`` -> ``__sq__`` and so on, is off).
    """
    sanitizer = etree.SubElement(param.node, "sanitizer", {"invalid_char": ""})
    kept = etree.SubElement(sanitizer, "valid", {"initial": valid})
    if allow:
        etree.SubElement(kept, "add", {"value": allow})
    if mapping is not None:
        replaced = etree.SubElement(sanitizer, "mapping", {"initial": "none"})
        for source, target in mapping.items():
            etree.SubElement(replaced, "add", {"source": source, "target": target})


def _export(tool: gxt.Tool) -> str:
    """The tool XML with the ``xrefs`` and ``creator`` macros placed where the IUC linters expect them."""
    root = etree.fromstring(tool.export().encode(), etree.XMLParser(strip_cdata=False))
    macros = root.find("macros")
    assert macros is not None
    macros.addnext(etree.Element("expand", {"macro": "xrefs"}) if root.get("id") == f"{TOOL_PREFIX}spliceai"
                   else etree.Comment(" no bio.tools entry for genome-plugin yet "))
    root.append(etree.Element("expand", {"macro": "creator"}))
    etree.indent(root, space="    ")
    return etree.tostring(root, encoding="unicode") + "\n"


def _macros() -> str:
    return f"""\
<macros>
    <token name="@TOOL_VERSION@">{__version__}</token>
    <token name="@VERSION_SUFFIX@">{VERSION_SUFFIX}</token>
    <token name="@PROFILE@">{PROFILE}</token>
    <xml name="requirements">
        <requirements>
            <!-- Resolved from the environment Galaxy runs jobs in (conda packaging of genome-plugin is pending). -->
            <requirement type="package" version="@TOOL_VERSION@">genome-plugin</requirement>
        </requirements>
    </xml>
    <xml name="xrefs">
        <xrefs>
            <xref type="bio.tools">spliceai</xref>
        </xrefs>
    </xml>
    <xml name="creator">
        <creator>
            <organization name="genome-plugin developers"/>
        </creator>
    </xml>
    <xml name="reference_genome">
        <conditional name="reference">
            <param name="source" type="select" label="Reference genome">
                <option value="cached" selected="true">A genome cached on this server</option>
                <option value="history">A FASTA file from your history</option>
            </param>
            <when value="cached">
                <param name="fasta" type="select" label="Genome" help="The genome the coordinates refer to">
                    <options from_data_table="all_fasta">
                        <filter type="sort_by" column="2"/>
                        <validator type="no_options" message="No reference genomes are cached on this server"/>
                    </options>
                </param>
            </when>
            <when value="history">
                <param name="fasta" type="data" format="fasta" label="Reference genome (FASTA)"/>
            </when>
        </conditional>
    </xml>
    <xml name="citations">
        <citations>
            <citation type="doi">{CITATIONS["alphagenome"]}</citation>
            <citation type="doi">{CITATIONS["spliceai"]}</citation>
        </citations>
    </xml>
</macros>
"""


def _shed_yml() -> str:
    categories = "\n".join(f"  - {c}" for c in SHED_CATEGORIES)
    return f"""\
# Generated by `genome-plugin galaxy-tools`; one Tool Shed repository per tool plus a suite repository.
owner: {SHED_OWNER}
description: Sequence-to-function models (SpliceAI, AlphaGenome architecture, plugins) as Galaxy tools
long_description: |
  Predict genome tracks, score variants (VCF), contact maps, in silico mutagenesis and SpliceAI delta
  scores with the genome-plugin package, on the Galaxy server's own CPU or accelerator. Every result is
  AnnData (h5ad), with bigWig, .cool, VCF and tables beside it.
categories:
{categories}
include:
  - "*.xml"
  - README.md
  - tool_data_table_conf.xml.sample
  - tool_data_table_conf.xml.test
  - tool-data/*.loc.sample
  - test-data/*
auto_tool_repositories:
  name_template: "{{{{ tool_id }}}}"
  description_template: "{{{{ tool_name }}}}: {{{{ description }}}} (genome-plugin)"
suite:
  name: suite_genome_plugin
  description: "genome-plugin: every tool of the suite"
  long_description: |
    Installs every genome-plugin tool: track prediction, variant scoring, contact maps, in silico
    mutagenesis, SpliceAI scoring and the model/track listing.
"""


def _readme() -> str:
    return f"""\
# genome-plugin Galaxy tools

Generated by `genome-plugin galaxy-tools --builtin-only --out galaxy/` from the plugin registry: do not edit
by hand (a test fails when this folder differs from the generator's output). Run the generator without
`--builtin-only` on a server with extra plugins installed and their models, scorers and formats appear in
the tools' selects.

| Tool | Command it runs | Outputs |
|------|-----------------|---------|
| `genome_plugin_predict` | `genome-plugin predict` | h5ad per output type; bigWig, bedGraph, TSV, PNG on request |
| `genome_plugin_score` | `genome-plugin score` | annotated VCF, tidy table, h5ad per scorer |
| `genome_plugin_ism` | `genome-plugin ism` | h5ad, table, sequence logos |
| `genome_plugin_contact_map` | `genome-plugin contact-map` | .cool per track, h5ad, heatmaps (with a map model) |
| `genome_plugin_spliceai` | `genome-plugin spliceai` | VCF with `SpliceAI=`, table, h5ad |
| `genome_plugin_models` | `genome-plugin models` | track table of a model, or the model list |
| `genome_plugin_split_vcf`, `genome_plugin_merge_tables` | awk | VCF chunks as a collection; one merged table/VCF |

`workflows/{WORKFLOW}.ga` splits a VCF into chunks, scores each chunk as its own job (Galaxy's job
runners put them on the cluster) and merges the tables and VCFs; `workflows/{WORKFLOW}-tests.yml` is its
planemo test.

## For Galaxy administrators

**The `genome-plugin` requirement.** Every tool requires the package `genome-plugin` at the suite's
version (`@TOOL_VERSION@` in `macros.xml`). There is no conda package yet, so conda cannot resolve it.
Install the package into a virtual environment on the machines that run the jobs
(`python3.11 -m venv /opt/genome-plugin && /opt/genome-plugin/bin/pip install "genome-plugin[spliceai]=={__version__}"`)
and let Galaxy's `galaxy_packages` dependency resolver (on by default) find it: create
`<tool_dependency_dir>/genome-plugin/{__version__}/env.sh` containing

```sh
PATH="/opt/genome-plugin/bin:$PATH"; export PATH
```

(or put that `bin/` first on the PATH of the job environment in `job_conf.yml`). What conda resolution
still needs: a conda-forge/bioconda recipe for `genome-plugin` (its dependencies jax, flax, orbax,
anndata, pyBigWig, cooler, pysam, pyfaidx and pyranges all have conda-forge packages) and a mulled
container; the `spliceai` weights package is on PyPI only.

**Caches shared by all jobs** (each job otherwise starts from an empty home directory): set
`GENOME_PLUGIN_CACHE` (converted model weights, e.g. SpliceAI's) and `JAX_COMPILATION_CACHE_DIR`
(compiled model functions) to writable shared folders in the job environment.

**Data tables.** `all_fasta` (the standard table of reference genomes, with `.fai` beside each FASTA) and
`genome_plugin_models` (model checkpoints, e.g. AlphaGenome weights converted with
`genome-plugin convert-weights`); see `tool-data/*.loc.sample`.

**Licences.** genome-plugin is Apache-2.0. {_SPLICEAI_LICENCE_NOTE}

## Testing

`tool_tests/run_all.sh` (repository root) starts a real Galaxy {GALAXY_RELEASE} on loopback, runs every tool
test and the workflow test with `planemo test`, then publishes this folder to a local Tool Shed,
installs it with ephemeris, tests the installed tools and an upgrade to a second revision.
"""


def _data_tables(loc_path: str) -> str:
    tables = {"all_fasta": "value, dbkey, name, path", "genome_plugin_models": "value, name, model, path"}
    body = "".join(f"""\
    <table name="{name}" comment_char="#" allow_duplicate_entries="False">
        <columns>{columns}</columns>
        <file path="{loc_path.format(name)}"/>
    </table>
""" for name, columns in tables.items())
    return f"<tables>\n{body}</tables>\n"


_ALL_FASTA_SAMPLE = """\
# Reference genomes for the genome-plugin tools (the standard all_fasta table, shared with other tools).
# Columns (tab-separated): value, dbkey, name, path to the FASTA (with its .fai index beside it).
#hg38<TAB>hg38<TAB>Human (Homo sapiens): hg38<TAB>/data/genomes/hg38/hg38.fa
"""

_MODELS_SAMPLE = """\
# Model checkpoints for the genome-plugin tools (the genome_plugin_models table).
# Columns (tab-separated): value (unique id), name (shown to users), model (the registered model name the
# checkpoint is for, as listed by `genome-plugin models`), path (the checkpoint directory, e.g. written by
# `genome-plugin convert-weights --from alphagenome CHECKPOINT --out DIR`).
#alphagenome_v1<TAB>AlphaGenome (official weights, converted)<TAB>alphagenome<TAB>/data/genome_plugin/alphagenome_v1
"""

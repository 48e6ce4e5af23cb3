"""Official AlphaGenome track metadata: a small text-protobuf reader and the per-head track tables.

The official ``OutputMetadataResponse`` textprotos (one per organism) list every track of every
output type in head order, padding rows included. We read them without the ``alphagenome`` SDK
(which is not needed at run time): ``parse_textproto`` handles the subset of the text format these
files use (nested messages, repeated fields, quoted strings with C escapes, numbers, enums, bools).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from genome_plugin.errors import InputError

__all__ = [
    "ORGANISM_NAMES",
    "OUTPUT_TYPE_TO_HEAD",
    "TrackMetadata",
    "parse_textproto",
    "read_output_metadata",
]

# Official output-type enum -> our head name.
OUTPUT_TYPE_TO_HEAD = {
    "OUTPUT_TYPE_ATAC": "atac",
    "OUTPUT_TYPE_CAGE": "cage",
    "OUTPUT_TYPE_DNASE": "dnase",
    "OUTPUT_TYPE_RNA_SEQ": "rna_seq",
    "OUTPUT_TYPE_CHIP_HISTONE": "chip_histone",
    "OUTPUT_TYPE_CHIP_TF": "chip_tf",
    "OUTPUT_TYPE_SPLICE_SITES": "splice_sites_classification",
    "OUTPUT_TYPE_SPLICE_SITE_USAGE": "splice_sites_usage",
    "OUTPUT_TYPE_SPLICE_JUNCTIONS": "splice_sites_junction",
    "OUTPUT_TYPE_CONTACT_MAPS": "contact_maps",
    "OUTPUT_TYPE_PROCAP": "procap",
}
ORGANISM_NAMES = {"ORGANISM_HOMO_SAPIENS": "human", "ORGANISM_MUS_MUSCULUS": "mouse"}
_STRANDS = {"STRAND_POSITIVE": "+", "STRAND_NEGATIVE": "-", "STRAND_UNSTRANDED": "."}
_CURIE_PREFIX = {"ONTOLOGY_TYPE_CL": "CL", "ONTOLOGY_TYPE_CLO": "CLO", "ONTOLOGY_TYPE_EFO": "EFO",
                 "ONTOLOGY_TYPE_NTR": "NTR", "ONTOLOGY_TYPE_UBERON": "UBERON"}  # fmt: skip

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
      | (?P<punct>[{}:<>\[\],;])
      | (?P<word>[A-Za-z0-9_.+\-]+)
    )""",
    re.VERBOSE,
)
_SIMPLE_ESCAPES = {"n": 10, "t": 9, "r": 13, "'": 39, '"': 34, "\\": 92, "a": 7, "b": 8, "f": 12, "v": 11, "?": 63}


def _unescape(body: str) -> str:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[nxt])
            i += 2
        elif nxt in "01234567":
            digits = re.match(r"[0-7]{1,3}", body[i + 1 :]).group(0)
            out.append(int(digits, 8))
            i += 1 + len(digits)
        elif nxt == "x":
            digits = re.match(r"[0-9A-Fa-f]{1,2}", body[i + 2 :]).group(0)
            out.append(int(digits, 16))
            i += 2 + len(digits)
        else:
            msg = f"unsupported escape \\{nxt} in text protobuf string"
            raise InputError(msg)
    return out.decode("utf-8")


def _scalar(word: str):
    if word in ("true", "True"):
        return True
    if word in ("false", "False"):
        return False
    try:
        return int(word)
    except ValueError:
        pass
    try:
        return float(word)
    except ValueError:
        return word  # enum value


def parse_textproto(text: str, *, source: str = "<text>") -> dict:
    """Parse protobuf text format into nested dicts; every field maps to a list of values (repeated or not)."""
    tokens = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip() == "":
                break
            line = text.count("\n", 0, pos) + 1
            msg = f"{source}: cannot parse text protobuf at line {line}: {text[pos : pos + 40]!r}"
            raise InputError(msg)
        pos = m.end()
        kind = m.lastgroup
        if kind == "comment" or kind is None:
            continue
        tokens.append((kind, m.group(kind), m.start()))

    def where(offset: int) -> str:
        return f"{source}: line {text.count(chr(10), 0, offset) + 1}"

    def parse_message(i: int, closing: str | None) -> tuple[dict, int]:
        message: dict[str, list] = {}
        while i < len(tokens):
            kind, value, offset = tokens[i]
            if kind == "punct" and value == closing:
                return message, i + 1
            if kind != "word":
                msg = f"{where(offset)}: expected a field name, got {value!r}"
                raise InputError(msg)
            name = value
            i += 1
            if i < len(tokens) and tokens[i][1] == ":":
                i += 1
            kind, value, offset = tokens[i]
            if kind == "punct" and value in "{<":
                child, i = parse_message(i + 1, "}" if value == "{" else ">")
                message.setdefault(name, []).append(child)
            elif kind == "string":
                parts = []
                while i < len(tokens) and tokens[i][0] == "string":  # adjacent literals concatenate
                    parts.append(_unescape(tokens[i][1][1:-1]))
                    i += 1
                message.setdefault(name, []).append("".join(parts))
            elif kind == "word":
                message.setdefault(name, []).append(_scalar(value))
                i += 1
            else:
                msg = f"{where(offset)}: unexpected {value!r} after field {name!r}"
                raise InputError(msg)
            if i < len(tokens) and tokens[i][1] in (",", ";"):
                i += 1
        if closing is not None:
            msg = f"{source}: unterminated message (missing {closing!r})"
            raise InputError(msg)
        return message, i

    message, _ = parse_message(0, None)
    return message


def _first(message: dict, field: str, default=None):
    values = message.get(field)
    return values[0] if values else default


def _track_row(meta: dict) -> dict:
    ontology = _first(meta, "ontology_term", {})
    biosample = _first(meta, "biosample", {})
    curie = ""
    if ontology:
        prefix = _CURIE_PREFIX.get(_first(ontology, "ontology_type", ""), str(_first(ontology, "ontology_type", "")))
        curie = f"{prefix}:{int(_first(ontology, 'id', 0)):07d}"
    biosample_type = str(_first(biosample, "type", ""))
    return {
        "name": _first(meta, "name", ""),
        "strand": _STRANDS.get(_first(meta, "strand", "STRAND_UNSTRANDED"), "."),
        "Assay title": _first(meta, "assay", ""),
        "ontology_curie": curie,
        "biosample_name": _first(biosample, "name", ""),
        "biosample_type": biosample_type.removeprefix("BIOSAMPLE_TYPE_").lower(),
        "biosample_life_stage": _first(biosample, "stage", ""),
        "transcription_factor": _first(meta, "transcription_factor_code", ""),
        "histone_mark": _first(meta, "histone_mark_code", ""),
        "gtex_tissue": _first(meta, "gtex_tissue", ""),
        "data_source": _first(meta, "data_source", ""),
        "endedness": str(_first(meta, "endedness", "")).removeprefix("ENDEDNESS_").lower(),
        "genetically_modified": bool(_first(meta, "genetically_modified", False)),
        "nonzero_mean": float(_first(meta, "nonzero_mean", float("nan"))),
    }


class TrackMetadata:
    """Track tables of one organism: ``tables[head_name]`` is a DataFrame in head order (padding included)."""

    def __init__(self, organism: str, tables: dict[str, pd.DataFrame]):
        self.organism = organism
        self.tables = tables

    def num_tracks(self, head: str) -> int:
        """Head width; for the junction head, the number of tissues."""
        return len(self.tables[head])

    def track_means(self, head: str):
        """``nonzero_mean`` per track, 1.0 where the column is missing or NaN (padding), as the official heads do."""
        means = self.tables[head]["nonzero_mean"].to_numpy(dtype=np.float64)
        return np.where(np.isnan(means), 1.0, means)


def read_output_metadata(path: str | Path) -> TrackMetadata:
    """Read one official ``OutputMetadataResponse`` textproto into per-head track tables."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        msg = f"{path}: cannot read track metadata ({err.strerror})"
        raise InputError(msg) from err
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        msg = (f"{path}, line {line}: byte 0x{data[err.start]:02x} is not UTF-8 text; --metadata takes the official "
               "OutputMetadataResponse textprotos")
        raise InputError(msg) from None
    message = parse_textproto(text, source=str(path))
    if "output_metadata" not in message:
        msg = f"{path}: no output_metadata entries; is this an OutputMetadataResponse textproto?"
        raise InputError(msg)
    organism = next((name for key, name in ORGANISM_NAMES.items() if key in path.name), None)
    if organism is None:
        msg = f"{path}: cannot tell the organism from the file name (expected one of {sorted(ORGANISM_NAMES)})"
        raise InputError(msg)
    tables = {}
    for entry in message["output_metadata"]:
        output_type = _first(entry, "output_type", "")
        head = OUTPUT_TYPE_TO_HEAD.get(output_type)
        if head is None:
            msg = f"{path}: unknown output_type {output_type!r}"
            raise InputError(msg)
        container = _first(entry, "tracks") or _first(entry, "junctions") or {}
        rows = [_track_row(meta) for meta in container.get("metadata", [])]
        if not rows:
            msg = f"{path}: output type {output_type} has no tracks"
            raise InputError(msg)
        tables[head] = pd.DataFrame(rows)
    return TrackMetadata(organism, tables)

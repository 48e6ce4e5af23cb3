"""The scoring ledger on disk: scored variants land here in parts, so a killed run resumes where it stopped.

Layout of ``<out_dir>/.genome_plugin_checkpoint/``:

- ``manifest.json``: the run's fingerprint (VCF checksum, model, scorers, window settings, region or
  chunk). Resuming with different settings is refused rather than mixing two runs' scores.
- ``part-NNNNN.npz``: the scores of a batch of variants (entry numbers, per scorer the rows'
  metadata as JSON and the values). A part is written to a temporary name and renamed, so a run
  killed mid-write leaves no half part: its variants are simply scored again on resume.

Nothing here is pickled; parts are plain ``.npz`` arrays and JSON strings.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.errors import GenomePluginError
from genome_plugin.scoring.base import ScoreResult

__all__ = ["CHECKPOINT_DIR", "Checkpoint", "Stored", "file_sha256"]

log = logging.getLogger(__name__)
CHECKPOINT_DIR = ".genome_plugin_checkpoint"


@dataclasses.dataclass
class Stored:
    """The ledger's content: per entry its window; per scorer its rows, values, each row's entry (``owner``)
    and, aligned with ``entries``, the reason a scorer gave no result (empty when it did)."""

    entries: np.ndarray
    windows: np.ndarray
    rows: list[pd.DataFrame]
    values: list[np.ndarray]
    owner: list[np.ndarray]
    reasons: list[np.ndarray]


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Checkpoint:
    """Parts of scored entries for one run (one ``out_dir``)."""

    def __init__(self, out_dir: str | os.PathLike[str], fingerprint: Mapping[str, Any], *, resume: bool) -> None:
        self.path = Path(out_dir) / CHECKPOINT_DIR
        self.fingerprint = json.loads(json.dumps(fingerprint, sort_keys=True, default=str))
        manifest = self.path / "manifest.json"
        if resume and manifest.exists():
            stored = json.loads(manifest.read_text())
            if stored != self.fingerprint:
                changed = sorted(k for k in set(stored) | set(self.fingerprint)
                                 if stored.get(k) != self.fingerprint.get(k))
                msg = (f"cannot resume: the checkpoint in {self.path} was made with different settings "
                       f"({', '.join(changed)} differ); rerun without --resume to start over")
                raise GenomePluginError(msg)
        else:
            if resume:
                log.info("no checkpoint in %s: scoring from the beginning", self.path)
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            tmp = manifest.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.fingerprint, sort_keys=True, indent=1))
            os.replace(tmp, manifest)
        self._next = 1 + max((int(p.stem.split("-")[1]) for p in self.path.glob("part-*.npz")), default=0)

    def done(self) -> set[int]:
        """Entry numbers already scored in earlier parts."""
        found: set[int] = set()
        for part in self._parts():
            with np.load(part) as data:
                found.update(int(e) for e in data["entries"])
        return found

    def write(self, entries: list[int], windows: list[str], results: list[list[ScoreResult | str]]) -> None:
        """Store one part: per entry its window and one result (or an error reason) per scorer."""
        arrays: dict[str, np.ndarray] = {
            "entries": np.asarray(entries, dtype=np.int64),
            "windows": np.asarray(windows, dtype=str),
        }
        for k in range(len(results[0]) if results else 0):
            records: list[dict[str, Any]] = []
            values, owner, reasons = [], [], []
            for entry, per_scorer in zip(entries, results):
                result = per_scorer[k]
                if isinstance(result, str):
                    reasons.append(result)
                    continue
                reasons.append("")
                if len(result.rows.columns):
                    records += result.rows.to_dict("records")
                else:
                    records += [{}] * len(result.rows)
                if len(result.rows):
                    values.append(result.values)
                owner += [entry] * len(result.rows)
            frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
            arrays[f"rows{k}"] = np.asarray(frame.to_json(orient="split", index=False))
            arrays[f"values{k}"] = np.concatenate(values) if values else np.zeros((0, 0), dtype=np.float32)
            arrays[f"owner{k}"] = np.asarray(owner, dtype=np.int64)
            arrays[f"reasons{k}"] = np.asarray(reasons, dtype=str)
        final = self.path / f"part-{self._next:05d}.npz"
        tmp = self.path / f"part-{self._next:05d}.tmp.npz"
        np.savez(tmp, **arrays)
        os.replace(tmp, final)
        self._next += 1

    def _parts(self) -> list[Path]:
        return sorted(p for p in self.path.glob("part-*.npz") if ".tmp" not in p.name)

    def read(self, n_tracks: Sequence[int]) -> Stored:
        """Everything stored, for scorers with ``n_tracks`` tracks each (parts concatenated)."""
        entries, windows = [], []
        per_scorer: list[tuple[list, list, list, list]] = [([], [], [], []) for _ in n_tracks]
        for part in self._parts():
            with np.load(part) as data:
                entries.append(data["entries"])
                windows.append(data["windows"].astype(object))
                for k, width in enumerate(n_tracks):
                    frames, values, owner, reasons = per_scorer[k]
                    split = json.loads(str(data[f"rows{k}"]))
                    rows = data[f"owner{k}"]
                    # rows without metadata columns (variant-level scorers) serialise as empty lists
                    frames.append(pd.DataFrame(split["data"], columns=split["columns"]) if split["columns"]
                                  else pd.DataFrame(index=range(len(rows))))
                    stored = data[f"values{k}"]
                    values.append(stored if len(rows) else np.zeros((0, width), dtype=np.float32))
                    owner.append(rows)
                    reasons.append(data[f"reasons{k}"].astype(object))
        return Stored(
            entries=np.concatenate(entries) if entries else np.zeros(0, dtype=np.int64),
            windows=np.concatenate(windows) if windows else np.zeros(0, dtype=object),
            rows=[pd.concat(f, ignore_index=True) if f else pd.DataFrame() for f, _, _, _ in per_scorer],
            values=[np.concatenate(v) if v else np.zeros((0, w), dtype=np.float32)
                    for (_, v, _, _), w in zip(per_scorer, n_tracks)],
            owner=[np.concatenate(o) if o else np.zeros(0, dtype=np.int64) for _, _, o, _ in per_scorer],
            reasons=[np.concatenate(r) if r else np.zeros(0, dtype=object) for _, _, _, r in per_scorer],
        )

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

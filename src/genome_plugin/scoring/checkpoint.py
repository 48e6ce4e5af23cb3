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

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.errors import GenomePluginError
from genome_plugin.scoring.base import ScoreResult

__all__ = ["CHECKPOINT_DIR", "Checkpoint", "file_sha256"]

log = logging.getLogger(__name__)
CHECKPOINT_DIR = ".genome_plugin_checkpoint"


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
            rows, values, owner, reasons = [], [], [], []
            for entry, per_scorer in zip(entries, results):
                result = per_scorer[k]
                if isinstance(result, str):
                    reasons.append(result)
                    continue
                reasons.append("")
                rows.append(result.rows)
                values.append(result.values)
                owner += [entry] * len(result.rows)
            frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
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

    def read(self, n_scorers: int) -> Iterator[tuple[int, str, list[ScoreResult | str]]]:
        """Every stored entry: (entry number, window, per scorer its result or error reason)."""
        for part in self._parts():
            with np.load(part) as data:
                entries = [int(e) for e in data["entries"]]
                windows = [str(w) for w in data["windows"]]
                per_scorer: list[dict[int, ScoreResult | str]] = []
                for k in range(n_scorers):
                    split = json.loads(str(data[f"rows{k}"]))
                    values = data[f"values{k}"]
                    owner = data[f"owner{k}"]
                    # rows without metadata columns (variant-level scorers) serialise as empty lists
                    frame = (pd.DataFrame(split["data"], columns=split["columns"]) if split["columns"]
                             else pd.DataFrame(index=range(len(owner))))
                    reasons = [str(r) for r in data[f"reasons{k}"]]
                    found: dict[int, ScoreResult | str] = {}
                    for entry, reason in zip(entries, reasons):
                        if reason:
                            found[entry] = reason
                            continue
                        take = np.flatnonzero(owner == entry)
                        width = values.shape[1] if values.ndim == 2 and values.size else 0
                        found[entry] = ScoreResult(frame.iloc[take].reset_index(drop=True),
                                                   values[take] if len(take) else np.zeros((0, width)))
                    per_scorer.append(found)
            for entry, window in zip(entries, windows):
                yield entry, window, [per_scorer[k][entry] for k in range(n_scorers)]

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

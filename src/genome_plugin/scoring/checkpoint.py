"""The scoring ledger on disk: scored variants land here in parts, so a killed run resumes where it stopped.

Layout of ``<out_dir>/.genome_plugin_checkpoint/``:

- ``manifest.json``: the run's fingerprint (VCF checksum, model, scorers, window settings, region or
  chunk). Resuming with different settings is refused rather than mixing two runs' scores.
- ``part-NNNNN.npz``: the scores of a batch of variants (entry numbers, per scorer the rows'
  metadata as JSON and the values). A part is written to a temporary name and renamed, so a run
  killed mid-write leaves no half part: its variants are simply scored again on resume. Resume
  removes such temporary parts, and a damaged part (a disk that filled up, a copy cut short) is
  named in the log, removed, and its variants scored again.

``<out_dir>/.genome_plugin.lock`` holds a POSIX lock for the whole run (pid, host and start time
inside), so a second run on the same ``out_dir`` is refused instead of deleting the first one's parts;
a finished run removes it.

Nothing here is pickled; parts are plain ``.npz`` arrays and JSON strings.
"""

from __future__ import annotations

import dataclasses
import datetime
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import weakref
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genome_plugin.errors import GenomePluginError
from genome_plugin.scoring.base import ScoreResult

__all__ = ["CHECKPOINT_DIR", "LOCK_FILE", "Checkpoint", "Stored", "file_sha256", "lock_out_dir", "unlock_out_dir"]

log = logging.getLogger(__name__)
CHECKPOINT_DIR = ".genome_plugin_checkpoint"
LOCK_FILE = ".genome_plugin.lock"
_PART = re.compile(r"^part-(\d+)\.npz$")
#: Locks this process holds: lock file -> [fd, number of users].
_HELD: dict[Path, list[int]] = {}


def lock_out_dir(out_dir: str | os.PathLike[str]) -> int:
    """Lock ``out_dir`` for this process; refuse when another process holds it. Returns the lock's fd.

    A POSIX record lock (``fcntl.lockf``): the kernel drops it when the process ends however it ends, so
    a killed run leaves no stale lock. Within one process the lock is shared and counted (an earlier
    run's checkpoint not yet collected, after an exception, must neither block a new run nor, when it
    is collected, release the new run's lock). :func:`unlock_out_dir` releases it and removes the file.
    """
    path = Path(out_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    key = path.resolve()
    if key in _HELD:
        _HELD[key][1] += 1
        return _HELD[key][0]
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "pid unknown"
            os.close(fd)
            msg = (f"{Path(out_dir)} is in use by another genome-plugin run ({holder}); wait for it to finish "
                   "or choose another --out")
            raise GenomePluginError(msg) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file between our open and lock: lock the new one
    started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n".encode(), 0)
    _HELD[key] = [fd, 1]
    return fd


def unlock_out_dir(out_dir: str | os.PathLike[str], fd: int) -> None:
    """Remove the lock file (while still holding it, so no other run can take the old one) and release it."""
    path = Path(out_dir) / LOCK_FILE
    held = _HELD.get(path.resolve())
    if held is None or held[0] != fd:
        return
    held[1] -= 1
    if held[1]:
        return
    del _HELD[path.resolve()]
    try:
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            path.unlink()
    except FileNotFoundError:
        pass
    os.close(fd)


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
        self._lock = lock_out_dir(out_dir)
        self._release = weakref.finalize(self, unlock_out_dir, out_dir, self._lock)
        manifest = self.path / "manifest.json"
        if resume and manifest.exists():
            try:
                stored = json.loads(manifest.read_text())
            except (ValueError, UnicodeDecodeError) as err:
                msg = (f"{manifest}: the checkpoint manifest is damaged ({type(err).__name__}: {err}); "
                       "rerun without --resume to start over")
                raise GenomePluginError(msg.splitlines()[0]) from err
            if stored != self.fingerprint:
                changed = sorted(k for k in set(stored) | set(self.fingerprint)
                                 if stored.get(k) != self.fingerprint.get(k)) if isinstance(stored, dict) else []
                msg = (f"cannot resume: the checkpoint in {self.path} was made with different settings "
                       f"({', '.join(changed) or 'not a settings table'} differ); rerun without --resume to "
                       "start over")
                raise GenomePluginError(msg)
            self._drop_unusable_parts()
        else:
            if resume:
                log.info("no checkpoint in %s: scoring from the beginning", self.path)
            if self.path.exists():
                shutil.rmtree(self.path)
            self.path.mkdir(parents=True)
            tmp = manifest.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.fingerprint, sort_keys=True, indent=1))
            os.replace(tmp, manifest)
        self._next = 1 + max((int(_PART.match(p.name)[1]) for p in self._parts()), default=0)

    def _drop_unusable_parts(self) -> None:
        """Remove temporary parts (a kill during a save) and damaged ones, whose variants are scored again."""
        for part in sorted(self.path.glob("part-*")):
            if not _PART.match(part.name):
                log.info("removing %s (an unfinished save of a killed run)", part)
                part.unlink()
                continue
            try:
                with np.load(part, allow_pickle=False) as data:
                    for key in data.files:  # reading every array checks every CRC
                        _ = data[key]
                    if "entries" not in data.files:
                        raise KeyError("entries")
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
                log.warning("%s is damaged (%s: %s): its variants are scored again", part, type(err).__name__,
                            str(err).splitlines()[0] if str(err) else "")
                part.unlink()

    def done(self) -> set[int]:
        """Entry numbers already scored in earlier parts."""
        found: set[int] = set()
        for part in self._parts():
            with np.load(part, allow_pickle=False) as data:
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
        return sorted(p for p in self.path.glob("part-*.npz") if _PART.match(p.name))

    def read(self, n_tracks: Sequence[int]) -> Stored:
        """Everything stored, for scorers with ``n_tracks`` tracks each (parts concatenated)."""
        entries, windows = [], []
        per_scorer: list[tuple[list, list, list, list]] = [([], [], [], []) for _ in n_tracks]
        for part in self._parts():
            with np.load(part, allow_pickle=False) as data:
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
        """Delete the checkpoint (the run is complete) and release ``out_dir``."""
        shutil.rmtree(self.path, ignore_errors=True)
        self._release()

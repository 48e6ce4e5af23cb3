"""Errors that reach users: one line that names the file, the record and what is wrong."""

from __future__ import annotations


class GenomePluginError(Exception):
    """A problem with the user's input or set-up, reported as one line by the CLI."""


class ScorerError(Exception):
    """A scorer or the model failed while scoring: a failure of the code, not of the input, so the run fails.

    Not a :class:`GenomePluginError`: the CLI reports it as an internal error (never as success with NaN rows).
    """


class InputError(GenomePluginError, ValueError):
    """Bad input data: the message names the file, the line or record, and what is wrong."""

    def __init__(self, message: str, *, path: object = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.path = path
        self.line = line

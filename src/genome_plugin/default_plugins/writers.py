"""Built-in writers (h5ad, bigWig, bedGraph, .cool, TSV, PNG), registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genome_plugin.hookspecs import hookimpl


@hookimpl
def register_writers(register: Callable[[Any], None]) -> None:
    from genome_plugin.writers.formats import WRITERS

    for writer in WRITERS:
        register(writer)

"""The plugin hooks: a plugin implements any of these with ``@genome_plugin.hookimpl``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("genome_plugin")
hookimpl = HookimplMarker("genome_plugin")


@hookspec
def register_models(register: Callable[[Any], None]) -> None:
    """Register sequence-to-function models.

    :param register: call ``register(ModelEntry(...))`` once per model; the host checks the entry and
        records which plugin provided it.
    """


@hookspec
def register_scorers(register: Callable[[Any], None]) -> None:
    """Register variant scorers.

    :param register: call ``register(scorer)`` once per scorer; a scorer has a unique ``name`` and a
        ``score`` method (see :mod:`genome_plugin.scoring`).
    """


@hookspec
def register_writers(register: Callable[[Any], None]) -> None:
    """Register output writers (file formats).

    :param register: call ``register(writer)`` once per writer; a writer has a unique ``name`` and a
        ``write`` method (see :mod:`genome_plugin.writers`).
    """

"""Built-in scorers: every configuration of the AlphaGenome scorer families and the ``recommended`` preset."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from genome_plugin.hookspecs import hookimpl


@hookimpl
def register_scorers(register: Callable[[Any], None]) -> None:
    from genome_plugin.scoring.catalogue import builtin_presets, builtin_scorers

    for scorer in builtin_scorers():
        register(scorer)
    for preset in builtin_presets():
        register(preset)

"""The plugin manager: built-in plugins and installed ones (entry-point group ``genome_plugin``) alike.

Set ``GENOME_PLUGIN_PLUGINS`` to a comma-separated list of installed plugin (entry-point) names to
load only those; set it to an empty string to load none. Built-ins always load.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import pkgutil
from collections.abc import Callable
from typing import Any

import pluggy

from genome_plugin import hookspecs
from genome_plugin.errors import GenomePluginError
from genome_plugin.models import ModelEntry, SequenceModel, weights_note

__all__ = ["DEFAULT_PLUGINS", "ENV_VAR", "get_models", "get_plugins", "get_scorers", "get_writers", "load_model", "pm"]

log = logging.getLogger(__name__)
ENV_VAR = "GENOME_PLUGIN_PLUGINS"
_PACKAGE = "genome_plugin.default_plugins"


def _default_plugins() -> tuple[str, ...]:
    package = importlib.import_module(_PACKAGE)
    return tuple(f"{_PACKAGE}.{m.name}" for m in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name))


#: Built-in plugin modules, registered through the same manager as third-party plugins.
DEFAULT_PLUGINS = _default_plugins()

pm = pluggy.PluginManager("genome_plugin")
pm.add_hookspecs(hookspecs)


def _load() -> None:
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    allowed = os.environ.get(ENV_VAR)
    if allowed is None:
        pm.load_setuptools_entrypoints("genome_plugin")
    else:
        wanted = {p.strip() for p in allowed.split(",") if p.strip()}
        for name in sorted(wanted):
            pm.load_setuptools_entrypoints("genome_plugin", name=name)
    pm.check_pending()


_load()


@dataclasses.dataclass(frozen=True)
class Registered:
    """Something a plugin registered, with the plugin's name."""

    name: str
    obj: Any
    plugin: str


def _collect(hook: Callable[..., Any], kind: str, check: Callable[[Any], str]) -> dict[str, Registered]:
    found: dict[str, Registered] = {}
    for impl in reversed(hook.get_hookimpls()):  # registration order: built-ins first
        plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
        items: list[Any] = []
        impl.function(register=items.append)
        for item in items:
            problem = check(item)
            if problem:
                msg = f"plugin {plugin} registered an invalid {kind}: {problem}"
                raise GenomePluginError(msg)
            if item.name in found:
                log.warning("%s %r from plugin %s ignored: already registered by %s", kind, item.name, plugin,
                            found[item.name].plugin)
                continue
            found[item.name] = Registered(item.name, item, plugin)
    return found


def _check_model(item: Any) -> str:
    if not isinstance(item, ModelEntry):
        return f"{item!r} is not a ModelEntry"
    return "" if item.name and callable(item.loader) else f"model entry {item!r} needs a name and a loader"


def _check_method(method: str, *, file_name: bool = False) -> Callable[[Any], str]:
    """A check that the item has a name and ``method``; with ``file_name``, a name that is one file-name part."""

    def check(item: Any) -> str:
        from genome_plugin.writers.base import file_part

        if not isinstance(getattr(item, "name", None), str) or not item.name:
            return f"{item!r} has no name"
        if file_name and file_part(item.name) != item.name:
            return (f"{item.name!r} cannot name a file (outputs are <name>.h5ad): use letters, digits and "
                    "_ . + = - only")
        return "" if callable(getattr(item, method, None)) else f"{item.name!r} has no {method}() method"

    return check


def registered_models() -> dict[str, Registered]:
    return _collect(pm.hook.register_models, "model", _check_model)


def registered_scorers() -> dict[str, Registered]:
    return _collect(pm.hook.register_scorers, "scorer", _check_method("score", file_name=True))


def registered_writers() -> dict[str, Registered]:
    return _collect(pm.hook.register_writers, "writer", _check_method("write"))


def get_models() -> dict[str, ModelEntry]:
    """Registered models by name."""
    return {name: r.obj for name, r in registered_models().items()}


def get_scorers() -> dict[str, Any]:
    """Registered scorers by name."""
    return {name: r.obj for name, r in registered_scorers().items()}


def get_writers() -> dict[str, Any]:
    """Registered writers by name."""
    return {name: r.obj for name, r in registered_writers().items()}


def get_plugins() -> list[dict[str, Any]]:
    """Every loaded plugin with what it registered (for ``genome-plugin plugins``)."""
    by_plugin: dict[str, dict[str, list[str]]] = {}
    for kind, table in (("models", registered_models()), ("scorers", registered_scorers()),
                        ("writers", registered_writers())):
        for name, reg in table.items():
            by_plugin.setdefault(reg.plugin, {}).setdefault(kind, []).append(name)
    dists = {pm.get_name(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for plugin in pm.get_plugins():
        name = pm.get_name(plugin) or repr(plugin)
        dist = dists.get(name)
        out.append({
            "name": name,
            "builtin": name in DEFAULT_PLUGINS,
            "package": f"{dist.project_name} {dist.version}" if dist is not None else "genome-plugin (built-in)",
            "hooks": sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            **by_plugin.get(name, {}),
        })
    return sorted(out, key=lambda p: (not p["builtin"], p["name"]))


_loaded: dict[tuple[str, tuple[tuple[str, Any], ...]], SequenceModel] = {}


def load_model(name: str, **options: Any) -> SequenceModel:
    """Load (once per process and options) the model registered as ``name``."""
    models = get_models()
    if name not in models:
        msg = f"unknown model {name!r}; installed models: {', '.join(sorted(models)) or 'none'}"
        raise GenomePluginError(msg)
    key = (name, tuple(sorted(options.items())))
    if key not in _loaded:
        model = models[name].loader(**options)
        note = weights_note(model.card())
        if note:  # once per process: the model is loaded once
            log.warning("model %s: weights are %s", name, note)
        _loaded[key] = model
    return _loaded[key]

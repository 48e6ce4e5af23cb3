"""List the loaded plugins (built-in and installed) and what each registered."""

from __future__ import annotations

import argparse
import json

NAME = "plugins"
HELP = "list loaded plugins and the models, scorers and writers each registered"
SHOWN = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--all", action="store_true", help=f"list every name, not only the first {SHOWN}")


def run(args: argparse.Namespace) -> int:
    from genome_plugin.plugins import get_plugins

    plugins = get_plugins()
    if args.json:
        print(json.dumps(plugins, indent=2))
        return 0
    for plugin in plugins:
        origin = "built-in" if plugin["builtin"] else plugin["package"]
        print(f"{plugin['name']}  ({origin})")
        for kind in ("models", "scorers", "writers"):
            names = plugin.get(kind) or []
            if names:
                shown = names
                if not args.all and len(names) > SHOWN:
                    shown = [*names[:SHOWN], f"... ({len(names)} in all; --all)"]
                print(f"    {kind}: {', '.join(shown)}")
    return 0

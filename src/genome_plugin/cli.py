"""The ``genome-plugin`` command. Each subcommand is a module in :mod:`genome_plugin.commands`.

A command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Errors print one line (``genome-plugin <command>: error: ...``) and exit non-zero; ``--verbose``
shows the traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from genome_plugin import __version__, commands

__all__ = ["EXIT_INPUT_ERROR", "EXIT_INTERNAL_ERROR", "build_parser", "is_input_error", "main"]

EXIT_INPUT_ERROR = 2
EXIT_INTERNAL_ERROR = 3


def is_input_error(err: BaseException) -> bool:
    """Whether ``err`` is the user's to fix (exit 2) rather than a failure of the code (exit 3).

    Only the package's own errors (:class:`~genome_plugin.errors.GenomePluginError`, which includes
    ``InputError``; they name the file, record or option) and a path the user gave that is missing or not
    readable or writable. Any other exception, a ``KeyError`` or ``ValueError`` from deep inside a library
    included, is an internal error: reporting it as bad input would hide a bug.
    """
    from genome_plugin.errors import GenomePluginError

    user_paths = FileNotFoundError | PermissionError | IsADirectoryError | NotADirectoryError
    return isinstance(err, GenomePluginError | argparse.ArgumentTypeError | user_paths)


def _command_modules() -> list:
    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{commands.__name__}.{n}") for n in names]


def build_parser() -> argparse.ArgumentParser:
    def flags(default: object) -> argparse.ArgumentParser:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("-v", "--verbose", action="store_true", default=default,
                            help="log details and show tracebacks on error")
        common.add_argument("-q", "--quiet", action="store_true", default=default,
                            help="only warnings and errors; no progress bars")
        return common

    # Sub-commands must not reset a flag given before the command name: their defaults are SUPPRESS.
    common = flags(argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="genome-plugin",
        description="Predict genome tracks and score variants with sequence-to-function models.",
        parents=[flags(False)],
    )
    parser.add_argument("--version", action="version", version=f"genome-plugin {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules():
        command = sub.add_parser(
            module.NAME, help=module.HELP, description=module.__doc__ or module.HELP, parents=[common],
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, format="genome-plugin: %(levelname)s: %(message)s", stream=sys.stderr)
    for noisy in ("jax", "absl", "matplotlib", "h5py", "numexpr", "orbax"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print(f"genome-plugin {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # every error becomes one line; --verbose adds the traceback
        if args.verbose:
            traceback.print_exc()
        user_error = is_input_error(err)
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if not user_error:
            message = (f"internal error ({type(err).__name__}), not a problem with the input: {message} "
                       "(rerun with --verbose for the traceback)")
        print(f"genome-plugin {args.command}: error: {message}", file=sys.stderr)
        return EXIT_INPUT_ERROR if user_error else EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())

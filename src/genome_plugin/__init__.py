"""genome-plugin: AlphaGenome-class sequence-to-function models on your own accelerator, as AnnData."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("genome-plugin")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

from genome_plugin.hookspecs import hookimpl  # noqa: E402

__all__ = ["__version__", "hookimpl"]

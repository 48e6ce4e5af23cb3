"""The plugin manager: every hook documented, built-ins and the installed example plugin load alike."""

import os
import subprocess
import sys

import pytest

from genome_plugin import hookspecs, plugins
from genome_plugin.errors import GenomePluginError
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry
from genome_plugin.tracks import OutputType

EXAMPLE_INSTALLED = "example" in {plugins.pm.get_name(p) for p in plugins.pm.get_plugins()}
needs_example = pytest.mark.skipif(
    not EXAMPLE_INSTALLED, reason="the example plugin (tests/example_plugin) is not installed; `.ci/run` installs it"
)


def test_every_hook_is_documented_and_typed():
    names = [n for n in dir(plugins.pm.hook) if not n.startswith("_")]
    assert set(names) == {"register_models", "register_scorers", "register_writers"}
    for name in names:
        spec = getattr(hookspecs, name)
        assert spec.__doc__ and ":param register:" in spec.__doc__
        assert "register" in spec.__annotations__


def test_builtins_load_through_the_manager():
    loaded = {plugins.pm.get_name(p) for p in plugins.pm.get_plugins()}
    assert set(plugins.DEFAULT_PLUGINS) <= loaded
    assert all(name.startswith("genome_plugin.default_plugins.") for name in plugins.DEFAULT_PLUGINS)


class _ThrowAway:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name="throwaway", loader=lambda: None, description="test", output_types=(OutputType.ATAC,)))


def test_registered_plugin_appears_and_disappears():
    plugin = _ThrowAway()
    plugins.pm.register(plugin, name="throwaway-plugin")
    try:
        assert "throwaway" in plugins.get_models()
        entry = next(p for p in plugins.get_plugins() if p["name"] == "throwaway-plugin")
        assert entry["models"] == ["throwaway"] and not entry["builtin"]
    finally:
        plugins.pm.unregister(plugin)
    assert "throwaway" not in plugins.get_models()


class _Invalid:
    @hookimpl
    def register_models(self, register):
        register("not an entry")


def test_invalid_registration_names_the_plugin():
    plugin = _Invalid()
    plugins.pm.register(plugin, name="bad-plugin")
    try:
        with pytest.raises(GenomePluginError, match="plugin bad-plugin registered an invalid model"):
            plugins.get_models()
    finally:
        plugins.pm.unregister(plugin)


def test_unknown_model_lists_installed_ones():
    with pytest.raises(GenomePluginError, match="unknown model 'nope'; installed models:"):
        plugins.load_model("nope")


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "genome_plugin.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)


@needs_example
def test_example_plugin_shows_in_the_cli_and_can_be_switched_off():
    listed = _cli("plugins")
    assert listed.returncode == 0
    assert "example  (genome-plugin-example 0.1.0)" in listed.stdout
    assert "models: example-gc" in listed.stdout and "example_max_abs_diff" in listed.stdout
    assert "example-gc" in _cli("models").stdout
    off = _cli("plugins", env={plugins.ENV_VAR: ""})
    assert off.returncode == 0 and "example" not in off.stdout
    only = _cli("plugins", env={plugins.ENV_VAR: "example"})
    assert "example-gc" in only.stdout


@needs_example
def test_example_model_predicts_real_gc_content():
    import numpy as np

    from genome_plugin.genome import one_hot

    model = plugins.load_model("example-gc")
    seq = "GC" * 300 + "AT" * 300
    out = model.predict(one_hot(seq)[None], requests={OutputType.DNASE: np.array([0])})
    gc = out[OutputType.DNASE, 1][0, :, 0]
    assert gc.shape == (1200,) and abs(gc[300] - 1.0) < 1e-6 and abs(gc[900]) < 1e-6


@needs_example
def test_installed_plugins_scorer_and_model_score_a_vcf_from_the_cli(tmp_path):
    """The example package, loaded through its entry point (not registered in-process), scores a real VCF."""
    import pandas as pd

    from genome_plugin.genome.vcf import read_vcf

    data = os.path.join(os.path.dirname(__file__), os.pardir, "test-data")
    vcf = os.path.join(data, "variants.vcf")
    out = tmp_path / "out"
    run = _cli("-q", "score", "--model", "example-gc", "--fasta", os.path.join(data, "chr20_slice.fa"),
               "--vcf", vcf, "--scorer", "example_max_abs_diff", "--sequence-length", "1024", "--out", str(out))
    assert run.returncode == 0, run.stderr
    tsv = pd.read_csv(out / "scores.tsv", sep="\t")
    assert set(tsv["variant_scorer"]) == {"example_max_abs_diff"}
    # every ALT of every record is in the table; a GC-content model sees some of them change its tracks
    records = list(read_vcf(vcf))
    assert tsv["variant_id"].nunique() == len(records)
    scores = tsv.groupby("variant_id")["raw_score"].max()
    assert (scores > 0).any() and (scores >= 0).all()

"""The generated Galaxy tool suite: it equals what the generator writes now, it follows the registry, and it lints.

The lint tests run planemo from the Galaxy test environment (``tool_tests/setup_venv.sh`` makes it; set
``GALAXY_VENV`` to use another) and skip, saying so, where it is absent. Running the tools on a real
Galaxy is ``tool_tests/run_all.sh``'s job.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from genome_plugin import galaxy, plugins
from genome_plugin.cli import build_parser
from genome_plugin.hookspecs import hookimpl
from genome_plugin.models import ModelEntry
from genome_plugin.tracks import OutputType

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "galaxy"
TOOLS = sorted(p for p in SUITE.glob("*.xml") if p.name != "macros.xml")
GALAXY_VENV = Path(os.environ.get("GALAXY_VENV", REPO / "tool_tests" / ".venv-galaxy"))
PLANEMO = GALAXY_VENV / "bin" / "planemo"
REGENERATE = "run genome-plugin galaxy-tools --builtin-only --out galaxy"


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root``: relative path -> content (a link: where it resolves to)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            out[str(path.relative_to(root))] = f"link to {path.resolve()}"
        elif path.is_file():
            out[str(path.relative_to(root))] = path.read_text()
    return out


def test_committed_suite_equals_the_generator_output(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "genome_plugin.cli", "galaxy-tools", "--builtin-only", "--out", str(tmp_path),
         "--test-data", str(REPO / "test-data")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    generated, committed = _tree(tmp_path), _tree(SUITE)
    assert sorted(generated) == sorted(committed), f"galaxy/ differs in its files: {REGENERATE}"
    stale = [name for name in generated if generated[name] != committed[name]]
    assert not stale, f"galaxy/ is out of date ({', '.join(stale)}): {REGENERATE}"


def test_regenerating_removes_what_the_generator_no_longer_writes(tmp_path):
    (tmp_path / "retired_tool.xml").write_text("<tool/>")
    (tmp_path / "test-data").mkdir()
    (tmp_path / "test-data" / "retired.vcf").write_text("")
    galaxy.write_suite(tmp_path, galaxy.Registry.from_plugins(builtin_only=True), test_data=REPO / "test-data")
    assert not (tmp_path / "retired_tool.xml").exists()
    assert not (tmp_path / "test-data" / "retired.vcf").exists()
    assert (tmp_path / "test-data" / "chr20_slice.fa").read_text().startswith(">chr20")


class _ThirdPartyModels:
    @hookimpl
    def register_models(self, register):
        register(ModelEntry(name="lab-hic", loader=lambda: None, description="a lab's contact-map model",
                            output_types=(OutputType.DNASE, OutputType.CONTACT_MAPS), licence="MIT"))


def _select_options(xml: str, path: str) -> list[str]:
    return etree.fromstring(xml.encode()).xpath(f"{path}/option/@value")


def test_third_party_model_appears_in_the_generated_selects():
    plugin = _ThirdPartyModels()
    plugins.pm.register(plugin, name="test-third-party-models")
    try:
        files = galaxy.build_suite(galaxy.Registry.from_plugins())
        builtin = galaxy.build_suite(galaxy.Registry.from_plugins(builtin_only=True))
    finally:
        plugins.pm.unregister(plugin)
    model_select = "//conditional[@name='model']/param[@name='source']"
    assert "lab-hic" in _select_options(files["predict.xml"], model_select)
    assert "lab-hic" in _select_options(files["score.xml"], model_select)
    # its output types, and the scorers those allow, in its own <when>
    when = "//conditional[@name='model']/when[@value='lab-hic']"
    assert _select_options(files["predict.xml"], f"{when}/param[@name='output_types']") == ["dnase", "contact_maps"]
    scorers = _select_options(files["score.xml"], f"{when}/param[@argument='--scorer']")
    assert "contact_map" in scorers and "recommended" in scorers
    assert not any("splice" in name for name in scorers)
    # a model predicting contact maps brings the contact-map tool, offering that model
    assert "lab-hic" in _select_options(files["contact_map.xml"], model_select)
    assert "lab-hic" in files["predict.xml"] and "MIT" in files["predict.xml"]  # and the help lists it
    assert "lab-hic" not in builtin["predict.xml"]


def test_model_select_offers_every_builtin_model_and_cached_checkpoints():
    models = sorted(galaxy.Registry.from_plugins(builtin_only=True).models)
    xml = (SUITE / "predict.xml").read_text()
    assert _select_options(xml, "//conditional[@name='model']/param[@name='source']") == [*models, "cached"]
    assert "spliceai" in models


def _commands(xml: Path) -> list[tuple[str, set[str]]]:
    """(genome-plugin subcommand, the --options its command line uses) for each call in a tool's command."""
    command = etree.parse(str(xml)).findtext("command")
    calls = []
    for match in re.finditer(r"genome-plugin ([a-z-]+)((?:(?!genome-plugin ).)*)", command, re.S):
        calls.append((match.group(1), set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", match.group(2)))))
    return calls


@pytest.mark.parametrize("xml", TOOLS, ids=lambda p: p.stem)
def test_tool_commands_use_only_options_the_cli_has(xml):
    parser = build_parser()
    subcommands = next(a for a in parser._subparsers._group_actions).choices  # noqa: SLF001 (argparse has no API)
    for name, options in _commands(xml):
        assert name in subcommands, f"{xml.name} calls unknown command genome-plugin {name}"
        known = set(subcommands[name]._option_string_actions)  # noqa: SLF001
        assert options <= known, f"{xml.name}: genome-plugin {name} has no {sorted(options - known)}"


def _planemo(*args: str, cwd: Path = SUITE) -> subprocess.CompletedProcess:
    if not PLANEMO.exists():
        pytest.skip(f"planemo is not installed at {PLANEMO}: run tool_tests/setup_venv.sh (or set GALAXY_VENV)")
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run([str(PLANEMO), *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def lint_report() -> dict[str, str]:
    """``planemo lint --fail_level warn`` of every tool in one run (planemo's start-up is most of the cost): per tool,
    its part of the report."""
    # BioToolsValid asks the bio.tools web service, which CI cannot reach.
    result = _planemo("lint", "--fail_level", "warn", "--skip", "BioToolsValid", *[xml.name for xml in TOOLS])
    parts = re.split(r"^Linting tool (\S+)$", result.stdout + result.stderr, flags=re.M)
    report = {Path(path).name: text for path, text in zip(parts[1::2], parts[2::2])}
    assert result.returncode == 0 or any(re.search(r"\.\. (WARNING|ERROR)", t) for t in report.values()), parts[0]
    return report


@pytest.mark.slow
@pytest.mark.parametrize("xml", TOOLS, ids=lambda p: p.stem)
def test_planemo_lint_at_warn_level(xml, lint_report):
    assert xml.name in lint_report, f"planemo did not lint {xml.name}"
    problems = [line for line in lint_report[xml.name].splitlines() if re.match(r"\.\. (WARNING|ERROR)", line)]
    assert not problems, "\n".join(problems)


@pytest.mark.slow
def test_planemo_shed_lint():
    # version_bumped asks the public Tool Shed and BioToolsValid the bio.tools service: CI reaches neither.
    result = _planemo("shed_lint", "--tools", "--skip", "version_bumped,BioToolsValid", "--fail_level", "warn", ".")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_planemo_workflow_lint():
    result = _planemo("workflow_lint", "--fail_level", "warn", "workflows")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Tests appear structurally correct" in result.stdout + result.stderr


def test_each_tool_has_tests_and_its_macros_carry_the_package_version():
    from genome_plugin import __version__

    macros = (SUITE / "macros.xml").read_text()
    assert f'<token name="@TOOL_VERSION@">{__version__}</token>' in macros
    for xml in TOOLS:
        root = etree.parse(str(xml)).getroot()
        assert root.get("version") == "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@", xml.name
        assert root.find("command").get("detect_errors") == "exit_code", xml.name
        assert len(root.findall("tests/test")) >= 1, xml.name


# Galaxy's own sanitizer and validators (from the Galaxy test environment) applied to the generated --tracks param.
_GALAXY_PARAM_CHECK = r"""
import json, sys
from galaxy.util import XML
from galaxy.tools.parameters.sanitize import ToolParameterSanitizer
from galaxy.tools.parameters.validation import parse_xml_validators

param = XML(sys.argv[1])
sanitizer = ToolParameterSanitizer.from_element(param.find("sanitizer"))
validators = parse_xml_validators(None, param)
out = {}
for text in json.load(sys.stdin):
    try:
        for validator in validators:
            validator.validate(text)
        accepted = True
    except ValueError:
        accepted = False
    out[text] = [accepted, sanitizer.sanitize_param(text)]
print(json.dumps(out))
"""

_HOSTILE_FILTERS = [
    '@pd.io.common.os.system("touch pwned") == 0',
    'strand == "+"; touch pwned',
    'strand == "+" `touch pwned`',
    'name == "x" && touch pwned',
    "x' ; touch pwned ; echo '",
    'name == "x" > pwned',
    'name == "x" < /etc/passwd',
    'name == "x"\ntouch pwned',
    'name matches "\\d"',
]
_FILTERS = {  # accepted by the validator -> what the command line receives
    'biosample_name == "liver" and strand != "-"': 'biosample_name == "liver" and strand != "-"',
    "strand == '-'": 'strand == "-"',
    "x' or 'y": 'x" or "y',
    'ontology_curie matches "^UBERON:[0-9]+$" or name in ["a", "b/c"]':
        'ontology_curie matches "^UBERON:[0-9]+$" or name in ["a", "b/c"]',
    '__import__("os").system("touch pwned") == 0': '__import__("os").system("touch pwned") == 0',
    "": "",
}


@pytest.mark.slow
def test_galaxy_refuses_hostile_track_filters_and_the_rest_stays_one_shell_word():
    import json
    import shlex

    params = {xml.name: etree.tostring(etree.parse(str(xml)).find(".//param[@argument='--tracks']"), encoding="unicode")
              for xml in TOOLS if "--tracks '$tracks'" in xml.read_text()}
    assert sorted(params) == ["contact_map.xml", "ism.xml", "predict.xml", "score.xml"]
    assert len(set(params.values())) == 1  # one generator: the same param in every tool
    python = GALAXY_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"Galaxy is not installed at {GALAXY_VENV}: run tool_tests/setup_venv.sh (or set GALAXY_VENV)")
    result = subprocess.run([str(python), "-c", _GALAXY_PARAM_CHECK, params["predict.xml"]], capture_output=True,
                            text=True, check=False, input=json.dumps([*_HOSTILE_FILTERS, *_FILTERS]))
    assert result.returncode == 0, result.stderr
    checked = json.loads(result.stdout)
    let_through = [text for text in _HOSTILE_FILTERS if checked[text][0]]
    assert not let_through, f"the validator accepts {let_through}"
    assert {text: checked[text] for text in _FILTERS} == {text: [True, sent] for text, sent in _FILTERS.items()}
    for text, (_, sent) in checked.items():
        # Even past the validator (the API can skip the form), the sanitized text is one inert shell word.
        assert not set(sent) & set("'\\@`;&<>\n"), (text, sent)
        assert shlex.split(f"--tracks '{sent}'") == ["--tracks", sent]


@pytest.mark.parametrize("xml", TOOLS, ids=lambda p: p.stem)
def test_every_command_value_is_single_quoted_but_booleans(xml):
    root = etree.parse(str(xml)).getroot()
    booleans = {p.get("name") or p.get("argument").lstrip("-").replace("-", "_")
                for p in root.iter("param") if p.get("type") == "boolean"}
    unquoted = []
    for line in root.findtext("command").splitlines():
        if line.strip().startswith("#"):  # Cheetah directives (#if, #for, #set) evaluate, they do not print
            continue
        for match in re.finditer(r"(?<!\\)\$(\{[^}]*\}|[A-Za-z_][\w.]*)", line):
            name = match.group(1)
            quoted = line[match.start() - 1:match.start()] == "'" and line[match.end():match.end() + 1] == "'"
            if not quoted and name not in booleans:
                unquoted.append(line.strip())
    assert not unquoted, f"{xml.name}: unquoted values in {unquoted}"

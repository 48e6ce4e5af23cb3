"""The Tool Shed path, tested: publish the suite to a local Tool Shed, install it into Galaxy, test it, upgrade it.

1. Start a Tool Shed (fresh database, loopback) with the owner and the categories ``.shed.yml`` names;
   publish every repository of the suite (``auto_tool_repositories`` + ``suite``) with ``planemo shed_create``.
2. Start a Galaxy that trusts only that Tool Shed, with an empty tool panel and the test data tables;
   install the suite repository (and through it every tool repository) with ephemeris ``shed-tools install``.
3. Check every tool of ``galaxy/`` is installed, and run every installed tool's tests by its full Tool Shed
   id (``galaxy-tool-test``).
4. Upgrade: publish a second revision of every repository (a wrapper-only change: ``@VERSION_SUFFIX@`` + 1)
   with ``planemo shed_update``, run ``shed-tools update``, check the new versions are installed, run the first
   test of each.

Reports (JSON, JUnit XML, HTML) go to ``work/reports/shed*``. Exits 1 when any step or test fails, 2 when a
server could not be started. ``--break-revision`` publishes a second revision with a broken command line, to
show that the harness fails on it.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402
from run_galaxy_tests import add_common_arguments, job_env, packages, summarize  # noqa: E402

SUFFIX_TOKEN = re.compile(r'(<token name="@VERSION_SUFFIX@">)(\d+)(</token>)')
TOOL_ID = re.compile(r'<tool [^>]*\bid="([^"]+)"')


def tool_ids(repo: Path) -> list[str]:
    """The ids of the tools in a suite folder."""
    return sorted(m.group(1) for xml in repo.glob("*.xml") if (m := TOOL_ID.search(xml.read_text())))


def bump_revision(repo: Path, *, broken: bool) -> str:
    """Make the wrapper-only change of a second revision in ``repo``; returns the new version suffix."""
    macros = repo / "macros.xml"
    text = macros.read_text()
    match = SUFFIX_TOKEN.search(text)
    if match is None:
        msg = f"{macros} has no @VERSION_SUFFIX@ token"
        raise RuntimeError(msg)
    suffix = str(int(match.group(2)) + 1)
    macros.write_text(SUFFIX_TOKEN.sub(rf"\g<1>{suffix}\g<3>", text))
    if broken:
        models = repo / "models.xml"
        models.write_text(models.read_text().replace("genome-plugin models", "genome-plugin models --no-such-option"))
    return suffix


def planemo_shed(action: str, repo: Path, shed: servers.ToolShed, *, galaxy_venv: Path, log_path: Path,
                 message: str) -> int:
    """``planemo shed_create`` / ``shed_update`` of every repository ``repo/.shed.yml`` defines."""
    return servers.run_logged(
        [str(galaxy_venv / "bin" / "planemo"), action, "--shed_target", shed.url, "--shed_key", shed.key,
         "--message", message, str(repo)],
        log_path=log_path, env=servers.server_env(galaxy_venv), cwd=repo)


def installed_tools(galaxy: servers.Galaxy, shed: servers.ToolShed) -> dict[str, str]:
    """Installed tools from ``shed``: short tool id -> full Tool Shed id of the newest installed version."""
    prefix = f"{shed.url.removeprefix('http://')}/repos/{shed.owner}/"
    found: dict[str, tuple[list[int], str]] = {}
    for tool in servers.api(galaxy.url, "tools?in_panel=false", key=galaxy.key):
        full_id = tool["id"]
        if not full_id.startswith(prefix):
            continue
        short = full_id.split("/")[-2]
        order = [int(n) for n in re.findall(r"\d+", tool["version"])]
        if short not in found or order > found[short][0]:
            found[short] = (order, full_id)
    return {short: full for short, (_, full) in sorted(found.items())}


def check_versions(installed: dict[str, str], expected: list[str], suffix: str) -> list[str]:
    """Problems: tools of the suite not installed, or not at version suffix ``suffix``."""
    problems = [f"{tool} is not installed" for tool in expected if tool not in installed]
    problems += [f"{full} is not at version +galaxy{suffix}" for full in installed.values()
                 if not full.endswith(f"+galaxy{suffix}")]
    return problems


def test_installed(galaxy: servers.Galaxy, tools: dict[str, str], *, galaxy_venv: Path, reports: Path,
                   name: str, first_only: bool = False) -> int:
    """Run every test (or only the first) of each installed tool by its full id; one JSON report, JUnit, HTML."""
    report = reports / f"{name}.json"
    report.unlink(missing_ok=True)
    status = 0
    for full_id in tools.values():
        tool_id, version = full_id.rsplit("/", 1)
        status |= servers.run_logged(
            [str(galaxy_venv / "bin" / "galaxy-tool-test"), "-u", galaxy.url, "-k", galaxy.key, "-a", galaxy.key,
             "-t", tool_id, "--tool-version", version, "--with-reference-data", "--append", "-j", str(report),
             *(["--test-index", "0"] if first_only else [])],
            log_path=reports / f"{name}.log", env=servers.server_env(galaxy_venv))
    servers.run_logged(
        [str(galaxy_venv / "bin" / "planemo"), "test_reports", str(report),
         "--test_output", str(reports / f"{name}.html"), "--test_output_junit", str(reports / f"{name}.junit.xml")],
        log_path=reports / f"{name}.log", env=servers.server_env(galaxy_venv))
    return status


def install(galaxy: servers.Galaxy, shed: servers.ToolShed, suite: str, *, galaxy_venv: Path, tools_file: Path,
            log_path: Path) -> int:
    """``shed-tools install`` of the suite repository, with its repository dependencies (every tool).

    Writes the install file ``tools_file``, which ``shed-tools update`` reads again for the upgrade.
    """
    tools_file.write_text(json.dumps({
        "install_repository_dependencies": True,
        "install_resolver_dependencies": False,
        "install_tool_dependencies": False,
        "tools": [{"name": suite, "owner": shed.owner, "tool_shed_url": shed.url,
                   "tool_panel_section_label": "genome-plugin"}],
    }, indent=2))
    return servers.run_logged([str(galaxy_venv / "bin" / "shed-tools"), "install", "-g", galaxy.url, "-a", galaxy.key,
                               "-t", str(tools_file)], log_path=log_path, env=servers.server_env(galaxy_venv))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--break-revision", action="store_true",
                        help="publish a second revision with a broken command line (the harness must then fail)")
    args = parser.parse_args(argv)
    servers.stop_on_signals()
    tools = args.tools.resolve()
    config = yaml.safe_load((tools / ".shed.yml").read_text())
    work = args.work.resolve() / "shed"
    reports = args.work.resolve() / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    # A copy with the test-data links resolved: what a Tool Shed repository holds.
    revision1 = work / "revision1"
    shutil.copytree(tools, revision1, symlinks=False)
    expected = tool_ids(revision1)
    suffix = SUFFIX_TOKEN.search((revision1 / "macros.xml").read_text()).group(2)
    log_path = reports / "shed.log"
    log_path.unlink(missing_ok=True)
    problems: list[str] = []
    started = time.monotonic()
    venv = args.galaxy_venv
    try:
        with servers.tool_shed_server(work / "toolshed", galaxy_venv=venv, owner=config["owner"],
                                      categories=config.get("categories", [])) as shed:
            if planemo_shed("shed_create", revision1, shed, galaxy_venv=venv, log_path=log_path,
                            message="first revision"):
                problems.append("planemo shed_create failed")
            with servers.galaxy_server(work / "galaxy", galaxy_venv=venv, packages=packages(tools, args.project_venv),
                                       data_table_conf=tools / "tool_data_table_conf.xml.test",
                                       tool_shed_url=shed.url, job_env=job_env(args.work.resolve())) as galaxy:
                tools_file = work / "tools.yml"
                if install(galaxy, shed, config["suite"]["name"], galaxy_venv=venv, tools_file=tools_file,
                           log_path=log_path):
                    problems.append("shed-tools install failed")
                installed = installed_tools(galaxy, shed)
                servers.log(f"installed from the Tool Shed: {', '.join(installed.values()) or 'nothing'}")
                problems += check_versions(installed, expected, suffix)
                if test_installed(galaxy, installed, galaxy_venv=venv, reports=reports, name="shed"):
                    problems.append("tests of the installed tools failed")

                revision2 = work / "revision2"
                shutil.copytree(revision1, revision2)
                suffix = bump_revision(revision2, broken=args.break_revision)
                if planemo_shed("shed_update", revision2, shed, galaxy_venv=venv, log_path=log_path,
                                message=f"wrapper update: +galaxy{suffix}"):
                    problems.append("planemo shed_update failed")
                # With the install file: its http:// Tool Shed URL. Without it, shed-tools update takes the
                # shed from Galaxy's record (host:port, no scheme) and adds https://, which a local shed refuses.
                if servers.run_logged([str(venv / "bin" / "shed-tools"), "update", "-g", galaxy.url, "-a", galaxy.key,
                                       "-t", str(tools_file)],
                                      log_path=log_path, env=servers.server_env(venv)):
                    problems.append("shed-tools update failed")
                upgraded = installed_tools(galaxy, shed)
                servers.log(f"after the update: {', '.join(upgraded.values()) or 'nothing'}")
                problems += check_versions(upgraded, expected, suffix)
                # The first test of each tool: enough to show the new revision is installed and runs; all of
                # them ran on the first revision above (and on galaxy/ itself in run_galaxy_tests.py).
                if test_installed(galaxy, upgraded, galaxy_venv=venv, reports=reports, name="shed-upgrade",
                                  first_only=True):
                    problems.append("tests of the upgraded tools failed")
    except RuntimeError as err:
        servers.log(f"error: {err}")
        return 2
    for name in ("shed", "shed-upgrade"):
        run, bad = summarize(reports / f"{name}.json")
        if run == 0 or bad:
            problems.append(f"{name}: {run} tests run, {bad} not passed")
    for problem in problems:
        servers.log(f"PROBLEM: {problem}")
    servers.log(f"Tool Shed install tests: {'FAILED' if problems else 'passed'} in {time.monotonic() - started:.0f} s; "
                f"reports in {reports}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

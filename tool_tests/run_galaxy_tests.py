"""Run every tool test and workflow test of ``galaxy/`` on a real Galaxy that loads the tools from the folder.

Starts a throw-away Galaxy (:mod:`servers`) with ``galaxy/`` as its tool directory and the test
data tables of ``galaxy/tool_data_table_conf.xml.test``, then runs ``planemo test --engine
external_galaxy`` on the tools and on each workflow of ``galaxy/workflows``, writing JUnit XML, JSON
and HTML reports (``work/reports/folder.*``, ``work/reports/workflow-*.*``). Exits 1 when any test
fails or errors, 2 when the server could not be started.

Run it with the Galaxy environment's Python (``tool_tests/run.sh folder`` does)::

    tool_tests/.venv-galaxy/bin/python tool_tests/run_galaxy_tests.py [TOOL.xml ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import servers  # noqa: E402


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options both harnesses take: environments, tool folder, work and report directories."""
    parser.add_argument("--galaxy-venv", type=Path,
                        default=Path(os.environ.get("GALAXY_VENV", servers.DEFAULT_GALAXY_VENV)),
                        help="virtual environment with Galaxy, planemo, ephemeris (env GALAXY_VENV)")
    parser.add_argument("--project-venv", type=Path,
                        default=Path(os.environ.get("GENOME_PLUGIN_VENV", servers.DEFAULT_PROJECT_VENV)),
                        help="environment with genome-plugin installed: Galaxy resolves the tools' requirement "
                             "to its bin/ (env GENOME_PLUGIN_VENV)")
    parser.add_argument("--tools", type=Path, default=servers.REPO / "galaxy", help="the generated tool suite")
    parser.add_argument("--work", type=Path, default=servers.HERE / "work", help="scratch directory (emptied per run)")


def packages(tools: Path, project_venv: Path) -> dict[tuple[str, str], Path]:
    """The tools' requirement (genome-plugin at the suite's version), satisfied by the project's environment."""
    version = re.search(r'<token name="@TOOL_VERSION@">([^<]+)</token>', (tools / "macros.xml").read_text())
    if version is None:
        msg = f"{tools / 'macros.xml'} has no @TOOL_VERSION@ token"
        raise RuntimeError(msg)
    return {("genome-plugin", version.group(1)): project_venv / "bin"}


def job_env(work: Path) -> dict[str, str]:
    """What a Galaxy admin sets for genome-plugin jobs: caches shared by every job (converted weights, compiled
    JAX functions), not rebuilt in each job's fresh home directory."""
    cache = work / "cache"
    return {"GENOME_PLUGIN_CACHE": str(cache / "genome-plugin"), "JAX_COMPILATION_CACHE_DIR": str(cache / "jax")}


def planemo_test(galaxy: servers.Galaxy, targets: list[Path], *, galaxy_venv: Path, reports: Path, name: str,
                 env: dict[str, str]) -> int:
    """``planemo test`` of ``targets`` (tool XML files, folders or workflows) against a running Galaxy."""
    reports.mkdir(parents=True, exist_ok=True)
    command = [
        str(galaxy_venv / "bin" / "planemo"), "test", "--engine", "external_galaxy",
        "--galaxy_url", galaxy.url, "--galaxy_admin_key", galaxy.key, "--galaxy_user_key", galaxy.key,
        "--test_output", str(reports / f"{name}.html"),
        "--test_output_junit", str(reports / f"{name}.junit.xml"),
        "--test_output_json", str(reports / f"{name}.json"),
        *[str(t) for t in targets],
    ]
    return servers.run_logged(command, log_path=reports / f"{name}.log", env=env)


def summarize(report: Path) -> tuple[int, int]:
    """(tests run, tests not passed) from a planemo/galaxy-tool-test JSON report; prints each failure."""
    try:
        tests = json.loads(report.read_text())["tests"]
    except (OSError, ValueError, KeyError):
        servers.log(f"no readable report at {report}")
        return 0, 1
    bad = 0
    for test in tests:
        data = test.get("data", {})
        status = data.get("status")
        if status != "success":
            bad += 1
            problems = "; ".join(str(p).splitlines()[0] for p in (data.get("job") or {}).get("problems", []) or [])
            servers.log(f"  FAILED {test.get('id')}: {status} {problems or ''}")
    servers.log(f"{report.name}: {len(tests)} tests, {len(tests) - bad} passed, {bad} not passed")
    return len(tests), bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("targets", nargs="*", type=Path,
                        help="tool XML files to test (default: every tool in --tools, then every workflow in "
                             "--tools/workflows)")
    args = parser.parse_args(argv)
    servers.stop_on_signals()
    tools = args.tools.resolve()
    # One planemo run per workflow, apart from the tools: planemo 0.75 aborts the whole run, reports
    # included, when a workflow invocation fails.
    runs = {"folder": [t.resolve() for t in args.targets] or [tools]}
    if not args.targets:
        runs.update({f"workflow-{ga.stem}": [ga] for ga in sorted((tools / "workflows").glob("*.ga"))})
    work = args.work.resolve() / "folder"
    reports = args.work.resolve() / "reports"
    for name in runs:
        for stale in reports.glob(f"{name}.*"):
            stale.unlink()
    started = time.monotonic()
    shutil.rmtree(work, ignore_errors=True)
    statuses = {}
    try:
        with servers.galaxy_server(work / "galaxy", galaxy_venv=args.galaxy_venv,
                                   packages=packages(tools, args.project_venv), tool_dirs=[tools],
                                   data_table_conf=tools / "tool_data_table_conf.xml.test",
                                   job_env=job_env(args.work.resolve())) as galaxy:
            for name, targets in runs.items():
                statuses[name] = planemo_test(galaxy, targets, galaxy_venv=args.galaxy_venv, reports=reports,
                                              name=name, env=servers.server_env(args.galaxy_venv))
    except RuntimeError as err:
        servers.log(f"error: {err}")
        return 2
    failed = False
    for name, status in statuses.items():
        run, bad = summarize(reports / f"{name}.json")
        servers.log(f"{name}: {run} tests run, {bad} not passed, planemo exit status {status}")
        failed |= status != 0 or bad > 0 or run == 0
    servers.log(f"folder-loaded Galaxy tests {'FAILED' if failed else 'passed'} in {time.monotonic() - started:.0f} s; "
                f"reports in {reports}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# CI entry for the Galaxy side: the tool tests on a Galaxy that loads galaxy/ from the folder, then the
# Tool Shed path (publish, install, test the installed tools, upgrade). Both always run; exits non-zero
# when either fails. Reports (JUnit XML, JSON, HTML) land in tool_tests/work/reports/.
#   GENOME_PLUGIN_VENV  environment with genome-plugin installed; its bin/ goes first on Galaxy's PATH
#                       so that the jobs find `genome-plugin` (default: .venv at the repository root)
#   GALAXY_VENV         the Galaxy-side environment (default: tool_tests/.venv-galaxy, made by setup_venv.sh)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export GENOME_PLUGIN_VENV=${GENOME_PLUGIN_VENV:-$here/../.venv}
export GALAXY_VENV=${GALAXY_VENV:-$here/.venv-galaxy}
if [ ! -x "$GENOME_PLUGIN_VENV/bin/genome-plugin" ]; then
    echo "run_all.sh: no genome-plugin in $GENOME_PLUGIN_VENV/bin (set GENOME_PLUGIN_VENV)" >&2
    exit 2
fi
timed() {
    local name=$1 started=$SECONDS status
    shift
    "$@"
    status=$?
    echo "== $name: exit status $status, $((SECONDS - started)) s"
    return $status
}
timed "Galaxy environment" bash "$here/setup_venv.sh" || exit 1
timed "folder-loaded tool tests" "$GALAXY_VENV/bin/python" "$here/run_galaxy_tests.py"
folder=$?
timed "Tool Shed install tests" "$GALAXY_VENV/bin/python" "$here/run_shed_tests.py"
shed=$?
[ $folder -eq 0 ] && [ $shed -eq 0 ]

#!/usr/bin/env bash
# Create the Galaxy-side test environment once: Galaxy 26.1.2 (galaxy-app, galaxy-web-apps), the Tool Shed
# (galaxy-tool-shed), planemo and ephemeris at the versions of constraints-galaxy.txt. It stays separate from
# the project's environment so the two dependency sets never fight. Rebuilt only when the constraints change.
#   GALAXY_VENV  where to create it (default: tool_tests/.venv-galaxy)
#   PYTHON       interpreter to build it from (default: python3.11)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${GALAXY_VENV:-$here/.venv-galaxy}
constraints=$here/constraints-galaxy.txt
wanted=$(sha256sum "$constraints" | cut -d' ' -f1)
if [ -x "$venv/bin/galaxy-web" ] && [ "$(cat "$venv/.constraints.sha256" 2>/dev/null)" = "$wanted" ]; then
    exit 0
fi
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
started=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q -c "$constraints" \
    galaxy-app==26.1.2 galaxy-web-apps==26.1.2 galaxy-tool-shed==26.1.2 planemo ephemeris
echo "$wanted" > "$venv/.constraints.sha256"
echo "Galaxy test environment ready in $venv ($((SECONDS - started)) s)"

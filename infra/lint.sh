#!/usr/bin/env bash
# ESLint over the workspace (eslint.config.js: @nx/enforce-module-boundaries, services import libs only, libs import
# libs only). Any finding, warning included, fails. The rule reads Nx's cached project graph and silently skips
# itself without one ("No cached ProjectGraph is available. The rule will be skipped."), so the graph is computed
# first and that message fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
npx nx show projects >/dev/null
out=$(mktemp /tmp/agentsight-lint.XXXXXX)
trap 'rm -f "$out"' EXIT
status=0
npx eslint --max-warnings 0 "$@" . >"$out" 2>&1 || status=$?
cat "$out"
if grep -q 'No cached ProjectGraph' "$out"; then
  echo "[lint] the module-boundaries rule ran without the Nx project graph" >&2
  exit 1
fi
[ "$status" -eq 0 ] && echo "[lint] no finding"
exit "$status"

#!/usr/bin/env bash
# clang-format check of the C code, then ESLint over the workspace.
#
# clang-format: every C file of bpf/ and services/probe-producer/ (tracked or new, not ignored) against .clang-format
# (clang-format 14, `CLANG_FORMAT` to use another binary: other versions format some constructs differently), except
# the generated bpf/vmlinux/<arch>/vmlinux.h (bpftool) and services/probe-producer/src/topology.h
# (infra/topology-header.ts; topology.spec.ts checks it). A file that would change fails, with the diff's places.
#
# ESLint over the workspace (eslint.config.js: @nx/enforce-module-boundaries, services import libs only, libs import
# libs only). Any finding, warning included, fails. The rule reads Nx's cached project graph and silently skips
# itself without one ("No cached ProjectGraph is available. The rule will be skipped."), so the graph is computed
# first and that message fails the run too.
set -euo pipefail
cd "$(dirname "$0")/.."

CLANG_FORMAT=${CLANG_FORMAT:-clang-format-14}
if ! command -v "$CLANG_FORMAT" >/dev/null; then
  echo "[lint] $CLANG_FORMAT not found (apt install clang-format-14; infra/setup.sh installs it)" >&2
  exit 1
fi
mapfile -t c_files < <(git ls-files --cached --others --exclude-standard -- 'bpf/*.[ch]' 'services/probe-producer/*.[ch]' \
  ':!:bpf/vmlinux/*' ':!:services/probe-producer/src/topology.h' | sort -u)
if ! "$CLANG_FORMAT" --dry-run -Werror "${c_files[@]}"; then
  echo "[lint] C code not formatted as .clang-format says: run $CLANG_FORMAT -i on the files above" >&2
  exit 1
fi
echo "[lint] clang-format: ${#c_files[@]} C files formatted"

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

#!/usr/bin/env bash
# `npm run demo`: set-up, then the example agent (official openai SDK, streamed call with a tool that runs `ls`)
# under `agentsight exec`, against the local HTTPS server replaying recorded provider streams; prints its calls
# and tokens. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$0" "$@"; fi
bash infra/setup.sh
export AGENTSIGHT_DATA_DIR=${AGENTSIGHT_DATA_DIR:-$HOME/.agentsight/demo}
exec node examples/dist/run-demo.js

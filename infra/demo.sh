#!/usr/bin/env bash
# `npm run demo`: set-up, then the example agent (official openai SDK: a streamed call offering a tool, the tool runs
# a real `ls`, a second call with the result) under `agentsight exec`, against the local HTTPS server replaying
# recorded OpenAI streams; then prints the stored calls and tokens, and how to browse them in the dashboard
# (`agentsight serve`, its URL). Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$0" "$@"; fi
bash infra/setup.sh
export AGENTSIGHT_DATA_DIR=${AGENTSIGHT_DATA_DIR:-$HOME/.agentsight/demo}
mkdir -p "$AGENTSIGHT_DATA_DIR/logs"

server_log="$AGENTSIGHT_DATA_DIR/logs/replay-server.log"
coproc SERVER { exec node libs/testkit/dist/replay-server-cli.js --example-agent 2>>"$server_log"; }
trap 'kill "$SERVER_PID" 2>/dev/null || true' EXIT
read -r -t 30 line <&"${SERVER[0]}" || { echo "replay server did not start; see $server_log" >&2; exit 1; }
url=$(node -e 'console.log(JSON.parse(process.argv[1]).url)' "$line")
ca=$(node -e 'console.log(JSON.parse(process.argv[1]).caPath)' "$line")
echo "[demo] local HTTPS server replaying recorded OpenAI streams at $url"

agentsight() { node services/api/bin/agentsight.js "$@"; }
echo "[demo] agentsight exec -- node examples/dist/agent.js"
OPENAI_BASE_URL="$url/v1" NODE_EXTRA_CA_CERTS="$ca" agentsight exec -- node examples/dist/agent.js examples
echo
echo "[demo] agentsight calls"
agentsight calls --limit 10
echo
echo "[demo] agentsight token"
agentsight token
echo
echo "[demo] agentsight audit --type process"
agentsight audit --type process --limit 10
echo
echo "[demo] browse this data in the dashboard:"
echo "[demo]   sudo AGENTSIGHT_DATA_DIR=$AGENTSIGHT_DATA_DIR node services/api/bin/agentsight.js serve"
echo "[demo]   then open the URL it prints (it carries the read API token; every request needs it, see README Security)"

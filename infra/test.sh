#!/usr/bin/env bash
# `npm test`: set-up, then every test (unit, integration against NATS/Redis/chDB, eBPF capture as root, end to end).
# Capture tests skip when eBPF is unavailable unless AGENTSIGHT_REQUIRE_BPF=1 (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$0" "$@"; fi
bash infra/setup.sh
exec npx jest --runInBand "$@"

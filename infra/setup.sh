#!/usr/bin/env bash
# One-time (idempotent, fast when done) set-up on Debian/Ubuntu: apt packages, npm ci, build (TypeScript + eBPF
# producer), NATS JetStream and Redis started if not running. Run as root, or it re-runs itself with sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then exec sudo -E bash "$0" "$@"; fi

APT_PACKAGES=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc libnats-dev libmsgpack-dev
  libssl-dev nats-server redis-server curl openssl python3 procps ca-certificates gnutls-bin libnss3-dev libzydis-dev chromium
  golang-go tmux libclang-rt-dev clang-format-14)
missing=()
for p in "${APT_PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; then
  echo "[setup] Node.js >= 20.19 is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.agentsight-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] npm ci"
  # The lock file holds every platform's optional packages that the registry publishes (chdb publishes only
  # @chdb/lib-linux-x64-gnu), so `npm ci` installs it as committed and never rewrites it.
  npm ci --no-fund --no-audit --loglevel=error
  echo "$want" > "$stamp"
fi

echo "[setup] build"
NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false npx nx run-many -t build --outputStyle=static >/tmp/agentsight-build.log 2>&1 \
  || { cat /tmp/agentsight-build.log; exit 1; }

bash infra/services.sh

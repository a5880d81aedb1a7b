#!/usr/bin/env bash
# Starts agentsight's own NATS (JetStream) and Redis on 127.0.0.1 (ports 7422 and 7379, or AGENTSIGHT_NATS_PORT /
# AGENTSIGHT_REDIS_PORT), both requiring the credentials generated once into /etc/agentsight/secrets.json (0600;
# AGENTSIGHT_CONFIG_DIR to move it), if they are not running yet. Idempotent. A server already on one of those ports
# that is open, or refuses these credentials, is refused with the reason. NATS_URL / REDIS_URL pointing elsewhere
# are left alone. NATS store and logs under $AGENTSIGHT_DATA_DIR (default ~/.agentsight), 0700.
# All of it is libs/jetstream/src/brokers.ts (built by the set-up).
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077
exec node libs/jetstream/dist/brokers-cli.js

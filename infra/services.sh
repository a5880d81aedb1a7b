#!/usr/bin/env bash
# Starts NATS (JetStream) and Redis on 127.0.0.1 if nothing answers on their ports yet. Idempotent.
# NATS_URL / REDIS_URL pointing elsewhere are left alone. Data under $AGENTSIGHT_DATA_DIR (default ~/.agentsight).
set -euo pipefail
DATA=${AGENTSIGHT_DATA_DIR:-$HOME/.agentsight}
mkdir -p "$DATA/logs"
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_up() { for _ in $(seq 1 100); do up "$1" && return 0; sleep 0.1; done; echo "[services] $2 did not start" >&2; return 1; }

case "${NATS_URL:-nats://127.0.0.1:4222}" in
  nats://127.0.0.1:4222|nats://localhost:4222)
    if ! up 4222; then
      echo "[services] starting nats-server (JetStream, store $DATA/nats)"
      mkdir -p "$DATA/nats"
      nohup nats-server -a 127.0.0.1 -p 4222 -js -sd "$DATA/nats" -l "$DATA/logs/nats.log" >/dev/null 2>&1 &
      wait_up 4222 nats-server
    fi ;;
esac
case "${REDIS_URL:-redis://127.0.0.1:6379}" in
  redis://127.0.0.1:6379|redis://localhost:6379)
    if ! up 6379; then
      echo "[services] starting redis-server"
      redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes --logfile "$DATA/logs/redis.log"
      wait_up 6379 redis-server
    fi ;;
esac

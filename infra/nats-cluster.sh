#!/bin/sh
# Starts agentsight's 3-node JetStream cluster on loopback ports from infra/nats-cluster/node.conf:
#   infra/nats-cluster.sh DIR [BASE_PORT]
# node i (1..3) listens for clients on BASE_PORT+i-1 (default 4322..4324) and for routes on BASE_PORT+100+i-1,
# stores under DIR/n<i>, logs to DIR/n<i>.log, pid in DIR/n<i>.pid (stop: kill "$(cat DIR/n1.pid)" ...).
# Prints the NATS_URL of the cluster (every node, comma-separated).
set -eu
dir=${1:?usage: infra/nats-cluster.sh DIR [BASE_PORT]}
base=${2:-4322}
conf=$(cd "$(dirname "$0")" && pwd)/nats-cluster/node.conf
mkdir -p "$dir"
url=""
for i in 1 2 3; do
  routes=""
  for j in 1 2 3; do [ "$j" = "$i" ] || routes="$routes nats://127.0.0.1:$((base + 100 + j - 1))"; done
  set -- $routes
  AS_NODE=n$i AS_HOST=127.0.0.1 AS_CLIENT_PORT=$((base + i - 1)) AS_CLUSTER_PORT=$((base + 100 + i - 1)) \
    AS_ROUTE_A=$1 AS_ROUTE_B=$2 AS_STORE="$dir/n$i" nohup nats-server -c "$conf" >"$dir/n$i.log" 2>&1 &
  echo $! >"$dir/n$i.pid"
  url="$url${url:+,}nats://127.0.0.1:$((base + i - 1))"
done
echo "$url"

# The agentsight image of infra/k8s (probe, stages, api): a built checkout at /opt/agentsight.
#   docker build -t agentsight:0.1.0 .
# Not built in this repository's tests (no container engine there); see README "Kubernetes".
# The probe's CO-RE objects are built against the committed bpf/vmlinux/<arch>/vmlinux.h (x86-64) and run on any
# kernel with BTF (>= 5.8).
FROM node:20-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc libnats-dev libmsgpack-dev libssl-dev \
      libzydis-dev libprotobuf-c-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/agentsight
COPY . .
RUN npm ci --no-audit --no-fund \
    && NX_DAEMON=false NX_NO_CLOUD=true npx nx run-many -t build \
    && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
# the probe's shared libraries (ldd services/probe-producer/build/agentsight-probe)
RUN apt-get update && apt-get install -y --no-install-recommends \
      libbpf1 libelf1 zlib1g libnats3.4 libzydis4.0 libssl3 libprotobuf-c1 ca-certificates procps \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/agentsight
COPY --from=build /opt/agentsight /opt/agentsight
RUN useradd --system --uid 10001 --home-dir /var/lib/agentsight --create-home agentsight
ENV NODE_ENV=production AGENTSIGHT_DATA_DIR=/var/lib/agentsight
# the stages and the api run as 10001 (infra/k8s); the probe container runs as root, privileged
USER 10001
CMD ["node", "/opt/agentsight/services/api/dist/main.js"]

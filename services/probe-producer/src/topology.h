/* SPDX-License-Identifier: Apache-2.0 */
/*
 * GENERATED from libs/contracts/src/topology.ts by `npx tsx infra/topology-header.ts`: do not edit. The raw stream as
 * the pipeline defines it, for the producer to create it with (topology.spec.ts fails when this file is not current).
 */
#ifndef AGENTSIGHT_TOPOLOGY_H
#define AGENTSIGHT_TOPOLOGY_H

#define RAW_STREAM_NAME "AGENTSIGHT_RAW"
#define RAW_STREAM_SUBJECT "agentsight.raw.>"
#define RAW_STREAM_MAX_AGE_NS 259200000000000LL /* 72 h */
#define RAW_STREAM_MAX_BYTES 2147483648LL /* 2048 MiB */
#define STREAM_DUPLICATE_WINDOW_NS 600000000000LL /* 10 min */
#define STREAM_REPLICAS 1

#endif

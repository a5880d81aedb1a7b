/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The loss counters: ring-buffer records read and lost, publish failures and reorders, skipped file opens, per-probe
 * counters, attach failures, holds and TLS notices. Published as the loss record (libs/contracts raw.ts RawLossRecord)
 * and printed in the stdout `stats` and `stopped` lines (../README.md).
 */
#ifndef AGENTSIGHT_COUNTERS_H
#define AGENTSIGHT_COUNTERS_H

#include <stdbool.h>
#include <stdint.h>

#include "records.h"

/** Sum over CPUs of the per-CPU counter array map_fd at index k (0 when it cannot be read). */
uint64_t sum_percpu(int map_fd, uint32_t k);

/** Records lost in the kernel (failed ring-buffer reservation, unreadable user memory, a call too large), and their
 * plaintext bytes. */
void read_lost(uint64_t *records, uint64_t *bytes);

/** Fills every counter of a loss record (probes: storage for MAX_PROBES entries, g.nprobes used). */
void read_loss(struct rec_loss *r, struct rec_probe_stat *probes);

/** stdout: `,"probes":[...],"attach_failures":[...],"holds":{...},...,"net_bytes":{...}` of r (the stats and stopped
 * lines); net_bytes lists at most net_limit processes (0: all), the rest counted in its `more`. */
void print_probe_counters(const struct rec_loss *r, uint32_t net_limit);

/** stdout: the `net_bytes` lines of one round, every --net-bytes-ms: `{"event":"net_bytes","net_bytes":{...}}` (the
 * object the stats and stopped lines carry: per traced process its inet bytes sent/received, or why they are not
 * counted), every process of the map listed, at most 1,024 per line, the lines of a round numbered by `round`, `part`
 * (0-based) and `parts`. */
void print_net_bytes_line(void);

/** Publishes the loss record; with `print`, also the stdout `stats` line carrying the same counters. */
void publish_loss(bool print);

/** stdout: the `stopped` line (the final counters and the last seq published). */
void print_stopped(void);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* What the producer keeps per traced process (struct pidinfo) and per TLS connection direction (struct conn). */
#ifndef AGENTSIGHT_PIDS_H
#define AGENTSIGHT_PIDS_H

#include <stdbool.h>
#include <stdint.h>

#include "producer.h"

/** The state of pid; created (zeroed) when missing and `create`, else NULL. Dies when out of memory. */
struct pidinfo *pid_get(uint32_t pid, bool create);

/** Forgets pid: its uprobe links (per-process attachment) and connections go. */
void pid_remove(uint32_t pid);

/** The stream position of (ssl, dir) of pi, created at 0 when new (moved to the front of the list). */
struct conn *conn_get(struct pidinfo *pi, uint64_t ssl, uint8_t dir);

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Publishing the producer's records: each is encoded into g.sbuf (records.h) with the next seq, then published on
 * agentsight.raw.<family>.<host>[.<partition>] with the id <boot_id>:<run>:<seq> (libs/contracts subjects.ts).
 */
#ifndef AGENTSIGHT_EMIT_H
#define AGENTSIGHT_EMIT_H

#include <stdint.h>

#include "pids.h"
#include "records.h"

#define NO_PARTITION (-1) /* publish_current: a subject without a partition token */

/** Fills the common fields of the next record (takes the next seq). ts_boot_ns in ns. */
void next_base(struct rec_base *b, uint64_t ts_boot_ns);

/** Publishes the record in g.sbuf (encoded with b) on family's subject, partition or NO_PARTITION. */
void publish_current(const struct rec_base *b, const char *family, int64_t partition);

/** Publishes a proc record (exec, exit, snapshot) at ts_boot_ns (ns). */
void publish_proc(const struct rec_proc *r, uint64_t ts_boot_ns);

/** Publishes a snapshot of pid from /proc (comm_hint when the process is already gone). */
void publish_snapshot(uint32_t pid, const char *comm_hint);

/** A record of pid arrived: a snapshot first when neither an exec nor a snapshot of it was published. */
struct pidinfo *ensure_known(uint32_t pid, const char *comm);

/** Partition of the connection (pid, ssl), 0..opt.partitions-1: every record of a connection goes there. */
uint32_t ssl_partition(uint32_t pid, uint64_t ssl);

/** On process exit: one ssl_close record per connection the process used, with its final offsets (bytes). */
void publish_closes(uint32_t pid, uint32_t uid, const char *comm, uint64_t ts_boot_ns);

#endif

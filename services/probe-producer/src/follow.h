/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --follow-exec: processes that start while the probe runs are traced when the controller (the process that started
 * the probe, e.g. `agentsight trace --discover`) says so.
 *
 * The kernel traces every exec of an untraced process provisionally (traced_pids value TRACED_PROVISIONAL) and marks
 * its exec record. Reading that record, the producer writes one stdout line
 *   {"event":"exec_offer","pid":N,"ppid":N,"uid":N,"comm":"…","filename":"…","argv":[…]}
 * and waits (at most FOLLOW_ANSWER_MS) for the stdin line `trace <pid>` or `skip <pid>`. Records are read in ring
 * order, so nothing of the process is published before the verdict: on `trace` its map value becomes TRACED and its
 * exec is published; on `skip` (or no answer) it is removed from the map and whatever it emitted meanwhile is dropped.
 * A process whose parent was traced by a verdict is traced without asking (a traced agent's commands).
 */
#ifndef AGENTSIGHT_FOLLOW_H
#define AGENTSIGHT_FOLLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "proc_event.h"

/** How long the producer waits for a verdict, ms. The ring buffer keeps filling meanwhile. */
#define FOLLOW_ANSWER_MS 2000

/** Enables follow mode; traced_map_fd is the traced_pids map of the process BPF object. */
void follow_init(int traced_map_fd);

/** Whether follow mode is on. */
bool follow_enabled(void);

/**
 * Decides on a provisional exec record (e->provisional set): true = trace it (its exec is to be published), false =
 * skip it (drop the record).
 */
bool follow_decide(const struct as_proc_event *e);

/**
 * Whether records of pid are to be dropped: its exec was skipped, or (for a process forked before its parent's
 * verdict) its parent's was. ppid is the record's parent pid, or 0 when the record has none (then /proc tells).
 */
bool follow_dropped(uint32_t pid, uint32_t ppid);

/** The process exited: forget its verdict. */
void follow_forget(uint32_t pid);

#endif

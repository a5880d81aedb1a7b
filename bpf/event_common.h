/* SPDX-License-Identifier: Apache-2.0 */
/* Definitions shared by every ring-buffer record layout (bpf/ssl_event.h, bpf/proc_event.h). */
#ifndef AGENTSIGHT_EVENT_COMMON_H
#define AGENTSIGHT_EVENT_COMMON_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define TASK_COMM_LEN_ 16
/** Maximum number of --comm filters. */
#define MAX_COMMS 8

/** First __u32 of every ring-buffer record. */
enum event_type {
	EVENT_SSL = 1,
	EVENT_EXEC = 2,
	EVENT_EXIT = 3,
};

/** Indexes of the per-CPU `drops` array: records lost in the kernel (failed reservation, unreadable user memory, a
 * call too large), and their plaintext bytes. */
enum drop_idx {
	DROP_RECORDS = 0, /* records that could not be reserved */
	DROP_BYTES = 1,   /* plaintext bytes in those records */
	DROP_MAX = 2,
};

/** Size of the shared ring buffer (SSL + process records), bytes. Must be a power of 2 multiple of the page size. */
#define EVENTS_RINGBUF_SIZE (64u * 1024 * 1024)
/** Unconsumed bytes above which a producer wakeup is forced; below it records use BPF_RB_NO_WAKEUP and the
 * producer consumes periodically. */
#define EVENTS_WAKEUP_THRESHOLD (4u * 1024 * 1024)

#endif

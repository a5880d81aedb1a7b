/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attach holds (bpf/hold.bpf.h): a traced process that executes or maps a file the producer has not checked yet is
 * stopped in the kernel (SIGSTOP) until the producer has checked and attached that file, so its first TLS call is
 * seen. This module tracks the held processes and releases them (SIGCONT): when the attach is done (hold_end), or,
 * from a watchdog thread, when the bound passes first (a miss: counted, and reported by hold_end's caller), and all
 * of them at shutdown. It also keeps the kernel's `checked_inodes` map current (hold_mark_checked).
 */
#ifndef AGENTSIGHT_HOLD_H
#define AGENTSIGHT_HOLD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/** Counters since start (the `holds` object of the stats/stopped lines and the loss record). */
struct hold_stats {
	uint64_t holds;    /* processes held and released after their attach */
	uint64_t misses;   /* processes released by the watchdog because the bound passed before the attach ended */
	uint64_t max_us;   /* longest hold, µs */
	uint64_t total_us; /* sum of hold durations, µs */
};

/** Starts the watchdog: a process held longer than bound_ms is released. checked_map_fd: bpf map `checked_inodes`. */
int hold_init(uint64_t bound_ms, int checked_map_fd);

/** A record says pid was stopped by the kernel (its `held` flag); call before checking/attaching its file. */
void hold_begin(uint32_t pid);

/**
 * The attach for pid's held record is done: sends SIGCONT (unless the watchdog already did). Returns true when the
 * watchdog had released it first (a miss; the caller reports it), false otherwise or when pid was not held.
 */
bool hold_end(uint32_t pid);

/**
 * Tells the kernel that the file of st was checked: never held again, unless `tls` (TLS functions attached in it)
 * with per-process attachment, where each traced process that executes or maps it is held until its probes are
 * attached for it (INODE_TLS, bpf/hold_event.h).
 */
void hold_mark_checked(const struct stat *st, bool tls);

/** Releases every held process (shutdown) and stops the watchdog. */
void hold_release_all(void);

void hold_get_stats(struct hold_stats *out);

#endif

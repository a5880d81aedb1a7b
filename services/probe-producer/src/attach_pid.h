/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-process attachment (g.per_pid: --pid without --follow-exec or --system-wide): the uprobes of a target are perf
 * events of each traced process, so the kernel puts breakpoints only in its memory and other processes pay nothing.
 */
#ifndef AGENTSIGHT_ATTACH_PID_H
#define AGENTSIGHT_ATTACH_PID_H

#include <stddef.h>
#include <stdint.h>

#include "hold_event.h"
#include "producer.h"

/** Attaches every probe of t for pid (once per process and target), through hint when it names the file. */
void attach_target_pid(struct target *t, uint32_t pid, const char *hint);

/** Removes every uprobe link of a process (it exited or executed a new file). */
void detach_pid(struct pidinfo *pi);

/**
 * A child forked by a probed process runs on in the forked image (EVENT_FORK, sent at its first syscall outside the
 * spawn sequence, not at fork): it gets the probes of the checked files it maps. A child that execs first gets none.
 */
void handle_fork(const struct as_fork_event *e, size_t size);

/** for_each_descendant callback at start: a running traced process gets the probes of the files it maps. */
void attach_mapped_cb(uint32_t pid, void *ctx);

#endif

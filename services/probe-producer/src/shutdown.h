/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The producer's one exit path. A normal stop and a fatal error both release the held processes, destroy the
 * links, flush the publisher (what it queued is sent and acknowledged, or counted as failures) and publish the final
 * loss record, so no record is lost without a count.
 */
#ifndef AGENTSIGHT_SHUTDOWN_H
#define AGENTSIGHT_SHUTDOWN_H

/**
 * Stops the producer and frees what was set up; returns status (the exit status). status 0, a normal stop: the
 * ring buffer is read to the end and the pending TLS notices are published before the flush, and the `stopped` line
 * is printed after it. Any other status (a fatal error, die()): the ring buffer is not read again (the error may have
 * happened in its callback) and no `stopped` line is printed. Runs once; later calls return status at once.
 */
int probe_shutdown(int status);

/** Prints "agentsight-probe: <message>" on stderr, then probe_shutdown(1) and exit(1). */
void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif

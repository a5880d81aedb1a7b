/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ring-buffer side: each record of bpf/ (ssl_event.h, proc_event.h, hold_event.h) checked and published as its
 * raw record, or handed to the attach and TLS-notice code (control records); read in slices (pacing.h).
 */
#ifndef AGENTSIGHT_RINGBUF_H
#define AGENTSIGHT_RINGBUF_H

#include <stdbool.h>
#include <stddef.h>

/** libbpf ring-buffer callback (ring_buffer__new): handles one record; a negative value ends the read (a slice). */
int on_record(void *ctx, void *data, size_t size);

/** Reads everything waiting, slice by slice; err: what the poll returned. 0, or a negative errno other than EINTR. */
int drain_sliced(int err);

/** True when a ring-buffer record fails its checks (`bad`): says so on stderr, the record is skipped. */
bool malformed(bool bad, const char *what, size_t size);

#endif

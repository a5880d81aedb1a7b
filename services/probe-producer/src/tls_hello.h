/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ClientHellos of traced processes (bpf/hold.bpf.h EVENT_TLS_HELLO): a connection no probed call records gets a TLS
 * notice (raw record, stdout and stderr lines), decided now or after a while (tls_notice.h pending list).
 */
#ifndef AGENTSIGHT_TLS_HELLO_H
#define AGENTSIGHT_TLS_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "hold_event.h"
#include "tls_notice.h"

/** ClientHellos of traced processes seen (captured or not). */
extern uint64_t tls_hellos;

/** Publishes the TLS notice of h (once per process and reason) and prints its stdout and stderr lines. */
void emit_tls_notice(const struct tls_hello *h);

/** One EVENT_TLS_HELLO record: fine inside a probed call; else a notice now or pending. */
void handle_tls_hello(const struct as_hello_event *e, size_t size);

#endif

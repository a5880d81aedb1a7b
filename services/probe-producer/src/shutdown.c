// SPDX-License-Identifier: Apache-2.0
/*
 * The producer's one exit path (shutdown.h): the normal stop and every fatal error (die) end here.
 */
#include <bpf/libbpf.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach_pid.h"
#include "counters.h"
#include "hold.h"
#include "producer.h"
#include "publisher.h"
#include "shutdown.h"
#include "tls_hello.h"
#include "tls_notice.h"

#define FLUSH_TIMEOUT_MS 15000 /* shutdown: wait this long for PubAcks */

int probe_shutdown(int status)
{
	static bool done;
	bool nats_used = g.pub != NULL;
	int i, n;

	if (done)
		return status;
	done = true;
	/* No new records: the holds are released, the links destroyed. */
	g.no_more_attach = true;
	g.slicing = false;
	hold_release_all();
	for (i = 0; i < g.nlinks; i++)
		bpf_link__destroy(g.links[i]);
	g.nlinks = 0;
	for (i = 0; i < PID_BUCKETS; i++) {
		struct pidinfo *p;

		for (p = g.pids[i]; p; p = p->next)
			detach_pid(p);
	}
	bpf_link__destroy(g.exec_wakeup);
	g.exec_wakeup = NULL;
	if (g.proc_skel)
		process_bpf__detach(g.proc_skel);
	if (status == 0 && g.rb && g.pub) {
		/* Drain the ring buffer completely, publish. */
		struct tls_hello h;

		while ((n = ring_buffer__consume(g.rb)) > 0)
			publisher_pump(g.pub);
		while (tls_pending_take(0, UINT64_MAX, &h)) /* still running without captured TLS: a notice now */
			emit_tls_notice(&h);
	}
	if (g.pub) {
		/* Wait for the PubAcks, then the final loss record. */
		publisher_flush(g.pub, FLUSH_TIMEOUT_MS);
		publish_loss(false);
		publisher_flush(g.pub, FLUSH_TIMEOUT_MS / 3);
		if (status == 0)
			print_stopped();
		publisher_destroy(g.pub);
		g.pub = NULL;
	}
	ring_buffer__free(g.rb);
	g.rb = NULL;
	process_bpf__destroy(g.proc_skel);
	g.proc_skel = NULL;
	sslsniff_bpf__destroy(g.ssl_skel);
	g.ssl_skel = NULL;
	msgpack_sbuffer_destroy(&g.sbuf);
	if (nats_used)
		nats_Close();
	return status;
}

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "agentsight-probe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(probe_shutdown(1));
}

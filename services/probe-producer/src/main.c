// SPDX-License-Identifier: Apache-2.0
/*
 * agentsight-probe: attaches the TLS and process probes (bpf/), reads their ring buffer and publishes raw records
 * (libs/contracts/src/raw.ts) to NATS JetStream. See ../README.md for flags and the stdout protocol.
 *
 * The files, by concern: options.c (flags), bpf_setup.c (loading bpf/), attach.c and attach_pid.c (TLS probes,
 * system-wide or per traced process), ringbuf.c (the ring-buffer callbacks), emit.c (records published), pids.c
 * (per-process state), tls_hello.c (TLS no probe records), counters.c (loss record, stats and stopped lines),
 * follow.c (--follow-exec), hold.c (attach holds), publisher.c (JetStream) and shutdown.c (the one exit path).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "attach.h"
#include "bpf_setup.h"
#include "counters.h"
#include "emit.h"
#include "locate_cache.h"
#include "options.h"
#include "pacing.h"
#include "pids.h"
#include "producer.h"
#include "publisher.h"
#include "ringbuf.h"
#include "shutdown.h"
#include "sysinfo.h"
#include "tls_hello.h"
#include "tls_notice.h"

#define QUEUE_MAX_BYTES (256u << 20) /* retry queue bound, bytes */

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The record identity (run, boot id, host and its subject token) and the clocks' offset. */
static void init_identity(void)
{
	int i;

	g.run = boottime_ns();
	refresh_wall_offset();
	if (read_boot_id(g.boot_id, sizeof(g.boot_id)))
		die("cannot read /proc/sys/kernel/random/boot_id");
	if (opt.host)
		snprintf(g.host, sizeof(g.host), "%s", opt.host);
	else if (gethostname(g.host, sizeof(g.host) - 1))
		snprintf(g.host, sizeof(g.host), "localhost");
	for (i = 0; g.host[i]; i++) {
		char c = g.host[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
			  c == '-';

		g.host_token[i] = ok ? c : '_';
	}
	if (!g.host_token[0])
		snprintf(g.host_token, sizeof(g.host_token), "_");
	msgpack_sbuffer_init(&g.sbuf);
}

/* stdout: the `ready` line (what is attached, which record kinds, how). */
static void print_ready(void)
{
	int i, n;

	printf("{\"event\":\"ready\",\"pid\":%d,\"attached\":[", (int)getpid());
	for (i = 0, n = 0; i < g.ntargets; i++) {
		if (!g.targets[i].attached)
			continue;
		if (n++)
			putchar(',');
		print_json_string(g.targets[i].path);
	}
	printf("],\"file_events\":%s,\"net_events\":%s,\"stdio_events\":%s,\"attach\":\"%s\"}\n",
	       g.file_events ? "true" : "false", g.net_events ? "true" : "false", g.stdio_events ? "true" : "false",
	       g.per_pid ? "per-process" : "system-wide");
	fflush(stdout);
}

/* Reads and publishes until SIGINT/SIGTERM or a ring-buffer error; a loss record every --stats-interval-ms. */
static void run(void)
{
	uint32_t window_ms = PACING_MAX_MS; /* poll window, adapted to the record rate (pacing.h) */
	uint64_t next_stats = boottime_ns() + opt.stats_interval_ms * 1000000ull;
	uint64_t next_net = boottime_ns() + opt.net_bytes_ms * 1000000ull;
	int err;

	g.slicing = true;
	while (!stopping) {
		g.slice_records = g.slice_bytes = 0;
		/* Records are submitted with BPF_RB_NO_WAKEUP unless much data waits (or an exec needs an attach): the
		 * poll mostly just waits out the window, then everything waiting is read, slice by slice. */
		err = drain_sliced(ring_buffer__poll(g.rb, (int)window_ms));
		if (err < 0) {
			fprintf(stderr, "agentsight-probe: ring buffer poll: %s\n", strerror(-err));
			break;
		}
		window_ms = pacing_next_window(window_ms, g.cycle_records);
		g.cycle_records = 0;
		{
			struct tls_hello h;

			while (tls_pending_take(0, boottime_ns(), &h)) /* no captured TLS of its process in time */
				emit_tls_notice(&h);
		}
		publisher_pump(g.pub);
		if (boottime_ns() >= next_stats) {
			refresh_wall_offset();
			publish_loss(true);
			next_stats = boottime_ns() + opt.stats_interval_ms * 1000000ull;
		}
		if (opt.net_bytes_ms && boottime_ns() >= next_net) {
			print_net_bytes_line();
			next_net = boottime_ns() + opt.net_bytes_ms * 1000000ull;
		}
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	int i, err;

	parse_args(argc, argv);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (opt.nlocate) {
		if (opt.cache_dir && (err = locate_cache_open(opt.cache_dir)))
			fprintf(stderr, "agentsight-probe: locator cache %s unusable: %s\n", opt.cache_dir,
				strerror(-err));
		return locate_only();
	}
	init_identity();

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	libbpf_set_print(libbpf_log);
	load_bpf();
	if (opt.cache_dir && (err = locate_cache_open(opt.cache_dir)))
		fprintf(stderr, "agentsight-probe: locator cache %s unusable (%s): every stripped binary is scanned\n",
			opt.cache_dir, strerror(-err));
	attach_all();
	g.rb = ring_buffer__new(bpf_map__fd(g.ssl_skel->maps.events), on_record, NULL, NULL);
	if (!g.rb)
		die("cannot create the ring buffer reader: %s", strerror(errno));

	g.pub = publisher_create(opt.nats_url, QUEUE_MAX_BYTES);
	if (!g.pub)
		die("cannot set up NATS publishing to %s", opt.nats_url);
	for (i = 0; i < opt.npids; i++) {
		publish_snapshot(opt.pids[i], NULL);
		pid_get(opt.pids[i], true)->known = true;
	}
	print_ready();
	if (opt.net_bytes_ms)
		print_net_bytes_line(); /* right after ready: a controller sampling at once has a first reading */
	run();
	/* Stop: no new records, drain the ring buffer completely, publish, wait for the PubAcks. */
	return probe_shutdown(0);
}

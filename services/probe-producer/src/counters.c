// SPDX-License-Identifier: Apache-2.0
/*
 * The loss counters (counters.h): read from the BPF maps, the publisher and the attach state; published as the loss
 * record and printed in the stdout `stats` and `stopped` lines.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "counters.h"
#include "emit.h"
#include "hold.h"
#include "io_format.h"
#include "options.h"
#include "proc_event.h"
#include "producer.h"
#include "publisher.h"
#include "sysinfo.h"
#include "tls_hello.h"
#include "tls_notice.h"

/* Sum over CPUs of the per-CPU counter array map_fd at index k. */
uint64_t sum_percpu(int map_fd, uint32_t k)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;
	int i;

	if (ncpu <= 0 || bpf_map_lookup_elem(map_fd, &k, vals))
		return 0;
	for (i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

void read_lost(uint64_t *records, uint64_t *bytes)
{
	int fd = bpf_map__fd(g.ssl_skel->maps.drops);

	*records = sum_percpu(fd, DROP_RECORDS);
	*bytes = sum_percpu(fd, DROP_BYTES);
}

/* Sums the per-CPU counters of every attached probe into out (g.nprobes entries). */
static void read_probe_stats(struct rec_probe_stat *out)
{
	int ncpu = libbpf_num_possible_cpus(), fd = bpf_map__fd(g.ssl_skel->maps.probe_stats), i, c;
	struct probe_stat vals[ncpu > 0 ? ncpu : 1];

	for (i = 0; i < g.nprobes; i++) {
		__u32 k = (__u32)i;

		memset(&out[i], 0, sizeof(out[i]));
		out[i].binary = g.probes[i].binary;
		out[i].fn = g.probes[i].fn;
		if (ncpu <= 0 || bpf_map_lookup_elem(fd, &k, vals))
			continue;
		for (c = 0; c < ncpu; c++) {
			out[i].records += vals[c].records;
			out[i].fragments += vals[c].fragments;
			out[i].bytes += vals[c].bytes;
			out[i].lost_records += vals[c].lost_records;
		}
	}
}

/* Fills every counter of a loss record (probes: g.nprobes entries of storage). */
void read_loss(struct rec_loss *r, struct rec_probe_stat *probes)
{
	struct publisher_stats st;

	memset(r, 0, sizeof(*r));
	r->records = g.records;
	read_lost(&r->lost_records, &r->lost_bytes);
	r->file_opens_skipped = sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO);
	publisher_get_stats(g.pub, &st);
	r->publish_failures = st.failures;
	r->published = st.published;
	r->publish_reordered = st.reordered;
	read_probe_stats(probes);
	r->probes = probes;
	r->nprobes = (size_t)g.nprobes;
	r->attach_failures = g.failures;
	r->nattach_failures = (size_t)g.nfailures;
}

static void json_string_to(FILE *f, const char *s)
{
	json_write_string(f, s, strlen(s));
}

/* stdout: `,"holds":{...},"tls_notices":[...]` (hold.h, tls_notice.h) for the stats and stopped lines. */
static void print_hold_counters(void)
{
	struct hold_stats h;

	hold_get_stats(&h);
	printf(",\"holds\":{\"held\":%llu,\"misses\":%llu,\"max_us\":%llu,\"total_us\":%llu,\"bound_ms\":%llu}",
	       (unsigned long long)h.holds, (unsigned long long)h.misses, (unsigned long long)h.max_us,
	       (unsigned long long)h.total_us, (unsigned long long)opt.hold_ms);
	printf(",\"tls_hellos\":%llu", (unsigned long long)tls_hellos);
	tls_notice_print(stdout, json_string_to);
}

#define NET_PIDS_PER_LINE 1024 /* processes listed per line at most: a round of more is printed in parts */

/* One entry of the net_bytes map, as read for a round. */
struct net_entry {
	__u32 pid;
	struct net_bytes v;
};

/* The entries of one round (read before any is printed, so every part of a round is of the same reading). */
static struct net_entry *net_round;
static uint32_t net_round_cap;
static uint64_t net_rounds;

static uint64_t net_ns_per_tick(void)
{
	static uint64_t ns_per_tick;

	if (!ns_per_tick) {
		long hz = sysconf(_SC_CLK_TCK);

		ns_per_tick = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100);
	}
	return ns_per_tick;
}

/*
 * Reads every entry of the net_bytes map into net_round; returns how many, and in *more the entries that did not fit
 * (only if the map were iterated past its max_entries while it changes) or could not be allocated: never dropped
 * silently, they are counted.
 */
static uint32_t read_net_round(uint64_t *more)
{
	int fd = bpf_map__fd(g.proc_skel->maps.net_bytes);
	__u32 key, next, *prev = NULL;
	struct net_bytes v;
	uint32_t n = 0;

	*more = 0;
	if (!net_round) {
		uint32_t cap = bpf_map__max_entries(g.proc_skel->maps.net_bytes);

		net_round = calloc(cap ? cap : 1, sizeof(*net_round));
		net_round_cap = net_round ? cap : 0;
	}
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue; /* deleted (LRU) between the two calls: no longer counted */
		if (n == net_round_cap) {
			(*more)++;
			continue;
		}
		net_round[n].pid = key;
		net_round[n].v = v;
		n++;
	}
	return n;
}

/* stdout: `{"pids":[...],"more":M,"since_ticks":T` of entries [from, to) of the round (n read, `extra` not read). */
static void print_net_pids(uint32_t from, uint32_t to, uint32_t n, uint64_t extra)
{
	uint64_t ns_per_tick = net_ns_per_tick();
	uint32_t i;

	printf("{\"pids\":[");
	for (i = from; i < to; i++) {
		const struct net_bytes *v = &net_round[i].v;
		int a;

		printf("%s{\"pid\":%u,\"start_ticks\":%llu,\"sent\":%llu,\"recv\":%llu,\"up\":[", i > from ? "," : "",
		       net_round[i].pid, (unsigned long long)(v->start_ns / ns_per_tick), (unsigned long long)v->sent,
		       (unsigned long long)v->recv);
		for (a = 0; a < NET_ANCESTORS && v->anc_pid[a]; a++)
			printf("%s%u,%llu", a ? "," : "", v->anc_pid[a],
			       (unsigned long long)(v->anc_start_ns[a] / ns_per_tick));
		printf("]}");
	}
	printf("],\"more\":%llu,\"since_ticks\":%llu", (unsigned long long)(n - (to - from) + extra),
	       (unsigned long long)(g.net_since_ns / ns_per_tick));
}

static bool print_net_missing(void)
{
	if (!g.net_bytes_missing)
		return false;
	printf(",\"net_bytes\":{\"missing\":");
	print_json_string(g.net_bytes_missing);
	putchar('}');
	return true;
}

/*
 * stdout: `,"net_bytes":{"pids":[{"pid","start_ticks","sent","recv","up"},...],"more":N,"since_ticks":T}` (bytes
 * since the counters were attached at T, clock ticks since boot, per traced process that used an inet socket;
 * `start_ticks` = the process' start in clock ticks since boot, as field 22 of /proc/<pid>/stat, so a reader can tell
 * a reused pid; `up` = its nearest ancestors at its first count, flat `[pid, start_ticks, …]`, parent first, at most
 * NET_ANCESTORS), or `,"net_bytes":{"missing":"<why>"}` when the kernel cannot count them. At most `limit` processes listed
 * (0: all), the rest counted in `more`.
 */
static void print_net_bytes(uint32_t limit)
{
	uint64_t extra;
	uint32_t n;

	if (print_net_missing())
		return;
	n = read_net_round(&extra);
	printf(",\"net_bytes\":");
	print_net_pids(0, limit && n > limit ? limit : n, n, extra);
	putchar('}');
}

/* stdout: `,"probes":[...],"attach_failures":[...],...,"net_bytes":{...}` of r (for the stats and stopped lines; at
 * most net_limit processes in net_bytes, 0: all). */
void print_probe_counters(const struct rec_loss *r, uint32_t net_limit)
{
	size_t i;

	printf(",\"probes\":[");
	for (i = 0; i < r->nprobes; i++) {
		const struct rec_probe_stat *p = &r->probes[i];

		printf("%s{\"binary\":", i ? "," : "");
		print_json_string(p->binary);
		printf(",\"fn\":\"%s\",\"records\":%llu,\"fragments\":%llu,\"bytes\":%llu,\"lost_records\":%llu,"
		       "\"ringbuf_drops\":%llu}",
		       p->fn, (unsigned long long)p->records, (unsigned long long)p->fragments,
		       (unsigned long long)p->bytes, (unsigned long long)p->lost_records,
		       (unsigned long long)p->lost_records);
	}
	printf("],\"attach_failures\":[");
	for (i = 0; i < r->nattach_failures; i++) {
		printf("%s{\"binary\":", i ? "," : "");
		print_json_string(r->attach_failures[i].binary);
		printf(",\"fn\":\"%s\",\"error\":", r->attach_failures[i].fn);
		print_json_string(r->attach_failures[i].error);
		putchar('}');
	}
	putchar(']');
	print_hold_counters();
	print_net_bytes(net_limit);
}

/*
 * stdout: one round of `net_bytes` lines, flushed: `{"event":"net_bytes","net_bytes":{"pids":[...],"more":M,
 * "since_ticks":T,"round":R,"part":i,"parts":P}}`, P >= 1 lines of at most NET_PIDS_PER_LINE processes each, every
 * entry of the map on exactly one of them; `more` = the round's processes not on this line (so a reader that takes one
 * line alone reads the others as unknown, never as 0). Or one `{"event":"net_bytes","net_bytes":{"missing":...}}`.
 */
void print_net_bytes_line(void)
{
	uint32_t n, from, parts, i;
	uint64_t extra;

	if (g.net_bytes_missing) {
		printf("{\"event\":\"net_bytes\"");
		print_net_missing();
		printf("}\n");
		fflush(stdout);
		return;
	}
	n = read_net_round(&extra);
	parts = n ? (n + NET_PIDS_PER_LINE - 1) / NET_PIDS_PER_LINE : 1;
	for (i = 0; i < parts; i++) {
		from = i * NET_PIDS_PER_LINE;
		printf("{\"event\":\"net_bytes\",\"net_bytes\":");
		print_net_pids(from, from + NET_PIDS_PER_LINE < n ? from + NET_PIDS_PER_LINE : n, n, extra);
		printf(",\"round\":%llu,\"part\":%u,\"parts\":%u}}\n", (unsigned long long)net_rounds, i, parts);
	}
	net_rounds++;
	fflush(stdout);
}

/* Publishes the loss record; with `print`, also the stdout `stats` line carrying the same counters. */
void publish_loss(bool print)
{
	static struct rec_probe_stat probes[MAX_PROBES];
	struct publisher_stats st;
	struct rec_loss r;
	struct rec_base b;

	read_loss(&r, probes);
	next_base(&b, boottime_ns());
	encode_loss(&g.sbuf, &b, &r);
	publish_current(&b, "loss", NO_PARTITION);
	if (!print)
		return;
	publisher_get_stats(g.pub, &st);
	printf("{\"event\":\"stats\",\"records\":%llu,\"published\":%llu,\"lost_records\":%llu,\"lost_bytes\":%llu,"
	       "\"ringbuf_drops\":%llu,\"ringbuf_drop_bytes\":%llu,\"publish_failures\":%llu,\"publish_reordered\":%llu,"
	       "\"file_opens_skipped\":%llu",
	       (unsigned long long)r.records, (unsigned long long)st.published, (unsigned long long)r.lost_records,
	       (unsigned long long)r.lost_bytes, (unsigned long long)r.lost_records, (unsigned long long)r.lost_bytes,
	       (unsigned long long)r.publish_failures, (unsigned long long)st.reordered,
	       (unsigned long long)r.file_opens_skipped);
	print_probe_counters(&r, NET_PIDS_PER_LINE);
	printf("}\n");
	fflush(stdout);
}

void print_stopped(void)
{
	static struct rec_probe_stat probes[MAX_PROBES];
	struct publisher_stats st;
	uint64_t lost, lost_bytes;
	struct rec_loss r;

	publisher_get_stats(g.pub, &st);
	read_lost(&lost, &lost_bytes);
	printf("{\"event\":\"stopped\",\"records\":%llu,\"published\":%llu,\"lost_records\":%llu,\"lost_bytes\":%llu,"
	       "\"ringbuf_drops\":%llu,\"publish_failures\":%llu,\"publish_reordered\":%llu,\"file_opens_skipped\":%llu,"
	       "\"last_seq\":%lld",
	       (unsigned long long)g.records, (unsigned long long)st.published, (unsigned long long)lost,
	       (unsigned long long)lost_bytes, (unsigned long long)lost, (unsigned long long)st.failures,
	       (unsigned long long)st.reordered,
	       (unsigned long long)sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO),
	       g.have_last_seq ? (long long)g.last_seq : -1LL);
	read_loss(&r, probes);
	print_probe_counters(&r, 0);
	printf("}\n");
	fflush(stdout);
}

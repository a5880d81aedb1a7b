// SPDX-License-Identifier: Apache-2.0
/*
 * agentsight-probe: attaches the TLS and process probes (bpf/), reads their ring buffer and publishes raw records
 * (libs/contracts/src/raw.ts) to NATS JetStream. See ../README.md for flags and the stdout protocol.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nats/nats.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "ssl_event.h"
#include "proc_event.h"
#include "process.skel.h"
#include "sslsniff.skel.h"

#include "publisher.h"
#include "follow.h"
#include "io_format.h"
#include "records.h"
#include "sysinfo.h"
#include "locate.h"
#include "locate_cache.h"
#include "hold.h"
#include "hold_event.h"
#include "tls_notice.h"
#include "pacing.h"

#define MAX_LIST 64
#define QUEUE_MAX_BYTES (256u << 20)     /* retry queue bound, bytes */
#define FLUSH_TIMEOUT_MS 15000           /* shutdown: wait this long for PubAcks */
#define PID_BUCKETS 4096
#define MAX_ATTACH_FAILURES 256          /* attach failures kept for the loss record / stats line */
#define SLICE_END (-EAGAIN)              /* on_record: the slice is full (pacing.h), the ring buffer read stops there */

/* Symbol names, indexed by enum ssl_fn (also the `fn` of the records). */
static const char *const ssl_fns[SSL_FN_COUNT] = {
	[SSL_FN_WRITE] = "SSL_write",
	[SSL_FN_READ] = "SSL_read",
	[SSL_FN_WRITE_EX] = "SSL_write_ex",
	[SSL_FN_READ_EX] = "SSL_read_ex",
	[SSL_FN_GNUTLS_SEND] = "gnutls_record_send",
	[SSL_FN_GNUTLS_RECV] = "gnutls_record_recv",
	[SSL_FN_NSPR_WRITE] = "PR_Write",
	[SSL_FN_NSPR_READ] = "PR_Read",
	[SSL_FN_NSPR_SEND] = "PR_Send",
	[SSL_FN_NSPR_RECV] = "PR_Recv",
	[SSL_FN_DO_HANDSHAKE] = "SSL_do_handshake",
	[SSL_FN_GO_WRITE] = "crypto/tls.(*Conn).Write",
	[SSL_FN_GO_READ] = "crypto/tls.(*Conn).Read",
	[SSL_FN_RUSTLS_WRITE] = "rustls::CommonState::buffer_plaintext",
	[SSL_FN_RUSTLS_READ] = "rustls::CommonState::take_received_plaintext",
};

/*
 * TLS libraries whose functions are probed together: every function of a family that a binary exports is probed,
 * and missing ones are reported only when the binary exports at least one function of the family.
 */
struct tls_family {
	const char *name;
	const char *system_soname; /* system library probed by default (ldconfig -p) */
	enum ssl_fn fns[5];
	int nfns;
};

static const struct tls_family tls_families[] = {
	{ "OpenSSL", "libssl.so.3", { SSL_FN_WRITE, SSL_FN_READ, SSL_FN_WRITE_EX, SSL_FN_READ_EX, SSL_FN_DO_HANDSHAKE }, 5 },
	{ "GnuTLS", "libgnutls.so.30", { SSL_FN_GNUTLS_SEND, SSL_FN_GNUTLS_RECV }, 2 },
	{ "NSS", "libnspr4.so", { SSL_FN_NSPR_WRITE, SSL_FN_NSPR_READ, SSL_FN_NSPR_SEND, SSL_FN_NSPR_RECV }, 4 },
};
#define N_FAMILIES ((int)(sizeof(tls_families) / sizeof(tls_families[0])))
static const char *const ssl_dirs[] = { "write", "read" };

/* Command-line options. */
static struct {
	uint32_t pids[MAX_LIST];
	int npids;
	uint32_t excludes[MAX_LIST];
	int nexcludes;
	const char *binaries[MAX_LIST];
	int nbinaries;
	const char *comms[MAX_COMMS];
	int ncomms;
	bool has_uid;
	uint32_t uid;
	const char *nats_url;
	const char *host;
	uint32_t partitions;
	uint64_t stats_interval_ms;
	bool no_file_events; /* --no-file-events */
	bool no_net_events;  /* --no-net-events */
	bool all_files;      /* --all-files: also opens of /proc, /sys, /dev */
	bool follow_exec;    /* --follow-exec: offer processes that exec to the controller (follow.h) */
	bool no_stdio;       /* --no-stdio */
	const char *cache_dir; /* --cache-dir */
	const char *locate[MAX_LIST]; /* --locate */
	int nlocate;
	uint64_t hold_ms;     /* --hold-ms: bound of an attach hold, 0 = no holds (hold.h) */
	bool no_map_events;   /* --no-map-events: do not attach files mapped executable */
	bool no_tls_notices;  /* --no-tls-notices: do not look for TLS no probe records (tls_notice.h) */
	bool system_wide;     /* --system-wide: attach uprobes for every process even with --pid */
} opt;

/* Stream position of one (pid, ssl, dir). */
struct conn {
	uint64_t ssl;
	uint8_t dir;
	uint64_t pos;       /* bytes of the direction's stream seen so far (including the current call) */
	uint64_t call_base; /* stream offset of the current call's first byte */
	struct conn *next;
};

/* What the producer knows about one traced process. */
struct pidinfo {
	uint32_t pid;
	bool known; /* an exec or snapshot record was published */
	struct conn *conns;
	struct bpf_link **links; /* per-process attachment: this process' uprobe links */
	int nlinks, links_cap;
	int *tgts;               /* per-process attachment: indexes in g.targets attached for this process */
	int ntgts, tgts_cap;
	uint64_t stdio_pos[3][2];  /* stdio bytes seen per (fd, dir), including the current call */
	uint64_t stdio_base[3][2]; /* stream offset of the current stdio call's first byte per (fd, dir) */
	struct pidinfo *next;
};

/* A binary or library checked for TLS functions (whether or not anything was attached): each inode is checked once. */
struct target {
	dev_t dev;
	ino_t ino;
	char *path;    /* real path (or /proc/<pid>/exe when the file is not reachable by a path) */
	bool attached; /* at least one function probed */
	char *why;     /* not attached because a TLS stack was found but not recognised: the locator's message; else NULL */
	char *open_path; /* the path the file was checked through (may be /proc/<pid>/...) */
	int probe_first, probe_end; /* its probes: ids probe_first..probe_end-1 */
};

/* One attached (binary, function): its id is the BPF cookie of both links and the index in `probe_stats`. */
struct probe {
	const char *binary; /* target path */
	const char *fn;     /* ssl_fns[] */
	/* Per-process attachment: where to attach for each traced process (attach_fn's arguments). */
	enum ssl_fn sfn;
	const char *func_name; /* by symbol, or NULL: at offset */
	uint64_t offset;
	uint64_t *ret_offsets; /* Go: plain uprobes at each RET instead of a uretprobe */
	uint32_t nret;
	bool failure_reported; /* a per-process attach of it failed and was reported */
};

static struct {
	struct sslsniff_bpf *ssl_skel;
	struct process_bpf *proc_skel;
	struct bpf_link **links;
	int nlinks, links_cap;
	struct bpf_link *exec_wakeup; /* sslsniff.bpf.c exec_wakeup */
	struct target *targets;
	int ntargets, targets_cap;
	struct probe probes[MAX_PROBES];
	int nprobes;
	struct rec_attach_failure failures[MAX_ATTACH_FAILURES];
	int nfailures;
	uint64_t failures_dropped; /* failures beyond MAX_ATTACH_FAILURES (counted, not listed) */
	bool no_more_attach;       /* stopping: the links are being destroyed */
	bool per_pid;              /* uprobes attached per traced process (--pid without --follow-exec, --system-wide) */
	struct ring_buffer *rb;
	struct publisher *pub;
	msgpack_sbuffer sbuf;

	char host[256];
	char host_token[256];
	char boot_id[64];
	uint64_t run;
	uint64_t seq;
	int64_t wall_offset_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t records;        /* ring-buffer records read */
	bool slicing;            /* on_record ends a read after a slice (pacing.h); off while stopping */
	uint64_t slice_records, slice_bytes; /* records and bytes read in the current slice */
	uint64_t cycle_records;  /* records read since the last poll window ended */
	bool file_events;        /* file opens are recorded */
	bool net_events;         /* connect() calls are recorded */
	bool stdio_events;       /* stdio reads/writes are recorded */
	bool have_last_seq;
	uint64_t last_seq;
	struct pidinfo *pids[PID_BUCKETS];
} g;

static volatile sig_atomic_t stopping;
static uint64_t tls_hellos; /* ClientHellos of traced processes seen (captured or not) */
static char last_unrecognised[768]; /* attach_located -> attach_inode: why the last binary's stack was not recognised */

static struct target *attach_on_event(uint32_t pid, const char *file, bool is_exec);
static struct target *target_of(dev_t dev, ino_t ino);
static bool parse_maps_line(const char *line, dev_t *dev, ino_t *ino, const char **path);
static void attach_target_pid(struct target *t, uint32_t pid, const char *hint);
static void detach_pid(struct pidinfo *pi);
static void handle_fork(const struct as_fork_event *e, size_t size);
static void emit_tls_notice(const struct tls_hello *h);
static void handle_map_exec(const struct as_map_event *e, size_t size);
static void handle_tls_hello(const struct as_hello_event *e, size_t size);
static bool is_shared_library(const char *path, size_t len);

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "agentsight-probe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: agentsight-probe [options]\n"
		"  --pid N              trace only N and its descendants (repeatable)\n"
		"  --comm NAME          trace only processes named NAME (repeatable, up to 8)\n"
		"  --uid N              trace only processes of uid N\n"
		"  --exclude-pid N      never trace N and its descendants (repeatable)\n"
		"  --binary-path P      also attach to binary/library P (repeatable)\n"
		"  --nats-url URL       default $NATS_URL or nats://127.0.0.1:7422 (agentsight's own NATS); credentials from\n"
		"                       $NATS_CREDS (.creds file) or $NATS_USER/$NATS_PASSWORD, never from argv\n"
		"  --host NAME          host name in records and subjects (default: hostname)\n"
		"  --partitions N       partitions of agentsight.raw.ssl.<host>.<p> (default 8)\n"
		"  --stats-interval-ms N  period of loss records (default 5000)\n"
		"  --no-file-events     do not record file opens\n"
		"  --no-net-events      do not record connect() calls\n"
		"  --all-files          also record opens under /proc, /sys and /dev (skipped and counted by default)\n"
		"  --follow-exec        offer every process that execs to the controller on stdout, trace it if stdin\n"
		"                       answers `trace <pid>` (see follow.h)\n"
		"  --no-stdio           do not record reads/writes on fds 0, 1, 2\n"
		"  --cache-dir DIR      keep located TLS functions of stripped binaries in DIR (locate_cache.h)\n"
		"  --locate PATH        print what the locators find in PATH (one JSON line; repeatable) and exit: no BPF,\n"
		"                       no NATS (with --cache-dir, the cache is used and filled)\n"
		"  --hold-ms N          stop a traced process that runs a file not checked yet until it is attached, at most\n"
		"                       N ms (default 1000; 0: never stop processes)\n"
		"  --no-map-events      do not check files that traced processes map executable (mmap/mprotect PROT_EXEC)\n"
		"  --no-tls-notices     do not report TLS connections that no probe records\n"
		"  --system-wide        attach the uprobes for every process even with --pid (default with --pid: per traced\n"
		"                       process, so untraced processes pay nothing)\n");
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end)
		die("invalid %s: %s", what, s);
	return v;
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "uid", required_argument, NULL, 'u' },
		{ "exclude-pid", required_argument, NULL, 'x' },
		{ "binary-path", required_argument, NULL, 'b' },
		{ "nats-url", required_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'H' },
		{ "partitions", required_argument, NULL, 'P' },
		{ "stats-interval-ms", required_argument, NULL, 's' },
		{ "no-file-events", no_argument, NULL, 'F' },
		{ "no-net-events", no_argument, NULL, 'N' },
		{ "all-files", no_argument, NULL, 'A' },
		{ "follow-exec", no_argument, NULL, 'E' },
		{ "no-stdio", no_argument, NULL, 'S' },
		{ "cache-dir", required_argument, NULL, 'C' },
		{ "locate", required_argument, NULL, 'L' },
		{ "hold-ms", required_argument, NULL, 'W' },
		{ "no-map-events", no_argument, NULL, 'M' },
		{ "no-tls-notices", no_argument, NULL, 'T' },
		{ "system-wide", no_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt.nats_url = getenv("NATS_URL") && *getenv("NATS_URL") ? getenv("NATS_URL") : "nats://127.0.0.1:7422";
	opt.partitions = 8;
	opt.stats_interval_ms = 5000;
	opt.hold_ms = 1000;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (opt.npids == MAX_LIST)
				die("too many --pid");
			opt.pids[opt.npids++] = (uint32_t)parse_u64(optarg, "--pid");
			break;
		case 'x':
			if (opt.nexcludes == MAX_LIST)
				die("too many --exclude-pid");
			opt.excludes[opt.nexcludes++] = (uint32_t)parse_u64(optarg, "--exclude-pid");
			break;
		case 'b':
			if (opt.nbinaries == MAX_LIST)
				die("too many --binary-path");
			opt.binaries[opt.nbinaries++] = optarg;
			break;
		case 'c':
			if (strlen(optarg) >= TASK_COMM_LEN_)
				die("--comm longer than %d characters: %s", TASK_COMM_LEN_ - 1, optarg);
			if (opt.ncomms == MAX_COMMS)
				die("more than %d --comm", MAX_COMMS);
			opt.comms[opt.ncomms++] = optarg;
			break;
		case 'u':
			opt.has_uid = true;
			opt.uid = (uint32_t)parse_u64(optarg, "--uid");
			break;
		case 'n':
			opt.nats_url = optarg;
			break;
		case 'H':
			opt.host = optarg;
			break;
		case 'P':
			opt.partitions = (uint32_t)parse_u64(optarg, "--partitions");
			if (!opt.partitions)
				die("--partitions must be > 0");
			break;
		case 's':
			opt.stats_interval_ms = parse_u64(optarg, "--stats-interval-ms");
			if (!opt.stats_interval_ms)
				die("--stats-interval-ms must be > 0");
			break;
		case 'F':
			opt.no_file_events = true;
			break;
		case 'N':
			opt.no_net_events = true;
			break;
		case 'A':
			opt.all_files = true;
			break;
		case 'E':
			opt.follow_exec = true;
			break;
		case 'S':
			opt.no_stdio = true;
			break;
		case 'C':
			opt.cache_dir = optarg;
			break;
		case 'L':
			if (opt.nlocate == MAX_LIST)
				die("too many --locate");
			opt.locate[opt.nlocate++] = optarg;
			break;
		case 'W':
			opt.hold_ms = parse_u64(optarg, "--hold-ms");
			break;
		case 'M':
			opt.no_map_events = true;
			break;
		case 'T':
			opt.no_tls_notices = true;
			break;
		case 'Y':
			opt.system_wide = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument: %s", argv[optind]);
}

/* ---- per-process / per-connection state ---- */

static struct pidinfo *pid_get(uint32_t pid, bool create)
{
	struct pidinfo **b = &g.pids[pid % PID_BUCKETS], *p;

	for (p = *b; p; p = p->next)
		if (p->pid == pid)
			return p;
	if (!create)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		die("out of memory");
	p->pid = pid;
	p->next = *b;
	*b = p;
	return p;
}

static void pid_remove(uint32_t pid)
{
	struct pidinfo **pp = &g.pids[pid % PID_BUCKETS], *p;

	for (; (p = *pp); pp = &p->next) {
		if (p->pid == pid) {
			*pp = p->next;
			detach_pid(p);
			free(p->tgts);
			while (p->conns) {
				struct conn *c = p->conns;

				p->conns = c->next;
				free(c);
			}
			free(p);
			return;
		}
	}
}

static struct conn *conn_get(struct pidinfo *pi, uint64_t ssl, uint8_t dir)
{
	struct conn **pp, *c;

	for (pp = &pi->conns; (c = *pp); pp = &c->next) {
		if (c->ssl == ssl && c->dir == dir) {
			*pp = c->next; /* move to front: active connections stay cheap to find */
			c->next = pi->conns;
			pi->conns = c;
			return c;
		}
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		die("out of memory");
	c->ssl = ssl;
	c->dir = dir;
	c->next = pi->conns;
	pi->conns = c;
	return c;
}

/* ---- publishing ---- */

/** fnv1a64 over the pid (4 bytes, little endian) then the SSL pointer (8 bytes, little endian). */
static uint64_t fnv1a64_pid_ssl(uint32_t pid, uint64_t ssl)
{
	uint64_t h = 0xcbf29ce484222325ull;
	int i;

	for (i = 0; i < 4; i++) {
		h ^= (pid >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	for (i = 0; i < 8; i++) {
		h ^= (ssl >> (8 * i)) & 0xff;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* Fills the common fields of the next record (takes the next seq). ts_boot_ns in ns. */
static void next_base(struct rec_base *b, uint64_t ts_boot_ns)
{
	b->host = g.host;
	b->boot_id = g.boot_id;
	b->run = g.run;
	b->seq = g.seq++;
	b->ts_boot_ns = ts_boot_ns;
	b->ts_wall_ns = (uint64_t)((int64_t)ts_boot_ns + g.wall_offset_ns);
}

#define NO_PARTITION (-1) /* publish_current: a subject without a partition token */

/*
 * Publishes the record in g.sbuf, encoded with base b, with the id of b on agentsight.raw.<family>.<host> (partition
 * NO_PARTITION) or agentsight.raw.<family>.<host>.<partition>.
 */
static void publish_current(const struct rec_base *b, const char *family, int64_t partition)
{
	char id[128], subject[320];

	if (partition == NO_PARTITION)
		snprintf(subject, sizeof(subject), "agentsight.raw.%s.%s", family, g.host_token);
	else
		snprintf(subject, sizeof(subject), "agentsight.raw.%s.%s.%lld", family, g.host_token, (long long)partition);
	snprintf(id, sizeof(id), "%s:%llu:%llu", g.boot_id, (unsigned long long)g.run, (unsigned long long)b->seq);
	publisher_publish(g.pub, subject, id, g.sbuf.data, g.sbuf.size);
	g.have_last_seq = true;
	g.last_seq = b->seq;
}

static void publish_proc(const struct rec_proc *r, uint64_t ts_boot_ns)
{
	struct rec_base b;

	next_base(&b, ts_boot_ns);
	encode_proc(&g.sbuf, &b, r);
	publish_current(&b, "proc", NO_PARTITION);
}

/* Publishes a snapshot of pid from /proc (comm_hint when the process is already gone). */
static void publish_snapshot(uint32_t pid, const char *comm_hint)
{
	static struct proc_snapshot s;
	struct rec_proc r = { .event = "snapshot", .task.pid = pid };

	if (read_proc_snapshot(pid, &s) == 0) {
		r.task.ppid = s.ppid;
		r.task.uid = s.uid;
		r.task.comm = s.comm;
		r.filename = s.exe;
		r.args = s.args;
		r.args_len = s.args_len;
		r.argv_truncated = s.args_truncated;
	} else {
		r.task.comm = comm_hint ? comm_hint : "";
		r.filename = "";
		r.args = "";
		r.argv_truncated = true; /* unknown argv: the process exited before we could read it */
	}
	publish_proc(&r, boottime_ns());
}

/*
 * A record of pid arrived: publish a snapshot first when neither an exec nor a snapshot of it was published. Returns
 * what the producer knows about pid.
 */
static struct pidinfo *ensure_known(uint32_t pid, const char *comm)
{
	struct pidinfo *pi = pid_get(pid, true);

	if (!pi->known) {
		publish_snapshot(pid, comm);
		pi->known = true;
	}
	return pi;
}

/* Sum over CPUs of the per-CPU counter array map_fd at index k. */
static uint64_t sum_percpu(int map_fd, uint32_t k)
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

static void read_drops(uint64_t *records, uint64_t *bytes)
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
			out[i].ringbuf_drops += vals[c].ringbuf_drops;
		}
	}
}

/* Fills every counter of a loss record (probes: g.nprobes entries of storage). */
static void read_loss(struct rec_loss *r, struct rec_probe_stat *probes)
{
	struct publisher_stats st;

	memset(r, 0, sizeof(*r));
	r->records = g.records;
	read_drops(&r->ringbuf_drops, &r->ringbuf_drop_bytes);
	r->file_opens_skipped = sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO);
	publisher_get_stats(g.pub, &st);
	r->publish_failures = st.failures;
	read_probe_stats(probes);
	r->probes = probes;
	r->nprobes = (size_t)g.nprobes;
	r->attach_failures = g.failures;
	r->nattach_failures = (size_t)g.nfailures;
}

static void print_json_string(const char *s);

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

/* stdout: `,"probes":[...],"attach_failures":[...]` of r (for the stats and stopped lines). */
static void print_probe_counters(const struct rec_loss *r)
{
	size_t i;

	printf(",\"probes\":[");
	for (i = 0; i < r->nprobes; i++) {
		const struct rec_probe_stat *p = &r->probes[i];

		printf("%s{\"binary\":", i ? "," : "");
		print_json_string(p->binary);
		printf(",\"fn\":\"%s\",\"records\":%llu,\"fragments\":%llu,\"bytes\":%llu,\"ringbuf_drops\":%llu}", p->fn,
		       (unsigned long long)p->records, (unsigned long long)p->fragments, (unsigned long long)p->bytes,
		       (unsigned long long)p->ringbuf_drops);
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
}

/* Publishes the loss record; with `print`, also the stdout `stats` line carrying the same counters. */
static void publish_loss(bool print)
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
	printf("{\"event\":\"stats\",\"records\":%llu,\"published\":%llu,\"ringbuf_drops\":%llu,"
	       "\"ringbuf_drop_bytes\":%llu,\"publish_failures\":%llu,\"publish_reordered\":%llu,"
	       "\"file_opens_skipped\":%llu",
	       (unsigned long long)r.records, (unsigned long long)st.published, (unsigned long long)r.ringbuf_drops,
	       (unsigned long long)r.ringbuf_drop_bytes, (unsigned long long)r.publish_failures,
	       (unsigned long long)st.reordered, (unsigned long long)r.file_opens_skipped);
	print_probe_counters(&r);
	printf("}\n");
	fflush(stdout);
}

/* ---- ring-buffer records ---- */

/* True when a ring-buffer record fails its checks (`bad`): says so on stderr, the record is skipped. */
static bool malformed(bool bad, const char *what, size_t size)
{
	if (bad)
		fprintf(stderr, "agentsight-probe: malformed %s record (%zu bytes) skipped\n", what, size);
	return bad;
}

/*
 * The task of a ring-buffer record into t: the ids as given, the comm (TASK_COMM_LEN_ bytes, NUL-terminated only when
 * shorter) copied into buf, which t->comm then points to.
 */
static void task_of(struct rec_task *t, char buf[TASK_COMM_LEN_ + 1], const char *comm, uint32_t pid, uint32_t tid,
		    uint32_t uid, uint32_t ppid)
{
	memcpy(buf, comm, TASK_COMM_LEN_);
	buf[TASK_COMM_LEN_] = 0;
	*t = (struct rec_task){ .pid = pid, .tid = tid, .uid = uid, .ppid = ppid, .comm = buf };
}

/* task_of for the file, network and stdio records (comm: the record's). */
static void io_task_of(struct rec_task *t, char buf[TASK_COMM_LEN_ + 1], const struct as_io_task *k, const char *comm)
{
	task_of(t, buf, comm, k->pid, k->tid, k->uid, k->ppid);
}

/* Partition of the connection (pid, ssl): every record of a connection goes to agentsight.raw.ssl.<host>.<this>. */
static uint32_t ssl_partition(uint32_t pid, uint64_t ssl)
{
	return (uint32_t)(fnv1a64_pid_ssl(pid, ssl) % opt.partitions);
}

/*
 * Fills f with one fragment of a call (len bytes; this fragment: frag_len bytes of data at frag_offset) on a stream
 * whose bytes seen so far, including the current call, are *pos and whose current call starts at *call_base (bytes):
 * a call's first fragment (frag_offset 0) starts a new call at *pos.
 */
static void fragment_of(struct rec_fragment *f, uint64_t *pos, uint64_t *call_base, uint32_t len, uint32_t frag_offset,
			const void *data, uint32_t frag_len, uint32_t partition)
{
	if (frag_offset == 0) {
		*call_base = *pos;
		*pos += len;
	}
	*f = (struct rec_fragment){ .len = len, .frag_offset = frag_offset, .frag_total = len,
				    .stream_offset = *call_base + frag_offset, .partition = partition, .data = data,
				    .data_len = frag_len };
}

static void handle_ssl(const struct as_ssl_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_ssl r = { 0 };
	struct rec_base b;
	struct conn *c;

	if (malformed(size < sizeof(*e) || e->frag_len > size - sizeof(*e) || e->fn >= SSL_FN_COUNT ||
		      e->dir > SSL_DIR_READ, "SSL", size))
		return;
	task_of(&r.task, comm, e->comm, e->pid, e->tid, e->uid, 0);
	tls_pending_resolve(e->pid); /* its TLS is captured */
	c = conn_get(ensure_known(e->pid, comm), e->ssl, e->dir);
	r.ssl = e->ssl;
	r.fn = ssl_fns[e->fn];
	r.dir = ssl_dirs[e->dir];
	fragment_of(&r.frag, &c->pos, &c->call_base, e->len, e->frag_offset, e->data, e->frag_len,
		    ssl_partition(e->pid, e->ssl));
	next_base(&b, e->ts_ns);
	encode_ssl(&g.sbuf, &b, &r);
	publish_current(&b, "ssl", r.frag.partition);
}

/* One SSL_do_handshake call: published on the connection's partition, before its first data of the same call order. */
static void handle_ssl_handshake(const struct as_ssl_hs_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_ssl_handshake r = { 0 };
	struct rec_base b;

	if (malformed(size < sizeof(*e), "handshake", size))
		return;
	task_of(&r.task, comm, e->comm, e->pid, e->tid, e->uid, 0);
	tls_pending_resolve(e->pid); /* its TLS is captured */
	ensure_known(e->pid, comm);
	r.ssl = e->ssl;
	r.fn = ssl_fns[SSL_FN_DO_HANDSHAKE];
	r.partition = ssl_partition(e->pid, e->ssl);
	r.result = e->result;
	r.duration_ns = e->duration_ns;
	next_base(&b, e->ts_ns);
	encode_ssl_handshake(&g.sbuf, &b, &r);
	publish_current(&b, "ssl", r.partition);
}

/*
 * On process exit: one ssl_close record per connection the process used, on the connection's partition, so the
 * parser knows nothing more will come (libs/contracts/src/raw.ts RawSslCloseRecord).
 */
static void publish_closes(uint32_t pid, uint32_t uid, const char *comm, uint64_t ts_boot_ns)
{
	struct pidinfo *pi = pid_get(pid, false);
	struct conn *c, *o;
	struct rec_base b;
	struct rec_ssl_close r;

	if (!pi)
		return;
	for (c = pi->conns; c; c = c->next) {
		bool first = true;

		for (o = pi->conns; o != c; o = o->next)
			if (o->ssl == c->ssl)
				first = false;
		if (!first)
			continue;
		r = (struct rec_ssl_close){ .task = { .pid = pid, .tid = pid, .uid = uid, .comm = comm }, .ssl = c->ssl,
					    .reason = "process_exit" };
		for (o = pi->conns; o; o = o->next) {
			if (o->ssl != c->ssl)
				continue;
			if (o->dir == SSL_DIR_WRITE)
				r.write_offset = o->pos;
			else
				r.read_offset = o->pos;
		}
		r.partition = ssl_partition(pid, c->ssl);
		next_base(&b, ts_boot_ns);
		encode_ssl_close(&g.sbuf, &b, &r);
		publish_current(&b, "ssl", r.partition);
	}
}

static void handle_proc(const struct as_proc_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1], filename[PROC_FILENAME_MAX + 1];
	struct rec_proc r = { 0 };

	if (malformed(size < sizeof(*e) || e->args_len > PROC_ARGS_MAX, "process", size))
		return;
	task_of(&r.task, comm, e->comm, e->pid, 0, e->uid, e->ppid);
	memcpy(filename, e->filename, PROC_FILENAME_MAX);
	filename[PROC_FILENAME_MAX] = 0;
	if (e->type == EVENT_EXEC) {
		/* Per-process attachment: the old image's probes go; the new executable's come with attach_on_event. */
		if (g.per_pid)
			detach_pid(pid_get(e->pid, true));
		/* A binary the probes do not cover yet: attach before anything else of this process is read. */
		attach_on_event(e->pid, filename, true);
		r.event = "exec";
		r.filename = filename;
		r.args = e->args;
		r.args_len = e->args_len;
		r.argv_truncated = e->argv_truncated;
		pid_get(e->pid, true)->known = true;
		publish_proc(&r, e->ts_ns);
	} else {
		r.event = "exit";
		r.filename = "";
		r.args = "";
		r.exit_code = e->exit_code;
		r.duration_ns = e->duration_ns;
		publish_closes(e->pid, e->uid, comm, e->ts_ns);
		{
			struct tls_hello h;

			while (tls_pending_take(e->pid, 0, &h)) /* it exited without any captured TLS */
				emit_tls_notice(&h);
		}
		publish_proc(&r, e->ts_ns);
		pid_remove(e->pid);
	}
}

static void handle_file_open(const struct as_file_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1], flags_text[256];
	struct rec_file_open r = { 0 };
	struct rec_base b;

	if (malformed(size < sizeof(*e) || e->path_len > size - sizeof(*e) || e->path_len >= FILE_PATH_MAX, "file-open",
		      size))
		return;
	io_task_of(&r.task, comm, &e->task, e->comm);
	ensure_known(e->task.pid, comm);
	if (e->result >= 0 && !e->path_truncated && is_shared_library(e->path, e->path_len)) {
		/* A library loaded at run time (a venv's bundled libssl): probe it before it is used. */
		char lib[FILE_PATH_MAX + 1];

		memcpy(lib, e->path, e->path_len);
		lib[e->path_len] = 0;
		attach_on_event(e->task.pid, lib, false);
	}

	r.path = e->path;
	r.path_len = e->path_len;
	r.path_truncated = e->path_truncated;
	r.flags = e->flags;
	open_flags_text(r.flags, flags_text, sizeof(flags_text));
	r.flags_text = flags_text;
	r.mode = e->mode;
	r.result = e->result;
	next_base(&b, e->ts_ns);
	encode_file_open(&g.sbuf, &b, &r);
	/* On the proc subject: ordered with the process' exec and exit. */
	publish_current(&b, "proc", NO_PARTITION);
}

static void handle_net_connect(const struct as_net_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_net_connect r = { 0 };
	struct sock_target t;
	struct rec_base b;

	if (malformed(size < sizeof(*e) || e->addr_len > NET_ADDR_MAX || sock_target_decode(e->addr, e->addr_len, &t),
		      "connect", size))
		return;
	io_task_of(&r.task, comm, &e->task, e->comm);
	ensure_known(e->task.pid, comm);
	r.family = t.family;
	r.address = t.address;
	r.port = t.port;
	r.result = e->result;
	next_base(&b, e->ts_ns);
	encode_net_connect(&g.sbuf, &b, &r);
	publish_current(&b, "proc", NO_PARTITION);
}

/*
 * --follow-exec: decides an offered exec, and drops the records of processes not traced after all (their exit record
 * too). Every record layout starts with the type and the tgid; proc records carry the parent too, file, network and
 * stdio records in their struct as_io_task.
 */
static bool follow_admits(uint32_t type, const void *data, size_t size)
{
	const struct as_proc_event *pe = data;
	uint32_t pid, ppid = 0;
	bool dropped;

	if (size < 2 * sizeof(uint32_t))
		return true;
	memcpy(&pid, (const char *)data + sizeof(uint32_t), sizeof(pid));
	if ((type == EVENT_EXEC || type == EVENT_EXIT) && size >= sizeof(*pe)) {
		if (type == EVENT_EXEC && pe->provisional)
			return follow_decide(pe);
		ppid = pe->ppid;
	} else if ((type == EVENT_FILE_OPEN || type == EVENT_NET_CONNECT || type == EVENT_STDIO || type == EVENT_MAP_EXEC ||
		    type == EVENT_TLS_HELLO) &&
		   size >= sizeof(struct as_io_task)) {
		ppid = ((const struct as_io_task *)data)->ppid;
	}
	dropped = follow_dropped(pid, ppid);
	if (type == EVENT_EXIT)
		follow_forget(pid);
	return !dropped;
}

static const char *const stdio_ftypes[] = { "other", "fifo", "sock", "chr", "reg" };

/* One stdio fragment: stream_offset per (pid, fd, dir), partition pid % partitions (one process' stdio in order). */
static void handle_stdio(const struct as_stdio_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_stdio r = { 0 };
	struct pidinfo *pi;
	struct rec_base b;

	if (malformed(size < sizeof(*e) || e->frag_len > size - sizeof(*e) || e->fd > 2 || e->dir > SSL_DIR_READ ||
		      e->frag_offset + (uint64_t)e->frag_len > e->len, "stdio", size))
		return;
	io_task_of(&r.task, comm, &e->task, e->comm);
	pi = ensure_known(e->task.pid, comm);
	r.fd = e->fd;
	r.dir = ssl_dirs[e->dir];
	r.ftype = e->ftype < sizeof(stdio_ftypes) / sizeof(stdio_ftypes[0]) ? stdio_ftypes[e->ftype] : "other";
	r.ino = e->ino;
	r.dev = e->dev;
	fragment_of(&r.frag, &pi->stdio_pos[e->fd][e->dir], &pi->stdio_base[e->fd][e->dir], e->len, e->frag_offset,
		    e->data, e->frag_len, e->task.pid % opt.partitions);
	next_base(&b, e->ts_ns);
	encode_stdio(&g.sbuf, &b, &r);
	publish_current(&b, "stdio", r.frag.partition);
}

static int on_record_inner(void *ctx, void *data, size_t size);

/*
 * Ring-buffer callback: a record whose process the kernel stopped until its new file is attached (an exec with
 * `held`, an EVENT_MAP_EXEC with `held`; hold.h) is handled, attach included, then the process is released.
 */
static int on_record(void *ctx, void *data, size_t size)
{
	uint32_t type, pid = 0;
	bool held = false;
	int ret;

	if (size >= sizeof(struct as_proc_event) && ((const struct as_proc_event *)data)->type == EVENT_EXEC) {
		held = ((const struct as_proc_event *)data)->held;
		pid = ((const struct as_proc_event *)data)->pid;
	} else if (size >= sizeof(struct as_map_event) && ((const struct as_map_event *)data)->task.type == EVENT_MAP_EXEC) {
		held = ((const struct as_map_event *)data)->held;
		pid = ((const struct as_map_event *)data)->task.pid;
	} else if (size >= sizeof(struct as_fork_event) && ((const struct as_fork_event *)data)->type == EVENT_FORK) {
		held = ((const struct as_fork_event *)data)->held;
		pid = ((const struct as_fork_event *)data)->pid;
	}
	g.slice_records++;
	g.slice_bytes += size;
	g.cycle_records++;
	if (held)
		hold_begin(pid);
	ret = on_record_inner(ctx, data, size);
	if (held && hold_end(pid)) {
		memcpy(&type, data, sizeof(type));
		fprintf(stderr, "agentsight-probe: pid %u was released before its %s was attached (--hold-ms %llu passed): "
			"its first TLS calls may be missed\n", pid, type == EVENT_EXEC ? "executable" : type == EVENT_FORK ?
			"forked image" : "newly mapped file", (unsigned long long)opt.hold_ms);
		printf("{\"event\":\"hold_miss\",\"pid\":%u,\"what\":\"%s\",\"bound_ms\":%llu}\n", pid,
		       type == EVENT_EXEC ? "exec" : type == EVENT_FORK ? "fork" : "map", (unsigned long long)opt.hold_ms);
		fflush(stdout);
	}
	if (ret == 0 && g.slicing && pacing_slice_full(g.slice_records, g.slice_bytes))
		return SLICE_END; /* libbpf has consumed this record and stops: the caller yields, then reads on */
	return ret;
}

/*
 * Reads everything waiting in the ring buffer, one slice at a time (pacing.h) with the CPU yielded between two
 * slices, so a large backlog is never one long burst on a core the traced process or its peer waits for. `err` is
 * what the poll that ended the window returned (SLICE_END: it already read one full slice). Returns 0, or a
 * negative errno of the poll other than EINTR.
 */
static int drain_sliced(int err)
{
	for (;;) {
		if (err < 0 && err != -EINTR && err != SLICE_END)
			return err;
		if (err == SLICE_END)
			sched_yield();
		g.slice_records = g.slice_bytes = 0;
		err = ring_buffer__consume(g.rb);
		if (err != SLICE_END)
			return err < 0 && err != -EINTR ? err : 0;
	}
}

static int on_record_inner(void *ctx, void *data, size_t size)
{
	uint32_t type;

	(void)ctx;
	if (size < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	g.records++;
	if (follow_enabled() && !follow_admits(type, data, size))
		return 0;
	if (type == EVENT_SSL)
		handle_ssl(data, size);
	else if (type == EVENT_EXEC || type == EVENT_EXIT)
		handle_proc(data, size);
	else if (type == EVENT_FILE_OPEN)
		handle_file_open(data, size);
	else if (type == EVENT_NET_CONNECT)
		handle_net_connect(data, size);
	else if (type == EVENT_SSL_HANDSHAKE)
		handle_ssl_handshake(data, size);
	else if (type == EVENT_EXEC_WAKEUP)
		g.records--; /* only a wakeup, not a record */
	else if (type == EVENT_STDIO)
		handle_stdio(data, size);
	else if (type == EVENT_FORK) {
		g.records--; /* a control record (per-process attachment), not published */
		handle_fork(data, size);
	} else if (type == EVENT_MAP_EXEC) {
		g.records--; /* a control record (attach, hold), not published */
		handle_map_exec(data, size);
	} else if (type == EVENT_TLS_HELLO) {
		g.records--; /* published only as a tls_notice when not captured */
		handle_tls_hello(data, size);
	}
	else
		fprintf(stderr, "agentsight-probe: unknown record type %u skipped\n", type);
	return 0;
}

/* ---- BPF setup ---- */

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void add_pid(int map_fd, uint32_t pid)
{
	uint8_t one = 1;

	bpf_map_update_elem(map_fd, &pid, &one, BPF_ANY);
}

static void add_pid_cb(uint32_t pid, void *ctx)
{
	add_pid(*(int *)ctx, pid);
}

#define SET_FILTERS(rodata)                                                                    \
	do {                                                                                   \
		(rodata)->filter_pids = opt.npids > 0 || opt.follow_exec;                      \
		(rodata)->filter_uid = opt.has_uid;                                            \
		(rodata)->target_uid = opt.uid;                                                \
		(rodata)->n_comms = (__u32)opt.ncomms;                                         \
		for (int k_ = 0; k_ < opt.ncomms; k_++)                                        \
			memcpy((char *)(rodata)->target_comms[k_], opt.comms[k_], strlen(opt.comms[k_])); \
	} while (0)

static void load_bpf(void)
{
	struct sslsniff_bpf *s;
	struct process_bpf *p;
	int err;

	s = sslsniff_bpf__open();
	if (!s)
		die("cannot open the SSL BPF object: %s", strerror(errno));
	SET_FILTERS(s->rodata);
	err = sslsniff_bpf__load(s);
	if (err)
		die("cannot load the SSL BPF programs: %s (BPF/BTF unavailable or not root?)", strerror(-err));

	p = process_bpf__open();
	if (!p)
		die("cannot open the process BPF object: %s", strerror(errno));
	SET_FILTERS(p->rodata);
	p->rodata->follow_exec = opt.follow_exec;
	/* Per-process attachment needs the fork records and the holds at mapped TLS files (map events). */
	g.per_pid = opt.npids > 0 && !opt.follow_exec && !opt.system_wide && !opt.no_map_events;
	p->rodata->per_pid_attach = g.per_pid;
	g.file_events = !opt.no_file_events;
	g.net_events = !opt.no_net_events;
	p->rodata->file_events = g.file_events;
	p->rodata->net_events = g.net_events;
	p->rodata->all_files = opt.all_files;
	g.stdio_events = !opt.no_stdio;
	p->rodata->stdio_events = g.stdio_events;
	p->rodata->hold_new = opt.hold_ms > 0;
	p->rodata->map_events = !opt.no_map_events;
	p->rodata->hello_events = !opt.no_tls_notices;
	/* The syscall-exit hook runs on every syscall of the system: not loaded at all when no kind is wanted. */
	bpf_program__set_autoload(p->progs.handle_sys_exit, g.file_events || g.net_events || g.stdio_events ||
				  !opt.no_map_events || !opt.no_tls_notices);
	/* One ring buffer, one drop counter, one set of filter maps for both objects. */
	if (bpf_map__reuse_fd(p->maps.events, bpf_map__fd(s->maps.events)) ||
	    bpf_map__reuse_fd(p->maps.drops, bpf_map__fd(s->maps.drops)) ||
	    bpf_map__reuse_fd(p->maps.traced_pids, bpf_map__fd(s->maps.traced_pids)) ||
	    bpf_map__reuse_fd(p->maps.excluded_pids, bpf_map__fd(s->maps.excluded_pids)) ||
	    bpf_map__reuse_fd(p->maps.active_calls, bpf_map__fd(s->maps.active_calls)))
		die("cannot share maps between the BPF objects");
	err = process_bpf__load(p);
	if (err)
		die("cannot load the process BPF programs: %s", strerror(-err));
	if (opt.follow_exec)
		follow_init(bpf_map__fd(p->maps.traced_pids));
	if (hold_init(opt.hold_ms, bpf_map__fd(p->maps.checked_inodes)))
		die("cannot start the hold watchdog");
	/* Fork tracking first, then the roots, then the roots' existing descendants: no fork is missed. */
	err = process_bpf__attach(p);
	if (err)
		die("cannot attach the process tracepoints: %s", strerror(-err));
	/* After process.bpf.c's exec program: see exec_wakeup in sslsniff.bpf.c. */
	g.exec_wakeup = bpf_program__attach(s->progs.exec_wakeup);
	if (!g.exec_wakeup)
		die("cannot attach the exec wakeup: %s", strerror(errno));
	g.ssl_skel = s;
	g.proc_skel = p;

	{
		int traced = bpf_map__fd(s->maps.traced_pids), excl = bpf_map__fd(s->maps.excluded_pids);
		int i;

		add_pid(excl, (uint32_t)getpid());
		for (i = 0; i < opt.nexcludes; i++) {
			add_pid(excl, opt.excludes[i]);
			for_each_descendant(opt.excludes[i], add_pid_cb, &excl);
		}
		for (i = 0; i < opt.npids; i++) {
			add_pid(traced, opt.pids[i]);
			for_each_descendant(opt.pids[i], add_pid_cb, &traced);
		}
	}
}

static void print_json_string(const char *s)
{
	json_write_string(stdout, s, strlen(s));
}

static void *grow(void *arr, int *cap, size_t elem)
{
	int ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(arr, (size_t)ncap * elem);

	if (!p)
		die("out of memory");
	*cap = ncap;
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die("out of memory");
	return d;
}

/* Remembers that fn of binary could not be probed (reported in loss records and stats lines); print: say so on stderr. */
static void record_failure(const char *binary, const char *fn, const char *msg, bool print)
{
	if (print)
		fprintf(stderr, "agentsight-probe: %s: %s: %s\n", binary, fn, msg);
	if (g.nfailures == MAX_ATTACH_FAILURES) {
		g.failures_dropped++;
		return;
	}
	g.failures[g.nfailures].binary = binary;
	g.failures[g.nfailures].fn = fn;
	g.failures[g.nfailures].error = xstrdup(msg);
	g.nfailures++;
}

/* An attach failure (printf-style message): listed in the loss record / stats line and printed on stderr. */
static void attach_failed(const char *binary, const char *fn, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record_failure(binary, fn, msg, true);
}

/*
 * Attaches the entry and return programs of fn to the file open_path, by symbol (func_name) or at a file offset
 * (func_name NULL), under a new probe id passed as the BPF cookie; `binary` (kept, not copied) names it in counters
 * and failures. With nret > 0 the return program is attached as a plain uprobe at each of ret_offsets (the
 * function's RET instructions, locate.h) instead of as a uretprobe. True on success (every link attached); on a
 * failure nothing of fn stays attached and the failure is recorded.
 */
/* The entry (ret false) or return (ret true) program of fn. */
static struct bpf_program *prog_of(enum ssl_fn fn, bool ret)
{
	struct sslsniff_bpf *s = g.ssl_skel;
	struct bpf_program *entry[SSL_FN_COUNT] = {
		[SSL_FN_WRITE] = s->progs.probe_ssl_write,
		[SSL_FN_READ] = s->progs.probe_ssl_read,
		[SSL_FN_WRITE_EX] = s->progs.probe_ssl_write_ex,
		[SSL_FN_READ_EX] = s->progs.probe_ssl_read_ex,
		[SSL_FN_GNUTLS_SEND] = s->progs.probe_gnutls_send,
		[SSL_FN_GNUTLS_RECV] = s->progs.probe_gnutls_recv,
		[SSL_FN_NSPR_WRITE] = s->progs.probe_nspr_write,
		[SSL_FN_NSPR_READ] = s->progs.probe_nspr_read,
		[SSL_FN_NSPR_SEND] = s->progs.probe_nspr_send,
		[SSL_FN_NSPR_RECV] = s->progs.probe_nspr_recv,
		[SSL_FN_DO_HANDSHAKE] = s->progs.probe_ssl_do_handshake,
		[SSL_FN_GO_WRITE] = s->progs.probe_go_write,
		[SSL_FN_GO_READ] = s->progs.probe_go_read,
		[SSL_FN_RUSTLS_WRITE] = s->progs.probe_rustls_write,
		[SSL_FN_RUSTLS_READ] = s->progs.probe_rustls_read,
	};
	struct bpf_program *rets[SSL_FN_COUNT] = {
		[SSL_FN_WRITE] = s->progs.retprobe_ssl_write,
		[SSL_FN_READ] = s->progs.retprobe_ssl_read,
		[SSL_FN_WRITE_EX] = s->progs.retprobe_ssl_write_ex,
		[SSL_FN_READ_EX] = s->progs.retprobe_ssl_read_ex,
		[SSL_FN_GNUTLS_SEND] = s->progs.retprobe_gnutls_send,
		[SSL_FN_GNUTLS_RECV] = s->progs.retprobe_gnutls_recv,
		[SSL_FN_NSPR_WRITE] = s->progs.retprobe_nspr_write,
		[SSL_FN_NSPR_READ] = s->progs.retprobe_nspr_read,
		[SSL_FN_NSPR_SEND] = s->progs.retprobe_nspr_send,
		[SSL_FN_NSPR_RECV] = s->progs.retprobe_nspr_recv,
		[SSL_FN_DO_HANDSHAKE] = s->progs.retprobe_ssl_do_handshake,
		[SSL_FN_GO_WRITE] = s->progs.retprobe_go_write,
		[SSL_FN_GO_READ] = s->progs.retprobe_go_read,
		[SSL_FN_RUSTLS_WRITE] = s->progs.retprobe_rustls_write,
		[SSL_FN_RUSTLS_READ] = s->progs.retprobe_rustls_read,
	};

	return ret ? rets[fn] : entry[fn];
}

/*
 * Attaches the programs of probe id (its entry, and its uretprobe or its uprobes at each RET) to the file open_path,
 * for process pid (the kernel installs the breakpoints only in that process' memory) or every process (pid -1). The
 * links are appended to (*links, *n, *cap), all or none. Returns 0, or -errno with why (the failing part) filled.
 */
static int attach_probe_links(int id, const char *open_path, int pid, struct bpf_link ***links, int *n, int *cap,
			      char *why, size_t why_size)
{
	const struct probe *pr = &g.probes[id];
	const char *fname = pr->func_name;
	uint64_t off = fname ? 0 : pr->offset;
	LIBBPF_OPTS(bpf_uprobe_opts, eo, .func_name = fname, .retprobe = false, .bpf_cookie = (__u64)id);
	LIBBPF_OPTS(bpf_uprobe_opts, ro, .func_name = fname, .retprobe = true, .bpf_cookie = (__u64)id);
	LIBBPF_OPTS(bpf_uprobe_opts, xo, .retprobe = false, .bpf_cookie = (__u64)id);
	int first = *n, err;
	uint32_t r;

	while (*n + 2 + (int)pr->nret > *cap)
		*links = grow(*links, cap, sizeof(**links));
	/* Link k: the entry, then the uretprobe (nret 0) or the uprobe at RET k - 1. */
	for (r = 0; r < 1 + (pr->nret ? pr->nret : 1); r++) {
		bool entry = r == 0, at_ret = r > 0 && pr->nret;
		struct bpf_link *l = bpf_program__attach_uprobe_opts(prog_of(pr->sfn, !entry), pid, open_path,
								     at_ret ? pr->ret_offsets[r - 1] : off,
								     entry ? &eo : at_ret ? &xo : &ro);

		if (!l) {
			err = -errno;
			if (entry)
				snprintf(why, why_size, "cannot attach: %s", strerror(-err));
			else if (at_ret)
				snprintf(why, why_size, "cannot attach the probe at return +0x%llx: %s",
					 (unsigned long long)pr->ret_offsets[r - 1], strerror(-err));
			else
				snprintf(why, why_size, "cannot attach the return probe: %s", strerror(-err));
			while (*n > first)
				bpf_link__destroy((*links)[--(*n)]);
			return err;
		}
		(*links)[(*n)++] = l;
	}
	return 0;
}

/*
 * Probes fn of the file open_path (reported as binary) by symbol (func_name) or at a file offset, with a uretprobe, or
 * with plain uprobes at nret RET offsets (Go). System-wide, the links are made now; with per-process attachment
 * (g.per_pid) only the probe is defined here and attach_target_pid makes its links for each traced process. Returns
 * false (reported as an attach failure) when it cannot be probed.
 */
static bool attach_fn(const char *open_path, const char *binary, enum ssl_fn fn, const char *func_name, uint64_t offset,
		      const uint64_t *ret_offsets, uint32_t nret)
{
	struct probe *pr;
	int id = g.nprobes;
	char why[256];

	if (id == MAX_PROBES) {
		attach_failed(binary, ssl_fns[fn], "more than %d probes, not probed", MAX_PROBES);
		return false;
	}
	{
		/* The id may have been used by a probe rolled back (all-or-nothing pattern attach): start from zero. */
		int ncpu = libbpf_num_possible_cpus();
		struct probe_stat zero[ncpu > 0 ? ncpu : 1];
		__u32 key = (__u32)id;

		memset(zero, 0, sizeof(zero));
		bpf_map_update_elem(bpf_map__fd(g.ssl_skel->maps.probe_stats), &key, zero, BPF_ANY);
	}
	pr = &g.probes[id];
	free(pr->ret_offsets); /* a rolled-back probe's */
	memset(pr, 0, sizeof(*pr));
	pr->binary = binary;
	pr->fn = ssl_fns[fn];
	pr->sfn = fn;
	pr->func_name = func_name;
	pr->offset = offset;
	pr->nret = nret;
	if (nret) {
		pr->ret_offsets = malloc(nret * sizeof(*pr->ret_offsets));
		if (!pr->ret_offsets)
			die("out of memory");
		memcpy(pr->ret_offsets, ret_offsets, nret * sizeof(*pr->ret_offsets));
	}
	if (!g.per_pid && attach_probe_links(id, open_path, -1, &g.links, &g.nlinks, &g.links_cap, why, sizeof(why))) {
		attach_failed(binary, ssl_fns[fn], "%s", why);
		return false;
	}
	g.nprobes++;
	return true;
}

/* stdout: one `attached` line per (binary, family) newly probed. */
static void print_attached(const char *path, const char *family, const char *how)
{
	printf("{\"event\":\"attached\",\"path\":");
	print_json_string(path);
	printf(",\"family\":\"%s\",\"how\":\"%s\"}\n", family, how);
	fflush(stdout);
}

/*
 * The locators' answer for the file open_path (reported as path): from the cache when the file is unchanged, else
 * each locator in turn on the mapped file (then cached; *cached says which). Returns false when the file cannot be
 * read as ELF.
 */
static bool locate_tls(const char *open_path, const char *path, struct locate_outcome *o, bool *cached)
{
	struct elf_image img;
	struct stat st;
	int err;

	memset(o, 0, sizeof(*o));
	if (stat(open_path, &st) == 0) {
		struct elf_image key = { .dev = st.st_dev, .ino = st.st_ino, .size = (size_t)st.st_size,
					 .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };

		if ((*cached = locate_cache_get(&key, o)))
			return true;
	}
	err = elf_image_open(&img, open_path, true);
	if (err) {
		if (err != -ENOEXEC)
			fprintf(stderr, "agentsight-probe: %s: cannot read: %s\n", path, strerror(-err));
		return false;
	}
	o->status = locate_all(&img, &o->loc, o->why, sizeof(o->why));
	locate_cache_put(&img, o);
	elf_image_close(&img);
	return true;
}

/*
 * Attaches the functions the locators find in a binary that exports no TLS symbols: all of them, or none (a
 * location that is partly attachable is rolled back). An unrecognised stack is reported on stderr and as one attach
 * failure per function it looked for. Returns the number of functions attached.
 */
static int attach_located(const char *open_path, const char *path, bool required)
{
	struct locate_outcome o;
	int first = g.nlinks, first_probe = g.nprobes, i;
	bool cached = false;
	char where[512];
	size_t at = 0;
	uint64_t t0 = boottime_ns();

	if (!locate_tls(open_path, path, &o, &cached) || o.status == LOCATE_ABSENT) {
		if (required)
			fprintf(stderr, "agentsight-probe: %s: no TLS function found (no OpenSSL, GnuTLS or NSPR symbols, and "
				"no statically linked TLS stack recognised)\n", path);
		return 0;
	}
	if (o.status == LOCATE_UNRECOGNISED) {
		/* Never a partial attach: a binary whose functions are not all located is not probed at all. */
		fprintf(stderr, "agentsight-probe: %s: stripped %s (%s) not recognised: %s; nothing attached to this binary%s\n",
			path, o.loc.family, o.loc.build, o.why, cached ? " (from the locator cache)" : "");
		snprintf(last_unrecognised, sizeof(last_unrecognised), "%s (%s) not recognised: %s", o.loc.family,
			 o.loc.build, o.why);
		for (i = 0; i < o.loc.nfns; i++) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s: %s; nothing attached", o.loc.build,
				 o.loc.fns[i].detail[0] ? o.loc.fns[i].detail : o.why);
			record_failure(path, ssl_fns[o.loc.fns[i].fn], msg, false);
		}
		return 0;
	}
	for (i = 0; i < o.loc.nfns; i++) {
		const struct located_fn *fn = &o.loc.fns[i];

		if (!attach_fn(open_path, path, fn->fn, NULL, fn->offset, fn->ret_offsets, fn->nret)) {
			/* All or nothing: undo the functions already attached to this binary. */
			while (g.nlinks > first)
				bpf_link__destroy(g.links[--g.nlinks]);
			g.nprobes = first_probe;
			fprintf(stderr, "agentsight-probe: %s (%s): %s could not be attached; nothing attached to this binary\n",
				path, o.loc.build, ssl_fns[fn->fn]);
			return 0;
		}
		at += (size_t)snprintf(where + at, at < sizeof(where) ? sizeof(where) - at : 0, "%s%s +0x%llx", i ? ", " : "",
				       ssl_fns[fn->fn], (unsigned long long)fn->offset);
	}
	fprintf(stderr, "agentsight-probe: %s: %s, %s located by %s (%s), attached in %.1f ms%s\n", path, o.loc.build,
		o.loc.family, o.loc.method[0] ? o.loc.method : o.loc.how, where, (double)(boottime_ns() - t0) / 1e6,
		cached ? " (from the locator cache)" : "");
	if (o.why[0]) /* another stack of the same binary, not located: its calls (if any) are not captured */
		fprintf(stderr, "agentsight-probe: %s: also a stripped %s; its TLS calls, if it makes any, are not captured\n",
			path, o.why);
	print_attached(path, o.loc.family, o.loc.how);
	return o.loc.nfns;
}

/*
 * Probes the TLS functions of one binary (the file open_path, reported as `path`, a string kept by the caller):
 * every function of every family it exports in .dynsym (by symbol); when it exports none, the functions of a
 * statically linked TLS stack found by the locators (attach_located), all or nothing.
 * `required` reports a binary without TLS functions. Returns the number of functions attached.
 */
static int attach_binary(const char *open_path, const char *path, bool required)
{
	int f, i, n = 0, families = 0;

	for (f = 0; f < N_FAMILIES; f++) {
		const struct tls_family *fam = &tls_families[f];
		bool exported[5], any = false;
		int before = n;

		for (i = 0; i < fam->nfns; i++) {
			exported[i] = elf_exports_function(open_path, ssl_fns[fam->fns[i]]);
			any = any || exported[i];
		}
		if (!any)
			continue;
		families++;
		for (i = 0; i < fam->nfns; i++) {
			enum ssl_fn fn = fam->fns[i];

			if (!exported[i]) {
				attach_failed(path, ssl_fns[fn], "no %s symbol, not probed", ssl_fns[fn]);
				continue;
			}
			n += attach_fn(open_path, path, fn, ssl_fns[fn], 0, NULL, 0);
		}
		if (n > before)
			print_attached(path, fam->name, "symbols");
	}
	if (families)
		return n;
	return attach_located(open_path, path, required);
}

/*
 * Checks the file `open_path` (identity: st of it) once per inode and attaches its TLS functions; `path` is the name
 * reported (real path). Returns the number of functions attached now (0 when seen before).
 */
static int attach_inode(const char *open_path, const char *path, const struct stat *st, bool required)
{
	struct target *t;
	int i, n;

	for (i = 0; i < g.ntargets; i++)
		if (g.targets[i].dev == st->st_dev && g.targets[i].ino == st->st_ino)
			return 0;
	if (g.ntargets == g.targets_cap)
		g.targets = grow(g.targets, &g.targets_cap, sizeof(*g.targets));
	t = &g.targets[g.ntargets++];
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->path = xstrdup(path);
	t->attached = false;
	t->why = NULL;
	t->open_path = xstrdup(open_path);
	t->probe_first = g.nprobes;
	/* Probes and failures keep t->path: the string lives as long as the producer. */
	last_unrecognised[0] = 0;
	n = attach_binary(open_path, t->path, required);
	t = &g.targets[g.ntargets - 1]; /* attach_binary does not add targets, but stay safe */
	t->attached = n > 0;
	t->probe_end = g.nprobes;
	if (!t->attached && last_unrecognised[0])
		t->why = xstrdup(last_unrecognised);
	hold_mark_checked(st, t->attached);
	return n;
}

/* ---- per-process attachment (g.per_pid) ---- */

/* A path that opens the file of t now: hint, the real path or the path it was checked through, if still that inode. */
static const char *target_path(const struct target *t, const char *hint)
{
	const char *cands[3] = { hint, t->path, t->open_path };
	struct stat st;
	int i;

	for (i = 0; i < 3; i++)
		if (cands[i] && stat(cands[i], &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
			return cands[i];
	return NULL;
}

/*
 * Per-process attachment: attaches every probe of target t for process pid (once per process and target), through
 * hint when it names the file (/proc/<pid>/exe, a mapping's fd). The uprobes are perf events of that process: the
 * kernel puts breakpoints only in its memory, so other processes using the same file pay nothing. A process that has
 * exited meanwhile is skipped; another failure is reported once per probe as an attach failure.
 */
static void attach_target_pid(struct target *t, uint32_t pid, const char *hint)
{
	struct pidinfo *pi;
	const char *path;
	char why[256];
	int i, id, err;

	if (!g.per_pid || !t || !t->attached || g.no_more_attach)
		return;
	pi = pid_get(pid, true);
	for (i = 0; i < pi->ntgts; i++)
		if (pi->tgts[i] == (int)(t - g.targets))
			return;
	path = target_path(t, hint);
	if (!path)
		return; /* the file is not reachable any more (deleted, its process gone) */
	for (id = t->probe_first; id < t->probe_end; id++) {
		err = attach_probe_links(id, path, (int)pid, &pi->links, &pi->nlinks, &pi->links_cap, why, sizeof(why));
		if (err == -ESRCH)
			return; /* exited */
		if (err && !g.probes[id].failure_reported) {
			g.probes[id].failure_reported = true;
			attach_failed(t->path, g.probes[id].fn, "pid %u: %s", pid, why);
		}
	}
	if (pi->ntgts == pi->tgts_cap)
		pi->tgts = grow(pi->tgts, &pi->tgts_cap, sizeof(*pi->tgts));
	pi->tgts[pi->ntgts++] = (int)(t - g.targets);
	{
		uint8_t one = 1;

		bpf_map_update_elem(bpf_map__fd(g.proc_skel->maps.probed_pids), &pid, &one, BPF_ANY); /* forks held */
	}
}

/* Per-process attachment: removes every uprobe link of a process (it exited or executed a new file). */
static void detach_pid(struct pidinfo *pi)
{
	if (pi->ntgts)
		bpf_map_delete_elem(bpf_map__fd(g.proc_skel->maps.probed_pids), &pi->pid);
	while (pi->nlinks > 0)
		bpf_link__destroy(pi->links[--pi->nlinks]);
	free(pi->links);
	pi->links = NULL;
	pi->links_cap = 0;
	pi->ntgts = 0;
}

/* Per-process attachment: a traced process forked; the child (same memory image) gets the parent's probes. */
static void handle_fork(const struct as_fork_event *e, size_t size)
{
	struct pidinfo *parent;
	int i, n;

	if (malformed(size < sizeof(*e), "fork", size))
		return;
	parent = pid_get(e->ppid, false);
	if (!parent || !parent->ntgts)
		return;
	n = parent->ntgts;
	for (i = 0; i < n && i < parent->ntgts; i++)
		attach_target_pid(&g.targets[parent->tgts[i]], e->pid, NULL);
}

/* Per-process attachment at start: a traced process already running gets the probes of the files it maps. */
static void attach_mapped_cb(uint32_t pid, void *ctx)
{
	char maps[64], line[PATH_MAX + 128];
	const char *path;
	dev_t dev;
	ino_t ino;
	FILE *f;

	(void)ctx;
	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	if (!(f = fopen(maps, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		if (parse_maps_line(line, &dev, &ino, &path))
			attach_target_pid(target_of(dev, ino), pid, NULL);
	fclose(f);
}

/* Startup: adds path (resolved) to the targets unless its inode is there; `required` reports a missing file. */
static void try_attach(const char *path, bool required)
{
	char real[PATH_MAX];
	struct stat st;

	if (strncmp(path, "/proc/", 6) == 0) {
		/* /proc/<pid>/root/... or /proc/<pid>/exe: a file in another mount namespace. realpath() would give its path
		 * as seen inside that namespace, which on the host names another file or none: use it as given. */
		if (stat(path, &st)) {
			if (required)
				fprintf(stderr, "agentsight-probe: %s: %s\n", path, strerror(errno));
			return;
		}
		snprintf(real, sizeof(real), "%s", path);
	} else if (!realpath(path, real) || stat(real, &st)) {
		if (required)
			fprintf(stderr, "agentsight-probe: %s: %s\n", path, strerror(errno));
		return;
	}
	if (attach_inode(real, real, &st, required) == 0 && required) {
		int i;

		for (i = 0; i < g.ntargets; i++)
			if (g.targets[i].dev == st.st_dev && g.targets[i].ino == st.st_ino && g.targets[i].attached)
				return;
		fprintf(stderr, "agentsight-probe: %s: no TLS function could be probed\n", real);
	}
}

/* Startup: the executable of a traced process already running (a --pid root or descendant). */
static void attach_running_cb(uint32_t pid, void *ctx)
{
	char exe[64], real[PATH_MAX];
	struct stat st;
	ssize_t n;

	(void)ctx;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
	n = readlink(exe, real, sizeof(real) - 1);
	if (n <= 0 || stat(exe, &st))
		return;
	real[n] = 0;
	attach_inode(exe, real, &st, false);
}

/*
 * A traced process executed a file or opened a shared library: probe it if its inode is new. Runs synchronously in
 * the ring-buffer callback, so the probes are in place before the producer reads the process' next records (uprobes
 * also apply to mappings that already exist, so calls after the attach are seen even if the process started them
 * before). `file` is /proc/<pid>/exe for an exec, the opened path otherwise.
 */
static struct target *attach_on_event(uint32_t pid, const char *file, bool is_exec)
{
	char open_path[PATH_MAX], real[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (g.no_more_attach)
		return NULL;
	if (is_exec) {
		/* The executed file itself, even when its path was relative, is gone, or the process has exited (then the
		 * path from the record, when absolute). */
		snprintf(open_path, sizeof(open_path), "/proc/%u/exe", pid);
		if (stat(open_path, &st) == 0 && (n = readlink(open_path, real, sizeof(real) - 1)) > 0) {
			real[n] = 0;
			/* Not reachable under its name any more (deleted, other mount namespace): attach through /proc. */
			{
				struct stat st2;

				if (stat(real, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
					snprintf(open_path, sizeof(open_path), "%s", real);
			}
		} else if (file[0] == '/' && realpath(file, real) && stat(real, &st) == 0) {
			snprintf(open_path, sizeof(open_path), "%s", real);
		} else {
			return NULL;
		}
	} else {
		/* The path as the process sees it, through its root and cwd (another mount namespace: a container). Not
		 * realpath()'d: that would resolve /proc/<pid>/root to "/" and name the host's file, not the process'. */
		if (file[0] == '/')
			snprintf(open_path, sizeof(open_path), "/proc/%u/root%s", pid, file);
		else
			snprintf(open_path, sizeof(open_path), "/proc/%u/cwd/%s", pid, file);
		if (stat(open_path, &st))
			return NULL;
		snprintf(real, sizeof(real), "%s", file);
	}
	attach_inode(open_path, real, &st, false);
	attach_target_pid(target_of(st.st_dev, st.st_ino), pid, open_path);
	return target_of(st.st_dev, st.st_ino);
}

/* True for a shared-library path: basename ends in ".so" or contains ".so." (libssl.so.3). */
static bool is_shared_library(const char *path, size_t len)
{
	const char *base = path, *p;
	size_t i, blen;

	for (i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	blen = len - (size_t)(base - path);
	if (blen >= 3 && memcmp(base + blen - 3, ".so", 3) == 0)
		return true;
	for (p = base; p + 4 <= path + len; p++)
		if (memcmp(p, ".so.", 4) == 0)
			return true;
	return false;
}

/* ---- files mapped executable, TLS notices ---- */

/* The target checked for (dev, ino), or NULL. */
static struct target *target_of(dev_t dev, ino_t ino)
{
	int i;

	for (i = 0; i < g.ntargets; i++)
		if (g.targets[i].dev == dev && g.targets[i].ino == ino)
			return &g.targets[i];
	return NULL;
}

/*
 * A traced process mapped a file executable that was not checked yet (bpf/hold.bpf.h): check and attach it now
 * (the process is stopped when the record is `held`). The file is reached through the mapping's fd while it is open,
 * else through /proc/<pid>/map_files, and opened here at once: the locators and the attach use that descriptor of
 * ours (/proc/self/fd/N), since a cold locate can outlast the hold bound and the process then closes or reuses its
 * fd (ld.so closes it right after mapping). The name reported is the link's target.
 */
static void handle_map_exec(const struct as_map_event *e, size_t size)
{
	char proc_path[128], open_path[64], real[PATH_MAX];
	struct stat st;
	ssize_t n = 0;
	bool ok = false;
	int fd = -1;

	if (malformed(size < sizeof(*e), "map", size) || g.no_more_attach)
		return;
	if (e->fd >= 0) {
		snprintf(proc_path, sizeof(proc_path), "/proc/%u/fd/%d", e->task.pid, e->fd);
		ok = stat(proc_path, &st) == 0 && st.st_ino == e->ino;
	}
	if (!ok) {
		long page = sysconf(_SC_PAGESIZE);
		uint64_t end = (e->addr + e->len + (uint64_t)page - 1) & ~((uint64_t)page - 1);

		snprintf(proc_path, sizeof(proc_path), "/proc/%u/map_files/%llx-%llx", e->task.pid,
			 (unsigned long long)e->addr, (unsigned long long)end);
		ok = stat(proc_path, &st) == 0 && st.st_ino == e->ino;
	}
	if (ok && (n = readlink(proc_path, real, sizeof(real) - 1)) > 0)
		fd = open(proc_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_ino != e->ino) {
		fprintf(stderr, "agentsight-probe: pid %u mapped inode %llu executable (fd %d, %#llx+%#llx) but it cannot be "
			"opened (%s): %s; not checked\n", e->task.pid, (unsigned long long)e->ino, e->fd,
			(unsigned long long)e->addr, (unsigned long long)e->len, proc_path,
			ok ? strerror(errno) : "no such file or another inode");
		if (fd >= 0)
			close(fd);
		return;
	}
	real[n] = 0;
	snprintf(open_path, sizeof(open_path), "/proc/self/fd/%d", fd);
	if (attach_inode(open_path, real, &st, false) > 0)
		fprintf(stderr, "agentsight-probe: pid %u mapped %s executable: attached\n", e->task.pid, real);
	attach_target_pid(target_of(st.st_dev, st.st_ino), e->task.pid, open_path); /* per-process attachment */
	close(fd); /* the uprobes hold the inode */
}

/* The file a line of /proc/<pid>/maps names, when the mapping is executable: its identity and path. */
static bool parse_maps_line(const char *line, dev_t *dev, ino_t *ino, const char **path)
{
	unsigned maj, min;
	unsigned long long inode;
	char perms[8];
	int off = 0;

	if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min, &inode, &off) < 4 || !off)
		return false;
	if (perms[2] != 'x' || !inode || line[off] != '/')
		return false;
	*dev = makedev(maj, min);
	*ino = (ino_t)inode;
	*path = line + off;
	return true;
}

/*
 * Why a TLS connection of pid that no probed call was seen making may not be captured, from what it maps (into h):
 * returns true when the process maps attached TLS code (the connection may still go through it: wait and see) or is
 * already gone (nothing to tell from), false when it is certainly not captured. A mapped file not checked yet is
 * checked (and attached) now.
 */
static bool tls_coverage(uint32_t pid, struct tls_hello *h)
{
	char maps[64], exe[64], line[PATH_MAX + 128], attached[256] = "", late[512] = "";
	struct target *unrecognised = NULL;
	FILE *f;
	ssize_t n;
	int nattached = 0;

	snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
	n = readlink(exe, h->binary, sizeof(h->binary) - 1);
	h->binary[n > 0 ? n : 0] = 0;
	h->library[0] = 0;
	if (n <= 0) {
		/* The process is gone (or a zombie) by the time its hello is read: the producer was behind (a loaded machine,
		 * found by the chaos harness). What it mapped is unknown, so nothing is concluded from it: the hello waits
		 * like a covered one, and its process' SSL records, which follow it in the ring buffer, clear it; only
		 * when none does is this notice published (at its exit or the deadline). Concluding "no TLS stack" here
		 * had published a false `tls_not_captured` for a node whose TLS was captured in full. */
		snprintf(h->binary, sizeof(h->binary), "%s", h->comm);
		snprintf(h->cause, sizeof(h->cause), "unsupported");
		snprintf(h->reason, sizeof(h->reason), "no probed TLS function saw this connection, and the process had "
			 "exited before the probe read what it maps");
		return true;
	}
	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	f = fopen(maps, "r");
	while (f && fgets(line, sizeof(line), f)) {
		const char *path;
		struct target *t;
		dev_t dev;
		ino_t ino;

		line[strcspn(line, "\n")] = 0;
		if (!parse_maps_line(line, &dev, &ino, &path))
			continue;
		t = target_of(dev, ino);
		if (!t) {
			/* Mapped without this producer seeing it (before the trace started, or a way it does not watch). */
			char open_path[PATH_MAX + 32];
			struct stat st;

			snprintf(open_path, sizeof(open_path), "/proc/%u/root%s", pid, path);
			if (stat(open_path, &st) || st.st_dev != dev || st.st_ino != ino)
				continue;
			if (attach_inode(open_path, path, &st, false) > 0 && !late[0])
				snprintf(late, sizeof(late), "%s", path);
			t = target_of(dev, ino);
			if (!t)
				continue;
		}
		if (t->attached) {
			if (!strstr(attached, t->path) && strlen(attached) + strlen(t->path) + 3 < sizeof(attached))
				snprintf(attached + strlen(attached), sizeof(attached) - strlen(attached), "%s%s",
					 attached[0] ? ", " : "", t->path);
			nattached++;
		} else if (t->why && !unrecognised) {
			unrecognised = t;
		}
	}
	if (f)
		fclose(f);
	if (unrecognised) {
		snprintf(h->library, sizeof(h->library), "%s", strcmp(unrecognised->path, h->binary) ? unrecognised->path : "");
		snprintf(h->cause, sizeof(h->cause), "unrecognised");
		snprintf(h->reason, sizeof(h->reason), "%s", unrecognised->why);
		return false;
	}
	if (late[0]) {
		snprintf(h->library, sizeof(h->library), "%s", late);
		snprintf(h->cause, sizeof(h->cause), "not_attached");
		snprintf(h->reason, sizeof(h->reason), "TLS code loaded from a path not yet attached (%s); attached now, "
			 "later connections are captured", late);
		return false;
	}
	snprintf(h->cause, sizeof(h->cause), "unsupported");
	if (!nattached) {
		snprintf(h->reason, sizeof(h->reason), "TLS library not supported yet: no TLS stack the probe knows in the "
			 "executable or the libraries it maps");
		return false;
	}
	snprintf(h->reason, sizeof(h->reason), "no probed TLS function (%s) saw this connection: a TLS library not "
		 "supported yet, or a connection that ended before any data", attached);
	return true;
}

/* TLS traffic no probe records: the raw record (once per process and reason), stdout and stderr lines. */
static void emit_tls_notice(const struct tls_hello *h)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_tls_notice r = { 0 };
	struct rec_base b;

	if (!tls_notice_count(h->pid, h->binary, h->library, h->reason))
		return;
	memcpy(comm, h->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;
	ensure_known(h->pid, comm);
	r.task = (struct rec_task){ .pid = h->pid, .tid = h->tid, .uid = h->uid, .ppid = h->ppid, .comm = comm };
	r.binary = h->binary;
	r.library = h->library;
	r.cause = h->cause;
	r.reason = h->reason;
	r.address = h->address;
	r.port = h->port;
	r.server_name = h->server_name;
	next_base(&b, h->ts_boot_ns);
	encode_tls_notice(&g.sbuf, &b, &r);
	publish_current(&b, "proc", NO_PARTITION);
	fprintf(stderr, "agentsight-probe: TLS of pid %u (%s%s%s) to %s:%u%s%s not captured: %s\n", h->pid, h->binary,
		h->library[0] ? ", " : "", h->library, h->address, h->port, h->server_name[0] ? " " : "", h->server_name,
		h->reason);
	printf("{\"event\":\"tls_notice\",\"pid\":%u,\"comm\":", h->pid);
	print_json_string(comm);
	printf(",\"binary\":");
	print_json_string(h->binary);
	printf(",\"library\":");
	print_json_string(h->library);
	printf(",\"cause\":\"%s\",\"reason\":", h->cause);
	print_json_string(h->reason);
	printf(",\"address\":");
	print_json_string(h->address);
	printf(",\"port\":%u,\"server_name\":", h->port);
	print_json_string(h->server_name);
	printf("}\n");
	fflush(stdout);
}

/* A ClientHello of a traced process (bpf/hold.bpf.h): fine when written inside a probed call; else decided now or
 * kept pending (tls_notice.h). */
static void handle_tls_hello(const struct as_hello_event *e, size_t size)
{
	struct tls_hello h = { 0 };

	if (malformed(size < sizeof(*e) || e->hello_len > HELLO_BYTES_MAX, "hello", size))
		return;
	tls_hellos++;
	if (e->in_tls_call)
		return;
	h.pid = e->task.pid;
	h.tid = e->task.tid;
	h.uid = e->task.uid;
	h.ppid = e->task.ppid;
	memcpy(h.comm, e->comm, sizeof(h.comm));
	h.comm[sizeof(h.comm) - 1] = 0;
	if (e->family == 2)
		inet_ntop(AF_INET, e->addr, h.address, sizeof(h.address));
	else
		inet_ntop(AF_INET6, e->addr, h.address, sizeof(h.address));
	h.port = e->port;
	tls_hello_sni(e->hello, e->hello_len, h.server_name, sizeof(h.server_name));
	h.ts_boot_ns = e->ts_ns;
	h.deadline_ns = e->ts_ns + TLS_PENDING_NS;
	if (tls_coverage(h.pid, &h))
		tls_pending_add(&h);
	else
		emit_tls_notice(&h);
}

static void attach_all(void)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < N_FAMILIES; i++) {
		if (find_system_library(tls_families[i].system_soname, path, sizeof(path)) == 0)
			try_attach(path, true);
		else
			fprintf(stderr, "agentsight-probe: system %s not found, %s not probed\n",
				tls_families[i].system_soname, tls_families[i].name);
	}
	for (i = 0; i < opt.nbinaries; i++)
		try_attach(opt.binaries[i], true);
	if (find_on_path("node", path, sizeof(path)) == 0)
		try_attach(path, false);
	try_attach("/usr/bin/node", false);
	if (find_on_path("bun", path, sizeof(path)) == 0)
		try_attach(path, false);
	/* Traced processes already running: their executables (a Bun started before the producer). */
	for (i = 0; i < opt.npids; i++) {
		attach_running_cb(opt.pids[i], NULL);
		for_each_descendant(opt.pids[i], attach_running_cb, NULL);
	}
	/* Per-process attachment: each of them gets the probes of what it maps. */
	for (i = 0; g.per_pid && i < opt.npids; i++) {
		attach_mapped_cb(opt.pids[i], NULL);
		for_each_descendant(opt.pids[i], attach_mapped_cb, NULL);
	}
	if (g.nprobes == 0)
		die("no TLS probe could be attached");
}

/*
 * --locate: one JSON line per path, what the locators answer (the same code and cache as an attach):
 * {"path","status":"absent"|"found"|"unrecognised"|"unreadable","family","how","method","build","why","cached",
 *  "fns":[{"fn","offset","rets":[...]}]} with offsets as file offsets in hex strings ("0x237e500"). Exit 0.
 */
static int locate_only(void)
{
	static const char *const status[] = { "absent", "found", "unrecognised" };
	int i, f;
	uint32_t r;

	for (i = 0; i < opt.nlocate; i++) {
		struct locate_outcome o;
		bool cached = false, ok = locate_tls(opt.locate[i], opt.locate[i], &o, &cached);

		printf("{\"path\":");
		print_json_string(opt.locate[i]);
		printf(",\"status\":\"%s\",\"cached\":%s", ok ? status[o.status] : "unreadable", cached ? "true" : "false");
		if (ok && o.status != LOCATE_ABSENT) {
			printf(",\"family\":");
			print_json_string(o.loc.family);
			printf(",\"how\":");
			print_json_string(o.loc.how);
			printf(",\"method\":");
			print_json_string(o.loc.method);
			printf(",\"build\":");
			print_json_string(o.loc.build);
			printf(",\"why\":");
			print_json_string(o.why);
			printf(",\"fns\":[");
			for (f = 0; f < o.loc.nfns; f++) {
				const struct located_fn *fn = &o.loc.fns[f];

				printf("%s{\"fn\":\"%s\",\"offset\":\"0x%llx\",\"rets\":[", f ? "," : "", ssl_fns[fn->fn],
				       (unsigned long long)fn->offset);
				for (r = 0; r < fn->nret; r++)
					printf("%s\"0x%llx\"", r ? "," : "", (unsigned long long)fn->ret_offsets[r]);
				printf("],\"detail\":");
				print_json_string(fn->detail);
				printf("}");
			}
			printf("]");
		}
		printf("}\n");
	}
	fflush(stdout);
	return 0;
}

static void refresh_wall_offset(void)
{
	uint64_t b1 = boottime_ns(), w = realtime_ns(), b2 = boottime_ns();

	g.wall_offset_ns = (int64_t)w - (int64_t)(b1 / 2 + b2 / 2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { 0 };
	struct publisher_stats st;
	uint64_t drops, drop_bytes, next_stats;
	uint32_t window_ms = PACING_MAX_MS; /* poll window, adapted to the record rate (pacing.h) */
	int i, n, err;

	parse_args(argc, argv);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (opt.nlocate) {
		if (opt.cache_dir && (err = locate_cache_open(opt.cache_dir)))
			fprintf(stderr, "agentsight-probe: locator cache %s unusable: %s\n", opt.cache_dir, strerror(-err));
		return locate_only();
	}
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
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';

		g.host_token[i] = ok ? c : '_';
	}
	if (!g.host_token[0])
		snprintf(g.host_token, sizeof(g.host_token), "_");
	msgpack_sbuffer_init(&g.sbuf);

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

	next_stats = boottime_ns() + opt.stats_interval_ms * 1000000ull;
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
	}

	/* Stop: no new records, drain the ring buffer completely, publish, wait for the PubAcks. */
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
	process_bpf__detach(g.proc_skel);
	while ((n = ring_buffer__consume(g.rb)) > 0)
		publisher_pump(g.pub);
	{
		struct tls_hello h;

		while (tls_pending_take(0, UINT64_MAX, &h)) /* still running without captured TLS: a notice now */
			emit_tls_notice(&h);
	}
	publisher_flush(g.pub, FLUSH_TIMEOUT_MS);
	publish_loss(false);
	publisher_flush(g.pub, FLUSH_TIMEOUT_MS / 3);

	publisher_get_stats(g.pub, &st);
	read_drops(&drops, &drop_bytes);
	printf("{\"event\":\"stopped\",\"records\":%llu,\"published\":%llu,\"ringbuf_drops\":%llu,"
	       "\"publish_failures\":%llu,\"publish_reordered\":%llu,\"file_opens_skipped\":%llu,\"last_seq\":%lld",
	       (unsigned long long)g.records, (unsigned long long)st.published, (unsigned long long)drops,
	       (unsigned long long)st.failures, (unsigned long long)st.reordered,
	       (unsigned long long)sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO),
	       g.have_last_seq ? (long long)g.last_seq : -1LL);
	{
		static struct rec_probe_stat probes[MAX_PROBES];
		struct rec_loss r;

		read_loss(&r, probes);
		print_probe_counters(&r);
	}
	printf("}\n");
	fflush(stdout);

	publisher_destroy(g.pub);
	ring_buffer__free(g.rb);
	process_bpf__destroy(g.proc_skel);
	sslsniff_bpf__destroy(g.ssl_skel);
	msgpack_sbuffer_destroy(&g.sbuf);
	nats_Close();
	return 0;
}

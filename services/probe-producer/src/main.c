// SPDX-License-Identifier: Apache-2.0
/*
 * agentsight-probe: attaches the TLS and process probes (bpf/), reads their ring buffer and publishes raw records
 * (libs/contracts/src/raw.ts) to NATS JetStream. See ../README.md for flags and the stdout protocol.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <nats/nats.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ssl_event.h"
#include "proc_event.h"
#include "process.skel.h"
#include "sslsniff.skel.h"

#include "publisher.h"
#include "io_format.h"
#include "records.h"
#include "sysinfo.h"

#define MAX_LIST 64
#define POLL_MS 50                       /* ring-buffer poll timeout = max delay of a low-rate record */
#define QUEUE_MAX_BYTES (256u << 20)     /* retry queue bound, bytes */
#define FLUSH_TIMEOUT_MS 15000           /* shutdown: wait this long for PubAcks */
#define PID_BUCKETS 4096
#define MAX_TARGETS (MAX_LIST + 5)          /* --binary-path + system libssl, libgnutls, libnspr4 + 2 node paths */
#define MAX_LINKS (MAX_TARGETS * SSL_FN_COUNT * 2)

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
};

/*
 * TLS libraries whose functions are probed together: every function of a family that a binary exports is probed,
 * and missing ones are reported only when the binary exports at least one function of the family.
 */
struct tls_family {
	const char *name;
	const char *system_soname; /* system library probed by default (ldconfig -p) */
	enum ssl_fn fns[4];
	int nfns;
};

static const struct tls_family tls_families[] = {
	{ "OpenSSL", "libssl.so.3", { SSL_FN_WRITE, SSL_FN_READ, SSL_FN_WRITE_EX, SSL_FN_READ_EX }, 4 },
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
	struct pidinfo *next;
};

static struct {
	struct sslsniff_bpf *ssl_skel;
	struct process_bpf *proc_skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	char attached[MAX_TARGETS][PATH_MAX];
	int nattached;
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
	bool file_events;        /* file opens are recorded */
	bool net_events;         /* connect() calls are recorded */
	bool have_last_seq;
	uint64_t last_seq;
	struct pidinfo *pids[PID_BUCKETS];
} g;

static volatile sig_atomic_t stopping;

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
		"  --nats-url URL       default $NATS_URL or nats://127.0.0.1:4222\n"
		"  --host NAME          host name in records and subjects (default: hostname)\n"
		"  --partitions N       partitions of agentsight.raw.ssl.<host>.<p> (default 8)\n"
		"  --stats-interval-ms N  period of loss records (default 5000)\n"
		"  --no-file-events     do not record file opens\n"
		"  --no-net-events      do not record connect() calls\n"
		"  --all-files          also record opens under /proc, /sys and /dev (skipped and counted by default)\n");
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt.nats_url = getenv("NATS_URL") && *getenv("NATS_URL") ? getenv("NATS_URL") : "nats://127.0.0.1:4222";
	opt.partitions = 8;
	opt.stats_interval_ms = 5000;
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

/* Publishes the record in g.sbuf with the id of base b. */
static void publish_current(const char *subject, const struct rec_base *b)
{
	char id[128];

	snprintf(id, sizeof(id), "%s:%llu:%llu", g.boot_id, (unsigned long long)g.run, (unsigned long long)b->seq);
	publisher_publish(g.pub, subject, id, g.sbuf.data, g.sbuf.size);
	g.have_last_seq = true;
	g.last_seq = b->seq;
}

static void publish_proc(const struct rec_proc *r, uint64_t ts_boot_ns)
{
	struct rec_base b;
	char subject[320];

	next_base(&b, ts_boot_ns);
	encode_proc(&g.sbuf, &b, r);
	snprintf(subject, sizeof(subject), "agentsight.raw.proc.%s", g.host_token);
	publish_current(subject, &b);
}

/* Publishes a snapshot of pid from /proc (comm_hint when the process is already gone). */
static void publish_snapshot(uint32_t pid, const char *comm_hint)
{
	static struct proc_snapshot s;
	struct rec_proc r = { .event = "snapshot", .pid = pid };

	if (read_proc_snapshot(pid, &s) == 0) {
		r.ppid = s.ppid;
		r.uid = s.uid;
		r.comm = s.comm;
		r.filename = s.exe;
		r.args = s.args;
		r.args_len = s.args_len;
		r.argv_truncated = s.args_truncated;
	} else {
		r.comm = comm_hint ? comm_hint : "";
		r.filename = "";
		r.args = "";
		r.argv_truncated = true; /* unknown argv: the process exited before we could read it */
	}
	publish_proc(&r, boottime_ns());
}

/* A record of pid arrived: publish a snapshot first when neither an exec nor a snapshot of it was published. */
static void ensure_known(uint32_t pid, const char *comm)
{
	struct pidinfo *pi = pid_get(pid, true);

	if (!pi->known) {
		publish_snapshot(pid, comm);
		pi->known = true;
	}
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

static void publish_loss(void)
{
	struct rec_loss r = { .records = g.records };
	struct publisher_stats st;
	struct rec_base b;
	char subject[320];

	read_drops(&r.ringbuf_drops, &r.ringbuf_drop_bytes);
	r.file_opens_skipped = sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO);
	publisher_get_stats(g.pub, &st);
	r.publish_failures = st.failures;
	next_base(&b, boottime_ns());
	encode_loss(&g.sbuf, &b, &r);
	snprintf(subject, sizeof(subject), "agentsight.raw.loss.%s", g.host_token);
	publish_current(subject, &b);
}

/* ---- ring-buffer records ---- */

static void handle_ssl(const struct as_ssl_event *e, size_t size)
{
	struct pidinfo *pi;
	struct conn *c;
	struct rec_base b;
	struct rec_ssl r;
	char comm[TASK_COMM_LEN_ + 1], subject[320];

	if (size < sizeof(*e) || e->frag_len > size - sizeof(*e) || e->fn >= SSL_FN_COUNT || e->dir > SSL_DIR_READ) {
		fprintf(stderr, "agentsight-probe: malformed SSL record (%zu bytes) skipped\n", size);
		return;
	}
	memcpy(comm, e->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;

	ensure_known(e->pid, comm);
	pi = pid_get(e->pid, false);
	c = conn_get(pi, e->ssl, e->dir);
	if (e->frag_offset == 0) {
		c->call_base = c->pos;
		c->pos += e->len;
	}

	r.pid = e->pid;
	r.tid = e->tid;
	r.uid = e->uid;
	r.comm = comm;
	r.ssl = e->ssl;
	r.fn = ssl_fns[e->fn];
	r.dir = ssl_dirs[e->dir];
	r.len = e->len;
	r.frag_offset = e->frag_offset;
	r.frag_total = e->len;
	r.stream_offset = c->call_base + e->frag_offset;
	r.partition = (uint32_t)(fnv1a64_pid_ssl(e->pid, e->ssl) % opt.partitions);
	r.data = e->data;
	r.data_len = e->frag_len;

	next_base(&b, e->ts_ns);
	encode_ssl(&g.sbuf, &b, &r);
	snprintf(subject, sizeof(subject), "agentsight.raw.ssl.%s.%u", g.host_token, r.partition);
	publish_current(subject, &b);
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
	char subject[320];

	if (!pi)
		return;
	for (c = pi->conns; c; c = c->next) {
		bool first = true;

		for (o = pi->conns; o != c; o = o->next)
			if (o->ssl == c->ssl)
				first = false;
		if (!first)
			continue;
		r = (struct rec_ssl_close){ .pid = pid, .tid = pid, .uid = uid, .comm = comm, .ssl = c->ssl,
					    .reason = "process_exit" };
		for (o = pi->conns; o; o = o->next) {
			if (o->ssl != c->ssl)
				continue;
			if (o->dir == SSL_DIR_WRITE)
				r.write_offset = o->pos;
			else
				r.read_offset = o->pos;
		}
		r.partition = (uint32_t)(fnv1a64_pid_ssl(pid, c->ssl) % opt.partitions);
		next_base(&b, ts_boot_ns);
		encode_ssl_close(&g.sbuf, &b, &r);
		snprintf(subject, sizeof(subject), "agentsight.raw.ssl.%s.%u", g.host_token, r.partition);
		publish_current(subject, &b);
	}
}

static void handle_proc(const struct as_proc_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1], filename[PROC_FILENAME_MAX + 1];
	struct rec_proc r = { 0 };

	if (size < sizeof(*e) || e->args_len > PROC_ARGS_MAX) {
		fprintf(stderr, "agentsight-probe: malformed process record (%zu bytes) skipped\n", size);
		return;
	}
	memcpy(comm, e->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;
	memcpy(filename, e->filename, PROC_FILENAME_MAX);
	filename[PROC_FILENAME_MAX] = 0;

	r.pid = e->pid;
	r.ppid = e->ppid;
	r.uid = e->uid;
	r.comm = comm;
	if (e->type == EVENT_EXEC) {
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
		publish_proc(&r, e->ts_ns);
		pid_remove(e->pid);
	}
}

/* Publishes a record already encoded in g.sbuf on agentsight.raw.proc.<host> (proc-ordered with exec/exit). */
static void publish_on_proc_subject(const struct rec_base *b)
{
	char subject[320];

	snprintf(subject, sizeof(subject), "agentsight.raw.proc.%s", g.host_token);
	publish_current(subject, b);
}

static void handle_file_open(const struct as_file_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1], flags_text[256];
	struct rec_file_open r = { 0 };
	struct rec_base b;

	if (size < sizeof(*e) || e->path_len > size - sizeof(*e) || e->path_len >= FILE_PATH_MAX) {
		fprintf(stderr, "agentsight-probe: malformed file-open record (%zu bytes) skipped\n", size);
		return;
	}
	memcpy(comm, e->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;
	ensure_known(e->pid, comm);

	r.pid = e->pid;
	r.tid = e->tid;
	r.uid = e->uid;
	r.ppid = e->ppid;
	r.comm = comm;
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
	publish_on_proc_subject(&b);
}

static void handle_net_connect(const struct as_net_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_net_connect r = { 0 };
	struct sock_target t;
	struct rec_base b;

	if (size < sizeof(*e) || e->addr_len > NET_ADDR_MAX || sock_target_decode(e->addr, e->addr_len, &t)) {
		fprintf(stderr, "agentsight-probe: malformed connect record (%zu bytes) skipped\n", size);
		return;
	}
	memcpy(comm, e->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;
	ensure_known(e->pid, comm);

	r.pid = e->pid;
	r.tid = e->tid;
	r.uid = e->uid;
	r.ppid = e->ppid;
	r.comm = comm;
	r.family = t.family;
	r.address = t.address;
	r.port = t.port;
	r.result = e->result;
	next_base(&b, e->ts_ns);
	encode_net_connect(&g.sbuf, &b, &r);
	publish_on_proc_subject(&b);
}

static int on_record(void *ctx, void *data, size_t size)
{
	uint32_t type;

	(void)ctx;
	if (size < sizeof(type))
		return 0;
	memcpy(&type, data, sizeof(type));
	g.records++;
	if (type == EVENT_SSL)
		handle_ssl(data, size);
	else if (type == EVENT_EXEC || type == EVENT_EXIT)
		handle_proc(data, size);
	else if (type == EVENT_FILE_OPEN)
		handle_file_open(data, size);
	else if (type == EVENT_NET_CONNECT)
		handle_net_connect(data, size);
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
		(rodata)->filter_pids = opt.npids > 0;                                         \
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
	g.file_events = !opt.no_file_events;
	g.net_events = !opt.no_net_events;
	p->rodata->file_events = g.file_events;
	p->rodata->net_events = g.net_events;
	p->rodata->all_files = opt.all_files;
	/* The syscall-exit hook runs on every syscall of the system: not loaded at all when neither kind is wanted. */
	bpf_program__set_autoload(p->progs.handle_sys_exit, g.file_events || g.net_events);
	/* One ring buffer, one drop counter, one set of filter maps for both objects. */
	if (bpf_map__reuse_fd(p->maps.events, bpf_map__fd(s->maps.events)) ||
	    bpf_map__reuse_fd(p->maps.drops, bpf_map__fd(s->maps.drops)) ||
	    bpf_map__reuse_fd(p->maps.traced_pids, bpf_map__fd(s->maps.traced_pids)) ||
	    bpf_map__reuse_fd(p->maps.excluded_pids, bpf_map__fd(s->maps.excluded_pids)))
		die("cannot share maps between the BPF objects");
	err = process_bpf__load(p);
	if (err)
		die("cannot load the process BPF programs: %s", strerror(-err));
	/* Fork tracking first, then the roots, then the roots' existing descendants: no fork is missed. */
	err = process_bpf__attach(p);
	if (err)
		die("cannot attach the process tracepoints: %s", strerror(-err));
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

/* Attaches entry + return probes of every TLS function (all families) path exports; returns the number of functions
 * attached. */
static int attach_binary(const char *path)
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
	};
	struct bpf_program *ret[SSL_FN_COUNT] = {
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
	};
	int f, i, n = 0;

	for (f = 0; f < N_FAMILIES; f++) {
		const struct tls_family *fam = &tls_families[f];
		bool exported[4], any = false;

		for (i = 0; i < fam->nfns; i++) {
			exported[i] = elf_exports_function(path, ssl_fns[fam->fns[i]]);
			any = any || exported[i];
		}
		if (!any)
			continue;
		for (i = 0; i < fam->nfns; i++) {
			enum ssl_fn fn = fam->fns[i];
			LIBBPF_OPTS(bpf_uprobe_opts, eo, .func_name = ssl_fns[fn], .retprobe = false);
			LIBBPF_OPTS(bpf_uprobe_opts, ro, .func_name = ssl_fns[fn], .retprobe = true);
			struct bpf_link *le, *lr;

			if (!exported[i]) {
				fprintf(stderr, "agentsight-probe: %s: no %s symbol, not probed\n", path, ssl_fns[fn]);
				continue;
			}
			if (g.nlinks + 2 > MAX_LINKS)
				die("too many probes");
			le = bpf_program__attach_uprobe_opts(entry[fn], -1, path, 0, &eo);
			if (!le) {
				fprintf(stderr, "agentsight-probe: %s: cannot attach %s: %s\n", path, ssl_fns[fn], strerror(errno));
				continue;
			}
			lr = bpf_program__attach_uprobe_opts(ret[fn], -1, path, 0, &ro);
			if (!lr) {
				fprintf(stderr, "agentsight-probe: %s: cannot attach %s return: %s\n", path, ssl_fns[fn],
					strerror(errno));
				bpf_link__destroy(le);
				continue;
			}
			g.links[g.nlinks++] = le;
			g.links[g.nlinks++] = lr;
			n++;
		}
	}
	return n;
}

/* Adds path (resolved) to the targets unless already there; `required` reports a missing file. */
static void try_attach(const char *path, bool required, bool only_if_exports)
{
	char real[PATH_MAX];
	int i;

	if (!realpath(path, real)) {
		if (required)
			fprintf(stderr, "agentsight-probe: %s: %s\n", path, strerror(errno));
		return;
	}
	for (i = 0; i < g.nattached; i++)
		if (strcmp(g.attached[i], real) == 0)
			return;
	if (only_if_exports && !elf_exports_function(real, "SSL_write"))
		return;
	if (g.nattached == MAX_TARGETS)
		die("too many probed binaries");
	if (attach_binary(real) > 0) {
		snprintf(g.attached[g.nattached], PATH_MAX, "%s", real);
		g.nattached++;
	} else if (required) {
		fprintf(stderr, "agentsight-probe: %s: no TLS function could be probed\n", real);
	}
}

static void attach_all(void)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < N_FAMILIES; i++) {
		if (find_system_library(tls_families[i].system_soname, path, sizeof(path)) == 0)
			try_attach(path, true, false);
		else
			fprintf(stderr, "agentsight-probe: system %s not found, %s not probed\n",
				tls_families[i].system_soname, tls_families[i].name);
	}
	for (i = 0; i < opt.nbinaries; i++)
		try_attach(opt.binaries[i], true, false);
	if (find_on_path("node", path, sizeof(path)) == 0)
		try_attach(path, false, true);
	try_attach("/usr/bin/node", false, true);
	if (g.nattached == 0)
		die("no TLS probe could be attached");
}

static void print_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
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
	int i, n, err;

	parse_args(argc, argv);
	setvbuf(stderr, NULL, _IOLBF, 0);
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
	for (i = 0; i < g.nattached; i++) {
		if (i)
			putchar(',');
		print_json_string(g.attached[i]);
	}
	printf("],\"file_events\":%s,\"net_events\":%s}\n", g.file_events ? "true" : "false",
	       g.net_events ? "true" : "false");
	fflush(stdout);

	next_stats = boottime_ns() + opt.stats_interval_ms * 1000000ull;
	while (!stopping) {
		err = ring_buffer__poll(g.rb, POLL_MS);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "agentsight-probe: ring buffer poll: %s\n", strerror(-err));
			break;
		}
		/* Records are submitted with BPF_RB_NO_WAKEUP unless much data waits: consume them periodically. */
		ring_buffer__consume(g.rb);
		publisher_pump(g.pub);
		if (boottime_ns() >= next_stats) {
			refresh_wall_offset();
			publish_loss();
			next_stats = boottime_ns() + opt.stats_interval_ms * 1000000ull;
		}
	}

	/* Stop: no new records, drain the ring buffer completely, publish, wait for the PubAcks. */
	for (i = 0; i < g.nlinks; i++)
		bpf_link__destroy(g.links[i]);
	g.nlinks = 0;
	process_bpf__detach(g.proc_skel);
	while ((n = ring_buffer__consume(g.rb)) > 0)
		publisher_pump(g.pub);
	publisher_flush(g.pub, FLUSH_TIMEOUT_MS);
	publish_loss();
	publisher_flush(g.pub, FLUSH_TIMEOUT_MS / 3);

	publisher_get_stats(g.pub, &st);
	read_drops(&drops, &drop_bytes);
	printf("{\"event\":\"stopped\",\"records\":%llu,\"published\":%llu,\"ringbuf_drops\":%llu,"
	       "\"publish_failures\":%llu,\"file_opens_skipped\":%llu,\"last_seq\":%lld}\n",
	       (unsigned long long)g.records, (unsigned long long)st.published, (unsigned long long)drops,
	       (unsigned long long)st.failures,
	       (unsigned long long)sum_percpu(bpf_map__fd(g.proc_skel->maps.io_skips), SKIP_FILE_PSEUDO),
	       g.have_last_seq ? (long long)g.last_seq : -1LL);
	fflush(stdout);

	publisher_destroy(g.pub);
	ring_buffer__free(g.rb);
	process_bpf__destroy(g.proc_skel);
	sslsniff_bpf__destroy(g.ssl_skel);
	msgpack_sbuffer_destroy(&g.sbuf);
	nats_Close();
	return 0;
}

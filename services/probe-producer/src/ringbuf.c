// SPDX-License-Identifier: Apache-2.0
/*
 * The ring-buffer callbacks (ringbuf.h): each record of bpf/ checked, turned into its raw record and published, in
 * slices (pacing.h); control records (fork, map, hello) handed to the attach and TLS-notice code.
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
#include <sched.h>

#include "attach.h"
#include "attach_pid.h"
#include "emit.h"
#include "follow.h"
#include "hold.h"
#include "hold_event.h"
#include "io_format.h"
#include "options.h"
#include "pacing.h"
#include "pids.h"
#include "proc_event.h"
#include "producer.h"
#include "records.h"
#include "ringbuf.h"
#include "ssl_event.h"
#include "tls_hello.h"
#include "tls_notice.h"

#define SLICE_END (-EAGAIN) /* on_record: the slice is full (pacing.h), the ring buffer read stops there */

static const char *const ssl_dirs[] = { "write", "read" };

/* ---- ring-buffer records ---- */

/* True when a ring-buffer record fails its checks (`bad`): says so on stderr, the record is skipped. */
bool malformed(bool bad, const char *what, size_t size)
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
	*f = (struct rec_fragment){ .len = len,
				    .frag_offset = frag_offset,
				    .frag_total = len,
				    .stream_offset = *call_base + frag_offset,
				    .partition = partition,
				    .data = data,
				    .data_len = frag_len };
}

static void handle_ssl(const struct as_ssl_event *e, size_t size)
{
	char comm[TASK_COMM_LEN_ + 1];
	struct rec_ssl r = { 0 };
	struct rec_base b;
	struct conn *c;

	if (malformed(size < sizeof(*e) || e->frag_len > size - sizeof(*e) || e->fn >= SSL_FN_COUNT ||
			      e->dir > SSL_DIR_READ,
		      "SSL", size))
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
	} else if ((type == EVENT_FILE_OPEN || type == EVENT_NET_CONNECT || type == EVENT_STDIO ||
		    type == EVENT_MAP_EXEC || type == EVENT_TLS_HELLO) &&
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
			      e->frag_offset + (uint64_t)e->frag_len > e->len,
		      "stdio", size))
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
int on_record(void *ctx, void *data, size_t size)
{
	uint32_t type, pid = 0;
	bool held = false;
	int ret;

	if (size >= sizeof(struct as_proc_event) && ((const struct as_proc_event *)data)->type == EVENT_EXEC) {
		held = ((const struct as_proc_event *)data)->held;
		pid = ((const struct as_proc_event *)data)->pid;
	} else if (size >= sizeof(struct as_map_event) &&
		   ((const struct as_map_event *)data)->task.type == EVENT_MAP_EXEC) {
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
		fprintf(stderr,
			"agentsight-probe: pid %u was released before its %s was attached (--hold-ms %llu passed): "
			"its first TLS calls may be missed\n",
			pid,
			type == EVENT_EXEC   ? "executable"
			: type == EVENT_FORK ? "forked image"
					     : "newly mapped file",
			(unsigned long long)opt.hold_ms);
		printf("{\"event\":\"hold_miss\",\"pid\":%u,\"what\":\"%s\",\"bound_ms\":%llu}\n", pid,
		       type == EVENT_EXEC   ? "exec"
		       : type == EVENT_FORK ? "fork"
					    : "map",
		       (unsigned long long)opt.hold_ms);
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
int drain_sliced(int err)
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
	} else
		fprintf(stderr, "agentsight-probe: unknown record type %u skipped\n", type);
	return 0;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * ClientHellos of traced processes (tls_hello.h): whether a probe records the connection, and a TLS notice when not.
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
#include <arpa/inet.h>

#include "attach.h"
#include "emit.h"
#include "hold_event.h"
#include "io_format.h"
#include "producer.h"
#include "records.h"
#include "ringbuf.h"
#include "tls_hello.h"
#include "tls_notice.h"

uint64_t tls_hellos;

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
		snprintf(h->reason, sizeof(h->reason),
			 "no probed TLS function saw this connection, and the process had "
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
		snprintf(h->library, sizeof(h->library), "%s",
			 strcmp(unrecognised->path, h->binary) ? unrecognised->path : "");
		snprintf(h->cause, sizeof(h->cause), "unrecognised");
		snprintf(h->reason, sizeof(h->reason), "%s", unrecognised->why);
		return false;
	}
	if (late[0]) {
		snprintf(h->library, sizeof(h->library), "%s", late);
		snprintf(h->cause, sizeof(h->cause), "not_attached");
		snprintf(h->reason, sizeof(h->reason),
			 "TLS code loaded from a path not yet attached (%s); attached now, "
			 "later connections are captured",
			 late);
		return false;
	}
	snprintf(h->cause, sizeof(h->cause), "unsupported");
	if (!nattached) {
		snprintf(h->reason, sizeof(h->reason),
			 "TLS library not supported yet: no TLS stack the probe knows in the "
			 "executable or the libraries it maps");
		return false;
	}
	snprintf(h->reason, sizeof(h->reason),
		 "no probed TLS function (%s) saw this connection: a TLS library not "
		 "supported yet, or a connection that ended before any data",
		 attached);
	return true;
}

/* TLS traffic no probe records: the raw record (once per process and reason), stdout and stderr lines. */
void emit_tls_notice(const struct tls_hello *h)
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
		h->library[0] ? ", " : "", h->library, h->address, h->port, h->server_name[0] ? " " : "",
		h->server_name, h->reason);
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
void handle_tls_hello(const struct as_hello_event *e, size_t size)
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

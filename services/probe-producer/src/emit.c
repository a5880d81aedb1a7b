// SPDX-License-Identifier: Apache-2.0
/*
 * Publishing the records the producer builds (emit.h): the common fields, the subjects, process snapshots and the
 * connection closes of an exiting process.
 */
#include <stdio.h>

#include "emit.h"
#include "options.h"
#include "pids.h"
#include "producer.h"
#include "publisher.h"
#include "sysinfo.h"

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
void next_base(struct rec_base *b, uint64_t ts_boot_ns)
{
	b->host = g.host;
	b->boot_id = g.boot_id;
	b->run = g.run;
	b->seq = g.seq++;
	b->ts_boot_ns = ts_boot_ns;
	b->ts_wall_ns = (uint64_t)((int64_t)ts_boot_ns + g.wall_offset_ns);
}

/*
 * Publishes the record in g.sbuf, encoded with base b, with the id of b on agentsight.raw.<family>.<host> (partition
 * NO_PARTITION) or agentsight.raw.<family>.<host>.<partition>.
 */
void publish_current(const struct rec_base *b, const char *family, int64_t partition)
{
	char id[128], subject[320];

	if (partition == NO_PARTITION)
		snprintf(subject, sizeof(subject), "agentsight.raw.%s.%s", family, g.host_token);
	else
		snprintf(subject, sizeof(subject), "agentsight.raw.%s.%s.%lld", family, g.host_token,
			 (long long)partition);
	snprintf(id, sizeof(id), "%s:%llu:%llu", g.boot_id, (unsigned long long)g.run, (unsigned long long)b->seq);
	publisher_publish(g.pub, subject, id, g.sbuf.data, g.sbuf.size);
	g.have_last_seq = true;
	g.last_seq = b->seq;
}

void publish_proc(const struct rec_proc *r, uint64_t ts_boot_ns)
{
	struct rec_base b;

	next_base(&b, ts_boot_ns);
	encode_proc(&g.sbuf, &b, r);
	publish_current(&b, "proc", NO_PARTITION);
}

/* Publishes a snapshot of pid from /proc (comm_hint when the process is already gone). */
void publish_snapshot(uint32_t pid, const char *comm_hint)
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
struct pidinfo *ensure_known(uint32_t pid, const char *comm)
{
	struct pidinfo *pi = pid_get(pid, true);

	if (!pi->known) {
		publish_snapshot(pid, comm);
		pi->known = true;
	}
	return pi;
}

/* Partition of the connection (pid, ssl): every record of a connection goes to agentsight.raw.ssl.<host>.<this>. */
uint32_t ssl_partition(uint32_t pid, uint64_t ssl)
{
	return (uint32_t)(fnv1a64_pid_ssl(pid, ssl) % opt.partitions);
}

/*
 * On process exit: one ssl_close record per connection the process used, on the connection's partition, so the
 * parser knows nothing more will come (libs/contracts/src/raw.ts RawSslCloseRecord).
 */
void publish_closes(uint32_t pid, uint32_t uid, const char *comm, uint64_t ts_boot_ns)
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
		r = (struct rec_ssl_close){ .task = { .pid = pid, .tid = pid, .uid = uid, .comm = comm },
					    .ssl = c->ssl,
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

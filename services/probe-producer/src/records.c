// SPDX-License-Identifier: Apache-2.0
#include "records.h"

#include <string.h>

#define BASE_FIELDS 8 /* v, kind + the six rec_base fields */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s ? s : "", n);
}

static void pack_key(msgpack_packer *pk, const char *k)
{
	pack_cstr(pk, k);
}

static void pack_bool(msgpack_packer *pk, bool v)
{
	if (v)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void pack_base(msgpack_packer *pk, const struct rec_base *b, const char *kind)
{
	pack_key(pk, "v");
	msgpack_pack_uint8(pk, 1);
	pack_key(pk, "kind");
	pack_cstr(pk, kind);
	pack_key(pk, "host");
	pack_cstr(pk, b->host);
	pack_key(pk, "boot_id");
	pack_cstr(pk, b->boot_id);
	pack_key(pk, "run");
	msgpack_pack_uint64(pk, b->run);
	pack_key(pk, "seq");
	msgpack_pack_uint64(pk, b->seq);
	pack_key(pk, "ts_boot_ns");
	msgpack_pack_fix_uint64(pk, b->ts_boot_ns);
	pack_key(pk, "ts_wall_ns");
	msgpack_pack_fix_uint64(pk, b->ts_wall_ns);
}

/* Starts a record in sbuf (cleared first): a map of the base fields plus `extra` more, kind `kind`. */
static void begin_record(msgpack_packer *pk, msgpack_sbuffer *sbuf, const struct rec_base *b, const char *kind,
			 unsigned extra)
{
	msgpack_sbuffer_clear(sbuf);
	msgpack_packer_init(pk, sbuf, msgpack_sbuffer_write);
	msgpack_pack_map(pk, BASE_FIELDS + extra);
	pack_base(pk, b, kind);
}

/*
 * Which task fields a record kind carries, in its contract order (libs/contracts/src/raw.ts): threads of TLS calls
 * carry no parent, file/network/stdio records the parent after the uid, proc records describe a process (no tid).
 */
enum task_layout {
	TASK_TLS,  /* pid, tid, uid, comm: ssl, ssl_close, ssl_handshake */
	TASK_IO,   /* pid, tid, uid, ppid, comm: file_open, net_connect, stdio */
	TASK_PROC, /* pid, ppid, uid, comm: proc */
};

/* Map entries pack_task writes for layout l. */
static unsigned task_fields(enum task_layout l)
{
	return l == TASK_IO ? 5 : 4;
}

/* The task fields of layout l (task_fields(l) map entries). */
static void pack_task(msgpack_packer *pk, const struct rec_task *t, enum task_layout l)
{
	pack_key(pk, "pid");
	msgpack_pack_uint32(pk, t->pid);
	if (l == TASK_PROC) {
		pack_key(pk, "ppid");
		msgpack_pack_uint32(pk, t->ppid);
	} else {
		pack_key(pk, "tid");
		msgpack_pack_uint32(pk, t->tid);
	}
	pack_key(pk, "uid");
	msgpack_pack_uint32(pk, t->uid);
	if (l == TASK_IO) {
		pack_key(pk, "ppid");
		msgpack_pack_uint32(pk, t->ppid);
	}
	pack_key(pk, "comm");
	pack_cstr(pk, t->comm);
}

/* Starts a record of task t: the base fields, t's fields (layout l), then room for `own` more entries. */
static void begin_task_record(msgpack_packer *pk, msgpack_sbuffer *sbuf, const struct rec_base *b, const char *kind,
			      const struct rec_task *t, enum task_layout l, unsigned own)
{
	begin_record(pk, sbuf, b, kind, task_fields(l) + own);
	pack_task(pk, t, l);
}

#define FRAGMENT_FIELDS 6

/* len, frag_offset, frag_total, stream_offset, partition, data: the last FRAGMENT_FIELDS entries of ssl and stdio. */
static void pack_fragment(msgpack_packer *pk, const struct rec_fragment *f)
{
	pack_key(pk, "len");
	msgpack_pack_uint32(pk, f->len);
	pack_key(pk, "frag_offset");
	msgpack_pack_uint32(pk, f->frag_offset);
	pack_key(pk, "frag_total");
	msgpack_pack_uint32(pk, f->frag_total);
	pack_key(pk, "stream_offset");
	msgpack_pack_uint64(pk, f->stream_offset);
	pack_key(pk, "partition");
	msgpack_pack_uint32(pk, f->partition);
	pack_key(pk, "data");
	msgpack_pack_bin(pk, f->data_len);
	msgpack_pack_bin_body(pk, f->data, f->data_len);
}

void encode_ssl(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "ssl", &r->task, TASK_TLS, 3 + FRAGMENT_FIELDS);
	pack_key(&pk, "ssl");
	msgpack_pack_uint64(&pk, r->ssl);
	pack_key(&pk, "fn");
	pack_cstr(&pk, r->fn);
	pack_key(&pk, "dir");
	pack_cstr(&pk, r->dir);
	pack_fragment(&pk, &r->frag);
}

void encode_ssl_close(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl_close *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "ssl_close", &r->task, TASK_TLS, 5);
	pack_key(&pk, "ssl");
	msgpack_pack_uint64(&pk, r->ssl);
	pack_key(&pk, "partition");
	msgpack_pack_uint32(&pk, r->partition);
	pack_key(&pk, "reason");
	pack_cstr(&pk, r->reason);
	pack_key(&pk, "write_offset");
	msgpack_pack_uint64(&pk, r->write_offset);
	pack_key(&pk, "read_offset");
	msgpack_pack_uint64(&pk, r->read_offset);
}

void encode_proc(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_proc *r)
{
	msgpack_packer pk;
	size_t i, start, argc = 0;

	/* event comes before the task fields: begin_task_record does not fit. */
	begin_record(&pk, sbuf, b, "proc", 1 + task_fields(TASK_PROC) + 5);
	pack_key(&pk, "event");
	pack_cstr(&pk, r->event);
	pack_task(&pk, &r->task, TASK_PROC);
	pack_key(&pk, "filename");
	pack_cstr(&pk, r->filename);

	/* argv: NUL-separated; a last argument without its NUL (cut) still counts. */
	for (i = 0; i < r->args_len; i++)
		if (r->args[i] == 0)
			argc++;
	if (r->args_len && r->args[r->args_len - 1] != 0)
		argc++;
	pack_key(&pk, "argv");
	msgpack_pack_array(&pk, argc);
	for (i = 0, start = 0; i <= r->args_len && argc; i++) {
		if (i == r->args_len || r->args[i] == 0) {
			if (i == r->args_len && start == i)
				break;
			msgpack_pack_str(&pk, i - start);
			msgpack_pack_str_body(&pk, r->args + start, i - start);
			start = i + 1;
		}
	}
	pack_key(&pk, "argv_truncated");
	pack_bool(&pk, r->argv_truncated);
	pack_key(&pk, "exit_code");
	msgpack_pack_int32(&pk, r->exit_code);
	pack_key(&pk, "duration_ns");
	msgpack_pack_uint64(&pk, r->duration_ns);
}

void encode_file_open(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_file_open *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "file_open", &r->task, TASK_IO, 6);
	pack_key(&pk, "path");
	msgpack_pack_str(&pk, r->path_len);
	msgpack_pack_str_body(&pk, r->path, r->path_len);
	pack_key(&pk, "path_truncated");
	pack_bool(&pk, r->path_truncated);
	pack_key(&pk, "flags");
	msgpack_pack_uint64(&pk, r->flags);
	pack_key(&pk, "flags_text");
	pack_cstr(&pk, r->flags_text);
	pack_key(&pk, "mode");
	msgpack_pack_uint32(&pk, r->mode);
	pack_key(&pk, "result");
	msgpack_pack_int32(&pk, r->result);
}

void encode_net_connect(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_net_connect *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "net_connect", &r->task, TASK_IO, 4);
	pack_key(&pk, "family");
	pack_cstr(&pk, r->family);
	pack_key(&pk, "address");
	pack_cstr(&pk, r->address);
	pack_key(&pk, "port");
	msgpack_pack_uint16(&pk, r->port);
	pack_key(&pk, "result");
	msgpack_pack_int32(&pk, r->result);
}

void encode_stdio(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_stdio *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "stdio", &r->task, TASK_IO, 5 + FRAGMENT_FIELDS);
	pack_key(&pk, "fd");
	msgpack_pack_uint32(&pk, r->fd);
	pack_key(&pk, "dir");
	pack_cstr(&pk, r->dir);
	pack_key(&pk, "ftype");
	pack_cstr(&pk, r->ftype);
	pack_key(&pk, "ino");
	msgpack_pack_uint64(&pk, r->ino);
	pack_key(&pk, "dev");
	msgpack_pack_uint32(&pk, r->dev);
	pack_fragment(&pk, &r->frag);
}

void encode_loss(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_loss *r)
{
	msgpack_packer pk;

	begin_record(&pk, sbuf, b, "loss", 11);
	pack_key(&pk, "lost_records");
	msgpack_pack_uint64(&pk, r->lost_records);
	pack_key(&pk, "lost_bytes");
	msgpack_pack_uint64(&pk, r->lost_bytes);
	/* Deprecated names of the two above, written for one more release (libs/contracts raw.ts). */
	pack_key(&pk, "ringbuf_drops");
	msgpack_pack_uint64(&pk, r->lost_records);
	pack_key(&pk, "ringbuf_drop_bytes");
	msgpack_pack_uint64(&pk, r->lost_bytes);
	pack_key(&pk, "records");
	msgpack_pack_uint64(&pk, r->records);
	pack_key(&pk, "publish_failures");
	msgpack_pack_uint64(&pk, r->publish_failures);
	pack_key(&pk, "published");
	msgpack_pack_uint64(&pk, r->published);
	pack_key(&pk, "publish_reordered");
	msgpack_pack_uint64(&pk, r->publish_reordered);
	pack_key(&pk, "file_opens_skipped");
	msgpack_pack_uint64(&pk, r->file_opens_skipped);
	pack_key(&pk, "probes");
	msgpack_pack_array(&pk, r->nprobes);
	for (size_t i = 0; i < r->nprobes; i++) {
		const struct rec_probe_stat *p = &r->probes[i];

		msgpack_pack_map(&pk, 7);
		pack_key(&pk, "binary");
		pack_cstr(&pk, p->binary);
		pack_key(&pk, "fn");
		pack_cstr(&pk, p->fn);
		pack_key(&pk, "records");
		msgpack_pack_uint64(&pk, p->records);
		pack_key(&pk, "fragments");
		msgpack_pack_uint64(&pk, p->fragments);
		pack_key(&pk, "bytes");
		msgpack_pack_uint64(&pk, p->bytes);
		pack_key(&pk, "lost_records");
		msgpack_pack_uint64(&pk, p->lost_records);
		pack_key(&pk, "ringbuf_drops"); /* deprecated name of lost_records, written for one more release */
		msgpack_pack_uint64(&pk, p->lost_records);
	}
	pack_key(&pk, "attach_failures");
	msgpack_pack_array(&pk, r->nattach_failures);
	for (size_t i = 0; i < r->nattach_failures; i++) {
		msgpack_pack_map(&pk, 3);
		pack_key(&pk, "binary");
		pack_cstr(&pk, r->attach_failures[i].binary);
		pack_key(&pk, "fn");
		pack_cstr(&pk, r->attach_failures[i].fn);
		pack_key(&pk, "error");
		pack_cstr(&pk, r->attach_failures[i].error);
	}
}

void encode_ssl_handshake(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl_handshake *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "ssl_handshake", &r->task, TASK_TLS, 5);
	pack_key(&pk, "ssl");
	msgpack_pack_uint64(&pk, r->ssl);
	pack_key(&pk, "fn");
	pack_cstr(&pk, r->fn);
	pack_key(&pk, "partition");
	msgpack_pack_uint32(&pk, r->partition);
	pack_key(&pk, "result");
	msgpack_pack_int32(&pk, r->result);
	pack_key(&pk, "duration_ns");
	msgpack_pack_uint64(&pk, r->duration_ns);
}

void encode_tls_notice(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_tls_notice *r)
{
	msgpack_packer pk;

	begin_task_record(&pk, sbuf, b, "tls_notice", &r->task, TASK_IO, 7);
	pack_key(&pk, "binary");
	pack_cstr(&pk, r->binary);
	pack_key(&pk, "library");
	pack_cstr(&pk, r->library);
	pack_key(&pk, "cause");
	pack_cstr(&pk, r->cause);
	pack_key(&pk, "reason");
	pack_cstr(&pk, r->reason);
	pack_key(&pk, "address");
	pack_cstr(&pk, r->address);
	pack_key(&pk, "port");
	msgpack_pack_uint16(&pk, r->port);
	pack_key(&pk, "server_name");
	pack_cstr(&pk, r->server_name);
}

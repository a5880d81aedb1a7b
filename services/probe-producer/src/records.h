/* SPDX-License-Identifier: Apache-2.0 */
/*
 * msgpack encoders of the raw records (libs/contracts/src/raw.ts, contract v1): maps with string keys, strings as
 * str, `data` as bin, ts_boot_ns/ts_wall_ns always uint64 (0xcf), other integers in their smallest encoding.
 */
#ifndef AGENTSIGHT_RECORDS_H
#define AGENTSIGHT_RECORDS_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Fields common to every record. */
struct rec_base {
	const char *host;    /* --host */
	const char *boot_id; /* /proc/sys/kernel/random/boot_id */
	uint64_t run;        /* CLOCK_BOOTTIME ns at producer start */
	uint64_t seq;        /* per-run record counter */
	uint64_t ts_boot_ns; /* CLOCK_BOOTTIME ns */
	uint64_t ts_wall_ns; /* CLOCK_REALTIME ns */
};

/**
 * The task a record comes from. Which of these fields a record kind carries, and in which order, is fixed by its
 * contract (records.c enum task_layout); a field a kind does not carry is ignored.
 */
struct rec_task {
	uint32_t pid; /* tgid */
	uint32_t tid; /* thread id (not in proc records) */
	uint32_t uid;
	uint32_t ppid;    /* real parent's tgid (proc, file_open, net_connect, stdio records only) */
	const char *comm; /* thread name (proc: the process' name) */
};

/**
 * One fragment of the bytes of one call (SSL or stdio records, packed last in this order): a call longer than one
 * ring-buffer record arrives as ordered fragments.
 */
struct rec_fragment {
	uint32_t len;         /* the call's byte count */
	uint32_t frag_offset; /* offset of this fragment in the call's bytes */
	uint32_t frag_total;  /* the call's byte count (equals len) */
	uint64_t
		stream_offset; /* offset of the fragment's first byte in its stream (per connection / fd and dir), bytes */
	uint32_t partition;    /* partition of the subject the record is published on */
	const void *data;
	size_t data_len; /* bytes of data */
};

/** One SSL fragment. */
struct rec_ssl {
	struct rec_task task; /* pid, tid, uid, comm */
	uint64_t ssl;
	const char *fn;  /* "SSL_write" ... */
	const char *dir; /* "write" | "read" */
	struct rec_fragment frag;
};

/** End of one connection (all its fragments were published before). */
struct rec_ssl_close {
	struct rec_task task; /* pid, tid, uid, comm */
	uint64_t ssl;
	uint32_t partition;
	const char *reason;                 /* "process_exit" */
	uint64_t write_offset, read_offset; /* bytes published per direction */
};

/** One process event. */
struct rec_proc {
	const char *event;    /* "exec" | "exit" | "snapshot" */
	struct rec_task task; /* pid, ppid, uid, comm */
	const char *filename;
	const char *args; /* NUL-separated argv */
	size_t args_len;  /* bytes in args */
	bool argv_truncated;
	int32_t exit_code;
	uint64_t duration_ns;
};

/** One file open (subject agentsight.raw.proc.<host>). */
struct rec_file_open {
	struct rec_task task; /* pid, tid, uid, ppid, comm */
	const char *path;
	size_t path_len; /* bytes in path */
	bool path_truncated;
	uint64_t flags;         /* open flags as the process passed them */
	const char *flags_text; /* "O_WRONLY|O_CREAT|O_TRUNC" */
	uint32_t mode;
	int32_t result; /* fd or -errno */
};

/** One connect() (subject agentsight.raw.proc.<host>). */
struct rec_net_connect {
	struct rec_task task; /* pid, tid, uid, ppid, comm */
	const char *family;   /* "inet" | "inet6" | "unix" */
	const char *address;
	uint16_t port;  /* host byte order, 0 for unix */
	int32_t result; /* 0 or -errno */
};

/** Counters of one attached probe (binary + function) since the run started (struct probe_stat in ssl_event.h). */
struct rec_probe_stat {
	const char *binary; /* real path of the probed file */
	const char *fn;     /* "SSL_read", ... */
	uint64_t records;   /* calls whose first ring-buffer record was emitted */
	uint64_t fragments; /* ring-buffer records emitted */
	uint64_t bytes;     /* plaintext bytes emitted */
	uint64_t
		lost_records; /* records lost in the kernel (written as `lost_records` and the deprecated `ringbuf_drops`) */
};

/** A function of a binary that could not be probed. */
struct rec_attach_failure {
	const char *binary;
	const char *fn;
	const char *error; /* human-readable reason */
};

/** One fragment of one stdio call (subject agentsight.raw.stdio.<host>.<p>). */
struct rec_stdio {
	struct rec_task task; /* pid, tid, uid, ppid, comm */
	uint32_t fd;
	const char *dir;   /* "write" | "read" */
	const char *ftype; /* "fifo" | "sock" | "chr" | "reg" | "other" */
	uint64_t ino;      /* channel inode, 0 unknown */
	uint32_t dev;
	struct rec_fragment frag;
};

/** Loss counters since the run started. */
struct rec_loss {
	uint64_t lost_records; /* records lost in the kernel (also written as the deprecated `ringbuf_drops`) */
	uint64_t
		lost_bytes; /* plaintext bytes of those records (also written as the deprecated `ringbuf_drop_bytes`) */
	uint64_t records, publish_failures;
	uint64_t published;                  /* records acknowledged by JetStream so far */
	uint64_t publish_reordered;          /* records stored behind a later record of their subject (after a retry) */
	uint64_t file_opens_skipped;         /* opens of /proc, /sys, /dev not emitted (no --all-files) */
	const struct rec_probe_stat *probes; /* per attached probe, in attach order */
	size_t nprobes;
	const struct rec_attach_failure *attach_failures;
	size_t nattach_failures;
};

/** One SSL_do_handshake call (subject agentsight.raw.ssl.<host>.<partition>). */
struct rec_ssl_handshake {
	struct rec_task task; /* pid, tid, uid, comm */
	uint64_t ssl;
	const char *fn; /* "SSL_do_handshake" */
	uint32_t partition;
	int32_t result;       /* the call's return value */
	uint64_t duration_ns; /* entry to return, ns */
};

/** TLS traffic no probe records (subject agentsight.raw.proc.<host>; tls_notice.h, RawTlsNoticeRecord). */
struct rec_tls_notice {
	struct rec_task task; /* pid, tid, uid, ppid, comm */
	const char *binary;   /* the process' executable */
	const char *library;  /* the file the reason is about when not the executable, else "" */
	const char *cause;    /* "unrecognised" | "unsupported" | "not_attached" */
	const char *reason;   /* one line for the user */
	const char *address;  /* peer address text */
	uint16_t port;
	const char *server_name; /* SNI, "" when none */
};

/** Encode a record into sbuf (cleared first). */
void encode_ssl(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl *r);
void encode_ssl_close(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl_close *r);
void encode_proc(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_proc *r);
void encode_file_open(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_file_open *r);
void encode_net_connect(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_net_connect *r);
void encode_stdio(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_stdio *r);
void encode_loss(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_loss *r);
void encode_ssl_handshake(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_ssl_handshake *r);
void encode_tls_notice(msgpack_sbuffer *sbuf, const struct rec_base *b, const struct rec_tls_notice *r);

#endif

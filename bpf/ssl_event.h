/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel -> producer layout of one SSL plaintext fragment (ring-buffer record), the kernel side of RawSslRecord
 * (libs/contracts/src/raw.ts). Shared by bpf/sslsniff.bpf.c and services/probe-producer.
 */
#ifndef AGENTSIGHT_SSL_EVENT_H
#define AGENTSIGHT_SSL_EVENT_H

#include "event_common.h"

/** Maximum plaintext bytes in one ring-buffer record; larger calls are split into fragments of this size. */
#define SSL_FRAG_MAX (32 * 1024)
/** Largest call payload that is emitted, bytes (bpf_loop iterations = SSL_CALL_MAX / SSL_FRAG_MAX). Larger calls
 * are counted as dropped (records + bytes), never truncated silently. */
#define SSL_CALL_MAX (64u * 1024 * 1024)

/** The probed TLS library function a record comes from. */
enum ssl_fn {
	SSL_FN_WRITE = 0,         /* OpenSSL SSL_write */
	SSL_FN_READ = 1,          /* OpenSSL SSL_read */
	SSL_FN_WRITE_EX = 2,      /* OpenSSL SSL_write_ex */
	SSL_FN_READ_EX = 3,       /* OpenSSL SSL_read_ex */
	SSL_FN_GNUTLS_SEND = 4,   /* GnuTLS gnutls_record_send */
	SSL_FN_GNUTLS_RECV = 5,   /* GnuTLS gnutls_record_recv */
	SSL_FN_NSPR_WRITE = 6,    /* NSS (NSPR) PR_Write */
	SSL_FN_NSPR_READ = 7,     /* NSS (NSPR) PR_Read */
	SSL_FN_NSPR_SEND = 8,     /* NSS (NSPR) PR_Send */
	SSL_FN_NSPR_RECV = 9,     /* NSS (NSPR) PR_Recv */
	SSL_FN_DO_HANDSHAKE = 10, /* OpenSSL / BoringSSL SSL_do_handshake: struct as_ssl_hs_event, not plaintext */
	SSL_FN_GO_WRITE = 11,     /* Go crypto/tls.(*Conn).Write (register ABI; `ssl` is the *tls.Conn) */
	SSL_FN_GO_READ = 12,      /* Go crypto/tls.(*Conn).Read */
	SSL_FN_RUSTLS_WRITE = 13, /* rustls CommonState::buffer_plaintext (`ssl` is the &mut CommonState) */
	SSL_FN_RUSTLS_READ = 14,  /* rustls CommonState::take_received_plaintext (decrypted application data) */
	/* Copies of OpenSSL's internal functions in a stripped static OpenSSL that inlines them (locate_openssl.c): */
	SSL_FN_WRITE_EX2 = 15,            /* SSL_write_ex2(s, buf, num, flags, *written) (3.2+): written in r8 */
	SSL_FN_WRITE_INTERNAL_FLAGS = 16, /* ssl_write_internal(s, buf, num, flags, *written) (3.2+): written in r8 */
	SSL_FN_WRITE_INTERNAL = 17, /* ssl_write_internal(s, buf, num, *written) (3.0/3.1): SSL_write_ex's layout */
	SSL_FN_READ_INTERNAL = 18,  /* ssl_read_internal(s, buf, num, *readbytes): SSL_read_ex's layout */
	SSL_FN_COUNT = 19,
};

enum ssl_dir {
	SSL_DIR_WRITE = 0, /* plaintext sent by the process */
	SSL_DIR_READ = 1,  /* plaintext received by the process */
};

/**
 * One fragment of one SSL_{read,write}[_ex], gnutls_record_{send,recv} or PR_{Write,Read,Send,Recv} call. The record's ring-buffer size may exceed
 * sizeof(struct as_ssl_event) + frag_len (size classes); only frag_len bytes of data are valid.
 */
struct as_ssl_event {
	__u32 type; /* EVENT_SSL */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 uid;
	__u64 ts_ns; /* CLOCK_BOOTTIME ns at the call's return (same for all fragments of a call) */
	__u64 ssl;   /* SSL*, gnutls_session_t, PRFileDesc* or Go *tls.Conn: the connection's identity in the process */
	__u32 len;   /* the call's payload size, bytes */
	__u32 frag_offset; /* offset of this fragment in the call's payload, bytes */
	__u32 frag_len;    /* bytes of data in this fragment */
	__u8 fn;           /* enum ssl_fn */
	__u8 dir;          /* enum ssl_dir */
	__u16 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	__u8 data[];
};

/**
 * Record type of struct as_ssl_hs_event, continuing enum event_type (event_common.h: 1..3) after the process side's
 * types (proc_event.h: 4..); SSL-side types start at 16 so that both sides can grow independently.
 */
enum ssl_event_type {
	EVENT_SSL_HANDSHAKE = 16,
	EVENT_EXEC_WAKEUP = 17, /* struct as_wakeup_event: no content, ignored by the producer */
};

/**
 * Emitted right after a traced process' exec record with BPF_RB_FORCE_WAKEUP (records normally use
 * BPF_RB_NO_WAKEUP), so the producer reads the exec now and can attach to a new binary before it runs far.
 */
struct as_wakeup_event {
	__u32 type; /* EVENT_EXEC_WAKEUP */
	__u32 pid;  /* tgid */
};

/** One SSL_do_handshake call (OpenSSL by symbol, BoringSSL by pattern), emitted when it returns. Fixed size. */
struct as_ssl_hs_event {
	__u32 type; /* EVENT_SSL_HANDSHAKE */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 uid;
	__u64 ts_ns;       /* CLOCK_BOOTTIME ns at the call's return */
	__u64 ssl;         /* SSL* */
	__u64 duration_ns; /* ns from the call's entry to its return */
	__s32 result;      /* return value: 1 = handshake complete, <= 0 = failed or must be retried (SSL_get_error) */
	__u32 probe;       /* probe id (attach cookie) */
	char comm[TASK_COMM_LEN_]; /* thread name */
};

/** Capacity of the per-probe counter array `probe_stats`: ids of attached (binary, function) pairs. */
#define MAX_PROBES 1024

/**
 * BPF cookie of every uprobe link of sslsniff.bpf.c: the probe id (index in `probe_stats`, < MAX_PROBES) in the low 32
 * bits, the probed function (enum ssl_fn) in the high 32 bits; the programs serve several functions each and read
 * which one fired from the cookie.
 */
#define SSL_COOKIE(probe, fn) (((__u64)(fn) << 32) | (__u32)(probe))
#define SSL_COOKIE_PROBE(cookie) ((__u32)(cookie))
#define SSL_COOKIE_FN(cookie) ((__u32)((cookie) >> 32))

/**
 * Counters of one probe (binary + function), per CPU in `probe_stats`, indexed by the probe id the producer passes
 * in the BPF attach cookie (SSL_COOKIE) of both the entry and the return link.
 */
struct probe_stat {
	__u64 records;   /* calls whose first record was emitted (SSL: calls with payload; handshake: calls) */
	__u64 fragments; /* ring-buffer records emitted */
	__u64 bytes;     /* plaintext bytes emitted */
	__u64 lost_records; /* records lost in the kernel: failed reservation, unreadable user memory, call > SSL_CALL_MAX */
};

#endif

// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * TLS plaintext capture: uprobe + uretprobe on OpenSSL's SSL_write, SSL_read, SSL_write_ex, SSL_read_ex and
 * GnuTLS's gnutls_record_send, gnutls_record_recv (the session pointer plays the role of the SSL*), and NSPR's
 * PR_Write, PR_Read, PR_Send, PR_Recv for NSS (the PRFileDesc* does). The NSPR functions serve every kind of file
 * descriptor; only descriptors whose top layer is not NSPR's own (PR_NSPR_IO_LAYER: plain files, sockets, pipes) are
 * captured, i.e. the SSL layer NSS pushes with SSL_ImportFD, but also any other custom I/O layer.
 *
 * Entry saves (SSL*, buf, out-param) keyed by (tid, fn); return emits the plaintext as ordered fragments of at most
 * SSL_FRAG_MAX bytes (bpf_loop), each in a ring-buffer record sized by class (512 B / 4 KiB / 32 KiB of data) so
 * small calls do not waste ring space. A failed reservation stops the call and counts every remaining fragment and
 * byte in `drops`: the fragments a consumer sees are always a prefix of the call.
 *
 * SSL_do_handshake (OpenSSL, BoringSSL) emits one small struct as_ssl_hs_event per call (result, duration).
 *
 * Go crypto/tls.(*Conn).Write / Read (Go >= 1.17 register ABI): the entry program reads the receiver and the slice
 * from RAX, RBX (and the goroutine's g from R14); the return program is attached as a plain uprobe at each RET of the
 * function (never a uretprobe: it would rewrite a return address on a goroutine stack, which the runtime moves) and
 * reads n from RAX. A goroutine can park inside Read/Write and resume on another thread, so calls are keyed by
 * (tgid, g), not by thread.
 *
 * Every link carries a BPF cookie (ssl_event.h, SSL_COOKIE): the producer's probe id of (binary, function) in its low
 * 32 bits, the function (enum ssl_fn) in its high 32 bits. One program serves each argument layout (probe_ssl_entry,
 * probe_ssl_ex_entry, probe_ssl_ex2_entry, probe_nspr_entry, probe_go_entry, probe_rustls_entry) and one return program each return
 * mechanism (retprobe_ssl for every uretprobe of a C function, retprobe_go, retprobe_rustls): the function is the
 * cookie's, not the program's. The return programs count records, fragments, bytes and drops per probe in
 * `probe_stats` (the same programs serve every binary, so the cookie is the only way to tell which binary a call came
 * from).
 */
#include "common.bpf.h"
#include "ssl_event.h"

struct call_key {
	__u32 tid;
	__u32 fn;
};

struct call_args {
	__u64 ssl;
	__u64 buf;
	__u64 outlen;   /* size_t* of the _ex calls, else 0 */
	__u64 start_ns; /* CLOCK_BOOTTIME at entry (SSL_do_handshake only, for its duration) */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct call_key);
	__type(value, struct call_args);
} active_calls SEC(".maps");

/* Per-CPU counters per probe id (attach cookie), see struct probe_stat. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_PROBES);
	__type(key, __u32);
	__type(value, struct probe_stat);
} probe_stats SEC(".maps");

static __always_inline struct probe_stat *probe_stat_of(__u32 probe)
{
	return bpf_map_lookup_elem(&probe_stats, &probe);
}

/* NSPR (prio.h): byte offset of PRFileDesc.identity (after methods, secret, lower, higher, dtor; 64-bit), and the
 * identity of NSPR's own bottom layer. */
#define PRFILEDESC_IDENTITY_OFF 40
#define PR_NSPR_IO_LAYER 0

/* State of one call while its fragments are emitted. */
struct emit_ctx {
	__u64 buf;               /* user address of the call's payload */
	__u32 probe;             /* probe id (attach cookie) */
	struct as_ssl_event hdr; /* header of every fragment record; frag_offset / frag_len set per fragment */
};

/* Entry of a C function call (its enum ssl_fn from the cookie): saves (ssl, buf, outlen) under (tid, fn). */
static __always_inline int call_entry(struct pt_regs *ctx, __u64 ssl, __u64 buf, __u64 outlen)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u32 fn;

	if (!pid_allowed(tgid, uid, (struct task_struct *)bpf_get_current_task()))
		return 0;
	fn = SSL_COOKIE_FN(bpf_get_attach_cookie(ctx));

	struct call_key k = { .tid = (__u32)id, .fn = fn };
	struct call_args a = { .ssl = ssl, .buf = buf, .outlen = outlen };

	if (fn == SSL_FN_DO_HANDSHAKE)
		a.start_ns = bpf_ktime_get_boot_ns();

	bpf_map_update_elem(&active_calls, &k, &a, BPF_ANY);
	return 0;
}

/* Entry of an NSPR I/O call on fd: recorded only when fd's top layer is not a plain NSPR file/socket (see above). */
static __always_inline int nspr_entry(struct pt_regs *ctx, __u64 fd, __u64 buf)
{
	int identity;

	if (bpf_probe_read_user(&identity, sizeof(identity), (const void *)(fd + PRFILEDESC_IDENTITY_OFF)) ||
	    identity == PR_NSPR_IO_LAYER)
		return 0;
	return call_entry(ctx, fd, buf, 0);
}

static long emit_frag_cb(__u32 i, void *data)
{
	struct emit_ctx *c = data;
	__u64 len = c->hdr.len;
	__u64 off = (__u64)i * SSL_FRAG_MAX;
	struct probe_stat *st;
	__u64 n;
	int err;

	if (off >= len)
		return 1;
	n = len - off;
	if (n > SSL_FRAG_MAX)
		n = SSL_FRAG_MAX;
	c->hdr.frag_offset = (__u32)off;
	c->hdr.frag_len = (__u32)n;
	err = emit_fragment(&c->hdr, sizeof(c->hdr), c->buf + off, n, SSL_FRAG_MAX);
	st = probe_stat_of(c->probe);
	if (err) {
		/* This and every later fragment of the call are lost. */
		__u64 frags = drop_fragments(len - off, SSL_FRAG_MAX);

		if (st)
			st->lost_records += frags;
		return 1;
	}
	if (st) {
		if (i == 0)
			st->records++;
		st->fragments++;
		st->bytes += n;
	}
	return 0;
}

/* Payload size of a finished call from its return value (and out-parameter), bytes; 0 when nothing was transferred
 * (error, EOF, retry codes). */
static __always_inline __u64 call_len(struct pt_regs *ctx, __u32 fn, __u64 outlen)
{
	if (fn == SSL_FN_WRITE_EX || fn == SSL_FN_READ_EX || fn == SSL_FN_WRITE_EX2 ||
	    fn == SSL_FN_WRITE_INTERNAL_FLAGS || fn == SSL_FN_WRITE_INTERNAL || fn == SSL_FN_READ_INTERNAL) {
		size_t out = 0;

		/* int SSL_{read,write}_ex(SSL*, void*, size_t, size_t *out), SSL_write_ex2 and ssl_{read,write}_internal
		 * (the out-parameter last): 1 on success. */
		if ((int)PT_REGS_RC(ctx) != 1 || !outlen ||
		    bpf_probe_read_user(&out, sizeof(out), (const void *)outlen))
			return 0;
		return out;
	}
	if (fn == SSL_FN_GNUTLS_SEND || fn == SSL_FN_GNUTLS_RECV) {
		/* ssize_t gnutls_record_{send,recv}: bytes, 0 at EOF, or a negative GNUTLS_E_* (AGAIN, INTERRUPTED, ...). */
		long ret = (long)PT_REGS_RC(ctx);

		return ret > 0 ? (__u64)ret : 0;
	}
	/* int SSL_{read,write} / PRInt32 PR_{Write,Read,Send,Recv}: bytes, or <= 0 on EOF, error or retry (-1 with
	 * WANT_READ / PR_WOULD_BLOCK_ERROR in non-blocking I/O). */
	int ret = (int)PT_REGS_RC(ctx);

	return ret > 0 ? (__u64)ret : 0;
}

/* Header of the records of a finished call of fn on connection ssl with len payload bytes (len > 0), for the current
 * thread: fills c->hdr's type, boot-clock time (ns), pid, tid, uid, ssl, len (bytes), fn and comm (the caller sets dir)
 * and returns 1. A call over SSL_CALL_MAX bytes is not emitted: its fragments are counted as lost records under probe
 * id c->probe, and it returns 0. */
static __always_inline int call_header(struct emit_ctx *c, __u32 fn, __u64 ssl, __u64 len)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (len > SSL_CALL_MAX) {
		struct probe_stat *st = probe_stat_of(c->probe);
		__u64 frags = drop_fragments(len, SSL_FRAG_MAX);

		if (st)
			st->lost_records += frags;
		return 0;
	}
	c->hdr.type = EVENT_SSL;
	c->hdr.ts_ns = bpf_ktime_get_boot_ns();
	c->hdr.pid = id >> 32;
	c->hdr.tid = (__u32)id;
	c->hdr.uid = (__u32)bpf_get_current_uid_gid();
	c->hdr.ssl = ssl;
	c->hdr.len = (__u32)len;
	c->hdr.fn = fn;
	bpf_get_current_comm(c->hdr.comm, sizeof(c->hdr.comm));
	return 1;
}

/* Emits the len payload bytes at user address buf of a finished call of fn on connection ssl (len > 0), counted
 * under probe id `probe`. */
static __always_inline int emit_call(__u32 fn, __u32 probe, __u64 ssl, __u64 buf, __u64 len)
{
	struct emit_ctx c = {};

	c.buf = buf;
	c.probe = probe;
	if (!call_header(&c, fn, ssl, len))
		return 0;
	c.hdr.dir = (fn == SSL_FN_WRITE || fn == SSL_FN_WRITE_EX || fn == SSL_FN_WRITE_EX2 ||
		     fn == SSL_FN_WRITE_INTERNAL_FLAGS || fn == SSL_FN_WRITE_INTERNAL || fn == SSL_FN_GNUTLS_SEND ||
		     fn == SSL_FN_NSPR_WRITE || fn == SSL_FN_NSPR_SEND || fn == SSL_FN_GO_WRITE)
			    ? SSL_DIR_WRITE
			    : SSL_DIR_READ;

	bpf_loop((len + SSL_FRAG_MAX - 1) / SSL_FRAG_MAX, emit_frag_cb, &c, 0);
	return 0;
}

static __always_inline int call_return(struct pt_regs *ctx, __u32 fn, __u32 probe)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = fn };
	struct call_args *a = bpf_map_lookup_elem(&active_calls, &k);
	__u64 ssl, buf, len;

	if (!a)
		return 0;
	ssl = a->ssl;
	buf = a->buf;
	len = call_len(ctx, fn, a->outlen);
	bpf_map_delete_elem(&active_calls, &k);
	if (len == 0)
		return 0;
	return emit_call(fn, probe, ssl, buf, len);
}

/* int SSL_write(SSL *ssl, const void *buf, int num), int SSL_read(SSL *ssl, void *buf, int num), ssize_t
 * gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size), ssize_t
 * gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size), and int SSL_do_handshake(SSL *ssl)
 * (OpenSSL by symbol, BoringSSL (Bun) located by anchors; its `buf` is never read). */
SEC("uprobe")
int BPF_KPROBE(probe_ssl_entry, void *ssl, const void *buf)
{
	return call_entry(ctx, (__u64)ssl, (__u64)buf, 0);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written),
 * int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes), and the copies of OpenSSL's
 * ssl_read_internal / 3.0-3.1 ssl_write_internal with the same arguments (located in static builds that inline them) */
SEC("uprobe")
int BPF_KPROBE(probe_ssl_ex_entry, void *ssl, const void *buf, size_t num, size_t *out)
{
	return call_entry(ctx, (__u64)ssl, (__u64)buf, (__u64)out);
}

/* int SSL_write_ex2(SSL *s, const void *buf, size_t num, uint64_t flags, size_t *written) (OpenSSL 3.2+), and
 * 3.2+'s ssl_write_internal(s, buf, num, flags, written): the out-parameter is the 5th argument (r8) */
SEC("uprobe")
int BPF_KPROBE(probe_ssl_ex2_entry, void *ssl, const void *buf, size_t num, __u64 flags, size_t *out)
{
	return call_entry(ctx, (__u64)ssl, (__u64)buf, (__u64)out);
}

/* PRInt32 PR_Write(PRFileDesc *fd, const void *buf, PRInt32 amount), PR_Read(PRFileDesc *fd, void *buf, PRInt32
 * amount), PR_Send / PR_Recv(PRFileDesc *fd, [const] void *buf, PRInt32 amount, PRIntn flags, PRIntervalTime timeout) */
SEC("uprobe")
int BPF_KPROBE(probe_nspr_entry, void *fd, const void *buf)
{
	return nspr_entry(ctx, (__u64)fd, (__u64)buf);
}

/* SSL_do_handshake returned: one struct as_ssl_hs_event (result, duration), counted under probe id `probe`. */
static __always_inline int handshake_return(struct pt_regs *ctx, __u32 probe)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = SSL_FN_DO_HANDSHAKE };
	struct call_args *a = bpf_map_lookup_elem(&active_calls, &k);
	struct probe_stat *st = probe_stat_of(probe);
	struct as_ssl_hs_event *e;
	__u64 now, ssl, start;

	if (!a)
		return 0;
	ssl = a->ssl;
	start = a->start_ns;
	bpf_map_delete_elem(&active_calls, &k);

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(1, 0);
		if (st)
			st->lost_records++;
		return 0;
	}
	now = bpf_ktime_get_boot_ns();
	e->type = EVENT_SSL_HANDSHAKE;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ts_ns = now;
	e->ssl = ssl;
	e->duration_ns = now - start;
	e->result = (int)PT_REGS_RC(ctx);
	e->probe = probe;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wakeup_flags());
	if (st) {
		st->records++;
		st->fragments++;
	}
	return 0;
}

/* Every uretprobe of the entries above: the function and the probe id from the cookie. */
SEC("uretprobe")
int BPF_KRETPROBE(retprobe_ssl)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 fn = SSL_COOKIE_FN(cookie);

	if (fn == SSL_FN_DO_HANDSHAKE)
		return handshake_return(ctx, SSL_COOKIE_PROBE(cookie));
	return call_return(ctx, fn, SSL_COOKIE_PROBE(cookie));
}

/* Go calls in progress, by goroutine: (tgid, g) -> (*tls.Conn, buf). */
struct go_call_key {
	__u64 g; /* the goroutine's runtime.g (R14 under the register ABI) */
	__u32 tgid;
	__u32 fn;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_call_key);
	__type(value, struct call_args);
} go_calls SEC(".maps");

/* Entry of crypto/tls.(*Conn).Write / Read (c *Conn, b []byte): RAX = c, RBX = b's data, RCX = len(b), R14 = g. A
 * stack growth in the prologue re-enters the function from its start: the same (g, fn) is simply written again. */
static __always_inline int go_entry(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;

	if (!pid_allowed(tgid, (__u32)bpf_get_current_uid_gid(), (struct task_struct *)bpf_get_current_task()))
		return 0;

	struct go_call_key k = { .g = ctx->r14, .tgid = tgid, .fn = SSL_COOKIE_FN(bpf_get_attach_cookie(ctx)) };
	struct call_args a = { .ssl = ctx->ax, .buf = ctx->bx };

	bpf_map_update_elem(&go_calls, &k, &a, BPF_ANY);
	return 0;
}

/* At a RET of the function: RAX = n (int), RBX:RCX = err; n > 0 bytes of b were written / read, even with an error. */
static __always_inline int go_return(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 fn = SSL_COOKIE_FN(cookie);
	struct go_call_key k = { .g = ctx->r14, .tgid = bpf_get_current_pid_tgid() >> 32, .fn = fn };
	struct call_args *a = bpf_map_lookup_elem(&go_calls, &k);
	long n = (long)ctx->ax;
	__u64 ssl, buf;

	if (!a)
		return 0;
	ssl = a->ssl;
	buf = a->buf;
	bpf_map_delete_elem(&go_calls, &k);
	if (n <= 0)
		return 0;
	return emit_call(fn, SSL_COOKIE_PROBE(cookie), ssl, buf, (__u64)n);
}

/* func (c *Conn) Write(b []byte) (int, error), func (c *Conn) Read(b []byte) (int, error) */
SEC("uprobe")
int probe_go_entry(struct pt_regs *ctx)
{
	return go_entry(ctx);
}

/* Attached at each RET of (*Conn).Write / Read (plain uprobes). */
SEC("uprobe")
int retprobe_go(struct pt_regs *ctx)
{
	return go_return(ctx);
}

/*
 * rustls 0.23 (located in stripped binaries by locate_rustls.c), `ssl` = the connection's &mut CommonState (rdi):
 *  - CommonState::buffer_plaintext(&mut self, payload: &OutboundChunks, ..) -> usize: the first `ret` bytes of the
 *    payload. OutboundChunks = {0, ptr, len} (Single) or {chunks.ptr, chunks.len, start, end} (Multiple, the bytes
 *    [start, end) of the concatenated &[&[u8]] slices); read at entry (the callee may reuse the by-reference copy).
 *  - CommonState::take_received_plaintext(&mut self, bytes: &Payload): Payload = {cap or niche, ptr, len}; returns
 *    nothing, so the length saved at entry is the call's payload.
 */
struct rustls_args {
	__u64 ssl;
	__u64 w[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct call_key);
	__type(value, struct rustls_args);
} rustls_calls SEC(".maps");

/* Maximum iterations of the Multiple emitter: chunks skipped + fragments emitted. */
#define RUSTLS_MAX_STEPS 4096

struct rustls_multi_ctx {
	__u64 chunks; /* user address of the &[u8] array (ptr, len pairs) */
	__u64 nchunks;
	__u64 idx;  /* current chunk */
	__u64 pos;  /* offset in the current chunk (first: bytes of `start` still to skip) */
	__u64 done; /* bytes emitted so far */
	__u32 probe;
	struct as_ssl_event hdr;
};

/* The Multiple emitter's state lives in a per-CPU map value, not on the stack: the verifier then sees its fields as
 * unknown scalars instead of walking every constant chunk index. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rustls_multi_ctx);
} rustls_multi SEC(".maps");

/* bpf_loop's context must be on the stack: it holds the map value's address. */
struct rustls_multi_ref {
	struct rustls_multi_ctx *c;
};

static long rustls_multi_cb(__u32 i, void *data)
{
	struct rustls_multi_ctx *c = ((struct rustls_multi_ref *)data)->c;
	__u64 pair[2], n, len = c->hdr.len;
	struct probe_stat *st;
	int err;

	if (c->done >= len || c->idx >= c->nchunks || c->idx >= RUSTLS_MAX_STEPS)
		return 1;
	if (bpf_probe_read_user(pair, sizeof(pair), (const void *)(c->chunks + c->idx * 16)))
		goto lost;
	if (c->pos >= pair[1]) {
		c->pos -= pair[1];
		c->idx++;
		return 0;
	}
	n = pair[1] - c->pos;
	if (n > len - c->done)
		n = len - c->done;
	if (n > SSL_FRAG_MAX)
		n = SSL_FRAG_MAX;
	c->hdr.frag_offset = (__u32)c->done;
	c->hdr.frag_len = (__u32)n;
	err = emit_fragment(&c->hdr, sizeof(c->hdr), pair[0] + c->pos, n, SSL_FRAG_MAX);
	if (err)
		goto lost;
	st = probe_stat_of(c->probe);
	if (st) {
		if (c->done == 0)
			st->records++;
		st->fragments++;
		st->bytes += n;
	}
	c->done += n;
	c->pos += n;
	return c->done >= len;
lost:
	st = probe_stat_of(c->probe);
	{
		__u64 frags = drop_fragments(len - c->done, SSL_FRAG_MAX);

		if (st)
			st->lost_records += frags;
	}
	return 1;
}

static __always_inline int rustls_entry(struct pt_regs *ctx, __u64 common, __u64 arg)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id };
	struct rustls_args a = { .ssl = common };

	if (!pid_allowed(id >> 32, (__u32)bpf_get_current_uid_gid(), (struct task_struct *)bpf_get_current_task()))
		return 0;
	k.fn = SSL_COOKIE_FN(bpf_get_attach_cookie(ctx));
	if (bpf_probe_read_user(a.w, sizeof(a.w), (const void *)arg))
		return 0;
	bpf_map_update_elem(&rustls_calls, &k, &a, BPF_ANY);
	return 0;
}

static __always_inline int rustls_return(struct pt_regs *ctx)
{
	__u64 cookie = bpf_get_attach_cookie(ctx);
	__u32 fn = SSL_COOKIE_FN(cookie);
	__u64 id = bpf_get_current_pid_tgid();
	struct call_key k = { .tid = (__u32)id, .fn = fn };
	struct rustls_args *ap = bpf_map_lookup_elem(&rustls_calls, &k);
	struct rustls_multi_ctx *m;
	__u32 zero = 0;
	struct emit_ctx c = {};
	struct rustls_args a;
	__u64 len, single = 0;

	if (!ap)
		return 0;
	a = *ap;
	bpf_map_delete_elem(&rustls_calls, &k);
	if (fn == SSL_FN_RUSTLS_READ) {
		len = a.w[2];
		single = a.w[1];
	} else {
		len = PT_REGS_RC(ctx);
		if (a.w[0] == 0) {
			single = a.w[1];
			if (len > a.w[2])
				len = a.w[2];
		} else if (a.w[3] >= a.w[2] && len > a.w[3] - a.w[2]) {
			len = a.w[3] - a.w[2];
		}
	}
	if (len == 0)
		return 0;
	c.probe = SSL_COOKIE_PROBE(cookie);
	if (!call_header(&c, fn, a.ssl, len))
		return 0;
	c.hdr.dir = fn == SSL_FN_RUSTLS_WRITE ? SSL_DIR_WRITE : SSL_DIR_READ;
	if (single) {
		c.buf = single;
		bpf_loop((len + SSL_FRAG_MAX - 1) / SSL_FRAG_MAX, emit_frag_cb, &c, 0);
		return 0;
	}
	m = bpf_map_lookup_elem(&rustls_multi, &zero);
	if (!m)
		return 0;
	m->chunks = a.w[0];
	m->nchunks = a.w[1];
	m->idx = 0;
	m->pos = a.w[2];
	m->done = 0;
	m->probe = c.probe;
	m->hdr = c.hdr;
	{
		struct rustls_multi_ref ref = { .c = m };

		bpf_loop(RUSTLS_MAX_STEPS, rustls_multi_cb, &ref, 0);
	}
	return 0;
}

/* CommonState::buffer_plaintext(&mut self, payload: &OutboundChunks, ..) and
 * CommonState::take_received_plaintext(&mut self, bytes: &Payload) (see above) */
SEC("uprobe")
int BPF_KPROBE(probe_rustls_entry, void *common, void *payload)
{
	return rustls_entry(ctx, (__u64)common, (__u64)payload);
}

SEC("uretprobe")
int BPF_KRETPROBE(retprobe_rustls)
{
	return rustls_return(ctx);
}

/*
 * Exec of a traced process: wake the producer at once (the exec record itself, from process.bpf.c, is submitted
 * without a wakeup), so attach-on-exec runs before the new program gets far. Attached after process.bpf.c's exec
 * program, so it runs after it on the same tracepoint.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_wakeup, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct as_wakeup_event e = { .type = EVENT_EXEC_WAKEUP, .pid = tgid };

	if (!pid_allowed(tgid, (__u32)bpf_get_current_uid_gid(), (struct task_struct *)bpf_get_current_task()))
		return 0;
	bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_FORCE_WAKEUP);
	return 0;
}

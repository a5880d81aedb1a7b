// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Process tracking: exec and exit records for processes that pass the filters, and descendant tracking of
 * traced_pids / excluded_pids on fork; file opens and connect() calls of those processes.
 *
 * Opens and connects are seen through the raw syscall-exit tracepoint (tp_btf/sys_exit): it needs neither tracefs
 * (the syscalls/sys_exit_openat tracepoints do) nor fentry/kprobes, which some kernels refuse or lack. At a syscall's
 * exit the saved user registers still hold its arguments (only the return register changed), so one program sees
 * the arguments and the result of open/openat/openat2/creat/connect. It runs on every syscall exit of the system (a
 * syscall-number check first) and puts syscalls on the kernel's slower traced path, so the producer does not load it
 * at all under --no-file-events --no-net-events --no-stdio.
 *
 * The same program records the bytes of read/write/readv/writev on fds 0, 1 and 2 (stdio: local MCP servers speak
 * JSON-RPC there): at the exit of a read the buffer holds what was read, at the exit of a write it still holds
 * what was written, and the iovec array of readv/writev is still in user memory.
 */
#include "common.bpf.h"
#include "proc_event.h"
#include "hold_event.h"

#define SIGNAL_GROUP_EXIT_ 0x00000004
#define AF_UNIX_ 1
#define AF_INET_ 2
#define AF_INET6_ 10

/* Syscall numbers (x86-64 / arm64 native ABIs); -1000: the syscall does not exist on the architecture (not -1,
 * the number a syscall skipped by seccomp/ptrace exits with). */
#if defined(__TARGET_ARCH_x86)
#define NR_OPEN 2
#define NR_CREAT 85
#define NR_OPENAT 257
#define NR_OPENAT2 437
#define NR_CONNECT 42
#define NR_READ 0
#define NR_WRITE 1
#define NR_READV 19
#define NR_WRITEV 20
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_OPEN -1000
#define NR_CREAT -1000
#define NR_OPENAT 56
#define NR_OPENAT2 437
#define NR_CONNECT 203
#define NR_READ 63
#define NR_WRITE 64
#define NR_READV 65
#define NR_WRITEV 66
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "file/net events: syscall numbers of this architecture are not defined"
#endif
#define O_WRONLY_ 01
#define O_CREAT_ 0100
#define O_TRUNC_ 01000
#define S_IFMT_ 0170000
#define S_IFIFO_ 0010000
#define S_IFCHR_ 0020000
#define S_IFREG_ 0100000
#define S_IFSOCK_ 0140000
#define IOV_MAX_ 1024

/* Set by the producer before load: which syscalls to record, and also opens of /proc, /sys, /dev (--all-files). */
const volatile bool file_events = false;
const volatile bool net_events = false;
const volatile bool all_files = false;
const volatile bool stdio_events = false;

/* Buffer of one file-open record: header (struct as_file_event) + the largest path. */
struct file_event_buf {
	__u8 bytes[sizeof(struct as_file_event) + FILE_PATH_MAX];
};

/* Per-CPU scratch where a file-open record is built before it is copied to the ring buffer at its used size. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct file_event_buf);
} file_scratch SEC(".maps");

/* Per-CPU counters of events deliberately not emitted, indexed by enum io_skip_idx. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SKIP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} io_skips SEC(".maps");

/* --follow-exec: offer every exec of an untraced process to the producer (requires filter_pids). */
const volatile bool follow_exec = false;
/* Uprobes are attached per traced process (the producer's --pid mode): fork records, holds at TLS files (hold.bpf.h). */
const volatile bool per_pid_attach = false;
const volatile bool hold_new = false; /* SIGSTOP new code until the producer attached it (--hold-ms > 0; hold.bpf.h) */
#define SIGSTOP_ 19
#define SIGCONT_ 18

/* Per-process attachment: processes that have uprobes of their own (written by the producer). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} probed_pids SEC(".maps");

/*
 * Per-process attachment: forked children (own memory) of a probed process, or of such a child, that have not yet
 * run on past the spawn sequence (hold.bpf.h fork_ran_on): they get no probes until they do, and none at all when
 * they exec first. nr_fork_pending counts the entries, so the syscall-exit hook looks the map up only while some exist.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} fork_pending SEC(".maps");
__s64 nr_fork_pending = 0;

/* Forgets tgid in fork_pending (it executed a new image or exited). */
static __always_inline void fork_pending_clear(__u32 tgid)
{
	if (per_pid_attach && nr_fork_pending > 0 && bpf_map_delete_elem(&fork_pending, &tgid) == 0)
		__sync_fetch_and_add(&nr_fork_pending, -1);
}

static __always_inline __u8 hold_exec(struct linux_binprm *bprm); /* hold.bpf.h */

/* A process forked: a child of a traced (excluded) process is traced (excluded) too. Threads are skipped. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = parent->tgid;
	__u32 ctgid = child->tgid;
	__u8 one = 1;

	if (child->pid != child->tgid)
		return 0;
	if (bpf_map_lookup_elem(&excluded_pids, &ptgid))
		bpf_map_update_elem(&excluded_pids, &ctgid, &one, BPF_ANY);
	if (filter_pids) {
		__u8 *v = bpf_map_lookup_elem(&traced_pids, &ptgid);

		if (v) /* traced (1) or, under --follow-exec, still awaiting the producer's verdict (2) */
			bpf_map_update_elem(&traced_pids, &ctgid, v, BPF_ANY);
		/*
		 * A child with its own copy of the parent's memory (a child sharing it, vfork or CLONE_VM, is covered by
		 * the parent's probes already) gets the parent's probes only once it runs on past the spawn sequence
		 * (hold.bpf.h fork_ran_on); a child that execs first (a tool spawned) never needs them.
		 */
		if (v && per_pid_attach && child->mm != parent->mm &&
		    (bpf_map_lookup_elem(&probed_pids, &ptgid) ||
		     (nr_fork_pending > 0 && bpf_map_lookup_elem(&fork_pending, &ptgid))) &&
		    bpf_map_update_elem(&fork_pending, &ctgid, &one, BPF_NOEXIST) == 0)
			__sync_fetch_and_add(&nr_fork_pending, 1);
	}
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct as_proc_event *e;
	__u64 start, end, len;
	__u8 offer = 0;

	/*
	 * --follow-exec: a process that is not traced (or only provisionally, forked before a verdict) is traced
	 * provisionally from its exec on; the producer offers it to its controller, then traces it for good or drops it.
	 */
	if (follow_exec && !bpf_map_lookup_elem(&excluded_pids, &tgid)) {
		__u8 *v = bpf_map_lookup_elem(&traced_pids, &tgid);
		__u8 two = TRACED_PROVISIONAL;

		if (!v || *v == TRACED_PROVISIONAL) {
			bpf_map_update_elem(&traced_pids, &tgid, &two, BPF_ANY);
			offer = 1;
		}
	}
	fork_pending_clear(tgid); /* a new image: the parent's probes are not needed */
	if (!offer && !pid_allowed(tgid, uid, p))
		return 0;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(1, 0);
		return 0;
	}
	e->type = EVENT_EXEC;
	e->pid = tgid;
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->uid = uid;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->duration_ns = 0;
	e->exit_code = 0;
	e->argv_truncated = 0;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	e->provisional = offer;
	e->held = hold_exec(bprm); /* a new executable: stopped until the producer attached it */
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename)) < 0)
		e->filename[0] = 0;

	start = BPF_CORE_READ(p, mm, arg_start);
	end = BPF_CORE_READ(p, mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > PROC_ARGS_MAX) {
		len = PROC_ARGS_MAX;
		e->argv_truncated = 1;
	}
	barrier_var(len);
	if (len > PROC_ARGS_MAX)
		len = PROC_ARGS_MAX;
	if (len && bpf_probe_read_user(e->args, len, (const void *)start)) {
		len = 0;
		e->argv_truncated = 1;
	}
	e->args_len = (__u32)len;
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/* A task exited: when it was the last thread of its process, emit the process' exit. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 tgid = p->tgid;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct as_proc_event *e;
	int code;
	bool allowed;

	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0; /* other threads of the process still run */
	allowed = pid_allowed(tgid, uid, p);
	if (allowed) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (!e) {
			count_drop(1, 0);
		} else {
			if (BPF_CORE_READ(p, signal, flags) & SIGNAL_GROUP_EXIT_)
				code = BPF_CORE_READ(p, signal, group_exit_code);
			else
				code = p->exit_code;
			e->type = EVENT_EXIT;
			e->pid = tgid;
			e->ppid = BPF_CORE_READ(p, real_parent, tgid);
			e->uid = uid;
			e->ts_ns = bpf_ktime_get_boot_ns();
			e->duration_ns = e->ts_ns - BPF_CORE_READ(p, group_leader, start_boottime);
			e->exit_code = (code & 0x7f) ? 128 + (code & 0x7f) : (code >> 8) & 0xff;
			e->args_len = 0;
			e->argv_truncated = 0;
			__builtin_memset(e->_pad, 0, sizeof(e->_pad));
			e->provisional = 0;
			e->held = 0;
			BPF_CORE_READ_STR_INTO(&e->comm, p, group_leader, comm);
			e->filename[0] = 0;
			bpf_ringbuf_submit(e, wakeup_flags());
		}
	}
	bpf_map_delete_elem(&traced_pids, &tgid);
	bpf_map_delete_elem(&excluded_pids, &tgid);
	if (per_pid_attach)
		bpf_map_delete_elem(&probed_pids, &tgid);
	fork_pending_clear(tgid);
	return 0;
}

/* True when the current task makes a 32-bit compat syscall (whose numbers differ from the native ones). */
static __always_inline bool compat_syscall(struct task_struct *task)
{
#if defined(__TARGET_ARCH_x86)
	return BPF_CORE_READ(task, thread_info.status) & 0x0002; /* TS_COMPAT */
#else
	return BPF_CORE_READ(task, thread_info.flags) & (1ul << 22); /* arm64 TIF_32BIT */
#endif
}

/* True if p (NUL-terminated) is /proc, /sys or /dev or a path below them. */
static __always_inline bool pseudo_fs_path(const char *p)
{
	if (p[0] != '/')
		return false;
	if (p[1] == 'p' && p[2] == 'r' && p[3] == 'o' && p[4] == 'c')
		return p[5] == '/' || p[5] == 0;
	if ((p[1] == 's' && p[2] == 'y' && p[3] == 's') || (p[1] == 'd' && p[2] == 'e' && p[3] == 'v'))
		return p[4] == '/' || p[4] == 0;
	return false;
}

/* The leading fields of a file / network / stdio record (type) of the current thread, of process task. */
static __always_inline void fill_io_task(struct as_io_task *t, __u32 type, __u64 id, struct task_struct *task)
{
	t->type = type;
	t->pid = id >> 32;
	t->tid = (__u32)id;
	t->uid = (__u32)bpf_get_current_uid_gid();
	t->ppid = BPF_CORE_READ(task, real_parent, tgid);
}

#include "hold.bpf.h"

/* Emits the record of an open of filename (user pointer) that returned ret (fd or -errno). */
static __always_inline void emit_file_open(const char *filename, __u64 flags, __u32 mode, __u64 id,
					   struct task_struct *task, int ret)
{
	struct file_event_buf *buf;
	struct as_file_event *e;
	char *path, last = 0;
	__u32 zero = 0, size;
	long n;

	buf = bpf_map_lookup_elem(&file_scratch, &zero);
	if (!buf)
		return;
	e = (struct as_file_event *)buf->bytes;
	path = (char *)buf->bytes + sizeof(*e);
	n = bpf_probe_read_user_str(path, FILE_PATH_MAX, filename);
	if (n <= 0) {
		n = 0; /* unreadable path (the open then failed with EFAULT) */
		path[0] = 0;
	} else {
		n--; /* without the NUL */
	}
	e->path_truncated = 0;
	/* A full buffer: the path was cut unless its last copied byte was the real end. */
	if (n == FILE_PATH_MAX - 1 && !bpf_probe_read_user(&last, 1, filename + FILE_PATH_MAX - 1) && last)
		e->path_truncated = 1;
	if (!all_files && pseudo_fs_path(path)) {
		__u32 k = SKIP_FILE_PSEUDO;
		__u64 *v = bpf_map_lookup_elem(&io_skips, &k);

		if (v)
			*v += 1;
		return;
	}
	fill_io_task(&e->task, EVENT_FILE_OPEN, id, task);
	e->result = ret;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->flags = flags;
	e->mode = mode;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	size = sizeof(*e) + (__u32)n;
	barrier_var(size);
	if (size > sizeof(*buf))
		return;
	e->path_len = (__u16)(size - sizeof(*e));
	if (bpf_ringbuf_output(&events, buf, size, wakeup_flags()))
		count_drop(1, 0);
}

/* Emits the record of a connect to uaddr (user pointer, addrlen bytes) that returned ret; AF_INET, AF_INET6 and
 * AF_UNIX targets only. */
static __always_inline void emit_net_connect(const void *uaddr, int addrlen, __u64 id, struct task_struct *task,
					     int ret)
{
	struct as_net_event *e;
	__u16 family = 0;
	__u64 len; /* 64-bit: a 32-bit copy would be bounds-checked in another register than the one passed */

	if (addrlen < (int)sizeof(family) || bpf_probe_read_user(&family, sizeof(family), uaddr))
		return;
	if (family != AF_INET_ && family != AF_INET6_ && family != AF_UNIX_)
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(1, 0);
		return;
	}
	len = (__u32)addrlen;
	if (len > NET_ADDR_MAX)
		len = NET_ADDR_MAX;
	barrier_var(len);
	if (len > NET_ADDR_MAX)
		len = NET_ADDR_MAX;
	__builtin_memset(e->addr, 0, sizeof(e->addr));
	if (bpf_probe_read_user(e->addr, len, uaddr))
		len = 0;
	fill_io_task(&e->task, EVENT_NET_CONNECT, id, task);
	e->result = ret;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->addr_len = (__u32)len;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* State of one stdio call while its fragments are emitted (bpf_loop). The bytes are walked segment by segment: one
 * segment for read/write, the iovecs in order for readv/writev. */
struct stdio_ctx {
	__u64 seg;                 /* user address of the rest of the current segment */
	__u64 seg_left;            /* bytes left in the current segment */
	__u64 iov;                 /* user address of the next struct iovec (readv/writev), 0 for read/write */
	__u64 iov_left;            /* iovecs not yet visited */
	__u64 off;                 /* bytes of the call already emitted */
	__u64 len;                 /* the call's byte count (return value) */
	struct as_stdio_event hdr; /* header of every fragment record; frag_offset / frag_len set per fragment */
};

/* Per-CPU home of the stdio_ctx of the call being emitted: a map value, not the stack, so the verifier does not track
 * its changing offsets precisely and the bpf_loop callback converges (a stack context made it explore > 1M insns). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stdio_ctx);
} stdio_scratch SEC(".maps");

/* What bpf_loop hands the callback (must live on the stack): the map value. */
struct stdio_loop {
	struct stdio_ctx *c;
};

static long stdio_frag_cb(__u32 i, void *data)
{
	struct stdio_ctx *c = ((struct stdio_loop *)data)->c;
	__u64 n;
	int err;

	if (c->off >= c->len)
		return 1;
	if (c->seg_left == 0) { /* next iovec (readv/writev); one loop iteration */
		struct iovec v = {};

		if (!c->iov || !c->iov_left || bpf_probe_read_user(&v, sizeof(v), (const void *)c->iov))
			goto lost;
		c->seg = (__u64)v.iov_base;
		c->seg_left = v.iov_len;
		c->iov += sizeof(v);
		c->iov_left--;
		return 0;
	}
	n = c->len - c->off;
	if (n > c->seg_left)
		n = c->seg_left;
	if (n > STDIO_FRAG_MAX)
		n = STDIO_FRAG_MAX;
	c->hdr.frag_offset = (__u32)c->off;
	c->hdr.frag_len = (__u32)n;
	err = emit_fragment(&c->hdr, sizeof(c->hdr), c->seg, n, STDIO_FRAG_MAX);
	if (err)
		goto lost;
	c->off += n;
	c->seg += n;
	c->seg_left -= n;
	return 0;
lost:
	/* This and every later fragment of the call are lost. */
	drop_fragments(c->len - c->off, STDIO_FRAG_MAX);
	c->off = c->len;
	return 1;
}

/* Channel identity of `fd` of task: inode (and its superblock's dev) of the file; for an AF_UNIX socket the smaller
 * of its and its peer's inode, so both ends of a socketpair agree (both ends of a pipe share one inode anyway). */
static __always_inline void stdio_channel(struct task_struct *task, __u32 fd, struct stdio_ctx *c)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	struct file *f = NULL;
	struct inode *inode;
	__u32 mode;

	c->hdr.ftype = STDIO_FT_OTHER;
	if (!fds || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]) || !f)
		return;
	inode = BPF_CORE_READ(f, f_inode);
	mode = BPF_CORE_READ(inode, i_mode) & S_IFMT_;
	c->hdr.ino = BPF_CORE_READ(inode, i_ino);
	c->hdr.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	if (mode == S_IFIFO_) {
		c->hdr.ftype = STDIO_FT_FIFO;
	} else if (mode == S_IFCHR_) {
		c->hdr.ftype = STDIO_FT_CHR;
	} else if (mode == S_IFREG_) {
		c->hdr.ftype = STDIO_FT_REG;
	} else if (mode == S_IFSOCK_) {
		struct socket *sock = BPF_CORE_READ(f, private_data);
		struct sock *sk = BPF_CORE_READ(sock, sk);
		__u64 peer_ino;

		c->hdr.ftype = STDIO_FT_SOCK;
		if (sk && BPF_CORE_READ(sk, __sk_common.skc_family) == AF_UNIX_) {
			peer_ino = BPF_CORE_READ((struct unix_sock *)sk, peer, sk_socket, file, f_inode, i_ino);
			if (peer_ino && peer_ino < c->hdr.ino)
				c->hdr.ino = peer_ino;
		}
	}
}

/* Emits the bytes of a stdio call (fd 0-2) that returned ret > 0: buf for read/write, iov[iovcnt] for readv/writev. */
static __always_inline void emit_stdio(struct pt_regs *regs, long nr, long ret, __u32 fd, __u64 id,
				       struct task_struct *task)
{
	struct stdio_loop loop;
	struct stdio_ctx *cp;
	__u32 zero = 0;
	__u64 loops;

	if ((__u64)ret > STDIO_CALL_MAX) {
		drop_fragments(ret, STDIO_FRAG_MAX);
		return;
	}
	cp = bpf_map_lookup_elem(&stdio_scratch, &zero);
	if (!cp)
		return;
	loop.c = cp;
#define c (*cp)
	__builtin_memset(cp, 0, sizeof(*cp));
	c.len = (__u64)ret;
	fill_io_task(&c.hdr.task, EVENT_STDIO, id, task);
	c.hdr.ts_ns = bpf_ktime_get_boot_ns();
	c.hdr.fd = fd;
	c.hdr.len = (__u32)ret;
	c.hdr.dir = (nr == NR_WRITE || nr == NR_WRITEV) ? 0 : 1;
	bpf_get_current_comm(c.hdr.comm, sizeof(c.hdr.comm));
	stdio_channel(task, fd, cp);
	loops = (c.len + STDIO_FRAG_MAX - 1) / STDIO_FRAG_MAX + 1;
	if (nr == NR_READ || nr == NR_WRITE) {
		c.seg = PT_REGS_PARM2_CORE_SYSCALL(regs);
		c.seg_left = c.len;
	} else {
		c.iov = PT_REGS_PARM2_CORE_SYSCALL(regs);
		c.iov_left = PT_REGS_PARM3_CORE_SYSCALL(regs);
		if (c.iov_left > IOV_MAX_)
			c.iov_left = IOV_MAX_;
		loops += 2 *
			 c.iov_left; /* one iteration per iovec, and at most one extra fragment at each iovec's end */
	}
#undef c
	bpf_loop(loops, stdio_frag_cb, &loop, 0);
}

/* A syscall returns: emit the record of a traced thread's open, connect or stdio call, with its arguments and result. */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
	bool open_call = nr == NR_OPENAT || nr == NR_OPENAT2 || nr == NR_OPEN || nr == NR_CREAT;
	bool stdio_call = nr == NR_READ || nr == NR_WRITE || nr == NR_READV || nr == NR_WRITEV;
	struct task_struct *task;
	__u32 fd = 0;
	__u64 id;

	if (per_pid_attach && nr_fork_pending > 0)
		fork_ran_on(nr);
	if (hold_sys_exit(regs, nr, ret))
		return 0;
	if (stdio_call) {
		if (!stdio_events || ret <= 0)
			return 0;
		fd = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
		if (fd > 2)
			return 0;
	} else if (!(open_call && file_events) && !(nr == NR_CONNECT && net_events)) {
		return 0;
	}
	id = bpf_get_current_pid_tgid();
	task = bpf_get_current_task_btf();
	if (compat_syscall(task) || !pid_allowed(id >> 32, (__u32)bpf_get_current_uid_gid(), task))
		return 0;

	if (stdio_call) { /* read/write(fd, buf, count), readv/writev(fd, iov, iovcnt) */
		emit_stdio(regs, nr, ret, fd, id, task);
	} else if (nr == NR_OPENAT) { /* openat(dfd, filename, flags, mode) */
		emit_file_open((const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs),
			       (__u32)PT_REGS_PARM4_CORE_SYSCALL(regs), id, task, (int)ret);
	} else if (nr == NR_OPENAT2) { /* openat2(dfd, filename, struct open_how *how, size) */
		struct open_how how = {};

		bpf_probe_read_user(&how, sizeof(how), (void *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		emit_file_open((const char *)PT_REGS_PARM2_CORE_SYSCALL(regs), how.flags, (__u32)how.mode, id, task,
			       (int)ret);
	} else if (nr == NR_OPEN) { /* open(filename, flags, mode) */
		emit_file_open((const char *)PT_REGS_PARM1_CORE_SYSCALL(regs), (__u32)PT_REGS_PARM2_CORE_SYSCALL(regs),
			       (__u32)PT_REGS_PARM3_CORE_SYSCALL(regs), id, task, (int)ret);
	} else if (nr == NR_CREAT) { /* creat(filename, mode) */
		emit_file_open((const char *)PT_REGS_PARM1_CORE_SYSCALL(regs), O_WRONLY_ | O_CREAT_ | O_TRUNC_,
			       (__u32)PT_REGS_PARM2_CORE_SYSCALL(regs), id, task, (int)ret);
	} else { /* connect(fd, addr, addrlen) */
		emit_net_connect((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), (int)PT_REGS_PARM3_CORE_SYSCALL(regs),
				 id, task, (int)ret);
	}
	return 0;
}

/* ---- network bytes per traced process (struct net_bytes; autoloaded only when the kernel's BTF has the tracepoints) ---- */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, NET_PIDS_MAX);
	__type(key, __u32);
	__type(value, struct net_bytes);
} net_bytes SEC(".maps");

#define MSG_PEEK_ 2

/* v's anc_pid/anc_start_ns: the nearest NET_ANCESTORS ancestors of task (see struct net_bytes), stopping at pid 1. */
static __always_inline void note_ancestors(struct net_bytes *v, struct task_struct *task)
{
	struct task_struct *t = BPF_CORE_READ(task, group_leader, real_parent);
	int i;

	for (i = 0; i < NET_ANCESTORS && t; i++) {
		__u32 pid = BPF_CORE_READ(t, tgid);

		if (pid <= 1)
			break;
		v->anc_pid[i] = pid;
		v->anc_start_ns[i] = BPF_CORE_READ(t, group_leader, start_boottime);
		t = BPF_CORE_READ(t, group_leader, real_parent);
	}
}

static __always_inline void count_net(__u16 family, int ret, int flags, bool send)
{
	struct net_bytes *v, zero = {};
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct task_struct *task;

	if (ret <= 0 || (family != 2 && family != 10) || (flags & MSG_PEEK_))
		return;
	task = bpf_get_current_task_btf();
	if (!pid_allowed(tgid, (__u32)bpf_get_current_uid_gid(), task))
		return;
	zero.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	v = bpf_map_lookup_elem(&net_bytes, &tgid);
	if (!v || v->start_ns != zero.start_ns) {
		/* First count of this process: a new entry, or the entry of an exited process whose pid it reuses. */
		note_ancestors(&zero, task);
		bpf_map_update_elem(&net_bytes, &tgid, &zero, v ? BPF_EXIST : BPF_NOEXIST);
		v = bpf_map_lookup_elem(&net_bytes, &tgid);
		if (!v)
			return;
	}
	__sync_fetch_and_add(send ? &v->sent : &v->recv, (__u64)ret);
}

/* BTF-enabled tracepoints (tp_btf): unlike tp/sock/..., they need no tracefs mount, only the kernel's BTF. */
SEC("tp_btf/sock_send_length")
int BPF_PROG(handle_sock_send, struct sock *sk, int ret, int flags)
{
	count_net(sk->__sk_common.skc_family, ret, flags, true);
	return 0;
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(handle_sock_recv, struct sock *sk, int ret, int flags)
{
	count_net(sk->__sk_common.skc_family, ret, flags, false);
	return 0;
}

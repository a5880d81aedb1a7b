/* SPDX-License-Identifier: GPL-2.0 OR Apache-2.0 */
/*
 * Attach holds and TLS notices (included by process.bpf.c; layouts in hold_event.h):
 *
 * - Hold new code until it is attached. At the exec of a traced process whose executable's inode the producer has
 *   not checked yet (map `checked_inodes`, filled by the producer after each check), and at the return of an mmap
 *   with PROT_EXEC (or an mprotect adding PROT_EXEC) of such a file, the process is sent SIGSTOP
 *   (bpf_send_signal: the whole thread group stops on its way back to user mode, before the new code runs). The
 *   producer reads the record (exec: its exec record with `held`; mapping: EVENT_MAP_EXEC), checks and attaches the
 *   file, and sends SIGCONT; a watchdog in the producer sends it anyway when the bound passes (a counted miss).
 *   Files already checked cost one hash lookup and are never held, except, with per-process attachment
 *   (`per_pid_attach`), files with TLS functions (INODE_TLS): their probes are attached for each traced process that
 *   executes or maps them, before it runs on.
 * - ClientHello detection. connect() of an inet socket by a traced process remembers (tgid, fd) in `fresh_socks`
 *   (LRU); the first write/writev/sendto/sendmsg on it is checked for a TLS record header + ClientHello
 *   (16 03 0x ?? ?? 01); if so an EVENT_TLS_HELLO record says where to, with up to HELLO_BYTES_MAX bytes of it (the
 *   producer reads the SNI) and whether the thread was inside a probed TLS function (`active_calls`, shared with
 *   sslsniff.bpf.c): a hello written outside any probed call is TLS the probes may not see.
 */
#ifndef AGENTSIGHT_HOLD_BPF_H
#define AGENTSIGHT_HOLD_BPF_H

#include "hold_event.h"
#include "ssl_event.h"

/*
 * Syscall numbers (x86-64 / arm64 native ABIs). SP_*: the spawn sequence (spawn_syscall); a negative value: the
 * syscall does not exist on the architecture (each a distinct number, never a syscall's).
 */
#if defined(__TARGET_ARCH_x86)
#define NR_MMAP 9
#define NR_MPROTECT 10
#define NR_SENDTO 44
#define NR_SENDMSG 46
#define SP_WRITE 1
#define SP_OPEN 2
#define SP_OPENAT 257
#define SP_GETDENTS64 217
#define SP_CLOSE 3
#define SP_PIPE 22
#define SP_RT_SIGACTION 13
#define SP_RT_SIGPROCMASK 14
#define SP_IOCTL 16
#define SP_DUP 32
#define SP_DUP2 33
#define SP_GETPID 39
#define SP_CLONE 56
#define SP_FORK 57
#define SP_VFORK 58
#define SP_EXECVE 59
#define SP_FCNTL 72
#define SP_CHDIR 80
#define SP_FCHDIR 81
#define SP_UMASK 95
#define SP_SETUID 105
#define SP_SETGID 106
#define SP_SETPGID 109
#define SP_GETPPID 110
#define SP_SETSID 112
#define SP_SETREUID 113
#define SP_SETREGID 114
#define SP_SETGROUPS 116
#define SP_SETRESUID 117
#define SP_SETRESGID 119
#define SP_SIGALTSTACK 131
#define SP_PRCTL 157
#define SP_SETRLIMIT 160
#define SP_GETTID 186
#define SP_SET_ROBUST_LIST 273
#define SP_DUP3 292
#define SP_PIPE2 293
#define SP_PRLIMIT64 302
#define SP_EXECVEAT 322
#define SP_CLONE3 435
#define SP_CLOSE_RANGE 436
#elif defined(__TARGET_ARCH_arm64)
#define NR_MMAP 222
#define NR_MPROTECT 226
#define NR_SENDTO 206
#define NR_SENDMSG 211
#define SP_WRITE 64
#define SP_OPEN -1005
#define SP_OPENAT 56
#define SP_GETDENTS64 61
#define SP_CLOSE 57
#define SP_PIPE -1001
#define SP_RT_SIGACTION 134
#define SP_RT_SIGPROCMASK 135
#define SP_IOCTL 29
#define SP_DUP 23
#define SP_DUP2 -1002
#define SP_GETPID 172
#define SP_CLONE 220
#define SP_FORK -1003
#define SP_VFORK -1004
#define SP_EXECVE 221
#define SP_FCNTL 25
#define SP_CHDIR 49
#define SP_FCHDIR 50
#define SP_UMASK 166
#define SP_SETUID 146
#define SP_SETGID 144
#define SP_SETPGID 154
#define SP_GETPPID 173
#define SP_SETSID 157
#define SP_SETREUID 145
#define SP_SETREGID 143
#define SP_SETGROUPS 159
#define SP_SETRESUID 147
#define SP_SETRESGID 149
#define SP_SIGALTSTACK 132
#define SP_PRCTL 167
#define SP_SETRLIMIT 164
#define SP_GETTID 178
#define SP_SET_ROBUST_LIST 99
#define SP_DUP3 24
#define SP_PIPE2 59
#define SP_PRLIMIT64 261
#define SP_EXECVEAT 281
#define SP_CLONE3 435
#define SP_CLOSE_RANGE 436
#endif

/*
 * The spawn sequence: what a forked child does between fork and exec (libuv's uv_spawn child, CPython's
 * _posixsubprocess, glibc's fork and execvp): its own return from clone, glibc's set_robust_list, atfork handlers
 * (libuv re-creates its signal pipe and writes a byte to it), fd set-up (stdio 'ignore' opens /dev/null; a close of
 * every fd may list /proc/self/fd), signal reset, ids, session, cwd, limits,
 * then execve (a failed one, execvp trying PATH, too; on failure the errno written to the parent's pipe). Any other
 * syscall means it runs on in the parent's code. (A write is no TLS call: a TLS call writing is already past its
 * entry probe.)
 */
static __always_inline bool spawn_syscall(long nr)
{
	switch (nr) {
	case SP_WRITE:
	case SP_OPEN:
	case SP_OPENAT:
	case SP_GETDENTS64:
	case SP_CLOSE:
	case SP_PIPE:
	case SP_RT_SIGACTION:
	case SP_RT_SIGPROCMASK:
	case SP_IOCTL:
	case SP_DUP:
	case SP_DUP2:
	case SP_GETPID:
	case SP_CLONE:
	case SP_FORK:
	case SP_VFORK:
	case SP_EXECVE:
	case SP_FCNTL:
	case SP_CHDIR:
	case SP_FCHDIR:
	case SP_UMASK:
	case SP_SETUID:
	case SP_SETGID:
	case SP_SETPGID:
	case SP_GETPPID:
	case SP_SETSID:
	case SP_SETREUID:
	case SP_SETREGID:
	case SP_SETGROUPS:
	case SP_SETRESUID:
	case SP_SETRESGID:
	case SP_SIGALTSTACK:
	case SP_PRCTL:
	case SP_SETRLIMIT:
	case SP_GETTID:
	case SP_SET_ROBUST_LIST:
	case SP_DUP3:
	case SP_PIPE2:
	case SP_PRLIMIT64:
	case SP_EXECVEAT:
	case SP_CLONE3:
	case SP_CLOSE_RANGE:
		return true;
	}
	return false;
}
#define PROT_EXEC_ 4
#define MAP_ANONYMOUS_ 0x20
#define EINPROGRESS_ 115

/* Set by the producer before load. */
const volatile bool map_events = false;   /* EVENT_MAP_EXEC records */
const volatile bool hello_events = false; /* EVENT_TLS_HELLO records */

/* Inodes the producer has checked for TLS functions (whatever the answer): never held, no map record. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct inode_key);
	__type(value, __u8);
} checked_inodes SEC(".maps");

struct sock_key {
	__u32 tgid;
	__u32 fd;
};

struct sock_dest {
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

/* Inet sockets connect()ed by traced processes whose first write has not been seen yet. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct sock_key);
	__type(value, struct sock_dest);
} fresh_socks SEC(".maps");

/* sslsniff.bpf.c's map of TLS calls in progress, keyed by (tid, fn) (its struct call_key): the producer makes this
 * the same map (bpf_map__reuse_fd), so its value size here does not matter; only presence is tested. */
struct hold_call_key {
	__u32 tid;
	__u32 fn;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct hold_call_key);
	__type(value, __u64);
} active_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct as_hello_event);
} hello_scratch SEC(".maps");

/*
 * True when the producer must see inode (key filled into *k) before the process runs its code: not checked yet, or,
 * with per-process attachment, a file with TLS functions whose probes are attached per process (INODE_TLS).
 */
static __always_inline bool inode_unchecked(struct inode *inode, struct inode_key *k)
{
	__u8 *v;

	k->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	k->ino = BPF_CORE_READ(inode, i_ino);
	v = bpf_map_lookup_elem(&checked_inodes, k);
	return !v || (per_pid_attach && *v == INODE_TLS);
}

/*
 * Per-process attachment: the current process, forked by a probed process (fork_pending, process.bpf.c), returns from
 * syscall nr. Outside the spawn sequence it runs on in the parent's image, which maps the parent's TLS files: it is
 * stopped now, before it returns to user mode (with holds), and an EVENT_FORK record asks the producer for the
 * probes of what it maps; the producer attaches them and continues it. A child that execs first (a spawned tool)
 * never gets that record: its exec clears it from fork_pending, and its new image is handled like any exec.
 */
static __always_inline void fork_ran_on(long nr)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct as_fork_event e = { .type = EVENT_FORK, .pid = tgid };
	struct task_struct *task;

	if (spawn_syscall(nr) || bpf_map_delete_elem(&fork_pending, &tgid))
		return;
	__sync_fetch_and_add(&nr_fork_pending, -1);
	task = bpf_get_current_task_btf();
	e.ppid = BPF_CORE_READ(task, real_parent, tgid);
	e.held = hold_new && bpf_send_signal(SIGSTOP_) == 0;
	if (bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_FORCE_WAKEUP)) {
		count_drop(1, 0);
		if (e.held)
			bpf_send_signal(SIGCONT_); /* discards the pending stop: the child runs on, unprobed */
	}
}

/* Exec of a traced process (current): stop it when its executable is new to the producer. 1 when held. */
static __always_inline __u8 hold_exec(struct linux_binprm *bprm)
{
	struct inode *inode = BPF_CORE_READ(bprm, file, f_inode);
	struct inode_key k;

	if (!hold_new || !inode || !inode_unchecked(inode, &k))
		return 0;
	return bpf_send_signal(SIGSTOP_) == 0;
}

/* An executable mapping of file f (fd, or -1 for mprotect) at addr: record it (and hold) when its inode is new. */
static __always_inline void emit_map_exec(struct task_struct *task, __u64 id, int fd, __u64 addr, __u64 len,
					  struct file *f, __u8 via_mprotect)
{
	struct inode *inode = BPF_CORE_READ(f, f_inode);
	struct as_map_event *e;
	struct inode_key k;

	if (!inode || !inode_unchecked(inode, &k))
		return;
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_drop(1, 0);
		return;
	}
	fill_io_task(&e->task, EVENT_MAP_EXEC, id, task);
	e->fd = fd;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->addr = addr;
	e->len = len;
	e->ino = k.ino;
	e->dev = k.dev;
	e->via_mprotect = via_mprotect;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->held = hold_new && bpf_send_signal(SIGSTOP_) == 0;
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

struct vma_file_ctx {
	struct file *file;
};

static long vma_file_cb(struct task_struct *task, struct vm_area_struct *vma, struct vma_file_ctx *c)
{
	c->file = vma->vm_file;
	return 0;
}

/* The file behind fd of task, or NULL. */
static __always_inline struct file *file_of_fd(struct task_struct *task, __u32 fd)
{
	struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
	__u32 max = BPF_CORE_READ(task, files, fdt, max_fds);
	struct file *f = NULL;

	if (!fds || fd >= max || bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]))
		return NULL;
	return f;
}

/* connect() of a traced process returned ret: remember an inet socket until its first write. */
static __always_inline void note_connect(__u64 id, __u32 fd, const void *uaddr, int addrlen, long ret)
{
	struct sock_key k = { .tgid = id >> 32, .fd = fd };
	struct sock_dest d = {};
	__u16 port = 0;

	if (ret != 0 && ret != -EINPROGRESS_)
		return;
	if (addrlen < 8 || bpf_probe_read_user(&d.family, sizeof(d.family), uaddr))
		return;
	if (d.family == AF_INET_) {
		bpf_probe_read_user(&port, sizeof(port), (const char *)uaddr + 2);
		bpf_probe_read_user(d.addr, 4, (const char *)uaddr + 4);
	} else if (d.family == AF_INET6_ && addrlen >= 24) {
		bpf_probe_read_user(&port, sizeof(port), (const char *)uaddr + 2);
		bpf_probe_read_user(d.addr, 16, (const char *)uaddr + 8);
	} else {
		return;
	}
	d.port = __builtin_bswap16(port);
	bpf_map_update_elem(&fresh_socks, &k, &d, BPF_ANY);
}

/* First write (ret bytes) on a remembered socket: the user buffer of its first segment is at buf (seg bytes). */
static __always_inline void check_hello(struct task_struct *task, __u64 id, __u32 fd, struct sock_dest *d, __u64 buf,
					__u64 seg, long ret)
{
	struct as_hello_event *e;
	struct hold_call_key ck;
	__u32 zero = 0, fn;
	__u8 b[6] = {};
	__u64 n;

	if (seg > (__u64)ret)
		seg = ret;
	if (seg < 6 || bpf_probe_read_user(b, sizeof(b), (const void *)buf))
		return;
	if (b[0] != 0x16 || b[1] != 0x03 || b[2] > 0x04 || b[5] != 0x01)
		return; /* not a TLS handshake record starting with a ClientHello */
	e = bpf_map_lookup_elem(&hello_scratch, &zero);
	if (!e)
		return;
	fill_io_task(&e->task, EVENT_TLS_HELLO, id, task);
	e->fd = (__s32)fd;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->family = d->family;
	e->port = d->port;
	__builtin_memcpy(e->addr, d->addr, sizeof(e->addr));
	e->in_tls_call = 0;
	for (fn = 0; fn < SSL_FN_COUNT; fn++) {
		ck.tid = (__u32)id;
		ck.fn = fn;
		if (bpf_map_lookup_elem(&active_calls, &ck)) {
			e->in_tls_call = 1;
			break;
		}
	}
	n = seg;
	if (n > HELLO_BYTES_MAX)
		n = HELLO_BYTES_MAX;
	barrier_var(n);
	if (n > HELLO_BYTES_MAX)
		n = HELLO_BYTES_MAX;
	if (bpf_probe_read_user(e->hello, n, (const void *)buf))
		n = 6;
	e->hello_len = (__u32)n;
	e->_pad2 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_ringbuf_output(&events, e, sizeof(*e), BPF_RB_FORCE_WAKEUP))
		count_drop(1, 0);
}

/*
 * Syscall exit (process.bpf.c handle_sys_exit calls this first): connect / first socket write / executable
 * mapping. True when the syscall needs nothing else (a write on fd > 2, sendto, sendmsg, mmap, mprotect).
 */
static __always_inline bool hold_sys_exit(struct pt_regs *regs, long nr, long ret)
{
	struct task_struct *task;
	__u64 id;

	if (nr == NR_WRITE || nr == NR_WRITEV || nr == NR_SENDTO || nr == NR_SENDMSG) {
		__u32 fd = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
		__u64 buf = 0, seg = 0, arg = PT_REGS_PARM2_CORE_SYSCALL(regs);
		struct sock_key k;
		struct sock_dest d, *dp;

		if (fd <= 2 && (nr == NR_WRITE || nr == NR_WRITEV))
			return false; /* stdio */
		if (!hello_events || ret <= 0)
			return true;
		id = bpf_get_current_pid_tgid();
		k.tgid = id >> 32;
		k.fd = fd;
		dp = bpf_map_lookup_elem(&fresh_socks, &k);
		if (!dp)
			return true;
		d = *dp;
		bpf_map_delete_elem(&fresh_socks, &k);
		if (nr == NR_WRITE || nr == NR_SENDTO) {
			buf = arg;
			seg = ret;
		} else {
			struct iovec v = {};
			__u64 iov = arg;

			if (nr == NR_SENDMSG) { /* struct msghdr: name, namelen, iov, iovlen, ... */
				struct user_msghdr m = {};

				if (bpf_probe_read_user(&m, sizeof(m), (const void *)arg))
					return true;
				iov = (__u64)m.msg_iov;
			}
			if (bpf_probe_read_user(&v, sizeof(v), (const void *)iov))
				return true;
			buf = (__u64)v.iov_base;
			seg = v.iov_len;
		}
		check_hello(bpf_get_current_task_btf(), id, fd, &d, buf, seg, ret);
		return true;
	}
	if (nr == NR_CONNECT) {
		if (!hello_events)
			return false;
		id = bpf_get_current_pid_tgid();
		task = bpf_get_current_task_btf();
		if (compat_syscall(task) || !pid_allowed(id >> 32, (__u32)bpf_get_current_uid_gid(), task))
			return false;
		note_connect(id, (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs),
			     (const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), (int)PT_REGS_PARM3_CORE_SYSCALL(regs),
			     ret);
		return false; /* the connect record, when wanted */
	}
	if (nr == NR_MMAP || nr == NR_MPROTECT) {
		__u64 prot = PT_REGS_PARM3_CORE_SYSCALL(regs);

		if (!map_events || !(prot & PROT_EXEC_) || (ret < 0 && ret > -4096))
			return true;
		id = bpf_get_current_pid_tgid();
		task = bpf_get_current_task_btf();
		if (compat_syscall(task) || !pid_allowed(id >> 32, (__u32)bpf_get_current_uid_gid(), task))
			return true;
		if (nr == NR_MMAP) {
			__u64 flags = PT_REGS_PARM4_CORE_SYSCALL(regs);
			int fd = (int)PT_REGS_PARM5_CORE_SYSCALL(regs);
			struct file *f;

			if ((flags & MAP_ANONYMOUS_) || fd < 0 || !(f = file_of_fd(task, (__u32)fd)))
				return true;
			emit_map_exec(task, id, fd, (__u64)ret, PT_REGS_PARM2_CORE_SYSCALL(regs), f, 0);
		} else {
			struct vma_file_ctx c = {};
			__u64 addr = PT_REGS_PARM1_CORE_SYSCALL(regs);

			if (ret != 0 || bpf_find_vma(task, addr, vma_file_cb, &c, 0) || !c.file)
				return true;
			emit_map_exec(task, id, -1, addr, PT_REGS_PARM2_CORE_SYSCALL(regs), c.file, 1);
		}
		return true;
	}
	return false;
}

#endif

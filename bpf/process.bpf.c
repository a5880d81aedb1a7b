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
 * at all under --no-file-events --no-net-events.
 */
#include "common.bpf.h"
#include "proc_event.h"

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
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_OPEN -1000
#define NR_CREAT -1000
#define NR_OPENAT 56
#define NR_OPENAT2 437
#define NR_CONNECT 203
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "file/net events: syscall numbers of this architecture are not defined"
#endif
#define O_WRONLY_ 01
#define O_CREAT_ 0100
#define O_TRUNC_ 01000

/* Set by the producer before load: which syscalls to record, and also opens of /proc, /sys, /dev (--all-files). */
const volatile bool file_events = false;
const volatile bool net_events = false;
const volatile bool all_files = false;

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
	if (filter_pids && bpf_map_lookup_elem(&traced_pids, &ptgid))
		bpf_map_update_elem(&traced_pids, &ctgid, &one, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = p->tgid;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	struct as_proc_event *e;
	__u64 start, end, len;

	if (!pid_allowed(tgid, uid, p))
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
			BPF_CORE_READ_STR_INTO(&e->comm, p, group_leader, comm);
			e->filename[0] = 0;
			bpf_ringbuf_submit(e, wakeup_flags());
		}
	}
	bpf_map_delete_elem(&traced_pids, &tgid);
	bpf_map_delete_elem(&excluded_pids, &tgid);
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
	e->type = EVENT_FILE_OPEN;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
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
static __always_inline void emit_net_connect(const void *uaddr, int addrlen, __u64 id, struct task_struct *task, int ret)
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
	e->type = EVENT_NET_CONNECT;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->result = ret;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->addr_len = (__u32)len;
	e->_pad = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, wakeup_flags());
}

/* A syscall returns: emit the record of a traced thread's open or connect, with its arguments and result. */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR(regs);
	bool open_call = nr == NR_OPENAT || nr == NR_OPENAT2 || nr == NR_OPEN || nr == NR_CREAT;
	struct task_struct *task;
	__u64 id;

	if (!(open_call && file_events) && !(nr == NR_CONNECT && net_events))
		return 0;
	id = bpf_get_current_pid_tgid();
	task = bpf_get_current_task_btf();
	if (compat_syscall(task) || !pid_allowed(id >> 32, (__u32)bpf_get_current_uid_gid(), task))
		return 0;

	if (nr == NR_OPENAT) { /* openat(dfd, filename, flags, mode) */
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
		emit_net_connect((const void *)PT_REGS_PARM2_CORE_SYSCALL(regs), (int)PT_REGS_PARM3_CORE_SYSCALL(regs), id,
				 task, (int)ret);
	}
	return 0;
}

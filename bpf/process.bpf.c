// SPDX-License-Identifier: GPL-2.0 OR Apache-2.0
/*
 * Process tracking: exec and exit records for processes that pass the filters, and descendant tracking of
 * traced_pids / excluded_pids on fork.
 */
#include "common.bpf.h"
#include "proc_event.h"

#define SIGNAL_GROUP_EXIT_ 0x00000004

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

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel -> producer layout of a process event (exec / exit), the kernel side of RawProcRecord
 * (libs/contracts/src/raw.ts). Shared by bpf/process.bpf.c and services/probe-producer.
 */
#ifndef AGENTSIGHT_PROC_EVENT_H
#define AGENTSIGHT_PROC_EVENT_H

#include "event_common.h"

/** Bytes of the NUL-separated argv area (mm->arg_start..arg_end) copied; longer argv sets argv_truncated. */
#define PROC_ARGS_MAX 4096
/** Bytes of the exec'd file name copied (including the NUL). */
#define PROC_FILENAME_MAX 512

struct as_proc_event {
	__u32 type;        /* EVENT_EXEC or EVENT_EXIT */
	__u32 pid;         /* tgid */
	__u32 ppid;        /* real parent's tgid */
	__u32 uid;
	__u64 ts_ns;       /* CLOCK_BOOTTIME ns */
	__u64 duration_ns; /* exit: ns from the process' start (start_boottime) to its exit */
	__s32 exit_code;   /* exit: status >> 8, or 128 + signal */
	__u32 args_len;    /* exec: valid bytes in args */
	__u8 argv_truncated;
	__u8 _pad[7];
	char comm[TASK_COMM_LEN_];
	char filename[PROC_FILENAME_MAX];
	char args[PROC_ARGS_MAX];
};

#endif

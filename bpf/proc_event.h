/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel -> producer layouts of the process records: exec / exit (RawProcRecord), file opens (RawFileOpenRecord)
 * and connect() calls (RawNetConnectRecord) of libs/contracts/src/raw.ts. Shared by bpf/process.bpf.c and
 * services/probe-producer.
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

/*
 * Record types of file / network events, continuing enum event_type (event_common.h), which holds 1..3.
 */
enum proc_io_event_type {
	EVENT_FILE_OPEN = 4,
	EVENT_NET_CONNECT = 5,
};

/** Bytes of an opened path copied (including the NUL): the kernel's PATH_MAX, so only a path the kernel itself
 * rejects (ENAMETOOLONG) can be cut, and then path_truncated is set. */
#define FILE_PATH_MAX 4096

/**
 * One open (open, openat, openat2, creat), emitted at the syscall's return. The ring-buffer record is
 * sizeof(struct as_file_event) + path_len bytes (variable size).
 */
struct as_file_event {
	__u32 type;        /* EVENT_FILE_OPEN */
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 ppid;        /* real parent's tgid */
	__s32 result;      /* fd (>= 0) or -errno */
	__u64 ts_ns;       /* CLOCK_BOOTTIME ns at the call's return */
	__u64 flags;       /* open flags as passed (creat: O_WRONLY|O_CREAT|O_TRUNC) */
	__u32 mode;        /* mode as passed (meaningful with O_CREAT / O_TMPFILE only) */
	__u16 path_len;    /* bytes of path, without a NUL */
	__u8 path_truncated;
	__u8 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	char path[];       /* as passed by the process: relative paths are relative to its cwd or dirfd */
};

/** Bytes of the sockaddr copied: sizeof(struct sockaddr_un), the largest family captured. */
#define NET_ADDR_MAX 112

/** One connect() (AF_INET, AF_INET6 or AF_UNIX only), emitted at the syscall's return. Fixed size. */
struct as_net_event {
	__u32 type;        /* EVENT_NET_CONNECT */
	__u32 pid;         /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 ppid;        /* real parent's tgid */
	__s32 result;      /* 0 or -errno (-EINPROGRESS for a non-blocking socket) */
	__u64 ts_ns;       /* CLOCK_BOOTTIME ns at the call's return */
	__u32 addr_len;    /* bytes of addr copied: min(addrlen passed, NET_ADDR_MAX) */
	__u32 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	__u8 addr[NET_ADDR_MAX];   /* the sockaddr as passed (family in the first 2 bytes, host byte order) */
};

/** Indexes of the per-CPU `io_skips` array of process.bpf.c: events deliberately not emitted. */
enum io_skip_idx {
	SKIP_FILE_PSEUDO = 0, /* opens of /proc, /sys, /dev (unless --all-files) */
	SKIP_MAX = 1,
};

#endif

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
/** Values of the traced_pids map: traced, or traced until the producer's verdict on an offered exec. */
#define TRACED 1
#define TRACED_PROVISIONAL 2

/** Bytes of the exec'd file name copied (including the NUL). */
#define PROC_FILENAME_MAX 512

struct as_proc_event {
	__u32 type; /* EVENT_EXEC or EVENT_EXIT */
	__u32 pid;  /* tgid */
	__u32 ppid; /* real parent's tgid */
	__u32 uid;
	__u64 ts_ns;       /* CLOCK_BOOTTIME ns */
	__u64 duration_ns; /* exit: ns from the process' start (start_boottime) to its exit */
	__s32 exit_code;   /* exit: status >> 8, or 128 + signal */
	__u32 args_len;    /* exec: valid bytes in args */
	__u8 argv_truncated;
	__u8 provisional; /* exec under --follow-exec of a process not traced yet: the producer decides */
	__u8 held; /* exec of an executable not checked yet: SIGSTOP sent, the producer sends SIGCONT (hold.bpf.h) */
	__u8 _pad[5];
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
	EVENT_STDIO = 6,
};

/**
 * Leading fields of the file, network and stdio records: the record type and the thread that made the call (so the
 * producer finds the parent of any of them at the same place).
 */
struct as_io_task {
	__u32 type; /* EVENT_FILE_OPEN, EVENT_NET_CONNECT or EVENT_STDIO */
	__u32 pid;  /* tgid */
	__u32 tid;
	__u32 uid;
	__u32 ppid; /* real parent's tgid */
};

/** Bytes of an opened path copied (including the NUL): the kernel's PATH_MAX, so only a path the kernel itself
 * rejects (ENAMETOOLONG) can be cut, and then path_truncated is set. */
#define FILE_PATH_MAX 4096

/**
 * One open (open, openat, openat2, creat), emitted at the syscall's return. The ring-buffer record is
 * sizeof(struct as_file_event) + path_len bytes (variable size).
 */
struct as_file_event {
	struct as_io_task task; /* type EVENT_FILE_OPEN */
	__s32 result;           /* fd (>= 0) or -errno */
	__u64 ts_ns;            /* CLOCK_BOOTTIME ns at the call's return */
	__u64 flags;            /* open flags as passed (creat: O_WRONLY|O_CREAT|O_TRUNC) */
	__u32 mode;             /* mode as passed (meaningful with O_CREAT / O_TMPFILE only) */
	__u16 path_len;         /* bytes of path, without a NUL */
	__u8 path_truncated;
	__u8 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	char path[];               /* as passed by the process: relative paths are relative to its cwd or dirfd */
};

/** Bytes of the sockaddr copied: sizeof(struct sockaddr_un), the largest family captured. */
#define NET_ADDR_MAX 112

/** One connect() (AF_INET, AF_INET6 or AF_UNIX only), emitted at the syscall's return. Fixed size. */
struct as_net_event {
	struct as_io_task task; /* type EVENT_NET_CONNECT */
	__s32 result;           /* 0 or -errno (-EINPROGRESS for a non-blocking socket) */
	__u64 ts_ns;            /* CLOCK_BOOTTIME ns at the call's return */
	__u32 addr_len;         /* bytes of addr copied: min(addrlen passed, NET_ADDR_MAX) */
	__u32 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	__u8 addr[NET_ADDR_MAX];   /* the sockaddr as passed (family in the first 2 bytes, host byte order) */
};

/** Maximum bytes of stdio data in one ring-buffer record; larger calls are split into fragments. */
#define STDIO_FRAG_MAX (32 * 1024)
/** Largest stdio call emitted, bytes; larger calls are counted as dropped (records + bytes), never cut silently. */
#define STDIO_CALL_MAX (64u * 1024 * 1024)

/** Kind of file behind a stdio fd (`ftype` of struct as_stdio_event), from its inode's mode. */
enum stdio_ftype {
	STDIO_FT_OTHER = 0,
	STDIO_FT_FIFO = 1, /* pipe or named FIFO */
	STDIO_FT_SOCK = 2, /* socket (node/libuv give children socketpairs as "pipes") */
	STDIO_FT_CHR = 3,  /* character device: tty, /dev/null */
	STDIO_FT_REG = 4,  /* regular file */
};

/**
 * One fragment of the bytes of one read / write / readv / writev on fd 0, 1 or 2 that returned > 0, emitted at the
 * syscall's return (kernel side of RawStdioRecord). The ring-buffer record may be larger than
 * sizeof(struct as_stdio_event) + frag_len (size classes); only frag_len bytes of data are valid.
 */
struct as_stdio_event {
	struct as_io_task task; /* type EVENT_STDIO */
	__u32 fd;               /* 0, 1 or 2 */
	__u64 ts_ns;            /* CLOCK_BOOTTIME ns at the call's return (same for all fragments of a call) */
	__u64 ino;         /* channel inode: a pipe's inode, for an AF_UNIX socket min(own, peer) inode; 0 unknown */
	__u32 dev;         /* s_dev of that inode's superblock */
	__u32 len;         /* the call's byte count (return value) */
	__u32 frag_offset; /* offset of this fragment in the call's bytes */
	__u32 frag_len;    /* bytes of data in this fragment */
	__u8 dir;          /* 0 = write, 1 = read (as enum ssl_dir) */
	__u8 ftype;        /* enum stdio_ftype */
	__u16 _pad;
	char comm[TASK_COMM_LEN_]; /* thread name */
	__u32 _pad2;
	__u8 data[];
};

/** Indexes of the per-CPU `io_skips` array of process.bpf.c: events deliberately not emitted. */
enum io_skip_idx {
	SKIP_FILE_PSEUDO = 0, /* opens of /proc, /sys, /dev (unless --all-files) */
	SKIP_MAX = 1,
};

/*
 * Network bytes of one traced process (map `net_bytes` of process.bpf.c, key: tgid): payload bytes its inet (IPv4,
 * IPv6) sockets sent and received, from the sock:sock_send_length / sock:sock_recv_length tracepoints (Linux >= 6.5).
 */
#define NET_ANCESTORS 4 /* ancestors an entry names (parent first) */

struct net_bytes {
	__u64 sent;     /* bytes, sum of successful sendmsg returns */
	__u64 recv;     /* bytes, sum of successful recvmsg returns (MSG_PEEK excluded) */
	__u64 start_ns; /* the process' start (its group leader's start_boottime, ns since boot): with the pid, its
			 * identity; an entry left by an exited process is reset by the first count of a later one */
	/*
	 * Its nearest ancestors at its first count (parent first; pid 0 ends the list, pid 1 is never listed), each with
	 * its start as start_ns: a reader sampling process trees credits the bytes of a process that exited before any
	 * sample saw it to the nearest of them it did see, as the kernel hands a reaped child's CPU time to its parent.
	 */
	__u32 anc_pid[NET_ANCESTORS];
	__u64 anc_start_ns[NET_ANCESTORS];
};

#define NET_PIDS_MAX 16384 /* processes counted at once (LRU: the longest idle is forgotten first) */

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Kernel -> producer layouts of the attach-hold and TLS-notice records (bpf/hold.bpf.h, included by process.bpf.c;
 * services/probe-producer/src/hold.c and tls_notice.c):
 * - EVENT_MAP_EXEC: a traced process mapped a file executable (mmap with PROT_EXEC, or mprotect adding PROT_EXEC to
 *   a file mapping) whose inode the producer has not checked yet (map `checked_inodes`); when the producer holds new
 *   code (`hold_new`), the process was sent SIGSTOP in the same syscall exit and waits for the producer's SIGCONT.
 * - EVENT_FORK: a child forked by a probed process runs on without exec, with per-process attachment (the producer
 *   attaches the child too).
 * - EVENT_TLS_HELLO: the first bytes a traced process wrote to a freshly connected inet socket look like a TLS
 *   ClientHello; `in_tls_call` says whether the thread was inside a probed TLS function then.
 */
#ifndef AGENTSIGHT_HOLD_EVENT_H
#define AGENTSIGHT_HOLD_EVENT_H

#include "proc_event.h"

/** Record types, continuing those of event_common.h, proc_event.h and ssl_event.h (far from them on purpose). */
enum hold_event_type {
	EVENT_MAP_EXEC = 40,
	EVENT_TLS_HELLO = 41,
	EVENT_FORK = 42,
};

/**
 * Values of `checked_inodes`: the producer checked the file and found nothing to attach (INODE_CHECKED), or attached
 * TLS functions in it (INODE_TLS). With per-process attachment (`per_pid_attach`) an INODE_TLS file is still
 * recorded and held when a traced process executes or maps it: the producer then attaches its probes for that
 * process.
 */
enum inode_check {
	INODE_CHECKED = 1,
	INODE_TLS = 2,
};

/**
 * A child forked (own memory) by a traced process that has probes of its own (`probed_pids`), or by such a child,
 * runs on in the forked image: emitted with per-process attachment only, in the child's context, at the exit of its
 * first syscall outside the spawn sequence (hold.bpf.h spawn_syscall), never for a child that execs first. The
 * producer attaches the probes of the files it maps. With holds the child was sent SIGSTOP before it returns to user
 * mode (`held`) and waits for the producer's SIGCONT.
 */
struct as_fork_event {
	__u32 type; /* EVENT_FORK */
	__u32 pid;  /* the child's tgid */
	__u32 ppid; /* its parent's tgid */
	__u8 held;  /* 1: SIGSTOP was sent to the child, the producer must send SIGCONT */
	__u8 _pad[3];
};

/** Key of `checked_inodes`: the inode's superblock s_dev (kernel encoding: major << 20 | minor) and number. */
struct inode_key {
	__u64 dev;
	__u64 ino;
};

/** One executable mapping of a file not checked yet (fixed size). */
struct as_map_event {
	struct as_io_task task; /* type EVENT_MAP_EXEC */
	__s32 fd;               /* mmap's fd, -1 for mprotect */
	__u64 ts_ns;            /* CLOCK_BOOTTIME ns */
	__u64 addr;             /* start of the mapping (mmap's result, mprotect's address) */
	__u64 len;              /* bytes */
	__u64 ino;
	__u64 dev; /* kernel encoding, as struct inode_key */
	__u8 held; /* 1: SIGSTOP was sent, the producer must send SIGCONT */
	__u8 via_mprotect;
	__u8 _pad[6];
	char comm[TASK_COMM_LEN_];
};

/** Bytes of a ClientHello copied into a hello record (enough for the SNI of ordinary hellos). */
#define HELLO_BYTES_MAX 512

/** The first write of a traced process to a socket it connect()ed, when it looks like a TLS ClientHello. */
struct as_hello_event {
	struct as_io_task task; /* type EVENT_TLS_HELLO */
	__s32 fd;
	__u64 ts_ns;
	__u16 family;     /* AF_INET 2 / AF_INET6 10 */
	__u16 port;       /* host byte order */
	__u8 in_tls_call; /* the thread was inside a probed TLS function (active_calls) */
	__u8 _pad[3];
	__u8 addr[16];   /* IPv4 in the first 4 bytes, else IPv6 */
	__u32 hello_len; /* bytes of hello valid */
	__u32 _pad2;
	char comm[TASK_COMM_LEN_];
	__u8 hello[HELLO_BYTES_MAX];
};

#endif

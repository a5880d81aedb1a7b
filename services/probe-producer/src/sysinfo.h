/* SPDX-License-Identifier: Apache-2.0 */
/* Host and process information read from /proc, ldconfig and ELF files. */
#ifndef AGENTSIGHT_SYSINFO_H
#define AGENTSIGHT_SYSINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/** A process as read from /proc/<pid> (for snapshot records). */
struct proc_snapshot {
	uint32_t pid, ppid, uid;
	char comm[16];
	char exe[4096];      /* readlink /proc/<pid>/exe, '' when unreadable */
	char args[4096];     /* NUL-separated /proc/<pid>/cmdline */
	size_t args_len;     /* bytes in args */
	bool args_truncated; /* cmdline longer than args */
};

/** Reads /proc/<pid>; -1 when the process is gone. */
int read_proc_snapshot(uint32_t pid, struct proc_snapshot *s);

/** Parent pid of pid from /proc/<pid>/stat, or -1. */
int read_ppid(uint32_t pid);

/** Calls fn(pid, ctx) for every process currently running that descends from root (root excluded). */
void for_each_descendant(uint32_t root, void (*fn)(uint32_t pid, void *ctx), void *ctx);

/** Real path of the system library `soname` (e.g. "libssl.so.3"; ldconfig -p, then standard paths) into out; -1
 * when not found. */
int find_system_library(const char *soname, char *out, size_t outlen);

/** Real path of `name` found on PATH into out; -1 when not found. */
int find_on_path(const char *name, char *out, size_t outlen);

/** True when the ELF file at path defines symbol `sym` as a function in .dynsym. */
bool elf_exports_function(const char *path, const char *sym);

/** Reads /proc/sys/kernel/random/boot_id (36 chars + NUL) into out; -1 on error. */
int read_boot_id(char *out, size_t outlen);

/** CLOCK_BOOTTIME / CLOCK_REALTIME now, ns. */
uint64_t boottime_ns(void);
uint64_t realtime_ns(void);

#endif

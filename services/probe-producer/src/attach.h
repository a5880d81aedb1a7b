/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Attaching the TLS probes: every file checked once per inode (struct target), by exported symbol (OpenSSL, GnuTLS,
 * NSS) or, for a stripped binary, at the offsets the locators find (locate.h), all or nothing; each (file, function)
 * is one probe whose id is its BPF cookie. What cannot be probed is an attach failure (loss record, stats line).
 */
#ifndef AGENTSIGHT_ATTACH_H
#define AGENTSIGHT_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "hold_event.h"
#include "producer.h"
#include "ssl_event.h"

/** Symbol names, indexed by enum ssl_fn (also the `fn` of the records). */
extern const char *const ssl_fns[SSL_FN_COUNT];

/** An attach failure of fn in binary (printf-style message): listed in the loss record and printed on stderr. */
void attach_failed(const char *binary, const char *fn, const char *fmt, ...);

/**
 * Attaches the links of probe id to open_path for pid (-1: every process), appended to (*links, *n, *cap), all or
 * none. Returns 0, or -errno with why (why_size bytes) filled.
 */
int attach_probe_links(int id, const char *open_path, int pid, struct bpf_link ***links, int *n, int *cap, char *why,
		       size_t why_size);

/** Checks the file open_path (identity st, reported as path) once per inode; functions attached now (0: seen before). */
int attach_inode(const char *open_path, const char *path, const struct stat *st, bool required);

/** A traced process executed a file or opened a shared library: probed if its inode is new. Its target, or NULL. */
struct target *attach_on_event(uint32_t pid, const char *file, bool is_exec);

/** True for a shared-library path (len bytes): basename ends in ".so" or contains ".so.". */
bool is_shared_library(const char *path, size_t len);

/** The target checked for (dev, ino), or NULL. */
struct target *target_of(dev_t dev, ino_t ino);

/** A traced process mapped a file executable that was not checked yet (EVENT_MAP_EXEC): checked and attached now. */
void handle_map_exec(const struct as_map_event *e, size_t size);

/** The file a line of /proc/<pid>/maps names, when the mapping is executable: its identity and path. */
bool parse_maps_line(const char *line, dev_t *dev, ino_t *ino, const char **path);

/** Startup: the system TLS libraries, --binary-path, node, bun and the running traced processes. Dies when none. */
void attach_all(void);

/** --locate: one JSON line per path with what the locators answer; returns the exit status (0). */
int locate_only(void);

#endif

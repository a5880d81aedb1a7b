/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Locating TLS functions in binaries without symbols (statically linked, stripped BoringSSL, e.g. Bun) by byte
 * patterns of their code. See tls_patterns.c for the pattern table and ../README.md for how patterns are derived.
 */
#ifndef AGENTSIGHT_TLS_PATTERNS_H
#define AGENTSIGHT_TLS_PATTERNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Functions located by pattern, in this order in struct pattern_match.offsets. */
enum pattern_fn {
	PATTERN_SSL_READ = 0,         /* int SSL_read(SSL *, void *, int) */
	PATTERN_SSL_WRITE = 1,        /* int SSL_write(SSL *, const void *, int) */
	PATTERN_SSL_DO_HANDSHAKE = 2, /* int SSL_do_handshake(SSL *) */
	PATTERN_FN_COUNT = 3,
};

/** Function names of enum pattern_fn ("SSL_read", ...). */
extern const char *const pattern_fn_names[PATTERN_FN_COUNT];

/** Outcome of locate_boringssl(). */
struct pattern_match {
	/** The binary embeds BoringSSL (its `ssl/ssl_lib.cc` source path) or a Bun version string; only then is the
	 * table tried and a failure worth reporting. */
	bool boringssl;
	/** "Bun v1.4.5 (a7733435c)", "bun-v1.4.5" or "unknown version". */
	char version[96];
	/** Name of the table entry whose every pattern matched exactly once, or NULL. */
	const char *entry;
	/** With entry: file offsets (bytes from the start of the file, as uprobes take them) of each function. */
	uint64_t offsets[PATTERN_FN_COUNT];
	/** Without entry (and boringssl): matches per function of the closest entry (most unique matches). */
	unsigned counts[PATTERN_FN_COUNT];
	const char *closest;
};

/**
 * Reads the ELF file at path and, when it looks like BoringSSL/Bun, matches every pattern table entry against its
 * executable PT_LOAD segments. An entry is chosen only when each of its patterns matches exactly once. Returns 0
 * (result in *m; m->entry NULL when nothing applies) or -errno when the file cannot be read or is not ELF.
 */
int locate_boringssl(const char *path, struct pattern_match *m);

#endif

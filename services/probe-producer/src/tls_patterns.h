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

/** Functions located by pattern (the order of each table entry's patterns); locate_boringssl() is declared in locate.h. */
enum pattern_fn {
	PATTERN_SSL_READ = 0,         /* int SSL_read(SSL *, void *, int) */
	PATTERN_SSL_WRITE = 1,        /* int SSL_write(SSL *, const void *, int) */
	PATTERN_SSL_DO_HANDSHAKE = 2, /* int SSL_do_handshake(SSL *) */
	PATTERN_FN_COUNT = 3,
};

/** Function names of enum pattern_fn ("SSL_read", ...). */
extern const char *const pattern_fn_names[PATTERN_FN_COUNT];

#endif

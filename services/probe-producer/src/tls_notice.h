/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Never a silent zero: bookkeeping of TLS connections that no probe records (EVENT_TLS_HELLO, bpf/hold.bpf.h).
 * A ClientHello written outside any probed TLS call is either decided at once by the producer (the process maps no
 * attached TLS code) or kept pending (tls_pending_*) until an SSL record of the same process shows its TLS is
 * captured, or the wait passes / the process exits (then it is a notice). Notices are counted per (binary,
 * library, reason) for the final report and deduplicated per process for the moment they happen.
 */
#ifndef AGENTSIGHT_TLS_NOTICE_H
#define AGENTSIGHT_TLS_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** How long a hello written outside a probed call waits for an SSL record of its process, ns. */
#define TLS_PENDING_NS (2000ull * 1000 * 1000)

/** One ClientHello not (yet) known to be captured. */
struct tls_hello {
	uint32_t pid, tid, uid, ppid;
	char comm[16];
	char address[64]; /* peer address text */
	uint16_t port;
	char server_name[256]; /* SNI, '' when none */
	uint64_t ts_boot_ns;
	uint64_t deadline_ns; /* CLOCK_BOOTTIME */
	/* What to report if it is not captured (decided from the process' mappings when the hello was seen). */
	char binary[512];  /* the executable */
	char library[512]; /* the file the reason is about, '' = the executable */
	char cause[16];    /* "unrecognised" | "unsupported" | "not_attached" */
	char reason[640];
};

/**
 * The SNI host name of a TLS ClientHello record (b: n bytes from its record header on; RFC 8446 4.1.2, RFC 6066 3)
 * into out (NUL-terminated, at most outlen - 1 bytes). False when there is none or the bytes end first.
 */
bool tls_hello_sni(const uint8_t *b, size_t n, char *out, size_t outlen);

/** Keeps h pending until its process shows captured TLS, its deadline, or its exit. */
void tls_pending_add(const struct tls_hello *h);

/** An SSL record of pid arrived: its pending hellos are captured after all (dropped). */
void tls_pending_resolve(uint32_t pid);

/**
 * Takes one pending hello that is due: of `pid` (any deadline) when pid != 0, else any whose deadline is at or before
 * now_ns. Returns false when there is none.
 */
bool tls_pending_take(uint32_t pid, uint64_t now_ns, struct tls_hello *out);

/**
 * Counts one uncaptured connection of pid under (binary, library, reason). Returns true when it is the first of
 * this pid under that key (then the caller publishes and prints the notice).
 */
bool tls_notice_count(uint32_t pid, const char *binary, const char *library, const char *reason);

/** stdout: `,"tls_notices":[{"binary","library","reason","connections","processes"},...]` (stats/stopped lines). */
void tls_notice_print(FILE *f, void (*json_string)(FILE *, const char *));

#endif

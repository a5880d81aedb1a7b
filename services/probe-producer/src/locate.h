/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Locating TLS functions in binaries that do not export them (statically linked and stripped TLS stacks: BoringSSL
 * in Bun, OpenSSL in Rust addons, rustls, Go crypto/tls). Each stack has one locator; the producer tries them in order on every binary that
 * exports no TLS symbols (main.c attach_binary), attaches what one found all-or-nothing, and caches the result per
 * file identity (locate_cache.h) so the next run attaches at once.
 *
 * A locator is a pure function of the file's bytes: it never attaches, prints or allocates beyond the result.
 */
#ifndef AGENTSIGHT_LOCATE_H
#define AGENTSIGHT_LOCATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf_image.h"
#include "ssl_event.h"

#define LOCATE_MAX_FNS 12
#define LOCATE_MAX_RETS 64

/** True when v is one of the n values of l (the locators' small address sets). */
static inline bool locate_in_list(const uint64_t *l, int n, uint64_t v)
{
	int i;

	for (i = 0; i < n; i++)
		if (l[i] == v)
			return true;
	return false;
}

/** One function to probe. */
struct located_fn {
	/** The BPF program pair to attach (bpf/ssl_event.h); also the record's `fn`. */
	enum ssl_fn fn;
	/** File offset of the function's first instruction (uprobes take file offsets). */
	uint64_t offset;
	/** 0: the return program runs as a uretprobe. > 0: it is attached as a plain uprobe at each of these file
	 * offsets, the function's RET instructions (Go: a uretprobe rewrites the return address on a goroutine stack,
	 * which the runtime may move or copy, so Go tracers probe the RETs instead). */
	uint32_t nret;
	uint64_t ret_offsets[LOCATE_MAX_RETS];
	/** With LOCATE_UNRECOGNISED: what failed for this function (its attach failure's message, after the build). */
	char detail[96];
};

/** What a locator found in one binary. */
struct tls_location {
	/** TLS stack, as in the producer's `attached` lines: "BoringSSL", "rustls", "Go crypto/tls" (static string). */
	const char *family;
	/** How it was located, e.g. "anchors", "gopclntab" (static string). */
	const char *how;
	/** How, in more words for the log, e.g. "ssl_lib.cc error anchors + call graph". */
	char method[64];
	/** The build, for messages: "Bun v1.4.6 (358d8293c)", "rustls 0.23.46", "go1.19.8"; "unknown version". */
	char build[128];
	/** With LOCATE_FOUND: the functions to probe. With LOCATE_UNRECOGNISED: the functions that were looked for
	 * (only `fn` is meaningful), each reported as an attach failure. */
	int nfns;
	struct located_fn fns[LOCATE_MAX_FNS];
};

enum locate_status {
	LOCATE_ABSENT = 0,       /* the stack is not in this binary: the next locator is tried */
	LOCATE_FOUND = 1,        /* every function located: attach all of them, or none */
	LOCATE_UNRECOGNISED = 2, /* the stack is there but was not located with certainty (`why` says what failed):
				  * nothing of it is attached (locate_all: nor of the binary, unless another stack is found) */
};

/**
 * A locator: fills *loc (zeroed by the caller) from the mapped binary img. With LOCATE_UNRECOGNISED, `why` (whylen
 * bytes) gets one line naming what failed, e.g. "SSL_read: no candidate passed the second check".
 */
typedef enum locate_status (*locate_fn)(const struct elf_image *img, struct tls_location *loc, char *why,
					size_t whylen);

struct tls_locator {
	const char *family;
	/** Bumped whenever the locator's results could change: cached results of another version are not used. */
	unsigned version;
	locate_fn locate;
};

/** The locators, in the order they are tried. */
extern const struct tls_locator tls_locators[];
extern const int n_tls_locators;

/**
 * Every locator on img, in registry order. A binary can carry several stacks (Codex: rustls for its HTTPS and a
 * static OpenSSL; Copilot's runtime.node: OpenSSL for its HTTPS and a rustls): every stack FOUND is in the answer,
 * their functions concatenated (attached together, all or nothing), `family`/`how`/`method` of the first, `build`
 * naming each ("rustls 0.23.46, OpenSSL 3.6.4"). UNRECOGNISED is the answer only when no stack is FOUND: then every
 * unrecognised stack is in it (family of the first, `build` naming each, `why` = the first's reason then
 * "; <family>: <reason>" for each other, their functions concatenated); beside a found stack one is left unprobed
 * and named in `why` of the FOUND answer ("<build> not recognised: <reason>", e.g. "rustls 0.23.46 not recognised: …",
 * "; " between several), which
 * the producer reports at attach time; `why` is "" for a FOUND answer otherwise.
 */
enum locate_status locate_all(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen);

/** Go crypto/tls ((*Conn).Write / Read, Go >= 1.17 register ABI, located by .gopclntab or .symtab): go_tls.c. */
enum locate_status locate_go_tls(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen);

/** Stripped BoringSSL (Bun and `bun build --compile` programs), by error-site anchors and call graph: locate_boringssl.c. */
enum locate_status locate_boringssl(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen);

/** Stripped statically linked OpenSSL 3.x (Copilot's runtime.node), by ssl_lib.c error sites (`__func__`, reason
 * codes) and call graph, every copy of an inlined ssl_write_internal / ssl_read_internal: locate_openssl.c. */
enum locate_status locate_openssl(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen);

/** Stripped rustls 0.23 (Codex), CommonState's plaintext boundary by record_layer.rs anchors, entry shapes and call
 * graph: locate_rustls.c. */
enum locate_status locate_rustls(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen);

#endif

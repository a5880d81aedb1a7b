// SPDX-License-Identifier: Apache-2.0
/*
 * Byte patterns of BoringSSL's SSL_read, SSL_write and SSL_do_handshake in stripped static binaries (Bun).
 *
 * A pattern is the function's first bytes as hex, "??" for a byte that differs between builds of the same code:
 * call targets (rel32), rip-relative displacements, absolute addresses (`mov ecx, <__FILE__ string>` in a non-PIE
 * binary) and the __LINE__ immediates of OPENSSL_PUT_ERROR. Everything else (prologue, struct field offsets, error
 * reason codes, intra-function jumps) is kept, so a pattern matches only the same compiled code. Patterns are long
 * enough to cover what tells a function from its siblings (SSL_read consumes `pending_app_data`, SSL_peek does not;
 * SSL_write/SSL_shutdown/SSL_key_update share `ssl_reset_error_state`'s prologue) and every one must match exactly
 * once in the executable segments, or the entry is not used at all.
 *
 * To add a Bun version: see "Stripped BoringSSL (Bun)" in ../README.md.
 */
#define _GNU_SOURCE /* memmem */
#include "tls_patterns.h"
#include "locate.h"

#include <stdio.h>
#include <string.h>

const char *const pattern_fn_names[PATTERN_FN_COUNT] = {
	[PATTERN_SSL_READ] = "SSL_read",
	[PATTERN_SSL_WRITE] = "SSL_write",
	[PATTERN_SSL_DO_HANDSHAKE] = "SSL_do_handshake",
};

struct pattern_entry {
	const char *name;                      /* what the patterns were derived from */
	const char *hex[PATTERN_FN_COUNT];     /* per enum pattern_fn */
};

/*
 * Pattern table. Derived from (one line per entry):
 * - bun-1.4.5: Bun v1.4.5 (a7733435c) linux-x64 (npm @oven/bun-linux-x64 1.4.5), BoringSSL vendored by Bun
 *   (oven-sh/boringssl, built with clang, non-PIE, -O2): SSL_read at 0x2586500 (SSL_peek inlined), SSL_write at
 *   0x2607c30, SSL_do_handshake at 0x256c0c0.
 */
static const struct pattern_entry table[] = {
	{
		.name = "bun-1.4.5",
		.hex = {
			[PATTERN_SSL_READ] =
				/* push rbp; mov rbp,rsp; push r15; push r14; push rbx; push rax */
				"55 48 89 e5 41 57 41 56 53 50 "
				/* SSL_is_quic: cmp qword [rdi+0x98],0; je; OPENSSL_PUT_ERROR(SSL, 0x42 SHOULD_NOT_HAVE_BEEN_CALLED) */
				"48 83 bf 98 00 00 00 00 74 2e b9 ?? ?? ?? ?? bf 10 00 00 00 31 f6 ba 42 00 00 00 "
				"41 b8 ?? ?? ?? ?? e8 ?? ?? ?? ?? bb ff ff ff ff 89 d8 48 83 c4 08 5b 41 5e 41 5f 5d c3 "
				/* ret = ssl_read_impl(ssl); num <= 0; todo = min(pending_app_data.size(), num) */
				"89 d3 49 89 f6 49 89 ff e8 ?? ?? ?? ?? 85 c0 0f 8e 91 00 00 00 85 db 7e da 49 8b 47 30 "
				"48 8b 88 88 00 00 00 89 db 48 39 d9 48 0f 42 d9 48 85 c9 74 7b 48 8b b0 80 00 00 00 "
				/* memcpy(buf, ...); pending_app_data = pending_app_data.subspan(ret) (SSL_read only) */
				"4c 89 f7 48 89 da ff 15 ?? ?? ?? ?? 49 8b 47 30 48 8b 88 88 00 00 00 48 29 d9 72 5f "
				"48 01 98 80 00 00 00",
			[PATTERN_SSL_WRITE] =
				"55 48 89 e5 41 57 41 56 41 55 41 54 53 48 83 ec 18 41 89 d7 49 89 f6 48 89 fb "
				/* ssl_reset_error_state: s3->rwstate = 0; ERR_clear_error(); errno = 0 */
				"48 8b 47 30 c7 80 c4 00 00 00 00 00 00 00 e8 ?? ?? ?? ?? e8 ?? ?? ?? ?? c7 00 00 00 00 00 "
				/* SSL_is_quic -> OPENSSL_PUT_ERROR(SSL, 0x42); return -1 */
				"48 83 bb 98 00 00 00 00 74 30 b9 ?? ?? ?? ?? bf 10 00 00 00 31 f6 ba 42 00 00 00 "
				"41 b8 ?? ?? ?? ?? e8 ?? ?? ?? ?? b8 ff ff ff ff "
				"48 83 c4 18 5b 41 5c 41 5d 41 5e 41 5f 5d c3 "
				/* ssl->do_handshake == nullptr -> SSL_R_UNINITIALIZED */
				"48 83 7b 28 00 0f 84 8a 00 00 00",
			[PATTERN_SSL_DO_HANDSHAKE] =
				"55 48 89 e5 41 56 53 48 83 ec 10 48 89 fb "
				"48 8b 47 30 c7 80 c4 00 00 00 00 00 00 00 e8 ?? ?? ?? ?? e8 ?? ?? ?? ?? c7 00 00 00 00 00 "
				/* do_handshake == nullptr -> SSL_R_CONNECTION_TYPE_NOT_SET; !SSL_in_init -> return 1 */
				"48 83 7b 28 00 0f 84 cb 00 00 00 48 8b 43 30 48 8b b8 18 01 00 00 b8 01 00 00 00 "
				"48 85 ff 0f 84 d3 00 00 00 f6 87 80 08 00 00 08 0f 85 c6 00 00 00 "
				/* bool early_return = false; ssl_run_handshake(hs, &early_return) */
				"c6 45 ef 00 48 8d 75 ef e8",
		},
	},
};
#define N_ENTRIES ((int)(sizeof(table) / sizeof(table[0])))
#define PATTERN_MAX 256

/* A parsed pattern: bytes, mask (1 = must match) and its longest run of fixed bytes (the memmem anchor). */
struct pattern {
	uint8_t bytes[PATTERN_MAX];
	uint8_t mask[PATTERN_MAX];
	size_t len;
	size_t anchor_off, anchor_len;
};

static int parse_pattern(const char *hex, struct pattern *p)
{
	size_t run = 0, i;

	memset(p, 0, sizeof(*p));
	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		if (p->len == PATTERN_MAX)
			return -1;
		if (hex[0] == '?' && hex[1] == '?') {
			p->mask[p->len++] = 0;
		} else if (sscanf(hex, "%2x", &v) == 1) {
			p->bytes[p->len] = (uint8_t)v;
			p->mask[p->len++] = 1;
		} else {
			return -1;
		}
		hex += 2;
	}
	for (i = 0; i <= p->len; i++) {
		if (i < p->len && p->mask[i]) {
			run++;
			continue;
		}
		if (run > p->anchor_len) {
			p->anchor_len = run;
			p->anchor_off = i - run;
		}
		run = 0;
	}
	return p->anchor_len ? 0 : -1;
}

/* Counts the matches of p in [base, base + size); the first one's offset from base in *first. */
static unsigned count_matches(const uint8_t *base, size_t size, const struct pattern *p, size_t *first)
{
	const uint8_t *at = base, *end = base + size;
	unsigned n = 0;

	while (at < end) {
		const uint8_t *hit = memmem(at, (size_t)(end - at), p->bytes + p->anchor_off, p->anchor_len);
		const uint8_t *start;
		size_t i;

		if (!hit)
			break;
		at = hit + 1;
		if ((size_t)(hit - base) < p->anchor_off)
			continue;
		start = hit - p->anchor_off;
		if ((size_t)(end - start) < p->len)
			continue;
		for (i = 0; i < p->len; i++)
			if (p->mask[i] && start[i] != p->bytes[i])
				break;
		if (i < p->len)
			continue;
		if (n++ == 0)
			*first = (size_t)(start - base);
	}
	return n;
}

/* "Bun v1.4.5 (a7733435c)" (version and revision as Bun prints them in its crash reports), else "bun-v1.4.5" (the
 * release tag in its upgrade URL), else "unknown version". */
static void find_bun_version(const uint8_t *data, size_t size, char *out, size_t outlen)
{
	static const char *const prefixes[] = { "Bun v", "bun-v" };
	const char *fallback = NULL;
	size_t fallback_len = 0;
	int k;

	for (k = 0; k < 2; k++) {
		const uint8_t *at = data, *end = data + size;
		size_t plen = strlen(prefixes[k]);

		while (at < end) {
			const uint8_t *hit = memmem(at, (size_t)(end - at), prefixes[k], plen);
			size_t i;

			if (!hit)
				break;
			at = hit + 1;
			i = plen;
			while (hit + i < end && i < 40 && ((hit[i] >= '0' && hit[i] <= '9') || hit[i] == '.'))
				i++;
			if (i == plen || hit[plen] < '0' || hit[plen] > '9' || hit[i - 1] == '.')
				continue;
			/* Prefer "Bun v1.2.3 (abcdef12)". */
			if (k == 0 && hit + i + 2 < end && hit[i] == ' ' && hit[i + 1] == '(') {
				size_t j = i + 2;

				while (hit + j < end && j < i + 2 + 40 &&
				       ((hit[j] >= '0' && hit[j] <= '9') || (hit[j] >= 'a' && hit[j] <= 'f')))
					j++;
				if (hit + j < end && hit[j] == ')' && j > i + 2) {
					snprintf(out, outlen, "%.*s", (int)(j + 1), (const char *)hit);
					return;
				}
			}
			if (!fallback) {
				fallback = (const char *)hit;
				fallback_len = i;
			}
		}
	}
	if (fallback)
		snprintf(out, outlen, "%.*s", (int)fallback_len, fallback);
	else
		snprintf(out, outlen, "unknown version");
}

enum locate_status locate_boringssl(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	static const enum ssl_fn fns[PATTERN_FN_COUNT] = {
		[PATTERN_SSL_READ] = SSL_FN_READ,
		[PATTERN_SSL_WRITE] = SSL_FN_WRITE,
		[PATTERN_SSL_DO_HANDSHAKE] = SSL_FN_DO_HANDSHAKE,
	};
	static struct pattern parsed[N_ENTRIES][PATTERN_FN_COUNT];
	static int parsed_ok = -1;
	unsigned best_counts[PATTERN_FN_COUNT] = { 0 };
	const char *closest = NULL;
	int best_unique = -1, e, f, s;

	if (parsed_ok < 0) {
		parsed_ok = 1;
		for (e = 0; e < N_ENTRIES; e++)
			for (f = 0; f < PATTERN_FN_COUNT; f++)
				if (parse_pattern(table[e].hex[f], &parsed[e][f])) {
					fprintf(stderr, "agentsight-probe: bad pattern %s/%s (bug)\n", table[e].name,
						pattern_fn_names[f]);
					parsed_ok = 0;
				}
	}
	/* Only binaries that carry BoringSSL (its source path, from OPENSSL_PUT_ERROR's __FILE__) or are Bun. */
	if (!elf_image_contains(img, "ssl/ssl_lib.cc", 15) && !elf_image_contains(img, "Bun v", 5))
		return LOCATE_ABSENT;
	loc->family = "BoringSSL";
	loc->how = "pattern";
	find_bun_version(img->data, img->size, loc->build, sizeof(loc->build));
	loc->nfns = PATTERN_FN_COUNT;
	for (f = 0; f < PATTERN_FN_COUNT; f++)
		loc->fns[f].fn = fns[f];
	if (!parsed_ok) {
		snprintf(why, whylen, "the pattern table is invalid (bug)");
		return LOCATE_UNRECOGNISED;
	}
	for (e = 0; e < N_ENTRIES; e++) {
		unsigned counts[PATTERN_FN_COUNT];
		uint64_t offs[PATTERN_FN_COUNT] = { 0 };
		int unique = 0;

		for (f = 0; f < PATTERN_FN_COUNT; f++) {
			counts[f] = 0;
			for (s = 0; s < img->nsegs; s++) {
				size_t first = 0;
				unsigned n;

				if (!img->segs[s].exec)
					continue;
				n = count_matches(img->data + img->segs[s].offset, img->segs[s].filesz, &parsed[e][f], &first);
				if (n && !counts[f])
					offs[f] = img->segs[s].offset + first;
				counts[f] += n;
			}
			unique += counts[f] == 1;
		}
		if (unique == PATTERN_FN_COUNT) {
			snprintf(loc->method, sizeof(loc->method), "pattern set %s", table[e].name);
			for (f = 0; f < PATTERN_FN_COUNT; f++)
				loc->fns[f].offset = offs[f];
			return LOCATE_FOUND;
		}
		if (unique > best_unique) {
			best_unique = unique;
			closest = table[e].name;
			memcpy(best_counts, counts, sizeof(counts));
		}
	}
	snprintf(why, whylen, "no pattern set matches every function exactly once (closest %s: SSL_read %u, SSL_write %u, "
		 "SSL_do_handshake %u matches)", closest ? closest : "-", best_counts[PATTERN_SSL_READ],
		 best_counts[PATTERN_SSL_WRITE], best_counts[PATTERN_SSL_DO_HANDSHAKE]);
	for (f = 0; f < PATTERN_FN_COUNT; f++)
		snprintf(loc->fns[f].detail, sizeof(loc->fns[f].detail), "pattern matched %u times (need 1; closest set %s)",
			 best_counts[f], closest ? closest : "-");
	return LOCATE_UNRECOGNISED;
}

// SPDX-License-Identifier: Apache-2.0
/* The locator registry (locate.h): one entry per statically linked TLS stack, in the order they are tried. */
#include "locate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const struct tls_locator tls_locators[] = {
	{ .family = "Go crypto/tls", .version = 1, .locate = locate_go_tls },
	{ .family = "BoringSSL", .version = 3, .locate = locate_boringssl },
	{ .family = "rustls", .version = 3, .locate = locate_rustls },
	{ .family = "OpenSSL", .version = 5, .locate = locate_openssl },
};
const int n_tls_locators = (int)(sizeof(tls_locators) / sizeof(tls_locators[0]));

enum locate_status locate_all(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	enum locate_status st = LOCATE_ABSENT;
	char beside[256] = ""; /* stacks not recognised, for a FOUND answer's `why` */
	int i, f;

	for (i = 0; i < n_tls_locators; i++) {
		struct tls_location one;
		char one_why[256] = "";
		enum locate_status s;

		struct timespec t0, t1;

		memset(&one, 0, sizeof(one));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		s = tls_locators[i].locate(img, &one, one_why, sizeof(one_why));
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (getenv("AGENTSIGHT_LOCATE_DEBUG"))
			fprintf(stderr, "locator %s: status %d in %.1f ms\n", tls_locators[i].family, (int)s,
				(double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
		if (s == LOCATE_UNRECOGNISED) {
			size_t b = strlen(beside);

			bool named = strncmp(one.build, one.family, strlen(one.family)) == 0; /* "rustls 0.23.46" */

			snprintf(beside + b, sizeof(beside) - b, "%s%s%s%s%s not recognised: %s", b ? "; " : "",
				 named ? "" : one.family, named ? "" : " (", one.build, named ? "" : ")", one_why);
		}
		if (s == LOCATE_FOUND && st == LOCATE_FOUND && loc->nfns + one.nfns <= LOCATE_MAX_FNS) {
			/* A second stack in the same binary (Codex: rustls and OpenSSL): attached together. */
			size_t at = strlen(loc->build);

			for (f = 0; f < one.nfns; f++)
				loc->fns[loc->nfns++] = one.fns[f];
			snprintf(loc->build + at, sizeof(loc->build) - at, ", %s", one.build);
		} else if (s == LOCATE_FOUND && st == LOCATE_FOUND) {
			snprintf(why, whylen, "%s and %s: more than %d functions", loc->family, one.family,
				 LOCATE_MAX_FNS);
			return LOCATE_UNRECOGNISED; /* cannot happen with the locators of today (2 + 8 functions at most) */
		} else if (s == LOCATE_UNRECOGNISED && st == LOCATE_UNRECOGNISED) {
			/* Two stacks not recognised: both reported, the second's functions as attach failures too. */
			size_t at = strlen(loc->build), w = strlen(why);

			for (f = 0; f < one.nfns && loc->nfns < LOCATE_MAX_FNS; f++)
				loc->fns[loc->nfns++] = one.fns[f];
			snprintf(loc->build + at, sizeof(loc->build) - at, ", %s", one.build);
			snprintf(why + w, whylen - w, "; %s: %s", one.family, one_why);
		} else if (s == LOCATE_FOUND || (s == LOCATE_UNRECOGNISED && st == LOCATE_ABSENT)) {
			*loc = one;
			snprintf(why, whylen, "%s", s == LOCATE_FOUND ? "" : one_why);
			st = s;
		}
	}
	if (st == LOCATE_FOUND && beside[0])
		snprintf(why, whylen, "%s", beside); /* reported beside the attached stack (never silently unprobed) */
	return st;
}

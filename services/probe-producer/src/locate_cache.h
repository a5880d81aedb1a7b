/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cache of locator results (locate.h) per file identity, so that a binary located once (a 40-400 ms scan of a
 * stripped Bun, Rust or Go binary) is attached at once by every later run. One text file, `tls-locations.v1` in the
 * cache directory (--cache-dir; the CLI passes <data dir>/probe-cache), mode 0600 in a 0700 directory, one
 * tab-separated line per file appended with a single write (a torn or unparsable line is ignored).
 *
 * A line is used only when the file's (st_dev, st_ino, st_mtim, st_size) and the locators' versions all match: a
 * rebuilt or replaced binary, or a changed locator, is scanned again.
 */
#ifndef AGENTSIGHT_LOCATE_CACHE_H
#define AGENTSIGHT_LOCATE_CACHE_H

#include <stdbool.h>

#include "locate.h"

/** A cached outcome: the status, the location (FOUND, UNRECOGNISED) and the reason (UNRECOGNISED). */
struct locate_outcome {
	enum locate_status status;
	struct tls_location loc;
	char why[256];
};

/** Opens (creates) the cache in dir and loads it. Returns 0 or -errno; without a cache every lookup misses. */
int locate_cache_open(const char *dir);

/** Looks img up; true (and *out filled) on a hit. */
bool locate_cache_get(const struct elf_image *img, struct locate_outcome *out);

/** Records the outcome for img (in memory and in the file). Errors are reported on stderr once, then ignored. */
void locate_cache_put(const struct elf_image *img, const struct locate_outcome *o);

#endif

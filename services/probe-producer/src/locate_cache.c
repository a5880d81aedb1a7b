// SPDX-License-Identifier: Apache-2.0
/*
 * See locate_cache.h. Line format (fields separated by tabs; arrays by commas; numbers in decimal, offsets in hex):
 *
 *   dev ino mtime_ns size versions status family how method build why nfns fn:offset:ret,ret,...:detail ...
 *
 * `versions` is every locator's version joined by '.', so any locator change invalidates every line. Strings never
 * contain tabs or newlines (replaced by spaces when written).
 */
#define _GNU_SOURCE
#include "locate_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct entry {
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns;
	uint64_t size;
	struct locate_outcome o;
};

static struct {
	int fd; /* append-only cache file, -1 without a cache */
	bool write_failed;
	char versions[64];
	struct entry *entries;
	int n, cap;
} c = { .fd = -1 };

static void locator_versions(char *out, size_t len)
{
	size_t at = 0;
	int i;

	out[0] = 0;
	for (i = 0; i < n_tls_locators && at < len; i++)
		at += (size_t)snprintf(out + at, len - at, "%s%u", i ? "." : "", tls_locators[i].version);
}

/* Copies s into out (len bytes), tabs and newlines replaced by spaces. */
static void clean(char *out, size_t len, const char *s)
{
	size_t i;

	snprintf(out, len, "%s", s ? s : "");
	for (i = 0; out[i]; i++)
		if (out[i] == '\t' || out[i] == '\n' || out[i] == '\r')
			out[i] = ' ';
}

/* Interned copy of a family/how name read back from the file (they live as long as the producer). */
static const char *intern(const char *s)
{
	static char *names[32];
	static int nnames;
	int i;

	for (i = 0; i < nnames; i++)
		if (strcmp(names[i], s) == 0)
			return names[i];
	if (nnames == 32)
		return NULL;
	names[nnames] = strdup(s);
	return names[nnames] ? names[nnames++] : NULL;
}

static void add(const struct entry *e)
{
	int i;

	for (i = 0; i < c.n; i++)
		if (c.entries[i].dev == e->dev && c.entries[i].ino == e->ino) {
			c.entries[i] = *e; /* a later line for the same inode (rebuilt file) wins */
			return;
		}
	if (c.n == c.cap) {
		int cap = c.cap ? c.cap * 2 : 64;
		struct entry *p = realloc(c.entries, (size_t)cap * sizeof(*p));

		if (!p)
			return;
		c.entries = p;
		c.cap = cap;
	}
	c.entries[c.n++] = *e;
}

/* Parses one line (modified in place); false when it is malformed or of other locator versions. */
static bool parse_line(char *line, struct entry *e)
{
	char *f[12], *save = NULL, *tok;
	unsigned long long dev, ino, size;
	long long mtime;
	int nf = 0, status, i, nfns;

	memset(e, 0, sizeof(*e));
	while (nf < 12 && (tok = strtok_r(nf ? NULL : line, "\t", &save)))
		f[nf++] = tok;
	if (nf < 12 || sscanf(f[0], "%llu", &dev) != 1 || sscanf(f[1], "%llu", &ino) != 1 ||
	    sscanf(f[2], "%lld", &mtime) != 1 || sscanf(f[3], "%llu", &size) != 1 || strcmp(f[4], c.versions) ||
	    sscanf(f[5], "%d", &status) != 1 || status < LOCATE_ABSENT || status > LOCATE_UNRECOGNISED ||
	    sscanf(f[11], "%d", &nfns) != 1 || nfns < 0 || nfns > LOCATE_MAX_FNS)
		return false;
	e->dev = (dev_t)dev;
	e->ino = (ino_t)ino;
	e->mtime_ns = mtime;
	e->size = size;
	e->o.status = (enum locate_status)status;
	e->o.loc.family = f[6][0] != '-' ? intern(f[6]) : NULL;
	e->o.loc.how = f[7][0] != '-' ? intern(f[7]) : NULL;
	snprintf(e->o.loc.method, sizeof(e->o.loc.method), "%s", strcmp(f[8], "-") ? f[8] : "");
	snprintf(e->o.loc.build, sizeof(e->o.loc.build), "%s", strcmp(f[9], "-") ? f[9] : "");
	snprintf(e->o.why, sizeof(e->o.why), "%s", strcmp(f[10], "-") ? f[10] : "");
	if (status != LOCATE_ABSENT && (!e->o.loc.family || !e->o.loc.how))
		return false;
	for (i = 0; i < nfns; i++) {
		struct located_fn *fn = &e->o.loc.fns[i];
		char *spec = strtok_r(NULL, "\t", &save), *rets, *detail, *r, *rs = NULL;
		unsigned fnv;
		unsigned long long off;

		if (!spec || !(rets = strchr(spec, ':')) || !(detail = strchr(rets + 1, ':')))
			return false;
		*rets++ = 0;
		*detail++ = 0;
		if (sscanf(spec, "%u", &fnv) != 1 || fnv >= SSL_FN_COUNT)
			return false;
		r = strchr(spec, '@');
		if (!r || sscanf(r + 1, "%llx", &off) != 1)
			return false;
		fn->fn = (enum ssl_fn)fnv;
		fn->offset = off;
		for (r = strtok_r(rets, ",", &rs); r; r = strtok_r(NULL, ",", &rs)) {
			if (fn->nret == LOCATE_MAX_RETS || sscanf(r, "%llx", &off) != 1)
				return false;
			fn->ret_offsets[fn->nret++] = off;
		}
		snprintf(fn->detail, sizeof(fn->detail), "%s", detail);
	}
	e->o.loc.nfns = nfns;
	return true;
}

int locate_cache_open(const char *dir)
{
	char path[4096];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;

	locator_versions(c.versions, sizeof(c.versions));
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	snprintf(path, sizeof(path), "%s/tls-locations.v1", dir);
	c.fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (c.fd < 0)
		return -errno;
	f = fdopen(dup(c.fd), "r");
	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		struct entry e;
		size_t len = strlen(line);

		if (!len || line[len - 1] != '\n')
			continue; /* torn last line */
		line[len - 1] = 0;
		if (parse_line(line, &e))
			add(&e);
	}
	free(line);
	fclose(f);
	return 0;
}

bool locate_cache_get(const struct elf_image *img, struct locate_outcome *out)
{
	int i;

	for (i = 0; i < c.n; i++) {
		const struct entry *e = &c.entries[i];

		if (e->dev == img->dev && e->ino == img->ino && e->mtime_ns == img->mtime_ns && e->size == img->size) {
			*out = e->o;
			return true;
		}
	}
	return false;
}

void locate_cache_put(const struct elf_image *img, const struct locate_outcome *o)
{
	struct entry e = { .dev = img->dev, .ino = img->ino, .mtime_ns = img->mtime_ns, .size = img->size, .o = *o };
	char family[32], how[32], method[64], build[128], why[256], *line = NULL;
	size_t len = 0;
	FILE *m;
	int i;
	uint32_t r;

	add(&e);
	if (c.fd < 0)
		return;
	clean(family, sizeof(family), o->loc.family ? o->loc.family : "-");
	clean(how, sizeof(how), o->loc.how ? o->loc.how : "-");
	clean(method, sizeof(method), o->loc.method[0] ? o->loc.method : "-");
	clean(build, sizeof(build), o->loc.build[0] ? o->loc.build : "-");
	clean(why, sizeof(why), o->why[0] ? o->why : "-");
	m = open_memstream(&line, &len);
	if (!m)
		return;
	fprintf(m, "%llu\t%llu\t%lld\t%llu\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d", (unsigned long long)img->dev,
		(unsigned long long)img->ino, (long long)img->mtime_ns, (unsigned long long)img->size, c.versions,
		(int)o->status, family, how, method, build, why, o->loc.nfns);
	for (i = 0; i < o->loc.nfns; i++) {
		const struct located_fn *fn = &o->loc.fns[i];
		char detail[96];

		clean(detail, sizeof(detail), fn->detail);
		for (char *p = detail; *p; p++)
			if (*p == ':')
				*p = ';';
		fprintf(m, "\t%u@%" PRIx64 ":", (unsigned)fn->fn, fn->offset);
		for (r = 0; r < fn->nret; r++)
			fprintf(m, "%s%" PRIx64, r ? "," : "", fn->ret_offsets[r]);
		fprintf(m, ":%s", detail);
	}
	fputc('\n', m);
	fclose(m);
	if (write(c.fd, line, len) != (ssize_t)len && !c.write_failed) {
		c.write_failed = true;
		fprintf(stderr, "agentsight-probe: cannot write the locator cache: %s\n", strerror(errno));
	}
	free(line);
}

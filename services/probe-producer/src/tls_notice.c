// SPDX-License-Identifier: Apache-2.0
/* TLS notices (tls_notice.h). */
#include "tls_notice.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PENDING 1024
#define MAX_KEYS 128
#define MAX_PIDS_PER_KEY 256

static struct tls_hello pending[MAX_PENDING];
static int npending;

struct notice_key {
	char *binary, *library, *reason;
	uint64_t connections;
	uint32_t pids[MAX_PIDS_PER_KEY];
	int npids;
	uint64_t processes; /* distinct pids (also beyond MAX_PIDS_PER_KEY, approximately) */
};
static struct notice_key keys[MAX_KEYS];
static int nkeys;

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

bool tls_hello_sni(const uint8_t *b, size_t n, char *out, size_t outlen)
{
	size_t p = 5 + 4 + 2 + 32, end, l;

	out[0] = 0;
	if (n < p + 1 || b[0] != 0x16 || b[5] != 0x01)
		return false;
	p += 1 + b[p]; /* session id */
	if (p + 2 > n)
		return false;
	p += 2 + be16(b + p); /* cipher suites */
	if (p + 1 > n)
		return false;
	p += 1 + b[p]; /* compression methods */
	if (p + 2 > n)
		return false;
	end = p + 2 + be16(b + p);
	p += 2;
	if (end > n)
		end = n;
	while (p + 4 <= end) {
		uint32_t type = be16(b + p), len = be16(b + p + 2);

		p += 4;
		if (type == 0) { /* server_name: list length, name type 0 (host_name), name length, name */
			if (p + 5 > end || b[p + 2] != 0)
				return false;
			l = be16(b + p + 3);
			if (p + 5 + l > end || l == 0)
				return false;
			if (l >= outlen)
				l = outlen - 1;
			memcpy(out, b + p + 5, l);
			out[l] = 0;
			for (size_t i = 0; i < l; i++)
				if ((unsigned char)out[i] < 0x21 || (unsigned char)out[i] > 0x7e)
					out[i] = '?';
			return true;
		}
		p += len;
	}
	return false;
}

void tls_pending_add(const struct tls_hello *h)
{
	if (npending == MAX_PENDING) { /* keep the newest; the oldest becomes due at once */
		pending[0].deadline_ns = 0;
		return;
	}
	pending[npending++] = *h;
}

void tls_pending_resolve(uint32_t pid)
{
	int i = 0;

	while (i < npending) {
		if (pending[i].pid == pid)
			pending[i] = pending[--npending];
		else
			i++;
	}
}

bool tls_pending_take(uint32_t pid, uint64_t now_ns, struct tls_hello *out)
{
	int i;

	for (i = 0; i < npending; i++) {
		if (pid ? pending[i].pid == pid : pending[i].deadline_ns <= now_ns) {
			*out = pending[i];
			pending[i] = pending[--npending];
			return true;
		}
	}
	return false;
}

static char *dup_or_empty(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

bool tls_notice_count(uint32_t pid, const char *binary, const char *library, const char *reason)
{
	struct notice_key *k = NULL;
	int i;

	library = library ? library : "";
	for (i = 0; i < nkeys; i++) {
		if (!strcmp(keys[i].binary, binary) && !strcmp(keys[i].library, library) &&
		    !strcmp(keys[i].reason, reason)) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		if (nkeys == MAX_KEYS)
			k = &keys[MAX_KEYS - 1]; /* counted under the last key rather than lost */
		else {
			k = &keys[nkeys++];
			k->binary = dup_or_empty(binary);
			k->library = dup_or_empty(library);
			k->reason = dup_or_empty(reason);
		}
	}
	k->connections++;
	for (i = 0; i < k->npids; i++)
		if (k->pids[i] == pid)
			return false;
	k->processes++;
	if (k->npids < MAX_PIDS_PER_KEY)
		k->pids[k->npids++] = pid;
	return true;
}

void tls_notice_print(FILE *f, void (*json_string)(FILE *, const char *))
{
	int i;

	fprintf(f, ",\"tls_notices\":[");
	for (i = 0; i < nkeys; i++) {
		fprintf(f, "%s{\"binary\":", i ? "," : "");
		json_string(f, keys[i].binary);
		fprintf(f, ",\"library\":");
		json_string(f, keys[i].library);
		fprintf(f, ",\"reason\":");
		json_string(f, keys[i].reason);
		fprintf(f, ",\"connections\":%llu,\"processes\":%llu}", (unsigned long long)keys[i].connections,
			(unsigned long long)keys[i].processes);
	}
	fputc(']', f);
}

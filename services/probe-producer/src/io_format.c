// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "io_format.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The kernel's O_LARGEFILE (glibc defines O_LARGEFILE as 0 on 64-bit targets; Go passes the real bit). */
#if defined(__x86_64__)
#define KERNEL_O_LARGEFILE 0100000ull
#elif defined(__aarch64__)
#define KERNEL_O_LARGEFILE 0400000ull
#else
#define KERNEL_O_LARGEFILE 0ull
#endif

/* Composite flags (O_SYNC, O_TMPFILE) come before their parts (O_DSYNC, O_DIRECTORY). */
static const struct {
	uint64_t bits;
	const char *name;
} open_flag_names[] = {
	{ O_CREAT, "O_CREAT" },
	{ O_EXCL, "O_EXCL" },
	{ O_NOCTTY, "O_NOCTTY" },
	{ O_TRUNC, "O_TRUNC" },
	{ O_APPEND, "O_APPEND" },
	{ O_NONBLOCK, "O_NONBLOCK" },
	{ O_SYNC, "O_SYNC" },
	{ O_DSYNC, "O_DSYNC" },
	{ O_ASYNC, "O_ASYNC" },
	{ O_DIRECT, "O_DIRECT" },
	{ O_TMPFILE, "O_TMPFILE" },
	{ O_DIRECTORY, "O_DIRECTORY" },
	{ O_NOFOLLOW, "O_NOFOLLOW" },
	{ O_NOATIME, "O_NOATIME" },
	{ O_CLOEXEC, "O_CLOEXEC" },
	{ O_PATH, "O_PATH" },
	{ KERNEL_O_LARGEFILE, "O_LARGEFILE" },
};

void open_flags_text(uint64_t flags, char *out, size_t out_size)
{
	static const char *const modes[] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	uint64_t rest = flags & ~(uint64_t)O_ACCMODE;
	size_t used, i;

	if (!out_size)
		return;
	snprintf(out, out_size, "%s", modes[flags & O_ACCMODE]);
	for (i = 0; i < sizeof(open_flag_names) / sizeof(open_flag_names[0]); i++) {
		uint64_t b = open_flag_names[i].bits;

		if (!b || (rest & b) != b)
			continue;
		rest &= ~b;
		used = strlen(out);
		snprintf(out + used, out_size - used, "|%s", open_flag_names[i].name);
	}
	if (rest) {
		used = strlen(out);
		snprintf(out + used, out_size - used, "|0x%llx", (unsigned long long)rest);
	}
}

int sock_target_decode(const uint8_t *addr, size_t len, struct sock_target *t)
{
	uint16_t family;

	memset(t, 0, sizeof(*t));
	if (len < sizeof(family))
		return -1;
	memcpy(&family, addr, sizeof(family));
	if (family == AF_INET) {
		t->family = "inet";
		if (len >= 8) { /* family, port, address */
			memcpy(&t->port, addr + 2, 2);
			t->port = ntohs(t->port);
			inet_ntop(AF_INET, addr + 4, t->address, sizeof(t->address));
		}
	} else if (family == AF_INET6) {
		t->family = "inet6";
		if (len >= 24) { /* family, port, flowinfo, address (scope id optional) */
			memcpy(&t->port, addr + 2, 2);
			t->port = ntohs(t->port);
			inet_ntop(AF_INET6, addr + 8, t->address, sizeof(t->address));
		}
	} else if (family == AF_UNIX) {
		const uint8_t *p = addr + 2;
		size_t n = len - 2, i, o = 0;

		t->family = "unix";
		if (n && p[0] == 0) {
			/* Abstract name: every byte counts; shown as `@name`, inner NULs as `@` (as ss(8) does). */
			for (i = 0; i < n && o + 1 < sizeof(t->address); i++)
				t->address[o++] = p[i] ? (char)p[i] : '@';
		} else {
			for (i = 0; i < n && p[i] && o + 1 < sizeof(t->address); i++)
				t->address[o++] = (char)p[i];
		}
		t->address[o] = 0;
	} else {
		return -1;
	}
	return 0;
}

void json_write_string(FILE *out, const char *s, size_t len)
{
	size_t i;

	fputc('"', out);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

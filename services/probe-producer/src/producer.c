// SPDX-License-Identifier: Apache-2.0
/*
 * The producer's shared state and small helpers (producer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io_format.h"
#include "options.h"
#include "producer.h"
#include "shutdown.h"
#include "sysinfo.h"

struct producer g;

void print_json_string(const char *s)
{
	json_write_string(stdout, s, strlen(s));
}

void *grow(void *arr, int *cap, size_t elem)
{
	int ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(arr, (size_t)ncap * elem);

	if (!p)
		die("out of memory");
	*cap = ncap;
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die("out of memory");
	return d;
}

void refresh_wall_offset(void)
{
	uint64_t b1 = boottime_ns(), w = realtime_ns(), b2 = boottime_ns();

	g.wall_offset_ns = (int64_t)w - (int64_t)(b1 / 2 + b2 / 2);
}

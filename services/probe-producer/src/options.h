/* SPDX-License-Identifier: Apache-2.0 */
/* Command-line options of agentsight-probe (`--help`, ../README.md). */
#ifndef AGENTSIGHT_OPTIONS_H
#define AGENTSIGHT_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "event_common.h"

#define MAX_LIST 64 /* entries of each repeatable option */

/* Command-line options. */
struct options {
	uint32_t pids[MAX_LIST];
	int npids;
	uint32_t excludes[MAX_LIST];
	int nexcludes;
	const char *binaries[MAX_LIST];
	int nbinaries;
	const char *comms[MAX_COMMS];
	int ncomms;
	bool has_uid;
	uint32_t uid;
	const char *nats_url;
	const char *host;
	uint32_t partitions;
	uint64_t stats_interval_ms;
	uint64_t net_bytes_ms;        /* --net-bytes-ms: period of the `net_bytes` line, 0 = none (counters.h) */
	bool no_file_events;          /* --no-file-events */
	bool no_net_events;           /* --no-net-events */
	bool all_files;               /* --all-files: also opens of /proc, /sys, /dev */
	bool follow_exec;             /* --follow-exec: offer processes that exec to the controller (follow.h) */
	bool no_stdio;                /* --no-stdio */
	const char *cache_dir;        /* --cache-dir */
	const char *locate[MAX_LIST]; /* --locate */
	int nlocate;
	uint64_t hold_ms;    /* --hold-ms: bound of an attach hold, 0 = no holds (hold.h) */
	bool no_map_events;  /* --no-map-events: do not attach files mapped executable */
	bool no_tls_notices; /* --no-tls-notices: do not look for TLS no probe records (tls_notice.h) */
	bool system_wide;    /* --system-wide: attach uprobes for every process even with --pid */
};

extern struct options opt;

/** Fills opt from argv; `--help` prints the usage and exits 0, a bad option exits 2, a bad value dies (exit 1). */
void parse_args(int argc, char **argv);

#endif

// SPDX-License-Identifier: Apache-2.0
/*
 * Command-line options of agentsight-probe (options.h): the flags, their defaults and checks. See ../README.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_common.h"
#include "options.h"
#include "shutdown.h"

struct options opt;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: agentsight-probe [options]\n"
		"  --pid N              trace only N and its descendants (repeatable)\n"
		"  --comm NAME          trace only processes named NAME (repeatable, up to 8)\n"
		"  --uid N              trace only processes of uid N\n"
		"  --exclude-pid N      never trace N and its descendants (repeatable)\n"
		"  --binary-path P      also attach to binary/library P (repeatable)\n"
		"  --nats-url URL       default $NATS_URL or nats://127.0.0.1:7422 (agentsight's own NATS); credentials from\n"
		"                       $NATS_CREDS (.creds file) or $NATS_USER/$NATS_PASSWORD, never from argv\n"
		"  --host NAME          host name in records and subjects (default: hostname)\n"
		"  --partitions N       partitions of agentsight.raw.ssl.<host>.<p> (default 8)\n"
		"  --stats-interval-ms N  period of loss records (default 5000)\n"
		"  --net-bytes-ms N     print the per-process network bytes on stdout every N ms (a `net_bytes` line;\n"
		"                       default 0: only on the stats and stopped lines)\n"
		"  --no-file-events     do not record file opens\n"
		"  --no-net-events      do not record connect() calls\n"
		"  --all-files          also record opens under /proc, /sys and /dev (skipped and counted by default)\n"
		"  --follow-exec        offer every process that execs to the controller on stdout, trace it if stdin\n"
		"                       answers `trace <pid>` (see follow.h)\n"
		"  --no-stdio           do not record reads/writes on fds 0, 1, 2\n"
		"  --cache-dir DIR      keep located TLS functions of stripped binaries in DIR (locate_cache.h)\n"
		"  --locate PATH        print what the locators find in PATH (one JSON line; repeatable) and exit: no BPF,\n"
		"                       no NATS (with --cache-dir, the cache is used and filled)\n"
		"  --hold-ms N          stop a traced process that runs a file not checked yet until it is attached, at most\n"
		"                       N ms (default 1000; 0: never stop processes)\n"
		"  --no-map-events      do not check files that traced processes map executable (mmap/mprotect PROT_EXEC)\n"
		"  --no-tls-notices     do not report TLS connections that no probe records\n"
		"  --system-wide        attach the uprobes for every process even with --pid (default with --pid: per traced\n"
		"                       process, so untraced processes pay nothing)\n");
}

static uint64_t parse_u64(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || !*s || *end)
		die("invalid %s: %s", what, s);
	return v;
}

void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "comm", required_argument, NULL, 'c' },
		{ "uid", required_argument, NULL, 'u' },
		{ "exclude-pid", required_argument, NULL, 'x' },
		{ "binary-path", required_argument, NULL, 'b' },
		{ "nats-url", required_argument, NULL, 'n' },
		{ "host", required_argument, NULL, 'H' },
		{ "partitions", required_argument, NULL, 'P' },
		{ "stats-interval-ms", required_argument, NULL, 's' },
		{ "net-bytes-ms", required_argument, NULL, 'B' },
		{ "no-file-events", no_argument, NULL, 'F' },
		{ "no-net-events", no_argument, NULL, 'N' },
		{ "all-files", no_argument, NULL, 'A' },
		{ "follow-exec", no_argument, NULL, 'E' },
		{ "no-stdio", no_argument, NULL, 'S' },
		{ "cache-dir", required_argument, NULL, 'C' },
		{ "locate", required_argument, NULL, 'L' },
		{ "hold-ms", required_argument, NULL, 'W' },
		{ "no-map-events", no_argument, NULL, 'M' },
		{ "no-tls-notices", no_argument, NULL, 'T' },
		{ "system-wide", no_argument, NULL, 'Y' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opt.nats_url = getenv("NATS_URL") && *getenv("NATS_URL") ? getenv("NATS_URL") : "nats://127.0.0.1:7422";
	opt.partitions = 8;
	opt.stats_interval_ms = 5000;
	opt.hold_ms = 1000;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (opt.npids == MAX_LIST)
				die("too many --pid");
			opt.pids[opt.npids++] = (uint32_t)parse_u64(optarg, "--pid");
			break;
		case 'x':
			if (opt.nexcludes == MAX_LIST)
				die("too many --exclude-pid");
			opt.excludes[opt.nexcludes++] = (uint32_t)parse_u64(optarg, "--exclude-pid");
			break;
		case 'b':
			if (opt.nbinaries == MAX_LIST)
				die("too many --binary-path");
			opt.binaries[opt.nbinaries++] = optarg;
			break;
		case 'c':
			if (strlen(optarg) >= TASK_COMM_LEN_)
				die("--comm longer than %d characters: %s", TASK_COMM_LEN_ - 1, optarg);
			if (opt.ncomms == MAX_COMMS)
				die("more than %d --comm", MAX_COMMS);
			opt.comms[opt.ncomms++] = optarg;
			break;
		case 'u':
			opt.has_uid = true;
			opt.uid = (uint32_t)parse_u64(optarg, "--uid");
			break;
		case 'n':
			opt.nats_url = optarg;
			break;
		case 'H':
			opt.host = optarg;
			break;
		case 'P':
			opt.partitions = (uint32_t)parse_u64(optarg, "--partitions");
			if (!opt.partitions)
				die("--partitions must be > 0");
			break;
		case 's':
			opt.stats_interval_ms = parse_u64(optarg, "--stats-interval-ms");
			if (!opt.stats_interval_ms)
				die("--stats-interval-ms must be > 0");
			break;
		case 'B':
			opt.net_bytes_ms = parse_u64(optarg, "--net-bytes-ms");
			break;
		case 'F':
			opt.no_file_events = true;
			break;
		case 'N':
			opt.no_net_events = true;
			break;
		case 'A':
			opt.all_files = true;
			break;
		case 'E':
			opt.follow_exec = true;
			break;
		case 'S':
			opt.no_stdio = true;
			break;
		case 'C':
			opt.cache_dir = optarg;
			break;
		case 'L':
			if (opt.nlocate == MAX_LIST)
				die("too many --locate");
			opt.locate[opt.nlocate++] = optarg;
			break;
		case 'W':
			opt.hold_ms = parse_u64(optarg, "--hold-ms");
			break;
		case 'M':
			opt.no_map_events = true;
			break;
		case 'T':
			opt.no_tls_notices = true;
			break;
		case 'Y':
			opt.system_wide = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind < argc)
		die("unexpected argument: %s", argv[optind]);
}

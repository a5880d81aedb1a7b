/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The producer's state, shared by its files: the BPF objects and links, the files checked for TLS functions and
 * their probes, the traced processes, the record sequence and the publisher (one instance, `g`); and the small
 * helpers every file uses.
 */
#ifndef AGENTSIGHT_PRODUCER_H
#define AGENTSIGHT_PRODUCER_H

#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "process.skel.h"
#include "records.h"
#include "ssl_event.h"
#include "sslsniff.skel.h"

#define PID_BUCKETS 4096
#define MAX_ATTACH_FAILURES 256 /* attach failures kept for the loss record / stats line */

/* Stream position of one (pid, ssl, dir). */
struct conn {
	uint64_t ssl;
	uint8_t dir;
	uint64_t pos;       /* bytes of the direction's stream seen so far (including the current call) */
	uint64_t call_base; /* stream offset of the current call's first byte */
	struct conn *next;
};

/* What the producer knows about one traced process. */
struct pidinfo {
	uint32_t pid;
	bool known; /* an exec or snapshot record was published */
	struct conn *conns;
	struct bpf_link **links; /* per-process attachment: this process' uprobe links */
	int nlinks, links_cap;
	int *tgts; /* per-process attachment: indexes in g.targets attached for this process */
	int ntgts, tgts_cap;
	uint64_t stdio_pos[3][2];  /* stdio bytes seen per (fd, dir), including the current call */
	uint64_t stdio_base[3][2]; /* stream offset of the current stdio call's first byte per (fd, dir) */
	struct pidinfo *next;
};

/* A binary or library checked for TLS functions (whether or not anything was attached): each inode is checked once. */
struct target {
	dev_t dev;
	ino_t ino;
	char *path;    /* real path (or /proc/<pid>/exe when the file is not reachable by a path) */
	bool attached; /* at least one function probed */
	char *why; /* not attached because a TLS stack was found but not recognised: the locator's message; else NULL */
	char *open_path;            /* the path the file was checked through (may be /proc/<pid>/...) */
	int probe_first, probe_end; /* its probes: ids probe_first..probe_end-1 */
};

/* One attached (binary, function): its id is the BPF cookie of both links and the index in `probe_stats`. */
struct probe {
	const char *binary; /* target path */
	const char *fn;     /* ssl_fns[] */
	/* Per-process attachment: where to attach for each traced process (attach_fn's arguments). */
	enum ssl_fn sfn;
	const char *func_name; /* by symbol, or NULL: at offset */
	uint64_t offset;
	uint64_t *ret_offsets; /* Go: plain uprobes at each RET instead of a uretprobe */
	uint32_t nret;
	bool failure_reported; /* a per-process attach of it failed and was reported */
};

/* The producer's state (one instance, g). */
struct producer {
	struct sslsniff_bpf *ssl_skel;
	struct process_bpf *proc_skel;
	struct bpf_link **links;
	int nlinks, links_cap;
	struct bpf_link *exec_wakeup; /* sslsniff.bpf.c exec_wakeup */
	struct target *targets;
	int ntargets, targets_cap;
	struct probe probes[MAX_PROBES];
	int nprobes;
	struct rec_attach_failure failures[MAX_ATTACH_FAILURES];
	int nfailures;
	uint64_t failures_dropped; /* failures beyond MAX_ATTACH_FAILURES (counted, not listed) */
	bool no_more_attach;       /* stopping: the links are being destroyed */
	bool per_pid; /* uprobes attached per traced process (--pid without --follow-exec, --system-wide) */
	struct ring_buffer *rb;
	struct publisher *pub;
	msgpack_sbuffer sbuf;

	char host[256];
	char host_token[256];
	char boot_id[64];
	uint64_t run;
	uint64_t seq;
	int64_t wall_offset_ns;              /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	uint64_t records;                    /* ring-buffer records read */
	bool slicing;                        /* on_record ends a read after a slice (pacing.h); off while stopping */
	uint64_t slice_records, slice_bytes; /* records and bytes read in the current slice */
	uint64_t cycle_records;              /* records read since the last poll window ended */
	bool file_events;                    /* file opens are recorded */
	bool net_events;                     /* connect() calls are recorded */
	bool stdio_events;                   /* stdio reads/writes are recorded */
	const char *net_bytes_missing; /* why per-process network bytes are not counted (kernel), or NULL: counted */
	uint64_t net_since_ns;         /* when the network byte counters were attached, CLOCK_BOOTTIME ns */
	bool have_last_seq;
	uint64_t last_seq;
	struct pidinfo *pids[PID_BUCKETS];
};

extern struct producer g;

/** Writes s as a JSON string (quoted, escaped) on stdout. */
void print_json_string(const char *s);

/** Doubles the capacity *cap of the array arr of elements of elem bytes (64 at first); dies when out of memory. */
void *grow(void *arr, int *cap, size_t elem);

/** strdup that dies when out of memory. */
char *xstrdup(const char *s);

/** g.wall_offset_ns from the clocks now (CLOCK_REALTIME - CLOCK_BOOTTIME, ns). */
void refresh_wall_offset(void);

#endif

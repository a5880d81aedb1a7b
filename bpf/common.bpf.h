/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Maps and filters shared by sslsniff.bpf.c and process.bpf.c. Each object gets its own copy of these definitions;
 * the producer makes both objects use the same maps (bpf_map__reuse_fd) so there is one ring buffer, one set of
 * filter maps and one drop counter.
 */
#ifndef AGENTSIGHT_COMMON_BPF_H
#define AGENTSIGHT_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "event_common.h"

char LICENSE[] SEC("license") = "GPL";

/* Filter configuration, set by the producer before load. */
const volatile bool filter_pids = false; /* only pids in traced_pids */
const volatile bool filter_uid = false;  /* only target_uid */
const volatile __u32 target_uid = 0;
const volatile __u32 n_comms = 0; /* > 0: only processes whose (leader) comm is one of target_comms */
const volatile char target_comms[MAX_COMMS][TASK_COMM_LEN_] = {};

/* All records: SSL fragments and process events. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RINGBUF_SIZE);
} events SEC(".maps");

/* Per-CPU drop counters, indexed by enum drop_idx. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

/* tgids traced under --pid (roots + descendants, maintained on fork/exit). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} traced_pids SEC(".maps");

/* tgids never traced (--exclude-pid roots + descendants, the producer itself). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} excluded_pids SEC(".maps");

/* Adds n records / bytes to the drop counters. */
static __always_inline void count_drop(__u64 records, __u64 bytes)
{
	__u32 k = DROP_RECORDS;
	__u64 *v = bpf_map_lookup_elem(&drops, &k);

	if (v)
		*v += records;
	k = DROP_BYTES;
	v = bpf_map_lookup_elem(&drops, &k);
	if (v)
		*v += bytes;
}

/* Wakeup flag for a ring-buffer submit: wake the producer only when much data waits (it also consumes periodically). */
static __always_inline __u64 wakeup_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EVENTS_WAKEUP_THRESHOLD ? BPF_RB_FORCE_WAKEUP
											: BPF_RB_NO_WAKEUP;
}

/*
 * Emits one record: the hdr_size bytes at hdr (the record's header, filled by the caller; 8-byte aligned, as are
 * ring-buffer records), then n bytes of user memory at src, in a ring-buffer reservation with room for cap data bytes
 * (a constant, so the verifier knows the record's size). 0, or -1 when the reservation failed or the user memory could
 * not be read (nothing emitted then).
 */
static __always_inline int emit_sized(const void *hdr, const __u32 hdr_size, __u64 src, __u64 n, const __u64 cap)
{
	void *e = bpf_ringbuf_reserve(&events, hdr_size + cap, 0);

	if (!e)
		return -1;
	/* Known alignment: copied in 8-byte words, not byte by byte (3x the instructions otherwise). */
	__builtin_memcpy(__builtin_assume_aligned(e, 8), __builtin_assume_aligned(hdr, 8), hdr_size);
	barrier_var(n);
	if (n > cap || bpf_probe_read_user(e + hdr_size, n, (const void *)src)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return -1;
	}
	bpf_ringbuf_submit(e, wakeup_flags());
	return 0;
}

/*
 * emit_sized for one fragment of a call (n <= frag_max bytes) in the smallest size class that holds it: 512 B, 4 KiB
 * or frag_max bytes of data, so small calls do not waste ring space. The consumer sizes data by the header's
 * fragment length, not by the record's size.
 */
static __always_inline int emit_fragment(const void *hdr, const __u32 hdr_size, __u64 src, __u64 n,
					 const __u64 frag_max)
{
	if (n <= 512)
		return emit_sized(hdr, hdr_size, src, n, 512);
	if (n <= 4096)
		return emit_sized(hdr, hdr_size, src, n, 4096);
	return emit_sized(hdr, hdr_size, src, n, frag_max);
}

/*
 * The last `bytes` bytes of a call are lost (a failed fragment, or a call too large): counts them in `drops` as the
 * fragments of frag_max bytes they would have filled, and returns that fragment count. Consumers then see a prefix of
 * the call, never a hole.
 */
static __always_inline __u64 drop_fragments(__u64 bytes, const __u64 frag_max)
{
	__u64 frags = (bytes + frag_max - 1) / frag_max;

	count_drop(frags, bytes);
	return frags;
}

static __always_inline bool comm_equals(const char *comm, int k)
{
#pragma unroll
	for (int i = 0; i < TASK_COMM_LEN_; i++) {
		if (comm[i] != target_comms[k][i])
			return false;
		if (comm[i] == 0)
			return true;
	}
	return true;
}

static __always_inline bool comm_matches(const char *comm)
{
#pragma unroll
	for (int k = 0; k < MAX_COMMS; k++)
		if (k < n_comms && comm_equals(comm, k))
			return true;
	return false;
}

/* True if the process tgid (current task or task) passes --pid/--uid/--comm/--exclude-pid. */
static __always_inline bool pid_allowed(__u32 tgid, __u32 uid, struct task_struct *task)
{
	if (bpf_map_lookup_elem(&excluded_pids, &tgid))
		return false;
	if (filter_pids && !bpf_map_lookup_elem(&traced_pids, &tgid))
		return false;
	if (filter_uid && uid != target_uid)
		return false;
	if (n_comms) {
		char comm[TASK_COMM_LEN_];

		BPF_CORE_READ_STR_INTO(&comm, task, group_leader, comm);
		if (!comm_matches(comm))
			return false;
	}
	return true;
}

#endif

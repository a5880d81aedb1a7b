// SPDX-License-Identifier: Apache-2.0
/* --follow-exec: see follow.h. */
#include <bpf/bpf.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "io_format.h"

/* Verdicts, direct-mapped by pid: a collision forgets the older process' verdict, which can only make a skipped
 * process' in-flight records pass (over-capture, never a loss): traced descendants do not depend on it (the kernel
 * copies their traced_pids value on fork). */
#define VERDICTS 65536

enum verdict { V_NONE = 0, V_TRACE = 1, V_SKIP = 2 };

static struct {
	bool on;
	int map_fd;
	uint32_t pid[VERDICTS];
	uint8_t verdict[VERDICTS];
	char inbuf[4096];
	size_t inlen;
} f;

void follow_init(int traced_map_fd)
{
	f.on = true;
	f.map_fd = traced_map_fd;
}

bool follow_enabled(void)
{
	return f.on;
}

static enum verdict verdict_of(uint32_t pid)
{
	unsigned i = pid % VERDICTS;

	return f.pid[i] == pid ? (enum verdict)f.verdict[i] : V_NONE;
}

static void remember(uint32_t pid, enum verdict v)
{
	unsigned i = pid % VERDICTS;

	f.pid[i] = pid;
	f.verdict[i] = (uint8_t)v;
}

void follow_forget(uint32_t pid)
{
	if (f.on && f.pid[pid % VERDICTS] == pid)
		f.verdict[pid % VERDICTS] = V_NONE;
}

static void set_traced(uint32_t pid, bool traced)
{
	uint8_t v = TRACED;

	if (traced)
		bpf_map_update_elem(f.map_fd, &pid, &v, BPF_ANY);
	else
		bpf_map_delete_elem(f.map_fd, &pid);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads stdin until the answer for pid (answers for other pids, late ones, are discarded). */
static enum verdict await_answer(uint32_t pid)
{
	uint64_t deadline = now_ms() + FOLLOW_ANSWER_MS;

	for (;;) {
		char *nl;

		while ((nl = memchr(f.inbuf, '\n', f.inlen))) {
			char word[8];
			unsigned long p;
			enum verdict v = V_NONE;

			*nl = 0;
			if (sscanf(f.inbuf, "%7s %lu", word, &p) == 2 && p == pid)
				v = strcmp(word, "trace") == 0 ? V_TRACE : V_SKIP;
			f.inlen -= (size_t)(nl + 1 - f.inbuf);
			memmove(f.inbuf, nl + 1, f.inlen);
			if (v)
				return v;
		}
		if (f.inlen == sizeof(f.inbuf))
			f.inlen = 0; /* a line this long is not an answer */
		uint64_t t = now_ms();
		if (t >= deadline)
			return V_NONE;
		struct pollfd pfd = { .fd = 0, .events = POLLIN };
		int r = poll(&pfd, 1, (int)(deadline - t));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return V_NONE;
		ssize_t n = read(0, f.inbuf + f.inlen, sizeof(f.inbuf) - f.inlen);
		if (n <= 0)
			return V_NONE; /* the controller closed stdin: no more answers */
		f.inlen += (size_t)n;
	}
}

static void print_offer(const struct as_proc_event *e)
{
	uint32_t i, start;
	bool first = true;
	char comm[TASK_COMM_LEN_ + 1];

	memcpy(comm, e->comm, TASK_COMM_LEN_);
	comm[TASK_COMM_LEN_] = 0;
	printf("{\"event\":\"exec_offer\",\"pid\":%u,\"ppid\":%u,\"uid\":%u,\"comm\":", e->pid, e->ppid, e->uid);
	json_write_string(stdout, comm, strlen(comm));
	printf(",\"filename\":");
	json_write_string(stdout, e->filename, strnlen(e->filename, sizeof(e->filename)));
	printf(",\"argv\":[");
	for (i = 0, start = 0; i <= e->args_len && e->args_len <= PROC_ARGS_MAX; i++) {
		if (i == e->args_len || e->args[i] == 0) {
			if (i == e->args_len && start == i)
				break;
			if (!first)
				putchar(',');
			json_write_string(stdout, e->args + start, i - start);
			first = false;
			start = i + 1;
		}
	}
	printf("]}\n");
	fflush(stdout);
}

bool follow_decide(const struct as_proc_event *e)
{
	enum verdict v;

	if (verdict_of(e->ppid) == V_TRACE) {
		v = V_TRACE;
	} else {
		print_offer(e);
		v = await_answer(e->pid);
		if (v == V_NONE) {
			fprintf(stderr, "agentsight-probe: no verdict on pid %u within %d ms: not traced\n", e->pid,
				FOLLOW_ANSWER_MS);
			v = V_SKIP;
		}
	}
	set_traced(e->pid, v == V_TRACE);
	remember(e->pid, v);
	return v == V_TRACE;
}

static uint32_t parent_of(uint32_t pid)
{
	char path[64], buf[512];
	FILE *fp;
	size_t n;
	char *rp;
	unsigned long ppid = 0;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	rp = strrchr(buf, ')');
	if (!rp || sscanf(rp + 1, " %*c %lu", &ppid) != 1)
		return 0;
	return (uint32_t)ppid;
}

bool follow_dropped(uint32_t pid, uint32_t ppid)
{
	enum verdict v;

	if (!f.on)
		return false;
	v = verdict_of(pid);
	if (v)
		return v == V_SKIP;
	/* No verdict: traced from the start (--pid), or forked (no exec) by a provisional process before its verdict. */
	if (!ppid)
		ppid = parent_of(pid);
	if (ppid && verdict_of(ppid) == V_SKIP) {
		set_traced(pid, false);
		remember(pid, V_SKIP);
		return true;
	}
	remember(pid, V_TRACE); /* asked once per process */
	return false;
}

// SPDX-License-Identifier: Apache-2.0
/* Held processes and their release (hold.h). */
#include "hold.h"

#include <bpf/bpf.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "hold_event.h"

#define MAX_HELD 256
#define WATCH_MS 5

struct held {
	uint32_t pid;
	uint64_t since_ns; /* CLOCK_MONOTONIC */
	bool released;     /* by the watchdog */
};

static struct {
	pthread_mutex_t mu;
	pthread_t watchdog;
	bool running;
	uint64_t bound_ns;
	int checked_fd;
	struct held held[MAX_HELD];
	int nheld;
	struct hold_stats st;
} h = { .mu = PTHREAD_MUTEX_INITIALIZER, .checked_fd = -1 };

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *watchdog(void *arg)
{
	(void)arg;
	for (;;) {
		uint64_t now;
		int i;

		usleep(WATCH_MS * 1000);
		pthread_mutex_lock(&h.mu);
		if (!h.running) {
			pthread_mutex_unlock(&h.mu);
			return NULL;
		}
		now = mono_ns();
		for (i = 0; i < h.nheld; i++) {
			if (!h.held[i].released && now - h.held[i].since_ns >= h.bound_ns) {
				h.held[i].released = true;
				h.st.misses++;
				kill((pid_t)h.held[i].pid, SIGCONT);
			}
		}
		pthread_mutex_unlock(&h.mu);
	}
}

int hold_init(uint64_t bound_ms, int checked_map_fd)
{
	h.bound_ns = bound_ms * 1000000ull;
	h.checked_fd = checked_map_fd;
	h.running = true;
	return pthread_create(&h.watchdog, NULL, watchdog, NULL);
}

void hold_begin(uint32_t pid)
{
	pthread_mutex_lock(&h.mu);
	if (h.nheld == MAX_HELD) { /* never expected: release the oldest now rather than lose track of it */
		kill((pid_t)h.held[0].pid, SIGCONT);
		if (!h.held[0].released)
			h.st.misses++;
		memmove(&h.held[0], &h.held[1], sizeof(h.held[0]) * (MAX_HELD - 1));
		h.nheld--;
	}
	h.held[h.nheld++] = (struct held){ .pid = pid, .since_ns = mono_ns() };
	pthread_mutex_unlock(&h.mu);
}

bool hold_end(uint32_t pid)
{
	bool missed = false;
	int i;

	pthread_mutex_lock(&h.mu);
	for (i = 0; i < h.nheld; i++) {
		if (h.held[i].pid != pid)
			continue;
		uint64_t us = (mono_ns() - h.held[i].since_ns) / 1000;

		missed = h.held[i].released;
		if (!missed) {
			kill((pid_t)pid, SIGCONT);
			h.st.holds++;
			h.st.total_us += us;
			if (us > h.st.max_us)
				h.st.max_us = us;
		}
		memmove(&h.held[i], &h.held[i + 1], sizeof(h.held[0]) * (size_t)(h.nheld - i - 1));
		h.nheld--;
		break;
	}
	pthread_mutex_unlock(&h.mu);
	return missed;
}

void hold_mark_checked(const struct stat *st, bool tls)
{
	struct inode_key k = { .dev = ((uint64_t)major(st->st_dev) << 20) | minor(st->st_dev), .ino = st->st_ino };
	uint8_t v = tls ? INODE_TLS : INODE_CHECKED;

	if (h.checked_fd >= 0)
		bpf_map_update_elem(h.checked_fd, &k, &v, BPF_ANY);
}

void hold_release_all(void)
{
	bool was_running;
	int i;

	pthread_mutex_lock(&h.mu);
	for (i = 0; i < h.nheld; i++)
		if (!h.held[i].released)
			kill((pid_t)h.held[i].pid, SIGCONT);
	h.nheld = 0;
	was_running = h.running;
	h.running = false;
	pthread_mutex_unlock(&h.mu);
	if (was_running)
		pthread_join(h.watchdog, NULL);
}

void hold_get_stats(struct hold_stats *out)
{
	pthread_mutex_lock(&h.mu);
	*out = h.st;
	pthread_mutex_unlock(&h.mu);
}

// SPDX-License-Identifier: Apache-2.0
/*
 * Per-process attachment (attach_pid.h, g.per_pid): the uprobes of a target attached for each traced process only.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "attach_pid.h"
#include "pids.h"
#include "producer.h"
#include "ringbuf.h"

/* ---- per-process attachment (g.per_pid) ---- */

/* A path that opens the file of t now: hint, the real path or the path it was checked through, if still that inode. */
static const char *target_path(const struct target *t, const char *hint)
{
	const char *cands[3] = { hint, t->path, t->open_path };
	struct stat st;
	int i;

	for (i = 0; i < 3; i++)
		if (cands[i] && stat(cands[i], &st) == 0 && st.st_dev == t->dev && st.st_ino == t->ino)
			return cands[i];
	return NULL;
}

/*
 * Per-process attachment: attaches every probe of target t for process pid (once per process and target), through
 * hint when it names the file (/proc/<pid>/exe, a mapping's fd). The uprobes are perf events of that process: the
 * kernel puts breakpoints only in its memory, so other processes using the same file pay nothing. A process that has
 * exited meanwhile is skipped; another failure is reported once per probe as an attach failure.
 */
void attach_target_pid(struct target *t, uint32_t pid, const char *hint)
{
	struct pidinfo *pi;
	const char *path;
	char why[256];
	int i, id, err;

	if (!g.per_pid || !t || !t->attached || g.no_more_attach)
		return;
	pi = pid_get(pid, true);
	for (i = 0; i < pi->ntgts; i++)
		if (pi->tgts[i] == (int)(t - g.targets))
			return;
	path = target_path(t, hint);
	if (!path)
		return; /* the file is not reachable any more (deleted, its process gone) */
	for (id = t->probe_first; id < t->probe_end; id++) {
		err = attach_probe_links(id, path, (int)pid, &pi->links, &pi->nlinks, &pi->links_cap, why, sizeof(why));
		if (err == -ESRCH)
			return; /* exited */
		if (err && !g.probes[id].failure_reported) {
			g.probes[id].failure_reported = true;
			attach_failed(t->path, g.probes[id].fn, "pid %u: %s", pid, why);
		}
	}
	if (pi->ntgts == pi->tgts_cap)
		pi->tgts = grow(pi->tgts, &pi->tgts_cap, sizeof(*pi->tgts));
	pi->tgts[pi->ntgts++] = (int)(t - g.targets);
	{
		uint8_t one = 1;

		bpf_map_update_elem(bpf_map__fd(g.proc_skel->maps.probed_pids), &pid, &one, BPF_ANY); /* forks held */
	}
}

/* Per-process attachment: removes every uprobe link of a process (it exited or executed a new file). */
void detach_pid(struct pidinfo *pi)
{
	if (pi->ntgts)
		bpf_map_delete_elem(bpf_map__fd(g.proc_skel->maps.probed_pids), &pi->pid);
	while (pi->nlinks > 0)
		bpf_link__destroy(pi->links[--pi->nlinks]);
	free(pi->links);
	pi->links = NULL;
	pi->links_cap = 0;
	pi->ntgts = 0;
}

/*
 * Per-process attachment: a process forked by a probed process runs on in the forked image (bpf/hold.bpf.h
 * fork_ran_on: its first syscall outside the spawn sequence; stopped when `held`): it gets the probes of the checked
 * files it maps, the parent's (its /proc/<pid>/maps, so a child of such a child is served alike). A child that
 * execs first sends no record and gets no links.
 */
void handle_fork(const struct as_fork_event *e, size_t size)
{
	if (malformed(size < sizeof(*e), "fork", size))
		return;
	attach_mapped_cb(e->pid, NULL);
}

/* Per-process attachment at start: a traced process already running gets the probes of the files it maps. */
void attach_mapped_cb(uint32_t pid, void *ctx)
{
	char maps[64], line[PATH_MAX + 128];
	const char *path;
	dev_t dev;
	ino_t ino;
	FILE *f;

	(void)ctx;
	snprintf(maps, sizeof(maps), "/proc/%u/maps", pid);
	if (!(f = fopen(maps, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		if (parse_maps_line(line, &dev, &ino, &path))
			attach_target_pid(target_of(dev, ino), pid, NULL);
	fclose(f);
}

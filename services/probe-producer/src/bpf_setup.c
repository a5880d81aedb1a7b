// SPDX-License-Identifier: Apache-2.0
/*
 * Loading the BPF objects (bpf_setup.h): filters from the options, shared maps, the process tracepoints attached and
 * the traced / excluded pids filled in.
 */
#include <bpf/bpf.h>
#include <bpf/btf.h>
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

#include "bpf_setup.h"
#include "follow.h"
#include "hold.h"
#include "options.h"
#include "producer.h"
#include "shutdown.h"
#include "sysinfo.h"

/*
 * Whether the running kernel has every tracepoint of the NULL-terminated `names` as a BTF-enabled tracepoint (a
 * `btf_trace_<name>` typedef in /sys/kernel/btf/vmlinux), which is what a SEC("tp_btf/<name>") program attaches to;
 * unlike tracefs, BTF needs no mount. False when the kernel's BTF cannot be read.
 */
static bool kernel_has_btf_tracepoints(const char *const *names)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool all = vmlinux != NULL;
	char type[128];

	for (; all && *names; names++) {
		snprintf(type, sizeof(type), "btf_trace_%s", *names);
		all = btf__find_by_name_kind(vmlinux, type, BTF_KIND_TYPEDEF) >= 0;
	}
	btf__free(vmlinux);
	return all;
}

/* ---- BPF setup ---- */

int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static void add_pid(int map_fd, uint32_t pid)
{
	uint8_t one = 1;

	bpf_map_update_elem(map_fd, &pid, &one, BPF_ANY);
}

static void add_pid_cb(uint32_t pid, void *ctx)
{
	add_pid(*(int *)ctx, pid);
}

#define SET_FILTERS(rodata)                                                                                            \
	do {                                                                                                           \
		(rodata)->filter_pids = opt.npids > 0 || opt.follow_exec;                                              \
		(rodata)->filter_uid = opt.has_uid;                                                                    \
		(rodata)->target_uid = opt.uid;                                                                        \
		(rodata)->n_comms = (__u32)opt.ncomms;                                                                 \
		for (int k_ = 0; k_ < opt.ncomms; k_++)                                                                \
			memcpy((char *)(rodata)->target_comms[k_], opt.comms[k_], strlen(opt.comms[k_]));              \
	} while (0)

void load_bpf(void)
{
	struct sslsniff_bpf *s;
	struct process_bpf *p;
	int err;

	s = sslsniff_bpf__open();
	if (!s)
		die("cannot open the SSL BPF object: %s", strerror(errno));
	SET_FILTERS(s->rodata);
	err = sslsniff_bpf__load(s);
	if (err)
		die("cannot load the SSL BPF programs: %s (BPF/BTF unavailable or not root?)", strerror(-err));

	p = process_bpf__open();
	if (!p)
		die("cannot open the process BPF object: %s", strerror(errno));
	SET_FILTERS(p->rodata);
	p->rodata->follow_exec = opt.follow_exec;
	/* Per-process attachment needs the fork records and the holds at mapped TLS files (map events). */
	g.per_pid = opt.npids > 0 && !opt.follow_exec && !opt.system_wide && !opt.no_map_events;
	p->rodata->per_pid_attach = g.per_pid;
	g.file_events = !opt.no_file_events;
	g.net_events = !opt.no_net_events;
	p->rodata->file_events = g.file_events;
	p->rodata->net_events = g.net_events;
	p->rodata->all_files = opt.all_files;
	g.stdio_events = !opt.no_stdio;
	p->rodata->stdio_events = g.stdio_events;
	p->rodata->hold_new = opt.hold_ms > 0;
	p->rodata->map_events = !opt.no_map_events;
	p->rodata->hello_events = !opt.no_tls_notices;
	/* The syscall-exit hook runs on every syscall of the system: not loaded at all when no kind is wanted. */
	bpf_program__set_autoload(p->progs.handle_sys_exit, g.file_events || g.net_events || g.stdio_events ||
								    !opt.no_map_events || !opt.no_tls_notices);
	/* Per-process network bytes: the sock tracepoints exist from Linux 6.5 on; without them, say so (never a 0). */
	if (!kernel_has_btf_tracepoints((const char *const[]){ "sock_send_length", "sock_recv_length", NULL }))
		g.net_bytes_missing =
			"the kernel's BTF has no sock:sock_send_length/sock_recv_length tracepoints (Linux "
			"< 6.5, or /sys/kernel/btf/vmlinux unreadable): per-process network bytes not counted";
	bpf_program__set_autoload(p->progs.handle_sock_send, !g.net_bytes_missing);
	bpf_program__set_autoload(p->progs.handle_sock_recv, !g.net_bytes_missing);
	/* One ring buffer, one drop counter, one set of filter maps for both objects. */
	if (bpf_map__reuse_fd(p->maps.events, bpf_map__fd(s->maps.events)) ||
	    bpf_map__reuse_fd(p->maps.drops, bpf_map__fd(s->maps.drops)) ||
	    bpf_map__reuse_fd(p->maps.traced_pids, bpf_map__fd(s->maps.traced_pids)) ||
	    bpf_map__reuse_fd(p->maps.excluded_pids, bpf_map__fd(s->maps.excluded_pids)) ||
	    bpf_map__reuse_fd(p->maps.active_calls, bpf_map__fd(s->maps.active_calls)))
		die("cannot share maps between the BPF objects");
	err = process_bpf__load(p);
	if (err)
		die("cannot load the process BPF programs: %s", strerror(-err));
	if (opt.follow_exec)
		follow_init(bpf_map__fd(p->maps.traced_pids));
	if (hold_init(opt.hold_ms, bpf_map__fd(p->maps.checked_inodes)))
		die("cannot start the hold watchdog");
	/* Fork tracking first, then the roots, then the roots' existing descendants: no fork is missed. */
	err = process_bpf__attach(p);
	if (err)
		die("cannot attach the process tracepoints: %s", strerror(-err));
	g.net_since_ns = boottime_ns();
	/* After process.bpf.c's exec program: see exec_wakeup in sslsniff.bpf.c. */
	g.exec_wakeup = bpf_program__attach(s->progs.exec_wakeup);
	if (!g.exec_wakeup)
		die("cannot attach the exec wakeup: %s", strerror(errno));
	g.ssl_skel = s;
	g.proc_skel = p;

	{
		int traced = bpf_map__fd(s->maps.traced_pids), excl = bpf_map__fd(s->maps.excluded_pids);
		int i;

		add_pid(excl, (uint32_t)getpid());
		for (i = 0; i < opt.nexcludes; i++) {
			add_pid(excl, opt.excludes[i]);
			for_each_descendant(opt.excludes[i], add_pid_cb, &excl);
		}
		for (i = 0; i < opt.npids; i++) {
			add_pid(traced, opt.pids[i]);
			for_each_descendant(opt.pids[i], add_pid_cb, &traced);
		}
	}
}

// SPDX-License-Identifier: Apache-2.0
/*
 * Attaching the TLS probes (attach.h): which files are checked, by symbol or by the locators (locate.h), when (at
 * start, at an exec, a library opened, a file mapped executable) and what is reported when a file cannot be probed.
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
#include <sys/sysmacros.h>

#include "attach.h"
#include "attach_pid.h"
#include "hold.h"
#include "io_format.h"
#include "locate.h"
#include "locate_cache.h"
#include "options.h"
#include "producer.h"
#include "ringbuf.h"
#include "shutdown.h"
#include "sysinfo.h"

/* Symbol names, indexed by enum ssl_fn (also the `fn` of the records). */
const char *const ssl_fns[SSL_FN_COUNT] = {
	[SSL_FN_WRITE] = "SSL_write",
	[SSL_FN_READ] = "SSL_read",
	[SSL_FN_WRITE_EX] = "SSL_write_ex",
	[SSL_FN_READ_EX] = "SSL_read_ex",
	[SSL_FN_GNUTLS_SEND] = "gnutls_record_send",
	[SSL_FN_GNUTLS_RECV] = "gnutls_record_recv",
	[SSL_FN_NSPR_WRITE] = "PR_Write",
	[SSL_FN_NSPR_READ] = "PR_Read",
	[SSL_FN_NSPR_SEND] = "PR_Send",
	[SSL_FN_NSPR_RECV] = "PR_Recv",
	[SSL_FN_DO_HANDSHAKE] = "SSL_do_handshake",
	[SSL_FN_GO_WRITE] = "crypto/tls.(*Conn).Write",
	[SSL_FN_GO_READ] = "crypto/tls.(*Conn).Read",
	[SSL_FN_RUSTLS_WRITE] = "rustls::CommonState::buffer_plaintext",
	[SSL_FN_RUSTLS_READ] = "rustls::CommonState::take_received_plaintext",
	[SSL_FN_WRITE_EX2] = "SSL_write_ex2",
	[SSL_FN_WRITE_INTERNAL_FLAGS] = "ssl_write_internal",
	[SSL_FN_WRITE_INTERNAL] = "ssl_write_internal",
	[SSL_FN_READ_INTERNAL] = "ssl_read_internal",
};

/*
 * TLS libraries whose functions are probed together: every function of a family that a binary exports is probed,
 * and missing ones are reported only when the binary exports at least one function of the family.
 */
struct tls_family {
	const char *name;
	const char *system_soname; /* system library probed by default (ldconfig -p) */
	enum ssl_fn fns[5];
	int nfns;
};

static const struct tls_family tls_families[] = {
	{ "OpenSSL",
	  "libssl.so.3",
	  { SSL_FN_WRITE, SSL_FN_READ, SSL_FN_WRITE_EX, SSL_FN_READ_EX, SSL_FN_DO_HANDSHAKE },
	  5 },
	{ "GnuTLS", "libgnutls.so.30", { SSL_FN_GNUTLS_SEND, SSL_FN_GNUTLS_RECV }, 2 },
	{ "NSS", "libnspr4.so", { SSL_FN_NSPR_WRITE, SSL_FN_NSPR_READ, SSL_FN_NSPR_SEND, SSL_FN_NSPR_RECV }, 4 },
};
#define N_FAMILIES ((int)(sizeof(tls_families) / sizeof(tls_families[0])))
static char last_unrecognised[768]; /* attach_located -> attach_inode: why the last binary's stack was not recognised */

/* Remembers that fn of binary could not be probed (reported in loss records and stats lines); print: say so on stderr. */
static void record_failure(const char *binary, const char *fn, const char *msg, bool print)
{
	if (print)
		fprintf(stderr, "agentsight-probe: %s: %s: %s\n", binary, fn, msg);
	if (g.nfailures == MAX_ATTACH_FAILURES) {
		g.failures_dropped++;
		return;
	}
	g.failures[g.nfailures].binary = binary;
	g.failures[g.nfailures].fn = fn;
	g.failures[g.nfailures].error = xstrdup(msg);
	g.nfailures++;
}

/* An attach failure (printf-style message): listed in the loss record / stats line and printed on stderr. */
void attach_failed(const char *binary, const char *fn, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	record_failure(binary, fn, msg, true);
}

/*
 * Attaches the entry and return programs of fn to the file open_path, by symbol (func_name) or at a file offset
 * (func_name NULL), under a new probe id passed as the BPF cookie; `binary` (kept, not copied) names it in counters
 * and failures. With nret > 0 the return program is attached as a plain uprobe at each of ret_offsets (the
 * function's RET instructions, locate.h) instead of as a uretprobe. True on success (every link attached); on a
 * failure nothing of fn stays attached and the failure is recorded.
 */
/*
 * The entry (ret false) or return (ret true) program of fn: one per argument layout and one per return mechanism,
 * shared by several functions; which function fired is in the link's cookie (SSL_COOKIE), see sslsniff.bpf.c.
 */
static struct bpf_program *prog_of(enum ssl_fn fn, bool ret)
{
	struct sslsniff_bpf *s = g.ssl_skel;

	switch (fn) {
	case SSL_FN_WRITE_EX:
	case SSL_FN_READ_EX:
	case SSL_FN_WRITE_INTERNAL:
	case SSL_FN_READ_INTERNAL:
		return ret ? s->progs.retprobe_ssl : s->progs.probe_ssl_ex_entry;
	case SSL_FN_WRITE_EX2:
	case SSL_FN_WRITE_INTERNAL_FLAGS:
		return ret ? s->progs.retprobe_ssl : s->progs.probe_ssl_ex2_entry;
	case SSL_FN_NSPR_WRITE:
	case SSL_FN_NSPR_READ:
	case SSL_FN_NSPR_SEND:
	case SSL_FN_NSPR_RECV:
		return ret ? s->progs.retprobe_ssl : s->progs.probe_nspr_entry;
	case SSL_FN_GO_WRITE:
	case SSL_FN_GO_READ:
		return ret ? s->progs.retprobe_go : s->progs.probe_go_entry;
	case SSL_FN_RUSTLS_WRITE:
	case SSL_FN_RUSTLS_READ:
		return ret ? s->progs.retprobe_rustls : s->progs.probe_rustls_entry;
	default: /* SSL_write, SSL_read, gnutls_record_send/recv, SSL_do_handshake: (ssl, buf) */
		return ret ? s->progs.retprobe_ssl : s->progs.probe_ssl_entry;
	}
}

/*
 * Attaches the programs of probe id (its entry, and its uretprobe or its uprobes at each RET) to the file open_path,
 * for process pid (the kernel installs the breakpoints only in that process' memory) or every process (pid -1). The
 * links are appended to (*links, *n, *cap), all or none. Returns 0, or -errno with why (the failing part) filled.
 */
int attach_probe_links(int id, const char *open_path, int pid, struct bpf_link ***links, int *n, int *cap, char *why,
		       size_t why_size)
{
	const struct probe *pr = &g.probes[id];
	const char *fname = pr->func_name;
	uint64_t off = fname ? 0 : pr->offset;
	__u64 cookie = SSL_COOKIE(id, pr->sfn);
	LIBBPF_OPTS(bpf_uprobe_opts, eo, .func_name = fname, .retprobe = false, .bpf_cookie = cookie);
	LIBBPF_OPTS(bpf_uprobe_opts, ro, .func_name = fname, .retprobe = true, .bpf_cookie = cookie);
	LIBBPF_OPTS(bpf_uprobe_opts, xo, .retprobe = false, .bpf_cookie = cookie);
	int first = *n, err;
	uint32_t r;

	while (*n + 2 + (int)pr->nret > *cap)
		*links = grow(*links, cap, sizeof(**links));
	/* Link k: the entry, then the uretprobe (nret 0) or the uprobe at RET k - 1. */
	for (r = 0; r < 1 + (pr->nret ? pr->nret : 1); r++) {
		bool entry = r == 0, at_ret = r > 0 && pr->nret;
		struct bpf_link *l = bpf_program__attach_uprobe_opts(prog_of(pr->sfn, !entry), pid, open_path,
								     at_ret ? pr->ret_offsets[r - 1] : off,
								     entry    ? &eo
								     : at_ret ? &xo
									      : &ro);

		if (!l) {
			err = -errno;
			if (entry)
				snprintf(why, why_size, "cannot attach: %s", strerror(-err));
			else if (at_ret)
				snprintf(why, why_size, "cannot attach the probe at return +0x%llx: %s",
					 (unsigned long long)pr->ret_offsets[r - 1], strerror(-err));
			else
				snprintf(why, why_size, "cannot attach the return probe: %s", strerror(-err));
			while (*n > first)
				bpf_link__destroy((*links)[--(*n)]);
			return err;
		}
		(*links)[(*n)++] = l;
	}
	return 0;
}

/*
 * Probes fn of the file open_path (reported as binary) by symbol (func_name) or at a file offset, with a uretprobe, or
 * with plain uprobes at nret RET offsets (Go). System-wide, the links are made now; with per-process attachment
 * (g.per_pid) only the probe is defined here and attach_target_pid makes its links for each traced process. Returns
 * false (reported as an attach failure) when it cannot be probed.
 */
static bool attach_fn(const char *open_path, const char *binary, enum ssl_fn fn, const char *func_name, uint64_t offset,
		      const uint64_t *ret_offsets, uint32_t nret)
{
	struct probe *pr;
	int id = g.nprobes;
	char why[256];

	if (id == MAX_PROBES) {
		attach_failed(binary, ssl_fns[fn], "more than %d probes, not probed", MAX_PROBES);
		return false;
	}
	{
		/* The id may have been used by a probe rolled back (all-or-nothing pattern attach): start from zero. */
		int ncpu = libbpf_num_possible_cpus();
		struct probe_stat zero[ncpu > 0 ? ncpu : 1];
		__u32 key = (__u32)id;

		memset(zero, 0, sizeof(zero));
		bpf_map_update_elem(bpf_map__fd(g.ssl_skel->maps.probe_stats), &key, zero, BPF_ANY);
	}
	pr = &g.probes[id];
	free(pr->ret_offsets); /* a rolled-back probe's */
	memset(pr, 0, sizeof(*pr));
	pr->binary = binary;
	pr->fn = ssl_fns[fn];
	pr->sfn = fn;
	pr->func_name = func_name;
	pr->offset = offset;
	pr->nret = nret;
	if (nret) {
		pr->ret_offsets = malloc(nret * sizeof(*pr->ret_offsets));
		if (!pr->ret_offsets)
			die("out of memory");
		memcpy(pr->ret_offsets, ret_offsets, nret * sizeof(*pr->ret_offsets));
	}
	if (!g.per_pid && attach_probe_links(id, open_path, -1, &g.links, &g.nlinks, &g.links_cap, why, sizeof(why))) {
		attach_failed(binary, ssl_fns[fn], "%s", why);
		return false;
	}
	g.nprobes++;
	return true;
}

/* stdout: one `attached` line per (binary, family) newly probed. */
static void print_attached(const char *path, const char *family, const char *how)
{
	printf("{\"event\":\"attached\",\"path\":");
	print_json_string(path);
	printf(",\"family\":\"%s\",\"how\":\"%s\"}\n", family, how);
	fflush(stdout);
}

/*
 * The locators' answer for the file open_path (reported as path): from the cache when the file is unchanged, else
 * each locator in turn on the mapped file (then cached; *cached says which). Returns false when the file cannot be
 * read as ELF.
 */
bool locate_tls(const char *open_path, const char *path, struct locate_outcome *o, bool *cached)
{
	struct elf_image img;
	struct stat st;
	int err;

	memset(o, 0, sizeof(*o));
	if (stat(open_path, &st) == 0) {
		struct elf_image key = { .dev = st.st_dev,
					 .ino = st.st_ino,
					 .size = (size_t)st.st_size,
					 .mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec };

		if ((*cached = locate_cache_get(&key, o)))
			return true;
	}
	err = elf_image_open(&img, open_path, true);
	if (err) {
		if (err != -ENOEXEC)
			fprintf(stderr, "agentsight-probe: %s: cannot read: %s\n", path, strerror(-err));
		return false;
	}
	o->status = locate_all(&img, &o->loc, o->why, sizeof(o->why));
	locate_cache_put(&img, o);
	elf_image_close(&img);
	return true;
}

/*
 * Attaches the functions the locators find in a binary that exports no TLS symbols: all of them, or none (a
 * location that is partly attachable is rolled back). An unrecognised stack is reported on stderr and as one attach
 * failure per function it looked for. Returns the number of functions attached.
 */
static int attach_located(const char *open_path, const char *path, bool required)
{
	struct locate_outcome o;
	int first = g.nlinks, first_probe = g.nprobes, i;
	bool cached = false;
	char where[512];
	size_t at = 0;
	uint64_t t0 = boottime_ns();

	if (!locate_tls(open_path, path, &o, &cached) || o.status == LOCATE_ABSENT) {
		if (required)
			fprintf(stderr,
				"agentsight-probe: %s: no TLS function found (no OpenSSL, GnuTLS or NSPR symbols, and "
				"no statically linked TLS stack recognised)\n",
				path);
		return 0;
	}
	if (o.status == LOCATE_UNRECOGNISED) {
		/* Never a partial attach: a binary whose functions are not all located is not probed at all. */
		fprintf(stderr,
			"agentsight-probe: %s: stripped %s (%s) not recognised: %s; nothing attached to this binary%s\n",
			path, o.loc.family, o.loc.build, o.why, cached ? " (from the locator cache)" : "");
		snprintf(last_unrecognised, sizeof(last_unrecognised), "%s (%s) not recognised: %s", o.loc.family,
			 o.loc.build, o.why);
		for (i = 0; i < o.loc.nfns; i++) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s: %s; nothing attached", o.loc.build,
				 o.loc.fns[i].detail[0] ? o.loc.fns[i].detail : o.why);
			record_failure(path, ssl_fns[o.loc.fns[i].fn], msg, false);
		}
		return 0;
	}
	for (i = 0; i < o.loc.nfns; i++) {
		const struct located_fn *fn = &o.loc.fns[i];

		if (!attach_fn(open_path, path, fn->fn, NULL, fn->offset, fn->ret_offsets, fn->nret)) {
			/* All or nothing: undo the functions already attached to this binary. */
			while (g.nlinks > first)
				bpf_link__destroy(g.links[--g.nlinks]);
			g.nprobes = first_probe;
			fprintf(stderr,
				"agentsight-probe: %s (%s): %s could not be attached; nothing attached to this binary\n",
				path, o.loc.build, ssl_fns[fn->fn]);
			return 0;
		}
		at += (size_t)snprintf(where + at, at < sizeof(where) ? sizeof(where) - at : 0, "%s%s +0x%llx",
				       i ? ", " : "", ssl_fns[fn->fn], (unsigned long long)fn->offset);
	}
	fprintf(stderr, "agentsight-probe: %s: %s, %s located by %s (%s), attached in %.1f ms%s\n", path, o.loc.build,
		o.loc.family, o.loc.method[0] ? o.loc.method : o.loc.how, where, (double)(boottime_ns() - t0) / 1e6,
		cached ? " (from the locator cache)" : "");
	if (o.why[0]) /* another stack of the same binary, not located: its calls (if any) are not captured */
		fprintf(stderr,
			"agentsight-probe: %s: also a stripped %s; its TLS calls, if it makes any, are not captured\n",
			path, o.why);
	print_attached(path, o.loc.family, o.loc.how);
	return o.loc.nfns;
}

/*
 * Probes the TLS functions of one binary (the file open_path, reported as `path`, a string kept by the caller):
 * every function of every family it exports in .dynsym (by symbol); when it exports none, the functions of a
 * statically linked TLS stack found by the locators (attach_located), all or nothing.
 * `required` reports a binary without TLS functions. Returns the number of functions attached.
 */
static int attach_binary(const char *open_path, const char *path, bool required)
{
	int f, i, n = 0, families = 0;

	for (f = 0; f < N_FAMILIES; f++) {
		const struct tls_family *fam = &tls_families[f];
		bool exported[5], any = false;
		int before = n;

		for (i = 0; i < fam->nfns; i++) {
			exported[i] = elf_exports_function(open_path, ssl_fns[fam->fns[i]]);
			any = any || exported[i];
		}
		if (!any)
			continue;
		families++;
		for (i = 0; i < fam->nfns; i++) {
			enum ssl_fn fn = fam->fns[i];

			if (!exported[i]) {
				attach_failed(path, ssl_fns[fn], "no %s symbol, not probed", ssl_fns[fn]);
				continue;
			}
			n += attach_fn(open_path, path, fn, ssl_fns[fn], 0, NULL, 0);
		}
		if (n > before)
			print_attached(path, fam->name, "symbols");
	}
	if (families)
		return n;
	return attach_located(open_path, path, required);
}

/*
 * Checks the file `open_path` (identity: st of it) once per inode and attaches its TLS functions; `path` is the name
 * reported (real path). Returns the number of functions attached now (0 when seen before).
 */
int attach_inode(const char *open_path, const char *path, const struct stat *st, bool required)
{
	struct target *t;
	int i, n;

	for (i = 0; i < g.ntargets; i++)
		if (g.targets[i].dev == st->st_dev && g.targets[i].ino == st->st_ino)
			return 0;
	if (g.ntargets == g.targets_cap)
		g.targets = grow(g.targets, &g.targets_cap, sizeof(*g.targets));
	t = &g.targets[g.ntargets++];
	t->dev = st->st_dev;
	t->ino = st->st_ino;
	t->path = xstrdup(path);
	t->attached = false;
	t->why = NULL;
	t->open_path = xstrdup(open_path);
	t->probe_first = g.nprobes;
	/* Probes and failures keep t->path: the string lives as long as the producer. */
	last_unrecognised[0] = 0;
	n = attach_binary(open_path, t->path, required);
	t = &g.targets[g.ntargets - 1]; /* attach_binary does not add targets, but stay safe */
	t->attached = n > 0;
	t->probe_end = g.nprobes;
	if (!t->attached && last_unrecognised[0])
		t->why = xstrdup(last_unrecognised);
	hold_mark_checked(st, t->attached);
	return n;
}

/* Startup: adds path (resolved) to the targets unless its inode is there; `required` reports a missing file. */
static void try_attach(const char *path, bool required)
{
	char real[PATH_MAX];
	struct stat st;

	if (strncmp(path, "/proc/", 6) == 0) {
		/* /proc/<pid>/root/... or /proc/<pid>/exe: a file in another mount namespace. realpath() would give its path
		 * as seen inside that namespace, which on the host names another file or none: use it as given. */
		if (stat(path, &st)) {
			if (required)
				fprintf(stderr, "agentsight-probe: %s: %s\n", path, strerror(errno));
			return;
		}
		snprintf(real, sizeof(real), "%s", path);
	} else if (!realpath(path, real) || stat(real, &st)) {
		if (required)
			fprintf(stderr, "agentsight-probe: %s: %s\n", path, strerror(errno));
		return;
	}
	if (attach_inode(real, real, &st, required) == 0 && required) {
		int i;

		for (i = 0; i < g.ntargets; i++)
			if (g.targets[i].dev == st.st_dev && g.targets[i].ino == st.st_ino && g.targets[i].attached)
				return;
		fprintf(stderr, "agentsight-probe: %s: no TLS function could be probed\n", real);
	}
}

/* Startup: the executable of a traced process already running (a --pid root or descendant). */
static void attach_running_cb(uint32_t pid, void *ctx)
{
	char exe[64], real[PATH_MAX];
	struct stat st;
	ssize_t n;

	(void)ctx;
	snprintf(exe, sizeof(exe), "/proc/%u/exe", pid);
	n = readlink(exe, real, sizeof(real) - 1);
	if (n <= 0 || stat(exe, &st))
		return;
	real[n] = 0;
	attach_inode(exe, real, &st, false);
}

/*
 * A traced process executed a file or opened a shared library: probe it if its inode is new. Runs synchronously in
 * the ring-buffer callback, so the probes are in place before the producer reads the process' next records (uprobes
 * also apply to mappings that already exist, so calls after the attach are seen even if the process started them
 * before). `file` is /proc/<pid>/exe for an exec, the opened path otherwise.
 */
struct target *attach_on_event(uint32_t pid, const char *file, bool is_exec)
{
	char open_path[PATH_MAX], real[PATH_MAX];
	struct stat st;
	ssize_t n;

	if (g.no_more_attach)
		return NULL;
	if (is_exec) {
		/* The executed file itself, even when its path was relative, is gone, or the process has exited (then the
		 * path from the record, when absolute). */
		snprintf(open_path, sizeof(open_path), "/proc/%u/exe", pid);
		if (stat(open_path, &st) == 0 && (n = readlink(open_path, real, sizeof(real) - 1)) > 0) {
			real[n] = 0;
			/* Not reachable under its name any more (deleted, other mount namespace): attach through /proc. */
			{
				struct stat st2;

				if (stat(real, &st2) == 0 && st2.st_dev == st.st_dev && st2.st_ino == st.st_ino)
					snprintf(open_path, sizeof(open_path), "%s", real);
			}
		} else if (file[0] == '/' && realpath(file, real) && stat(real, &st) == 0) {
			snprintf(open_path, sizeof(open_path), "%s", real);
		} else {
			return NULL;
		}
	} else {
		/* The path as the process sees it, through its root and cwd (another mount namespace: a container). Not
		 * realpath()'d: that would resolve /proc/<pid>/root to "/" and name the host's file, not the process'. */
		if (file[0] == '/')
			snprintf(open_path, sizeof(open_path), "/proc/%u/root%s", pid, file);
		else
			snprintf(open_path, sizeof(open_path), "/proc/%u/cwd/%s", pid, file);
		if (stat(open_path, &st))
			return NULL;
		snprintf(real, sizeof(real), "%s", file);
	}
	attach_inode(open_path, real, &st, false);
	attach_target_pid(target_of(st.st_dev, st.st_ino), pid, open_path);
	return target_of(st.st_dev, st.st_ino);
}

/* True for a shared-library path: basename ends in ".so" or contains ".so." (libssl.so.3). */
bool is_shared_library(const char *path, size_t len)
{
	const char *base = path, *p;
	size_t i, blen;

	for (i = 0; i < len; i++)
		if (path[i] == '/')
			base = path + i + 1;
	blen = len - (size_t)(base - path);
	if (blen >= 3 && memcmp(base + blen - 3, ".so", 3) == 0)
		return true;
	for (p = base; p + 4 <= path + len; p++)
		if (memcmp(p, ".so.", 4) == 0)
			return true;
	return false;
}

/* ---- files mapped executable, TLS notices ---- */

/* The target checked for (dev, ino), or NULL. */
struct target *target_of(dev_t dev, ino_t ino)
{
	int i;

	for (i = 0; i < g.ntargets; i++)
		if (g.targets[i].dev == dev && g.targets[i].ino == ino)
			return &g.targets[i];
	return NULL;
}

/*
 * A traced process mapped a file executable that was not checked yet (bpf/hold.bpf.h): check and attach it now
 * (the process is stopped when the record is `held`). The file is reached through the mapping's fd while it is open,
 * else through /proc/<pid>/map_files, and opened here at once: the locators and the attach use that descriptor of
 * ours (/proc/self/fd/N), since a cold locate can outlast the hold bound and the process then closes or reuses its
 * fd (ld.so closes it right after mapping). The name reported is the link's target.
 */
void handle_map_exec(const struct as_map_event *e, size_t size)
{
	char proc_path[128], open_path[64], real[PATH_MAX];
	struct stat st;
	ssize_t n = 0;
	bool ok = false;
	int fd = -1;

	if (malformed(size < sizeof(*e), "map", size) || g.no_more_attach)
		return;
	if (e->fd >= 0) {
		snprintf(proc_path, sizeof(proc_path), "/proc/%u/fd/%d", e->task.pid, e->fd);
		ok = stat(proc_path, &st) == 0 && st.st_ino == e->ino;
	}
	if (!ok) {
		long page = sysconf(_SC_PAGESIZE);
		uint64_t end = (e->addr + e->len + (uint64_t)page - 1) & ~((uint64_t)page - 1);

		snprintf(proc_path, sizeof(proc_path), "/proc/%u/map_files/%llx-%llx", e->task.pid,
			 (unsigned long long)e->addr, (unsigned long long)end);
		ok = stat(proc_path, &st) == 0 && st.st_ino == e->ino;
	}
	if (ok && (n = readlink(proc_path, real, sizeof(real) - 1)) > 0)
		fd = open(proc_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || st.st_ino != e->ino) {
		fprintf(stderr,
			"agentsight-probe: pid %u mapped inode %llu executable (fd %d, %#llx+%#llx) but it cannot be "
			"opened (%s): %s; not checked\n",
			e->task.pid, (unsigned long long)e->ino, e->fd, (unsigned long long)e->addr,
			(unsigned long long)e->len, proc_path, ok ? strerror(errno) : "no such file or another inode");
		if (fd >= 0)
			close(fd);
		return;
	}
	real[n] = 0;
	snprintf(open_path, sizeof(open_path), "/proc/self/fd/%d", fd);
	if (attach_inode(open_path, real, &st, false) > 0)
		fprintf(stderr, "agentsight-probe: pid %u mapped %s executable: attached\n", e->task.pid, real);
	attach_target_pid(target_of(st.st_dev, st.st_ino), e->task.pid, open_path); /* per-process attachment */
	close(fd);                                                                  /* the uprobes hold the inode */
}

/* The file a line of /proc/<pid>/maps names, when the mapping is executable: its identity and path. */
bool parse_maps_line(const char *line, dev_t *dev, ino_t *ino, const char **path)
{
	unsigned maj, min;
	unsigned long long inode;
	char perms[8];
	int off = 0;

	if (sscanf(line, "%*x-%*x %7s %*x %x:%x %llu %n", perms, &maj, &min, &inode, &off) < 4 || !off)
		return false;
	if (perms[2] != 'x' || !inode || line[off] != '/')
		return false;
	*dev = makedev(maj, min);
	*ino = (ino_t)inode;
	*path = line + off;
	return true;
}

void attach_all(void)
{
	char path[PATH_MAX];
	int i;

	for (i = 0; i < N_FAMILIES; i++) {
		if (find_system_library(tls_families[i].system_soname, path, sizeof(path)) == 0)
			try_attach(path, true);
		else
			fprintf(stderr, "agentsight-probe: system %s not found, %s not probed\n",
				tls_families[i].system_soname, tls_families[i].name);
	}
	for (i = 0; i < opt.nbinaries; i++)
		try_attach(opt.binaries[i], true);
	if (find_on_path("node", path, sizeof(path)) == 0)
		try_attach(path, false);
	try_attach("/usr/bin/node", false);
	if (find_on_path("bun", path, sizeof(path)) == 0)
		try_attach(path, false);
	/* Traced processes already running: their executables (a Bun started before the producer). */
	for (i = 0; i < opt.npids; i++) {
		attach_running_cb(opt.pids[i], NULL);
		for_each_descendant(opt.pids[i], attach_running_cb, NULL);
	}
	/* Per-process attachment: each of them gets the probes of what it maps. */
	for (i = 0; g.per_pid && i < opt.npids; i++) {
		attach_mapped_cb(opt.pids[i], NULL);
		for_each_descendant(opt.pids[i], attach_mapped_cb, NULL);
	}
	if (g.nprobes == 0)
		die("no TLS probe could be attached");
}

/*
 * --locate: one JSON line per path, what the locators answer (the same code and cache as an attach):
 * {"path","status":"absent"|"found"|"unrecognised"|"unreadable","family","how","method","build","why","cached",
 *  "fns":[{"fn","offset","rets":[...]}]} with offsets as file offsets in hex strings ("0x237e500"). Exit 0.
 */
int locate_only(void)
{
	static const char *const status[] = { "absent", "found", "unrecognised" };
	int i, f;
	uint32_t r;

	for (i = 0; i < opt.nlocate; i++) {
		struct locate_outcome o;
		bool cached = false, ok = locate_tls(opt.locate[i], opt.locate[i], &o, &cached);

		printf("{\"path\":");
		print_json_string(opt.locate[i]);
		printf(",\"status\":\"%s\",\"cached\":%s", ok ? status[o.status] : "unreadable",
		       cached ? "true" : "false");
		if (ok && o.status != LOCATE_ABSENT) {
			printf(",\"family\":");
			print_json_string(o.loc.family);
			printf(",\"how\":");
			print_json_string(o.loc.how);
			printf(",\"method\":");
			print_json_string(o.loc.method);
			printf(",\"build\":");
			print_json_string(o.loc.build);
			printf(",\"why\":");
			print_json_string(o.why);
			printf(",\"fns\":[");
			for (f = 0; f < o.loc.nfns; f++) {
				const struct located_fn *fn = &o.loc.fns[f];

				printf("%s{\"fn\":\"%s\",\"offset\":\"0x%llx\",\"rets\":[", f ? "," : "",
				       ssl_fns[fn->fn], (unsigned long long)fn->offset);
				for (r = 0; r < fn->nret; r++)
					printf("%s\"0x%llx\"", r ? "," : "", (unsigned long long)fn->ret_offsets[r]);
				printf("],\"detail\":");
				print_json_string(fn->detail);
				printf("}");
			}
			printf("]");
		}
		printf("}\n");
	}
	fflush(stdout);
	return 0;
}

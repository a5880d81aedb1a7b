// SPDX-License-Identifier: Apache-2.0
#include "sysinfo.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t boottime_ns(void)
{
	return clock_ns(CLOCK_BOOTTIME);
}

uint64_t realtime_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, total = 0;

	if (fd < 0)
		return -1;
	while ((size_t)total < len && (n = read(fd, buf + total, len - (size_t)total)) > 0)
		total += n;
	close(fd);
	return total;
}

int read_boot_id(char *out, size_t outlen)
{
	ssize_t n = read_file("/proc/sys/kernel/random/boot_id", out, outlen - 1);

	if (n <= 0)
		return -1;
	out[n] = 0;
	while (n > 0 && isspace((unsigned char)out[n - 1]))
		out[--n] = 0;
	return 0;
}

int read_ppid(uint32_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	p = strrchr(buf, ')'); /* comm may contain spaces and parens */
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

int read_proc_snapshot(uint32_t pid, struct proc_snapshot *s)
{
	char path[64], buf[4096], *line;
	ssize_t n;
	int ppid;

	memset(s, 0, sizeof(*s));
	s->pid = pid;
	ppid = read_ppid(pid);
	if (ppid < 0)
		return -1;
	s->ppid = (uint32_t)ppid;

	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	n = read_file(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		line = strstr(buf, "\nUid:");
		if (line)
			s->uid = (uint32_t)strtoul(line + 5, NULL, 10);
	}
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	n = read_file(path, s->comm, sizeof(s->comm) - 1);
	if (n > 0) {
		s->comm[n] = 0;
		s->comm[strcspn(s->comm, "\n")] = 0;
	}
	snprintf(path, sizeof(path), "/proc/%u/exe", pid);
	n = readlink(path, s->exe, sizeof(s->exe) - 1);
	s->exe[n > 0 ? n : 0] = 0;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		char extra;

		if (fd >= 0) {
			ssize_t total = 0;

			while ((size_t)total < sizeof(s->args) &&
			       (n = read(fd, s->args + total, sizeof(s->args) - (size_t)total)) > 0)
				total += n;
			s->args_len = (size_t)(total > 0 ? total : 0);
			if ((size_t)total == sizeof(s->args) && read(fd, &extra, 1) == 1)
				s->args_truncated = true;
			close(fd);
		}
	}
	return 0;
}

void for_each_descendant(uint32_t root, void (*fn)(uint32_t pid, void *ctx), void *ctx)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	uint32_t *pids = NULL, *ppids = NULL, *set = NULL;
	size_t n = 0, cap = 0, nset = 0, i, j;
	bool grew = true;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		unsigned long pid = strtoul(de->d_name, &end, 10);
		int ppid;

		if (*end || pid == 0)
			continue;
		ppid = read_ppid((uint32_t)pid);
		if (ppid < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			pids = realloc(pids, cap * sizeof(*pids));
			ppids = realloc(ppids, cap * sizeof(*ppids));
			if (!pids || !ppids)
				goto out;
		}
		pids[n] = (uint32_t)pid;
		ppids[n] = (uint32_t)ppid;
		n++;
	}
	set = calloc(n + 1, sizeof(*set));
	if (!set)
		goto out;
	set[nset++] = root;
	/* Transitive closure; process trees are small, O(n * depth) is fine. */
	while (grew) {
		grew = false;
		for (i = 0; i < n; i++) {
			bool in = false, parent_in = false;

			for (j = 0; j < nset; j++) {
				if (set[j] == pids[i])
					in = true;
				if (set[j] == ppids[i])
					parent_in = true;
			}
			if (!in && parent_in) {
				set[nset++] = pids[i];
				fn(pids[i], ctx);
				grew = true;
			}
		}
	}
out:
	closedir(d);
	free(pids);
	free(ppids);
	free(set);
}

int find_system_library(const char *soname, char *out, size_t outlen)
{
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu",
		"/usr/lib/x86_64-linux-gnu",
		"/lib/aarch64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu",
		"/usr/lib64",
		"/lib64",
		"/usr/lib",
		"/lib",
	};
	FILE *f = popen("ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null", "r");
	size_t namelen = strlen(soname);
	char line[1024];
	size_t i;

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char *arrow = strstr(line, "=> ");
			char *name = line + strspn(line, " \t");

			if (!arrow || strncmp(name, soname, namelen) != 0 || name[namelen] != ' ')
				continue;
#if defined(__x86_64__)
			if (!strstr(line, "x86-64"))
				continue;
#endif
			arrow += 3;
			arrow[strcspn(arrow, "\n")] = 0;
			if (realpath(arrow, out) && strlen(out) < outlen) {
				pclose(f);
				return 0;
			}
		}
		pclose(f);
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char path[PATH_MAX], buf[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", dirs[i], soname);
		if (realpath(path, buf) && strlen(buf) < outlen) {
			strcpy(out, buf);
			return 0;
		}
	}
	return -1;
}

int find_on_path(const char *name, char *out, size_t outlen)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save = NULL;
	int ret = -1;

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	copy = strdup(path);
	if (!copy)
		return -1;
	for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		char cand[PATH_MAX], real[PATH_MAX];

		if (snprintf(cand, sizeof(cand), "%s/%s", *dir ? dir : ".", name) >= (int)sizeof(cand))
			continue;
		if (access(cand, X_OK) == 0 && realpath(cand, real) && strlen(real) < outlen) {
			strcpy(out, real);
			ret = 0;
			break;
		}
	}
	free(copy);
	return ret;
}

bool elf_exports_function(const char *path, const char *sym)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *e = NULL;
	Elf_Scn *scn = NULL;
	bool found = false;

	if (fd < 0)
		return false;
	if (elf_version(EV_CURRENT) == EV_NONE)
		goto out;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		goto out;
	while (!found && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t i, count;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		count = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < count; i++) {
			GElf_Sym s;
			const char *name;

			if (!gelf_getsym(data, (int)i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(e, sh.sh_link, s.st_name);
			if (name && strcmp(name, sym) == 0) {
				found = true;
				break;
			}
		}
	}
out:
	if (e)
		elf_end(e);
	close(fd);
	return found;
}

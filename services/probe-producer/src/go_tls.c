// SPDX-License-Identifier: Apache-2.0
/*
 * The Go crypto/tls locator (locate.h): crypto/tls.(*Conn).Write and (*Conn).Read in Go executables, stripped or
 * not, found through the function table every Go binary carries for its runtime (.gopclntab: stack traces, GC),
 * which `-ldflags=-s -w` does not remove; through .symtab only when the function table cannot be read.
 *
 * - Go version: the build info blob (.go.buildinfo, "\xff Go buildinf:"; Go >= 1.13), as `go version FILE` reads it.
 * - pclntab layouts (src/debug/gosym/pclntab.go): magic 0xfffffffb (Go 1.2-1.15), 0xfffffffa (1.16-1.17),
 *   0xfffffff0 (1.18-1.19), 0xfffffff1 (1.20+). The section is found by name, else by its magic and header checks.
 * - Go < 1.17 passes arguments on the stack (ABI0): such a binary is reported unrecognised, nothing attached.
 * - The return side: every RET in the function's body (entry to the next function's entry), decoded with Zydis;
 *   the BPF return program runs at each (no uretprobe on Go code, see bpf/sslsniff.bpf.c).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include <elf.h>
#include <Zydis/Zydis.h>

#include "go_tls.h"

#define GO_WRITE_NAME "crypto/tls.(*Conn).Write"
#define GO_READ_NAME "crypto/tls.(*Conn).Read"

static uint64_t rd(const uint8_t *p, int size)
{
	uint64_t v = 0;

	memcpy(&v, p, (size_t)size); /* little-endian x86-64 only */
	return v;
}

/* Bytes [vaddr, vaddr + len) of the file, or NULL. */
static const uint8_t *at_vaddr(const struct elf_image *img, uint64_t vaddr, uint64_t len)
{
	int64_t off = elf_image_vaddr_to_offset(img, vaddr);

	if (off < 0 || (uint64_t)off > img->size || img->size - (uint64_t)off < len)
		return NULL;
	return img->data + off;
}

bool go_build_version(const struct elf_image *img, char *out, size_t outlen)
{
	static const char magic[] = "\xff Go buildinf:";
	const uint8_t *d;
	uint64_t size, addr;

	out[0] = 0;
	if (!elf_image_section(img, ".go.buildinfo", &d, &size, &addr) || size < 32 || memcmp(d, magic, 14))
		return false;
	int psize = d[14], flags = d[15];

	if (flags & 1) /* big-endian */
		return false;
	if (flags & 2) {
		/* Go >= 1.18: uvarint length + bytes of the version, then of the module info, right after the header. */
		uint64_t n = 0, i = 32;
		int shift = 0;

		while (i < size && shift < 64) {
			n |= (uint64_t)(d[i] & 0x7f) << shift;
			shift += 7;
			if (!(d[i++] & 0x80))
				break;
		}
		if (n == 0 || n > size - i || n >= outlen)
			return false;
		memcpy(out, d + i, n);
		out[n] = 0;
		return true;
	}
	/* Go 1.13-1.17: a pointer to the version's string header (data pointer, length). */
	if (psize != 8)
		return false;
	const uint8_t *hdr = at_vaddr(img, rd(d + 16, 8), 16);
	if (!hdr)
		return false;
	uint64_t len = rd(hdr + 8, 8);
	const uint8_t *str = len && len < outlen ? at_vaddr(img, rd(hdr, 8), len) : NULL;

	if (!str)
		return false;
	memcpy(out, str, len);
	out[len] = 0;
	return true;
}

bool go_version_at_least(const char *v, int major, int minor)
{
	int a, b;

	if (!strncmp(v, "devel", 5))
		return true;
	if (sscanf(v, "go%d.%d", &a, &b) != 2)
		return false;
	return a > major || (a == major && b >= minor);
}

/* One function of the table: its entry and end (the next function's entry) as virtual addresses. */
struct go_func {
	uint64_t entry, end;
	bool found;
};

struct pclntab {
	const uint8_t *d;
	uint64_t size;
	uint32_t magic;
	int psize;
	uint64_t nfunc;
	uint64_t text;     /* 1.18+: runtime.text, the base of entry offsets */
	uint64_t funcname; /* offset of the function name table (1.16+), from d */
	uint64_t functab;  /* offset of the function table, from d */
	uint64_t funcdata; /* base of the _func offsets, from d */
};

/* Parses the header of a pclntab candidate; false when it is not one (or of an unknown layout). */
static bool pclntab_parse(const uint8_t *d, uint64_t size, uint64_t text_addr, struct pclntab *t)
{
	memset(t, 0, sizeof(*t));
	if (size < 8 + 8 * 8)
		return false;
	t->d = d;
	t->size = size;
	t->magic = (uint32_t)rd(d, 4);
	t->psize = d[7];
	if (d[4] || d[5] || (d[6] != 1 && d[6] != 2 && d[6] != 4) || t->psize != 8)
		return false;
	const uint8_t *w = d + 8;

	t->nfunc = rd(w, 8);
	switch (t->magic) {
	case 0xfffffff0:
	case 0xfffffff1:
		t->text = rd(w + 2 * 8, 8);
		if (!t->text) /* PIE: relocated at load time */
			t->text = text_addr;
		t->funcname = rd(w + 3 * 8, 8);
		t->functab = t->funcdata = rd(w + 7 * 8, 8);
		if (t->nfunc > size / 8 || t->functab > size || (size - t->functab) / 8 < t->nfunc + 1)
			return false;
		break;
	case 0xfffffffa:
		t->funcname = rd(w + 2 * 8, 8);
		t->functab = t->funcdata = rd(w + 6 * 8, 8);
		if (t->nfunc > size / 16 || t->functab > size || (size - t->functab) / 16 < t->nfunc + 1)
			return false;
		break;
	case 0xfffffffb:
		t->funcname = 0;
		t->functab = 16;
		t->funcdata = 0;
		if (t->nfunc > size / 16 || (size - 16) / 16 < t->nfunc + 1)
			return false;
		break;
	default:
		return false;
	}
	return t->nfunc > 0 && t->funcname < size;
}

/* Entry address and _func offset of function i (i <= nfunc: nfunc is the end sentinel). */
static void pclntab_entry(const struct pclntab *t, uint64_t i, uint64_t *entry, uint64_t *funcoff)
{
	if (t->magic == 0xfffffff0 || t->magic == 0xfffffff1) {
		const uint8_t *e = t->d + t->functab + i * 8;

		*entry = t->text + rd(e, 4);
		*funcoff = rd(e + 4, 4);
	} else {
		const uint8_t *e = t->d + t->functab + i * 16;

		*entry = rd(e, 8);
		*funcoff = rd(e + 8, 8);
	}
}

/* Name of the function whose _func is at funcoff, or NULL. */
static const char *pclntab_name(const struct pclntab *t, uint64_t funcoff)
{
	/* _func: entry (uint32 in 1.18+, uintptr before), then int32 nameOff. */
	uint64_t at = t->funcdata + funcoff + ((t->magic == 0xfffffff0 || t->magic == 0xfffffff1) ? 4 : 8);
	int32_t nameoff;
	uint64_t name;

	if (at > t->size || t->size - at < 4)
		return NULL;
	nameoff = (int32_t)rd(t->d + at, 4);
	if (nameoff < 0)
		return NULL;
	name = t->funcname + (uint64_t)nameoff;
	if (name >= t->size || !memchr(t->d + name, 0, t->size - name))
		return NULL;
	return (const char *)t->d + name;
}

/* Looks the names up in the table (one pass); fills f[i] for names[i]. */
static void pclntab_lookup(const struct pclntab *t, const char *const *names, struct go_func *f, int n)
{
	uint64_t i, entry, funcoff, next, nextoff;
	int k;

	for (i = 0; i < t->nfunc; i++) {
		pclntab_entry(t, i, &entry, &funcoff);
		const char *name = pclntab_name(t, funcoff);

		if (!name || strncmp(name, "crypto/tls.(*Conn).", 19))
			continue;
		for (k = 0; k < n; k++) {
			if (f[k].found || strcmp(name, names[k]))
				continue;
			pclntab_entry(t, i + 1, &next, &nextoff);
			f[k].entry = entry;
			f[k].end = next;
			f[k].found = next > entry;
		}
	}
}

/* Finds the pclntab: the section by name, else a scan of the file for its magic with a valid header. */
static bool pclntab_find(const struct elf_image *img, struct pclntab *t)
{
	static const uint32_t magics[] = { 0xfffffff1, 0xfffffff0, 0xfffffffa, 0xfffffffb };
	const uint8_t *d, *text;
	uint64_t size, addr, text_size, text_addr = 0;
	int m;

	if (elf_image_section(img, ".text", &text, &text_size, &addr))
		text_addr = addr;
	if (elf_image_section(img, ".gopclntab", &d, &size, &addr) && pclntab_parse(d, size, text_addr, t))
		return true;
	if (elf_image_section(img, ".data.rel.ro.gopclntab", &d, &size, &addr) && pclntab_parse(d, size, text_addr, t))
		return true;
	/* No section header for it (some packers, external linking): scan, 8-byte aligned. */
	for (m = 0; m < 4; m++) {
		uint8_t needle[8];
		const uint8_t *p = img->data, *end = img->data + img->size;

		memcpy(needle, &magics[m], 4);
		needle[4] = needle[5] = 0;
		needle[6] = 1;
		needle[7] = 8;
		while (p < end && (p = memmem(p, (size_t)(end - p), needle, 8))) {
			if (!((p - img->data) & 7) && pclntab_parse(p, (uint64_t)(end - p), text_addr, t))
				return true;
			p += 8;
		}
	}
	return false;
}

/* Looks the names up in .symtab (st_value, st_size); false when there is no .symtab. */
static bool symtab_lookup(const struct elf_image *img, const char *const *names, struct go_func *f, int n)
{
	const uint8_t *sym, *str;
	uint64_t symsize, strsize, addr;

	if (!elf_image_section(img, ".symtab", &sym, &symsize, &addr) ||
	    !elf_image_section(img, ".strtab", &str, &strsize, &addr))
		return false;
	for (uint64_t i = 0; i + sizeof(Elf64_Sym) <= symsize; i += sizeof(Elf64_Sym)) {
		Elf64_Sym s;

		memcpy(&s, sym + i, sizeof(s));
		if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_name >= strsize || !s.st_size ||
		    !memchr(str + s.st_name, 0, strsize - s.st_name))
			continue;
		for (int k = 0; k < n; k++)
			if (!f[k].found && !strcmp((const char *)str + s.st_name, names[k])) {
				f[k].entry = s.st_value;
				f[k].end = s.st_value + s.st_size;
				f[k].found = true;
			}
	}
	return true;
}

int go_ret_offsets(const struct elf_image *img, uint64_t entry, uint64_t end, uint64_t *rets, int max, char *why,
		   size_t whylen)
{
	ZydisDecoder dec;
	ZydisDecodedInstruction insn;
	const uint8_t *code;
	uint64_t len = end - entry, pc = 0;
	int64_t base = elf_image_vaddr_to_offset(img, entry);
	int n = 0;

	if (end <= entry || len > (1u << 20) || !(code = at_vaddr(img, entry, len)) || base < 0) {
		snprintf(why, whylen, "function body 0x%llx-0x%llx not in the file", (unsigned long long)entry,
			 (unsigned long long)end);
		return -1;
	}
	ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	while (pc < len) {
		if (!ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&dec, NULL, code + pc, len - pc, &insn))) {
			/* Padding after the last instruction may be cut by the next function's entry; inside the body an
			 * undecodable byte means the body is not what we think it is. */
			if (code[pc] == 0xcc || code[pc] == 0x00)
				break;
			snprintf(why, whylen, "undecodable instruction at +0x%llx", (unsigned long long)pc);
			return -1;
		}
		if (insn.mnemonic == ZYDIS_MNEMONIC_RET) {
			if (n == max) {
				snprintf(why, whylen, "more than %d RET instructions", max);
				return -1;
			}
			rets[n++] = (uint64_t)base + pc;
		}
		pc += insn.length;
	}
	if (n == 0)
		snprintf(why, whylen, "no RET instruction in 0x%llx bytes", (unsigned long long)len);
	return n;
}

enum locate_status locate_go_tls(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	static const char *const names[2] = { GO_WRITE_NAME, GO_READ_NAME };
	static const enum ssl_fn fns[2] = { SSL_FN_GO_WRITE, SSL_FN_GO_READ };
	struct go_func f[2] = { 0 };
	struct pclntab t;
	const uint8_t *d;
	uint64_t size, addr;
	bool have_version, have_tab;
	int k;

	if (img->machine != EM_X86_64)
		return LOCATE_ABSENT;
	have_version = go_build_version(img, loc->build, sizeof(loc->build));
	/* Only Go binaries are scanned for a function table: a build info blob or Go's build id note says so. */
	if (!have_version && !elf_image_section(img, ".note.go.buildid", &d, &size, &addr) &&
	    !elf_image_section(img, ".gopclntab", &d, &size, &addr))
		return LOCATE_ABSENT;
	if (!have_version)
		snprintf(loc->build, sizeof(loc->build), "unknown Go version");
	have_tab = pclntab_find(img, &t);
	if (have_tab) {
		pclntab_lookup(&t, names, f, 2);
		loc->how = "gopclntab";
		snprintf(loc->method, sizeof(loc->method), "gopclntab (magic 0x%08x)", t.magic);
	} else if (symtab_lookup(img, names, f, 2)) {
		loc->how = "symtab";
		snprintf(loc->method, sizeof(loc->method), "symtab (no readable gopclntab)");
	} else {
		return LOCATE_ABSENT; /* a Go binary without a function table we can read: nothing claims it */
	}
	if (!f[0].found && !f[1].found)
		return LOCATE_ABSENT; /* a Go program without crypto/tls */

	loc->family = "Go crypto/tls";
	loc->nfns = 2;
	for (k = 0; k < 2; k++)
		loc->fns[k].fn = fns[k];
	for (k = 0; k < 2; k++)
		if (!f[k].found) {
			snprintf(why, whylen, "%s not in the function table (inlined or dead-code eliminated)",
				 names[k]);
			return LOCATE_UNRECOGNISED;
		}
	/* The register ABI (arguments in RAX, RBX, RCX; g in R14) is Go 1.17+ on amd64; the 1.18+ tables imply it. */
	if (have_version ? !go_version_at_least(loc->build, 1, 17)
			 : !(have_tab && (t.magic == 0xfffffff0 || t.magic == 0xfffffff1))) {
		snprintf(why, whylen, "%s passes arguments on the stack (Go < 1.17 ABI0): not supported",
			 have_version ? loc->build : "this Go version");
		return LOCATE_UNRECOGNISED;
	}
	for (k = 0; k < 2; k++) {
		struct located_fn *fn = &loc->fns[k];
		int64_t off = elf_image_vaddr_to_offset(img, f[k].entry);
		char err[80];
		int n;

		if (off < 0) {
			snprintf(why, whylen, "%s: entry 0x%llx not in the file", names[k],
				 (unsigned long long)f[k].entry);
			return LOCATE_UNRECOGNISED;
		}
		n = go_ret_offsets(img, f[k].entry, f[k].end, fn->ret_offsets, LOCATE_MAX_RETS, err, sizeof(err));
		if (n <= 0) {
			snprintf(why, whylen, "%s: %s", names[k], err);
			snprintf(fn->detail, sizeof(fn->detail), "%s", err);
			return LOCATE_UNRECOGNISED;
		}
		fn->offset = (uint64_t)off;
		fn->nret = (uint32_t)n;
	}
	return LOCATE_FOUND;
}

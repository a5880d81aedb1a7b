// SPDX-License-Identifier: Apache-2.0
/*
 * Locating OpenSSL 3.x's plaintext functions in stripped binaries that link it statically without exporting it
 * (Copilot CLI's Rust addon `runtime.node`: reqwest + native-tls + openssl-sys over a vendored OpenSSL 3.5, built by
 * Bazel): SSL_read, SSL_write, SSL_read_ex, SSL_write_ex and SSL_do_handshake, probed with the same programs as a
 * libssl that exports them.
 *
 * Anchors (OpenSSL 3's error machinery, not per-build bytes):
 *  1. Every `ERR_raise(ERR_LIB_SSL, reason)` in ssl/ssl_lib.c compiles to `ERR_new(); ERR_set_debug(OPENSSL_FILE,
 *     OPENSSL_LINE, OPENSSL_FUNC); ERR_set_error(ERR_LIB_SSL, reason, NULL)`: rdi = the "…/ssl/ssl_lib.c" string,
 *     rdx = the enclosing function's `__func__` ("SSL_read"), then edi = 20 (ERR_LIB_SSL), esi = the reason code for
 *     the next call. The path string is found in the string regions, its `lea rdi, [rip+d]` loads in the code, the
 *     function around each from the unwind table (.eh_frame_hdr), and each function is decoded linearly from its
 *     start (it must reach the site exactly) to read the name, library and reason of every site. The calls must all
 *     go to one ERR_set_debug.
 *  2. Identification by `__func__`: SSL_read, SSL_write, SSL_do_handshake, ssl_read_internal (R) and
 *     ssl_write_internal (W) are the one function holding sites of that name (`__func__` of an inlined function is
 *     its own name, so a name in two functions is ambiguous: unrecognised). SSL_read_ex and SSL_write_ex raise no
 *     error; they are found by the call graph: SSL_read_ex = the one caller of R without error sites whose entry
 *     passes its four arguments unchanged (`return ssl_read_internal(s, buf, num, readbytes)` + `ret < 0 ? 0`);
 *     SSL_write_ex = the one caller of W (or of SSL_write_ex2, W's one pass-through caller) that moves its 4th
 *     argument to the 5th and passes flags 0 (`SSL_write_ex2(s, buf, num, 0, written)`), nothing else.
 *  3. Second, independent check: the reason codes (OpenSSL's public ABI, include/openssl/sslerr.h), and the call
 *     graph. SSL_read and SSL_write each raise SSL_R_BAD_LENGTH (271) and call R / W directly; R and W each raise
 *     SSL_R_UNINITIALIZED (276); SSL_do_handshake raises SSL_R_CONNECTION_TYPE_NOT_SET (144); every site of these
 *     functions has library 20; each of the five starts an FDE; and none of the four data functions calls another
 *     directly (so hooking all four counts each call once, as with an exporting libssl). Any failure: nothing is
 *     attached (UNRECOGNISED, with the reason).
 *
 * Internal functions inlined (node's OpenSSL 3.0 and the 3.5 of Copilot's node binary, built -O3; LTO builds):
 * `ssl_write_internal` sites in several functions (SSL_write, SSL_write_ex, SSL_write_ex2 each with its own copy,
 * and a standalone one that SSL_write_early_data and the SSL BIO call), likewise `ssl_read_internal`. Every copy is
 * then probed instead of SSL_write / the wrappers, each with the argument layout its error sites show and its
 * argument registers confirm (inlined_copies); 3.2+'s 5-argument copies (`written` in r8) have their own BPF entry
 * program. A direction may be inlined while the other is not.
 *
 * SSL_write not linked (Codex 0.140/0.150: their static OpenSSL is called through SSL_write_ex only, and the linker
 * dropped SSL_write): no function holds an `SSL_write` site at all. An inlined SSL_write would keep its `__func__`
 * site, so the absence is taken for SSL_write not being there, with a second check: every direct call of
 * ssl_write_internal comes from the SSL_write_ex found (or the SSL_write_ex2 between them). The other four are then
 * located and attached as usual.
 *
 * ABSENT: no "ssl/ssl_lib.c" string, or no ERR_set_debug site naming a function (a program merely holding the
 * string, this probe included). OpenSSL before 3.0 (ERR_put_error with function codes) and a build without file
 * names (OPENSSL_NO_FILENAMES) are not located; the former is reported UNRECOGNISED.
 */
#define _GNU_SOURCE /* memmem */
#include "locate.h"
#include "elf_code.h"

#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATHS 8
#define MAX_SITES 4096
#define MAX_FN_INSNS 16384
#define MAX_WRAPPERS 16

#define ERR_LIB_SSL 20
#define SSL_R_CONNECTION_TYPE_NOT_SET 144
#define SSL_R_BAD_LENGTH 271
#define SSL_R_UNINITIALIZED 276
#define SSL_R_UNSUPPORTED_WRITE_FLAG 412
#define MAX_COPIES 6

/* One ERR_set_debug call of ssl_lib.c. */
struct osite {
	uint64_t at;     /* the `lea rdi, [file]` */
	uint64_t func;   /* start of the function holding it (FDE) */
	uint64_t debug;  /* target of the ERR_set_debug call, 0 when not reached */
	char name[48];   /* __func__, "" when not read */
	int lib, reason; /* of the following ERR_set_error call, -1 when not read */
	bool decoded;    /* the function's linear decode reached `at` exactly */
};

struct oscan {
	const struct elf_image *img;
	ZydisDecoder dec;
	struct elf_fdes fdes;
	uint64_t paths[MAX_PATHS];
	int npaths;
	struct osite *sites;
	int nsites;
};

static bool decode(const struct oscan *sc, uint64_t v, ZydisDecodedInstruction *ins, ZydisDecodedOperand *ops)
{
	size_t avail;
	const uint8_t *p = elf_code_at(sc->img, v, &avail);

	return p && ZYAN_SUCCESS(ZydisDecoderDecodeFull(&sc->dec, p, avail > 15 ? 15 : avail, ins, ops));
}

/* Step 1a: the addresses of "…/ssl/ssl_lib.c" strings (the whole string and its "ssl/ssl_lib.c" tail), and the
 * version text ("OpenSSL 3.5.8") into build. */
static void find_paths(struct oscan *sc, char *build, size_t buildlen)
{
	static const char needle[] = "ssl/ssl_lib.c"; /* with its NUL */
	static const char ver[] = "OpenSSL ";
	const uint8_t *rdata[ELF_IMAGE_MAX_SEGS];
	uint64_t rsize[ELF_IMAGE_MAX_SEGS], rvaddr[ELF_IMAGE_MAX_SEGS];
	int s, nr = elf_image_string_regions(sc->img, rdata, rsize, rvaddr, ELF_IMAGE_MAX_SEGS);

	for (s = 0; s < nr; s++) {
		const uint8_t *base = rdata[s], *at = base, *end = base + rsize[s], *hit;

		while (at < end && sc->npaths + 2 <= MAX_PATHS &&
		       (hit = memmem(at, (size_t)(end - at), needle, sizeof(needle)))) {
			const uint8_t *st = hit;

			at = hit + 1;
			if (hit > base && hit[-1] != '/' && hit[-1] != 0)
				continue;
			while (st > base && st[-1] != 0 && hit - st < 256)
				st--;
			sc->paths[sc->npaths++] = rvaddr[s] + (uint64_t)(hit - base);
			if (st != hit)
				sc->paths[sc->npaths++] = rvaddr[s] + (uint64_t)(st - base);
		}
	}
	for (s = 0; s < nr && sc->npaths; s++) { /* the version only when there is an OpenSSL */
		const uint8_t *base = rdata[s], *at, *end = base + rsize[s], *hit;

		for (at = base;
		     !build[0] && at < end && (hit = memmem(at, (size_t)(end - at), ver, sizeof(ver) - 1));) {
			const uint8_t *v = hit + sizeof(ver) - 1, *e = v;

			at = hit + 1;
			if ((hit > base && hit[-1] != 0) || v >= end || *v < '1' || *v > '9')
				continue;
			while (e < end && e - v < 24 &&
			       ((*e >= '0' && *e <= '9') || *e == '.' || (*e >= 'a' && *e <= 'z')))
				e++;
			if (e < end && *e == ' ' && memchr(v, '.', (size_t)(e - v)))
				snprintf(build, buildlen, "OpenSSL %.*s", (int)(e - v), (const char *)v);
		}
	}
	if (!build[0])
		snprintf(build, buildlen, "OpenSSL (unknown version)");
}

static void add_site(struct oscan *sc, uint64_t v)
{
	uint64_t fs, fe;

	if (sc->nsites == MAX_SITES)
		return;
	if (!sc->fdes.count)
		fs = 0; /* no unwind table: the site is only counted (locate_openssl reports it) */
	else if (!elf_func_of(sc->img, &sc->fdes, v, &fs, &fe))
		return;
	memset(&sc->sites[sc->nsites], 0, sizeof(sc->sites[0]));
	sc->sites[sc->nsites].at = v;
	sc->sites[sc->nsites].func = fs;
	sc->sites[sc->nsites].lib = sc->sites[sc->nsites].reason = -1;
	sc->nsites++;
}

/* Step 1b: the instructions loading a path into rdi, each with its function (FDE): `lea rdi, [rip+d]` (48 8d 3d
 * d32) in position-independent code, also `mov edi, imm32` (bf imm32) in a non-PIE executable (node). */
static void find_sites(struct oscan *sc)
{
	const struct elf_image *img = sc->img;
	int s;

	for (s = 0; s < img->nsegs; s++) {
		const struct elf_segment *seg = &img->segs[s];
		const uint8_t *p = img->data + seg->offset;
		uint64_t i;

		if (!seg->exec)
			continue;
		{
			/* lea in every binary: position-independent code linked into an executable too (Debian's libssl.a
			 * in a `gcc -static` program) */
			const uint8_t *q = p, *end = p + seg->filesz;

			/* memchr on the ModRM byte 3d, then the two bytes before it: about 7x faster than memmem of the three
			 * bytes on runtime.node's 105 MB of code (lea rdi, [rip+d] is common, and memmem restarts at every
			 * hit) */
			for (q = p + 2;
			     q + 5 <= end && sc->nsites < MAX_SITES && (q = memchr(q, 0x3d, (size_t)(end - q - 4)));
			     q++) {
				int32_t d;
				uint64_t v;

				if (q[-1] != 0x8d || q[-2] != 0x48)
					continue;
				v = seg->vaddr + (uint64_t)(q - 2 - p);
				memcpy(&d, q + 1, 4);
				if (locate_in_list(sc->paths, sc->npaths, v + 7 + (uint64_t)(int64_t)d))
					add_site(sc, v);
			}
		}
		if (img->type != 2 /* ET_EXEC */)
			continue;
		for (i = 0; i + 5 <= seg->filesz && sc->nsites < MAX_SITES; i++) {
			const uint8_t *q = memchr(p + i, 0xbf, (size_t)(seg->filesz - i - 4));
			uint32_t imm;

			if (!q)
				break;
			i = (uint64_t)(q - p);
			memcpy(&imm, q + 1, 4);
			if (locate_in_list(sc->paths, sc->npaths, imm))
				add_site(sc, seg->vaddr + i);
		}
	}
}

static ZydisRegister reg64(ZydisRegister r)
{
	return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
}

/* The value an instruction puts into a register: `mov r32, imm` -> imm (*is_addr false), `lea r, [rip+d]` -> the
 * address (*is_addr true). False for anything else. *dst = the 64-bit register written. */
static bool const_load(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops, uint64_t v,
		       ZydisRegister *dst, uint64_t *val, bool *is_addr)
{
	if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER)
		return false;
	*dst = reg64(ops[0].reg.value);
	if (ins->mnemonic == ZYDIS_MNEMONIC_MOV && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		*val = ops[1].imm.value.u;
		*is_addr = false;
		return true;
	}
	if (ins->mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY &&
	    ops[1].mem.base == ZYDIS_REGISTER_RIP && ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(ins, &ops[1], v, val))) {
		*is_addr = true;
		return true;
	}
	return false;
}

/* A NUL-terminated identifier at vaddr (a `__func__`), copied into out; false when it is not one. */
static bool read_name(const struct elf_image *img, uint64_t vaddr, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; i + 1 < outlen; i++) {
		const uint8_t *c = elf_bytes_at(img, vaddr + i, 1);

		if (!c)
			return false;
		if (*c == 0)
			break;
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
		out[i] = (char)*c;
	}
	out[i] = 0;
	return i > 0 && i + 1 < outlen;
}

/*
 * Step 1c: from a site's `lea rdi`, straight-line code (following unconditional direct jumps, which is how shared
 * error tails are reached) up to the ERR_set_debug call (the name from rdx, or rdx_before when rdx was set before
 * the lea), then to the ERR_set_error call (lib = edi, reason = esi).
 */
static void read_site(const struct oscan *sc, struct osite *st, uint64_t rdx_before)
{
	uint64_t v = st->at, rdx = rdx_before, edi = (uint64_t)-1, esi = (uint64_t)-1;
	int phase = 0, k;

	for (k = 0; k < 48 && phase < 2; k++) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		ZydisRegister dst;
		uint64_t val, t;
		bool is_addr;

		if (!decode(sc, v, &ins, ops))
			return;
		if (ins.meta.category == ZYDIS_CATEGORY_CALL) {
			if (ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
			    !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &t)))
				return;
			if (phase == 0) {
				st->debug = t;
				if (!read_name(sc->img, rdx, st->name, sizeof(st->name)))
					st->name[0] = 0;
				edi = esi = (uint64_t)-1;
			} else {
				st->lib = edi == (uint64_t)-1 ? -1 : (int)edi;
				st->reason = esi == (uint64_t)-1 ? -1 : (int)esi;
			}
			phase++;
			v += ins.length;
			continue;
		}
		if (ins.mnemonic == ZYDIS_MNEMONIC_JMP) {
			if (ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
			    !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &v)))
				return;
			continue;
		}
		if (ins.meta.category == ZYDIS_CATEGORY_RET || ins.meta.category == ZYDIS_CATEGORY_COND_BR)
			return;
		if (const_load(&ins, ops, v, &dst, &val, &is_addr)) {
			if (dst == ZYDIS_REGISTER_RDX)
				rdx = val; /* lea (PIE) or mov imm32 (non-PIE): read_name checks it */
			else if (dst == ZYDIS_REGISTER_RDI && !is_addr)
				edi = val;
			else if (dst == ZYDIS_REGISTER_RSI && !is_addr)
				esi = val;
		} else if (ins.mnemonic == ZYDIS_MNEMONIC_XOR && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ops[1].reg.value) {
			if (reg64(ops[0].reg.value) == ZYDIS_REGISTER_RSI)
				esi = 0;
			else if (reg64(ops[0].reg.value) == ZYDIS_REGISTER_RDI)
				edi = 0;
		} else if (ins.operand_count_visible > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   (ops[0].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
			/* Computed: not a constant any more. */
			dst = reg64(ops[0].reg.value);
			if (dst == ZYDIS_REGISTER_RSI)
				esi = (uint64_t)-1;
			else if (dst == ZYDIS_REGISTER_RDI)
				edi = (uint64_t)-1;
		}
		v += ins.length;
	}
}

static int cmp_site_func(const void *a, const void *b)
{
	const struct osite *x = a, *y = b;

	return x->func < y->func ? -1 : x->func > y->func ? 1 : x->at < y->at ? -1 : x->at > y->at;
}

/* Step 1d: each function holding sites decoded linearly from its start: every site must be an instruction boundary;
 * the last `lea rdx, [rip+d]` since the last call is handed to read_site. */
static void decode_sites(struct oscan *sc)
{
	int i = 0;

	qsort(sc->sites, (size_t)sc->nsites, sizeof(sc->sites[0]), cmp_site_func);
	while (i < sc->nsites) {
		uint64_t fs = sc->sites[i].func, fe, v, rdx = 0;
		int j = i, k = 0;

		if (!elf_func_of(sc->img, &sc->fdes, fs, &fs, &fe)) {
			i++;
			continue;
		}
		for (v = fs; v < fe && j < sc->nsites && sc->sites[j].func == fs && k++ < MAX_FN_INSNS;) {
			ZydisDecodedInstruction ins;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			ZydisRegister dst;
			uint64_t val;
			bool is_addr;

			while (j < sc->nsites && sc->sites[j].func == fs && sc->sites[j].at < v)
				j++; /* decoded past it: not an instruction boundary */
			if (j < sc->nsites && sc->sites[j].func == fs && sc->sites[j].at == v) {
				sc->sites[j].decoded = true;
				read_site(sc, &sc->sites[j], rdx);
				j++;
			}
			if (!decode(sc, v, &ins, ops))
				break;
			if (ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
			    ins.meta.category == ZYDIS_CATEGORY_RET)
				rdx = 0;
			else if (const_load(&ins, ops, v, &dst, &val, &is_addr) && dst == ZYDIS_REGISTER_RDX)
				rdx = val;
			v += ins.length;
		}
		while (i < sc->nsites && sc->sites[i].func == fs)
			i++;
	}
}

/* The one function holding sites named name (*fn), with *reasons_ok when one of its sites of that name raises
 * `reason` and every one of them has library 20. Returns how many functions hold such sites. */
static int func_named(const struct oscan *sc, const char *name, uint64_t debug, int reason, uint64_t *fn,
		      bool *reasons_ok)
{
	int i, n = 0;
	bool has = false, libs = true;
	uint64_t last = 0;

	*fn = 0;
	for (i = 0; i < sc->nsites; i++) { /* sorted by function */
		const struct osite *st = &sc->sites[i];

		if (!st->decoded || st->debug != debug || strcmp(st->name, name))
			continue;
		if (st->func != last) {
			last = st->func;
			if (n++ == 0)
				*fn = st->func;
		}
		if (st->func != *fn)
			continue;
		has = has || st->reason == reason;
		libs = libs && st->lib == ERR_LIB_SSL;
	}
	*reasons_ok = has && libs;
	return n;
}

static bool has_sites(const struct oscan *sc, uint64_t fn)
{
	int i;

	for (i = 0; i < sc->nsites; i++)
		if (sc->sites[i].func == fn)
			return true;
	return false;
}

/* Direct calls/jumps of the function [start, end) to target: true when one exists (decoded linearly). */
static bool calls(const struct oscan *sc, uint64_t start, uint64_t target)
{
	uint64_t s, e, v, t;
	int k = 0;

	if (!elf_func_of(sc->img, &sc->fdes, start, &s, &e))
		return false;
	for (v = s; v < e && k++ < MAX_FN_INSNS;) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		if (!decode(sc, v, &ins, ops))
			return false;
		if ((ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
		     ins.meta.category == ZYDIS_CATEGORY_COND_BR) &&
		    ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &t)) && t == target)
			return true;
		v += ins.length;
	}
	return false;
}

enum wrap_shape {
	WRAP_PASS,     /* rdi, rsi, rdx, rcx, r8 unchanged: f(a, b, c, d) { return g(a, b, c, d); } */
	WRAP_WRITE_EX, /* r8 = rcx, rcx = 0, rdi/rsi/rdx unchanged: f(a, b, c, d) { return g(a, b, c, 0, d); } */
};

/* True when the function at fs reaches a direct call/jmp of target within its first instructions, with the
 * argument registers handled as `shape` says and nothing else before (no branch, no other argument write). */
static bool wrapper_of(const struct oscan *sc, uint64_t fs, uint64_t target, enum wrap_shape shape)
{
	uint64_t v = fs, t;
	bool r8_saved = false, rcx_zero = false;
	int k;

	for (k = 0; k < 12; k++) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		int o;

		if (!decode(sc, v, &ins, ops))
			return false;
		if (ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR) {
			if (ops[0].type != ZYDIS_OPERAND_TYPE_IMMEDIATE ||
			    !ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &t)) || t != target)
				return false;
			return shape == WRAP_PASS || (r8_saved && rcx_zero);
		}
		if (ins.meta.category == ZYDIS_CATEGORY_COND_BR || ins.meta.category == ZYDIS_CATEGORY_RET)
			return false;
		if (shape == WRAP_WRITE_EX && ins.mnemonic == ZYDIS_MNEMONIC_MOV &&
		    ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ZYDIS_REGISTER_R8 &&
		    ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[1].reg.value == ZYDIS_REGISTER_RCX && !rcx_zero &&
		    !r8_saved) {
			r8_saved = true;
			v += ins.length;
			continue;
		}
		if (shape == WRAP_WRITE_EX && r8_saved && !rcx_zero &&
		    ((ins.mnemonic == ZYDIS_MNEMONIC_XOR && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		      ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].reg.value == ops[1].reg.value &&
		      reg64(ops[0].reg.value) == ZYDIS_REGISTER_RCX) ||
		     (ins.mnemonic == ZYDIS_MNEMONIC_MOV && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		      reg64(ops[0].reg.value) == ZYDIS_REGISTER_RCX && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		      ops[1].imm.value.u == 0))) {
			rcx_zero = true;
			v += ins.length;
			continue;
		}
		for (o = 0; o < ins.operand_count; o++) {
			ZydisRegister r;

			if (ops[o].type != ZYDIS_OPERAND_TYPE_REGISTER ||
			    !(ops[o].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE))
				continue;
			r = reg64(ops[o].reg.value);
			if (r == ZYDIS_REGISTER_RDI || r == ZYDIS_REGISTER_RSI || r == ZYDIS_REGISTER_RDX ||
			    r == ZYDIS_REGISTER_RCX || r == ZYDIS_REGISTER_R8)
				return false;
		}
		v += ins.length;
	}
	return false;
}

struct callers_acc {
	const struct oscan *sc;
	uint64_t *out;
	int n, max;
};

static bool add_caller(uint64_t v, void *arg)
{
	struct callers_acc *c = arg;
	uint64_t fs, fe;

	if (elf_func_of(c->sc->img, &c->sc->fdes, v, &fs, &fe) && !locate_in_list(c->out, c->n, fs) && c->n < c->max)
		c->out[c->n++] = fs;
	return true;
}

/* Functions (FDE starts) with a direct call or jmp (e8/e9 rel32) of target in [lo, hi) (addresses), up to max. */
static int callers_of(const struct oscan *sc, uint64_t target, uint64_t lo, uint64_t hi, uint64_t *out, int max)
{
	struct callers_acc c = { sc, out, 0, max };

	elf_rel32_each(sc->img, lo, hi, target, true, add_caller, &c);
	return c.n;
}

/* The one function among cands (not `except`, holding no error site) that is a `shape` wrapper of target; 0 when
 * none, UINT64_MAX when several. */
static uint64_t pick_wrapper(const struct oscan *sc, const uint64_t *cands, int n, uint64_t target,
			     enum wrap_shape shape, uint64_t except)
{
	uint64_t found = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (cands[i] == except || has_sites(sc, cands[i]) || !wrapper_of(sc, cands[i], target, shape))
			continue;
		if (found && found != cands[i])
			return UINT64_MAX;
		found = cands[i];
	}
	return found;
}

/* The code around ssl_lib.c's anchored functions (they are compiled together): [first site's function - 64 KiB,
 * last site + 64 KiB). */
static void lib_range(const struct oscan *sc, uint64_t *lo, uint64_t *hi)
{
	int i;

	*lo = UINT64_MAX;
	*hi = 0;
	for (i = 0; i < sc->nsites; i++) {
		*lo = sc->sites[i].func < *lo ? sc->sites[i].func : *lo;
		*hi = sc->sites[i].at > *hi ? sc->sites[i].at : *hi;
	}
	*lo = *lo > 0x10000 ? *lo - 0x10000 : 0;
	*hi += 0x10000;
}

/*
 * The one `shape` wrapper of target (see pick_wrapper). Searched first among the callers near ssl_lib.c's anchored
 * functions (lib_range), which spares a scan of the whole code (100+ MB in runtime.node) in the common case; the
 * whole code when none is there.
 */
static uint64_t one_wrapper(const struct oscan *sc, uint64_t target, enum wrap_shape shape, uint64_t except)
{
	uint64_t cands[MAX_WRAPPERS], lo, hi, w;
	int n;

	lib_range(sc, &lo, &hi);
	n = callers_of(sc, target, lo, hi, cands, MAX_WRAPPERS);
	w = pick_wrapper(sc, cands, n, target, shape, except);
	if (w)
		return w;
	n = callers_of(sc, target, 0, UINT64_MAX, cands, MAX_WRAPPERS);
	return pick_wrapper(sc, cands, n, target, shape, except);
}

/* The ERR_set_debug target most sites reach (the anchored calls must agree on it). */
static uint64_t common_debug(const struct oscan *sc)
{
	uint64_t best = 0;
	int i, j, bestn = 0;

	for (i = 0; i < sc->nsites; i++) {
		int c = 0;

		if (!sc->sites[i].debug || !sc->sites[i].name[0])
			continue;
		for (j = 0; j < sc->nsites; j++)
			c += sc->sites[j].debug == sc->sites[i].debug;
		if (c > bestn) {
			bestn = c;
			best = sc->sites[i].debug;
		}
	}
	return best;
}

enum { F_WRITE, F_READ, F_WRITE_EX, F_READ_EX, F_HANDSHAKE, NF };
static const enum ssl_fn fn_ids[NF] = { SSL_FN_WRITE, SSL_FN_READ, SSL_FN_WRITE_EX, SSL_FN_READ_EX,
					SSL_FN_DO_HANDSHAKE };
static const char *const fn_names[NF] = { "SSL_write", "SSL_read", "SSL_write_ex", "SSL_read_ex", "SSL_do_handshake" };

/* The name of a function this locator reports (the probe's `fn`, as attach.c's ssl_fns). */
static const char *fn_name(enum ssl_fn fn)
{
	switch (fn) {
	case SSL_FN_WRITE:
		return "SSL_write";
	case SSL_FN_READ:
		return "SSL_read";
	case SSL_FN_WRITE_EX:
		return "SSL_write_ex";
	case SSL_FN_READ_EX:
		return "SSL_read_ex";
	case SSL_FN_WRITE_EX2:
		return "SSL_write_ex2";
	case SSL_FN_WRITE_INTERNAL_FLAGS:
	case SSL_FN_WRITE_INTERNAL:
		return "ssl_write_internal";
	case SSL_FN_READ_INTERNAL:
		return "ssl_read_internal";
	default:
		return "SSL_do_handshake";
	}
}

static enum locate_status fail(struct tls_location *loc, char *why, size_t whylen, const char *fmt, const char *a,
			       const char *b)
{
	int i;

	snprintf(why, whylen, fmt, a, b);
	loc->nfns = NF;
	for (i = 0; i < NF; i++)
		loc->fns[i].fn = fn_ids[i];
	return LOCATE_UNRECOGNISED;
}

/* An anchored function: exactly one, with the expected reason (step 2 and the reason half of step 3). */
static const char *named(const struct oscan *sc, const char *name, uint64_t debug, int reason, uint64_t *fn)
{
	static __thread char msg[96];
	bool ok;
	int n = func_named(sc, name, debug, reason, fn, &ok);

	if (n == 1 && ok)
		return NULL;
	if (n == 1)
		snprintf(msg, sizeof(msg), "its error sites do not raise reason %d of library %d", reason, ERR_LIB_SSL);
	else
		snprintf(msg, sizeof(msg), "%s in %d functions", n ? "error sites" : "no error site", n);
	return msg;
}

/* The functions holding decoded sites named `name` that reach `debug` (address order), up to max; returns how many
 * there are (may exceed max). */
static int funcs_named(const struct oscan *sc, const char *name, uint64_t debug, uint64_t *out, int max)
{
	uint64_t last = 0;
	int i, n = 0;

	for (i = 0; i < sc->nsites; i++) { /* sorted by function */
		const struct osite *st = &sc->sites[i];

		if (!st->decoded || st->debug != debug || strcmp(st->name, name) || st->func == last)
			continue;
		last = st->func;
		if (n < max)
			out[n] = st->func;
		n++;
	}
	return n;
}

/* True when fn holds a decoded site named `name` raising `reason` of library 20. */
static bool raises(const struct oscan *sc, uint64_t fn, const char *name, int reason)
{
	int i;

	for (i = 0; i < sc->nsites; i++)
		if (sc->sites[i].func == fn && sc->sites[i].decoded && sc->sites[i].lib == ERR_LIB_SSL &&
		    sc->sites[i].reason == reason && !strcmp(sc->sites[i].name, name))
			return true;
	return false;
}

/* The name of a public function's (`SSL_*`) site of fn named neither a nor b, or NULL (sites of inlined internal
 * helpers, e.g. ssl_start_async_job, are no other function's body); *libs_ok = every named site of fn has library
 * 20. */
static const char *other_name(const struct oscan *sc, uint64_t fn, const char *a, const char *b, bool *libs_ok)
{
	const char *other = NULL;
	int i;

	*libs_ok = true;
	for (i = 0; i < sc->nsites; i++) {
		const struct osite *st = &sc->sites[i];

		if (st->func != fn || !st->decoded || !st->name[0])
			continue;
		*libs_ok = *libs_ok && st->lib == ERR_LIB_SSL;
		if (!other && strncmp(st->name, "SSL_", 4) == 0 && strcmp(st->name, a) && strcmp(st->name, b))
			other = st->name;
	}
	return other;
}

/* True when a function holding ssl_lib.c error sites (other than target) calls or jumps to target directly. */
static bool called_by_sited(const struct oscan *sc, uint64_t target)
{
	uint64_t cands[MAX_WRAPPERS], lo, hi;
	int i, n;

	lib_range(sc, &lo, &hi);
	n = callers_of(sc, target, lo, hi, cands, MAX_WRAPPERS);
	for (i = 0; i < n; i++)
		if (cands[i] != target && has_sites(sc, cands[i]))
			return true;
	return false;
}

/* How the instruction at v touches the 64-bit register r: 1 read (also as a memory operand's base or index, or a
 * partial 8/16-bit write, which merges), 2 written whole (32/64-bit destination, a zeroing xor/sub, a call, which
 * clobbers every argument register), 0 not at all. */
static int reg_access(const ZydisDecodedInstruction *ins, const ZydisDecodedOperand *ops, ZydisRegister r)
{
	bool wr = false;
	int o;

	if (ins->meta.category == ZYDIS_CATEGORY_CALL)
		return 2;
	if ((ins->mnemonic == ZYDIS_MNEMONIC_XOR || ins->mnemonic == ZYDIS_MNEMONIC_SUB) &&
	    ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	    ops[0].reg.value == ops[1].reg.value)
		return reg64(ops[0].reg.value) == r ? 2 : 0;
	for (o = 0; o < ins->operand_count; o++) {
		const ZydisDecodedOperand *op = &ops[o];

		if (op->type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    ((op->mem.base != ZYDIS_REGISTER_NONE && reg64(op->mem.base) == r) ||
		     (op->mem.index != ZYDIS_REGISTER_NONE && reg64(op->mem.index) == r)))
			return 1;
		if (op->type != ZYDIS_OPERAND_TYPE_REGISTER || reg64(op->reg.value) != r)
			continue;
		if (op->actions & ZYDIS_OPERAND_ACTION_MASK_READ)
			return 1;
		if (op->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) {
			if (op->size < 32)
				return 1;
			wr = true;
		}
	}
	return wr ? 2 : 0;
}

/*
 * Whether rcx (4th argument) and r8 (5th) carry arguments into the function at fs: in a linear decode of its extent,
 * the first access of each in address order is a read. A write, a call (which clobbers both) or no access: not an
 * argument. False when the function cannot be decoded.
 */
static bool arg_regs(const struct oscan *sc, uint64_t fs, bool *rcx, bool *r8)
{
	int state[2] = { 0, 0 }; /* rcx, r8: 0 undecided, 1 argument, 2 not */
	static const ZydisRegister regs[2] = { ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R8 };
	uint64_t s, e, v;
	int k = 0, j;

	if (!elf_func_of(sc->img, &sc->fdes, fs, &s, &e) || s != fs)
		return false;
	for (v = s; v < e && k++ < MAX_FN_INSNS && (!state[0] || !state[1]);) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		if (!decode(sc, v, &ins, ops))
			return false;
		for (j = 0; j < 2; j++)
			if (!state[j])
				state[j] = reg_access(&ins, ops, regs[j]);
		v += ins.length;
	}
	*rcx = state[0] == 1;
	*r8 = state[1] == 1;
	return true;
}

/* One function to probe (locate_openssl's answer before it is written into the location). */
struct pick {
	enum ssl_fn fn;
	uint64_t at;
};

/* One direction's names and functions for inlined_copies. */
struct direction {
	const char *pub;      /* "SSL_write" */
	const char *internal; /* "ssl_write_internal" */
	bool write;
	enum ssl_fn fn_pub, fn_ex, fn_internal; /* SSL_write, SSL_write_ex, ssl_write_internal (4 arguments) */
	enum ssl_fn fn_ex2, fn_internal_flags;  /* write only: SSL_write_ex2, 3.2+'s ssl_write_internal (5 arguments) */
};

static const struct direction dir_write = {
	"SSL_write",      "ssl_write_internal",       true, SSL_FN_WRITE, SSL_FN_WRITE_EX, SSL_FN_WRITE_INTERNAL,
	SSL_FN_WRITE_EX2, SSL_FN_WRITE_INTERNAL_FLAGS
};
static const struct direction dir_read = { "SSL_read",     "ssl_read_internal",  false,          SSL_FN_READ,
					   SSL_FN_READ_EX, SSL_FN_READ_INTERNAL, SSL_FN_READ_EX, SSL_FN_READ_INTERNAL };

/*
 * A direction whose internal function is inlined (its `__func__` sites in several functions, LTO or -O3 builds:
 * node's OpenSSL 3.0, the 3.5 of Copilot's node): every copy of the internal function is probed, and nothing else
 * of the direction (a wrapper calling a copy is seen at the copy, so each call is counted once). Each copy's role
 * and argument layout, from its error sites:
 *  - the one holding `SSL_write` sites, with SSL_R_BAD_LENGTH: SSL_write (int length, 3 arguments);
 *  - holding a reason 412 (SSL_R_UNSUPPORTED_WRITE_FLAG) site: `flags` is not a constant 0 there, so the function
 *    takes flags (3.2+): 5 arguments, `written` in r8 (SSL_write_ex2; ssl_write_internal when it is called by another
 *    ssl_lib.c function, e.g. SSL_write_early_data, or the SSL BIO);
 *  - neither: 4 arguments, the out-parameter in rcx (SSL_write_ex / SSL_read_ex; ssl_write_internal /
 *    ssl_read_internal when called by another ssl_lib.c function).
 * Second, independent check: the argument registers each copy reads (arg_regs) match that layout (SSL_write: neither
 * rcx nor r8; 4 arguments: rcx, not r8; 5: both). Every copy raises SSL_R_UNINITIALIZED under the internal
 * function's name, all its sites have library 20, no copy holds sites of another public function (e.g. an inlined
 * SSL_write_early_data), and no two copies take the same role. Appends the copies to picks; NULL, or what failed.
 */
static const char *inlined_copies(const struct oscan *sc, const struct direction *d, uint64_t debug, bool flags_abi,
				  struct pick *picks, int *npicks, int maxpicks)
{
	static __thread char msg[160];
	uint64_t cps[MAX_COPIES], pub = 0;
	int nc = funcs_named(sc, d->internal, debug, cps, MAX_COPIES), npub, i, j, first = *npicks;
	bool pub_ok;

	if (nc > MAX_COPIES) {
		snprintf(msg, sizeof(msg), "%s: error sites in %d functions (more than %d copies)", d->internal, nc,
			 MAX_COPIES);
		return msg;
	}
	npub = func_named(sc, d->pub, debug, SSL_R_BAD_LENGTH, &pub, &pub_ok);
	if (npub > 1 || (npub == 1 && !pub_ok) || (npub == 0 && !d->write)) {
		snprintf(msg, sizeof(msg), "%s: %s", d->pub,
			 npub > 1    ? "error sites in several functions"
			 : npub == 1 ? "its error sites do not raise reason 271 of library 20"
				     : "no error site");
		return msg;
	}
	if (npub == 1 && !locate_in_list(cps, nc, pub)) {
		snprintf(msg, sizeof(msg), "%s: error sites in %d functions, %s not one of them", d->internal, nc,
			 d->pub);
		return msg;
	}
	for (i = 0; i < nc; i++) {
		uint64_t c = cps[i];
		bool libs_ok, rcx, r8, flags = false, want_rcx = true;
		const char *other = other_name(sc, c, d->internal, d->pub, &libs_ok);
		enum ssl_fn fn;

		if (other) {
			snprintf(msg, sizeof(msg), "%s inlined into %s (%#llx): not located", d->internal, other,
				 (unsigned long long)c);
			return msg;
		}
		if (!libs_ok || !raises(sc, c, d->internal, SSL_R_UNINITIALIZED)) {
			snprintf(msg, sizeof(msg),
				 "%s copy at %#llx: its error sites do not raise reason %d of library %d", d->internal,
				 (unsigned long long)c, SSL_R_UNINITIALIZED, ERR_LIB_SSL);
			return msg;
		}
		if (c == pub) {
			fn = d->fn_pub;
			want_rcx = false;
		} else {
			bool standalone = called_by_sited(sc, c);

			flags = d->write && raises(sc, c, d->internal, SSL_R_UNSUPPORTED_WRITE_FLAG);
			if (flags && !flags_abi) {
				snprintf(msg, sizeof(msg),
					 "%s copy at %#llx raises reason %d: not an OpenSSL before 3.2", d->internal,
					 (unsigned long long)c, SSL_R_UNSUPPORTED_WRITE_FLAG);
				return msg;
			}
			fn = flags ? (standalone ? d->fn_internal_flags : d->fn_ex2)
				   : (standalone ? d->fn_internal : d->fn_ex);
		}
		if (!arg_regs(sc, c, &rcx, &r8) || rcx != want_rcx || r8 != flags) {
			snprintf(msg, sizeof(msg),
				 "%s copy at %#llx (%s): the argument registers it reads (rcx %s, r8 %s) do not match "
				 "(second check)",
				 d->internal, (unsigned long long)c, fn_name(fn), rcx ? "yes" : "no",
				 r8 ? "yes" : "no");
			return msg;
		}
		for (j = first; j < *npicks; j++)
			if (!strcmp(fn_name(picks[j].fn),
				    fn_name(fn))) { /* one probe per name and binary (counters, metrics) */
				snprintf(msg, sizeof(msg), "%s: copies at %#llx and %#llx both look like %s",
					 d->internal, (unsigned long long)picks[j].at, (unsigned long long)c,
					 fn_name(fn));
				return msg;
			}
		if (*npicks == maxpicks) {
			snprintf(msg, sizeof(msg), "%s: more than %d functions to probe", d->internal, maxpicks);
			return msg;
		}
		picks[*npicks].fn = fn;
		picks[(*npicks)++].at = c;
	}
	return NULL;
}

enum locate_status locate_openssl(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	struct oscan sc = { .img = img };
	static const struct {
		const char *name;
		int reason;
	} anchors[] = {
		{ "SSL_write", SSL_R_BAD_LENGTH },
		{ "SSL_read", SSL_R_BAD_LENGTH },
		{ "ssl_write_internal", SSL_R_UNINITIALIZED },
		{ "ssl_read_internal", SSL_R_UNINITIALIZED },
		{ "SSL_do_handshake", SSL_R_CONNECTION_TYPE_NOT_SET },
	};
	uint64_t at[5] = { 0 }, fn[NF], debug, wex2 = 0, scratch[1];
	struct pick picks[LOCATE_MAX_FNS];
	enum locate_status st = LOCATE_ABSENT;
	int i, j, k, named_sites = 0, npicks = 0;
	bool no_write = false; /* SSL_write not linked (see the file comment) */
	bool wcopies, rcopies; /* the internal function inlined: its copies are probed (inlined_copies) */
	bool flags_abi;        /* OpenSSL 3.2+: ssl_write_internal and SSL_write_ex2 take flags */
	bool hs_copies;        /* SSL_do_handshake inlined: not probed */
	const char *err;

	loc->family = "OpenSSL";
	loc->how = "anchors";
	snprintf(loc->method, sizeof(loc->method), "ssl_lib.c error sites + call graph");
	if (img->machine != 62 /* EM_X86_64 */)
		return LOCATE_ABSENT;
	find_paths(&sc, loc->build, sizeof(loc->build));
	if (!sc.npaths)
		return LOCATE_ABSENT;
	if (strncmp(loc->build, "OpenSSL 0.", 10) == 0 || strncmp(loc->build, "OpenSSL 1.", 10) == 0)
		return fail(loc, why, whylen,
			    "%s: OpenSSL before 3.0 (ERR_put_error with function codes) is not located%s", loc->build,
			    "");
	flags_abi = !(strncmp(loc->build, "OpenSSL 3.", 10) == 0 && atoi(loc->build + 10) < 2);
	if (ZYAN_FAILED(ZydisDecoderInit(&sc.dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
		return LOCATE_ABSENT;
	sc.sites = calloc(MAX_SITES, sizeof(*sc.sites));
	if (!sc.sites)
		return LOCATE_ABSENT;
	if (!elf_fdes_init(img, &sc.fdes)) {
		/* Without unwind tables no function extents: reported when the code loads the path (an OpenSSL whose
		 * error sites cannot be read), absent otherwise (a program merely holding the string). */
		find_sites(&sc);
		if (sc.nsites)
			st = fail(loc, why, whylen,
				  "no unwind table (.eh_frame_hdr or .eh_frame): function extents unknown%s%s", "", "");
		goto out;
	}
	find_sites(&sc);
	decode_sites(&sc);
	for (i = 0; i < sc.nsites; i++)
		named_sites += sc.sites[i].decoded && sc.sites[i].name[0];
	if (getenv("AGENTSIGHT_LOCATE_DEBUG"))
		for (i = 0; i < sc.nsites; i++)
			fprintf(stderr, "openssl site %#llx in %#llx: %s lib %d reason %d debug %#llx%s\n",
				(unsigned long long)sc.sites[i].at, (unsigned long long)sc.sites[i].func,
				sc.sites[i].name, sc.sites[i].lib, sc.sites[i].reason,
				(unsigned long long)sc.sites[i].debug, sc.sites[i].decoded ? "" : " (not decoded)");
	if (!named_sites)
		goto out; /* the string without OpenSSL 3's error sites: not OpenSSL (or built without names) */
	debug = common_debug(&sc);
	wcopies = funcs_named(&sc, "ssl_write_internal", debug, scratch, 1) > 1;
	rcopies = funcs_named(&sc, "ssl_read_internal", debug, scratch, 1) > 1;
	/* SSL_do_handshake inlined into SSL_connect and SSL_accept (node's OpenSSL 3.0): its copies cannot be told apart
	 * by their error sites, all three hold SSL_do_handshake's. Not probed then (its records are informational, no
	 * plaintext), and `method` says so. */
	hs_copies = funcs_named(&sc, "SSL_do_handshake", debug, scratch, 1) > 1;
	for (i = 0; i < 5; i++) {
		if ((wcopies && (i == 0 || i == 2)) || (rcopies && (i == 1 || i == 3)) || (hs_copies && i == 4))
			continue; /* inlined_copies below */
		if ((err = named(&sc, anchors[i].name, debug, anchors[i].reason, &at[i]))) {
			bool none;

			if (i == 0 && func_named(&sc, "SSL_write", debug, SSL_R_BAD_LENGTH, &at[0], &none) == 0) {
				no_write = true; /* checked below, once SSL_write_ex is known */
				continue;
			}
			st = fail(loc, why, whylen, "%s: %s", anchors[i].name, err);
			goto out;
		}
	}
	fn[F_WRITE] = at[0];
	fn[F_READ] = at[1];
	fn[F_HANDSHAKE] = at[4];
	fn[F_WRITE_EX] = fn[F_READ_EX] = 0;
	if (!rcopies && !calls(&sc, fn[F_READ], at[3])) {
		st = fail(loc, why, whylen, "%s does not call %s directly (second check)", "SSL_read",
			  "ssl_read_internal");
		goto out;
	}
	if (!wcopies && !no_write && !calls(&sc, fn[F_WRITE], at[2])) {
		st = fail(loc, why, whylen, "%s does not call %s directly (second check)", "SSL_write",
			  "ssl_write_internal");
		goto out;
	}
	if (!rcopies)
		fn[F_READ_EX] = one_wrapper(&sc, at[3], WRAP_PASS, fn[F_READ]);
	if (!wcopies) {
		fn[F_WRITE_EX] = one_wrapper(&sc, at[2], WRAP_WRITE_EX, fn[F_WRITE]);
		if (!fn[F_WRITE_EX] && (wex2 = one_wrapper(&sc, at[2], WRAP_PASS, fn[F_WRITE])) && wex2 != UINT64_MAX)
			/* SSL_write_ex -> SSL_write_ex2 -> ssl_write_internal, SSL_write_ex2 not inlined */
			fn[F_WRITE_EX] = one_wrapper(&sc, wex2, WRAP_WRITE_EX, fn[F_WRITE]);
		if (!fn[F_WRITE_EX] && !(strncmp(loc->build, "OpenSSL 3.", 10) == 0 && atoi(loc->build + 10) >= 2))
			/* OpenSSL 3.0/3.1 (or a build without its version text): ssl_write_internal(s, buf, num, written)
			 * has no flags, SSL_write_ex passes its arguments through (3.2+ has SSL_write_ex2, the pass-through
			 * one there). */
			fn[F_WRITE_EX] = wex2 ? wex2 : one_wrapper(&sc, at[2], WRAP_PASS, fn[F_WRITE]);
	}
	for (i = F_WRITE_EX; i <= F_READ_EX; i++)
		if ((i == F_WRITE_EX ? !wcopies : !rcopies) && (!fn[i] || fn[i] == UINT64_MAX)) {
			st = fail(loc, why, whylen, "%s: %s", fn_names[i],
				  fn[i] ? "several candidate wrappers" : "no wrapper of the internal function found");
			goto out;
		}
	if (no_write) {
		/* No SSL_write error site anywhere: SSL_write is not linked (the linker dropped it, unused), not inlined (an
		 * inlined copy keeps its `__func__` site, and its call of ssl_write_internal). Second check: every direct
		 * call of ssl_write_internal comes from SSL_write_ex or the SSL_write_ex2 between them. */
		uint64_t cands[MAX_WRAPPERS];
		int n = callers_of(&sc, at[2], 0, UINT64_MAX, cands, MAX_WRAPPERS);

		for (k = 0; k < n; k++)
			if (cands[k] != fn[F_WRITE_EX] && cands[k] != wex2) {
				char where[32];

				snprintf(where, sizeof(where), "%#llx", (unsigned long long)cands[k]);
				st = fail(loc, why, whylen,
					  "SSL_write: no error site, and ssl_write_internal is called from %s, "
					  "not only SSL_write_ex%s",
					  where, "");
				goto out;
			}
		if (!n) {
			st = fail(loc, why, whylen,
				  "SSL_write: no error site, and no direct caller of ssl_write_internal%s%s", "", "");
			goto out;
		}
	}
	/* What is probed, in this order: SSL_write (or the write copies), SSL_read (or the read copies), SSL_write_ex,
	 * SSL_read_ex (each when not inlined), SSL_do_handshake (when not inlined). */
	if (wcopies && (err = inlined_copies(&sc, &dir_write, debug, flags_abi, picks, &npicks, LOCATE_MAX_FNS - 3))) {
		st = fail(loc, why, whylen, "%s%s", err, "");
		goto out;
	}
	if (!wcopies && !no_write)
		picks[npicks++] = (struct pick){ SSL_FN_WRITE, fn[F_WRITE] };
	if (rcopies && (err = inlined_copies(&sc, &dir_read, debug, flags_abi, picks, &npicks, LOCATE_MAX_FNS - 3))) {
		st = fail(loc, why, whylen, "%s%s", err, "");
		goto out;
	}
	if (!rcopies)
		picks[npicks++] = (struct pick){ SSL_FN_READ, fn[F_READ] };
	if (!wcopies)
		picks[npicks++] = (struct pick){ SSL_FN_WRITE_EX, fn[F_WRITE_EX] };
	if (!rcopies)
		picks[npicks++] = (struct pick){ SSL_FN_READ_EX, fn[F_READ_EX] };
	/* Exactly once: no probed data function is another or calls another (each call is seen at one of them only). */
	for (i = 0; i < npicks; i++)
		for (j = 0; j < npicks; j++)
			if (i != j && (picks[i].at == picks[j].at || calls(&sc, picks[i].at, picks[j].at))) {
				st = fail(loc, why, whylen, "%s and %s overlap (second check)", fn_name(picks[i].fn),
					  fn_name(picks[j].fn));
				goto out;
			}
	if (!hs_copies)
		picks[npicks++] = (struct pick){ SSL_FN_DO_HANDSHAKE, fn[F_HANDSHAKE] };
	loc->nfns = 0;
	for (i = 0; i < npicks; i++) {
		int64_t off = elf_image_vaddr_to_offset(img, picks[i].at);

		if (off < 0) {
			st = fail(loc, why, whylen, "%s: %s", fn_name(picks[i].fn), "outside the file");
			goto out;
		}
		loc->fns[loc->nfns].fn = picks[i].fn;
		loc->fns[loc->nfns++].offset = (uint64_t)off;
	}
	if (no_write)
		snprintf(loc->method, sizeof(loc->method), "ssl_lib.c error sites + call graph; no SSL_write linked");
	else if ((wcopies || rcopies) && hs_copies)
		snprintf(loc->method, sizeof(loc->method),
			 "ssl_lib.c error sites; inlined copies; no SSL_do_handshake");
	else if (wcopies || rcopies)
		snprintf(loc->method, sizeof(loc->method), "ssl_lib.c error sites + call graph; inlined copies");
	else if (hs_copies)
		snprintf(loc->method, sizeof(loc->method), "ssl_lib.c error sites + call graph; no SSL_do_handshake");
	st = LOCATE_FOUND;
out:
	free(sc.sites);
	elf_fdes_free(&sc.fdes);
	return st;
}

// SPDX-License-Identifier: Apache-2.0
/*
 * Locating BoringSSL's SSL_read, SSL_write and SSL_do_handshake in stripped static binaries (Bun, and programs
 * compiled with `bun build --compile` such as Claude Code and OpenCode) by anchors BoringSSL always carries, not by
 * per-build byte patterns, so that new builds are located without a table update.
 *
 * Anchors: every OPENSSL_PUT_ERROR(SSL, reason) in ssl/ssl_lib.cc compiles to a call of ERR_put_error(lib = 16,
 * 0, reason, __FILE__, __LINE__) — before 2024: ERR_put_error(16, reason, __FILE__, __LINE__) — i.e. `mov edi, 16;
 * mov edx|esi, reason; mov ecx|edx, "…/ssl/ssl_lib.cc"` before a call (or a jump to a shared call). Reason codes are BoringSSL's public ABI (include/openssl/ssl.h, err.h), stable
 * for years; file paths and line numbers are not used. The steps:
 *
 *  1. The `…ssl/ssl_lib.cc` string in a non-executable segment, and every instruction that puts its address in
 *     rcx or rdx (absolute `mov ecx, imm32` in non-PIE builds, `lea rcx, [rip+d]` in PIE builds), decoded by Zydis.
 *  2. For each such site, the function containing it: the nearest preceding 16-byte aligned `push rbp; mov rbp,
 *     rsp` (Bun is built with frame pointers; clang aligns functions to 16) from which a linear decode reaches the
 *     site exactly. Each function is decoded to its end (int3 padding or the next prologue): its ERR_put_error
 *     sites (lib, reason, from the register moves of the block before the call) and its direct call targets.
 *  3. Identification (reason sets of ssl_lib.cc sites; SSL_R_* values from include/openssl/ssl.h):
 *       SSL_do_handshake: exactly {SSL_R_CONNECTION_TYPE_NOT_SET};
 *       SSL_write:        ⊇ {ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED, SSL_R_UNINITIALIZED, SSL_R_BAD_LENGTH} and calls
 *                         SSL_do_handshake;
 *       ssl_read_impl:    ⊇ {SSL_R_UNINITIALIZED, SSL_R_SSL_HANDSHAKE_FAILURE}, without BAD_LENGTH, calls
 *                         SSL_do_handshake (static: inlined into SSL_peek/SSL_read in some builds);
 *       SSL_read:         {ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED} (SSL_is_quic, SSL_peek inlined) plus either a call
 *                         of ssl_read_impl or ssl_read_impl's own reasons inlined. A build keeping SSL_peek as an
 *                         anchored function of its own too is refused (SSL_read and SSL_peek differ only in the
 *                         consume of pending_app_data; Bun's builds drop the unused SSL_peek).
 *  4. Second, independent check before a candidate is accepted: the call graph. SSL_do_handshake must be called by
 *     both SSL_write and the read path (two anchors found independently of it), and SSL_read, SSL_write and
 *     SSL_do_handshake must each be the target of direct calls from outside BoringSSL's anchored functions (Bun's
 *     socket code calls them), at their prologue, and no direct call from outside may enter one of them at a
 *     16-byte aligned address right after one of its ret/jmp (which would be another function's entry: a wrong
 *     start). Every rule must pick exactly one function, or nothing is located.
 *
 * The gate for "this binary has BoringSSL" is at least one decoded ERR_put_error site of ssl_lib.cc (or, for a
 * binary that says it is Bun by its `.bun` section, UNRECOGNISED with the reason): a binary that merely contains
 * the strings (this probe, a test program) is ABSENT.
 */
#define _GNU_SOURCE /* memmem */
#include "locate.h"

#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ERR_LIB_SSL and the reason codes the rules use (BoringSSL include/openssl/err.h, ssl.h). */
enum {
	ERR_LIB_SSL = 16,
	R_SHOULD_NOT_HAVE_BEEN_CALLED = 66, /* ERR_R_SHOULD_NOT_HAVE_BEEN_CALLED */
	R_BAD_LENGTH = 111,                 /* SSL_R_BAD_LENGTH */
	R_CONNECTION_TYPE_NOT_SET = 134,    /* SSL_R_CONNECTION_TYPE_NOT_SET */
	R_SSL_HANDSHAKE_FAILURE = 215,      /* SSL_R_SSL_HANDSHAKE_FAILURE */
	R_UNINITIALIZED = 226,              /* SSL_R_UNINITIALIZED */
};

#define MAX_FILES 4    /* ssl_lib.cc strings */
#define MAX_SITES 512  /* instructions loading one of them */
#define MAX_FUNCS 256  /* functions containing them */
#define MAX_REASONS 16 /* ssl_lib.cc ERR_put_error sites per function */
#define MAX_CALLS 256  /* direct call targets per function */
#define MAX_BOUNDS 64  /* possible function boundaries inside one function */
#define MAX_FN_BYTES (64 * 1024)
#define MAX_BACK (64 * 1024)

/** One function containing ssl_lib.cc ERR_put_error sites. Addresses are virtual addresses. */
struct bfunc {
	uint64_t start, end;
	int nreasons;
	int reasons[MAX_REASONS];
	int ncalls;
	uint64_t calls[MAX_CALLS]; /* direct call (and tail-jump) targets outside the function */
	bool calls_truncated;
	int nbounds;
	uint64_t bounds
		[MAX_BOUNDS]; /* 16-byte aligned addresses right after a ret or jmp: where a function could begin */
};

struct scan {
	const struct elf_image *img;
	ZydisDecoder dec;
	uint64_t files[MAX_FILES];
	int nfiles;
	uint64_t sites[MAX_SITES];
	int nsites;
	struct bfunc funcs[MAX_FUNCS];
	int nfuncs;
	bool debug;
};

/* The exec segment holding vaddr, or NULL. */
static const struct elf_segment *exec_seg(const struct elf_image *img, uint64_t vaddr)
{
	int i;

	for (i = 0; i < img->nsegs; i++)
		if (img->segs[i].exec && vaddr >= img->segs[i].vaddr &&
		    vaddr - img->segs[i].vaddr < img->segs[i].filesz)
			return &img->segs[i];
	return NULL;
}

/* Code bytes at vaddr (in an exec segment) and how many follow in the segment; NULL outside. */
static const uint8_t *code_at(const struct elf_image *img, uint64_t vaddr, size_t *avail)
{
	const struct elf_segment *s = exec_seg(img, vaddr);

	if (!s)
		return NULL;
	*avail = (size_t)(s->filesz - (vaddr - s->vaddr));
	return img->data + s->offset + (vaddr - s->vaddr);
}

static bool is_file(const struct scan *sc, uint64_t v)
{
	int i;

	for (i = 0; i < sc->nfiles; i++)
		if (sc->files[i] == v)
			return true;
	return false;
}

/* Step 1a: NUL-terminated strings ending in "ssl/ssl_lib.cc" (their start addresses). */
static void find_files(struct scan *sc)
{
	static const char needle[] = "ssl/ssl_lib.cc"; /* with its NUL */
	const uint8_t *rdata[ELF_IMAGE_MAX_SEGS];
	uint64_t rsize[ELF_IMAGE_MAX_SEGS], rvaddr[ELF_IMAGE_MAX_SEGS];
	int s, nr = elf_image_string_regions(sc->img, rdata, rsize, rvaddr, ELF_IMAGE_MAX_SEGS);

	for (s = 0; s < nr && sc->nfiles < MAX_FILES; s++) {
		const uint8_t *base = rdata[s], *at = base, *end = base + rsize[s];

		while (at < end && sc->nfiles < MAX_FILES) {
			const uint8_t *hit = memmem(at, (size_t)(end - at), needle, sizeof(needle));
			const uint8_t *start;

			if (!hit)
				break;
			at = hit + 1;
			start = hit;
			while (start > base && start[-1] >= 0x20 && start[-1] < 0x7f && hit - start < 512)
				start--;
			sc->files[sc->nfiles++] = rvaddr[s] + (uint64_t)(start - base);
		}
	}
}

/* Decodes one instruction at vaddr; false when it is not decodable. */
static bool decode(const struct scan *sc, uint64_t vaddr, ZydisDecodedInstruction *ins, ZydisDecodedOperand *ops)
{
	size_t avail;
	const uint8_t *p = code_at(sc->img, vaddr, &avail);

	return p && ZYAN_SUCCESS(ZydisDecoderDecodeFull(&sc->dec, p, avail > 15 ? 15 : avail, ins, ops));
}

/* The register (ZYDIS_REGISTER_RCX or RDX) the instruction puts a file string's address in (mov r32, imm32 / lea
 * r64, [rip+d]), or ZYDIS_REGISTER_NONE. ERR_put_error takes __FILE__ in rcx (BoringSSL since 2024: lib, unused,
 * reason, file, line) or rdx (before: lib, reason, file, line). */
static ZydisRegister loads_file(const struct scan *sc, const ZydisDecodedInstruction *ins,
				const ZydisDecodedOperand *ops, uint64_t vaddr)
{
	ZydisRegister reg;
	uint64_t v;
	bool hit = false;

	if (ins->operand_count_visible < 2 || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER)
		return ZYDIS_REGISTER_NONE;
	reg = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, ops[0].reg.value);
	if (reg != ZYDIS_REGISTER_RCX && reg != ZYDIS_REGISTER_RDX)
		return ZYDIS_REGISTER_NONE;
	if (ins->mnemonic == ZYDIS_MNEMONIC_MOV && ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		hit = is_file(sc, ops[1].imm.value.u & 0xffffffffu);
	else if (ins->mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		 ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(ins, &ops[1], vaddr, &v)))
		hit = is_file(sc, v);
	return hit ? reg : ZYDIS_REGISTER_NONE;
}

static void add_site(struct scan *sc, uint64_t vaddr)
{
	int i;

	for (i = 0; i < sc->nsites; i++)
		if (sc->sites[i] == vaddr)
			return;
	if (sc->nsites < MAX_SITES)
		sc->sites[sc->nsites++] = vaddr;
}

/* Step 1b: instructions loading a file string into rcx/ecx, found by searching the code for the address as an
 * imm32 (non-PIE) and for rip-relative `lea rcx` whose target is one (PIE), each confirmed by decoding. */
static void find_sites(struct scan *sc)
{
	const struct elf_image *img = sc->img;
	int s, f;

	for (s = 0; s < img->nsegs; s++) {
		const uint8_t *base = img->data + img->segs[s].offset, *end = base + img->segs[s].filesz, *at;
		uint64_t vbase = img->segs[s].vaddr;

		if (!img->segs[s].exec)
			continue;
		for (f = 0; f < sc->nfiles; f++) {
			uint32_t imm = (uint32_t)sc->files[f];
			uint8_t key =
				(uint8_t)(imm >> 8); /* memchr on one byte of the address, then compare all four */

			if (sc->files[f] > 0xffffffffu)
				continue;
			for (at = base + 1; at + 3 <= end;) {
				const uint8_t *hit = memchr(at, key, (size_t)(end - at - 2)), *start;
				int back;

				if (!hit)
					break;
				at = hit + 1;
				start = hit - 1;
				if (memcmp(start, &imm, 4))
					continue;
				for (back = 1; back <= 3 && start - back >= base; back++) {
					ZydisDecodedInstruction ins;
					ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
					uint64_t v = vbase + (uint64_t)(start - back - base);

					if (decode(sc, v, &ins, ops) && ins.length == back + 4 &&
					    loads_file(sc, &ins, ops, v)) {
						add_site(sc, v);
						break;
					}
				}
			}
		}
		/* lea rcx/rdx, [rip+disp32]: 48 8d 0d/15 disp32 (PIE builds; skipped when absolute loads were found) */
		for (at = base; !sc->nsites && at + 7 <= end;) {
			const uint8_t *hit = memmem(at, (size_t)(end - at), "\x48\x8d", 2);
			int32_t disp;
			uint64_t v;

			if (!hit || hit + 7 > end)
				break;
			at = hit + 1;
			if (hit[2] != 0x0d && hit[2] != 0x15)
				continue;
			memcpy(&disp, hit + 3, 4);
			v = vbase + (uint64_t)(hit - base);
			if (is_file(sc, v + 7 + (uint64_t)(int64_t)disp))
				add_site(sc, v);
		}
	}
}

static bool is_prologue(const struct scan *sc, uint64_t v)
{
	size_t avail;
	const uint8_t *p = code_at(sc->img, v, &avail);

	return p && avail >= 4 && p[0] == 0x55 && p[1] == 0x48 && p[2] == 0x89 && p[3] == 0xe5;
}

/* Linear decode from start; true when an instruction starts exactly at target (no int3 or undecodable byte first). */
static bool reaches(const struct scan *sc, uint64_t start, uint64_t target)
{
	uint64_t v = start;

	while (v < target) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		if (!decode(sc, v, &ins, ops) || ins.mnemonic == ZYDIS_MNEMONIC_INT3)
			return false;
		v += ins.length;
	}
	return v == target;
}

/* Step 2a: the start of the function containing the site, or 0. */
static uint64_t function_start(const struct scan *sc, uint64_t site)
{
	uint64_t v;

	for (v = site & ~(uint64_t)15; site - v <= MAX_BACK; v -= 16) {
		if (!is_prologue(sc, v))
			continue;
		return reaches(sc, v, site) ? v : 0;
	}
	return 0;
}

/* What the instructions since the last control transfer put in the argument registers. */
struct regs {
	bool edi, esi, edx; /* known immediates */
	uint64_t edi_v, esi_v, edx_v;
	ZydisRegister file; /* register holding a file string, or NONE */
};

static void add_reason(struct bfunc *fn, int reason)
{
	if (fn->nreasons < MAX_REASONS)
		fn->reasons[fn->nreasons++] = reason;
}

static void add_call(struct bfunc *fn, uint64_t target)
{
	int i;

	for (i = 0; i < fn->ncalls; i++)
		if (fn->calls[i] == target)
			return;
	if (fn->ncalls < MAX_CALLS)
		fn->calls[fn->ncalls++] = target;
	else
		fn->calls_truncated = true;
}

/* Step 2b: decodes the function at start to its end: its ssl_lib.cc ERR_put_error reasons and direct calls. */
static void analyse_function(struct scan *sc, struct bfunc *fn)
{
	uint64_t v = fn->start;
	struct regs r = { 0 };
	bool first = true, after_end = false;

	while (v - fn->start < MAX_FN_BYTES) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t target;

		if (!decode(sc, v, &ins, ops) || ins.mnemonic == ZYDIS_MNEMONIC_INT3)
			break;
		if (!first && is_prologue(sc, v) && (v & 15) == 0)
			break; /* the next function, no padding between */
		first = false;
		if (ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR ||
		    ins.meta.category == ZYDIS_CATEGORY_COND_BR || ins.meta.category == ZYDIS_CATEGORY_RET) {
			/* An ERR_put_error site ends at the call (or the jump to a shared call). */
			if (r.file == ZYDIS_REGISTER_RCX && r.edi && r.edi_v == ERR_LIB_SSL && r.edx)
				add_reason(fn, (int)r.edx_v);
			else if (r.file == ZYDIS_REGISTER_RDX && r.edi && r.edi_v == ERR_LIB_SSL && r.esi)
				add_reason(fn, (int)r.esi_v);
			if (ins.meta.category == ZYDIS_CATEGORY_CALL && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
			    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &target)))
				add_call(fn, target);
			memset(&r, 0, sizeof(r));
		} else if (ins.operand_count_visible >= 1 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			   (ops[0].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) {
			ZydisRegister reg =
				ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, ops[0].reg.value);
			bool imm = ins.mnemonic == ZYDIS_MNEMONIC_MOV && ins.operand_count_visible >= 2 &&
				   ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
			bool zero = ins.mnemonic == ZYDIS_MNEMONIC_XOR && ins.operand_count_visible >= 2 &&
				    ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[1].reg.value == ops[0].reg.value;
			uint64_t val = imm ? ops[1].imm.value.u & 0xffffffffu : 0;

			ZydisRegister file = loads_file(sc, &ins, ops, v);

			if (file != ZYDIS_REGISTER_NONE)
				r.file = file;
			else if (reg == r.file)
				r.file = ZYDIS_REGISTER_NONE;
			if (reg == ZYDIS_REGISTER_RDI) {
				r.edi = imm || zero;
				r.edi_v = val;
			} else if (reg == ZYDIS_REGISTER_RSI) {
				r.esi = imm || zero;
				r.esi_v = val;
			} else if (reg == ZYDIS_REGISTER_RDX) {
				r.edx = (imm || zero) && file == ZYDIS_REGISTER_NONE;
				r.edx_v = val;
			}
		}
		/* A 16-byte aligned instruction after a ret or jmp (and only nop padding since): a possible entry. */
		if (after_end && (v & 15) == 0 && v != fn->start && fn->nbounds < MAX_BOUNDS)
			fn->bounds[fn->nbounds++] = v;
		if (ins.meta.category == ZYDIS_CATEGORY_RET || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR)
			after_end = true;
		else if (ins.mnemonic != ZYDIS_MNEMONIC_NOP)
			after_end = false;
		/* A tail call: an unconditional jump leaving the function's prologue-to-here range backwards or far. */
		if (ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &target)) &&
		    (target < fn->start || target - fn->start >= MAX_FN_BYTES))
			add_call(fn, target);
		v += ins.length;
	}
	fn->end = v;
}

static bool has_reason(const struct bfunc *fn, int reason)
{
	int i;

	for (i = 0; i < fn->nreasons; i++)
		if (fn->reasons[i] == reason)
			return true;
	return false;
}

/* True when every reason of fn is in the set (n entries). */
static bool reasons_within(const struct bfunc *fn, const int *set, int n)
{
	int i, j;

	for (i = 0; i < fn->nreasons; i++) {
		for (j = 0; j < n && set[j] != fn->reasons[i]; j++)
			;
		if (j == n)
			return false;
	}
	return true;
}

static bool calls(const struct bfunc *fn, uint64_t target)
{
	int i;

	for (i = 0; i < fn->ncalls; i++)
		if (fn->calls[i] == target)
			return true;
	return false;
}

/*
 * The second check's call-graph pass over the exec segments, for the n candidate functions fns[t]: counts in
 * callers[t] the direct calls/jumps (e8/e9 rel32) to fns[t]->start from code outside the anchored functions, and in
 * inner[t] the direct calls (e8) from outside to one of fns[t]->bounds (a 16-byte aligned address right after a ret
 * or jmp inside it), i.e. another function's entry there: the candidate would then be an earlier function run into
 * (a function without frame-pointer prologue right after another), and its start the wrong one. e8/e9 bytes inside
 * other instructions are counted too; at these few exact addresses they are rare, and can only make it refuse.
 */
static void call_graph_check(const struct scan *sc, const struct bfunc *const *fns, int *callers, int *inner, int n)
{
	const struct elf_image *img = sc->img;
	int s, f, t, op, k;

	for (t = 0; t < n; t++)
		callers[t] = inner[t] = 0;
	for (s = 0; s < img->nsegs; s++) {
		const uint8_t *base = img->data + img->segs[s].offset, *end = base + img->segs[s].filesz, *p;
		uint64_t vbase = img->segs[s].vaddr;

		if (!img->segs[s].exec)
			continue;
		for (op = 0xe8; op <= 0xe9; op++) {
			for (p = base; p + 5 <= end;) {
				uint64_t v, target;
				int32_t rel;
				bool inside = false, at_start = false, at_bound = false;

				p = memchr(p, op, (size_t)(end - p - 4));
				if (!p)
					break;
				v = vbase + (uint64_t)(p - base);
				memcpy(&rel, p + 1, 4);
				p++;
				target = v + 5 + (uint64_t)(int64_t)rel;
				for (t = 0; t < n; t++) {
					if (target < fns[t]->start || target >= fns[t]->end)
						continue;
					at_start = target == fns[t]->start;
					for (k = 0; !at_start && op == 0xe8 && k < fns[t]->nbounds; k++)
						at_bound = at_bound || fns[t]->bounds[k] == target;
					break;
				}
				if (t == n || (!at_start && !at_bound))
					continue;
				for (f = 0; f < sc->nfuncs && !inside; f++)
					inside = v >= sc->funcs[f].start && v < sc->funcs[f].end;
				if (inside)
					continue;
				if (at_start)
					callers[t]++;
				else
					inner[t]++;
			}
		}
	}
}

static void debug_dump(const struct scan *sc)
{
	int i, j;

	fprintf(stderr, "boringssl: %d file strings, %d sites, %d functions\n", sc->nfiles, sc->nsites, sc->nfuncs);
	for (i = 0; i < sc->nfuncs; i++) {
		const struct bfunc *fn = &sc->funcs[i];

		fprintf(stderr, "  fn 0x%llx-0x%llx reasons", (unsigned long long)fn->start,
			(unsigned long long)fn->end);
		for (j = 0; j < fn->nreasons; j++)
			fprintf(stderr, " %d", fn->reasons[j]);
		fprintf(stderr, " | anchored callees");
		for (j = 0; j < fn->ncalls; j++) {
			int k;

			for (k = 0; k < sc->nfuncs; k++)
				if (sc->funcs[k].start == fn->calls[j])
					fprintf(stderr, " 0x%llx", (unsigned long long)fn->calls[j]);
		}
		fprintf(stderr, "\n");
	}
}

/* "Bun v1.4.5 (a7733435c)" (version and revision as Bun prints them in its crash reports), else "bun-v1.4.5" (the
 * release tag in its upgrade URL), else "unknown version", from the string regions. */
static void find_bun_version(const struct elf_image *img, char *out, size_t outlen)
{
	static const char *const prefixes[] = { "Bun v", "bun-v" };
	const char *fallback = NULL;
	size_t fallback_len = 0;
	int k, s;

	const uint8_t *rdata[ELF_IMAGE_MAX_SEGS];
	uint64_t rsize[ELF_IMAGE_MAX_SEGS], rvaddr[ELF_IMAGE_MAX_SEGS];
	int nr = elf_image_string_regions(img, rdata, rsize, rvaddr, ELF_IMAGE_MAX_SEGS);

	for (k = 0; k < 2; k++) {
		for (s = 0; s < nr; s++) {
			const uint8_t *at = rdata[s], *end = at + rsize[s];
			size_t plen = strlen(prefixes[k]);

			while (at < end) {
				const uint8_t *hit = memmem(at, (size_t)(end - at), prefixes[k], plen);
				size_t i;

				if (!hit)
					break;
				at = hit + 1;
				i = plen;
				while (hit + i < end && i < 40 && ((hit[i] >= '0' && hit[i] <= '9') || hit[i] == '.'))
					i++;
				if (i == plen || hit[plen] < '0' || hit[plen] > '9' || hit[i - 1] == '.')
					continue;
				/* Prefer "Bun v1.2.3 (abcdef12)". */
				if (k == 0 && hit + i + 2 < end && hit[i] == ' ' && hit[i + 1] == '(') {
					size_t j = i + 2;

					while (hit + j < end && j < i + 2 + 40 &&
					       ((hit[j] >= '0' && hit[j] <= '9') || (hit[j] >= 'a' && hit[j] <= 'f')))
						j++;
					if (hit + j < end && hit[j] == ')' && j > i + 2) {
						snprintf(out, outlen, "%.*s", (int)(j + 1), (const char *)hit);
						return;
					}
				}
				if (!fallback) {
					fallback = (const char *)hit;
					fallback_len = i;
				}
			}
		}
	}
	if (fallback)
		snprintf(out, outlen, "%.*s", (int)fallback_len, fallback);
	else
		snprintf(out, outlen, "unknown version");
}

/* True when the binary names itself Bun: a `.bun` section (Bun's executables carry it; compiled apps keep their
 * sources there). */
static bool is_bun(const struct elf_image *img)
{
	const uint8_t *d;
	uint64_t size, addr;

	return elf_image_section(img, ".bun", &d, &size, &addr);
}

/* Picks the one function satisfying a rule; returns its index, -1 for none, -2 for several. */
#define PICK(sc, cond, out)                                                                                            \
	do {                                                                                                           \
		int _i;                                                                                                \
		(out) = -1;                                                                                            \
		for (_i = 0; _i < (sc)->nfuncs; _i++) {                                                                \
			const struct bfunc *fn = &(sc)->funcs[_i];                                                     \
			if (!(cond))                                                                                   \
				continue;                                                                              \
			(out) = (out) == -1 ? _i : -2;                                                                 \
		}                                                                                                      \
	} while (0)

static const char *count_word(int pick)
{
	return pick == -1 ? "no function" : "several functions";
}

enum locate_status locate_boringssl(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	static const int read_reasons[] = { R_SHOULD_NOT_HAVE_BEEN_CALLED, R_UNINITIALIZED, R_SSL_HANDSHAKE_FAILURE };
	struct scan *sc;
	int i, h, w, ri, rd;
	uint64_t r_start;
	enum locate_status st = LOCATE_UNRECOGNISED;
	const char *failed_fn = NULL;
	char fail[192] = "";

	if (img->machine != 62 /* EM_X86_64 */)
		return LOCATE_ABSENT;
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		snprintf(why, whylen, "out of memory");
		return is_bun(img) ? LOCATE_UNRECOGNISED : LOCATE_ABSENT;
	}
	sc->img = img;
	sc->debug = getenv("AGENTSIGHT_LOCATE_DEBUG") != NULL;
	ZydisDecoderInit(&sc->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	find_files(sc);
	if (sc->nfiles)
		find_sites(sc);
	/* Functions around the sites. */
	for (i = 0; i < sc->nsites; i++) {
		uint64_t start = function_start(sc, sc->sites[i]);
		int j;

		if (!start)
			continue;
		for (j = 0; j < sc->nfuncs && sc->funcs[j].start != start; j++)
			;
		if (j < sc->nfuncs || sc->nfuncs == MAX_FUNCS)
			continue;
		sc->funcs[sc->nfuncs].start = start;
		analyse_function(sc, &sc->funcs[sc->nfuncs]);
		if (sc->funcs[sc->nfuncs].nreasons)
			sc->nfuncs++;
		else
			memset(&sc->funcs[sc->nfuncs], 0, sizeof(sc->funcs[0]));
	}
	if (sc->debug)
		debug_dump(sc);
	if (!sc->nfuncs && !is_bun(img)) {
		free(sc);
		return LOCATE_ABSENT;
	}
	loc->family = "BoringSSL";
	loc->how = "anchors";
	find_bun_version(img, loc->build, sizeof(loc->build));
	loc->nfns = 3;
	loc->fns[0].fn = SSL_FN_READ;
	loc->fns[1].fn = SSL_FN_WRITE;
	loc->fns[2].fn = SSL_FN_DO_HANDSHAKE;
	if (!sc->nfiles) {
		snprintf(fail, sizeof(fail), "no ssl/ssl_lib.cc source path string (BoringSSL's error sites)");
		goto out;
	}
	if (!sc->nfuncs) {
		snprintf(fail, sizeof(fail),
			 "no ERR_put_error(SSL, ...) site of ssl/ssl_lib.cc decoded (%d loads of the "
			 "string found)",
			 sc->nsites);
		goto out;
	}
	/* SSL_do_handshake: its only ssl_lib.cc error is SSL_R_CONNECTION_TYPE_NOT_SET. */
	{
		static const int set[] = { R_CONNECTION_TYPE_NOT_SET };

		PICK(sc, has_reason(fn, R_CONNECTION_TYPE_NOT_SET) && reasons_within(fn, set, 1), h);
	}
	if (h < 0) {
		failed_fn = "SSL_do_handshake";
		snprintf(fail, sizeof(fail), "SSL_do_handshake: %s with only SSL_R_CONNECTION_TYPE_NOT_SET",
			 count_word(h));
		goto out;
	}
	PICK(sc,
	     has_reason(fn, R_SHOULD_NOT_HAVE_BEEN_CALLED) && has_reason(fn, R_UNINITIALIZED) &&
		     has_reason(fn, R_BAD_LENGTH) && calls(fn, sc->funcs[h].start),
	     w);
	if (w < 0) {
		failed_fn = "SSL_write";
		snprintf(fail, sizeof(fail),
			 "SSL_write: %s with SHOULD_NOT_HAVE_BEEN_CALLED, UNINITIALIZED, BAD_LENGTH "
			 "calling SSL_do_handshake",
			 count_word(w));
		goto out;
	}
	/* The read path: ssl_read_impl as its own function, or inlined into SSL_read (and SSL_peek). */
	PICK(sc,
	     has_reason(fn, R_UNINITIALIZED) && has_reason(fn, R_SSL_HANDSHAKE_FAILURE) &&
		     !has_reason(fn, R_SHOULD_NOT_HAVE_BEEN_CALLED) && !has_reason(fn, R_BAD_LENGTH) &&
		     calls(fn, sc->funcs[h].start),
	     ri);
	if (ri == -2) {
		failed_fn = "SSL_read";
		snprintf(fail, sizeof(fail), "SSL_read: several ssl_read_impl candidates");
		goto out;
	}
	if (ri >= 0) {
		/* SSL_is_quic's error only, and calls ssl_read_impl: SSL_read (SSL_peek inlined), or SSL_peek. */
		static const int set[] = { R_SHOULD_NOT_HAVE_BEEN_CALLED };

		PICK(sc, reasons_within(fn, set, 1) && calls(fn, sc->funcs[ri].start), rd);
	} else {
		/* ssl_read_impl inlined: SSL_read has its reasons and calls SSL_do_handshake itself. */
		PICK(sc,
		     has_reason(fn, R_SHOULD_NOT_HAVE_BEEN_CALLED) && has_reason(fn, R_UNINITIALIZED) &&
			     has_reason(fn, R_SSL_HANDSHAKE_FAILURE) && reasons_within(fn, read_reasons, 3) &&
			     calls(fn, sc->funcs[h].start),
		     rd);
	}
	if (rd == -2) {
		/* SSL_read and SSL_peek both kept as functions with SSL_peek's body: they differ only in SSL_read's
		 * consume of pending_app_data, which needs struct offsets to recognise. Refuse rather than guess. */
		failed_fn = "SSL_read";
		snprintf(fail, sizeof(fail), "SSL_read: several candidates (SSL_read and SSL_peek not told apart)");
		goto out;
	}
	if (rd == -1) {
		/* E.g. SSL_peek kept as a function of its own and called by SSL_read, which then has no anchor. */
		failed_fn = "SSL_read";
		snprintf(fail, sizeof(fail), "SSL_read: no function with SSL_is_quic's error calling ssl_read_impl%s",
			 ri >= 0 ? "" : " (ssl_read_impl not found)");
		goto out;
	}
	/* Second check: SSL_do_handshake reached from both SSL_write and the read path (independent anchors). */
	if (!calls(&sc->funcs[w], sc->funcs[h].start) ||
	    !(calls(&sc->funcs[rd], sc->funcs[h].start) || (ri >= 0 && calls(&sc->funcs[ri], sc->funcs[h].start)))) {
		failed_fn = "SSL_do_handshake";
		snprintf(fail, sizeof(fail),
			 "second check: SSL_do_handshake is not called by both SSL_write and SSL_read");
		goto out;
	}
	/* Second check: each of the three is called directly from outside BoringSSL's anchored functions. */
	r_start = sc->funcs[rd].start;
	{
		uint64_t starts[3] = { r_start, sc->funcs[w].start, sc->funcs[h].start };
		static const char *const names[3] = { "SSL_read", "SSL_write", "SSL_do_handshake" };

		const struct bfunc *cands[3] = { &sc->funcs[rd], &sc->funcs[w], &sc->funcs[h] };
		int ncallers[3], ninner[3];

		call_graph_check(sc, cands, ncallers, ninner, 3);
		for (i = 0; i < 3; i++) {
			if (ncallers[i] < 1) {
				failed_fn = names[i];
				snprintf(fail, sizeof(fail),
					 "second check: %s candidate at 0x%llx has no direct caller", names[i],
					 (unsigned long long)starts[i]);
				goto out;
			}
			if (ninner[i]) {
				failed_fn = names[i];
				snprintf(fail, sizeof(fail),
					 "second check: %s candidate 0x%llx-0x%llx has %d direct call(s) into "
					 "its middle (another function's entry)",
					 names[i], (unsigned long long)starts[i], (unsigned long long)cands[i]->end,
					 ninner[i]);
				goto out;
			}
		}
		for (i = 0; i < 3; i++) {
			int64_t off = elf_image_vaddr_to_offset(img, starts[i]);

			if (off < 0) {
				failed_fn = names[i];
				snprintf(fail, sizeof(fail), "%s: address 0x%llx not in the file", names[i],
					 (unsigned long long)starts[i]);
				goto out;
			}
			loc->fns[i].offset = (uint64_t)off;
		}
	}
	snprintf(loc->method, sizeof(loc->method), "ssl_lib.cc error anchors + call graph");
	st = LOCATE_FOUND;
out:
	if (st != LOCATE_FOUND) {
		snprintf(why, whylen, "%s", fail);
		for (i = 0; i < loc->nfns; i++) {
			const char *name = loc->fns[i].fn == SSL_FN_READ    ? "SSL_read"
					   : loc->fns[i].fn == SSL_FN_WRITE ? "SSL_write"
									    : "SSL_do_handshake";

			if (failed_fn && strcmp(failed_fn, name))
				snprintf(loc->fns[i].detail, sizeof(loc->fns[i].detail),
					 "not located (%s failed first)", failed_fn);
			else
				snprintf(loc->fns[i].detail, sizeof(loc->fns[i].detail), "%.95s", fail);
		}
	}
	free(sc);
	return st;
}

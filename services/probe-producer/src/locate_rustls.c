// SPDX-License-Identifier: Apache-2.0
/*
 * Locating rustls 0.23's plaintext boundary in stripped static Rust binaries (Codex: static-pie musl, rustls + ring),
 * where every rustls function is a candidate for inlining and nothing is exported.
 *
 * The two functions (rustls/src/common_state.rs), both methods of `CommonState`, the state every rustls connection
 * (client or server) owns exactly one of, so `&mut CommonState` (rdi) is the connection's identity in both
 * directions, like an SSL*:
 *
 *  - WRITE: `CommonState::buffer_plaintext(&mut self, payload: OutboundChunks, sendable_plaintext: &mut
 *    ChunkVecBuffer) -> usize`, the one function every `Writer::write` / `write_vectored` goes through: it encrypts
 *    the payload (handshake done) or buffers it until the handshake is done (the buffered bytes are later sent by
 *    `start_outgoing_traffic`, which this probe does not hook: each byte is captured once, when written). It returns
 *    how many bytes of the payload it accepted (a prefix, when `sendable_tls` is over its limit). OutboundChunks,
 *    passed by reference (rsi): `Single(&[u8])` = {0, ptr, len}; `Multiple { chunks: &[&[u8]], start, end }` =
 *    {chunks.ptr, chunks.len, start, end}; the capture is the first `ret` bytes of that concatenation.
 *  - READ: `CommonState::take_received_plaintext(&mut self, bytes: Payload)`: every decrypted application-data
 *    record, on its way into `received_plaintext` (whatever API the application reads it with later: `Reader::read`,
 *    `fill_buf`/`consume`). Payload (rsi) = {cap or niche, ptr, len} (Owned(Vec) or Borrowed(&[u8])).
 *
 * How they are found (rustc's inlining differs between releases, so neither is found by its own bytes alone):
 *  1. The build: `…/rustls-0.23.N/src/record_layer.rs` in the string regions, and the panic `Location`s
 *     ({file ptr, file len, line, col}) in the data segments that name it. Without the string the binary has no
 *     rustls 0.23 (ABSENT).
 *  2. The record layer: every function whose code loads one of those Locations (`lea r, [rip+d]`, decoded by Zydis;
 *     `RecordLayer::encrypt_outgoing`'s assertions, standalone or inlined into its callers), with its extent from the
 *     .eh_frame FDE (Rust binaries always carry unwind tables).
 *  3. WRITE: the unique function that (a) starts with `Option::take` of a field of `*rdi` (`mov r, [rdi+D]` then a
 *     store to `[rdi+D]`: buffer_plaintext's inlined `perhaps_write_key_update` taking `queued_key_update_message`),
 *     (b) reads OutboundChunks' `start`/`end` words ([P+0x10], [P+0x18], P = rsi or its copy), and (c) reaches a
 *     record-layer function within three direct calls or jumps (buffer_plaintext -> send_appdata_encrypt ->
 *     [send_single_fragment ->] encrypt_outgoing; send_single_fragment is inlined in some releases only).
 *  4. READ: the unique function that stores 32 into a byte of `*rdi` first (`temper_counters.received_app_data()`
 *     resets `allowed_key_update_requests` to 32) and loads the Payload's three words [rsi], [rsi+8], [rsi+0x10]
 *     within its first instructions, and (second check) is called directly from at least two functions (the client
 *     and server traffic states), none of them the WRITE function.
 * Every rule must pick exactly one function, or nothing is located (UNRECOGNISED, with the reason).
 */
#define _GNU_SOURCE /* memmem */
#include "locate.h"
#include "elf_code.h"

#include <Zydis/Zydis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ANCHOR_FILES 8
#define MAX_LOCS 64
#define MAX_RL_FUNCS 64
#define MAX_FN_INSNS 4096
#define MAX_NOT_RL 8192
#define MAX_CANDS 16

struct rscan {
	const struct elf_image *img;
	ZydisDecoder dec;
	struct elf_fdes fdes;
	uint64_t locs[MAX_LOCS];
	int nlocs;
	uint64_t rl_funcs[MAX_RL_FUNCS]; /* starts of record-layer functions (found so far) */
	int nrl;
	uint64_t not_rl[MAX_NOT_RL]; /* starts of functions known not to be */
	int nnot;
};

static bool decode(const struct rscan *sc, uint64_t v, ZydisDecodedInstruction *ins, ZydisDecodedOperand *ops)
{
	size_t avail;
	const uint8_t *p = elf_code_at(sc->img, v, &avail);

	return p && ZYAN_SUCCESS(ZydisDecoderDecodeFull(&sc->dec, p, avail > 15 ? 15 : avail, ins, ops));
}

/*
 * Step 1: the end addresses of strings "…/rustls-0.23.N/src/record_layer.rs" (or "…vendor__rustls-0.23.N/…", Bazel) (Rust strings are not NUL-terminated:
 * a Location names its file by pointer and length), and the version into build.
 */
static int find_anchor_files(const struct elf_image *img, uint64_t *ends, int max, char *build, size_t buildlen)
{
	static const char needle[] = "rustls-0.23."; /* after "/" (cargo) or "__" (Bazel's vendor__rustls-0.23.N) */
	static const char tail[] = "/src/record_layer.rs";
	const uint8_t *rdata[ELF_IMAGE_MAX_SEGS];
	uint64_t rsize[ELF_IMAGE_MAX_SEGS], rvaddr[ELF_IMAGE_MAX_SEGS];
	int s, n = 0, nr = elf_image_string_regions(img, rdata, rsize, rvaddr, ELF_IMAGE_MAX_SEGS);

	for (s = 0; s < nr; s++) {
		const uint8_t *base = rdata[s], *at = base, *end = base + rsize[s];

		while (at < end && n < max) {
			const uint8_t *hit = memmem(at, (size_t)(end - at), needle, sizeof(needle) - 1), *v;
			size_t tl = sizeof(tail) - 1;

			if (!hit)
				break;
			at = hit + 1;
			if (hit == base || (hit[-1] != '/' && hit[-1] != '_'))
				continue;
			v = hit + sizeof(needle) - 1;
			while (v < end && *v >= '0' && *v <= '9')
				v++;
			if (v == hit + sizeof(needle) - 1 || v + tl > end || memcmp(v, tail, tl))
				continue;
			if (!build[0])
				snprintf(build, buildlen, "rustls 0.23.%.*s", (int)(v - (hit + sizeof(needle) - 1)),
					 (const char *)hit + sizeof(needle) - 1);
			ends[n++] = rvaddr[s] + (uint64_t)(v + tl - base);
		}
	}
	return n;
}

/* Step 1b: Location structs {ptr, len, line, col} whose file string ends at one of ends. */
static void find_locations(struct rscan *sc, const uint64_t *ends, int nends)
{
	const struct elf_image *img = sc->img;
	int s, e;

	for (s = 0; s < img->nsegs; s++) {
		const struct elf_segment *seg = &img->segs[s];
		const uint8_t *p = img->data + seg->offset;
		uint64_t i;

		if (seg->exec)
			continue;
		for (i = (8 - (seg->vaddr & 7)) & 7; i + 24 <= seg->filesz && sc->nlocs < MAX_LOCS; i += 8) {
			uint64_t ptr, len;

			memcpy(&len, p + i + 8, 8);
			if (len == 0 || len > 512)
				continue;
			memcpy(&ptr, p + i, 8);
			for (e = 0; e < nends; e++)
				if (ptr + len == ends[e])
					sc->locs[sc->nlocs++] = seg->vaddr + i;
		}
	}
}

/* Step 1b, shared objects: Locations whose file pointer is an R_X86_64_RELATIVE relocation in .rela.dyn (the file
 * holds 0 there; the addend is the string's address). */
static void find_rela_locations(struct rscan *sc, const uint64_t *ends, int nends)
{
	const uint8_t *r, *p;
	uint64_t size, addr, i;
	int e;

	if (!elf_image_section(sc->img, ".rela.dyn", &r, &size, &addr))
		return;
	for (i = 0; i + 24 <= size && sc->nlocs < MAX_LOCS; i += 24) {
		uint64_t off, info, len;
		int64_t addend;

		memcpy(&off, r + i, 8);
		memcpy(&info, r + i + 8, 8);
		memcpy(&addend, r + i + 16, 8);
		if ((uint32_t)info != 8 /* R_X86_64_RELATIVE */ || !(p = elf_bytes_at(sc->img, off + 8, 8)))
			continue;
		memcpy(&len, p, 8);
		if (len == 0 || len > 512)
			continue;
		for (e = 0; e < nends; e++)
			if ((uint64_t)addend + len == ends[e] && !locate_in_list(sc->locs, sc->nlocs, off))
				sc->locs[sc->nlocs++] = off;
	}
}

/* Step 2: the function [start, end) loads a Location (lea r64, [rip+disp32], decoded). */
static bool loads_location(const struct rscan *sc, uint64_t start, uint64_t end)
{
	uint64_t v = start;
	int k = 0;

	while (v < end && k++ < MAX_FN_INSNS) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t t;

		if (!decode(sc, v, &ins, ops))
			break;
		if (ins.mnemonic == ZYDIS_MNEMONIC_LEA && ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    ops[1].mem.base == ZYDIS_REGISTER_RIP &&
		    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[1], v, &t)) &&
		    locate_in_list(sc->locs, sc->nlocs, t))
			return true;
		v += ins.length;
	}
	return false;
}

/* A record-layer function: one loading a record_layer.rs Location (memoised in sc->rl_funcs / not_rl). */
static bool is_record_layer(struct rscan *sc, uint64_t start)
{
	uint64_t s, e;

	if (locate_in_list(sc->rl_funcs, sc->nrl, start))
		return true;
	if (locate_in_list(sc->not_rl, sc->nnot, start))
		return false;
	if (elf_func_of(sc->img, &sc->fdes, start, &s, &e) && s == start && loads_location(sc, s, e)) {
		if (sc->nrl < MAX_RL_FUNCS)
			sc->rl_funcs[sc->nrl++] = start;
		return true;
	}
	if (sc->nnot < MAX_NOT_RL)
		sc->not_rl[sc->nnot++] = start;
	return false;
}

/* Direct call / jmp targets of the function [start, end) (up to max). */
static int direct_targets(const struct rscan *sc, uint64_t start, uint64_t end, uint64_t *out, int max)
{
	uint64_t v = start;
	int n = 0, k = 0;

	while (v < end && k++ < MAX_FN_INSNS) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		uint64_t t;

		if (!decode(sc, v, &ins, ops))
			break;
		if ((ins.meta.category == ZYDIS_CATEGORY_CALL || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR) &&
		    ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE &&
		    ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&ins, &ops[0], v, &t)) && (t < start || t >= end) &&
		    n < max && !locate_in_list(out, n, t))
			out[n++] = t;
		v += ins.length;
	}
	return n;
}

/*
 * Step 3c: the function [start, end) reaches a record-layer function within REACH_DEPTH direct calls/jumps
 * (breadth first, each function expanded once, at most MAX_REACH of them). buffer_plaintext -> send_appdata_encrypt
 * -> [send_single_fragment ->] encrypt_outgoing: send_single_fragment is inlined in some releases (Codex 0.160,
 * 0.171), a function of its own in others (0.140, 0.150).
 */
#define REACH_DEPTH 3
#define MAX_REACH 1024
static bool reaches_record_layer(struct rscan *sc, uint64_t start, uint64_t end)
{
	static __thread uint64_t seen[MAX_REACH];
	uint64_t t[256];
	int nseen = 1, level_start = 0, level_end = 1, depth, i, j, n;

	seen[0] = start;
	for (depth = 1; depth <= REACH_DEPTH; depth++) {
		for (i = level_start; i < level_end; i++) {
			uint64_t s = seen[i], e = i ? 0 : end;

			if (i && (!elf_func_of(sc->img, &sc->fdes, s, &s, &e) || s != seen[i]))
				continue;
			if (!i && loads_location(sc, s, e))
				return true;
			n = direct_targets(sc, s, e, t, 256);
			for (j = 0; j < n; j++) {
				if (locate_in_list(seen, nseen, t[j]))
					continue;
				if (is_record_layer(sc, t[j]))
					return true;
				if (depth < REACH_DEPTH && nseen < MAX_REACH)
					seen[nseen++] = t[j];
			}
		}
		level_start = level_end;
		level_end = nseen;
	}
	return false;
}

static ZydisRegister reg64(ZydisRegister r)
{
	return ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, r);
}

static bool is_mem(const ZydisDecodedOperand *op, ZydisRegister base, int64_t disp)
{
	return op->type == ZYDIS_OPERAND_TYPE_MEMORY && reg64(op->mem.base) == base &&
	       op->mem.index == ZYDIS_REGISTER_NONE && op->mem.disp.value == disp;
}

/* Step 3a/3b: buffer_plaintext's entry shape (see the file comment). */
static bool write_shape(const struct rscan *sc, uint64_t start, uint64_t end)
{
	ZydisRegister payload[4] = { ZYDIS_REGISTER_RSI };
	int npayload = 1, k, p;
	int64_t took = -1;
	bool take = false, w10 = false, w18 = false;
	uint64_t v = start;

	for (k = 0; v < end && k < 400; k++) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		if (k == 20 && !take)
			return false; /* cheap filter first: most functions stop here */
		if (!decode(sc, v, &ins, ops))
			return false;
		if (ins.mnemonic == ZYDIS_MNEMONIC_MOV && ins.operand_count_visible == 2) {
			/* copies of rsi */
			if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
			    reg64(ops[1].reg.value) == ZYDIS_REGISTER_RSI && ops[0].size == 64 && npayload < 4)
				payload[npayload++] = reg64(ops[0].reg.value);
			/* Option::take of [rdi+D], within the first instructions */
			if (k < 16 && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].size == 64 &&
			    ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY && reg64(ops[1].mem.base) == ZYDIS_REGISTER_RDI &&
			    ops[1].mem.index == ZYDIS_REGISTER_NONE && ops[1].mem.disp.value > 0)
				took = ops[1].mem.disp.value;
			else if (k < 20 && took > 0 && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].size == 64 &&
				 is_mem(&ops[0], ZYDIS_REGISTER_RDI, took))
				take = true;
			for (p = 0; p < npayload; p++) {
				if (is_mem(&ops[1], payload[p], 0x10))
					w10 = true;
				if (is_mem(&ops[1], payload[p], 0x18))
					w18 = true;
			}
			if (take && w10 && w18)
				return true; /* nothing later changes the answer */
		}
		v += ins.length;
	}
	return take && w10 && w18;
}

/* Step 4: take_received_plaintext's entry shape (see the file comment). */
static bool read_shape(const struct rscan *sc, uint64_t start, uint64_t end)
{
	bool store32 = false, w0 = false, w8 = false, w16 = false;
	uint64_t v = start;
	int k;

	for (k = 0; v < end && k < 12; k++) {
		ZydisDecodedInstruction ins;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];

		if (!decode(sc, v, &ins, ops) || ins.meta.category == ZYDIS_CATEGORY_CALL ||
		    ins.meta.category == ZYDIS_CATEGORY_RET || ins.meta.category == ZYDIS_CATEGORY_UNCOND_BR)
			break;
		if (ins.mnemonic == ZYDIS_MNEMONIC_MOV && ins.operand_count_visible == 2) {
			if (!store32 && ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[0].size == 8 &&
			    reg64(ops[0].mem.base) == ZYDIS_REGISTER_RDI && ops[0].mem.index == ZYDIS_REGISTER_NONE &&
			    ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && ops[1].imm.value.u == 32)
				store32 = true;
			else if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && !store32)
				return false; /* another store first */
			if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER && ops[0].size == 64) {
				w0 |= is_mem(&ops[1], ZYDIS_REGISTER_RSI, 0);
				w8 |= is_mem(&ops[1], ZYDIS_REGISTER_RSI, 8);
				w16 |= is_mem(&ops[1], ZYDIS_REGISTER_RSI, 0x10);
			}
		}
		v += ins.length;
	}
	return store32 && w0 && w8 && w16;
}

/* Byte prefilters on a function's first bytes before decoding it (most of a binary's functions fail them). Each
 * passes every function the decoding rule after it accepts. */
static bool may_store32(const uint8_t *p)
{
	int i;

	/* mov byte [rdi+disp32], 32: c6 87 d32 20; mov byte [rdi+disp8], 32: c6 47 d8 20. First a word-at-a-time test
	 * for a c6 byte in the first 48 bytes (6 words; most functions have none) */
	uint64_t any = 0, w;

	for (i = 0; i < 48; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= 0xc6c6c6c6c6c6c6c6ull; /* a c6 byte -> 00 */
		any |= (w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull;
	}
	if (!any)
		return false;
	for (i = 0; i + 7 <= 48; i++)
		if (p[i] == 0xc6 && ((p[i + 1] == 0x87 && p[i + 6] == 0x20) || (p[i + 1] == 0x47 && p[i + 3] == 0x20)))
			return true;
	return false;
}

/* REX.W without REX.B (the base is rdi, not r15): 48, 4a, 4c, 4e. */
static bool rex_w_rdi(uint8_t b)
{
	return (b & 0xf9) == 0x48;
}

static bool may_load_rdi(const uint8_t *p)
{
	int i;

	/* mov r64, [rdi+disp]: REX.W (48/4c) 8b modrm with rm = rdi (111) and a displacement */
	for (i = 0; i + 3 <= 64; i++)
		if ((p[i] == 0x48 || p[i] == 0x4c) && p[i + 1] == 0x8b && (p[i + 2] & 0x07) == 0x07 &&
		    ((p[i + 2] & 0xc0) == 0x40 || (p[i + 2] & 0xc0) == 0x80))
			return true;
	return false;
}

/* The displacement of a [rdi+disp8/disp32] ModRM at q (mod 01 or 10, rm 111), or 0 for any other ModRM. */
static int64_t rdi_disp(const uint8_t *q)
{
	int32_t d;

	if ((q[0] & 0xc7) == 0x47)
		return (int8_t)q[1];
	if ((q[0] & 0xc7) == 0x87) {
		memcpy(&d, q + 1, 4);
		return d;
	}
	return 0;
}

/*
 * Step 3a prefilter: within the first n bytes (write_shape decodes 20 instructions, at most 300 bytes), a 64-bit load
 * `mov r64, [rdi+D]` (REX.W 8b) and after it a 64-bit store to the same `[rdi+D]`, D > 0 (`mov [rdi+D], r64`: REX.W
 * 89; `mov qword [rdi+D], imm32`: REX.W c7 /0). Byte patterns at every offset, so a match inside another instruction
 * only costs a decode.
 */
static bool may_take(const uint8_t *p, size_t n)
{
	int64_t loads[16];
	int nl = 0, j;
	size_t i;

	for (i = 1; i + 6 <= n; i++) {
		uint8_t op = p[i];
		int64_t d;

		if ((op != 0x8b && op != 0x89 && op != 0xc7) || !rex_w_rdi(p[i - 1]) || (d = rdi_disp(p + i + 1)) <= 0)
			continue;
		if (op == 0x8b) {
			if (nl == 16)
				return true; /* too many to tell: decode */
			loads[nl++] = d;
			continue;
		}
		if (op == 0xc7 && (p[i + 1] & 0x38))
			continue; /* c7 /0 only */
		for (j = 0; j < nl; j++)
			if (loads[j] == d)
				return true;
	}
	return false;
}

struct callers_acc {
	const struct rscan *sc;
	uint64_t except, seen[8];
	int n;
};

static bool add_caller(uint64_t v, void *arg)
{
	struct callers_acc *c = arg;
	uint64_t fs, fe;

	if (elf_func_of(c->sc->img, &c->sc->fdes, v, &fs, &fe) && fs != c->except && !locate_in_list(c->seen, c->n, fs))
		c->seen[c->n++] = fs;
	return c->n < 8;
}

/* Number of direct calls (e8 rel32) to target from functions other than `except` (counted up to 8). */
static int direct_callers(const struct rscan *sc, uint64_t target, uint64_t except)
{
	struct callers_acc c = { .sc = sc, .except = except };

	elf_rel32_each(sc->img, 0, UINT64_MAX, target, false, add_caller, &c);
	return c.n;
}

enum locate_status locate_rustls(const struct elf_image *img, struct tls_location *loc, char *why, size_t whylen)
{
	struct rscan *sc;
	uint64_t ends[MAX_ANCHOR_FILES], wc[MAX_CANDS], rc[MAX_CANDS];
	int nends, nw = 0, nr = 0, ncallers;
	uint32_t i;
	enum locate_status st = LOCATE_UNRECOGNISED;
	char build[64] = "";
	const char *failed = NULL;

	if (img->machine != 62 /* EM_X86_64 */)
		return LOCATE_ABSENT;
	nends = find_anchor_files(img, ends, MAX_ANCHOR_FILES, build, sizeof(build));
	if (!nends)
		return LOCATE_ABSENT;
	sc = calloc(1, sizeof(*sc));
	if (!sc) {
		snprintf(why, whylen, "out of memory");
		return LOCATE_ABSENT;
	}
	sc->img = img;
	ZydisDecoderInit(&sc->dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
	loc->family = "rustls";
	loc->how = "anchors";
	snprintf(loc->build, sizeof(loc->build), "%s", build);
	loc->nfns = 2;
	loc->fns[0].fn = SSL_FN_RUSTLS_WRITE;
	loc->fns[1].fn = SSL_FN_RUSTLS_READ;
	find_locations(sc, ends, nends);
	find_rela_locations(sc, ends, nends);
	if (!sc->nlocs) {
		/* The source path without a panic Location naming it: this probe or another tool holding the string. */
		st = LOCATE_ABSENT;
		goto out;
	}
	if (!elf_fdes_init(sc->img, &sc->fdes)) {
		snprintf(why, whylen, "no unwind table (.eh_frame_hdr or .eh_frame): function extents unknown");
		goto out;
	}
	for (i = 0; i < sc->fdes.count; i++) {
		uint64_t s, e;
		size_t avail, n;
		const uint8_t *p;

		if (!elf_fde_range(sc->img, &sc->fdes, i, &s, &e) || e - s > 0x10000 ||
		    !(p = elf_code_at(img, s, &avail)) || avail < 64)
			continue;
		if (may_store32(p) && read_shape(sc, s, e) && nr < MAX_CANDS)
			rc[nr++] = s;
		n = (size_t)(e - s) < avail ? (size_t)(e - s) : avail;
		if (may_load_rdi(p) && may_take(p, n < 320 ? n : 320) && write_shape(sc, s, e) &&
		    reaches_record_layer(sc, s, e) && nw < MAX_CANDS)
			wc[nw++] = s;
	}
	if (nw != 1) {
		failed = "buffer_plaintext";
		snprintf(why, whylen,
			 "CommonState::buffer_plaintext: %s with its entry shape reaching the record layer",
			 nw ? "several functions" : "no function");
		goto out;
	}
	if (nr != 1) {
		failed = "take_received_plaintext";
		snprintf(why, whylen, "CommonState::take_received_plaintext: %s with its entry shape",
			 nr ? "several functions" : "no function");
		goto out;
	}
	ncallers = direct_callers(sc, rc[0], wc[0]);
	if (ncallers < 2) {
		failed = "take_received_plaintext";
		snprintf(why, whylen,
			 "second check: take_received_plaintext candidate at 0x%llx has %d direct caller(s), "
			 "not the traffic states of both sides",
			 (unsigned long long)rc[0], ncallers);
		goto out;
	}
	{
		int64_t wo = elf_image_vaddr_to_offset(img, wc[0]), ro = elf_image_vaddr_to_offset(img, rc[0]);

		if (wo < 0 || ro < 0) {
			snprintf(why, whylen, "located address not in the file");
			goto out;
		}
		loc->fns[0].offset = (uint64_t)wo;
		loc->fns[1].offset = (uint64_t)ro;
	}
	snprintf(loc->method, sizeof(loc->method), "record_layer.rs locations + entry shapes + call graph");
	st = LOCATE_FOUND;
out:
	if (st == LOCATE_UNRECOGNISED) {
		for (i = 0; i < (uint32_t)loc->nfns; i++) {
			const char *name =
				loc->fns[i].fn == SSL_FN_RUSTLS_WRITE ? "buffer_plaintext" : "take_received_plaintext";

			if (failed && strcmp(failed, name))
				snprintf(loc->fns[i].detail, sizeof(loc->fns[i].detail),
					 "not located (%s failed first)", failed);
			else
				snprintf(loc->fns[i].detail, sizeof(loc->fns[i].detail), "%.95s", why);
		}
	}
	elf_fdes_free(&sc->fdes);
	free(sc);
	return st;
}

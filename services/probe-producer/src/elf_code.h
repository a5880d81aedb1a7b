/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Code of a mapped ELF image (elf_image.h) as the locators read it: the bytes at a virtual address, and the function
 * extents of the unwind table (`.eh_frame_hdr`'s binary search table + the FDEs it points to, as LLVM and GCC emit
 * them: pc_begin pcrel sdata4, pc_range udata4). Shared by the locators of stacks compiled with unwind tables
 * (Rust always; C with clang/gcc's default -fasynchronous-unwind-tables): locate_rustls.c, locate_openssl.c.
 */
#ifndef AGENTSIGHT_ELF_CODE_H
#define AGENTSIGHT_ELF_CODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "elf_image.h"

/** Code bytes at vaddr (in an exec segment) and how many follow in that segment (*avail); NULL outside. */
const uint8_t *elf_code_at(const struct elf_image *img, uint64_t vaddr, size_t *avail);

/** n bytes at vaddr anywhere in a PT_LOAD segment's file bytes, or NULL. */
const uint8_t *elf_bytes_at(const struct elf_image *img, uint64_t vaddr, size_t n);

/**
 * The function extents of the unwind tables: `.eh_frame_hdr`'s search table (`count` entries {int32 start, int32
 * fde}, relative to hdr_addr), or, in a binary without one (`gcc -static` executables: ld adds the header only when
 * linking dynamically), the FDEs of `.eh_frame` itself, parsed once into `ranges` (count {start, end} pairs sorted by
 * start; heap memory, released by elf_fdes_free).
 */
struct elf_fdes {
	const uint8_t *tab;
	uint32_t count;
	uint64_t hdr_addr;
	uint64_t *ranges;
};

/** Reads img's `.eh_frame_hdr` into *t, else parses `.eh_frame`; false when neither gives a function. */
bool elf_fdes_init(const struct elf_image *img, struct elf_fdes *t);

/** Releases what elf_fdes_init allocated (safe on a zeroed or failed table). */
void elf_fdes_free(struct elf_fdes *t);

/** Start address of entry i (table order = address order). */
uint64_t elf_fde_start(const struct elf_fdes *t, uint32_t i);

/** The function range [*start, *end) of entry i; false when its FDE is unreadable or disagrees with the table. */
bool elf_fde_range(const struct elf_image *img, const struct elf_fdes *t, uint32_t i, uint64_t *start, uint64_t *end);

/** The function containing v ([*start, *end)); false when no FDE covers v. */
bool elf_func_of(const struct elf_image *img, const struct elf_fdes *t, uint64_t v, uint64_t *start, uint64_t *end);

/**
 * Calls fn(site, arg) for each direct `call rel32` (e8) site, with `jumps` also each `jmp rel32` (e9) site, in img's
 * exec segments within [lo, hi) (virtual addresses, the whole 5 bytes inside) whose target is `target`, in address
 * order, until fn returns false. Byte patterns at every offset (a match inside another instruction is possible;
 * callers check the site's function). memchr on the opcode bytes: about 3-5x faster than a byte loop on Codex's
 * 250 MB of code.
 */
void elf_rel32_each(const struct elf_image *img, uint64_t lo, uint64_t hi, uint64_t target, bool jumps,
		    bool (*fn)(uint64_t site, void *arg), void *arg);

#endif

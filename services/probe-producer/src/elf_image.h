/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A read-only view of one ELF64 file mapped in memory, shared by the TLS locators (locate.h): its loadable segments
 * and sections, address translation and byte searches. Mapping once and parsing the headers in place costs one
 * mmap per binary, however many locators look at it (a 400 MB Bun binary is read from the page cache once).
 */
#ifndef AGENTSIGHT_ELF_IMAGE_H
#define AGENTSIGHT_ELF_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ELF_IMAGE_MAX_SEGS 32

/** One PT_LOAD segment: file bytes [offset, offset + filesz) are mapped at vaddr (before any load bias). */
struct elf_segment {
	uint64_t vaddr;
	uint64_t offset;
	uint64_t filesz;
	bool exec; /* PF_X */
};

/** A mapped ELF64 little-endian file. `data` is valid for `size` bytes until elf_image_close(). */
struct elf_image {
	const uint8_t *data;
	size_t size;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns; /* st_mtim, ns since the epoch */
	uint16_t machine; /* e_machine (EM_X86_64 = 62) */
	uint16_t type;    /* e_type (ET_EXEC = 2, ET_DYN = 3) */
	struct elf_segment segs[ELF_IMAGE_MAX_SEGS];
	int nsegs;
	/* Section headers (NULL when the file has none or they are out of bounds). */
	const void *shdrs;
	uint16_t shnum;
	const char *shstrtab;
	size_t shstrtab_size;
};

/**
 * Maps path read-only (MAP_POPULATE when populate: one sequential read instead of a fault per page, worth it when
 * the whole file is scanned) and parses its headers. Returns 0, -errno (open/mmap), or -ENOEXEC for a file that is
 * not a well-formed ELF64 little-endian file.
 */
int elf_image_open(struct elf_image *img, const char *path, bool populate);

/** Unmaps img (safe on a zeroed or failed image). */
void elf_image_close(struct elf_image *img);

/** A section by name: its file bytes and size in data and size, its address in addr. False when absent or out of
 * bounds. */
bool elf_image_section(const struct elf_image *img, const char *name, const uint8_t **data, uint64_t *size,
		       uint64_t *addr);

/** File offset of virtual address vaddr (in a PT_LOAD segment's file bytes), or -1. */
int64_t elf_image_vaddr_to_offset(const struct elf_image *img, uint64_t vaddr);

/** Virtual address of file offset off (in a PT_LOAD segment), or 0 when no segment maps it. */
uint64_t elf_image_offset_to_vaddr(const struct elf_image *img, uint64_t off);

/**
 * The regions holding string constants: `.rodata` when the file has section headers (so e.g. Bun's `.bun` section,
 * up to 100 MB of a compiled app's JavaScript, is not searched), else every non-exec PT_LOAD segment. Fills up to
 * max (file bytes, size, vaddr) triples; returns how many.
 */
int elf_image_string_regions(const struct elf_image *img, const uint8_t **data, uint64_t *size, uint64_t *vaddr,
			     int max);

/** True when the needle (len bytes) occurs anywhere in the file. */
bool elf_image_contains(const struct elf_image *img, const void *needle, size_t len);

#endif

// SPDX-License-Identifier: Apache-2.0
/* See elf_image.h. Headers are read in place from the mapping (<elf.h> layouts), every offset bounds-checked. */
#define _GNU_SOURCE /* memmem */
#include "elf_image.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* True when [off, off + len) lies inside the file. */
static bool in_file(const struct elf_image *img, uint64_t off, uint64_t len)
{
	return off <= img->size && len <= img->size - off;
}

int elf_image_open(struct elf_image *img, const char *path, bool populate)
{
	const Elf64_Ehdr *eh;
	struct stat st;
	void *p;
	int fd, i;

	memset(img, 0, sizeof(*img));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		close(fd);
		return -ENOEXEC;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | (populate ? MAP_POPULATE : 0), fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -errno;
	img->data = p;
	img->size = (size_t)st.st_size;
	img->dev = st.st_dev;
	img->ino = st.st_ino;
	img->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;

	eh = (const Elf64_Ehdr *)img->data;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB || eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_file(img, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		goto bad;
	img->machine = eh->e_machine;
	img->type = eh->e_type;
	for (i = 0; i < eh->e_phnum; i++) {
		/* Copied out, not read in place: the table need not be 8-aligned (Node single-executable binaries such as
		 * Copilot CLI's, made by postject, have it at a 4-aligned offset) */
		Elf64_Phdr ph;

		memcpy(&ph, img->data + eh->e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || !in_file(img, ph.p_offset, ph.p_filesz) || img->nsegs == ELF_IMAGE_MAX_SEGS)
			continue;
		img->segs[img->nsegs++] = (struct elf_segment){
			.vaddr = ph.p_vaddr,
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.exec = (ph.p_flags & PF_X) != 0,
		};
	}
	/* The section table is read in place: it must be 8-aligned, as the gABI lays it out (a misaligned one is
	 * ignored, like an out-of-bounds one). */
	if (eh->e_shnum && eh->e_shentsize == sizeof(Elf64_Shdr) && eh->e_shoff % 8 == 0 &&
	    in_file(img, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)) && eh->e_shstrndx < eh->e_shnum) {
		const Elf64_Shdr *sh = (const Elf64_Shdr *)(img->data + eh->e_shoff);
		const Elf64_Shdr *str = &sh[eh->e_shstrndx];

		if (in_file(img, str->sh_offset, str->sh_size)) {
			img->shdrs = sh;
			img->shnum = eh->e_shnum;
			img->shstrtab = (const char *)img->data + str->sh_offset;
			img->shstrtab_size = str->sh_size;
		}
	}
	return 0;
bad:
	elf_image_close(img);
	return -ENOEXEC;
}

void elf_image_close(struct elf_image *img)
{
	if (img->data)
		munmap((void *)img->data, img->size);
	memset(img, 0, sizeof(*img));
}

bool elf_image_section(const struct elf_image *img, const char *name, const uint8_t **data, uint64_t *size,
		       uint64_t *addr)
{
	const Elf64_Shdr *sh = img->shdrs;
	size_t nlen = strlen(name);
	int i;

	for (i = 0; sh && i < img->shnum; i++) {
		if (sh[i].sh_name >= img->shstrtab_size || img->shstrtab_size - sh[i].sh_name <= nlen ||
		    memcmp(img->shstrtab + sh[i].sh_name, name, nlen + 1))
			continue;
		if (sh[i].sh_type == SHT_NOBITS || !in_file(img, sh[i].sh_offset, sh[i].sh_size))
			return false;
		*data = img->data + sh[i].sh_offset;
		*size = sh[i].sh_size;
		*addr = sh[i].sh_addr;
		return true;
	}
	return false;
}

int64_t elf_image_vaddr_to_offset(const struct elf_image *img, uint64_t vaddr)
{
	int i;

	for (i = 0; i < img->nsegs; i++)
		if (vaddr >= img->segs[i].vaddr && vaddr - img->segs[i].vaddr < img->segs[i].filesz)
			return (int64_t)(img->segs[i].offset + (vaddr - img->segs[i].vaddr));
	return -1;
}

uint64_t elf_image_offset_to_vaddr(const struct elf_image *img, uint64_t off)
{
	int i;

	for (i = 0; i < img->nsegs; i++)
		if (off >= img->segs[i].offset && off - img->segs[i].offset < img->segs[i].filesz)
			return img->segs[i].vaddr + (off - img->segs[i].offset);
	return 0;
}

bool elf_image_contains(const struct elf_image *img, const void *needle, size_t len)
{
	return memmem(img->data, img->size, needle, len) != NULL;
}

int elf_image_string_regions(const struct elf_image *img, const uint8_t **data, uint64_t *size, uint64_t *vaddr,
			     int max)
{
	int s, n = 0;

	if (max > 0 && elf_image_section(img, ".rodata", &data[0], &size[0], &vaddr[0]))
		return 1;
	for (s = 0; s < img->nsegs && n < max; s++) {
		if (img->segs[s].exec)
			continue;
		data[n] = img->data + img->segs[s].offset;
		size[n] = img->segs[s].filesz;
		vaddr[n++] = img->segs[s].vaddr;
	}
	return n;
}

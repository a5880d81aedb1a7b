// SPDX-License-Identifier: Apache-2.0
/* Code bytes and unwind-table function extents of a mapped ELF image: elf_code.h. */
#define _GNU_SOURCE
#include "elf_code.h"

#include <string.h>

const uint8_t *elf_code_at(const struct elf_image *img, uint64_t vaddr, size_t *avail)
{
	int i;

	for (i = 0; i < img->nsegs; i++) {
		const struct elf_segment *s = &img->segs[i];

		if (s->exec && vaddr >= s->vaddr && vaddr - s->vaddr < s->filesz) {
			*avail = (size_t)(s->filesz - (vaddr - s->vaddr));
			return img->data + s->offset + (vaddr - s->vaddr);
		}
	}
	return NULL;
}

const uint8_t *elf_bytes_at(const struct elf_image *img, uint64_t vaddr, size_t n)
{
	int64_t off = elf_image_vaddr_to_offset(img, vaddr);

	return off >= 0 && (uint64_t)off + n <= img->size ? img->data + off : NULL;
}

bool elf_fdes_init(const struct elf_image *img, struct elf_fdes *t)
{
	const uint8_t *d;
	uint64_t size, addr;

	memset(t, 0, sizeof(*t));
	if (!elf_image_section(img, ".eh_frame_hdr", &d, &size, &addr) || size < 12 || d[0] != 1 ||
	    d[2] != 0x03 /* udata4 count */ || d[3] != 0x3b /* datarel sdata4 table */)
		return false;
	memcpy(&t->count, d + 8, 4);
	if (12 + (uint64_t)t->count * 8 > size) {
		t->count = 0;
		return false;
	}
	t->tab = d + 12;
	t->hdr_addr = addr;
	return true;
}

uint64_t elf_fde_start(const struct elf_fdes *t, uint32_t i)
{
	int32_t s;

	memcpy(&s, t->tab + (size_t)i * 8, 4);
	return t->hdr_addr + (uint64_t)(int64_t)s;
}

bool elf_fde_range(const struct elf_image *img, const struct elf_fdes *t, uint32_t i, uint64_t *start, uint64_t *end)
{
	int32_t f, pc;
	uint32_t range;
	uint64_t fde;
	const uint8_t *p;

	memcpy(&f, t->tab + (size_t)i * 8 + 4, 4);
	fde = t->hdr_addr + (uint64_t)(int64_t)f;
	p = elf_bytes_at(img, fde, 16);
	if (!p)
		return false;
	memcpy(&pc, p + 8, 4);
	memcpy(&range, p + 12, 4);
	*start = fde + 8 + (uint64_t)(int64_t)pc;
	*end = *start + range;
	return *start == elf_fde_start(t, i);
}

bool elf_func_of(const struct elf_image *img, const struct elf_fdes *t, uint64_t v, uint64_t *start, uint64_t *end)
{
	uint32_t lo = 0, hi = t->count;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (elf_fde_start(t, mid) <= v)
			lo = mid;
		else
			hi = mid;
	}
	if (!t->count || !elf_fde_range(img, t, lo, start, end))
		return false;
	return v >= *start && v < *end;
}

/* Next byte b in [q, end - 4) (room for the rel32 after it), or NULL. */
static const uint8_t *next_op(const uint8_t *q, const uint8_t *end, uint8_t b)
{
	return q + 5 <= end ? memchr(q, b, (size_t)(end - q - 4)) : NULL;
}

void elf_rel32_each(const struct elf_image *img, uint64_t lo, uint64_t hi, uint64_t target, bool jumps,
		    bool (*fn)(uint64_t site, void *arg), void *arg)
{
	int s;

	for (s = 0; s < img->nsegs; s++) {
		const struct elf_segment *seg = &img->segs[s];
		uint64_t a = seg->vaddr > lo ? seg->vaddr : lo, b = seg->vaddr + seg->filesz < hi ? seg->vaddr + seg->filesz : hi;
		const uint8_t *base, *end, *c, *j;

		if (!seg->exec || a + 5 > b)
			continue;
		base = img->data + seg->offset;
		end = base + (b - seg->vaddr);
		c = next_op(base + (a - seg->vaddr), end, 0xe8);
		j = jumps ? next_op(base + (a - seg->vaddr), end, 0xe9) : NULL;
		while (c || j) {
			const uint8_t *q = c && (!j || c < j) ? c : j; /* the two streams merged in address order */
			uint64_t v = seg->vaddr + (uint64_t)(q - base);
			int32_t d;

			memcpy(&d, q + 1, 4);
			if (v + 5 + (uint64_t)(int64_t)d == target && !fn(v, arg))
				return;
			if (q == c)
				c = next_op(q + 1, end, 0xe8);
			else
				j = next_op(q + 1, end, 0xe9);
		}
	}
}

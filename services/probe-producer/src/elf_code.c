// SPDX-License-Identifier: Apache-2.0
/* Code bytes and unwind-table function extents of a mapped ELF image: elf_code.h. */
#define _GNU_SOURCE
#include "elf_code.h"

#include <stdlib.h>
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

/* DWARF pointer encodings (DW_EH_PE_*) of .eh_frame: the value at *p (advanced), field address a; false when the
 * encoding is not one compilers emit for FDE addresses (absptr, udata/sdata 2/4/8, uleb/sleb; absolute or pcrel). */
static bool read_leb(const uint8_t **p, const uint8_t *end, bool sign, uint64_t *v)
{
	unsigned shift = 0;
	uint8_t b = 0x80;

	*v = 0;
	while (*p < end && (b & 0x80) && shift < 64) {
		b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	}
	if (b & 0x80)
		return false;
	if (sign && shift < 64 && (b & 0x40))
		*v |= ~0ull << shift;
	return true;
}

static bool read_enc(const uint8_t **p, const uint8_t *end, uint8_t enc, uint64_t a, bool apply, uint64_t *v)
{
	const uint8_t *q = *p;
	size_t n;

	switch (enc & 0x0f) {
	case 0x00:
	case 0x04:
	case 0x0c:
		n = 8;
		break;
	case 0x02:
	case 0x0a:
		n = 2;
		break;
	case 0x03:
	case 0x0b:
		n = 4;
		break;
	case 0x01:
		return read_leb(p, end, false, v) && (!apply || (enc & 0x70) == 0);
	case 0x09:
		return read_leb(p, end, true, v) && (!apply || (enc & 0x70) == 0);
	default:
		return false;
	}
	if ((size_t)(end - q) < n)
		return false;
	if (n == 8)
		memcpy(v, q, 8);
	else if (n == 4)
		*v = (enc & 0x08) ? (uint64_t)(int64_t)(int32_t)(q[0] | q[1] << 8 | q[2] << 16 | (uint32_t)q[3] << 24)
				  : (uint64_t)(q[0] | q[1] << 8 | q[2] << 16 | (uint32_t)q[3] << 24);
	else
		*v = (enc & 0x08) ? (uint64_t)(int64_t)(int16_t)(q[0] | q[1] << 8) : (uint64_t)(q[0] | q[1] << 8);
	*p = q + n;
	if (apply) {
		if ((enc & 0x70) == 0x10)
			*v += a; /* pcrel */
		else if ((enc & 0x70) != 0)
			return false; /* datarel/textrel/funcrel: not used for FDE addresses on x86-64 */
	}
	return !(enc & 0x80); /* indirect: never for pc_begin */
}

/* The FDE pointer encoding of the CIE at c (its 'R' augmentation; absptr without one); false when unreadable. */
static bool cie_encoding(const uint8_t *c, const uint8_t *end, uint8_t *enc)
{
	const uint8_t *p, *aug;
	uint64_t v;
	uint8_t version;

	if (end - c < 10)
		return false;
	p = aug = c + 9; /* after length, CIE id, version */
	version = c[8];
	while (p < end && *p)
		p++;
	if (p++ >= end)
		return false;
	if (aug[0] == 'e' && aug[1] == 'h')
		return false; /* GCC 2 "eh" augmentation: not emitted since 1999 */
	if (!read_leb(&p, end, false, &v) || !read_leb(&p, end, true, &v))
		return false; /* code and data alignment */
	if (version == 1)
		p++;
	else if (!read_leb(&p, end, false, &v))
		return false; /* return address register */
	*enc = 0;
	if (aug[0] != 'z')
		return aug[0] == 0;
	if (!read_leb(&p, end, false, &v))
		return false;
	for (aug++; *aug && p < end; aug++) {
		if (*aug == 'R')
			*enc = *p++;
		else if (*aug == 'L')
			p++;
		else if (*aug == 'P') {
			uint8_t penc = *p++;
			uint64_t pv;

			if (!read_enc(&p, end, penc & 0x7f, 0, false, &pv))
				return false;
		} else if (*aug != 'S' && *aug != 'B')
			return false;
	}
	return true;
}

static int cmp_range(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every FDE of .eh_frame as {start, end} pairs sorted by start (t->ranges, t->count); false when there is none. */
static bool parse_eh_frame(const struct elf_image *img, struct elf_fdes *t)
{
	const uint8_t *d, *p, *end;
	uint64_t size, addr, cap = 0, n = 0, last_cie = UINT64_MAX;
	uint8_t enc = 0;

	if (!elf_image_section(img, ".eh_frame", &d, &size, &addr) || size < 16)
		return false;
	end = d + size;
	for (p = d; p + 8 <= end;) {
		uint32_t len, id;
		const uint8_t *rec = p, *next, *q;
		uint64_t start, range;

		memcpy(&len, p, 4);
		if (len == 0)
			break; /* terminator */
		if (len == 0xffffffffu || (uint64_t)len + 4 > (uint64_t)(end - p))
			break; /* 64-bit DWARF: not emitted for x86-64 .eh_frame */
		next = p + 4 + len;
		memcpy(&id, p + 4, 4);
		if (id == 0) { /* a CIE */
			p = next;
			continue;
		}
		if (id > (uint64_t)(p + 4 - d))
			break;
		q = p + 4 - id; /* CIE pointer: back from this field */
		if ((uint64_t)(q - d) != last_cie) {
			uint32_t clen;

			memcpy(&clen, q, 4);
			if ((uint64_t)clen + 4 > (uint64_t)(end - q) || !cie_encoding(q, q + 4 + clen, &enc))
				break;
			last_cie = (uint64_t)(q - d);
		}
		q = rec + 8;
		if (!read_enc(&q, next, enc, addr + (uint64_t)(q - d), true, &start) ||
		    !read_enc(&q, next, enc & 0x0f, 0, false, &range))
			break;
		p = next;
		if (!range || !start)
			continue; /* a discarded function's FDE (0 after --gc-sections) */
		if (n == cap) {
			uint64_t *r = realloc(t->ranges, (size_t)(cap = cap ? cap * 2 : 4096) * 16);

			if (!r)
				break;
			t->ranges = r;
		}
		t->ranges[2 * n] = start;
		t->ranges[2 * n + 1] = start + range;
		n++;
	}
	if (!n || n > UINT32_MAX) {
		elf_fdes_free(t);
		return false;
	}
	qsort(t->ranges, (size_t)n, 16, cmp_range);
	t->count = (uint32_t)n;
	return true;
}

void elf_fdes_free(struct elf_fdes *t)
{
	free(t->ranges);
	t->ranges = NULL;
	t->count = 0;
}

bool elf_fdes_init(const struct elf_image *img, struct elf_fdes *t)
{
	const uint8_t *d;
	uint64_t size, addr;

	memset(t, 0, sizeof(*t));
	if (!elf_image_section(img, ".eh_frame_hdr", &d, &size, &addr) || size < 12 || d[0] != 1 ||
	    d[2] != 0x03 /* udata4 count */ || d[3] != 0x3b /* datarel sdata4 table */)
		return parse_eh_frame(img, t);
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

	if (t->ranges)
		return t->ranges[2 * (size_t)i];
	memcpy(&s, t->tab + (size_t)i * 8, 4);
	return t->hdr_addr + (uint64_t)(int64_t)s;
}

bool elf_fde_range(const struct elf_image *img, const struct elf_fdes *t, uint32_t i, uint64_t *start, uint64_t *end)
{
	int32_t f, pc;
	uint32_t range;
	uint64_t fde;
	const uint8_t *p;

	if (t->ranges) {
		*start = t->ranges[2 * (size_t)i];
		*end = t->ranges[2 * (size_t)i + 1];
		return true;
	}
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
		uint64_t a = seg->vaddr > lo ? seg->vaddr : lo,
			 b = seg->vaddr + seg->filesz < hi ? seg->vaddr + seg->filesz : hi;
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

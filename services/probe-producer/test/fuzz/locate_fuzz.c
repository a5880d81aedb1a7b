/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what the producer reads from untrusted files as root: the ELF view (elf_image.c) and every TLS
 * locator (locate_all: BoringSSL, OpenSSL, rustls, Go crypto/tls). Any executable a traced process maps is parsed,
 * so a truncated, corrupt or hostile ELF must give an answer (absent, unrecognised, found), never a crash, an
 * out-of-bounds read or a hang. Each input is written to a memfd and opened by path, as the producer opens a mapped
 * file through its own fd.
 *
 * Build: `make -C services/probe-producer fuzz` (clang, -fsanitize=fuzzer,address,undefined; needs Debian's
 * libclang-rt-dev). Run: `build/locate-fuzz [-max_total_time=S] CORPUS_DIR...` (test/locate-fuzz.spec.ts seeds it
 * with small real ELF files and runs it briefly in CI; the long run is in bench/README.md).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf_image.h"
#include "locate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	struct elf_image img = { 0 };
	struct tls_location loc = { 0 };
	char path[64], why[256];

	if (fd < 0 && (fd = memfd_create("locate-fuzz", 0)) < 0)
		return 0;
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (elf_image_open(&img, path, false) == 0) {
		why[0] = '\0';
		(void)locate_all(&img, &loc, why, sizeof(why));
		elf_image_close(&img);
	}
	return 0;
}

/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Go crypto/tls locator (go_tls.c; registered in locate.c, declared as locate_go_tls in locate.h) and the Go
 * helpers it is made of, exposed for tests and --locate.
 */
#ifndef AGENTSIGHT_GO_TLS_H
#define AGENTSIGHT_GO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "locate.h"

/**
 * The Go version the binary was built with ("go1.19.8"), from its build info (.go.buildinfo, Go >= 1.13; the string
 * runtime.buildVersion holds), into out (outlen bytes, NUL-terminated). False (out "") when there is none.
 */
bool go_build_version(const struct elf_image *img, char *out, size_t outlen);

/** True when the version string v ("go1.21.3", "devel ...") is at least go<major>.<minor>; false when unparsable. */
bool go_version_at_least(const char *v, int major, int minor);

/**
 * File offsets of every RET instruction in the function [entry, end) (virtual addresses), decoded linearly with
 * Zydis (Go emits no data in function bodies; trailing INT3 padding ends the walk). Returns how many (at most max,
 * in rets), or -1 with `why` set (body outside the file, undecodable instruction, more than max RETs); 0 with `why`
 * set when there is none.
 */
int go_ret_offsets(const struct elf_image *img, uint64_t entry, uint64_t end, uint64_t *rets, int max, char *why,
		   size_t whylen);

#endif

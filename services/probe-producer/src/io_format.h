/* SPDX-License-Identifier: Apache-2.0 */
/* Text forms: open flags and socket addresses of the file-open and connect() records, JSON strings of stdout lines. */
#ifndef AGENTSIGHT_IO_FORMAT_H
#define AGENTSIGHT_IO_FORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/** `O_WRONLY|O_CREAT|O_TRUNC`: the access mode, then each known flag; unknown bits as a trailing `0x…`. */
void open_flags_text(uint64_t flags, char *out, size_t out_size);

/** A connect() target decoded from the sockaddr bytes the process passed. */
struct sock_target {
	const char *family; /* "inet" | "inet6" | "unix", or NULL for another family */
	char address[128];  /* dotted / RFC 5952 address, unix path, `@name` for an abstract unix socket, or "" */
	uint16_t port;      /* host byte order; 0 for unix */
};

/** Decodes addr (len bytes, as struct sockaddr_*); returns 0, or -1 when the family is not inet/inet6/unix. A
 * sockaddr too short for its family gives an empty address. */
int sock_target_decode(const uint8_t *addr, size_t len, struct sock_target *t);

/** Writes s (len bytes) as a JSON string: `"` and `\` escaped, control characters as \u00XX, other bytes as they are. */
void json_write_string(FILE *out, const char *s, size_t len);

#endif

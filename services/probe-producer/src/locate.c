// SPDX-License-Identifier: Apache-2.0
/* The locator registry (locate.h): one entry per statically linked TLS stack, in the order they are tried. */
#include "locate.h"

const struct tls_locator tls_locators[] = {
	{ .family = "Go crypto/tls", .version = 1, .locate = locate_go_tls },
	{ .family = "BoringSSL", .version = 3, .locate = locate_boringssl },
	{ .family = "rustls", .version = 1, .locate = locate_rustls },
};
const int n_tls_locators = (int)(sizeof(tls_locators) / sizeof(tls_locators[0]));

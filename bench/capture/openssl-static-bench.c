// SPDX-License-Identifier: Apache-2.0
/*
 * Per-call probe cost of a statically linked, stripped OpenSSL (bench/openssl-static.bench.ts builds this with
 * `cc -O2 -static … -lssl -lcrypto` and strips it: the static OpenSSL locator finds SSL_write/SSL_read by anchors).
 *
 * A client and a server SSL over an in-memory BIO pair in one process (no syscalls); after the handshake, ROUNDS
 * rounds of a 1-byte SSL_write on the client then a 1-byte SSL_read on the server, each exactly one probed call,
 * timed with clock_gettime(CLOCK_MONOTONIC). Prints {"write":[ns…],"read":[ns…]} without the first 1,000 rounds.
 * Usage: openssl-static-bench CERT KEY [ROUNDS=20000]
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "openssl-static-bench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	int rounds = argc > 3 ? atoi(argv[3]) : 20000, i, c_done = 0, s_done = 0;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method()), *sctx = SSL_CTX_new(TLS_server_method());
	SSL *c, *s;
	BIO *cb, *sb;
	long long *w, *r;
	char buf[16];

	if (argc < 3 || rounds < 1001)
		die("usage: openssl-static-bench CERT KEY [ROUNDS>1000]");
	if (!cctx || !sctx || SSL_CTX_use_certificate_file(sctx, argv[1], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(sctx, argv[2], SSL_FILETYPE_PEM) != 1)
		die("cannot set up the contexts");
	c = SSL_new(cctx);
	s = SSL_new(sctx);
	if (!c || !s || !BIO_new_bio_pair(&cb, 0, &sb, 0))
		die("cannot create the connections");
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	for (i = 0; i < 100 && !(c_done && s_done); i++) {
		c_done = c_done || SSL_do_handshake(c) == 1;
		s_done = s_done || SSL_do_handshake(s) == 1;
	}
	if (!c_done || !s_done)
		die("handshake did not complete");
	w = calloc((size_t)rounds, sizeof(*w));
	r = calloc((size_t)rounds, sizeof(*r));
	if (!w || !r)
		die("out of memory");
	for (i = 0; i < rounds; i++) {
		long long t0 = now_ns(), t1, t2;

		if (SSL_write(c, "x", 1) != 1)
			die("SSL_write failed");
		t1 = now_ns();
		if (SSL_read(s, buf, 1) != 1)
			die("SSL_read failed");
		t2 = now_ns();
		w[i] = t1 - t0;
		r[i] = t2 - t1;
	}
	printf("{\"write\":[");
	for (i = 1000; i < rounds; i++)
		printf("%s%lld", i > 1000 ? "," : "", w[i]);
	printf("],\"read\":[");
	for (i = 1000; i < rounds; i++)
		printf("%s%lld", i > 1000 ? "," : "", r[i]);
	printf("]}\n");
	return 0;
}

/*
 * Minimal HTTPS client for the hold/notice tests (test/hold.spec.ts), built by the test:
 *   static:  cc -static tls-client.c -lssl -lcrypto  (then stripped: TLS the probe cannot hook, for the notice)
 *   dlopen:  cc -DUSE_DLOPEN tls-client.c -ldl      (libssl loaded at run time from argv[4], for the map attach)
 * Usage: tls-client PORT CAFILE BODY [LIBSSL]. POSTs BODY to https://127.0.0.1:PORT/hold, prints the response's
 * first line. Exit 0 on a response.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef USE_DLOPEN
#include <dlfcn.h>
typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
#define SSL_VERIFY_PEER 1
static const SSL_METHOD *(*TLS_client_method)(void);
static SSL_CTX *(*SSL_CTX_new)(const SSL_METHOD *);
static int (*SSL_CTX_load_verify_locations)(SSL_CTX *, const char *, const char *);
static void (*SSL_CTX_set_verify)(SSL_CTX *, int, void *);
static SSL *(*SSL_new)(SSL_CTX *);
static int (*SSL_set_fd)(SSL *, int);
static int (*SSL_connect)(SSL *);
static int (*SSL_write)(SSL *, const void *, int);
static int (*SSL_read)(SSL *, void *, int);
static void load(const char *lib)
{
	void *h = dlopen(lib, RTLD_NOW);

	if (!h) {
		fprintf(stderr, "dlopen %s: %s\n", lib, dlerror());
		exit(2);
	}
#define SYM(n)                                                                                                         \
	do {                                                                                                           \
		*(void **)&n = dlsym(h, #n);                                                                           \
		if (!n) {                                                                                              \
			fprintf(stderr, "no %s\n", #n);                                                                \
			exit(2);                                                                                       \
		}                                                                                                      \
	} while (0)
	SYM(TLS_client_method);
	SYM(SSL_CTX_new);
	SYM(SSL_CTX_load_verify_locations);
	SYM(SSL_CTX_set_verify);
	SYM(SSL_new);
	SYM(SSL_set_fd);
	SYM(SSL_connect);
	SYM(SSL_write);
	SYM(SSL_read);
}
#else
#include <openssl/ssl.h>
#endif

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char req[4096], buf[16384];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, n, total = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: %s PORT CAFILE BODY [LIBSSL]\n", argv[0]);
		return 2;
	}
#ifdef USE_DLOPEN
	load(argc > 4 ? argv[4] : "libssl.so.3");
#endif
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1)
		return 3;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	a.sin_port = htons((unsigned short)atoi(argv[1]));
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return 4;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
#ifndef USE_DLOPEN
	SSL_set_tlsext_host_name(ssl, "hold.test.invalid"); /* SNI: the notice names the server */
#endif
	if (SSL_connect(ssl) != 1)
		return 5;
	n = snprintf(req, sizeof(req),
		     "POST /hold HTTP/1.1\r\nHost: localhost\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
		     strlen(argv[3]), argv[3]);
	if (SSL_write(ssl, req, n) != n)
		return 6;
	while ((n = SSL_read(ssl, buf + total, (int)sizeof(buf) - 1 - total)) > 0 && total < (int)sizeof(buf) - 1)
		total += n;
	buf[total] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	printf("%s\n", buf);
	return total > 0 ? 0 : 7;
}

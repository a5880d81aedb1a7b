// SPDX-License-Identifier: Apache-2.0
/*
 * Minimal NSS HTTPS client for nss.spec.ts (built by the test with `cc nss-client.c $(pkg-config --cflags --libs nss)`).
 *
 *   nss-client PORT CERT_DER REQUEST_FILE PLAIN_FILE
 *
 * Connects to 127.0.0.1:PORT with TLS, accepts only a server certificate byte-identical to CERT_DER (pinning; a
 * no-DB NSS has no trust anchors), sends REQUEST_FILE (its header block with PR_Write, the rest with PR_Send), reads
 * the response alternately with PR_Read and PR_Recv until the server closes and writes it to stdout. Also writes
 * "plain-file:<request size>" to PLAIN_FILE with PR_Write on a plain NSPR file (a non-TLS fd the probe must skip).
 */
#include <nss.h>
#include <prerror.h>
#include <prio.h>
#include <prnetdb.h>
#include <ssl.h>
#include <cert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static SECItem expected_cert;

static void fail(const char *what)
{
	fprintf(stderr, "nss-client: %s: NSPR error %d\n", what, PR_GetError());
	exit(1);
}

/* Accepts the server only if its certificate is exactly expected_cert. */
static SECStatus auth_cert(void *arg, PRFileDesc *fd, PRBool check_sig, PRBool is_server)
{
	CERTCertificate *c = SSL_PeerCertificate(fd);
	SECStatus ok = SECFailure;

	(void)arg, (void)check_sig, (void)is_server;
	if (c && c->derCert.len == expected_cert.len &&
	    memcmp(c->derCert.data, expected_cert.data, expected_cert.len) == 0)
		ok = SECSuccess;
	if (c)
		CERT_DestroyCertificate(c);
	return ok;
}

static char *read_file(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f || fseek(f, 0, SEEK_END) || (*len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
		return NULL;
	buf = malloc(*len ? *len : 1);
	if (!buf || fread(buf, 1, *len, f) != (size_t)*len)
		return NULL;
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	PRNetAddr addr;
	PRFileDesc *tcp, *fd, *plain;
	long cert_len, req_len, head_len, off;
	char *cert, *req, *end, buf[8192], note[64];
	int turn = 0;

	if (argc != 5) {
		fprintf(stderr, "usage: nss-client PORT CERT_DER REQUEST_FILE PLAIN_FILE\n");
		return 2;
	}
	cert = read_file(argv[2], &cert_len);
	req = read_file(argv[3], &req_len);
	if (!cert || !req) {
		fprintf(stderr, "nss-client: cannot read the certificate or the request\n");
		return 1;
	}
	expected_cert.data = (unsigned char *)cert;
	expected_cert.len = (unsigned int)cert_len;
	end = strstr(req, "\r\n\r\n");
	head_len = end ? end - req + 4 : req_len;

	if (NSS_NoDB_Init(NULL) != SECSuccess || NSS_SetDomesticPolicy() != SECSuccess)
		fail("NSS init");
	tcp = PR_NewTCPSocket();
	if (!tcp)
		fail("socket");
	fd = SSL_ImportFD(NULL, tcp);
	if (!fd || SSL_OptionSet(fd, SSL_SECURITY, PR_TRUE) || SSL_OptionSet(fd, SSL_HANDSHAKE_AS_CLIENT, PR_TRUE) ||
	    SSL_SetURL(fd, "localhost") || SSL_AuthCertificateHook(fd, auth_cert, NULL))
		fail("SSL setup");
	if (PR_InitializeNetAddr(PR_IpAddrLoopback, (PRUint16)atoi(argv[1]), &addr) != PR_SUCCESS ||
	    PR_Connect(fd, &addr, PR_INTERVAL_NO_TIMEOUT) != PR_SUCCESS)
		fail("connect");
	if (SSL_ResetHandshake(fd, PR_FALSE) || SSL_ForceHandshake(fd))
		fail("handshake");

	for (off = 0; off < head_len;) {
		PRInt32 n = PR_Write(fd, req + off, (PRInt32)(head_len - off));

		if (n <= 0)
			fail("PR_Write");
		off += n;
	}
	while (off < req_len) {
		PRInt32 n = PR_Send(fd, req + off, (PRInt32)(req_len - off), 0, PR_INTERVAL_NO_TIMEOUT);

		if (n <= 0)
			fail("PR_Send");
		off += n;
	}
	for (;;) {
		PRInt32 n = turn++ % 2 ? PR_Recv(fd, buf, sizeof(buf), 0, PR_INTERVAL_NO_TIMEOUT)
				       : PR_Read(fd, buf, sizeof(buf));

		if (n == 0)
			break;
		if (n < 0) {
			if (PR_GetError() == PR_END_OF_FILE_ERROR)
				break;
			fail("read");
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return 1;
	}
	fflush(stdout);
	PR_Close(fd);

	plain = PR_Open(argv[4], PR_WRONLY | PR_CREATE_FILE | PR_TRUNCATE, 0600);
	if (!plain)
		fail("open plain file");
	snprintf(note, sizeof(note), "plain-file:%ld", req_len);
	if (PR_Write(plain, note, (PRInt32)strlen(note)) != (PRInt32)strlen(note))
		fail("write plain file");
	PR_Close(plain);
	free(cert);
	free(req);
	SSL_ClearSessionCache();
	if (NSS_Shutdown() != SECSuccess)
		fail("NSS shutdown");
	return 0;
}

// Command renegserver is a test server: TLS 1.2 (OpenSSL) on 127.0.0.1,
// HTTP/1.1 keep-alive, that presents certificate A, and in the middle of
// each connection's first response renegotiates, twice, onto certificate
// B; later requests on the connection are answered with "B", or with "A"
// when the client did not take part in the renegotiation. Go's
// crypto/tls cannot start a renegotiation, hence OpenSSL here.
//
//	renegserver certA.pem keyA.pem certB.pem keyB.pem
//
// It prints its port on a line, then serves until killed. Two
// renegotiations, not one: OpenSSL keeps the first certificate object
// alive through one, so only after the second can the next one take a
// freed object's address (the case curlpoll's chain cache must survive).
package main

/*
#cgo pkg-config: libssl libcrypto
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <arpa/inet.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

// wait_io waits (briefly: the peer may owe nothing yet) for what the last
// SSL call wants; -1 on a real error.
static int wait_io(SSL *s, int r) {
	struct pollfd p = {SSL_get_fd(s), 0, 0};
	int e = SSL_get_error(s, r);
	if (e == SSL_ERROR_WANT_READ) p.events = POLLIN;
	else if (e == SSL_ERROR_WANT_WRITE) p.events = POLLOUT;
	else return -1;
	poll(&p, 1, 10);
	return 0;
}

static int wr(SSL *s, const char *b) {
	int n = strlen(b);
	while (n > 0) {
		int r = SSL_write(s, b, n);
		if (r > 0) { b += r; n -= r; continue; }
		if (wait_io(s, r) < 0) return -1;
	}
	return 0;
}

static int read_req(SSL *s) {
	char buf[4096]; int len = 0;
	for (;;) {
		int r = SSL_read(s, buf + len, sizeof buf - 1 - len);
		if (r > 0) { len += r; buf[len] = 0; if (strstr(buf, "\r\n\r\n")) return 0; if (len >= (int)sizeof buf - 1) return -1; continue; }
		if (SSL_get_error(s, r) == SSL_ERROR_ZERO_RETURN) return -1;
		if (wait_io(s, r) < 0) return -1;
	}
}

static int serve(const char *certA, const char *keyA, const char *certB, const char *keyB) {
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_use_certificate_file(ctx, certA, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, keyA, SSL_FILETYPE_PEM) != 1) { ERR_print_errors_fp(stderr); return 1; }
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a; memset(&a, 0, sizeof a);
	a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(0x7f000001);
	if (bind(ls, (void *)&a, sizeof a) != 0 || listen(ls, 8) != 0) { perror("listen"); return 1; }
	socklen_t al = sizeof a; getsockname(ls, (void *)&a, &al);
	printf("%d\n", ntohs(a.sin_port)); fflush(stdout);
	for (;;) {
		int fd = accept(ls, NULL, NULL);
		if (fd < 0) continue;
		fcntl(fd, F_SETFL, O_NONBLOCK);
		SSL *s = SSL_new(ctx); SSL_set_fd(s, fd);
		int r;
		while ((r = SSL_accept(s)) != 1) if (wait_io(s, r) < 0) goto out;
		int onB = 0; // both renegotiations done: the connection is B's
		for (int req = 0; ; req++) {
			if (read_req(s) < 0) break;
			if (req > 0) {
				if (wr(s, onB ? "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nB" : "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA") < 0) break;
				continue;
			}
			// The first response: its head and half its body under A,
			// then two renegotiations onto B, then the rest.
			if (wr(s, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok") < 0) break;
			SSL_use_certificate_file(s, certB, SSL_FILETYPE_PEM);
			SSL_use_PrivateKey_file(s, keyB, SSL_FILETYPE_PEM);
			onB = 1;
			for (int k = 0; k < 2 && onB; k++) {
				if (SSL_renegotiate(s) != 1) goto out;
				while ((r = SSL_do_handshake(s)) != 1) if (wait_io(s, r) < 0) goto out;
				// A client that ignores the request (GnuTLS's) leaves it
				// pending: the connection stays A's.
				int tries = 0;
				for (; SSL_renegotiate_pending(s) && tries < 50; tries++) {
					char c;
					r = SSL_peek(s, &c, 1);
					if (r > 0) break;
					if (wait_io(s, r) < 0) goto out;
				}
				onB = !SSL_renegotiate_pending(s);
			}
			if (wr(s, "!!") < 0) break;
		}
	out:
		SSL_free(s); close(fd);
	}
}
*/
import "C"

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 5 {
		fmt.Fprintln(os.Stderr, "usage: renegserver certA.pem keyA.pem certB.pem keyB.pem")
		os.Exit(2)
	}
	cs := make([]*C.char, 4)
	for i, a := range os.Args[1:] {
		cs[i] = C.CString(a)
	}
	os.Exit(int(C.serve(cs[0], cs[1], cs[2], cs[3])))
}

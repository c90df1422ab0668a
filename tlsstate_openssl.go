//go:build !curlpoll_noopenssl

package curlpoll

// The state of libcurl's OpenSSL connections (see tlsstate.go).
// This links libssl; it is used only when libcurl runs on OpenSSL of the
// same major and minor version, checked at run time. Build with the tag
// curlpoll_noopenssl to leave libssl out: on OpenSSL, Response.TLS then
// carries only the negotiated protocol and server name, and the TLS
// settings that need Go's verification are refused.

/*
#cgo pkg-config: libssl libcrypto
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include "shim.h"
#include "tls_state.h"

// curlpoll_tls_ssl returns the SSL* of the easy handle's connection, or
// NULL when there is none or libcurl does not run on OpenSSL.
static SSL *curlpoll_tls_ssl(CURL *e) {
	struct curl_tlssessioninfo *info = NULL;
	if (curl_easy_getinfo(e, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL)
		return NULL;
	if (info->backend != CURLSSLBACKEND_OPENSSL)
		return NULL;
	return (SSL *)info->internals;
}

// curlpoll_chain_index is the X509 ex_data index under which each peer
// certificate gets its number (curlpoll_tls_capture), made once; -1 if
// OpenSSL refused one. curlpoll_chain_mu guards the numbering: a session,
// and so its certificate, may be shared by connections of two Multis.
static int curlpoll_chain_index = -1;
static unsigned long long curlpoll_chain_seq;
static pthread_mutex_t curlpoll_chain_mu = PTHREAD_MUTEX_INITIALIZER;

// curlpoll_no_reneg is a CURLOPT_SSL_CTX_FUNCTION: libcurl's OpenSSL takes
// no part in a renegotiation the server asks for (SSL_OP_NO_RENEGOTIATION:
// it answers with a no_renegotiation alert). Easy.SetTLSRenegotiation.
static CURLcode curlpoll_no_reneg(CURL *e, void *ctx, void *parm) {
	(void)e;
	(void)parm;
	SSL_CTX_set_options((SSL_CTX *)ctx, SSL_OP_NO_RENEGOTIATION);
	return CURLE_OK;
}

static CURLcode curlpoll_set_no_reneg(CURL *e, int on) {
	return curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on ? curlpoll_no_reneg : NULL);
}

static void curlpoll_tls_setup(void) {
	curlpoll_chain_index = X509_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

// curlpoll_tls_capture reads the state of the easy handle's connection in
// one call: version, cipher, ALPN protocol, the number of its peer chain
// (chain), and, unless numbers_only, the DER of the peer's chain, written
// one certificate after the other into buf (cap bytes), their lengths into
// lens (at most maxcerts). It returns 0 when there is no OpenSSL
// connection, -1 when buf or lens is too small for the chain (need and
// want say how much is needed), and 1 otherwise. A certificate that fails
// to encode ends the chain there.
//
// The number is kept in the ex_data of the peer's certificate object,
// which belongs to the TLS session with the rest of the chain: a new
// handshake (a new connection, a renegotiation) makes new objects, which
// start without a number even at a freed one's address; a resumed session
// brings its own, and its chain with it.
static int curlpoll_tls_capture(CURL *e, struct curlpoll_tls *st, unsigned char *buf, size_t cap, int *lens, int maxcerts, int numbers_only) {
	SSL *s = curlpoll_tls_ssl(e);
	const SSL_CIPHER *c;
	const unsigned char *alpn = NULL;
	STACK_OF(X509) *chain;
	int i, n;
	if (s == NULL)
		return 0;
	st->chain = 0;
	X509 *leaf = SSL_get0_peer_certificate(s);
	if (leaf != NULL && curlpoll_chain_index >= 0) {
		pthread_mutex_lock(&curlpoll_chain_mu);
		uintptr_t n = (uintptr_t)X509_get_ex_data(leaf, curlpoll_chain_index);
		if (n == 0) {
			n = (uintptr_t)++curlpoll_chain_seq;
			if (n == 0 || !X509_set_ex_data(leaf, curlpoll_chain_index, (void *)n))
				n = 0;
		}
		pthread_mutex_unlock(&curlpoll_chain_mu);
		st->chain = n;
	}
	st->has_random = SSL_get_client_random(s, st->random, sizeof st->random) == sizeof st->random;
	st->version = SSL_version(s);
	c = SSL_get_current_cipher(s);
	st->cipher = c ? (int)SSL_CIPHER_get_protocol_id(c) : 0;
	st->alpn_len = 0;
	SSL_get0_alpn_selected(s, &alpn, &st->alpn_len);
	if (st->alpn_len > sizeof st->alpn)
		st->alpn_len = 0;
	if (st->alpn_len > 0)
		memcpy(st->alpn, alpn, st->alpn_len);
	st->ncerts = 0;
	if (numbers_only)
		return 1;
	chain = SSL_get_peer_cert_chain(s);
	n = chain ? sk_X509_num(chain) : 0;
	st->need = 0;
	st->want = n;
	for (i = 0; i < n; i++) {
		int len = i2d_X509(sk_X509_value(chain, i), NULL);
		if (len <= 0) {
			st->want = n = i;
			break;
		}
		st->need += (size_t)len;
	}
	if (st->need > cap || n > maxcerts)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char *p = buf;
		lens[i] = i2d_X509(sk_X509_value(chain, i), &p);
		buf = p;
	}
	st->ncerts = n;
	return 1;
}

static unsigned long curlpoll_openssl_version(void) { return OpenSSL_version_num(); }
*/
import "C"

import (
	"fmt"
	"strings"
	"sync"
)

var (
	opensslOnce sync.Once
	opensslOK   bool // libcurl's OpenSSL is the one linked here
)

// opensslMatches reports whether libcurl runs on OpenSSL with the major and
// minor version of the libssl linked here, so that its SSL* may be read.
func opensslMatches() bool {
	opensslOnce.Do(func() {
		v := C.curlpoll_openssl_version() // 0xMNN00PP0L
		want := fmt.Sprintf("OpenSSL/%d.%d.", v>>28, (v>>20)&0xff)
		opensslOK = strings.HasPrefix(Version().TLS, want)
		if opensslOK {
			C.curlpoll_tls_setup()
		}
	})
	return opensslOK
}

// opensslRefuseRenegotiation sets or unsets curlpoll_no_reneg on e.
func opensslRefuseRenegotiation(e *Easy, refuse bool) C.CURLcode {
	on := C.int(0)
	if refuse {
		on = 1
	}
	return C.curlpoll_set_no_reneg(e.c, on)
}

// opensslCapture is curlpoll_tls_capture.
func opensslCapture(e *Easy, st *C.struct_curlpoll_tls, buf *C.uchar, size C.size_t, lens *C.int, max C.int, numbersOnly bool) C.int {
	only := C.int(0)
	if numbersOnly {
		only = 1
	}
	return C.curlpoll_tls_capture(e.c, st, buf, size, lens, max, only)
}

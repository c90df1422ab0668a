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
#include <stdlib.h>
#include <string.h>
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

// curlpoll_cert_cb is an OpenSSL certificate callback: OpenSSL calls it
// on a client when the server has asked for a certificate, before it sends
// one. Go sets the certificate on the connection (goClientCert). arg is
// the curlpoll_easy of the handle that made the connection, valid only
// during that handle's handshake: the connection may outlive the handle.
// A request after the handshake (a renegotiation: refused, or allowed
// without a client certificate function, see Transport) sends none and
// does not touch arg; TLS 1.3's post-handshake authentication, which
// libcurl offers, is not offered where this callback is set (as crypto/tls
// offers none).
static int curlpoll_cert_cb(SSL *ssl, void *arg) {
	if (SSL_get_finished(ssl, NULL, 0) != 0)
		return 1;
	return curlpoll_go_client_cert((struct curlpoll_easy *)arg, ssl);
}

// curlpoll_ssl_ctx is a CURLOPT_SSL_CTX_FUNCTION, parm the handle's
// curlpoll_easy: with no_reneg libcurl's OpenSSL takes no part in a
// renegotiation the server asks for (SSL_OP_NO_RENEGOTIATION: it answers
// with a no_renegotiation alert; Easy.SetTLSRenegotiation); with
// want_client_cert a requested client certificate comes from Go
// (Easy.SetClientCertFunc).
static CURLcode curlpoll_ssl_ctx(CURL *e, void *ctx, void *parm) {
	struct curlpoll_easy *s = parm;
	(void)e;
	if (s->no_reneg)
		SSL_CTX_set_options((SSL_CTX *)ctx, SSL_OP_NO_RENEGOTIATION);
	if (s->want_client_cert) {
		SSL_CTX_set_cert_cb((SSL_CTX *)ctx, curlpoll_cert_cb, s);
		SSL_CTX_set_post_handshake_auth((SSL_CTX *)ctx, 0);
	}
	return CURLE_OK;
}

// curlpoll_set_ssl_ctx sets curlpoll_ssl_ctx on e where s asks for it,
// and takes it off where not.
static CURLcode curlpoll_set_ssl_ctx(CURL *e, struct curlpoll_easy *s) {
	int on = s->no_reneg || s->want_client_cert;
	CURLcode rc = curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on ? curlpoll_ssl_ctx : NULL);
	if (rc == CURLE_OK)
		rc = curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, on ? (void *)s : NULL);
	return rc;
}

// curlpoll_certreq is what a server's CertificateRequest asked for: the
// DER of each acceptable CA name, one after the other, in names (lens[i]
// bytes each), the signature schemes, and the version; in memory
// curlpoll_cert_request allocates and curlpoll_certreq_free frees.
struct curlpoll_certreq {
	unsigned char *names;
	int *lens;
	int ncas;
	uint16_t *schemes;
	int nschemes;
	int version;
};

static void curlpoll_certreq_free(struct curlpoll_certreq *r) {
	free(r->names);
	free(r->lens);
	free(r->schemes);
}

// curlpoll_cert_request fills r from ssl's request, all of it; 0 when
// memory ran out or a name does not encode.
static int curlpoll_cert_request(SSL *ssl, struct curlpoll_certreq *r) {
	STACK_OF(X509_NAME) *names = SSL_get_client_CA_list(ssl);
	int n = names ? sk_X509_NAME_num(names) : 0, i, k;
	size_t total = 0, used = 0;
	memset(r, 0, sizeof *r);
	r->version = SSL_version(ssl);
	for (i = 0; i < n; i++) {
		int len = i2d_X509_NAME(sk_X509_NAME_value(names, i), NULL);
		if (len <= 0)
			return 0;
		total += (size_t)len;
	}
	k = SSL_get_sigalgs(ssl, -1, NULL, NULL, NULL, NULL, NULL);
	if (k < 0)
		k = 0;
	r->names = malloc(total + 1);
	r->lens = malloc(sizeof(int) * (size_t)(n + 1));
	r->schemes = malloc(sizeof(uint16_t) * (size_t)(k + 1));
	if (r->names == NULL || r->lens == NULL || r->schemes == NULL)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char *p = r->names + used;
		int len = i2d_X509_NAME(sk_X509_NAME_value(names, i), &p);
		if (len <= 0 || used + (size_t)len > total)
			return 0;
		r->lens[i] = len;
		used += (size_t)len;
	}
	r->ncas = n;
	for (i = 0; i < k; i++) {
		unsigned char rsig = 0, rhash = 0;
		SSL_get_sigalgs(ssl, i, NULL, NULL, NULL, &rsig, &rhash);
		r->schemes[i] = (uint16_t)rhash << 8 | rsig;
	}
	r->nschemes = k;
	return 1;
}

// curlpoll_use_cert sets on ssl the certificate der (the leaf), the rest of
// its chain (nchain certificates in chain, their lengths in lens) and the
// PKCS #8 private key; 1 on success.
static int curlpoll_use_cert(SSL *ssl, const unsigned char *der, long len, const unsigned char *chain, const long *lens, int nchain, const unsigned char *key, long keylen) {
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);
	EVP_PKEY *k;
	int i, ok;
	if (x == NULL)
		return 0;
	ok = SSL_use_certificate(ssl, x) == 1;
	X509_free(x);
	if (!ok)
		return 0;
	p = key;
	k = d2i_AutoPrivateKey(NULL, &p, keylen);
	if (k == NULL)
		return 0;
	ok = SSL_use_PrivateKey(ssl, k) == 1 && SSL_check_private_key(ssl) == 1;
	EVP_PKEY_free(k);
	if (!ok)
		return 0;
	SSL_clear_chain_certs(ssl); // not one set with the handle's own certificate
	p = chain;
	for (i = 0; i < nchain; i++) {
		const unsigned char *q = p;
		X509 *c = d2i_X509(NULL, &q, lens[i]);
		if (c == NULL || SSL_add0_chain_cert(ssl, c) != 1) {
			X509_free(c);
			return 0;
		}
		p += lens[i];
	}
	return 1;
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
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"
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

// opensslRefuseRenegotiation has curlpoll_ssl_ctx refuse renegotiation on
// e's connections, or not.
func opensslRefuseRenegotiation(e *Easy, refuse bool) C.CURLcode {
	e.cs.no_reneg = cBool(refuse)
	return C.curlpoll_set_ssl_ctx(e.c, e.cs)
}

// opensslAskClientCert has curlpoll_ssl_ctx ask Go for a client
// certificate on e's connections (SetClientCertFunc), or not.
func opensslAskClientCert(e *Easy, ask bool) C.CURLcode {
	e.cs.want_client_cert = cBool(ask)
	return C.curlpoll_set_ssl_ctx(e.c, e.cs)
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// opensslClientCert is goClientCert's work on OpenSSL: it reads the
// server's request from ssl, runs the Easy's function, and sets the
// certificate it gives on ssl; false fails the handshake, with t.cause
// saying why.
func opensslClientCert(t *xfer, f clientCertFunc, ssl unsafe.Pointer) bool {
	s := (*C.SSL)(ssl)
	r := (*C.struct_curlpoll_certreq)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_curlpoll_certreq{}))))
	if r == nil {
		t.cause = Code(C.CURLE_OUT_OF_MEMORY)
		return false
	}
	defer func() {
		C.curlpoll_certreq_free(r)
		C.free(unsafe.Pointer(r))
	}()
	if C.curlpoll_cert_request(s, r) != 1 {
		t.cause = errors.New("curlpoll: the server's certificate request could not be read")
		return false
	}
	info := &tls.CertificateRequestInfo{Version: uint16(r.version)}
	if r.ncas > 0 {
		lens := unsafe.Slice((*C.int)(unsafe.Pointer(r.lens)), int(r.ncas))
		total := 0
		for _, n := range lens {
			total += int(n)
		}
		names := unsafe.Slice((*byte)(unsafe.Pointer(r.names)), total)
		off := 0
		for _, n := range lens {
			info.AcceptableCAs = append(info.AcceptableCAs, bytes.Clone(names[off:off+int(n)]))
			off += int(n)
		}
	}
	if r.nschemes > 0 {
		for _, sc := range unsafe.Slice((*C.uint16_t)(unsafe.Pointer(r.schemes)), int(r.nschemes)) {
			info.SignatureSchemes = append(info.SignatureSchemes, tls.SignatureScheme(sc))
		}
	}
	var cert *tls.Certificate
	var err error
	t.inlineCall(func() { cert, err = f(t.pub, info) })
	if err != nil {
		t.cause = err
		return false
	}
	if cert == nil || len(cert.Certificate) == 0 {
		return true // none to send, as crypto/tls sends none
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.cause = fmt.Errorf("curlpoll: the client certificate's private key (%T) cannot be given to OpenSSL: %w", cert.PrivateKey, err)
		return false
	}
	leaf := cert.Certificate[0]
	var chain []byte
	clens := make([]C.long, 0, len(cert.Certificate))
	for _, der := range cert.Certificate[1:] {
		chain = append(chain, der...)
		clens = append(clens, C.long(len(der)))
	}
	cleaf, ckey := C.CBytes(leaf), C.CBytes(key)
	defer C.free(cleaf)
	defer func() {
		C.OPENSSL_cleanse(ckey, C.size_t(len(key)))
		C.free(ckey)
	}()
	var cchain unsafe.Pointer
	var clensp *C.long
	if len(clens) > 0 {
		cchain = C.CBytes(chain)
		defer C.free(cchain)
		clensp = (*C.long)(C.CBytes(unsafe.Slice((*byte)(unsafe.Pointer(&clens[0])), len(clens)*int(unsafe.Sizeof(clens[0])))))
		defer C.free(unsafe.Pointer(clensp))
	}
	clear(key)
	if C.curlpoll_use_cert(s, (*C.uchar)(cleaf), C.long(len(leaf)), (*C.uchar)(cchain), clensp, C.int(len(clens)), (*C.uchar)(ckey), C.long(len(key))) != 1 {
		t.cause = errors.New("curlpoll: OpenSSL refused the client certificate or its key")
		return false
	}
	return true
}

// opensslCapture is curlpoll_tls_capture.
func opensslCapture(e *Easy, st *C.struct_curlpoll_tls, buf *C.uchar, size C.size_t, lens *C.int, max C.int, numbersOnly bool) C.int {
	only := C.int(0)
	if numbersOnly {
		only = 1
	}
	return C.curlpoll_tls_capture(e.c, st, buf, size, lens, max, only)
}

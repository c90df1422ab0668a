//go:build !curlpoll_noopenssl

package curlpoll

// Response.TLS from the OpenSSL connection that libcurl exposes
// (CURLINFO_TLS_SSL_PTR). This links libssl; it is used only when libcurl
// runs on OpenSSL of the same major and minor version, checked at run time.
// Build with the tag curlpoll_noopenssl to leave libssl out: Response.TLS
// then carries only the negotiated protocol and server name.

/*
#cgo pkg-config: libssl libcrypto
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/crypto.h>
#include "shim.h"

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

static int curlpoll_tls_version(SSL *s) { return SSL_version(s); }

static int curlpoll_tls_cipher(SSL *s) {
	const SSL_CIPHER *c = SSL_get_current_cipher(s);
	return c ? (int)SSL_CIPHER_get_protocol_id(c) : 0;
}

static unsigned curlpoll_tls_alpn(SSL *s, const unsigned char **p) {
	unsigned n = 0;
	SSL_get0_alpn_selected(s, p, &n);
	return n;
}

static int curlpoll_tls_ncerts(SSL *s) {
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s);
	return chain ? sk_X509_num(chain) : 0;
}

// curlpoll_tls_cert returns the DER of certificate i of the peer's chain
// in *der (free it with curlpoll_tls_free) and its length, <= 0 on error.
static int curlpoll_tls_cert(SSL *s, int i, unsigned char **der) {
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s);
	*der = NULL;
	if (!chain || i >= sk_X509_num(chain))
		return 0;
	return i2d_X509(sk_X509_value(chain, i), der);
}

static void curlpoll_tls_free(unsigned char *p) { OPENSSL_free(p); }

static unsigned long curlpoll_openssl_version(void) { return OpenSSL_version_num(); }
*/
import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"unsafe"
)

// tlsRaw is what the header function copies out of the TLS connection,
// inside libcurl; certificates not yet in peerCerts are parsed later, on
// the caller's goroutine.
type tlsRaw struct {
	ok      bool
	version uint16
	cipher  uint16
	alpn    string
	chain   []peerCert
}

// peerCert is one certificate of the peer's chain: parsed, or its DER.
type peerCert struct {
	cert *x509.Certificate
	der  []byte
}

// peerCerts holds the certificates parsed for Response.TLS, by their DER
// encoding. A connection shows the same chain to every request on it, and
// x509.ParseCertificate costs more than the rest of a small HTTPS request;
// net/http parses a chain once per connection and gives every response on
// it the same certificates, as this does for every connection that
// presents them. When full it is emptied.
var peerCerts struct {
	mu sync.Mutex // guards m
	m  map[string]*x509.Certificate
}

const maxPeerCerts = 256

func cachedCert(der []byte) *x509.Certificate {
	peerCerts.mu.Lock()
	c := peerCerts.m[string(der)]
	peerCerts.mu.Unlock()
	return c
}

// parseCert parses der, through peerCerts.
func parseCert(der []byte) (*x509.Certificate, error) {
	if c := cachedCert(der); c != nil {
		return c, nil
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	peerCerts.mu.Lock()
	if len(peerCerts.m) >= maxPeerCerts {
		clear(peerCerts.m)
	}
	if peerCerts.m == nil {
		peerCerts.m = make(map[string]*x509.Certificate)
	}
	peerCerts.m[string(der)] = c
	peerCerts.mu.Unlock()
	return c, nil
}

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
	})
	return opensslOK
}

// captureTLS reads the state of e's TLS connection. It runs in the header
// callback, on the Multi's goroutine, while the connection is attached.
func captureTLS(e *Easy) tlsRaw {
	if !opensslMatches() {
		return tlsRaw{}
	}
	s := C.curlpoll_tls_ssl(e.c)
	if s == nil {
		return tlsRaw{}
	}
	r := tlsRaw{
		ok:      true,
		version: uint16(C.curlpoll_tls_version(s)),
		cipher:  uint16(C.curlpoll_tls_cipher(s)),
	}
	var p *C.uchar
	if n := C.curlpoll_tls_alpn(s, &p); n > 0 {
		r.alpn = C.GoStringN((*C.char)(unsafe.Pointer(p)), C.int(n))
	}
	for i := range int(C.curlpoll_tls_ncerts(s)) {
		var der *C.uchar
		n := C.curlpoll_tls_cert(s, C.int(i), &der)
		if n <= 0 {
			break
		}
		// A certificate seen before is not copied: the lookup reads the C
		// bytes in place.
		if c := cachedCert(unsafe.Slice((*byte)(unsafe.Pointer(der)), int(n))); c != nil {
			r.chain = append(r.chain, peerCert{cert: c})
		} else {
			r.chain = append(r.chain, peerCert{der: C.GoBytes(unsafe.Pointer(der), n)})
		}
		C.curlpoll_tls_free(der)
	}
	return r
}

// connectionState builds Response.TLS from what captureTLS copied.
func (r *tlsRaw) connectionState(serverName string, proto HTTPVersion) *tls.ConnectionState {
	cs := &tls.ConnectionState{HandshakeComplete: true, ServerName: serverName}
	if !r.ok {
		if proto == HTTPVersion2 {
			cs.NegotiatedProtocol = "h2"
		}
		return cs
	}
	cs.Version = r.version
	cs.CipherSuite = r.cipher
	cs.NegotiatedProtocol = r.alpn
	for _, pc := range r.chain {
		c := pc.cert
		if c == nil {
			var err error
			if c, err = parseCert(pc.der); err != nil {
				break
			}
		}
		cs.PeerCertificates = append(cs.PeerCertificates, c)
	}
	return cs
}

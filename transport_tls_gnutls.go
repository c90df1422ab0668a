package curlpoll

// The peer's chain of a GnuTLS connection, for Go's verification
// (transport_tlsverify.go) on a libcurl built with GnuTLS: libcurl gives
// the connection's gnutls_session_t (CURLINFO_TLS_SSL_PTR), and
// gnutls_certificate_get_peers, looked up in the running process (libcurl
// loaded GnuTLS), lists the certificates the peer sent. No GnuTLS headers
// or library are needed to build.

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include "shim.h"

// curlpoll_datum is GnuTLS's gnutls_datum_t.
typedef struct { unsigned char *data; unsigned int size; } curlpoll_datum;

static const curlpoll_datum *(*curlpoll_gnutls_get_peers)(void *session, unsigned int *n);
static int (*curlpoll_gnutls_version)(void *session);
static int (*curlpoll_gnutls_alpn)(void *session, curlpoll_datum *proto);

// curlpoll_gnutls_init looks GnuTLS's functions up; 0 if one is absent.
static int curlpoll_gnutls_init(void) {
	curlpoll_gnutls_get_peers = dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
	curlpoll_gnutls_version = dlsym(RTLD_DEFAULT, "gnutls_protocol_get_version");
	curlpoll_gnutls_alpn = dlsym(RTLD_DEFAULT, "gnutls_alpn_get_selected_protocol");
	return curlpoll_gnutls_get_peers != NULL && curlpoll_gnutls_version != NULL && curlpoll_gnutls_alpn != NULL;
}

// curlpoll_gnutls_peers sets *certs to the n certificates (DER, owned by
// the session) the peer of e's GnuTLS connection sent, *version to the
// protocol (gnutls_protocol_t) and *alpn to the protocol ALPN chose (empty
// if none); -1 if e has no GnuTLS connection, or the peer sent no
// certificate.
static int curlpoll_gnutls_peers(CURL *e, const curlpoll_datum **certs, unsigned int *n, int *version, curlpoll_datum *alpn) {
	struct curl_tlssessioninfo *info = NULL;
	*n = 0;
	if (curlpoll_gnutls_get_peers == NULL ||
	    curl_easy_getinfo(e, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_GNUTLS || info->internals == NULL)
		return -1;
	*certs = curlpoll_gnutls_get_peers(info->internals, n);
	*version = curlpoll_gnutls_version(info->internals);
	if (curlpoll_gnutls_alpn(info->internals, alpn) != 0) {
		alpn->data = NULL;
		alpn->size = 0;
	}
	return *certs != NULL && *n > 0 ? 0 : -1;
}
*/
import "C"

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync"
	"unsafe"
)

var (
	gnutlsOnce sync.Once
	gnutlsOK   bool // libcurl runs on GnuTLS, and its peers can be read
)

// gnutlsPeersSupported reports whether gnutlsPeerChain can work.
func gnutlsPeersSupported() bool {
	gnutlsOnce.Do(func() {
		gnutlsOK = strings.HasPrefix(Version().TLS, "GnuTLS/") && C.curlpoll_gnutls_init() != 0
	})
	return gnutlsOK
}

// gnutlsState is what Go's verification reads of a GnuTLS connection.
type gnutlsState struct {
	version uint16 // a crypto/tls version; 0 if unknown
	alpn    string
	certs   []*x509.Certificate
}

// gnutlsVersions maps gnutls_protocol_t to crypto/tls versions.
var gnutlsVersions = map[C.int]uint16{2: tls.VersionTLS10, 3: tls.VersionTLS11, 4: tls.VersionTLS12, 5: tls.VersionTLS13}

// gnutlsPeerChain returns the state of e's GnuTLS connection, with the
// peer's certificates; errNoTLSState if there is none. Driver only, inside
// a callback of e's transfer.
func gnutlsPeerChain(e *Easy) (*gnutlsState, error) {
	if !gnutlsPeersSupported() {
		return nil, errNoTLSState
	}
	var list *C.curlpoll_datum
	var n C.uint
	var version C.int
	var alpn C.curlpoll_datum
	if C.curlpoll_gnutls_peers(e.c, &list, &n, &version, &alpn) != 0 {
		return nil, errNoTLSState
	}
	st := &gnutlsState{version: gnutlsVersions[version]}
	if alpn.data != nil {
		st.alpn = C.GoStringN((*C.char)(unsafe.Pointer(alpn.data)), C.int(alpn.size))
	}
	st.certs = make([]*x509.Certificate, n)
	for i, d := range unsafe.Slice(list, int(n)) {
		c, err := x509.ParseCertificate(C.GoBytes(unsafe.Pointer(d.data), C.int(d.size)))
		if err != nil {
			return nil, err
		}
		st.certs[i] = c
	}
	return st, nil
}

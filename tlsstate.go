package curlpoll

// A transfer's TLS state (Transfer.TLSState), for curlhttp's Response.TLS
// and its Go verification, from the TLS connection that libcurl exposes
// (CURLINFO_TLS_SSL_PTR): an OpenSSL SSL* (tlsstate_openssl.go, which links libssl; left out with the build tag
// curlpoll_noopenssl) or a GnuTLS session. For GnuTLS nothing is linked:
// the few functions needed are looked up (dlsym) in the libgnutls that
// libcurl itself loaded, once libcurl says it runs on GnuTLS, so they are
// that library's own.

/*
#include <dlfcn.h>
#include <string.h>
#include "shim.h"
#include "tls_state.h"

// The GnuTLS functions captureTLS uses, from the process's libgnutls.
typedef struct { unsigned char *data; unsigned int size; } curlpoll_gnutls_datum;
static struct {
	int (*protocol_get_version)(void *);
	const curlpoll_gnutls_datum *(*certificate_get_peers)(void *, unsigned int *);
	int (*alpn_get_selected_protocol)(void *, curlpoll_gnutls_datum *);
	const char *(*ciphersuite_get)(void *); // GnuTLS 3.7.3+
	void (*session_get_random)(void *, curlpoll_gnutls_datum *, curlpoll_gnutls_datum *);
} curlpoll_gnutls;

// curlpoll_gnutls_load looks the functions up; 1 if the ones needed are there.
static int curlpoll_gnutls_load(void) {
	curlpoll_gnutls.protocol_get_version = dlsym(RTLD_DEFAULT, "gnutls_protocol_get_version");
	curlpoll_gnutls.certificate_get_peers = dlsym(RTLD_DEFAULT, "gnutls_certificate_get_peers");
	curlpoll_gnutls.alpn_get_selected_protocol = dlsym(RTLD_DEFAULT, "gnutls_alpn_get_selected_protocol");
	curlpoll_gnutls.ciphersuite_get = dlsym(RTLD_DEFAULT, "gnutls_ciphersuite_get");
	curlpoll_gnutls.session_get_random = dlsym(RTLD_DEFAULT, "gnutls_session_get_random");
	return curlpoll_gnutls.protocol_get_version && curlpoll_gnutls.certificate_get_peers &&
		curlpoll_gnutls.alpn_get_selected_protocol;
}

// curlpoll_tls_capture_gnutls is curlpoll_tls_capture for a GnuTLS session
// (curlpoll_gnutls_load has succeeded).
static int curlpoll_tls_capture_gnutls(CURL *e, struct curlpoll_tls *st, unsigned char *buf, size_t cap, int *lens, int maxcerts) {
	struct curl_tlssessioninfo *info = NULL;
	const curlpoll_gnutls_datum *peers;
	curlpoll_gnutls_datum alpn = {0, 0};
	unsigned int i, n = 0;
	void *s;
	// GNUTLS_TLS1_0 .. GNUTLS_TLS1_3 are 2 .. 5.
	static const int versions[] = {0, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304};
	int v;
	if (curl_easy_getinfo(e, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_GNUTLS || info->internals == NULL)
		return 0;
	s = info->internals;
	st->has_random = 0;
	if (curlpoll_gnutls.session_get_random != NULL) {
		curlpoll_gnutls_datum client = {0, 0}, server = {0, 0};
		curlpoll_gnutls.session_get_random(s, &client, &server);
		if (client.data != NULL && client.size == sizeof st->random) {
			memcpy(st->random, client.data, sizeof st->random);
			st->has_random = 1;
		}
	}
	v = curlpoll_gnutls.protocol_get_version(s);
	st->version = v > 0 && v < 6 ? versions[v] : 0;
	st->cipher = 0;
	st->suite[0] = 0;
	if (curlpoll_gnutls.ciphersuite_get != NULL) {
		const char *name = curlpoll_gnutls.ciphersuite_get(s);
		if (name != NULL && strlen(name) < sizeof st->suite)
			strcpy(st->suite, name);
	}
	st->alpn_len = 0;
	if (curlpoll_gnutls.alpn_get_selected_protocol(s, &alpn) == 0 && alpn.size <= sizeof st->alpn) {
		memcpy(st->alpn, alpn.data, alpn.size);
		st->alpn_len = alpn.size;
	}
	peers = curlpoll_gnutls.certificate_get_peers(s, &n);
	st->ncerts = 0;
	st->need = 0;
	st->want = peers ? (int)n : 0;
	for (i = 0; i < (unsigned)st->want; i++)
		st->need += peers[i].size;
	if (st->need > cap || st->want > maxcerts)
		return -1;
	for (i = 0; i < (unsigned)st->want; i++) {
		memcpy(buf, peers[i].data, peers[i].size);
		lens[i] = (int)peers[i].size;
		buf += peers[i].size;
	}
	st->ncerts = st->want;
	return 1;
}
*/
import "C"

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"unsafe"
)

// TLSState is what Transfer.TLSState copies out of a TLS connection,
// inside libcurl: the protocol version, cipher suite, ALPN protocol and the
// peer's certificates, in DER. Certificates are parsed when asked for, on
// the caller's goroutine, and shared with every TLSState that carries the
// same DER (a connection shows the same chain to every request on it, and
// parsing one costs more than the rest of a small HTTPS request; net/http
// too parses a chain once per connection). The zero TLSState is one that
// could not be read.
type TLSState struct {
	ok        bool
	version   uint16
	cipher    uint16
	alpn      string
	chain     []peerCert
	hasRandom bool
	random    [32]byte // the handshake's client random
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

// tlsBackend is the TLS library captureTLS reads, decided once.
var tlsBackend = sync.OnceValue(func() int {
	switch {
	case opensslMatches():
		return tlsOpenSSL
	case strings.HasPrefix(Version().TLS, "GnuTLS/") && C.curlpoll_gnutls_load() != 0:
		return tlsGnuTLS
	}
	return tlsNone
})

const (
	tlsNone = iota
	tlsOpenSSL
	tlsGnuTLS
)

// tlsScratch is captureTLS's memory for curlpoll_tls_capture: pooled, as
// what is passed to C escapes to the heap.
type tlsScratch struct {
	st   C.struct_curlpoll_tls
	buf  []byte // the DER of the peer's chain
	lens []C.int
}

var tlsScratches = sync.Pool{New: func() any {
	return &tlsScratch{buf: make([]byte, 4<<10), lens: make([]C.int, 4)}
}}

// captureTLS reads the state of e's TLS connection, in one cgo call (two
// on OpenSSL the first time a peer chain is seen: tlsChains). It runs in an
// inline callback, on the Multi's goroutine, while the connection is
// attached.
func captureTLS(e *Easy) TLSState {
	backend := tlsBackend()
	if backend == tlsNone {
		return TLSState{}
	}
	sc := tlsScratches.Get().(*tlsScratch)
	defer tlsScratches.Put(sc)
	st := &sc.st
	st.chain = 0
	capture := func(numbersOnly bool) C.int {
		buf, lens := (*C.uchar)(unsafe.Pointer(&sc.buf[0])), &sc.lens[0]
		if backend == tlsGnuTLS {
			return C.curlpoll_tls_capture_gnutls(e.c, st, buf, C.size_t(len(sc.buf)), lens, C.int(len(sc.lens)))
		}
		return opensslCapture(e, st, buf, C.size_t(len(sc.buf)), lens, C.int(len(sc.lens)), numbersOnly)
	}
	state := func() TLSState {
		r := TLSState{
			ok:        true,
			version:   uint16(st.version),
			cipher:    uint16(st.cipher),
			hasRandom: st.has_random != 0,
		}
		if r.hasRandom {
			r.random = *(*[32]byte)(unsafe.Pointer(&st.random[0]))
		}
		if r.cipher == 0 && st.suite[0] != 0 {
			r.cipher = cipherSuiteID(C.GoString(&st.suite[0]))
		}
		if n := int(st.alpn_len); n > 0 {
			r.alpn = alpnName(unsafe.Slice((*byte)(unsafe.Pointer(&st.alpn[0])), n))
		}
		return r
	}
	if backend == tlsOpenSSL {
		// A chain seen before (a kept-alive connection's): it is known,
		// and encoding it again in C costs more than the rest of the state.
		if capture(true) <= 0 {
			return TLSState{}
		}
		if chain, ok := tlsChains.get(uint64(st.chain)); ok {
			r := state()
			r.chain = chain
			return r
		}
	}
	rc := capture(false)
	if rc < 0 { // a chain larger than the buffers: grow them and read again
		sc.buf = make([]byte, int(st.need))
		sc.lens = make([]C.int, int(st.want))
		rc = capture(false)
	}
	if rc <= 0 {
		return TLSState{}
	}
	r := state()
	if n := int(st.ncerts); n > 0 {
		r.chain = make([]peerCert, n)
		off := 0
		for i := range r.chain {
			der := sc.buf[off : off+int(sc.lens[i])]
			off += len(der)
			// A certificate seen before is not copied.
			if c := cachedCert(der); c != nil {
				r.chain[i].cert = c
			} else {
				r.chain[i].der = bytes.Clone(der)
			}
		}
	}
	if st.chain != 0 {
		tlsChains.put(uint64(st.chain), r.chain)
	}
	return r
}

// alpnName returns the ALPN protocol p as a string, without an allocation
// for the common ones.
func alpnName(p []byte) string {
	switch string(p) {
	case "h2":
		return "h2"
	case "http/1.1":
		return "http/1.1"
	}
	return string(p)
}

// tlsChains keeps the peer chains that OpenSSL connections presented, by
// the number curlpoll_tls_capture gave the chain's certificate object: a
// request on a kept-alive connection reads only the cheap part of the
// state, as net/http's Response.TLS is the connection's. A renegotiation
// or a new connection brings new objects and so a new number; numbers are
// never reused, so an entry can go stale, never wrong. The map is emptied
// when it reaches maxTLSChains. The chains are kept as captured (parsed
// certificates or DER, parsed when asked for, on the caller's goroutine)
// and shared: nothing writes them after put.
var tlsChains tlsChainCache

type tlsChainCache struct {
	mu sync.Mutex
	m  map[uint64][]peerCert
}

const maxTLSChains = 1024

// get returns the chain kept under number n.
func (c *tlsChainCache) get(n uint64) ([]peerCert, bool) {
	if n == 0 {
		return nil, false
	}
	c.mu.Lock()
	chain, ok := c.m[n]
	c.mu.Unlock()
	return chain, ok
}

// put keeps chain under number n.
func (c *tlsChainCache) put(n uint64, chain []peerCert) {
	c.mu.Lock()
	if len(c.m) >= maxTLSChains {
		clear(c.m)
	}
	if c.m == nil {
		c.m = make(map[uint64][]peerCert)
	}
	c.m[n] = chain
	c.mu.Unlock()
}

// cipherSuiteID maps a cipher suite's IANA name to its ID, for the suites
// crypto/tls knows; 0 for others.
func cipherSuiteID(name string) uint16 {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			if cs.Name == name {
				return cs.ID
			}
		}
	}
	return 0
}

// OK reports whether the state could be read: false for the zero
// TLSState, which Transfer.TLSState returns outside an inline callback, for
// a connection without TLS, and where TLSStateSupported reports false.
func (r TLSState) OK() bool { return r.ok }

// NegotiatedProtocol returns the protocol ALPN agreed on ("h2",
// "http/1.1"), "" for none or when the state could not be read.
func (r TLSState) NegotiatedProtocol() string { return r.alpn }

// Handshake identifies the TLS handshake that set the connection up (its
// client random): no two handshakes share one, and a connection keeps its
// own until a renegotiation, so it tells a kept-alive connection from a
// new one to the same server with the same certificate. ok is false where
// it could not be read.
func (r TLSState) Handshake() (id [32]byte, ok bool) { return r.random, r.hasRandom }

// ConnectionState returns the state as crypto/tls describes it, for
// http.Response.TLS: HandshakeComplete, ServerName as given, Version,
// CipherSuite (0 for a suite crypto/tls has no ID for), NegotiatedProtocol
// and PeerCertificates (up to the first that does not parse). When the
// state could not be read, it carries only the ALPN protocol that proto, the
// response's HTTP version, implies ("h2", "h3" or "").
func (r TLSState) ConnectionState(serverName string, proto HTTPVersion) *tls.ConnectionState {
	cs := &tls.ConnectionState{HandshakeComplete: true, ServerName: serverName}
	if !r.ok {
		cs.NegotiatedProtocol = alpnOf(proto)
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

// TLSStateSupported reports whether Transfer.TLSState can read a TLS
// connection's state here: libcurl runs on GnuTLS, or on OpenSSL of the
// major and minor version linked into curlpoll (not left out with the build
// tag curlpoll_noopenssl).
func TLSStateSupported() bool { return tlsBackend() != tlsNone }

// PeerCertificates returns the peer's certificates, leaf first, parsed; an
// error wrapping ErrNoTLSState if the state could not be read, or the
// parser's error for a certificate that does not parse.
func (r TLSState) PeerCertificates() ([]*x509.Certificate, error) {
	if !r.ok {
		return nil, ErrNoTLSState
	}
	certs := make([]*x509.Certificate, len(r.chain))
	for i := range r.chain {
		c := r.chain[i].cert
		if c == nil {
			// Parsed through peerCerts, not written back: the chain may
			// be shared (tlsChains).
			var err error
			if c, err = parseCert(r.chain[i].der); err != nil {
				return nil, err
			}
		}
		certs[i] = c
	}
	return certs, nil
}

// alpnOf is the ALPN protocol of a response's HTTP version, for
// Response.TLS when libcurl's TLS library cannot be asked (not OpenSSL):
// "h2" and "h3" are the only protocols a TLS connection of libcurl's can
// carry besides HTTP/1.1, for which ALPN may or may not have been used.
func alpnOf(v HTTPVersion) string {
	switch v {
	case HTTPVersion2:
		return "h2"
	case HTTPVersion3:
		return "h3"
	}
	return ""
}

// ErrNoTLSState is the error of TLSState.PeerCertificates for a state that
// could not be read.
var ErrNoTLSState = errors.New("curlpoll: the TLS connection's state cannot be read")

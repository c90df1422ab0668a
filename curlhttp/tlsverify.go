package curlhttp

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/curlpoll/curlpoll"
)

// Certificate verification in Go, for a TLSClientConfig that asks for what
// libcurl cannot do: RootCAs, Time, VerifyPeerCertificate or
// VerifyConnection. libcurl's own verification is then off, and the
// pre-request callback (CURLOPT_PREREQFUNCTION, libcurl 7.80.0+), which
// libcurl calls for every request once its connection is ready, new or
// reused, and before a byte of the request is sent, verifies the peer's
// chain as read from the live TLS connection (OpenSSL's SSL*, or GnuTLS's
// session: curlpoll.TLSState): x509
// verification as crypto/tls does it, then VerifyPeerCertificate, then
// VerifyConnection. An error aborts the request.
//
// A verdict is kept for verdictTTL, by TLS handshake (TLSState.Handshake:
// its client random), server name and chain: further requests on a
// connection are not verified again within that time, and a new
// connection is, as crypto/tls verifies every handshake: VerifyConnection
// may judge the connection itself, and the user's functions may change
// their minds (a revocation, a pin rotated). Where the handshake cannot be
// told, nothing is kept: every request is verified. TLS session resumption
// is off on such requests (CURLOPT_SSL_SESSIONID_CACHE): a resumed session
// has no peer chain to verify.

// verdictTTL is how long a successful verification is trusted for further
// requests on the same connection (a variable for the tests).
var verdictTTL = time.Minute

// maxVerdicts bounds a verifier's cache; when full it is emptied.
const maxVerdicts = 256

// needsGoVerify reports whether c asks for a verification that only Go can
// do.
func needsGoVerify(c *tls.Config) bool {
	return c != nil && (c.VerifyPeerCertificate != nil || c.VerifyConnection != nil ||
		c.RootCAs != nil || c.Time != nil)
}

// tlsVerifier verifies peers for one TLSClientConfig, CAPEM and CAFile.
type tlsVerifier struct {
	conf   *tls.Config
	caPEM  []byte
	caFile string
	roots  *x509.CertPool // nil: the system's

	mu       sync.Mutex
	verdicts map[[sha256.Size]byte]time.Time // handshake, name and chain -> good until
}

// verifier returns the Transport's verifier for its current TLS settings.
func (tr *Transport) verifier() (*tlsVerifier, error) {
	conf := tr.TLSClientConfig
	tr.tlsMu.Lock()
	v := tr.tlsv
	tr.tlsMu.Unlock()
	if v != nil && v.conf == conf && v.caFile == tr.CAFile && sameBytes(v.caPEM, tr.CAPEM) {
		return v, nil
	}
	v = &tlsVerifier{conf: conf, caPEM: tr.CAPEM, caFile: tr.CAFile, roots: conf.RootCAs}
	if v.roots == nil {
		var err error
		if v.roots, err = curlRoots(tr.CAPEM, tr.CAFile); err != nil {
			return nil, err
		}
	}
	tr.tlsMu.Lock()
	tr.tlsv = v
	tr.tlsMu.Unlock()
	return v, nil
}

// curlRoots returns the trust roots libcurl is given, CAPEM or else
// CAFile, as a pool; nil (the system's) for neither.
func curlRoots(caPEM []byte, caFile string) (*x509.CertPool, error) {
	if caPEM == nil && caFile == "" {
		return nil, nil
	}
	name := "CAPEM"
	if caPEM == nil {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("curlpoll: Transport.CAFile: %w", err)
		}
		caPEM, name = b, "CAFile "+caFile
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("curlpoll: Transport.%s has no certificate", name)
	}
	return pool, nil
}

// sameBytes reports whether a and b are the same slice (not only equal).
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// peerVerifyError is the error of a peer that Go's verification refused:
// the request fails with ErrPeerFailedVerification and this error.
type peerVerifyError struct{ err error }

func (e *peerVerifyError) Error() string { return e.err.Error() }
func (e *peerVerifyError) Unwrap() error { return e.err }

// verify checks the peer of t's connection for serverName. It runs in
// libcurl's pre-request callback, on the Multi's driver.
func (v *tlsVerifier) verify(t *curlpoll.Transfer, serverName string) error {
	raw := t.TLSState()
	certs, err := raw.PeerCertificates()
	if err != nil {
		return &peerVerifyError{fmt.Errorf("curlpoll: reading the peer's certificates: %w", err)}
	}
	if len(certs) == 0 {
		return &peerVerifyError{errors.New("curlpoll: the TLS connection shows no peer certificate to verify")}
	}
	hs, keep := raw.Handshake()
	var key [sha256.Size]byte
	now := time.Now()
	if keep {
		key = verdictKey(hs, serverName, certs)
		v.mu.Lock()
		good := now.Before(v.verdicts[key])
		v.mu.Unlock()
		if good {
			return nil
		}
	}
	if err := v.verifyChain(&raw, certs, serverName); err != nil {
		return &peerVerifyError{err}
	}
	if !keep {
		return nil
	}
	v.mu.Lock()
	if len(v.verdicts) >= maxVerdicts || v.verdicts == nil {
		v.verdicts = make(map[[sha256.Size]byte]time.Time)
	}
	v.verdicts[key] = now.Add(verdictTTL)
	v.mu.Unlock()
	return nil
}

// verdictKey names a verification: the handshake (a connection's own),
// the server name and the chain.
func verdictKey(handshake [32]byte, serverName string, certs []*x509.Certificate) (key [sha256.Size]byte) {
	h := sha256.New()
	h.Write(handshake[:])
	h.Write([]byte(serverName))
	h.Write([]byte{0})
	for _, c := range certs {
		h.Write(c.Raw)
	}
	h.Sum(key[:0])
	return key
}

// verifyChain does what crypto/tls's client does with a peer's chain.
func (v *tlsVerifier) verifyChain(raw *curlpoll.TLSState, certs []*x509.Certificate, serverName string) error {
	c := v.conf
	var chains [][]*x509.Certificate
	if !c.InsecureSkipVerify {
		opts := x509.VerifyOptions{
			Roots:         v.roots,
			DNSName:       serverName,
			Intermediates: x509.NewCertPool(),
		}
		if c.Time != nil {
			opts.CurrentTime = c.Time()
		}
		for _, ic := range certs[1:] {
			opts.Intermediates.AddCert(ic)
		}
		var err error
		if chains, err = certs[0].Verify(opts); err != nil {
			return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
		}
	}
	if c.VerifyPeerCertificate != nil {
		rawCerts := make([][]byte, len(certs))
		for i, cert := range certs {
			rawCerts[i] = cert.Raw
		}
		if err := c.VerifyPeerCertificate(rawCerts, chains); err != nil {
			return err
		}
	}
	if c.VerifyConnection != nil {
		cs := raw.ConnectionState(serverName, curlpoll.HTTPVersion1_1)
		cs.HandshakeComplete = false // as crypto/tls shows it to VerifyConnection
		if net.ParseIP(serverName) != nil {
			cs.ServerName = "" // no SNI for an address, as crypto/tls shows it
		}
		cs.PeerCertificates = certs
		cs.VerifiedChains = chains
		if err := c.VerifyConnection(*cs); err != nil {
			return err
		}
	}
	return nil
}

// serverName is the name Go verifies the peer's certificate for:
// TLSClientConfig.ServerName, or the URL's host.
func (c *call) serverName() string {
	if sn := c.verifier.conf.ServerName; sn != "" {
		return sn
	}
	return c.req.URL.Hostname()
}

package curlhttp

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/curlpoll/curlpoll"
)

// The error of a request whose peer libcurl's own verification refused
// (CURLE_PEER_FAILED_VERIFICATION) carries what net/http would return for
// the same server: a *tls.CertificateVerificationError with the x509 error
// inside (x509.UnknownAuthorityError, x509.HostnameError,
// x509.CertificateInvalidError). libcurl says why only in text, and a
// handshake that failed leaves no chain behind (OpenSSL fails it before
// libcurl could read the chain), so the Transport asks Go: it makes one
// TLS handshake of its own with the address libcurl connected to (or, if
// libcurl does not tell, the URL's host and port), with the
// request's server name and trust roots, and sends nothing over it. Only a
// certificate verification error of that handshake is used; anything else
// (another chain that verifies, a network error, a proxy in the way) leaves
// libcurl's error as it is.

// peerError returns the error of a request whose peer Go's or libcurl's
// verification refused, nil for another failure. Where net/http returns a
// *tls.CertificateVerificationError, so does the Transport, itself, not
// wrapped: code such as go-retryablehttp's retry policy asserts its type
// (err.(*tls.CertificateVerificationError)) to stop retrying; curl's error
// is inside it, beside the x509 error (so its Err is not the x509 error
// itself: errors.As finds that). A VerifyPeerCertificate or
// VerifyConnection that failed gives an *Error with its error inside.
func (c *call) peerError(ce *curlpoll.Error) error {
	var pve *peerVerifyError
	if ce.Err != nil && errors.As(ce.Err, &pve) {
		// Go's verification refused the peer (tlsverify.go).
		ce = &curlpoll.Error{Code: curlpoll.ErrPeerFailedVerification}
		var ve *tls.CertificateVerificationError
		if errors.As(pve.err, &ve) {
			return certError(ve, ce)
		}
		ce.Err = pve.err
		return ce
	}
	if ce.Code != curlpoll.ErrPeerFailedVerification {
		return nil
	}
	if ve := c.certVerificationError(); ve != nil {
		return certError(ve, ce)
	}
	return ce
}

// certError returns ve with ce beside its x509 error: errors.As finds the
// x509 error and the *Error, and errors.Is(err, ErrPeerFailedVerification)
// holds. Its text is net/http's.
func certError(ve *tls.CertificateVerificationError, ce *curlpoll.Error) error {
	return &tls.CertificateVerificationError{
		UnverifiedCertificates: ve.UnverifiedCertificates,
		Err:                    &verifyCause{err: ve.Err, ce: ce},
	}
}

// verifyCause is the Err of a certError: the x509 error, and curl's.
type verifyCause struct {
	err error
	ce  *curlpoll.Error
}

func (e *verifyCause) Error() string   { return e.err.Error() }
func (e *verifyCause) Unwrap() []error { return []error{e.err, e.ce} }

// certProbeTimeout bounds the handshake that explains a refused peer when
// the Transport has no TLSHandshakeTimeout; schemeProbeTimeout the one
// that looks for a plain HTTP server (which answers at once).
const (
	certProbeTimeout   = 10 * time.Second
	schemeProbeTimeout = 2 * time.Second
)

// certVerificationError returns the *tls.CertificateVerificationError Go
// gets for the peer libcurl refused on c's request, nil if it gets none.
// It runs on RoundTrip's goroutine, after the transfer ended.
func (c *call) certVerificationError() *tls.CertificateVerificationError {
	var ve *tls.CertificateVerificationError
	if err := c.probeHandshake(false, certProbeTimeout); err != nil && errors.As(err, &ve) {
		return ve
	}
	return nil
}

// notTLSReply reports whether the text of libcurl's error for a failed
// handshake says that the server's reply was no TLS record: OpenSSL's
// "wrong version number" (or "packet length too long"), GnuTLS's
// "unexpected TLS packet" (or "unexpected length"). Only then does
// recordHeaderError ask Go, so that no other handshake failure costs the
// server a second connection.
func notTLSReply(detail string) bool {
	for _, s := range []string{"wrong version number", "packet length too long", "unexpected TLS packet", "packet with unexpected length"} {
		if strings.Contains(detail, s) {
			return true
		}
	}
	return false
}

// recordHeaderError is, for a request whose TLS handshake libcurl could
// not make (CURLE_SSL_CONNECT_ERROR), what crypto/tls returns where the
// server's first bytes are no TLS record (a plain HTTP server behind an
// https URL): its tls.RecordHeaderError, which http.Client turns into
// http.ErrSchemeMismatch ("server gave HTTP response to HTTPS client") by
// a type assertion, so that it is returned as it is. Asked of Go as
// certVerificationError asks (one handshake, nothing sent).
func (c *call) recordHeaderError() (tls.RecordHeaderError, bool) {
	var rhe tls.RecordHeaderError
	if err := c.probeHandshake(true, schemeProbeTimeout); err == nil || !errors.As(err, &rhe) {
		return rhe, false
	}
	rhe.Conn = nil // the probe's, closed
	return rhe, true
}

// probeHandshake makes one TLS handshake of Go's with the server libcurl
// connected to, as the request's configuration would (without verifying
// the peer, and within limit, if anyway), within the request's context
// and TLSHandshakeTimeout (limit without one), and returns its error; nil
// where none was made (a proxy in the way, verification off) or it
// succeeded.
func (c *call) probeHandshake(anyway bool, limit time.Duration) error {
	if c.viaProxy || c.t == nil {
		return nil
	}
	// The address libcurl connected to; libcurl 8 leaves it unknown when
	// the handshake failed: then the URL's, which net/http would dial.
	tr, u := c.tr, c.req.URL
	addr := canonicalAddr(u)
	if info, ok := c.t.Info(); ok && info.RemoteAddr.IsValid() {
		addr = info.RemoteAddr.String()
	}
	conf := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if tc := tr.TLSClientConfig; tc != nil {
		if tc.InsecureSkipVerify && !anyway {
			return nil
		}
		if tc.ServerName != "" {
			conf.ServerName = tc.ServerName
		}
		if tc.MinVersion != 0 {
			conf.MinVersion = tc.MinVersion
		}
		conf.MaxVersion = tc.MaxVersion
	}
	var err error
	if anyway {
		conf.InsecureSkipVerify = true
	} else if conf.RootCAs, err = curlRoots(tr.CAPEM, tr.CAFile); err != nil {
		return nil
	}
	d := tr.TLSHandshakeTimeout
	if d <= 0 || anyway && d > limit {
		d = limit // the certificate's probe: TLSHandshakeTimeout, else limit
	}
	ctx, cancel := context.WithTimeout(c.req.Context(), d)
	defer cancel()
	var raw net.Conn
	if tr.DialContext != nil {
		// Through DialContext, to the host it was asked for: libcurl's
		// address is the relay's (curlpoll.Easy.SetDialFunc).
		raw, err = tr.DialContext(ctx, "tcp", canonicalAddr(u))
	} else {
		raw, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer raw.Close()
	return tls.Client(raw, conf).HandshakeContext(ctx)
}

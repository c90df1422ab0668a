package curlpoll

import (
	"context"
	"crypto/tls"
	"errors"
	"time"
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

// certProbeTimeout bounds the handshake that explains a refused peer when
// the Transport has no TLSHandshakeTimeout.
const certProbeTimeout = 10 * time.Second

// certVerificationError returns the *tls.CertificateVerificationError Go
// gets for the peer libcurl refused on c's request, nil if it gets none.
// It runs on RoundTrip's goroutine, after the transfer ended.
func (c *call) certVerificationError() error {
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
		if tc.InsecureSkipVerify {
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
	if conf.RootCAs, err = curlRoots(tr.CAPEM, tr.CAFile); err != nil {
		return nil
	}
	d := tr.TLSHandshakeTimeout
	if d <= 0 {
		d = certProbeTimeout
	}
	ctx, cancel := context.WithTimeout(c.req.Context(), d)
	defer cancel()
	conn, err := (&tls.Dialer{Config: conf}).DialContext(ctx, "tcp", addr)
	if err == nil {
		conn.Close()
		return nil
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) {
		return ve
	}
	return nil
}

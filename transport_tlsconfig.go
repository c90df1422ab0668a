package curlpoll

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// ErrUnsupportedTLSConfig is wrapped by the error of a request whose
// Transport.TLSClientConfig sets a field that the Transport cannot honour
// on the libcurl it runs on. Such a request fails before anything is sent:
// a field that restricts or checks the connection is never dropped
// silently, as that would make the connection less safe than asked for.
var ErrUnsupportedTLSConfig = errors.New("curlpoll: unsupported TLS configuration")

// unsupportedTLSField is the error for the field name of TLSClientConfig.
func unsupportedTLSField(name, why string) error {
	return fmt.Errorf("%w: TLSClientConfig.%s %s", ErrUnsupportedTLSConfig, name, why)
}

// checkTLSConfig returns an error if c sets a client-side field that the
// Transport does not honour for a request over TLS (httpsProxy: through
// an HTTPS proxy). Server-only fields are ignored, as net/http's client
// ignores them; the client-side fields whose dropping cannot make a
// connection less safe are listed in the Transport's documentation.
func checkTLSConfig(c *tls.Config, httpsProxy bool) error {
	if c == nil {
		return nil
	}
	const notYet = "is not supported"
	switch {
	case c.GetClientCertificate != nil:
		return unsupportedTLSField("GetClientCertificate", "is not supported (use Certificates)")
	case len(c.CipherSuites) > 0 && c.MinVersion < tls.VersionTLS13:
		// crypto/tls ignores CipherSuites for TLS 1.3, as libcurl would.
		return unsupportedTLSField("CipherSuites", notYet)
	case len(c.CurvePreferences) > 0:
		return unsupportedTLSField("CurvePreferences", notYet)
	case len(c.EncryptedClientHelloConfigList) > 0:
		return unsupportedTLSField("EncryptedClientHelloConfigList", notYet)
	case c.EncryptedClientHelloRejectionVerify != nil:
		return unsupportedTLSField("EncryptedClientHelloRejectionVerify", notYet)
	}
	if !needsGoVerify(c) {
		return nil
	}
	// The fields only Go's verification honours (transport_tlsverify.go).
	name := "Time"
	switch {
	case c.VerifyPeerCertificate != nil:
		name = "VerifyPeerCertificate"
	case c.VerifyConnection != nil:
		name = "VerifyConnection"
	case c.RootCAs != nil:
		name = "RootCAs"
	}
	switch {
	case httpsProxy:
		// net/http applies them to the proxy's TLS connection too.
		return unsupportedTLSField(name, "is not supported through an HTTPS proxy")
	case libcurlVersion() < 0x075000:
		return unsupportedTLSField(name, "needs libcurl 7.80.0 or newer (CURLOPT_PREREQFUNCTION)")
	case !tlsCaptureSupported() && !gnutlsPeersSupported():
		return unsupportedTLSField(name, "needs libcurl on GnuTLS, or on OpenSSL with curlpoll built without the tag curlpoll_noopenssl; libcurl runs on "+Version().TLS)
	}
	return nil
}

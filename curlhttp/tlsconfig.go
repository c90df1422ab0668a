package curlhttp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"

	"github.com/curlpoll/curlpoll"
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
// Transport does not honour for a request over TLS through proxy (nil for
// none) with HTTP version version. Server-only fields are ignored, as
// net/http's client ignores them; the client-side fields whose dropping
// cannot make a connection less safe are listed in the Transport's
// documentation.
func checkTLSConfig(c *tls.Config, proxy *url.URL, version curlpoll.HTTPVersion) error {
	if c == nil {
		return nil
	}
	httpsProxy := proxy != nil && proxy.Scheme == "https"
	const notYet = "is not supported"
	switch {
	case c.ServerName != "" && !validServerName(c.ServerName):
		// It becomes the host of the URL libcurl is given (configure),
		// where anything but a name or an address would change what is
		// connected to and verified.
		return unsupportedTLSField("ServerName", fmt.Sprintf("%q is not a host name or an IP address in its canonical form", c.ServerName))
	case httpsProxy && c.ServerName != "" && !sameHost(c.ServerName, proxy.Hostname()):
		// net/http verifies the proxy's certificate for it too; libcurl
		// verifies the proxy for the proxy's host.
		return unsupportedTLSField("ServerName", "is not supported through an HTTPS proxy unless it is the proxy's host")
	case c.GetClientCertificate != nil && !curlpoll.ClientCertFuncSupported():
		return unsupportedTLSField("GetClientCertificate", "is not supported where libcurl does not run on the OpenSSL curlpoll links (use Certificates)")
	case c.GetClientCertificate != nil && c.Renegotiation != tls.RenegotiateNever:
		// A renegotiation's certificate request would find the function
		// of the handle that made the connection, which may be gone
		// (curlpoll.Easy.SetClientCertFunc): none would be sent.
		return unsupportedTLSField("Renegotiation", "must be RenegotiateNever with GetClientCertificate")
	case len(c.EncryptedClientHelloConfigList) > 0:
		return unsupportedTLSField("EncryptedClientHelloConfigList", notYet)
	case c.EncryptedClientHelloRejectionVerify != nil:
		return unsupportedTLSField("EncryptedClientHelloRejectionVerify", notYet)
	case c.Renegotiation == tls.RenegotiateOnceAsClient && libcurlOnOpenSSL():
		return unsupportedTLSField("Renegotiation", "RenegotiateOnceAsClient is not supported: libcurl's OpenSSL cannot stop after one (RenegotiateFreelyAsClient lets it renegotiate, RenegotiateNever refuses)")
	}
	if _, err := cipherList(c); err != nil {
		return err
	}
	if _, err := curveList(c, httpsProxy); err != nil {
		return err
	}
	if !needsGoVerify(c) {
		return nil
	}
	// The fields only Go's verification honours (tlsverify.go).
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
	case version == curlpoll.HTTPVersion3Only:
		// libcurl's QUIC connections show no TLS state (the peer's chain)
		// to the pre-request callback. HTTP3Attempt uses TCP
		// (Transport.httpVersion).
		return unsupportedTLSField(name, "is not supported over HTTP/3 (Transport.HTTP3Only): Go cannot read a QUIC connection's peer certificates")
	case c.Renegotiation != tls.RenegotiateNever && libcurlOnOpenSSL():
		// Go verifies the peer once the handshake is done, before the
		// request is sent: a renegotiation in the middle of a response
		// could bring a certificate that nobody verifies.
		return unsupportedTLSField("Renegotiation", "must be RenegotiateNever with "+name+": Go would not verify a renegotiated certificate")
	case libcurlVersion().Number < 0x075000:
		return unsupportedTLSField(name, "needs libcurl 7.80.0 or newer (CURLOPT_PREREQFUNCTION)")
	case !curlpoll.TLSStateSupported():
		return unsupportedTLSField(name, "needs libcurl on GnuTLS, or on OpenSSL with curlpoll built without the tag curlpoll_noopenssl; libcurl runs on "+curlpoll.Version().TLS)
	}
	return nil
}

// validServerName reports whether name is a host name as crypto/x509
// takes one (validHostname: labels of letters, digits, '-' and '_', none
// empty, none starting with '-', one trailing dot allowed) or an IP address
// in its canonical form: what libcurl's URL parser keeps as it is and its
// TLS library verifies as crypto/tls would, so that the name verified is
// the one given. libcurl rewrites other forms of an address (127.1,
// 2130706433, 0x7f000001, 0:0:0:0:0:0:0:1) to the canonical one, which
// would then be the name verified and, missing CURLOPT_CONNECT_TO's entry,
// connected to; and its wildcard matching lets *.example.com match
// .example.com or -a.example.com, which crypto/tls refuses (both found by
// reviews).
func validServerName(name string) bool {
	if a, err := netip.ParseAddr(name); err == nil {
		return a.String() == name && !a.Is4In6() && a.Zone() == ""
	}
	host := strings.TrimSuffix(name, ".")
	if host == "" {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || label[0] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			switch b := label[i]; {
			case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_':
			default:
				return false
			}
		}
	}
	return !endsInNumber(host)
}

// endsInNumber reports whether the host name's last label is a number
// (decimal, or hex after 0x), which makes URL parsers, libcurl's too, read
// the name as an IPv4 address (the WHATWG URL standard's "ends in a
// number").
func endsInNumber(name string) bool {
	name = strings.TrimSuffix(name, ".")
	last := name[strings.LastIndexByte(name, '.')+1:]
	if last == "" {
		return false
	}
	if h, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		return strings.Trim(h, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

// sameHost reports whether host names a and b are the same: case and one
// trailing dot do not count.
func sameHost(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// setRenegotiation applies c.Renegotiation to e, a handle for https (or
// through an HTTPS proxy): refused by default, as crypto/tls refuses it
// (curlpoll.Easy.SetTLSRenegotiation). Where libcurl's TLS library cannot
// be told (an OpenSSL other than the one curlpoll links, curlpoll built
// with curlpoll_noopenssl, a library other than OpenSSL and GnuTLS), its
// default applies, as the Transport's documentation says; where it cannot
// renegotiate (GnuTLS), RenegotiateFreelyAsClient does not make it: a
// connection whose server insists fails, which is no less safe.
func setRenegotiation(e *curlpoll.Easy, c *tls.Config) error {
	allow := c != nil && c.Renegotiation != tls.RenegotiateNever // Once: checkTLSConfig
	err := e.SetTLSRenegotiation(allow)
	if errors.Is(err, curlpoll.ErrTLSRenegotiationUnsupported) {
		return nil
	}
	return err
}

// libcurlOnOpenSSL reports whether libcurl's TLS library is OpenSSL, whose
// names cipherList and curveList give.
var libcurlOnOpenSSL = sync.OnceValue(func() bool { return strings.HasPrefix(curlpoll.Version().TLS, "OpenSSL/") })

// libcurlVersion is the running libcurl's version, read once: Version
// builds its whole description, a cost per request otherwise.
var libcurlVersion = sync.OnceValue(curlpoll.Version)

// opensslCiphers names crypto/tls's TLS 1.0-1.2 cipher suites as OpenSSL
// does (RC4 and 3DES, which OpenSSL 3 leaves out, are not listed).
var opensslCiphers = map[uint16]string{
	tls.TLS_RSA_WITH_AES_128_CBC_SHA:                  "AES128-SHA",
	tls.TLS_RSA_WITH_AES_256_CBC_SHA:                  "AES256-SHA",
	tls.TLS_RSA_WITH_AES_128_CBC_SHA256:               "AES128-SHA256",
	tls.TLS_RSA_WITH_AES_128_GCM_SHA256:               "AES128-GCM-SHA256",
	tls.TLS_RSA_WITH_AES_256_GCM_SHA384:               "AES256-GCM-SHA384",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA:          "ECDHE-ECDSA-AES128-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA:          "ECDHE-ECDSA-AES256-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA:            "ECDHE-RSA-AES128-SHA",
	tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA:            "ECDHE-RSA-AES256-SHA",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256:       "ECDHE-ECDSA-AES128-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256:         "ECDHE-RSA-AES128-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       "ECDHE-ECDSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       "ECDHE-ECDSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         "ECDHE-RSA-AES128-GCM-SHA256",
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         "ECDHE-RSA-AES256-GCM-SHA384",
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   "ECDHE-RSA-CHACHA20-POLY1305",
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: "ECDHE-ECDSA-CHACHA20-POLY1305",
}

// cipherList returns c.CipherSuites as an OpenSSL cipher list
// (CURLOPT_SSL_CIPHER_LIST, which, as CipherSuites, leaves TLS 1.3's
// alone), "" if it sets none that apply.
func cipherList(c *tls.Config) (string, error) {
	if len(c.CipherSuites) == 0 || c.MinVersion >= tls.VersionTLS13 {
		return "", nil // crypto/tls ignores CipherSuites for TLS 1.3
	}
	if !libcurlOnOpenSSL() {
		return "", unsupportedTLSField("CipherSuites", "needs libcurl on OpenSSL; libcurl runs on "+curlpoll.Version().TLS)
	}
	var names []string
	for _, id := range c.CipherSuites {
		switch id {
		case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256:
			continue // TLS 1.3's: not configurable, as in crypto/tls
		}
		name, ok := opensslCiphers[id]
		if !ok {
			return "", unsupportedTLSField("CipherSuites", fmt.Sprintf("has %s, which is not supported", tls.CipherSuiteName(id)))
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return "", unsupportedTLSField("CipherSuites", "has no TLS 1.0-1.2 cipher suite")
	}
	return strings.Join(names, ":"), nil
}

// opensslGroups names crypto/tls's key exchanges as OpenSSL does (the
// post-quantum ones need OpenSSL 3.5 or newer: older ones fail the
// connection before anything is sent).
var opensslGroups = map[tls.CurveID]string{
	tls.X25519:             "X25519",
	tls.CurveP256:          "P-256",
	tls.CurveP384:          "P-384",
	tls.CurveP521:          "P-521",
	tls.X25519MLKEM768:     "X25519MLKEM768",
	tls.SecP256r1MLKEM768:  "SecP256r1MLKEM768",
	tls.SecP384r1MLKEM1024: "SecP384r1MLKEM1024",
}

// curveList returns c.CurvePreferences as an OpenSSL group list
// (CURLOPT_SSL_EC_CURVES), "" for none.
func curveList(c *tls.Config, httpsProxy bool) (string, error) {
	if len(c.CurvePreferences) == 0 {
		return "", nil
	}
	switch {
	case !libcurlOnOpenSSL():
		return "", unsupportedTLSField("CurvePreferences", "needs libcurl on OpenSSL; libcurl runs on "+curlpoll.Version().TLS)
	case httpsProxy:
		// net/http applies them to the proxy too; libcurl has no option.
		return "", unsupportedTLSField("CurvePreferences", "is not supported through an HTTPS proxy")
	}
	names := make([]string, len(c.CurvePreferences))
	for i, id := range c.CurvePreferences {
		name, ok := opensslGroups[id]
		if !ok {
			return "", unsupportedTLSField("CurvePreferences", fmt.Sprintf("has %v, which is not supported", id))
		}
		names[i] = name
	}
	return strings.Join(names, ":"), nil
}

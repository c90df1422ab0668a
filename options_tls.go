package curlpoll

// #include "shim.h"
import "C"

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// SetTLSVersions sets the lowest and highest TLS versions to negotiate
// (CURLOPT_SSLVERSION), as crypto/tls's constants (tls.VersionTLS12,
// tls.VersionTLS13); 0 leaves libcurl's default for that end.
func (e *Easy) SetTLSVersions(min, max uint16) error {
	v, err := tlsVersionsOption(min, max)
	if err != nil {
		return err
	}
	return e.setLong(C.CURLOPT_SSLVERSION, v)
}

// SetProxyTLSVersions is SetTLSVersions for an HTTPS proxy
// (CURLOPT_PROXY_SSLVERSION).
func (e *Easy) SetProxyTLSVersions(min, max uint16) error {
	v, err := tlsVersionsOption(min, max)
	if err != nil {
		return err
	}
	return e.setLong(C.CURLOPT_PROXY_SSLVERSION, v)
}

// TLSVersionsValue returns the value of CURLOPT_SSLVERSION (or
// CURLOPT_PROXY_SSLVERSION) for a range of crypto/tls versions, as
// SetTLSVersions sets it, for an OptionBatch: tls.VersionTLS10 to
// tls.VersionTLS13, 0 for libcurl's default.
func TLSVersionsValue(min, max uint16) (int64, error) { return tlsVersionsOption(min, max) }

// tlsVersionsOption is CURLOPT_SSLVERSION's value for a range of
// crypto/tls versions.
func tlsVersionsOption(min, max uint16) (int64, error) {
	lo, ok1 := sslVersionBits(min)
	hi, ok2 := sslVersionBits(max)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("curlpoll: TLS versions %#x-%#x: want tls.VersionTLS10 to tls.VersionTLS13, or 0", min, max)
	}
	if min != 0 && max != 0 && min > max {
		return 0, fmt.Errorf("curlpoll: TLS versions %#x-%#x: the lowest is above the highest", min, max)
	}
	return int64(lo | hi<<16), nil
}

// sslVersionBits maps a crypto/tls version to its CURL_SSLVERSION_* value
// (0 for 0, libcurl's default).
func sslVersionBits(v uint16) (int, bool) {
	switch v {
	case 0:
		return 0, true
	case tls.VersionTLS10:
		return C.CURL_SSLVERSION_TLSv1_0, true
	case tls.VersionTLS11:
		return C.CURL_SSLVERSION_TLSv1_1, true
	case tls.VersionTLS12:
		return C.CURL_SSLVERSION_TLSv1_2, true
	case tls.VersionTLS13:
		return C.CURL_SSLVERSION_TLSv1_3, true
	}
	return 0, false
}

// SetPinnedPublicKey pins the server's public key (CURLOPT_PINNEDPUBLICKEY):
// "sha256//BASE64[;sha256//BASE64...]" of the key's DER SubjectPublicKeyInfo,
// or the path of a PEM or DER public key file. A server whose key does not
// match fails with ErrSSLPinnedPubKeyNotMatch, even with SetVerifyPeer(false).
func (e *Easy) SetPinnedPublicKey(pin string) error {
	return e.setString(C.CURLOPT_PINNEDPUBLICKEY, pin)
}

// SetCipherList sets the TLS 1.2 and older cipher suites to offer
// (CURLOPT_SSL_CIPHER_LIST), in the TLS library's own syntax (OpenSSL:
// "ECDHE-RSA-AES128-GCM-SHA256:..."; GnuTLS: a priority string).
func (e *Easy) SetCipherList(list string) error {
	return e.setString(C.CURLOPT_SSL_CIPHER_LIST, list)
}

// SetTLS13Ciphers sets the TLS 1.3 cipher suites to offer
// (CURLOPT_TLS13_CIPHERS), such as "TLS_AES_256_GCM_SHA384"; not every TLS
// library takes it.
func (e *Easy) SetTLS13Ciphers(list string) error {
	return e.setString(C.CURLOPT_TLS13_CIPHERS, list)
}

// SetCurves sets the key exchange groups to offer (CURLOPT_SSL_EC_CURVES),
// such as "X25519:P-256".
func (e *Easy) SetCurves(list string) error { return e.setString(C.CURLOPT_SSL_EC_CURVES, list) }

// SSLOptions are CURLOPT_SSL_OPTIONS bits.
type SSLOptions int64

// TLS behaviour switches for SetSSLOptions.
const (
	SSLAllowBeast       SSLOptions = C.CURLSSLOPT_ALLOW_BEAST        // CURLSSLOPT_ALLOW_BEAST
	SSLNoRevoke         SSLOptions = C.CURLSSLOPT_NO_REVOKE          // CURLSSLOPT_NO_REVOKE (Schannel)
	SSLNoPartialChain   SSLOptions = C.CURLSSLOPT_NO_PARTIALCHAIN    // CURLSSLOPT_NO_PARTIALCHAIN (OpenSSL)
	SSLRevokeBestEffort SSLOptions = C.CURLSSLOPT_REVOKE_BEST_EFFORT // CURLSSLOPT_REVOKE_BEST_EFFORT (Schannel)
	SSLNativeCA         SSLOptions = C.CURLSSLOPT_NATIVE_CA          // CURLSSLOPT_NATIVE_CA
	SSLAutoClientCert   SSLOptions = C.CURLSSLOPT_AUTO_CLIENT_CERT   // CURLSSLOPT_AUTO_CLIENT_CERT (Schannel)
)

// SetSSLOptions sets TLS behaviour switches (CURLOPT_SSL_OPTIONS).
func (e *Easy) SetSSLOptions(o SSLOptions) error {
	return e.setLong(C.CURLOPT_SSL_OPTIONS, int64(o))
}

// SetCRLFile sets a file of certificate revocation lists in PEM
// (CURLOPT_CRLFILE): a server certificate listed there fails verification.
func (e *Easy) SetCRLFile(path string) error { return e.setString(C.CURLOPT_CRLFILE, path) }

// SetClientCert sets the client certificate from a file (CURLOPT_SSLCERT)
// of type certType, "PEM", "DER" or "P12" (CURLOPT_SSLCERTTYPE); "" keeps
// PEM.
func (e *Easy) SetClientCert(path, certType string) error {
	if err := e.setString(C.CURLOPT_SSLCERTTYPE, certType); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_SSLCERT, path)
}

// SetClientKey sets the client certificate's private key from a file
// (CURLOPT_SSLKEY) of type keyType, "PEM", "DER" or "ENG"
// (CURLOPT_SSLKEYTYPE); "" keeps PEM.
func (e *Easy) SetClientKey(path, keyType string) error {
	if err := e.setString(C.CURLOPT_SSLKEYTYPE, keyType); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_SSLKEY, path)
}

// SetKeyPassword sets the password of the private key (CURLOPT_KEYPASSWD):
// for a client key, or an SSH key.
func (e *Easy) SetKeyPassword(password string) error {
	return e.setString(C.CURLOPT_KEYPASSWD, password)
}

// SetIssuerCert requires the server certificate to be issued by the
// certificate in this PEM file (CURLOPT_ISSUERCERT).
func (e *Easy) SetIssuerCert(path string) error { return e.setString(C.CURLOPT_ISSUERCERT, path) }

// SetSessionIDCache turns the reuse of TLS sessions on, the default, or off
// (CURLOPT_SSL_SESSIONID_CACHE).
func (e *Easy) SetSessionIDCache(on bool) error {
	return e.setBool(C.CURLOPT_SSL_SESSIONID_CACHE, on)
}

// clientCertFunc is a client certificate function (SetClientCertFunc).
type clientCertFunc func(t *Transfer, info *tls.CertificateRequestInfo) (*tls.Certificate, error)

// ErrClientCertFuncUnsupported is the error of SetClientCertFunc where
// libcurl does not run on the OpenSSL curlpoll links (on GnuTLS, or with
// the build tag curlpoll_noopenssl).
var ErrClientCertFuncUnsupported = errors.New("curlpoll: a client certificate function needs libcurl on the OpenSSL curlpoll links")

// ClientCertFuncSupported reports whether SetClientCertFunc works here:
// libcurl runs on the OpenSSL that curlpoll links.
func ClientCertFuncSupported() bool { return tlsBackend() == tlsOpenSSL }

// SetClientCertFunc sets an inline function that gives the client
// certificate when a server asks for one during a TLS handshake, as
// crypto/tls's Config.GetClientCertificate: info holds the certificate
// authorities the server accepts (AcceptableCAs), the signature schemes
// it takes and the TLS version (its Context is nil). A certificate with
// no Certificate sends none; an error fails the handshake, and the
// transfer, with an *Error holding it. The certificate's chain is sent as
// it is, its private key must be one x509.MarshalPKCS8PrivateKey takes (a
// key that never leaves a device, a crypto.Signer alone, fails the
// handshake), and it replaces a certificate set with SetSSLCert or the
// like for that handshake. It runs for the server's and, through an HTTPS
// proxy that asks, the proxy's handshake (and a DoH server's: libcurl
// gives its DoH lookups the handle's TLS settings), inside libcurl on the
// driver (see the package documentation, "Inline callbacks"); a resumed TLS
// session makes none (SetSessionIDCache), TLS 1.3 post-handshake
// authentication is not offered, and a request after the handshake (a
// renegotiation, SetTLSRenegotiation) gets no certificate: the connection
// may outlive the Easy whose function it had. It needs libcurl on the
// OpenSSL that curlpoll links (ErrClientCertFuncUnsupported otherwise).
// nil removes it; Reset too.
func (e *Easy) SetClientCertFunc(f func(t *Transfer, info *tls.CertificateRequestInfo) (*tls.Certificate, error)) error {
	if err := e.idle(); err != nil {
		return err
	}
	if f != nil && !ClientCertFuncSupported() {
		return ErrClientCertFuncUnsupported
	}
	if (f != nil) != (e.clientCertFunc != nil) {
		if err := optErr(C.CURLOPT_SSL_CTX_FUNCTION, opensslAskClientCert(e, f != nil)); err != nil {
			return err
		}
	}
	e.clientCertFunc = f
	return nil
}

// ErrTLSRenegotiationUnsupported is the error of SetTLSRenegotiation where
// the TLS library under libcurl cannot do as asked.
var ErrTLSRenegotiationUnsupported = errors.New("curlpoll: the TLS library under libcurl cannot be told whether to renegotiate")

// SetTLSRenegotiation says whether the connections of the Easy's transfers
// take part in a renegotiation that the server asks for (TLS 1.2 and
// older; TLS 1.3 has none). libcurl on OpenSSL does by default, and a
// renegotiation can bring another certificate in the middle of a
// connection; crypto/tls refuses by default (tls.RenegotiateNever). false
// refuses it (SSL_OP_NO_RENEGOTIATION, set on each new connection's
// SSL_CTX through CURLOPT_SSL_CTX_FUNCTION): OpenSSL answers the request
// with a no_renegotiation alert, and a server that insists ends the
// connection. On GnuTLS libcurl takes no part in one anyway: false holds
// as it is, and true returns ErrTLSRenegotiationUnsupported, as does false
// on any other TLS library, or an OpenSSL that is not the one curlpoll
// links (see TLSStateSupported). Reset returns to libcurl's default.
//
// It holds for the connections this Easy's transfers open: libcurl does
// not tell connections apart by it, so a transfer may reuse a connection
// of the same Multi that another Easy opened allowing renegotiation.
// Give Easies that differ in it Multis of their own (the Transport's
// handles all share its one tls.Config).
func (e *Easy) SetTLSRenegotiation(allow bool) error {
	if err := e.idle(); err != nil {
		return err
	}
	switch tlsLib := Version().TLS; {
	case tlsBackend() == tlsOpenSSL:
		return optErr(C.CURLOPT_SSL_CTX_FUNCTION, opensslRefuseRenegotiation(e, !allow))
	case tlsLib == "", strings.HasPrefix(tlsLib, "GnuTLS/") && !allow:
		return nil
	}
	return ErrTLSRenegotiationUnsupported
}

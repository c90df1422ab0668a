package curlpoll

// #include "shim.h"
import "C"

// ProxyType is the kind of proxy (CURLPROXY_*), for SetProxyType; a
// scheme in SetProxy's URL says the same.
type ProxyType int

// Kinds of proxy.
const (
	ProxyHTTP           ProxyType = C.CURLPROXY_HTTP            // CURLPROXY_HTTP
	ProxyHTTP1_0        ProxyType = C.CURLPROXY_HTTP_1_0        // CURLPROXY_HTTP_1_0
	ProxyHTTPS          ProxyType = C.CURLPROXY_HTTPS           // CURLPROXY_HTTPS
	ProxySOCKS4         ProxyType = C.CURLPROXY_SOCKS4          // CURLPROXY_SOCKS4
	ProxySOCKS4A        ProxyType = C.CURLPROXY_SOCKS4A         // CURLPROXY_SOCKS4A
	ProxySOCKS5         ProxyType = C.CURLPROXY_SOCKS5          // CURLPROXY_SOCKS5: names resolved here
	ProxySOCKS5Hostname ProxyType = C.CURLPROXY_SOCKS5_HOSTNAME // CURLPROXY_SOCKS5_HOSTNAME: names resolved by the proxy
)

// SetProxyType sets the kind of proxy (CURLOPT_PROXYTYPE).
func (e *Easy) SetProxyType(t ProxyType) error { return e.setLong(C.CURLOPT_PROXYTYPE, int64(t)) }

// SetProxyUsername sets the user name for the proxy (CURLOPT_PROXYUSERNAME).
func (e *Easy) SetProxyUsername(user string) error {
	return e.setString(C.CURLOPT_PROXYUSERNAME, user)
}

// SetProxyPassword sets the password for the proxy (CURLOPT_PROXYPASSWORD).
func (e *Easy) SetProxyPassword(password string) error {
	return e.setString(C.CURLOPT_PROXYPASSWORD, password)
}

// SetProxyHeader sets header lines sent to the proxy only, in a CONNECT
// (CURLOPT_PROXYHEADER, with CURLOPT_HEADEROPT set to CURLHEADER_SEPARATE so
// that SetHTTPHeader's lines go to the server only).
func (e *Easy) SetProxyHeader(lines []string) error {
	if err := e.setLong(C.CURLOPT_HEADEROPT, C.CURLHEADER_SEPARATE); err != nil {
		return err
	}
	return e.setList(C.CURLOPT_PROXYHEADER, lines)
}

// SetHTTPProxyTunnel tunnels every request through the HTTP proxy with
// CONNECT (CURLOPT_HTTPPROXYTUNNEL), not only https ones.
func (e *Easy) SetHTTPProxyTunnel(on bool) error {
	return e.setBool(C.CURLOPT_HTTPPROXYTUNNEL, on)
}

// SetProxyVerifyPeer turns verification of an HTTPS proxy's certificate on,
// the default, or off (CURLOPT_PROXY_SSL_VERIFYPEER).
func (e *Easy) SetProxyVerifyPeer(on bool) error {
	return e.setBool(C.CURLOPT_PROXY_SSL_VERIFYPEER, on)
}

// SetProxyVerifyHost turns checking an HTTPS proxy's certificate name on,
// the default, or off (CURLOPT_PROXY_SSL_VERIFYHOST).
func (e *Easy) SetProxyVerifyHost(on bool) error {
	var v int64
	if on {
		v = 2
	}
	return e.setLong(C.CURLOPT_PROXY_SSL_VERIFYHOST, v)
}

// SetProxyCAInfo sets a CA bundle file for an HTTPS proxy
// (CURLOPT_PROXY_CAINFO).
func (e *Easy) SetProxyCAInfo(path string) error {
	return e.setString(C.CURLOPT_PROXY_CAINFO, path)
}

// SetProxyClientCert sets a client certificate file for an HTTPS proxy
// (CURLOPT_PROXY_SSLCERT, CURLOPT_PROXY_SSLCERTTYPE), as SetClientCert.
func (e *Easy) SetProxyClientCert(path, certType string) error {
	if err := e.setString(C.CURLOPT_PROXY_SSLCERTTYPE, certType); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_PROXY_SSLCERT, path)
}

// SetProxyClientKey sets the key of the proxy's client certificate
// (CURLOPT_PROXY_SSLKEY, CURLOPT_PROXY_SSLKEYTYPE, CURLOPT_PROXY_KEYPASSWD).
func (e *Easy) SetProxyClientKey(path, keyType, password string) error {
	if err := e.setString(C.CURLOPT_PROXY_SSLKEYTYPE, keyType); err != nil {
		return err
	}
	if err := e.setString(C.CURLOPT_PROXY_KEYPASSWD, password); err != nil {
		return err
	}
	return e.setString(C.CURLOPT_PROXY_SSLKEY, path)
}

// SetProxyPinnedPublicKey pins an HTTPS proxy's public key
// (CURLOPT_PROXY_PINNEDPUBLICKEY), as SetPinnedPublicKey.
func (e *Easy) SetProxyPinnedPublicKey(pin string) error {
	return e.setString(C.CURLOPT_PROXY_PINNEDPUBLICKEY, pin)
}

//go:build curlpoll_noopenssl

package curlpoll

import (
	"crypto/tls"
	"crypto/x509"
)

// tlsRaw is empty without OpenSSL: see transport_tls.go.
type tlsRaw struct{}

func captureTLS(*Easy) tlsRaw { return tlsRaw{} }

func (r *tlsRaw) connectionState(serverName string, proto HTTPVersion) *tls.ConnectionState {
	cs := &tls.ConnectionState{HandshakeComplete: true, ServerName: serverName}
	cs.NegotiatedProtocol = alpnOf(proto)
	return cs
}

// tlsCaptureSupported is false: the peer's chain cannot be read.
func tlsCaptureSupported() bool { return false }

func (r *tlsRaw) peerChain() ([]*x509.Certificate, error) { return nil, errNoTLSState }

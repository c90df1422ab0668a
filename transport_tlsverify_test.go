package curlpoll_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
)

// countingTLSServer is an HTTPS server (HTTP/2 on) that counts the
// connections it accepted and the requests that reached its handler.
type countingTLSServer struct {
	*httptest.Server
	ca       []byte
	conns    atomic.Int64
	requests atomic.Int64
}

func newCountingTLSServer(t testing.TB) *countingTLSServer {
	t.Helper()
	s := &countingTLSServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		io.WriteString(w, "secret")
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.EnableHTTP2 = true
	s.StartTLS()
	t.Cleanup(s.Close)
	s.ca = serverCAPEM(s.Server)
	return s
}

// pool returns a pool that trusts the server.
func (s *countingTLSServer) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

var errPinMismatch = errors.New("pin mismatch")

// TestTransportTLSPinningFailsClosed: the common pinning pattern,
// InsecureSkipVerify with a VerifyPeerCertificate that checks the
// certificate itself, must not turn verification off. net/http refuses the
// request when the pin does not match; so must the Transport, and the
// server must see no request.
func TestTransportTLSPinningFailsClosed(t *testing.T) {
	srv := newCountingTLSServer(t)
	pin := func([][]byte, [][]*x509.Certificate) error { return errPinMismatch }

	std := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}}
	defer std.CloseIdleConnections()
	if resp, err := std.RoundTrip(mustReq("GET", srv.URL, nil)); err == nil {
		resp.Body.Close()
		t.Fatal("net/http: the pin was not checked")
	} else if !errors.Is(err, errPinMismatch) {
		t.Fatalf("net/http: %v", err)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("net/http sent %d requests", n)
	}

	tr := &curlpoll.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}}
	defer tr.Close()
	resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("curlpoll: %s %q with a pin that fails", resp.Status, b)
	}
	if n := srv.requests.Load(); n != 0 {
		t.Fatalf("curlpoll sent %d requests: %v", n, err)
	}
	t.Logf("curlpoll: %v", err)
}

// TestTransportTLSUnsupportedFieldsFailClosed: every client-side field of
// tls.Config that the Transport cannot honour fails the request before
// anything is sent: no connection reaches the server.
func TestTransportTLSUnsupportedFieldsFailClosed(t *testing.T) {
	srv := newCountingTLSServer(t)

	// The same Transport without the field works: the failures below are
	// the fields'.
	ok := &curlpoll.Transport{CAPEM: srv.ca, TLSClientConfig: &tls.Config{}}
	defer ok.Close()
	resp, err := ok.RoundTrip(mustReq("GET", srv.URL, nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}

	for _, tc := range unsupportedTLSConfigs(srv) {
		t.Run(tc.name, func(t *testing.T) {
			conns, reqs := srv.conns.Load(), srv.requests.Load()
			tr := &curlpoll.Transport{CAPEM: srv.ca, TLSClientConfig: tc.conf}
			defer tr.Close()
			resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: not refused", resp.Status)
			}
			if !errors.Is(err, curlpoll.ErrUnsupportedTLSConfig) {
				t.Errorf("error %v does not wrap ErrUnsupportedTLSConfig", err)
			}
			if c, r := srv.conns.Load()-conns, srv.requests.Load()-reqs; c != 0 || r != 0 {
				t.Errorf("the server saw %d connections and %d requests", c, r)
			}
		})
	}
}

type tlsConfigCase struct {
	name string
	conf *tls.Config
}

// unsupportedTLSConfigs lists configurations with one field the Transport
// does not honour.
func unsupportedTLSConfigs(srv *countingTLSServer) []tlsConfigCase {
	return []tlsConfigCase{
		{"VerifyPeerCertificate", &tls.Config{VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { return nil }}},
		{"VerifyConnection", &tls.Config{VerifyConnection: func(tls.ConnectionState) error { return nil }}},
		{"RootCAs", &tls.Config{RootCAs: srv.pool()}},
		{"Time", &tls.Config{Time: time.Now}},
		{"GetClientCertificate", &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &tls.Certificate{}, nil
		}}},
		{"CipherSuites", &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}},
		{"CurvePreferences", &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}}},
		{"EncryptedClientHelloConfigList", &tls.Config{EncryptedClientHelloConfigList: []byte{0}}},
		{"EncryptedClientHelloRejectionVerify", &tls.Config{EncryptedClientHelloRejectionVerify: func(tls.ConnectionState) error { return nil }}},
		{"SessionTicketsDisabled", &tls.Config{SessionTicketsDisabled: true}},
	}
}

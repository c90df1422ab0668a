package curlhttp_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll"
	"github.com/curlpoll/curlpoll/curlhttp"
	"github.com/curlpoll/curlpoll/internal/faultserver"
)

// countingTLSServer is an HTTPS server (HTTP/2 on) that counts the
// connections it accepted and the requests that reached its handler.
type countingTLSServer struct {
	*httptest.Server
	ca       []byte
	caFile   string // ca, in a file: CAPEM needs CURLOPT_CAINFO_BLOB, which libcurl on GnuTLS lacks
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
	s.caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.caFile, s.ca, 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// pool returns a pool that trusts the server.
func (s *countingTLSServer) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

// pin returns a VerifyPeerCertificate that accepts the server's
// certificate only, and counts its calls.
func (s *countingTLSServer) pin(calls *atomic.Int32) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		calls.Add(1)
		if len(raw) == 0 || string(raw[0]) != string(s.Certificate().Raw) {
			return errPinMismatch
		}
		return nil
	}
}

// getSecrets makes n requests to url, each of which must succeed.
func getSecrets(t *testing.T, rt http.RoundTripper, url string, n int) {
	t.Helper()
	for i := range n {
		if body, err := getBody(rt, url); err != nil || body != "secret" {
			t.Fatalf("request %d: %q %v", i, body, err)
		}
	}
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

	tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}}
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
	if !goVerifies() {
		if !errors.Is(err, curlhttp.ErrUnsupportedTLSConfig) {
			t.Fatalf("on %s: %v", curlpoll.Version().TLS, err)
		}
		return
	}
	if !errors.Is(err, errPinMismatch) || !errors.Is(err, curlpoll.ErrPeerFailedVerification) {
		t.Fatalf("error %v: not the pin's, or not ErrPeerFailedVerification", err)
	}
}

// TestTransportTLSUnsupportedFieldsFailClosed: every client-side field of
// tls.Config that the Transport cannot honour fails the request before
// anything is sent: no connection reaches the server.
func TestTransportTLSUnsupportedFieldsFailClosed(t *testing.T) {
	srv := newCountingTLSServer(t)

	// The same Transport without the field works: the failures below are
	// the fields'.
	ok := &curlhttp.Transport{CAFile: srv.caFile, TLSClientConfig: &tls.Config{}}
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
			tr := &curlhttp.Transport{CAFile: srv.caFile, TLSClientConfig: tc.conf}
			if tc.httpsProxy {
				// The server itself as an HTTPS proxy: it would see the
				// CONNECT if the request were not refused.
				pu, _ := url.Parse(srv.URL)
				tr.Proxy = http.ProxyURL(pu)
			}
			defer tr.Close()
			resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("%s: not refused", resp.Status)
			}
			if !errors.Is(err, curlhttp.ErrUnsupportedTLSConfig) {
				t.Errorf("error %v does not wrap ErrUnsupportedTLSConfig", err)
			}
			if c, r := srv.conns.Load()-conns, srv.requests.Load()-reqs; c != 0 || r != 0 {
				t.Errorf("the server saw %d connections and %d requests", c, r)
			}
		})
	}
}

type tlsConfigCase struct {
	name       string
	conf       *tls.Config
	httpsProxy bool // the request goes through an HTTPS proxy
}

// unsupportedTLSConfigs lists configurations with one field the Transport
// does not honour; without Go's verification (see goVerifies), the fields
// it honours too.
func unsupportedTLSConfigs(srv *countingTLSServer) []tlsConfigCase {
	var goVerified []tlsConfigCase
	if !strings.HasPrefix(curlpoll.Version().TLS, "OpenSSL/") {
		// Mapped to OpenSSL's names only (TestTransportTLSCipherSuitesAndCurves).
		goVerified = append(goVerified,
			tlsConfigCase{name: "CipherSuites", conf: &tls.Config{CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}},
			tlsConfigCase{name: "CurvePreferences", conf: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}}})
	}
	for _, tc := range goVerifiedTLSConfigs(srv) {
		if !goVerifies() {
			goVerified = append(goVerified, tc)
		}
		// net/http verifies an HTTPS proxy with them too; libcurl would not.
		goVerified = append(goVerified, tlsConfigCase{name: tc.name + " through an HTTPS proxy", conf: tc.conf, httpsProxy: true})
	}
	getCert := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tls.Certificate{}, nil }
	if !curlpoll.ClientCertFuncSupported() {
		// Honoured where libcurl runs on the OpenSSL curlpoll links
		// (TestTransportGetClientCertificate).
		goVerified = append(goVerified, tlsConfigCase{name: "GetClientCertificate", conf: &tls.Config{GetClientCertificate: getCert}})
	} else {
		// A renegotiation's request would find no function.
		goVerified = append(goVerified, tlsConfigCase{name: "GetClientCertificate with RenegotiateFreelyAsClient",
			conf: &tls.Config{GetClientCertificate: getCert, Renegotiation: tls.RenegotiateFreelyAsClient}})
	}
	if goVerifies() && strings.HasPrefix(curlpoll.Version().TLS, "OpenSSL/") {
		// Go verifies before the request goes out, not after a
		// renegotiation (TestTransportTLSRenegotiatedCertificate).
		goVerified = append(goVerified, tlsConfigCase{name: "RootCAs with RenegotiateFreelyAsClient",
			conf: &tls.Config{RootCAs: srv.pool(), Renegotiation: tls.RenegotiateFreelyAsClient}})
	}
	return append(goVerified, []tlsConfigCase{
		// Not a host name: in the URL given to libcurl it would make the
		// host that is connected to and verified 127.0.0.1, or example.com.
		{name: "ServerName with user info", conf: &tls.Config{ServerName: "evil.test@127.0.0.1"}},
		{name: "ServerName with user info and another host", conf: &tls.Config{ServerName: "evil.test@example.com"}},
		{name: "ServerName with a path", conf: &tls.Config{ServerName: "127.0.0.1/x"}},
		{name: "ServerName with a zone", conf: &tls.Config{ServerName: "fe80::1%lo"}},
		// Not names to crypto/x509, which refuses them; libcurl's wildcard
		// matching lets *.example.com match the first two.
		{name: "ServerName with a leading dot", conf: &tls.Config{ServerName: ".example.com"}},
		{name: "ServerName with a label starting with -", conf: &tls.Config{ServerName: "-a.example.com"}},
		{name: "ServerName with an empty label", conf: &tls.Config{ServerName: "a..example.com"}},
		{name: "ServerName with two trailing dots", conf: &tls.Config{ServerName: "example.com.."}},
		// Addresses libcurl would rewrite to 127.0.0.1 or ::1 and verify
		// so, where crypto/tls verifies the name as given.
		{name: "ServerName 127.1", conf: &tls.Config{ServerName: "127.1"}},
		{name: "ServerName 2130706433", conf: &tls.Config{ServerName: "2130706433"}},
		{name: "ServerName 0x7f000001", conf: &tls.Config{ServerName: "0x7f000001"}},
		{name: "ServerName 0177.0.0.1", conf: &tls.Config{ServerName: "0177.0.0.1"}},
		{name: "ServerName 0:0:0:0:0:0:0:1", conf: &tls.Config{ServerName: "0:0:0:0:0:0:0:1"}},
		{name: "ServerName ::ffff:127.0.0.1", conf: &tls.Config{ServerName: "::ffff:127.0.0.1"}},
		// net/http verifies the proxy for it too; libcurl for the proxy's host.
		{name: "ServerName through an HTTPS proxy", conf: &tls.Config{ServerName: "other.test"}, httpsProxy: true},
		{name: "CipherSuites RC4", conf: &tls.Config{CipherSuites: []uint16{tls.TLS_RSA_WITH_RC4_128_SHA}}},
		{name: "CurvePreferences through an HTTPS proxy", conf: &tls.Config{CurvePreferences: []tls.CurveID{tls.CurveP256}}, httpsProxy: true},
		{name: "EncryptedClientHelloConfigList", conf: &tls.Config{EncryptedClientHelloConfigList: []byte{0}}},
		{name: "EncryptedClientHelloRejectionVerify", conf: &tls.Config{EncryptedClientHelloRejectionVerify: func(tls.ConnectionState) error { return nil }}},
	}...)
}

// goVerifiedTLSConfigs lists configurations that need Go's verification,
// each of which lets the request through to srv.
func goVerifiedTLSConfigs(srv *countingTLSServer) []tlsConfigCase {
	return []tlsConfigCase{
		{name: "VerifyPeerCertificate", conf: &tls.Config{VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { return nil }}},
		{name: "VerifyConnection", conf: &tls.Config{VerifyConnection: func(tls.ConnectionState) error { return nil }}},
		{name: "RootCAs", conf: &tls.Config{RootCAs: srv.pool()}},
		{name: "Time", conf: &tls.Config{Time: time.Now}},
	}
}

// goVerifies reports whether the Transport can verify peers in Go on the
// libcurl the tests run on: libcurl on GnuTLS, or on OpenSSL with curlpoll
// built with it.
func goVerifies() bool {
	v := curlpoll.Version().TLS
	return strings.HasPrefix(v, "GnuTLS/") || strings.HasPrefix(v, "OpenSSL/") && !noOpenSSLBuild
}

// getBody runs one GET on rt and returns the body, or the error.
func getBody(rt http.RoundTripper, url string) (string, error) {
	resp, err := rt.RoundTrip(mustReq("GET", url, nil))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// TestTransportTLSGoVerify: the fields only Go can verify are honoured as
// net/http honours them: the request goes through when they accept the
// peer, and fails with net/http's errors, before a request byte is sent,
// when they do not.
func TestTransportTLSGoVerify(t *testing.T) {
	if !goVerifies() {
		t.Skipf("libcurl on %s: Go's verification needs OpenSSL (the fields fail closed: TestTransportTLSUnsupportedFieldsFailClosed)", curlpoll.Version().TLS)
	}
	srv := newCountingTLSServer(t)

	t.Run("accepted", func(t *testing.T) {
		for _, tc := range goVerifiedTLSConfigs(srv) {
			conf := tc.conf
			if conf.RootCAs == nil {
				conf.RootCAs = srv.pool()
			}
			tr := &curlhttp.Transport{TLSClientConfig: conf, ForceAttemptHTTP2: true}
			body, err := getBody(tr, srv.URL)
			tr.Close()
			if err != nil || body != "secret" {
				t.Errorf("%s: %q %v", tc.name, body, err)
			}
		}
		// CAPEM is the roots when RootCAs is not set.
		tr := &curlhttp.Transport{CAPEM: srv.ca, TLSClientConfig: &tls.Config{Time: time.Now}}
		defer tr.Close()
		if body, err := getBody(tr, srv.URL); err != nil || body != "secret" {
			t.Errorf("CAPEM: %q %v", body, err)
		}
	})

	t.Run("pin", func(t *testing.T) {
		var calls atomic.Int32
		pin := srv.pin(&calls)
		tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}}
		defer tr.Close()
		getSecrets(t, tr, srv.URL, 3)
		// One connection, reused: verified once, its verdict kept.
		if n := calls.Load(); n != 1 {
			t.Errorf("VerifyPeerCertificate called %d times for 3 requests on one connection", n)
		}
	})

	t.Run("concurrent HTTP/2", func(t *testing.T) {
		var calls atomic.Int32
		tr := &curlhttp.Transport{ForceAttemptHTTP2: true,
			TLSClientConfig: &tls.Config{RootCAs: srv.pool(), VerifyPeerCertificate: srv.pin(&calls)}}
		defer tr.Close()
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				resp, err := tr.RoundTrip(mustReq("GET", srv.URL, nil))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.ProtoMajor != 2 || string(b) != "secret" {
					t.Errorf("%s %q", resp.Proto, b)
				}
			})
		}
		wg.Wait()
		if calls.Load() == 0 {
			t.Error("VerifyPeerCertificate never called")
		}
	})

	t.Run("reused connection verified again", func(t *testing.T) {
		defer curlhttp.SetVerdictTTL(0)()
		var calls atomic.Int32
		pin := func(raw [][]byte, chains [][]*x509.Certificate) error {
			if calls.Add(1) > 2 {
				return errPinMismatch
			}
			return nil
		}
		conns, reqs := srv.conns.Load(), srv.requests.Load()
		tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.pool(), VerifyPeerCertificate: pin}}
		defer tr.Close()
		getSecrets(t, tr, srv.URL, 2)
		if _, err := getBody(tr, srv.URL); !errors.Is(err, errPinMismatch) {
			t.Errorf("third request: %v", err)
		}
		if c, r := srv.conns.Load()-conns, srv.requests.Load()-reqs; c != 1 || r != 2 {
			t.Errorf("%d connections, %d requests; want 1 and 2", c, r)
		}
	})

	t.Run("new connections, no resumption", func(t *testing.T) {
		// A resumed TLS session has no peer chain: each new connection
		// must show one to verify.
		defer curlhttp.SetVerdictTTL(0)()
		var calls atomic.Int32
		pin := srv.pin(&calls)
		conns := srv.conns.Load()
		tr := &curlhttp.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true, VerifyPeerCertificate: pin}}
		defer tr.Close()
		getSecrets(t, tr, srv.URL, 3)
		if c, n := srv.conns.Load()-conns, calls.Load(); c != 3 || n != 3 {
			t.Errorf("%d connections, %d verifications; want 3 and 3", c, n)
		}
	})

	t.Run("refused", func(t *testing.T) {
		expired := func() time.Time { return srv.Certificate().NotAfter.Add(time.Hour) }
		var errConn = errors.New("connection refused by VerifyConnection")
		var seen []string // what VerifyConnection saw: net/http's, then curlpoll's
		cases := []struct {
			name string
			conf func() *tls.Config
			ok   func(error) bool
		}{
			{"unknown authority", func() *tls.Config { return &tls.Config{RootCAs: x509.NewCertPool()} }, isErr[x509.UnknownAuthorityError]},
			{"expired (Time)", func() *tls.Config { return &tls.Config{RootCAs: srv.pool(), Time: expired} }, func(err error) bool {
				var ie x509.CertificateInvalidError
				return errors.As(err, &ie) && ie.Reason == x509.Expired
			}},
			{"wrong host (ServerName)", func() *tls.Config { return &tls.Config{RootCAs: srv.pool(), ServerName: "wrong.example"} }, isErr[x509.HostnameError]},
			{"VerifyConnection", func() *tls.Config {
				return &tls.Config{RootCAs: srv.pool(), VerifyConnection: func(cs tls.ConnectionState) error {
					seen = append(seen, fmt.Sprintf("version %x, server name %q, %d certificates, %d chains, complete %v",
						cs.Version, cs.ServerName, len(cs.PeerCertificates), len(cs.VerifiedChains), cs.HandshakeComplete))
					return errConn
				}}
			}, func(err error) bool { return errors.Is(err, errConn) }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, stdErr := getBody(&http.Transport{TLSClientConfig: tc.conf()}, srv.URL)
				if !tc.ok(stdErr) {
					t.Fatalf("net/http: %v", stdErr)
				}
				reqs, conns := srv.requests.Load(), srv.conns.Load()
				tr := &curlhttp.Transport{TLSClientConfig: tc.conf()}
				defer tr.Close()
				// Refused again (libcurl closes a connection whose
				// pre-request callback failed).
				for i := range 2 {
					body, err := getBody(tr, srv.URL)
					if err == nil {
						t.Fatalf("request %d: %q", i, body)
					}
					if !tc.ok(err) || !errors.Is(err, curlpoll.ErrPeerFailedVerification) {
						t.Errorf("request %d: %v (net/http: %v)", i, err, stdErr)
					}
					if tc.name != "VerifyConnection" {
						checkCertError(t, err, stdErr)
					}
				}
				if n := srv.requests.Load() - reqs; n != 0 {
					t.Errorf("the server saw %d requests", n)
				}
				t.Logf("2 requests refused on %d connections", srv.conns.Load()-conns)
			})
		}
		if len(seen) != 3 || seen[1] != seen[0] || seen[2] != seen[0] {
			t.Errorf("VerifyConnection saw %q (net/http's first)", seen)
		}
	})

	t.Run("panic", func(t *testing.T) {
		tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true,
			VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error { panic("verifier panics") }}}
		defer tr.Close()
		reqs := srv.requests.Load()
		_, err := getBody(tr, srv.URL)
		var pe *curlpoll.PanicError
		if !errors.As(err, &pe) || pe.Value != "verifier panics" {
			t.Errorf("%v", err)
		}
		if n := srv.requests.Load() - reqs; n != 0 {
			t.Errorf("the server saw %d requests", n)
		}
	})

	t.Run("httptrace", func(t *testing.T) {
		// Go's verification shares the pre-request callback with httptrace.
		var gotConn, tlsDone atomic.Int32
		trace := &httptrace.ClientTrace{
			GotConn:          func(httptrace.GotConnInfo) { gotConn.Add(1) },
			TLSHandshakeDone: func(tls.ConnectionState, error) { tlsDone.Add(1) },
		}
		tr := &curlhttp.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.pool()}}
		defer tr.Close()
		req := mustReq("GET", srv.URL, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if gotConn.Load() != 1 || tlsDone.Load() != 1 {
			t.Errorf("GotConn %d, TLSHandshakeDone %d", gotConn.Load(), tlsDone.Load())
		}
	})

	t.Run("SessionTicketsDisabled", func(t *testing.T) {
		tr := &curlhttp.Transport{CAFile: srv.caFile, TLSClientConfig: &tls.Config{SessionTicketsDisabled: true}}
		defer tr.Close()
		if body, err := getBody(tr, srv.URL); err != nil || body != "secret" {
			t.Errorf("%q %v", body, err)
		}
	})
}

// isErr reports whether errors.As finds an E in err.
func isErr[E error](err error) bool {
	var e E
	return errors.As(err, &e)
}

// TestTransportTLSCertificateErrors: a peer that libcurl's verification
// refuses gives the errors net/http gives for the same server, a
// *tls.CertificateVerificationError with the same x509 error inside, and
// errors.Is(err, curlpoll.ErrPeerFailedVerification) holds.
func TestTransportTLSCertificateErrors(t *testing.T) {
	fs, err := faultserver.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, fs.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(fs.CAPEM())
	selfSigned := newCountingTLSServer(t)

	cases := []struct {
		name   string
		url    string
		caFile string
		roots  *x509.CertPool
		check  func(error) bool
	}{
		{"self-signed", selfSigned.URL, "", nil, isErr[x509.UnknownAuthorityError]},
		{"wrong host", fs.URL(faultserver.TLSWrongHost, faultserver.TLS1, ""), caFile, pool, isErr[x509.HostnameError]},
		{"expired", fs.URL(faultserver.TLSExpired, faultserver.TLS1, ""), caFile, pool, func(err error) bool {
			var ie x509.CertificateInvalidError
			return errors.As(err, &ie) && ie.Reason == x509.Expired
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stdErr := getBody(&http.Transport{TLSClientConfig: &tls.Config{RootCAs: tc.roots}}, tc.url)
			var stdVE *tls.CertificateVerificationError
			if !errors.As(stdErr, &stdVE) || !tc.check(stdErr) {
				t.Fatalf("net/http: %v", stdErr)
			}
			tr := &curlhttp.Transport{CAFile: tc.caFile}
			defer tr.Close()
			_, err := getBody(tr, tc.url)
			var ve *tls.CertificateVerificationError
			if !errors.As(err, &ve) || !tc.check(err) || !errors.Is(err, curlpoll.ErrPeerFailedVerification) {
				t.Fatalf("curlpoll: %v (net/http: %v)", err, stdErr)
			}
			checkCertError(t, err, stdErr)
			// The x509 error is found by errors.As (tc.check), not by a
			// type assertion on ve.Err, which holds curl's error too.
			if len(ve.UnverifiedCertificates) != len(stdVE.UnverifiedCertificates) {
				t.Errorf("curlpoll: %d certificates, net/http: %d", len(ve.UnverifiedCertificates), len(stdVE.UnverifiedCertificates))
			}
			t.Logf("curlpoll: %v", err)
		})
	}
}

// checkCertError checks that err, a certificate verification failure, is
// what net/http returned (stdErr): a *tls.CertificateVerificationError
// itself, not wrapped (go-retryablehttp's retry policy asserts its type to
// stop retrying), that errors.As also finds curl's *Error in.
func checkCertError(t *testing.T, err, stdErr error) {
	t.Helper()
	ve, ok := err.(*tls.CertificateVerificationError)
	if _, stdOK := stdErr.(*tls.CertificateVerificationError); !ok || !stdOK {
		t.Errorf("curlpoll returned %T, net/http %T", err, stdErr)
		return
	}
	if len(ve.UnverifiedCertificates) == 0 || !strings.HasPrefix(err.Error(), "tls: failed to verify certificate: x509: ") {
		t.Errorf("curlpoll: %v with %d certificates", err, len(ve.UnverifiedCertificates))
	}
	var ce *curlpoll.Error
	if !errors.As(err, &ce) || ce.Code != curlpoll.ErrPeerFailedVerification {
		t.Errorf("no *curlpoll.Error with ErrPeerFailedVerification in %v", err)
	}
}

// TestTransportTLSCipherSuitesAndCurves: CipherSuites and CurvePreferences
// restrict what is negotiated as they do with net/http, on libcurl with
// OpenSSL.
func TestTransportTLSCipherSuitesAndCurves(t *testing.T) {
	if !strings.HasPrefix(curlpoll.Version().TLS, "OpenSSL/") {
		t.Skipf("libcurl on %s: the fields fail closed (TestTransportTLSUnsupportedFieldsFailClosed)", curlpoll.Version().TLS)
	}
	const suiteA, suiteB, suiteC = tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") }))
	// TLS 1.2 with two suites for CipherSuites; TLS 1.3 would ignore them.
	srv.TLS = &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{suiteA, suiteB},
		CurvePreferences: []tls.CurveID{tls.CurveP384}}
	srv.StartTLS()
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, serverCAPEM(srv), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		suites []uint16
		curves []tls.CurveID
		want   uint16 // the suite negotiated; 0: the handshake fails
	}{
		{"suite B only", []uint16{suiteB}, nil, suiteB},
		{"suite A only", []uint16{suiteA, tls.TLS_AES_128_GCM_SHA256}, nil, suiteA},
		{"no common suite", []uint16{suiteC}, nil, 0},
		{"common curve", nil, []tls.CurveID{tls.CurveP256, tls.CurveP384}, suiteA},
		{"no common curve", nil, []tls.CurveID{tls.X25519, tls.CurveP256}, 0},
		// TLS 1.3 only, and unknown to OpenSSL before 3.5.
		{"post-quantum only", nil, []tls.CurveID{tls.X25519MLKEM768}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := func() *tls.Config {
				return &tls.Config{RootCAs: pool, CipherSuites: tc.suites, CurvePreferences: tc.curves}
			}
			std := &http.Transport{TLSClientConfig: conf()}
			defer std.CloseIdleConnections()
			cconf := conf()
			cconf.RootCAs = nil
			tr := &curlhttp.Transport{CAFile: caFile, TLSClientConfig: cconf}
			defer tr.Close()
			for _, rt := range []http.RoundTripper{std, tr} {
				resp, err := rt.RoundTrip(mustReq("GET", srv.URL, nil))
				if tc.want == 0 {
					if err == nil {
						resp.Body.Close()
						t.Errorf("%T: %s with %s", rt, resp.Status, tls.CipherSuiteName(resp.TLS.CipherSuite))
					}
					continue
				}
				if err != nil {
					t.Errorf("%T: %v", rt, err)
					continue
				}
				resp.Body.Close()
				if got := resp.TLS.CipherSuite; got != tc.want {
					t.Errorf("%T: %s, want %s", rt, tls.CipherSuiteName(got), tls.CipherSuiteName(tc.want))
				}
			}
		})
	}
}

// TestTransportTLSVerifyEveryConnection: crypto/tls calls VerifyConnection
// (and VerifyPeerCertificate) for every handshake, with that connection's
// state, so a policy on the connection holds for each one. Here two
// servers present the same certificate, one over TLS 1.3 and one over TLS
// 1.2 only, to a policy of TLS 1.3: net/http refuses the second. A verdict
// the Transport kept by server name and chain alone let it through (found
// by a review); kept by TLS handshake, a second request on the first
// connection is still not verified again.
func TestTransportTLSVerifyEveryConnection(t *testing.T) {
	if !goVerifies() {
		t.Skip("no Go verification on this libcurl")
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%x", r.TLS.Version)
	})
	modern := httptest.NewTLSServer(h)
	defer modern.Close()
	legacy := httptest.NewUnstartedServer(h)
	legacy.TLS = &tls.Config{MaxVersion: tls.VersionTLS12}
	legacy.StartTLS()
	defer legacy.Close()

	var calls atomic.Int32
	conf := func() *tls.Config {
		return &tls.Config{
			RootCAs: modern.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs,
			VerifyConnection: func(cs tls.ConnectionState) error {
				calls.Add(1)
				if cs.Version != tls.VersionTLS13 {
					return fmt.Errorf("policy: TLS 1.3 only, got %x", cs.Version)
				}
				return nil
			},
		}
	}
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net/http", &http.Transport{TLSClientConfig: conf()}},
		{"curlpoll", &curlhttp.Transport{TLSClientConfig: conf()}},
	} {
		calls.Store(0)
		for i := range 2 {
			if _, err := getBody(rt.rt, modern.URL); err != nil {
				t.Fatalf("%s, TLS 1.3 server, request %d: %v", rt.name, i, err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: VerifyConnection called %d times for two requests on one connection, want 1", rt.name, n)
		}
		body, err := getBody(rt.rt, legacy.URL)
		if err == nil {
			t.Errorf("%s: the TLS 1.2 server was accepted (version %s) despite VerifyConnection's policy; VerifyConnection called %d times for 2 connections", rt.name, body, calls.Load())
		}
		rt.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		if c, ok := rt.rt.(io.Closer); ok {
			c.Close()
		}
	}
}

// TestTransportTLSVerifyNewHandshake: a function that changes its mind
// (here a certificate revoked between two connections) is asked again for
// every new connection, as crypto/tls asks it for every handshake, even
// when the new connection is to the same server, with the same
// certificate, on the same local port (a review found a verdict kept by
// the connection's addresses and ports reused after a port was: the
// verdict is now the handshake's). Requests on one connection are asked
// once.
func TestTransportTLSVerifyNewHandshake(t *testing.T) {
	if !goVerifies() {
		t.Skip("no Go verification on this libcurl")
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret")
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	var calls atomic.Int32
	var revoked atomic.Bool
	conf := func() *tls.Config {
		return &tls.Config{RootCAs: pool, VerifyPeerCertificate: func([][]byte, [][]*x509.Certificate) error {
			calls.Add(1)
			if revoked.Load() {
				return errors.New("revoked")
			}
			return nil
		}}
	}
	for _, rt := range []interface {
		http.RoundTripper
		CloseIdleConnections()
	}{&http.Transport{TLSClientConfig: conf()}, &curlhttp.Transport{TLSClientConfig: conf()}} {
		name := fmt.Sprintf("%T", rt)
		calls.Store(0)
		revoked.Store(false)
		for i := range 2 {
			if _, err := getBody(rt, srv.URL); err != nil {
				t.Fatalf("%s, request %d: %v", name, i, err)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: VerifyPeerCertificate called %d times for two requests on one connection", name, n)
		}
		revoked.Store(true)
		srv.CloseClientConnections()
		rt.CloseIdleConnections()
		if body, err := getBody(rt, srv.URL); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Errorf("%s: a new connection after the revocation: %q, %v; want the function's refusal", name, body, err)
		}
		rt.CloseIdleConnections()
		if c, ok := rt.(io.Closer); ok {
			c.Close()
		}
	}
}

// TestTransportTLSServerNameThroughProxy: through an HTTPS proxy a
// ServerName is honoured when it names the proxy, in any spelling
// crypto/tls takes for the same name (case, a trailing dot), and refused
// otherwise (TestTransportTLSUnsupportedFieldsFailClosed).
func TestTransportTLSServerNameThroughProxy(t *testing.T) {
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "from proxy")
	}))
	defer proxy.Close()
	pu, _ := url.Parse(proxy.URL)
	tr := &curlhttp.Transport{Proxy: http.ProxyURL(pu), CAPEM: serverCAPEM(proxy), TLSClientConfig: &tls.Config{ServerName: "127.0.0.1"}}
	body, err := getBody(tr, "http://example.invalid/")
	tr.Close()
	if err != nil || body != "from proxy" {
		t.Errorf("ServerName the proxy's address: %q, %v", body, err)
	}
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"proxy.example", "proxy.example", true},
		{"PROXY.example", "proxy.EXAMPLE", true},
		{"proxy.example.", "proxy.example", true},
		{"proxy.example", "proxy.example.", true},
		{"proxy.example", "other.example", false},
		{"proxy.example..", "proxy.example", false},
	} {
		if got := curlhttp.SameHost(c.a, c.b); got != c.same {
			t.Errorf("sameHost(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// TestTransportHTTP3WithoutHTTP3: on a libcurl built without HTTP/3,
// Transport.HTTP3 fails the request, with a field Go verifies too (which
// would make HTTP3Attempt use TCP where libcurl has HTTP/3).
func TestTransportHTTP3WithoutHTTP3(t *testing.T) {
	if curlpoll.Version().HTTP3 {
		t.Skip("libcurl has HTTP/3")
	}
	srv := newCountingTLSServer(t)
	for _, conf := range []*tls.Config{nil, {RootCAs: srv.pool()}} {
		tr := &curlhttp.Transport{HTTP3: curlhttp.HTTP3Attempt, CAFile: srv.caFile, TLSClientConfig: conf}
		_, err := getBody(tr, srv.URL)
		tr.Close()
		if err == nil || !strings.Contains(err.Error(), "without HTTP/3") {
			t.Errorf("TLSClientConfig %v: %v, want libcurl's missing HTTP/3", conf, err)
		}
	}
}

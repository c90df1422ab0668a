package faultserver_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"

	"github.com/curlpoll/curlpoll/internal/faultserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newServer(t *testing.T) *faultserver.Server {
	s, err := faultserver.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// clients returns net/http clients for each mode; closed at the end.
func client(t *testing.T, s *faultserver.Server, m faultserver.Mode) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.CAPEM())
	var rt http.RoundTripper
	switch m {
	case faultserver.H2C:
		rt = &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}}
	default:
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		rt = tr
	}
	t.Cleanup(func() { rt.(interface{ CloseIdleConnections() }).CloseIdleConnections() })
	return &http.Client{Transport: rt, Timeout: 2 * time.Second}
}

func get(c *http.Client, url string) ([]byte, *http.Response, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return b, resp, err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestFaults checks each fault as net/http sees it, so that the server is
// known to misbehave exactly as documented before curlpoll is tried on it.
func TestFaults(t *testing.T) {
	s := newServer(t)
	type check func(t *testing.T, body []byte, resp *http.Response, err error)
	okBody := func(n int) check {
		return func(t *testing.T, body []byte, resp *http.Response, err error) {
			if err != nil || string(body) != string(faultserver.Body(n)) {
				t.Fatalf("got %d bytes, %v; want %d bytes", len(body), err, n)
			}
		}
	}
	fails := func(want func(error) bool, what string) check {
		return func(t *testing.T, body []byte, resp *http.Response, err error) {
			if err == nil || !want(err) {
				t.Fatalf("err = %v, want %s", err, what)
			}
		}
	}
	anyErr := fails(func(error) bool { return true }, "an error")
	reset := fails(func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }, "ECONNRESET")
	timeout := fails(isTimeout, "a timeout")
	cases := []struct {
		f     faultserver.Fault
		modes []faultserver.Mode
		check check
	}{
		{faultserver.OK, all, okBody(1000)},
		{faultserver.Refuse, []faultserver.Mode{faultserver.HTTP1}, fails(func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }, "ECONNREFUSED")},
		{faultserver.Silent, all, timeout},
		{faultserver.StallHeaders, all, timeout},
		{faultserver.StallMidHeaders, h1, timeout},
		{faultserver.StallMidBody, all, timeout},
		{faultserver.RSTHeaders, h1, reset},
		{faultserver.RSTMidHeaders, h1, anyErr},
		{faultserver.RSTMidBody, h1, reset},
		{faultserver.RSTHeaders, h2, anyErr},
		{faultserver.RSTMidBody, h2, anyErr},
		{faultserver.CloseMidBody, h1, fails(func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, "unexpected EOF")},
		{faultserver.CloseMidBody, h2, anyErr},
		{faultserver.CloseMidChunked, h1, fails(func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }, "unexpected EOF")},
		{faultserver.CloseNoLength, h1, okBody(1000)},
		{faultserver.Garbage, h1, fails(func(err error) bool { return strings.Contains(err.Error(), "malformed HTTP") }, "malformed HTTP")},
		{faultserver.LongStatusLine, h1, anyErr},
		{faultserver.BadChunk, h1, fails(func(err error) bool { return strings.Contains(err.Error(), "invalid byte in chunk length") }, "a chunk error")},
		{faultserver.ManyHeaders, all, func(t *testing.T, body []byte, resp *http.Response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Header) < 10000 || string(body) != "ok" {
				t.Fatalf("%d header fields, body %q", len(resp.Header), body)
			}
		}},
		{faultserver.HugeHeader, h1, func(t *testing.T, body []byte, resp *http.Response, err error) {
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Header) < 1000 {
				t.Fatalf("%d header fields", len(resp.Header))
			}
		}},
		{faultserver.Trickle, all, okBody(1000)},
		{faultserver.H2GoAway, h2, anyErr},
		{faultserver.H2RSTStream, h2, fails(func(err error) bool {
			var se http2.StreamError
			return errors.As(err, &se) && se.Code == http2.ErrCodeInternal || strings.Contains(err.Error(), "INTERNAL_ERROR")
		}, "a stream error")},
		{faultserver.TLSHandshakeFail, tlsOnly, fails(func(err error) bool { return strings.Contains(err.Error(), "tls:") }, "a TLS alert")},
		{faultserver.TLSHandshakeStall, tlsOnly, timeout},
		{faultserver.TLSExpired, tlsOnly, fails(func(err error) bool {
			var ce x509.CertificateInvalidError
			return errors.As(err, &ce) && ce.Reason == x509.Expired
		}, "an expired certificate")},
		{faultserver.TLSWrongHost, tlsOnly, fails(func(err error) bool {
			var he x509.HostnameError
			return errors.As(err, &he)
		}, "a host name error")},
	}
	for _, c := range cases {
		for _, m := range c.modes {
			t.Run(string(c.f)+"/"+m.String(), func(t *testing.T) {
				if !faultserver.Supports(c.f, m) {
					t.Fatalf("Supports(%s, %s) = false", c.f, m)
				}
				cl := client(t, s, m)
				// The stalls end at the client's timeout; the rest end by
				// themselves, given time on a busy machine.
				switch c.f {
				case faultserver.Silent, faultserver.StallHeaders, faultserver.StallMidHeaders,
					faultserver.StallMidBody, faultserver.TLSHandshakeStall:
					cl.Timeout = 500 * time.Millisecond
				default:
					cl.Timeout = 20 * time.Second
				}
				query := ""
				if c.f == faultserver.Trickle {
					query = "gap=0s"
				}
				body, resp, err := get(cl, s.URL(c.f, m, query))
				if err == nil && m.HTTP2() != (resp.ProtoMajor == 2) {
					t.Errorf("%s: protocol %s", m, resp.Proto)
				}
				c.check(t, body, resp, err)
			})
		}
	}
	if s.Accepted() == 0 {
		t.Error("no connection accepted")
	}
}

var (
	all     = faultserver.Modes
	h1      = []faultserver.Mode{faultserver.HTTP1, faultserver.TLS1}
	h2      = []faultserver.Mode{faultserver.H2C, faultserver.TLS2}
	tlsOnly = []faultserver.Mode{faultserver.TLS1}
)

// TestCloseEndsStalls checks that Close returns while connections stall.
func TestCloseEndsStalls(t *testing.T) {
	s, err := faultserver.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []faultserver.Mode{faultserver.HTTP1, faultserver.H2C} {
		c, err := net.Dial("tcp", strings.TrimPrefix(strings.Split(s.URL(faultserver.Silent, m, ""), "/silent")[0], "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Open() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s.Open() != 2 {
		t.Fatalf("%d connections open, want 2", s.Open())
	}
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not return")
	}
}

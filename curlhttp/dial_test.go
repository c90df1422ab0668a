package curlhttp_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// recordingDial is a DialContext that records the addresses it is asked
// for and connects to network, target instead.
type recordingDial struct {
	network, target string
	mu              sync.Mutex
	asked           []string
}

func (d *recordingDial) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.asked = append(d.asked, network+" "+addr)
	d.mu.Unlock()
	return (&net.Dialer{}).DialContext(ctx, d.network, d.target)
}

func (d *recordingDial) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.asked...)
}

// TestTransportDialContext: DialContext makes the connections, with
// net/http's arguments: the URL's host (a name no resolver knows, as
// Docker's clients use over a Unix socket) and port. Three requests take
// one connection, as with net/http.
func TestTransportDialContext(t *testing.T) {
	checkLeaks(t)
	sock := filepath.Join(t.TempDir(), "s")
	ln, err := net.Listen("unix", sock)
	must(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Host+" "+r.URL.Path)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	dials := map[string]*recordingDial{}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		d1, d2 := &recordingDial{network: "unix", target: sock}, &recordingDial{network: "unix", target: sock}
		std.DialContext, cp.DialContext = d1.dial, d2.dial
		dials["net/http"], dials["curlpoll"] = d1, d2
	}) {
		c := &http.Client{Transport: tc.rt}
		for i := range 3 {
			resp, err := c.Get("http://docker.invalid/v1.41/info" + strconv.Itoa(i))
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := "docker.invalid /v1.41/info" + strconv.Itoa(i); string(b) != want {
				t.Fatalf("%s: body %q, want %q", tc.name, b, want)
			}
		}
		if calls := dials[tc.name].calls(); len(calls) != 1 || calls[0] != "tcp docker.invalid:80" {
			t.Fatalf("%s: DialContext asked %q, want once for tcp docker.invalid:80", tc.name, calls)
		}
	}
}

// TestTransportDialContextTLS: TLS over DialContext's connection, verified
// for the URL's host, which DialContext is asked for with the port.
func TestTransportDialContextTLS(t *testing.T) {
	srv, ca := newTLSServer(t, handler())
	port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	d := &recordingDial{network: "tcp", target: srv.Listener.Addr().String()}
	c := &http.Client{Transport: &curlhttp.Transport{DialContext: d.dial, TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://example.com:" + port + "/hello")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello" || resp.TLS == nil {
		t.Fatalf("body %q, TLS %v", b, resp.TLS != nil)
	}
	if calls := d.calls(); len(calls) != 1 || calls[0] != "tcp example.com:"+port {
		t.Fatalf("DialContext asked %q", calls)
	}
}

// TestTransportDialContextError: DialContext's error is RoundTrip's, as
// net/http returns it (inside a proxyconnect *net.OpError for a proxy),
// and nothing is sent.
func TestTransportDialContextError(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	errNo := errors.New("no dialling today")
	for _, viaProxy := range []bool{false, true} {
		for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			dial := func(context.Context, string, string) (net.Conn, error) { return nil, errNo }
			std.DialContext, cp.DialContext = dial, dial
			if viaProxy {
				p := http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.invalid:3128"})
				std.Proxy, cp.Proxy = p, p
			}
		}) {
			_, err := (&http.Client{Transport: tc.rt}).Get(srv.URL + "/hello")
			var ue *url.Error
			if !errors.As(err, &ue) {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if viaProxy {
				var op *net.OpError
				if !errors.As(err, &op) || op.Op != "proxyconnect" || op.Err != errNo {
					t.Fatalf("%s via a proxy: %#v, want a proxyconnect *net.OpError holding DialContext's error", tc.name, ue.Err)
				}
			} else if ue.Err != errNo {
				t.Fatalf("%s: %#v, want DialContext's error", tc.name, ue.Err)
			}
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the server saw %d requests", n)
	}
}

// TestTransportDialContextProxy: with a proxy DialContext is asked for the
// proxy's host and port (net/http's default port where the URL has none).
func TestTransportDialContextProxy(t *testing.T) {
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proxied "+r.URL.String())
	}))
	defer proxy.Close()
	for _, proxyURL := range []string{"http://proxy.invalid:3128", "http://proxy.invalid"} {
		dials := map[string]*recordingDial{}
		for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			d1, d2 := &recordingDial{network: "tcp", target: proxy.Listener.Addr().String()}, &recordingDial{network: "tcp", target: proxy.Listener.Addr().String()}
			std.DialContext, cp.DialContext = d1.dial, d2.dial
			dials["net/http"], dials["curlpoll"] = d1, d2
			u, _ := url.Parse(proxyURL)
			std.Proxy, cp.Proxy = http.ProxyURL(u), http.ProxyURL(u)
		}) {
			resp, err := (&http.Client{Transport: tc.rt}).Get("http://origin.invalid/x")
			must(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "proxied http://origin.invalid/x" {
				t.Fatalf("%s: body %q", tc.name, b)
			}
			want := "tcp proxy.invalid:3128"
			if proxyURL == "http://proxy.invalid" {
				want = "tcp proxy.invalid:80"
			}
			if calls := dials[tc.name].calls(); len(calls) != 1 || calls[0] != want {
				t.Fatalf("%s, proxy %s: DialContext asked %q, want %q", tc.name, proxyURL, calls, want)
			}
		}
	}
}

// TestTransportDialContextTrace: ConnectStart and ConnectDone are the
// dialer's, once each, with the address it connected to; no DNSStart for
// a name DialContext never looked up (the dialer here connects to an
// address).
func TestTransportDialContextTrace(t *testing.T) {
	srv := testServer(t)
	target := srv.Listener.Addr().String()
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, target)
		}
		std.DialContext, cp.DialContext = dial, dial
	}) {
		var mu sync.Mutex
		var events []string
		add := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
		trace := &httptrace.ClientTrace{
			DNSStart:     func(i httptrace.DNSStartInfo) { add("DNSStart " + i.Host) },
			ConnectStart: func(network, addr string) { add("ConnectStart " + addr) },
			ConnectDone:  func(network, addr string, err error) { add("ConnectDone " + addr) },
			GotConn:      func(i httptrace.GotConnInfo) { add("GotConn " + strconv.FormatBool(i.Reused)) },
		}
		req := mustReq("GET", "http://app.invalid:8080/hello", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := tc.rt.RoundTrip(req)
		must(t, err)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		mu.Lock()
		got := events
		mu.Unlock()
		want := []string{"ConnectStart " + target, "ConnectDone " + target, "GotConn false"}
		if len(got) != len(want) {
			t.Fatalf("%s: events %q, want %q", tc.name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: events %q, want %q", tc.name, got, want)
			}
		}
	}
}

// TestTransportDialContextCancel: a request cancelled while DialContext
// runs returns at once with the context's error, and DialContext's
// context is cancelled.
func TestTransportDialContextCancel(t *testing.T) {
	checkLeaks(t)
	started, ended := make(chan struct{}), make(chan error, 1)
	tr := &curlhttp.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		close(started)
		<-ctx.Done()
		ended <- ctx.Err()
		return nil, ctx.Err()
	}}
	defer tr.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	req := mustReq("GET", "http://slow.invalid/", nil).WithContext(ctx)
	begin := time.Now()
	if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
		t.Fatalf("RoundTrip: %v, want context.Canceled", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Fatalf("RoundTrip returned %v after the cancel", d)
	}
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("DialContext's context was not cancelled")
	}
}

// TestTransportDialContextNoHTTP3: HTTP3 with DialContext is refused
// before anything happens.
func TestTransportDialContextNoHTTP3(t *testing.T) {
	called := false
	tr := &curlhttp.Transport{HTTP3: curlhttp.HTTP3Attempt, DialContext: func(context.Context, string, string) (net.Conn, error) {
		called = true
		return nil, errors.New("no")
	}}
	defer tr.Close()
	_, err := tr.RoundTrip(mustReq("GET", "https://127.0.0.1:1/", nil))
	if err == nil || called {
		t.Fatalf("RoundTrip: %v, DialContext called: %v", err, called)
	}
	if !strings.Contains(err.Error(), "DialContext") {
		t.Fatalf("RoundTrip: %v, want the refusal", err)
	}
}

package curlhttp_test

import (
	"bufio"
	"bytes"
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
	tr := &curlhttp.Transport{DialContext: d.dial, TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.Close()
	c := &http.Client{Transport: tr}
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
// address); GotConn's Conn is DialContext's connection's, new and then
// reused.
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
			GotConn: func(i httptrace.GotConnInfo) {
				add("GotConn " + strconv.FormatBool(i.Reused) + " " + i.Conn.RemoteAddr().String())
			},
		}
		for range 2 {
			req := mustReq("GET", "http://app.invalid:8080/hello", nil)
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
			resp, err := tc.rt.RoundTrip(req)
			must(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		mu.Lock()
		got := events
		mu.Unlock()
		want := []string{"ConnectStart " + target, "ConnectDone " + target, "GotConn false " + target, "GotConn true " + target}
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

// mapDial is a DialContext that connects each address it is asked for to
// the loopback server the map names, as a resolver or service map would.
func mapDial(targets map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		target, ok := targets[addr]
		if !ok {
			return nil, errors.New("no route to " + addr)
		}
		return (&net.Dialer{}).DialContext(ctx, "tcp", target)
	}
}

func dialGet(t *testing.T, rt http.RoundTripper, req *http.Request) string {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", req.URL, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s: body: %v", req.URL, err)
	}
	return string(b)
}

// TestTransportDialContextServerNameNoCrossHostReuse: with TLSClientConfig.ServerName
// set (one name for several hosts, as for the replicas of one service),
// a request to host B must go to host B, as with net/http, not over the
// connection DialContext made to host A.
func TestTransportDialContextServerNameNoCrossHostReuse(t *testing.T) {
	srvA, ca := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "A") }))
	srvB, _ := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "B") }))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	dial := mapDial(map[string]string{
		"a.invalid:443": srvA.Listener.Addr().String(),
		"b.invalid:443": srvB.Listener.Addr().String(),
	})
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
		std.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "example.com"}
		cp.TLSClientConfig = &tls.Config{RootCAs: pool, ServerName: "example.com"}
		std.ForceAttemptHTTP2 = true
	}) {
		for _, host := range []string{"a", "b", "a", "b"} {
			got := dialGet(t, tc.rt, mustReq("GET", "https://"+host+".invalid/", nil))
			if got != strings.ToUpper(host) {
				t.Fatalf("%s: https://%s.invalid/ answered by server %q", tc.name, host, got)
			}
		}
	}
}

// TestTransportDialContextNoCrossProxyReuse: two HTTP proxies on the same port (the
// Proxy function picks one per request) are two proxies, as with
// net/http: a request for proxy B must not go over the connection made to
// proxy A.
func TestTransportDialContextNoCrossProxyReuse(t *testing.T) {
	proxy := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name+" "+r.URL.String())
		}))
		t.Cleanup(s.Close)
		return s
	}
	pA, pB := proxy("A"), proxy("B")
	dial := mapDial(map[string]string{
		"proxy-a.invalid:3128": pA.Listener.Addr().String(),
		"proxy-b.invalid:3128": pB.Listener.Addr().String(),
	})
	pick := func(r *http.Request) (*url.URL, error) {
		if strings.HasPrefix(r.URL.Host, "a.") {
			return url.Parse("http://proxy-a.invalid:3128")
		}
		return url.Parse("http://proxy-b.invalid:3128")
	}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
		std.Proxy, cp.Proxy = pick, pick
	}) {
		for _, host := range []string{"a", "b", "a", "b"} {
			u := "http://" + host + ".invalid/x"
			got := dialGet(t, tc.rt, mustReq("GET", u, nil))
			if want := strings.ToUpper(host) + " " + u; got != want {
				t.Fatalf("%s: %s answered %q, want %q", tc.name, u, got, want)
			}
		}
	}
}

// rstServer answers one request with a body delimited by the connection's
// end, and then resets the connection mid-body.
func rstServer(t *testing.T) string {
	return serveEach(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"+strings.Repeat("x", 1000))
		time.Sleep(200 * time.Millisecond)
		c.(*net.TCPConn).SetLinger(0) // an RST, not a FIN, at serveEach's Close
	}).Addr().String()
}

// TestTransportDialContextResetIsNotEOF: a connection reset by the server in the
// middle of a body that the connection's end delimits is an error, as
// with net/http: the relay must not turn the reset into a clean end of
// stream, which hands the truncated body over as complete.
func TestTransportDialContextResetIsNotEOF(t *testing.T) {
	addr := rstServer(t)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
	}) {
		resp, err := tc.rt.RoundTrip(mustReq("GET", "http://app.invalid/", nil))
		must(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Fatalf("%s: read %d bytes and a clean end, want the reset's error", tc.name, len(b))
		}
	}
}

// TestTransportDialContextSlowDialTLSTimeout: TLSHandshakeTimeout bounds the TLS
// handshake, as with net/http, not DialContext's time before it.
func TestTransportDialContextSlowDialTLSTimeout(t *testing.T) {
	srv, ca := newTLSServer(t, handler())
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	target := srv.Listener.Addr().String()
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		select {
		case <-time.After(1500 * time.Millisecond): // a slow tunnel, say
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return (&net.Dialer{}).DialContext(ctx, network, target)
	}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
		std.TLSHandshakeTimeout, cp.TLSHandshakeTimeout = time.Second, time.Second
		std.TLSClientConfig = &tls.Config{RootCAs: pool}
		cp.TLSClientConfig = &tls.Config{RootCAs: pool}
	}) {
		if got := dialGet(t, tc.rt, mustReq("GET", "https://example.com/hello", nil)); got != "hello" {
			t.Fatalf("%s: %q", tc.name, got)
		}
	}
}

// expectServer reads a request's header, and refuses it at once without
// a 100 Continue; it reports how many bytes of body came all the same.
func expectServer(t *testing.T) (string, chan int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan int, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var buf []byte
				tmp := make([]byte, 64<<10)
				for !bytes.Contains(buf, []byte("\r\n\r\n")) {
					n, err := c.Read(tmp)
					buf = append(buf, tmp[:n]...)
					if err != nil {
						return
					}
				}
				body := len(buf) - bytes.Index(buf, []byte("\r\n\r\n")) - 4
				io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
				c.SetReadDeadline(time.Now().Add(700 * time.Millisecond))
				for {
					n, err := c.Read(tmp)
					body += n
					if err != nil {
						break
					}
				}
				got <- body
			}()
		}
	}()
	return ln.Addr().String(), got
}

// TestTransportDialContextHTTPSProxyName: DialContext connects to an HTTPS proxy too,
// as with net/http: a proxy name that only DialContext knows works.
func TestTransportDialContextHTTPSProxyName(t *testing.T) {
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "proxied "+r.URL.String())
	}))
	defer proxy.Close()
	dial := mapDial(map[string]string{"proxy.invalid:3129": proxy.Listener.Addr().String()})
	pu, _ := url.Parse("https://proxy.invalid:3129")
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
		std.Proxy, cp.Proxy = http.ProxyURL(pu), http.ProxyURL(pu)
		std.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		cp.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}) {
		if got := dialGet(t, tc.rt, mustReq("GET", "http://origin.invalid/x", nil)); got != "proxied http://origin.invalid/x" {
			t.Fatalf("%s: %q", tc.name, got)
		}
	}
}

// TestTransportDialContextCloseIdleNotBlocked: CloseIdleConnections returns at once,
// as net/http's, whatever a DialContext that ignores its context still
// does for a request given up on.
func TestTransportDialContextCloseIdleNotBlocked(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 4)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		started <- struct{}{}
		<-release // a dialer that ignores ctx (net.Dial, an SSH library...)
		return nil, errors.New("too late")
	}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
	}) {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err := tc.rt.RoundTrip(mustReq("GET", "http://app.invalid/", nil).WithContext(ctx))
		cancel()
		if err == nil {
			t.Fatalf("%s: no error", tc.name)
		}
		<-started
		done := make(chan struct{})
		go func() {
			tc.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("%s: CloseIdleConnections blocked on the DialContext that still runs", tc.name)
		}
	}
}

// TestTransportDialContextIdleClosedByServer: a kept connection that the server
// closes while idle is not used again, as with net/http: the next
// request succeeds on a new connection, DialContext dialling twice.
func TestTransportDialContextIdleClosedByServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(handler())
	var cc connCounter
	srv.Config.ConnState = cc.track
	srv.Config.IdleTimeout = 100 * time.Millisecond
	srv.Start()
	defer srv.Close()
	target := srv.Listener.Addr().String()
	dials := map[string]*recordingDial{}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		d1, d2 := &recordingDial{network: "tcp", target: target}, &recordingDial{network: "tcp", target: target}
		std.DialContext, cp.DialContext = d1.dial, d2.dial
		dials["net/http"], dials["curlpoll"] = d1, d2
	}) {
		for i := range 3 {
			if got := dialGet(t, tc.rt, mustReq("GET", "http://app.invalid/hello", nil)); got != "hello" {
				t.Fatalf("%s: %q", tc.name, got)
			}
			if i < 2 {
				time.Sleep(400 * time.Millisecond)
			}
		}
		if n := len(dials[tc.name].calls()); n != 3 {
			t.Fatalf("%s: %d dials, want 3", tc.name, n)
		}
	}
}

// TestTransportDialContextHandshakeTimeout: TLSHandshakeTimeout still
// bounds the handshake on DialContext's connection (a server that never
// answers), with an error whose Timeout is true, as net/http's.
func TestTransportDialContextHandshakeTimeout(t *testing.T) {
	target := silentListener(t) // reads nothing, answers nothing
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, target)
		}
		std.DialContext, cp.DialContext = dial, dial
		std.TLSHandshakeTimeout, cp.TLSHandshakeTimeout = 300*time.Millisecond, 300*time.Millisecond
	}) {
		begin := time.Now()
		_, err := tc.rt.RoundTrip(mustReq("GET", "https://silent.invalid/", nil))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("%s: %v, want a timeout", tc.name, err)
		}
		if d := time.Since(begin); d > 10*time.Second {
			t.Fatalf("%s: the timeout came after %v", tc.name, d)
		}
	}
}

// TestTransportDialContextSchemeMismatch: an https URL whose DialContext
// reaches a plain HTTP server gives http.ErrSchemeMismatch, as net/http's
// (the Go handshake that finds it goes through DialContext too).
func TestTransportDialContextSchemeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain")
	}))
	defer srv.Close()
	d := &recordingDial{network: "tcp", target: srv.Listener.Addr().String()}
	tr := &curlhttp.Transport{DialContext: d.dial}
	defer tr.Close()
	_, err := (&http.Client{Transport: tr}).Get("https://plain.invalid/")
	if !errors.Is(err, http.ErrSchemeMismatch) {
		t.Fatalf("%v, want http.ErrSchemeMismatch", err)
	}
	for _, a := range d.calls() {
		if a != "tcp plain.invalid:443" {
			t.Fatalf("DialContext asked %q", d.calls())
		}
	}
}

// silentListener accepts TCP connections and never answers on them.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	must(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestTransportTLSHandshakeTimeoutIsNotDeadline: net/http's
// TLSHandshakeTimeout error (tlsHandshakeTimeoutError) is a net.Error
// whose Timeout is true, but not context.DeadlineExceeded for errors.Is,
// unlike its ResponseHeaderTimeout's. Code that retries a timeout but not
// a deadline (go-containerregistry's retry.IsTemporary) retries net/http's
// handshake timeout: it must retry the Transport's too.
func TestTransportTLSHandshakeTimeoutIsNotDeadline(t *testing.T) {
	target := silentListener(t)
	for _, dialCtx := range []bool{false, true} {
		for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			std.TLSHandshakeTimeout, cp.TLSHandshakeTimeout = 200*time.Millisecond, 200*time.Millisecond
			if dialCtx {
				dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
					return (&net.Dialer{}).DialContext(ctx, network, target)
				}
				std.DialContext, cp.DialContext = dial, dial
			}
		}) {
			_, err := tc.rt.RoundTrip(mustReq("GET", "https://"+target+"/", nil))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Fatalf("%s (DialContext %v): %v, want a timeout", tc.name, dialCtx, err)
			}
			if errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s (DialContext %v): %v (%T): errors.Is(err, context.DeadlineExceeded) holds; net/http's TLS handshake timeout is not a deadline", tc.name, dialCtx, err, err)
			}
		}
	}
}

// failingConn is a connection whose Reads fail with err once it has read
// after bytes.
type failingConn struct {
	net.Conn
	after int
	err   error
	read  int
}

func (c *failingConn) Read(p []byte) (int, error) {
	if c.read >= c.after {
		return 0, c.err
	}
	if len(p) > c.after-c.read {
		p = p[:c.after-c.read]
	}
	n, err := c.Conn.Read(p)
	c.read += n
	return n, err
}

// TestTransportDialContextConnError: when DialContext's connection fails a
// Read (a read deadline of its own, as AWS's dialer sets), the request's
// error holds that connection's error, before the header block and in the
// middle of the body, as net/http's does.
func TestTransportDialContextConnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(bytes.Repeat([]byte("x"), 100000))
	}))
	defer srv.Close()
	errStall := errors.New("read stalled")
	for _, after := range []int{0, 5000} {
		for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
			dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
				if err != nil {
					return nil, err
				}
				return &failingConn{Conn: c, after: after, err: errStall}, nil
			}
			std.DialContext, cp.DialContext = dial, dial
		}) {
			resp, err := tc.rt.RoundTrip(mustReq("GET", "http://app.invalid/", nil))
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			if !errors.Is(err, errStall) {
				t.Fatalf("%s, failing after %d bytes: %v, want the connection's error", tc.name, after, err)
			}
		}
	}
}

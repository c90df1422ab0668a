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
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

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

func reviewGet(t *testing.T, rt http.RoundTripper, req *http.Request) string {
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

// TestReviewDialServerNameNoCrossHostReuse: with TLSClientConfig.ServerName
// set (one name for several hosts, as for the replicas of one service),
// a request to host B must go to host B, as with net/http, not over the
// connection DialContext made to host A.
func TestReviewDialServerNameNoCrossHostReuse(t *testing.T) {
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
			got := reviewGet(t, tc.rt, mustReq("GET", "https://"+host+".invalid/", nil))
			if got != strings.ToUpper(host) {
				t.Fatalf("%s: https://%s.invalid/ answered by server %q", tc.name, host, got)
			}
		}
	}
}

// TestReviewDialNoCrossProxyReuse: two HTTP proxies on the same port (the
// Proxy function picks one per request) are two proxies, as with
// net/http: a request for proxy B must not go over the connection made to
// proxy A.
func TestReviewDialNoCrossProxyReuse(t *testing.T) {
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
			got := reviewGet(t, tc.rt, mustReq("GET", u, nil))
			if want := strings.ToUpper(host) + " " + u; got != want {
				t.Fatalf("%s: %s answered %q, want %q", tc.name, u, got, want)
			}
		}
	}
}

// rstServer answers one request with a body delimited by the connection's
// end, and then resets the connection mid-body.
func rstServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					c.Close()
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"+strings.Repeat("x", 1000))
				time.Sleep(200 * time.Millisecond)
				c.(*net.TCPConn).SetLinger(0) // an RST, not a FIN
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// TestReviewDialResetIsNotEOF: a connection reset by the server in the
// middle of a body that the connection's end delimits is an error, as
// with net/http: the relay must not turn the reset into a clean end of
// stream, which hands the truncated body over as complete.
func TestReviewDialResetIsNotEOF(t *testing.T) {
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

// TestReviewDialSlowDialTLSTimeout: TLSHandshakeTimeout bounds the TLS
// handshake, as with net/http, not DialContext's time before it.
func TestReviewDialSlowDialTLSTimeout(t *testing.T) {
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
		if got := reviewGet(t, tc.rt, mustReq("GET", "https://example.com/hello", nil)); got != "hello" {
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

// TestReviewDialExpectContinueSlowDial: with Expect: 100-continue, the
// body waits ExpectContinueTimeout from when the header went to the
// server, as with net/http: a DialContext slower than that must not have
// the body sent to a server that refuses it at once.
func TestReviewDialExpectContinueSlowDial(t *testing.T) {
	addr, got := expectServer(t)
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		time.Sleep(600 * time.Millisecond)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	for _, tc := range transports(t, func(std *http.Transport, cp *curlhttp.Transport) {
		std.DialContext, cp.DialContext = dial, dial
		std.ExpectContinueTimeout, cp.ExpectContinueTimeout = 200*time.Millisecond, 200*time.Millisecond
	}) {
		req := mustReq("PUT", "http://app.invalid/upload", bytes.NewReader(bytes.Repeat([]byte("b"), 20000)))
		req.Header.Set("Expect", "100-continue")
		resp, err := tc.rt.RoundTrip(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 {
				t.Fatalf("%s: status %d", tc.name, resp.StatusCode)
			}
		}
		if n := <-got; n != 0 {
			t.Fatalf("%s: the server, which refused the request at once, was sent %d bytes of body", tc.name, n)
		}
	}
}

// TestReviewDialHTTPSProxyName: DialContext connects to an HTTPS proxy too,
// as with net/http: a proxy name that only DialContext knows works.
func TestReviewDialHTTPSProxyName(t *testing.T) {
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
		if got := reviewGet(t, tc.rt, mustReq("GET", "http://origin.invalid/x", nil)); got != "proxied http://origin.invalid/x" {
			t.Fatalf("%s: %q", tc.name, got)
		}
	}
}

// TestReviewDialCloseIdleNotBlocked: CloseIdleConnections returns at once,
// as net/http's, whatever a DialContext that ignores its context still
// does for a request given up on.
func TestReviewDialCloseIdleNotBlocked(t *testing.T) {
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

// TestReviewDialIdleClosedByServer: a kept connection that the server
// closes while idle is not used again, as with net/http: the next
// request succeeds on a new connection, DialContext dialling twice.
func TestReviewDialIdleClosedByServer(t *testing.T) {
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
			if got := reviewGet(t, tc.rt, mustReq("GET", "http://app.invalid/hello", nil)); got != "hello" {
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

package curlhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

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

// TestTransportNoGoroutinePerBodySent: a request whose body was read to
// its end before the response came (most requests with a body) costs no
// goroutine while its response is open: closeBodiesAtEnd waits on the
// transfer's end only for a body that may still be read (a pipe), which
// 773c18f did for every request with a body (a goroutine and an
// allocation per POST, BenchmarkTransportPost 49 -> 50 allocs/op).
func TestTransportNoGoroutinePerBodySent(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("first"))
		w.(http.Flusher).Flush()
		<-release
	}))
	defer srv.Close()
	defer close(release)
	tr := &curlhttp.Transport{}
	defer tr.Close()
	body := &closeCounter{Reader: strings.NewReader("request body")}
	req := mustReq("POST", srv.URL, body)
	req.ContentLength = int64(len("request body"))
	resp, err := tr.RoundTrip(req)
	must(t, err)
	defer resp.Body.Close()
	buf := make([]byte, 5)
	_, err = io.ReadFull(resp.Body, buf)
	must(t, err)
	stacks := make([]byte, 1<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	if bytes.Contains(stacks, []byte("closeBodiesAtEnd")) {
		t.Errorf("a goroutine waits to close a request body read to its end:\n%s", stacks)
	}
	if n := body.n.Load(); n != 1 {
		t.Errorf("the request body, read to its end, was closed %d times before the response body was, want 1 (as net/http)", n)
	}
}

// TestTransportCloseDoesNotWaitForBodyRead: closing the response body of
// a request whose body is an idle pipe (a streaming client that writes
// when it has something to say) must not wait for the pipe's Read:
// net/http's Body.Close returns at once (its HTTP/1 client leaves the
// Read to its write loop, its HTTP/2 client closes the body at once). The
// Transport's waited 50 ms (closeAfterReads) in Body.Close, and so in
// every cancel of such a stream.
func TestTransportCloseDoesNotWaitForBodyRead(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		w.Write([]byte("hello"))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	for _, tc := range transports(t, nil) {
		for i := range 3 {
			closeWithIdlePipe(t, tc.name, i, tc.rt, srv.URL)
		}
	}
}

func closeWithIdlePipe(t *testing.T, name string, i int, tr http.RoundTripper, url string) {
	t.Helper()
	{
		pr, pw := io.Pipe()
		defer pw.Close()
		resp, err := tr.RoundTrip(mustReq("POST", url, pr))
		must(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(resp.Body, buf)
		must(t, err)
		begin := time.Now()
		resp.Body.Close()
		if d := time.Since(begin); d > 30*time.Millisecond {
			t.Errorf("%s %d: Body.Close took %v", name, i, d)
		}
	}
}

// TestTransportRequestTargetWithHash: a raw query (or an opaque target)
// holding a '#' goes out whole, as net/http sends it; glued to the host
// for libcurl, the '#' started a fragment that libcurl drops, so the
// server got another target than the caller's.
func TestTransportRequestTargetWithHash(t *testing.T) {
	lines := make(chan string, 1)
	a := serveEach(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		lines <- strings.TrimRight(line, "\r\n")
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	host := a.Addr().String()
	cases := []url.URL{
		{Scheme: "http", Host: host, Path: "/x", RawQuery: "a=1#frag"},
		{Scheme: "http", Host: host, Opaque: "/y#z"},
	}
	for _, tc := range transports(t, nil) {
		for _, u := range cases {
			req := &http.Request{Method: "GET", URL: &u, Header: http.Header{}, Host: host}
			resp, err := tc.rt.RoundTrip(req)
			if err != nil {
				t.Errorf("%s %s: %v", tc.name, u.RequestURI(), err)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if line, want := <-lines, "GET "+u.RequestURI()+" HTTP/1.1"; line != want {
				t.Errorf("%s: request line %q, want %q", tc.name, line, want)
			}
		}
	}
}

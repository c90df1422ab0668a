package curlhttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportSwitchingProtocols: a 101 response comes back from
// RoundTrip at once, as net/http returns it, though the server then waits
// for the client to speak (a WebSocket server: httputil.ReverseProxy's
// upgrade hung until the server gave up). libcurl cannot hand the
// connection over, so the body is http.NoBody (not an io.ReadWriteCloser:
// ReverseProxy answers 502 at once), and the connection is closed.
func TestTransportSwitchingProtocols(t *testing.T) {
	closed := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); errors.Is(err, io.EOF) {
			close(closed) // the client closed the connection
		}
	}))
	defer srv.Close()
	tr := &curlhttp.Transport{}
	defer tr.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	start := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("after %v: %v", time.Since(start), err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "websocket" || resp.Body != http.NoBody {
		t.Errorf("%s, Upgrade %q, body %T; want 101, websocket, http.NoBody", resp.Status, resp.Header.Get("Upgrade"), resp.Body)
	}
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Error("the upgraded connection was not closed")
	}
}

// TestTransportBodyCutShort: a response body that ends before its
// Content-Length, or before its last chunk, fails the read with an error
// for which errors.Is(err, io.ErrUnexpectedEOF) holds and whose message
// ends "unexpected EOF", as net/http's (httputil.ReverseProxy's test logs
// it); also where the Transport reads the chunks itself (a request with a
// body).
func TestTransportBodyCutShort(t *testing.T) {
	serve := func(resp string) string {
		ln := serveEach(t, func(c net.Conn) {
			req, err := http.ReadRequest(bufio.NewReader(c))
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, resp)
		})
		return "http://" + ln.Addr().String() + "/"
	}
	lengthURL := serve("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.\n")
	chunkedURL := serve("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nonly ten.\n\r\n")
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	for _, tc := range []struct {
		name, url string
		body      bool
	}{
		{"Content-Length", lengthURL, false},
		{"chunked", chunkedURL, false},
		{"chunked, after a request body", chunkedURL, true},
	} {
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", std}, {"curlpoll", cp}} {
			req := mustReq("GET", tc.url, nil)
			if tc.body {
				req = mustReq("POST", tc.url, strings.NewReader("hello"))
			}
			resp, err := rt.rt.RoundTrip(req)
			if err != nil {
				t.Errorf("%s, %s: %v", tc.name, rt.name, err)
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "only ten.\n" || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.HasSuffix(err.Error(), "unexpected EOF") {
				t.Errorf("%s, %s: read %q, %v; want the ten bytes and io.ErrUnexpectedEOF", tc.name, rt.name, b, err)
			}
		}
	}
}

package curlhttp_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportNoReply: a server that reads the request and closes the
// connection without a byte of response fails the request, with net/http,
// with io.EOF itself ("Get ...: EOF"). Code tells this failure apart by
// errors.Is(err, io.EOF): go-containerregistry's remote retries a request
// for it (its default retry predicate), and found curl's *Error (52, Empty
// reply from server) alone.
func TestTransportNoReply(t *testing.T) {
	ln := serveEach(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		// Let the client read a FIN, not a reset: nothing is left unread.
	})
	url := "http://" + ln.Addr().String() + "/"
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", std}, {"curlpoll", cp}} {
		for _, method := range []string{"GET", "PUT"} {
			resp, err := rt.rt.RoundTrip(mustReq(method, url, nil))
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s, %s: status %d, want an error", rt.name, method, resp.StatusCode)
				continue
			}
			if !errors.Is(err, io.EOF) {
				t.Errorf("%s, %s: err = %v (%T), want one for which errors.Is(err, io.EOF)", rt.name, method, err, err)
			}
		}
	}
}

// TestTransportHeaderCutShort: a response whose header block is cut short
// (the connection closed after the status line or a field line, before the
// blank line) fails the request, with net/http, with an error for which
// errors.Is(err, io.ErrUnexpectedEOF) holds ("net/http: HTTP/1.x transport
// connection broken: unexpected EOF"), which go-containerregistry retries.
// libcurl ends such a transfer without an error and without a header block.
func TestTransportHeaderCutShort(t *testing.T) {
	serve := func(resp string) string {
		ln := serveEach(t, func(c net.Conn) {
			if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
				return
			}
			io.WriteString(c, resp)
		})
		return "http://" + ln.Addr().String() + "/"
	}
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	for _, tc := range []struct{ name, resp string }{
		{"status line", "HTTP/1.1 200 OK\r\n"},
		{"a field line", "HTTP/1.1 200 OK\r\nX-A: 1\r\n"},
		{"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"},
	} {
		url := serve(tc.resp)
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", std}, {"curlpoll", cp}} {
			resp, err := rt.rt.RoundTrip(mustReq("GET", url, nil))
			if err == nil {
				resp.Body.Close()
				t.Errorf("%s, %s: status %d, want an error", tc.name, rt.name, resp.StatusCode)
				continue
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s, %s: err = %v (%T), want one for which errors.Is(err, io.ErrUnexpectedEOF)", tc.name, rt.name, err, err)
			}
		}
	}
}

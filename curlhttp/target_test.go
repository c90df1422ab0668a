package curlhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportRequestTargetWithoutLeadingSlash: a URL whose request
// target does not start with "/" (a relative Path, set by hand as in
// url.URL{Host: h, Path: "v1/x"}, or an Opaque one) goes to the URL's host
// with that target on the request line, as net/http sends it. The target
// was glued to the host for libcurl ("http://" + Host + RequestURI), so
// that a Path "@other:port/x" sent the request, Authorization and all, to
// another host (the host became user info), and "rel/x" named a port
// "portrel" that libcurl refused.
func TestTransportRequestTargetWithoutLeadingSlash(t *testing.T) {
	a, lines := requestLineServer(t)
	var other atomic.Int32 // connections to the host that must not be asked, per case
	b := serveEach(t, func(c net.Conn) { other.Add(1) })
	aHost, bHost := a.Addr().String(), b.Addr().String()

	cases := []struct {
		name   string
		method string
		u      url.URL
	}{
		{"path with user info", "GET", url.URL{Scheme: "http", Host: aHost, Path: "@" + bHost + "/x"}},
		{"relative path", "GET", url.URL{Scheme: "http", Host: aHost, Path: "rel/x", RawQuery: "q=1"}},
		{"OPTIONS *", "OPTIONS", url.URL{Scheme: "http", Host: aHost, Opaque: "*"}},
		{"opaque absolute", "GET", url.URL{Scheme: "http", Host: aHost, Opaque: "//" + bHost + "/x"}},
	}
	tr := &curlhttp.Transport{}
	defer tr.Close()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want string
			for _, rt := range []struct {
				name string
				rt   http.RoundTripper
			}{{"net/http", &http.Transport{}}, {"curlpoll", tr}} {
				u := tc.u
				req := &http.Request{Method: tc.method, URL: &u, Header: http.Header{"Authorization": {"Bearer secret"}}, Host: aHost}
				resp, err := rt.rt.RoundTrip(req)
				if err != nil {
					t.Errorf("%s: %v", rt.name, err)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var line string
				select {
				case line = <-lines:
				default:
				}
				if string(body) != "ok" || line == "" {
					t.Errorf("%s: body %q, request line %q: the request did not reach its URL's host", rt.name, body, line)
				}
				if want == "" {
					want = line
				} else if line != want {
					t.Errorf("%s: request line %q, net/http's %q", rt.name, line, want)
				}
			}
			if n := other.Swap(0); n != 0 {
				t.Errorf("%d connections to %s, which the URL's path names", n, bHost)
			}
		})
	}
	// The handle that sent a target apart sends the next request's path.
	resp, err := tr.RoundTrip(mustReq("GET", "http://"+aHost+"/plain?q", nil))
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if line := <-lines; line != "GET /plain?q HTTP/1.1" {
		t.Errorf("next request line %q", line)
	}
}

// TestTransportRequestTargetWithHash: a raw query (or an opaque target)
// holding a '#' goes out whole, as net/http sends it; glued to the host
// for libcurl, the '#' started a fragment that libcurl drops, so the
// server got another target than the caller's.
func TestTransportRequestTargetWithHash(t *testing.T) {
	a, lines := requestLineServer(t)
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

// requestLineServer answers each request with a short 200 and closes
// the connection; lines gets each request's request line, without CRLF.
func requestLineServer(t *testing.T) (a net.Listener, lines <-chan string) {
	ch := make(chan string, 1)
	a = serveEach(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		for { // the header block
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		ch <- strings.TrimRight(line, "\r\n")
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	return a, ch
}

package curlhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"testing"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportNoBodyChunkedFraming: a response that has no body (to HEAD,
// or a 204 or 304) but says "Transfer-Encoding: chunked", with or without
// a Content-Length, is described as net/http's readTransfer describes it:
// TransferEncoding is ["chunked"] whatever the status, and a HEAD
// response's ContentLength is its Content-Length field (a registry's HEAD
// of a blob gives the blob's size so) where net/http's is, the field kept.
func TestTransportNoBodyChunkedFraming(t *testing.T) {
	ln := serveEach(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			cl := ""
			if req.URL.Query().Get("cl") != "" {
				cl = "Content-Length: 1234\r\n"
			}
			status := "200 OK"
			if s := req.URL.Query().Get("status"); s != "" {
				status = s + " X"
			}
			io.WriteString(c, "HTTP/1.1 "+status+"\r\nTransfer-Encoding: chunked\r\n"+cl+"\r\n")
			if req.Method != "HEAD" && status == "200 OK" {
				io.WriteString(c, "0\r\n\r\n")
			}
		}
	})
	base := "http://" + ln.Addr().String() + "/"
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	type framing struct {
		ContentLength    int64
		TransferEncoding []string
		ContentLengthHdr []string
	}
	for _, tc := range []struct{ method, query string }{
		{"HEAD", ""},
		{"HEAD", "?cl=1"},
		{"GET", "?status=204"},
		{"GET", "?status=304&cl=1"},
	} {
		var got [2]framing
		for i, rt := range []http.RoundTripper{std, cp} {
			resp, err := rt.RoundTrip(mustReq(tc.method, base+tc.query, nil))
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.query, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			got[i] = framing{resp.ContentLength, resp.TransferEncoding, resp.Header["Content-Length"]}
		}
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Errorf("%s %s: curlpoll %+v, net/http %+v", tc.method, tc.query, got[1], got[0])
		}
	}
}

// TestTransportUnboundedBodyCloses: a response whose body ends with the
// connection (HTTP/1.1, neither chunked nor a Content-Length, a status that
// has a body) has Response.Close set, as net/http's readTransfer sets it
// ("unbounded body"), whatever its Connection field says.
func TestTransportUnboundedBodyCloses(t *testing.T) {
	ln := serveEach(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		conn := ""
		if v := req.URL.Query().Get("conn"); v != "" {
			conn = "Connection: " + v + "\r\n"
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n"+conn+"\r\nuntil close")
	})
	base := "http://" + ln.Addr().String() + "/"
	std := &http.Transport{}
	defer std.CloseIdleConnections()
	cp := &curlhttp.Transport{}
	defer cp.Close()
	for _, query := range []string{"", "?conn=keep-alive"} {
		var got [2]bool
		for i, rt := range []http.RoundTripper{std, cp} {
			resp, err := rt.RoundTrip(mustReq("GET", base+query, nil))
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "until close" || err != nil {
				t.Errorf("%s: body %q, %v", query, b, err)
			}
			got[i] = resp.Close
		}
		if got[0] != got[1] {
			t.Errorf("%q: curlpoll's Response.Close %v, net/http's %v", query, got[1], got[0])
		}
	}
}

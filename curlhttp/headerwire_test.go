package curlhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestHeaderBlockWireDiff: header blocks as a server sends them, read by
// net/http and by the Transport (libcurl, then Transfer.HeaderBlock, then
// parseHeaderBlock) alike. A field line that ends in a CR before its CRLF
// ("A: b\r\r\n"), which net/http refuses (the CR is in the value), was
// taken once: the core stripped every CR off a line's end (found by
// review).
func TestHeaderBlockWireDiff(t *testing.T) {
	for _, tc := range []struct{ name, head string }{
		{"CR before CRLF", "HTTP/1.1 200 OK\r\nX-A: b\r\r\nContent-Length: 2\r\n\r\n"},
		{"CR CR before CRLF", "HTTP/1.1 200 OK\r\nX-A: b\r\r\r\nContent-Length: 2\r\n\r\n"},
		{"CR after a folded line", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\r\nContent-Length: 2\r\n\r\n"},
		{"bare CR line ends the block", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\r\n"},
		{"blank continuation", "HTTP/1.1 200 OK\r\nX-A: b\r\n \r\nContent-Length: 2\r\n\r\n"},
		{"name with a space", "HTTP/1.1 200 OK\r\nX-A b: c\r\nContent-Length: 2\r\n\r\n"},
		{"tab-led first line", "HTTP/1.1 200 OK\r\n\tX-A: b\r\nContent-Length: 2\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := serveResponse(t, tc.head+"ok")
			type result struct {
				h   http.Header
				err bool
			}
			var got [2]result
			for i, rt := range []http.RoundTripper{&http.Transport{DisableKeepAlives: true}, &curlhttp.Transport{}} {
				resp, err := rt.RoundTrip(mustReq("GET", url, nil))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					got[i] = result{h: resp.Header}
				} else {
					got[i] = result{err: true}
					t.Logf("transport %d: %v", i, err)
				}
				if c, ok := rt.(io.Closer); ok {
					c.Close()
				}
			}
			if got[0].err != got[1].err || !got[0].err && !reflect.DeepEqual(got[0].h, got[1].h) {
				t.Errorf("%q:\nnet/http: error %v, header %q\ncurlpoll: error %v, header %q",
					strings.TrimSuffix(tc.head, "\r\n\r\n"), got[0].err, got[0].h, got[1].err, got[1].h)
			}
		})
	}
}

// TestTrailerAsNetHTTP: a chunked response's trailer section, decoded by
// libcurl (a GET), reaches Response.Trailer as net/http reads it (net/
// textproto), and a section net/http refuses fails the body's read.
func TestTrailerAsNetHTTP(t *testing.T) {
	for _, tc := range []struct{ name, trailer string }{
		{"fields", "X-T: v\r\nX-U:  w \r\n"},
		{"folded", "X-T: v\r\n more\r\n"},
		{"no colon", "X-T v\r\n"},
		{"tab in a name", "X-T\t: v\r\n"},
		{"CR before the line end", "X-T: v\r\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := serveResponse(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\n"+tc.trailer+"\r\n")
			type result struct {
				body    string
				trailer http.Header
				err     bool
			}
			var got [2]result
			for i, rt := range []http.RoundTripper{&http.Transport{DisableKeepAlives: true}, &curlhttp.Transport{}} {
				resp, err := rt.RoundTrip(mustReq("GET", url, nil))
				if err != nil {
					t.Fatalf("transport %d: %v", i, err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				got[i] = result{body: string(b), trailer: resp.Trailer, err: err != nil}
				if err != nil {
					t.Logf("transport %d: %v", i, err)
				}
				if c, ok := rt.(io.Closer); ok {
					c.Close()
				}
			}
			if got[0].err != got[1].err || !got[0].err && !reflect.DeepEqual(got[0], got[1]) {
				t.Errorf("net/http: %+v\ncurlpoll: %+v", got[0], got[1])
			}
		})
	}
}

// serveResponse answers one GET per connection with resp, bytes as they
// are, and returns the server's URL.
func serveResponse(t *testing.T, resp string) string {
	ln := serveEach(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for { // the request head; a GET has no body
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		io.WriteString(c, resp)
	})
	return "http://" + ln.Addr().String() + "/"
}

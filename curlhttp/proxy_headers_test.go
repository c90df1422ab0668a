package curlhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportProxyHeaders: through an HTTP proxy, net/http sends no
// Proxy-Connection field (libcurl adds "Proxy-Connection: Keep-Alive" to
// a forwarded request and to a CONNECT), and its CONNECT carries the
// default User-Agent ("Go-http-client/1.1"), which libcurl sends only with
// CURLOPT_USERAGENT.
func TestTransportProxyHeaders(t *testing.T) {
	got := make(chan *http.Request, 1)
	ln := serveEach(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		got <- req
		if req.Method == "CONNECT" {
			io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	proxy := http.ProxyURL(&url.URL{Scheme: "http", Host: ln.Addr().String()})
	for _, target := range []string{"http://app.invalid/x", "https://app.invalid/x"} {
		want := map[string]string{}
		for _, tr := range []struct {
			name string
			rt   http.RoundTripper
		}{{"net/http", &http.Transport{Proxy: proxy}}, {"curlpoll", &curlhttp.Transport{Proxy: proxy}}} {
			resp, err := tr.rt.RoundTrip(mustReq("GET", target, nil))
			if err == nil {
				resp.Body.Close()
			}
			tr.rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			var req *http.Request
			select {
			case req = <-got:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s, %s: the proxy got no request in 10 s", tr.name, target)
			}
			for _, k := range []string{"Proxy-Connection", "User-Agent"} {
				v, ok := req.Header[k]
				s := "(none)"
				if ok {
					s = v[0]
				}
				if tr.name == "net/http" {
					want[k] = s
				} else if s != want[k] {
					t.Errorf("%s, %s %s: %s %q, want net/http's %q", tr.name, req.Method, target, k, s, want[k])
				}
			}
		}
	}
}

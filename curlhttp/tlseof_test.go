package curlhttp_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/curlpoll/curlpoll/curlhttp"
)

// TestTransportTLSCloseWithoutCloseNotify: a server (or whatever is in
// between: a process killed, a load balancer) that closes a TLS
// connection without a close_notify alert ends the stream as a TCP FIN
// ends a clear-text one for net/http (crypto/tls returns io.EOF there):
// a body cut short fails with io.ErrUnexpectedEOF itself, a body that
// ends with the connection is complete, and no response at all is io.EOF
// itself. libcurl 8.x on OpenSSL 3 fails all three with its receive error
// ("unexpected eof while reading"); 7.88 ends them as in clear text.
func TestTransportTLSCloseWithoutCloseNotify(t *testing.T) {
	replies := map[string]string{
		"/cut":   "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello",
		"/close": "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello",
		"/none":  "",
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		brw.WriteString(replies[r.URL.Path])
		brw.Flush()
		// Let the client take the bytes, then a FIN without close_notify.
		time.Sleep(20 * time.Millisecond)
		c.(*tls.Conn).NetConn().Close()
	}))
	srv.StartTLS()
	defer srv.Close()
	checkLeaks(t)
	ref := srv.Client().Transport.(*http.Transport)
	defer ref.CloseIdleConnections()
	ours := &curlhttp.Transport{CAPEM: serverCAPEM(srv)}
	defer ours.Close()
	for _, rt := range []struct {
		name string
		rt   http.RoundTripper
	}{{"net/http", ref}, {"curlpoll", ours}} {
		c := &http.Client{Transport: rt.rt}
		_, err := c.Get(srv.URL + "/none")
		var ue *url.Error
		if !errors.As(err, &ue) || ue.Err != io.EOF {
			t.Errorf("%s, no response: err = %v (%T), want a *url.Error whose Err is io.EOF itself", rt.name, err, err)
		}
		for path, want := range map[string]error{"/cut": io.ErrUnexpectedEOF, "/close": nil} {
			resp, err := c.Get(srv.URL + path)
			if err != nil {
				t.Errorf("%s, %s: %v", rt.name, path, err)
				continue
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello" || err != want {
				t.Errorf("%s, %s: read %q, %v (%T); want \"hello\" and %v", rt.name, path, b, err, err, want)
			}
		}
		// The same through io.Copy (the body's WriteTo): nil at the end.
		resp, err := c.Get(srv.URL + "/close")
		if err != nil {
			t.Fatalf("%s: %v", rt.name, err)
		}
		var sb strings.Builder
		_, err = io.Copy(&sb, resp.Body)
		resp.Body.Close()
		if sb.String() != "hello" || err != nil {
			t.Errorf("%s, /close by io.Copy: %q, %v; want \"hello\" and nil", rt.name, sb.String(), err)
		}
	}
}
